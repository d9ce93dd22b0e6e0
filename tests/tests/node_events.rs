//! NIC and peer events reach components: `on_nic_state` when the interface an actor's global
//! ports bind to goes down and up (a veth inside a network namespace), and `on_peer_state` when
//! another actor of the app is killed and comes back. The estimator's GlobalEstimator (in the
//! Aggregator actor) logs both; each test prints how long the event took (`EVENT ...` lines).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cohort_tests::{free_port, ip, netns_unavailable, signal, AppRun, Hosts, Proc, Record, TempDir};

const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.depl");

/// How long the app may take to start and its watches to be set up.
const START: Duration = Duration::from_secs(20);
/// The bound on a NIC event: netlink is immediate, the actor polls it at once.
const NIC_BOUND: Duration = Duration::from_secs(1);
/// The test daemon's heartbeat and liveness timeout.
const HEARTBEAT_MS: u64 = 100;
const LIVENESS_MS: u64 = 500;
/// The bound on a peer's Down: the liveness timeout, the daemon's sweep and the push.
const PEER_DOWN_BOUND: Duration = Duration::from_millis(LIVENESS_MS + 1500);
/// The bound on its Up after the kill: the launcher's restart (with back-off) and registration.
const PEER_UP_BOUND: Duration = Duration::from_secs(10);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

fn report(event: &str, took: Duration, bound: Duration) {
    note(&format!(
        "EVENT {event}: {:.1} ms (bound {:.0} ms)",
        took.as_secs_f64() * 1000.0,
        bound.as_secs_f64() * 1000.0
    ));
    assert!(took <= bound, "{event}: {took:?}, more than the bound {bound:?}");
}

/// Skips a test that needs network namespaces.
fn skip_netns(test: &str, why: &str) {
    cohort_tests::skip(test, why, "COHORT_REQUIRE_NETNS");
}

/// The Aggregator's component logged a NIC event with `state`.
fn nic_event(r: &Record, state: &str) -> bool {
    r.actor() == "Aggregator" && r.msg() == "NIC state changed" && r.text("state") == state
}

/// The Aggregator's component logged a peer event of the Estimator with `state`; its pid.
fn peer_event(r: &Record, state: &str) -> Option<i64> {
    (r.actor() == "Aggregator"
        && r.msg() == "peer state changed"
        && r.text("peer_actor") == "Estimator"
        && r.text("state") == state)
        .then(|| r.value["peer_pid"].as_i64())
        .flatten()
}

#[test]
fn a_veth_taken_down_and_up_reaches_the_components() {
    let test = "a_veth_taken_down_and_up_reaches_the_components";
    if let Some(why) = netns_unavailable() {
        return skip_netns(test, &why);
    }
    let _serial = serial();
    let hosts = match Hosts::create_n(1) {
        Ok(hosts) => hosts,
        Err(why) => return skip_netns(test, &format!("cannot create network namespaces: {why}")),
    };
    let ns = hosts.ns("a");
    let veth = format!("{ns}i");
    let dir = TempDir::new("node-events").unwrap();
    let daemon = "tcp://127.0.0.1:9700";
    let disco = Proc::in_ns("disco", &ns, PROBE, &["disco", daemon, "host-a"]).unwrap();
    disco.expect("READY");
    let runtime_dir = dir.path().display().to_string();
    let env = [("XDG_RUNTIME_DIR", runtime_dir.as_str())];
    let extra = ["--deployment", DEPLOYMENT, "--insecure"];
    let mut app = hosts.launcher("a", "estimator in a namespace", ESTIMATOR, daemon, &extra, &env).unwrap();
    app.wait("the Aggregator following its interface", START, |r| {
        (r.actor() == "Aggregator" && r.msg() == "following the network interface").then_some(())
    })
    .unwrap();

    let down_at = Instant::now();
    ip(&["netns", "exec", &ns, "ip", "link", "set", &veth, "down"]).unwrap();
    let (seen, ()) = app.wait("on_nic_state(Down)", NIC_BOUND * 5, |r| nic_event(r, "down").then_some(())).unwrap();
    report("nic down -> on_nic_state(Down)", seen.saturating_duration_since(down_at), NIC_BOUND);

    let up_at = Instant::now();
    ip(&["netns", "exec", &ns, "ip", "link", "set", &veth, "up"]).unwrap();
    let (seen, ()) = app.wait("on_nic_state(Up)", NIC_BOUND * 5, |r| nic_event(r, "up").then_some(())).unwrap();
    report("nic up -> on_nic_state(Up)", seen.saturating_duration_since(up_at), NIC_BOUND);
    app.stop();
}

#[test]
fn a_killed_actor_goes_down_and_comes_back_up_for_its_peers() {
    let _serial = serial();
    let dir = TempDir::new("node-events").unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let (hb, live) = (HEARTBEAT_MS.to_string(), LIVENESS_MS.to_string());
    let disco =
        Proc::spawn("disco", PROBE, &["disco", &daemon, "peer-host", "--heartbeat-ms", &hb, "--liveness-ms", &live])
            .unwrap();
    disco.expect("READY");
    let args = [
        "run",
        "--deployment",
        DEPLOYMENT,
        "--daemon",
        &daemon,
        "--interface",
        "lo",
        "--log-format",
        "json",
        "--insecure",
    ];
    let runtime_dir = dir.path().display().to_string();
    let mut app = AppRun::start("estimator", ESTIMATOR, &args, &[("XDG_RUNTIME_DIR", &runtime_dir)]).unwrap();
    let (_, first) = app.wait("on_peer_state(Estimator, Up)", START, |r| peer_event(r, "up")).unwrap();
    assert_eq!(
        app.actor_pids().get("Estimator").map(|p| i64::from(*p)),
        Some(first),
        "the peer is the Estimator's process"
    );

    // The restart may register before discovery drops the killed run: Up may come before Down.
    let from = app.records().len();
    let killed_at = Instant::now();
    signal(i32::try_from(first).unwrap(), libc::SIGKILL).unwrap();
    let (down, ()) = app
        .wait_from(from, "on_peer_state(Estimator, Down)", PEER_DOWN_BOUND * 3, |r| {
            (peer_event(r, "down") == Some(first)).then_some(())
        })
        .unwrap();
    report("kill -9 of a peer -> on_peer_state(Down)", down.saturating_duration_since(killed_at), PEER_DOWN_BOUND);
    let (up, again) = app
        .wait_from(from, "on_peer_state(Estimator, Up) of the restarted actor", PEER_UP_BOUND, |r| {
            peer_event(r, "up").filter(|pid| *pid != first)
        })
        .unwrap_or_else(|e| {
            for r in app.records().iter().filter(|r| r.at >= killed_at) {
                note(&format!("  {}", r.value));
            }
            panic!("{e}")
        });
    assert_eq!(app.actor_pids().get("Estimator").map(|p| i64::from(*p)), Some(again));
    report(
        "kill -9 of a peer -> on_peer_state(Up) of its restart",
        up.saturating_duration_since(killed_at),
        PEER_UP_BOUND,
    );
    app.stop();
}

#[test]
fn a_peer_hosts_killed_processes_go_down_on_the_other_host() {
    use cohort_tests::{installed, RedisServer};
    let test = "a_peer_hosts_killed_processes_go_down_on_the_other_host";
    if let Some(why) = netns_unavailable() {
        return skip_netns(test, &why);
    }
    if !installed("redis-server") {
        return skip_netns(test, "redis-server not found (apt-get install -y redis-server)");
    }
    let _serial = serial();
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip_netns(test, &format!("cannot create network namespaces: {why}")),
    };
    let dir = TempDir::new("node-events").unwrap();
    let deployment = dir.path().join("split.depl");
    std::fs::write(&deployment, cohort_tests::SPLIT_ESTIMATOR_DEPLOYMENT).unwrap();
    let deployment = deployment.display().to_string();
    let runtime_dir = dir.path().display().to_string();
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let daemon = "tcp://127.0.0.1:9700";
    let (hb, live) = (HEARTBEAT_MS.to_string(), LIVENESS_MS.to_string());
    let mut launchers = Vec::new();
    for host in ["a", "b"] {
        let (ns, name) = (hosts.ns(host), format!("host-{host}"));
        let disco_args = ["disco", daemon, &name, &redis, "--heartbeat-ms", &hb, "--liveness-ms", &live];
        let disco = Proc::in_ns(&format!("disco {host}"), &ns, PROBE, &disco_args).unwrap();
        disco.expect("READY");
        let extra = ["--deployment", &deployment, "--host", &name, "--insecure"];
        let env = [("XDG_RUNTIME_DIR", runtime_dir.as_str())];
        let app = hosts.launcher(host, &format!("estimator on {name}"), ESTIMATOR, daemon, &extra, &env).unwrap();
        launchers.push((disco, app));
    }
    let (_, aggregator) = &mut launchers[1];
    let (_, first) =
        aggregator.wait("on_peer_state(Estimator, Up) from host a", START, |r| peer_event(r, "up")).unwrap();
    let from = aggregator.records().len();

    // Host a's app dies at once: its actor is stopped (so its launcher's death cannot make it say
    // goodbye), its launcher killed (so it does not restart the actor), then the actor killed.
    let (_, estimator) = &mut launchers[0];
    let actor = i32::try_from(first).unwrap();
    signal(actor, libc::SIGSTOP).unwrap();
    let killed_at = Instant::now();
    estimator.kill();
    signal(actor, libc::SIGKILL).unwrap();
    let (_, aggregator) = &mut launchers[1];
    let (down, ()) = aggregator
        .wait_from(from, "on_peer_state(Estimator, Down) on host b", PEER_DOWN_BOUND * 3, |r| {
            (peer_event(r, "down") == Some(first)).then_some(())
        })
        .unwrap();
    report(
        "kill -9 of a peer host's app -> on_peer_state(Down) across hosts",
        down.saturating_duration_since(killed_at),
        PEER_DOWN_BOUND,
    );
    aggregator.stop();
}
