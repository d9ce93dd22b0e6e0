//! Several launchers on one machine share its discovery daemon, which none of them owns
//! (issue 17, "hosts that join by themselves"): a multi-host app rehearsed on one machine, the
//! microgrid split over three pseudo-hosts `h1`, `h2`, `h3`, one launcher each.
//!
//! | test | checks |
//! |---|---|
//! | `issue_17_three_launchers_...` | the first launcher starts the daemon as a process of its own, the others use it; in three orders, each launcher stops with status 0 and no discovery warning, the others' actors still restart after kill -9 and find the group; the daemon exits by itself after the last |
//! | `issue_17_launchers_starting_at_once_...` | three launchers started together end with one daemon; two daemons started at once on one endpoint: one serves, the other says the endpoint is taken |
//! | `issue_17_run_with_a_redis_registry_...` | two pseudo-hosts join by themselves: `run --registry` (password from a file, or from the environment) starts each one's daemon, and they share through Redis; a bad URL, an open password file and a wrong password stop `run` with status 1 before any actor starts |
//!
//! The apps run secured (CURVE), their keys made in a temporary `XDG_CONFIG_HOME`, their
//! runtime files in a temporary `XDG_RUNTIME_DIR`. The Redis test skips with a message when
//! redis-server is missing, and fails instead with `COHORT_REQUIRE_REDIS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cohort_discovery::redis_backend::PASSWORD_ENV;
use cohort_tests::{exited, free_port, installed, signal, AppRun, Proc, Record, RedisServer, TempDir};

const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const ESTIMATOR_MODEL: &str = include_str!("../../apps/estimator/estimator.riaps");

/// The microgrid over three pseudo-hosts of this one machine.
const THREE_HOSTS: &str =
    "app Microgrid {\n    on (h1) Unit1, Unit2;\n    on (h2) Unit3, Unit4;\n    on (h3) Unit5;\n}\n";
const HOSTS: [(&str, &[&str]); 3] = [("h1", &["Unit1", "Unit2"]), ("h2", &["Unit3", "Unit4"]), ("h3", &["Unit5"])];

/// The estimator over two pseudo-hosts, each with a daemon of its own, sharing Redis.
const SPLIT: &str = "app DistributedEstimator {\n    on (host-a) Estimator;\n    on (host-b) Aggregator(posArg = 12, optArg = \"fromDeployment\");\n}\n";

/// How long a launcher may take to start its actors and see the group (or the first aggregate).
const START: Duration = Duration::from_secs(20);
/// The daemons these tests start exit after 1 s without a client.
const IDLE: &str = "1";
/// After its last launcher stopped, the daemon exits within this: the idle time, the launchers'
/// goodbyes (or the 2 s liveness timeout of a client that could not say it), and some slack.
const DAEMON_GONE: Duration = Duration::from_secs(6);

/// The tests run one at a time: the machine may have two cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// One machine's setting: a runtime and a config directory of its own, a daemon endpoint.
struct Machine {
    dir: TempDir,
    endpoint: String,
}

impl Machine {
    fn new(tag: &str) -> Machine {
        let dir = TempDir::new(tag).unwrap();
        for sub in ["run", "config"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Machine { dir, endpoint: endpoint() }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("XDG_RUNTIME_DIR", self.dir.path().join("run").display().to_string()),
            ("XDG_CONFIG_HOME", self.dir.path().join("config").display().to_string()),
        ]
    }

    /// The pidfile of the daemon at `endpoint` in the host's runtime directory.
    fn pidfile(&self, endpoint: &str) -> PathBuf {
        let port = endpoint.rsplit(':').next().unwrap();
        self.dir.path().join("run").join("cohort").join(format!("discovery-tcp-127.0.0.1-{port}.pid"))
    }

    fn log_file(&self, endpoint: &str) -> PathBuf {
        self.pidfile(endpoint).with_extension("log")
    }

    /// `program run` with `args`, JSON logs, on the loopback interface, with this machine's
    /// directories.
    fn launcher(&self, name: &str, program: &str, args: &[&str]) -> AppRun {
        let mut all = vec!["run", "--interface", "lo", "--log-format", "json", "--daemon-idle", IDLE];
        all.extend_from_slice(args);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        AppRun::start(name, program, &all, &env).unwrap()
    }

    /// The microgrid's launcher of pseudo-host `host`, discovery at this machine's endpoint.
    fn grid(&self, host: &str) -> AppRun {
        let deployment = self.dir.path().join("three.depl");
        if !deployment.exists() {
            std::fs::write(&deployment, THREE_HOSTS).unwrap();
        }
        let deployment = deployment.display().to_string();
        let args = ["--deployment", &deployment, "--host", host, "--daemon", &self.endpoint];
        self.launcher(&format!("microgrid on {host}"), MICROGRID, &args)
    }
}

fn endpoint() -> String {
    format!("tcp://127.0.0.1:{}", free_port().unwrap())
}

/// Polls `done` until it holds, for at most `within`.
fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < give_up, "not {what} within {within:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The size of the microgrid's group: a leader needs a majority of it.
const GROUP_SIZE: u64 = 5;

/// Waits until every unit of `units` sees `members` members and, if they are a majority of the
/// group, a leader (none otherwise), by the records from index `from` on.
fn group_of(app: &mut AppRun, units: &[&str], members: u64, from: usize) {
    let quorum = members * 2 > GROUP_SIZE;
    let mut views: BTreeMap<String, (bool, u64)> = BTreeMap::new();
    let what = format!("{units:?} seeing {members} members and {}", if quorum { "a leader" } else { "no leader" });
    let waited = app.wait_from(from, &what, START, |r| {
        if r.msg() == "group view" && units.contains(&r.actor()) {
            let view = (r.text("leader") != "none", r.value["members"].as_u64().unwrap_or_default());
            views.insert(r.actor().to_owned(), view);
        }
        units.iter().all(|u| views.get(*u) == Some(&(quorum, members))).then_some(())
    });
    if let Err(e) = waited {
        // What each unit showed last (leader known, members), and the group records seen.
        let seen: Vec<String> = app.records()[from..]
            .iter()
            .filter(|r| r.value.to_string().contains("group") || r.msg().contains("leader"))
            .map(|r| r.value.to_string())
            .collect();
        panic!("{e}; last views {views:?}; records:\n{}", seen.join("\n"));
    }
}

/// A record of trouble with discovery: a warning or an error that speaks of it.
fn discovery_trouble(r: &Record) -> bool {
    let level = r.text("level");
    let text = r.value.to_string().to_lowercase();
    matches!(level, "WARN" | "ERRO" | "CRIT")
        && (text.contains("discovery") || text.contains("daemon") || text.contains("unregister"))
}

/// Stops `app` as Ctrl-C does; it must exit with status 0, every actor of `units` stopped, and
/// no record since `from` tells of trouble with discovery.
fn stop_cleanly(app: &mut AppRun, units: &[&str], from: usize) {
    let status = app.terminate();
    assert!(status.is_some_and(|s| s.success()), "{}: exit status {status:?}", app.name());
    let records = &app.records()[from..];
    let trouble: Vec<&Record> = records.iter().filter(|r| discovery_trouble(r)).collect();
    assert!(trouble.is_empty(), "{}: {trouble:#?}", app.name());
    for unit in units {
        assert!(
            records.iter().any(|r| r.msg() == "actor stopped" && r.actor() == *unit),
            "{}: {unit} did not say it stopped",
            app.name()
        );
    }
    let warnings: Vec<&str> = records.iter().filter(|r| r.text("level") == "WARN").map(Record::msg).collect();
    if !warnings.is_empty() {
        note(&format!("{}: warnings while running: {warnings:?}", app.name()));
    }
}

/// The pid of the daemon whose pidfile is `path`, once written.
fn daemon_pid(path: &PathBuf) -> i32 {
    let mut pid = None;
    wait_until("the daemon's pidfile", START, || {
        pid = std::fs::read_to_string(path).ok().and_then(|t| t.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

/// The live processes serving `disco-daemon` at `endpoint`.
fn daemons_at(endpoint: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.contains(&b"disco-daemon".as_slice()) && args.contains(&endpoint.as_bytes()) && !exited(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// After the last launcher stopped: the daemon `pid` exits by itself, removing its pidfile.
fn daemon_ends_by_itself(machine: &Machine, endpoint: &str, pid: i32) {
    let stopped = Instant::now();
    wait_until("the idle daemon exiting", DAEMON_GONE, || exited(pid));
    note(&format!("shared daemon: exited {:?} after its last launcher stopped", stopped.elapsed()));
    assert!(!machine.pidfile(endpoint).exists(), "the daemon left its pidfile");
    let log = std::fs::read_to_string(machine.log_file(endpoint)).unwrap();
    assert!(log.contains("exiting"), "{log}");
}

#[test]
fn issue_17_three_launchers_on_one_machine_share_its_daemon_and_stop_in_any_order() {
    let _serial = serial();
    // First-started first, last-started first, the middle one first.
    for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
        let machine = Machine::new("shared-daemon");
        let started = Instant::now();
        let mut first = machine.grid(HOSTS[0].0);
        let (_, daemon) = first
            .wait("the daemon started", START, |r| {
                assert_ne!(r.msg(), "using the running discovery daemon", "a daemon ran already");
                (r.msg() == "started the discovery daemon of this host").then(|| r.value["pid"].as_i64())
            })
            .unwrap();
        let daemon = i32::try_from(daemon.unwrap()).unwrap();
        assert_eq!(daemon_pid(&machine.pidfile(&machine.endpoint)), daemon);
        assert_eq!(daemons_at(&machine.endpoint), vec![daemon]);
        let mut launchers = [first, machine.grid(HOSTS[1].0), machine.grid(HOSTS[2].0)];
        for app in &mut launchers[1..] {
            app.wait("using the daemon", START, |r| (r.msg() == "using the running discovery daemon").then_some(()))
                .unwrap();
        }
        for (app, (_, units)) in launchers.iter_mut().zip(HOSTS) {
            group_of(app, units, GROUP_SIZE, 0);
        }
        note(&format!(
            "shared daemon, order {order:?}: five units in one group {:?} after the start",
            started.elapsed()
        ));

        let mut alive = [true; 3];
        for (step, &i) in order.iter().enumerate() {
            let from = launchers[i].records().len();
            launchers[i].drain();
            stop_cleanly(&mut launchers[i], HOSTS[i].1, from);
            alive[i] = false;
            if step == order.len() - 1 {
                break;
            }
            // The daemon outlives the launcher, whichever it is, and serves the others.
            assert!(!exited(daemon), "order {order:?}: the daemon died with launcher {}", HOSTS[i].0);
            let remaining: Vec<usize> = (0..3).filter(|&j| alive[j]).collect();
            let members = remaining.iter().map(|&j| HOSTS[j].1.len() as u64).sum();
            for &j in &remaining {
                let from = launchers[j].records().len();
                group_of(&mut launchers[j], HOSTS[j].1, members, from);
            }
            // kill -9 an actor of another launcher: it is restarted, registers with the daemon and
            // finds the rest of the group.
            let j = remaining[0];
            let victim = HOSTS[j].1[0];
            let app = &mut launchers[j];
            app.drain();
            let pid = app.actor_pids()[victim];
            signal(pid, libc::SIGKILL).unwrap();
            let killed = Instant::now();
            let (_, restarted) = app
                .wait("the killed actor restarted", START, |r| {
                    (r.msg() == "actor restarted" && r.actor() == victim).then(|| r.value["pid"].as_i64())
                })
                .unwrap();
            assert_ne!(restarted, Some(i64::from(pid)));
            let from = app.records().len();
            group_of(app, &[victim], members, from);
            note(&format!(
                "shared daemon, order {order:?}: {} stopped; {victim} killed, restarted and back in the group of \
                 {members} in {:?}",
                HOSTS[i].0,
                killed.elapsed()
            ));
        }
        daemon_ends_by_itself(&machine, &machine.endpoint, daemon);
    }
}

#[test]
fn issue_17_launchers_starting_at_once_end_with_one_daemon() {
    let _serial = serial();
    // Two daemons started at once on one endpoint: the bind decides.
    let machine = Machine::new("daemon-race");
    let pidfile = machine.dir.path().join("race.pid");
    let path = pidfile.display().to_string();
    let endpoint = machine.endpoint.as_str();
    let args = [
        "disco-daemon",
        "--endpoint",
        endpoint,
        "--host",
        "race",
        "--pidfile",
        &path,
        "--idle-exit",
        "30",
        "--insecure",
    ];
    let mut racers: Vec<Proc> =
        (0..2).map(|n| Proc::spawn(&format!("daemon {n}"), MICROGRID, &args).unwrap()).collect();
    let said: Vec<String> = racers.iter().map(|p| p.next_line("", START).unwrap()).collect();
    let winner = said.iter().position(|l| l == "READY").unwrap_or_else(|| panic!("none serves: {said:?}"));
    let loser = 1 - winner;
    assert!(said[loser].starts_with("IN-USE ") && said[loser].contains("Address already in use"), "{said:?}");
    assert!(racers[loser].wait_exit(Duration::from_secs(5)).is_some(), "the loser still runs");
    assert!(racers[winner].wait_exit(Duration::ZERO).is_none(), "the winner exited");
    assert_eq!(daemon_pid(&pidfile), racers[winner].pid());
    drop(racers);

    // Three launchers started together: one starts the daemon, the others use it.
    let machine = Machine::new("launcher-race");
    let mut launchers: Vec<AppRun> = HOSTS.iter().map(|(host, _)| machine.grid(host)).collect();
    let mut starters = 0;
    for app in &mut launchers {
        let (_, started) = app
            .wait("the daemon started or found", START, |r| match r.msg() {
                "started the discovery daemon of this host" => Some(true),
                m if m.starts_with("using the running discovery daemon") => Some(false),
                _ => None,
            })
            .unwrap();
        starters += usize::from(started);
    }
    assert_eq!(starters, 1, "launchers that started a daemon");
    let daemons = daemons_at(&machine.endpoint);
    assert_eq!(daemons.len(), 1, "daemon processes: {daemons:?}");
    for (app, (_, units)) in launchers.iter_mut().zip(HOSTS) {
        group_of(app, units, GROUP_SIZE, 0);
    }
    for (app, (_, units)) in launchers.iter_mut().zip(HOSTS) {
        stop_cleanly(app, units, 0);
    }
    daemon_ends_by_itself(&machine, &machine.endpoint, daemons[0]);
}

#[test]
fn issue_17_run_with_a_redis_registry_starts_a_daemon_that_shares_through_it() {
    let test = "issue_17_run_with_a_redis_registry_starts_a_daemon_that_shares_through_it";
    if !installed("redis-server") {
        let why = "redis-server not found (apt-get install -y redis-server)";
        note(&format!("SKIPPED {test}: {why}"));
        assert!(std::env::var_os("COHORT_REQUIRE_REDIS").is_none(), "COHORT_REQUIRE_REDIS is set: {why}");
        return;
    }
    let _serial = serial();
    let machine = Machine::new("registry");
    let secret = "Sh4red-registry";
    let server = RedisServer::start_with("127.0.0.1", &["--requirepass", secret]).unwrap();
    let url = server.url();
    let write = |name: &str, text: &str, mode: u32| {
        let path = machine.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    };
    let password = write("redis.password", &format!("{secret}\n"), 0o600);
    let model = write(
        "estimator.riaps",
        &ESTIMATOR_MODEL
            .replace("timer clock 1000;", "timer clock 50;")
            .replace("timer wakeup 3000;", "timer wakeup 250;"),
        0o644,
    );
    let deployment = write("split.depl", SPLIT, 0o644);
    let env = machine.env();

    // Refused before anything starts: status 1, the reason, no actor, no daemon, no key made.
    let run_to_end = |args: &[&str]| {
        let endpoint = endpoint();
        let out = Command::new(ESTIMATOR)
            .args(["run", "--model", &model, "--deployment", &deployment, "--host", "host-a", "--daemon", &endpoint])
            .args(["--interface", "lo", "--log-format", "json"])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(!err.contains("actor started"), "an actor started: {err}");
        assert!(daemons_at(&endpoint).is_empty(), "a daemon runs at {endpoint}");
        assert!(!err.contains(secret), "the password shows: {err}");
        err
    };
    let open = write("open.password", &format!("{secret}\n"), 0o644);
    let err = run_to_end(&["--registry", &url, "--redis-password-file", &open]);
    assert!(err.contains(&format!("the Redis password file {open} is open to other users (mode 0644)")), "{err}");
    assert!(!machine.dir.path().join("config").join("cohort").exists(), "keys were made: {err}");
    let err = run_to_end(&["--registry", "memory", "--redis-password-file", &password]);
    assert!(err.contains("--registry memory: bad Redis URL memory"), "{err}");
    let wrong = write("wrong.password", "not-the-password\n", 0o600);
    let err = run_to_end(&["--registry", &url, "--redis-password-file", &wrong]);
    assert!(err.contains("authentication failed: wrong password or user"), "{err}");
    assert!(err.contains(&format!("the password came from the file {wrong}")), "{err}");

    // Two hosts join by themselves: each launcher starts its host's daemon on the shared
    // registry, named after its --host. Host b's password comes from the environment, host a's
    // from the file.
    let host = |name: &str, endpoint: &str, extra: &[(&str, &str)], args: &[&str]| {
        let mut all = vec!["run", "--model", &model, "--deployment", &deployment, "--host", name, "--daemon", endpoint];
        all.extend(["--interface", "lo", "--log-format", "json", "--daemon-idle", IDLE, "--registry", &url]);
        all.extend_from_slice(args);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).chain(extra.iter().copied()).collect();
        let mut app = AppRun::start(&format!("estimator on {name}"), ESTIMATOR, &all, &env).unwrap();
        let (_, pid) = app
            .wait(&format!("{name}'s daemon started"), START, |r| {
                (r.msg() == "started the discovery daemon of this host").then(|| r.value["pid"].as_i64())
            })
            .unwrap();
        (app, i32::try_from(pid.unwrap()).unwrap())
    };
    let other = endpoint();
    let (mut host_b, daemon_b) = host("host-b", &other, &[(PASSWORD_ENV, secret)], &[]);
    let (mut host_a, daemon_a) = host("host-a", &machine.endpoint, &[], &["--redis-password-file", &password]);
    let joined = Instant::now();
    let mut received = false;
    host_b
        .wait("an aggregate of host a's estimates", START, |r| {
            received |= r.msg() == "estimate received";
            (received && r.msg() == "aggregate" && r.value["count"].as_u64() >= Some(1)).then_some(())
        })
        .unwrap();
    note(&format!("registry: host a joined, its estimates aggregated on host b in {:?}", joined.elapsed()));
    for endpoint in [&machine.endpoint, &other] {
        let log = std::fs::read_to_string(machine.log_file(endpoint)).unwrap();
        assert!(!log.contains(secret), "the password is in the daemon's log");
    }
    for (app, actor) in [(&mut host_a, "Estimator"), (&mut host_b, "Aggregator")] {
        stop_cleanly(app, &[actor], 0);
    }
    daemon_ends_by_itself(&machine, &machine.endpoint, daemon_a);
    daemon_ends_by_itself(&machine, &other, daemon_b);
}
