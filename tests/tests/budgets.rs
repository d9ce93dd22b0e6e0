//! Resource budgets (the model's `uses`), with real cgroups and real processes: an actor that
//! spins over its CPU quota is throttled to it, as its process's CPU time shows, and its
//! component hears `on_limit(Cpu)`; an actor that allocates past its memory budget hears
//! `on_limit(Mem)` first, then the kernel kills it, the launcher says why and restarts it.
//! Where cgroups cannot be made (not root, or a root without hierarchies), the launcher warns
//! once and the actors measure their use themselves: that is tested too, with an empty
//! `COHORT_CGROUP_ROOT`, whose launcher's metrics count the limits told. The enforcing tests skip visibly where cgroups are not writable, and
//! fail there instead when `COHORT_REQUIRE_CGROUPS` is set (as CI does). The app is the
//! `apps/budgets` example, whose components use the typed API (`on_limit` of the generated trait).
//!
//! The space budget is tested with an actor that writes a file twice its budget into its working
//! directory: its component hears `on_limit(Space)`. The network budget is tested across two hosts (network namespaces): an actor that sends 10
//! times its ceiling is shaped to it (`tc` on its host's interface, a `net_cls` cgroup, mounted
//! for the launcher in its own mount namespace), as the other host's receiver measures, and its
//! component hears `on_limit(Net)`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cohort_tests::{
    free_port, installed, local_run_args, netns_unavailable, skip, AppRun, Hosts, Record, RedisServer, TempDir,
};

const BUDGETS: &str = env!("CARGO_BIN_EXE_cohort-budgets");
const LIMITS: &str = env!("CARGO_BIN_EXE_cohort-limits");

/// The talker's network ceiling, in bytes a second (its model's `ceil 20 kbps`).
const NET_CEIL: f64 = 20.0 * 1024.0;

/// How long the app may take to start and its first limit to come.
const START: Duration = Duration::from_secs(15);

/// The spinner's quota, in percent of a core (its model's `cpu 20 % over 100 msec`).
const QUOTA_PERCENT: f64 = 20.0;

/// A started app, with its working directory.
struct Started {
    app: AppRun,
    _dir: TempDir,
}

/// Runs the app with `deployment`, the environment `env` and the arguments `extra`.
fn start(tag: &str, deployment: &str, env: &[(&str, &str)], extra: &[&str]) -> Started {
    let dir = TempDir::new(tag).unwrap();
    let depl = dir.path().join("budgets.depl");
    std::fs::write(&depl, deployment).unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let depl = depl.display().to_string();
    let mut args = local_run_args(&depl, &daemon);
    args.extend(extra);
    let mut env: Vec<(&str, &str)> = env.to_vec();
    env.push(("XDG_RUNTIME_DIR", run.to_str().unwrap()));
    Started { app: AppRun::start(tag, BUDGETS, &args, &env).unwrap(), _dir: dir }
}

/// Whether the launcher enforces budgets: it says so, one way or the other, before it starts
/// an actor.
fn enforced(app: &mut AppRun) -> Result<bool, String> {
    app.wait("the launcher's word on budgets", START, |r| match r.msg() {
        "resource budgets are enforced with cgroups" => Some(true),
        m if m.starts_with("resource budgets are not enforced") => Some(false),
        _ => None,
    })
    .map(|(_, enforced)| enforced)
}

/// A limit a component logged, as (its actor, the limit's kind).
fn limit(r: &Record) -> Option<(String, String)> {
    (r.msg() == "limit" && !r.text("component").is_empty()).then(|| (r.actor().to_owned(), r.text("kind").to_owned()))
}

/// The CPU time process `pid` used so far, from /proc/PID/stat (user and system).
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime); field 3 (the state) is the first here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

#[test]
fn an_actor_over_its_cpu_quota_is_throttled_to_it_and_told() {
    let test = "an_actor_over_its_cpu_quota_is_throttled_to_it_and_told";
    let mut started = start("budget-cpu", "app Budgets {\n\ton all Spinner;\n}\n", &[], &[]);
    let app = &mut started.app;
    if !enforced(app).unwrap() {
        return skip(test, "cgroups cannot be made here (not root?)", "COHORT_REQUIRE_CGROUPS");
    }
    let (_, (actor, _)) = app.wait("on_limit(Cpu)", START, |r| limit(r).filter(|(_, kind)| kind == "cpu")).unwrap();
    assert_eq!(actor, "Spinner");
    let pid = app.actor_pids()["Spinner"];

    // The component wants a whole core; over 2 s the kernel lets it have its quota.
    let (before, from) = (cpu_time(pid), Instant::now());
    app.watch(from + Duration::from_secs(2), |_| {});
    let used = (cpu_time(pid) - before).as_secs_f64() / from.elapsed().as_secs_f64() * 100.0;
    eprintln!("the spinner used {used:.1} % of a core (quota {QUOTA_PERCENT} %)");
    assert!(used <= QUOTA_PERCENT * 1.5, "throttled to its quota: used {used:.1} %");
    assert!(used >= QUOTA_PERCENT / 2.0, "it runs up to its quota: used {used:.1} %");
    assert!(app.terminate().is_some_and(|s| s.success()), "the app stops cleanly");
}

#[test]
fn an_actor_over_its_memory_budget_is_told_then_killed_and_restarted() {
    let test = "an_actor_over_its_memory_budget_is_told_then_killed_and_restarted";
    let mut started = start("budget-mem", "app Budgets {\n\ton all Hog;\n}\n", &[], &[]);
    let app = &mut started.app;
    if !enforced(app).unwrap() {
        return skip(test, "cgroups cannot be made here (not root?)", "COHORT_REQUIRE_CGROUPS");
    }
    let (told, _) = app.wait("on_limit(Mem)", START, |r| limit(r).filter(|(_, kind)| kind == "mem")).unwrap();
    let pid = app.actor_pids()["Hog"];
    let (killed, budget) = app
        .wait("the launcher's word on the kill", START, |r| {
            (r.msg() == "the kernel killed the actor: it went over its memory budget" && r.actor() == "Hog")
                .then(|| r.text("budget").to_owned())
        })
        .unwrap();
    assert!(told <= killed, "told before the kill");
    assert_eq!(budget, "64 MiB");
    let (_, restarted) = app
        .wait("the restart", START, |r| {
            (r.msg() == "actor restarted" && r.actor() == "Hog").then(|| r.value["pid"].as_i64())
        })
        .unwrap();
    assert_ne!(restarted, Some(i64::from(pid)), "a new process");
    assert!(app.terminate().is_some_and(|s| s.success()), "the app stops cleanly");
}

#[test]
fn without_cgroups_the_launcher_warns_once_and_actors_measure_their_use() {
    let empty = TempDir::new("no-cgroups").unwrap();
    let root = empty.path().to_str().unwrap().to_owned();
    let deployment = "app Budgets {\n\ton all Spinner;\n\ton all Hog;\n}\n";
    let metrics = format!("127.0.0.1:{}", free_port().unwrap());
    let extra = ["--metrics", metrics.as_str()];
    let mut started = start("budget-none", deployment, &[("COHORT_CGROUP_ROOT", &root)], &extra);
    let app = &mut started.app;
    assert!(!enforced(app).unwrap(), "an empty root has no hierarchy");
    // Unenforced, the spinner takes what it wants, which its own measure finds over budget;
    // the hog's resident memory reaches the notice level.
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let (_, (actor, kind)) =
            app.wait("on_limit(Cpu) and on_limit(Mem)", START, |r| limit(r).filter(|l| !kinds.contains(l))).unwrap();
        kinds.push((actor, kind));
    }
    kinds.sort();
    assert_eq!(kinds, [("Hog".to_owned(), "mem".to_owned()), ("Spinner".to_owned(), "cpu".to_owned())]);
    // The launcher's metrics count them (the next report carries them: within half a second).
    let counted = |text: &str, actor: &str, kind: &str| {
        text.lines().any(|l| {
            l.starts_with(r#"cohort_actor_limits_total{app="Budgets",host="#)
                && l.contains(&format!(r#"actor="{actor}""#))
                && l.contains(&format!(r#"kind="{kind}""#))
                && !l.ends_with(" 0")
        })
    };
    let give_up = std::time::Instant::now() + START;
    loop {
        let text = cohort_tests::http::get_ok(&metrics, "/metrics").unwrap();
        if counted(&text, "Spinner", "cpu") && counted(&text, "Hog", "mem") {
            break;
        }
        assert!(std::time::Instant::now() < give_up, "no limit counted in /metrics:\n{text}");
        app.watch(std::time::Instant::now() + Duration::from_millis(100), |_| {});
    }
    assert!(app.terminate().is_some_and(|s| s.success()), "the app stops cleanly");
    let warnings = app.records().iter().filter(|r| r.msg().starts_with("resource budgets are not enforced")).count();
    assert_eq!(warnings, 1, "the launcher warns once");
    assert!(!app.records().iter().any(|r| r.msg().starts_with("the kernel killed")), "nothing enforces the budget");
}

/// Mounts a tmpfs on /sys/fs/cgroup and the `net_cls` hierarchy in it (in the mount namespace
/// `ip netns exec` makes), then runs the command line it is given.
const WITH_NET_CLS: &str = "mount -t tmpfs cohort-cgroups /sys/fs/cgroup && mkdir /sys/fs/cgroup/net_cls \
    && mount -t cgroup -o net_cls net_cls /sys/fs/cgroup/net_cls && exec \"$@\"";

#[test]
fn an_actor_over_its_network_budget_is_shaped_to_it_and_told() {
    let test = "an_actor_over_its_network_budget_is_shaped_to_it_and_told";
    if let Some(why) = netns_unavailable() {
        return skip(test, &why, "COHORT_REQUIRE_NETNS");
    }
    if !installed("redis-server") {
        return skip(test, "redis-server not found (apt-get install -y redis-server)", "COHORT_REQUIRE_REDIS");
    }
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip(test, &format!("cannot create network namespaces: {why}"), "COHORT_REQUIRE_NETNS"),
    };
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let dir = TempDir::new("budget-net").unwrap();
    let depl = dir.path().join("limits.depl");
    std::fs::write(&depl, "app Limits {\n\ton (host-a) Talk;\n\ton (host-b) Listen;\n}\n").unwrap();
    let depl = depl.display().to_string();
    let runtime_dir = dir.path().display().to_string();
    let env = [("XDG_RUNTIME_DIR", runtime_dir.as_str())];
    let daemon = "tcp://127.0.0.1:9700";
    let common = ["--deployment", depl.as_str(), "--registry", redis.as_str(), "--daemon-idle", "1", "--insecure"];

    let ns = hosts.ns("a");
    let interface = format!("{ns}i");
    let mut talker_args = vec!["netns", "exec", &ns, "sh", "-c", WITH_NET_CLS, "sh", LIMITS, "run", "--host"];
    talker_args.extend(["host-a", "--daemon", daemon, "--interface", &interface, "--log-format", "json"]);
    talker_args.extend(common);
    let mut talker = AppRun::start("talker on host a", "ip", &talker_args, &env).unwrap();
    let mut listener_args = vec!["--host", "host-b"];
    listener_args.extend(common);
    let mut listener = hosts.launcher("b", "listener on host b", LIMITS, daemon, &listener_args, &env).unwrap();

    let shaped = talker.wait("the launcher's word on shaping", START, |r| match r.msg() {
        "network budgets are shaped with tc" => Some(Ok(())),
        m if m.starts_with("network budgets are not shaped") => Some(Err(r.text("error").to_owned())),
        _ => None,
    });
    match shaped {
        Ok((_, Ok(()))) => {}
        // No tc, no nft where the kernel lacks the cgroup classifier: CI installs both.
        Ok((_, Err(why))) => {
            return skip(test, &format!("traffic cannot be shaped here: {why}"), "COHORT_REQUIRE_CGROUPS")
        }
        Err(why) => {
            talker.records().iter().for_each(|r| eprintln!("talker: {}", r.value));
            panic!("{why}");
        }
    }
    let (_, (actor, _)) = talker.wait("on_limit(Net)", START, |r| limit(r).filter(|(_, k)| k == "net")).unwrap();
    assert_eq!(actor, "Talk");

    // What arrives each second, once the chunks flow (and the burst is spent): the ceiling's
    // worth, not the 200 KiB sent.
    let received = |r: &Record| (r.msg() == "received").then(|| r.value["bytes"].as_f64()).flatten();
    listener.wait("the first chunks", START, |r| received(r).filter(|b| *b > 0.0)).unwrap();
    listener.wait("a second's count", START, received).unwrap();
    let mut seconds = Vec::new();
    while seconds.len() < 5 {
        let (_, bytes) = listener.wait("a second's count", START, received).unwrap();
        seconds.push(bytes);
    }
    let rate = seconds.iter().sum::<f64>() / seconds.len() as f64;
    eprintln!("the listener received {rate:.0} bytes a second (ceiling {NET_CEIL:.0}): {seconds:?}");
    assert!(rate <= NET_CEIL * 1.25, "shaped to its ceiling: {rate:.0} bytes a second");
    assert!(rate >= NET_CEIL * 0.25, "traffic flows up to its ceiling: {rate:.0} bytes a second");
    assert!(talker.terminate().is_some_and(|s| s.success()), "the talker stops cleanly");
    assert!(listener.terminate().is_some_and(|s| s.success()), "the listener stops cleanly");
}

#[test]
fn an_actor_over_its_space_budget_is_told() {
    let dir = TempDir::new("budget-space").unwrap();
    std::fs::write(dir.path().join("limits.depl"), "app Limits {\n\ton all Fill;\n}\n").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    // The launcher, and so the actor, works in the test's folder.
    let script = "cd \"$1\" && shift && exec \"$@\"";
    let folder = dir.path().to_str().unwrap();
    let args = [&["-c", script, "sh", folder, LIMITS][..], &local_run_args("limits.depl", &daemon)].concat();
    let env = [("XDG_RUNTIME_DIR", run.to_str().unwrap())];
    let mut app = AppRun::start("space", "sh", &args, &env).unwrap();
    let (_, (actor, _)) = app.wait("on_limit(Space)", START, |r| limit(r).filter(|(_, k)| k == "space")).unwrap();
    assert_eq!(actor, "Fill");
    assert!(dir.path().join("fill.bin").exists(), "the file was written where the actor works");
    assert!(app.terminate().is_some_and(|s| s.success()), "the app stops cleanly");
}
