//! The monitor of running example apps (`APP run --metrics ADDR`): the microgrid's and the
//! estimator's `/metrics` pass `promtool check metrics`, their `/api/view` shows every actor
//! running with non-zero rates, and a unit killed with SIGKILL shows up as a restart and a new
//! leader; `cohort top --once --json` reports the estimator's rates; and with two hosts sharing
//! discovery, each host's view shows both. `promtool` (Debian package `prometheus`) missing
//! skips the promtool checks with a message (and fails instead with `COHORT_REQUIRE_PROMTOOL=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use cohort_tests::http::{get_ok, wait_for_view};
use cohort_tests::skip;
use cohort_tests::{free_port, installed, AppRun, TempDir};
use serde_json::Value;

const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const COHORT: &str = env!("CARGO_BIN_EXE_cohort-cli");
const ESTIMATOR_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.depl");
const MICROGRID_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.depl");

/// How long an app may take to start and report.
const START: Duration = Duration::from_secs(15);

/// Runs `program` (an example app) with its monitor on a free port, its discovery on another,
/// its runtime files in `dir`: the app and the monitor's address.
fn run_app(name: &str, program: &str, deployment: &str, dir: &TempDir) -> (AppRun, String) {
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let args = [
        "run",
        "--deployment",
        deployment,
        "--daemon",
        &daemon,
        "--interface",
        "lo",
        "--log-format",
        "json",
        "--insecure",
        "--metrics",
        &addr,
    ];
    let env = [("XDG_RUNTIME_DIR", dir.path().to_str().unwrap())];
    (AppRun::start(name, program, &args, &env).unwrap(), addr)
}

/// The actors of a view that run, by name.
fn running(view: &Value) -> Vec<&str> {
    let actors = view["actors"].as_array().into_iter().flatten();
    actors.filter(|a| a["state"] == "running").filter_map(|a| a["name"].as_str()).collect()
}

/// Runs `promtool check metrics` on `text`; false when promtool is missing (the check skipped).
fn promtool_accepts(text: &str) -> bool {
    if !installed("promtool") {
        eprintln!("SKIPPED promtool check: promtool not found (apt-get install -y prometheus)");
        assert!(std::env::var_os("COHORT_REQUIRE_PROMTOOL").is_none(), "COHORT_REQUIRE_PROMTOOL is set");
        return false;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics refused the metrics:\n{}{}\n--- metrics:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// The group rows of a view: `(actor, is_leader, term)` of each member.
fn members(view: &Value) -> Vec<(String, bool, u64)> {
    let mut out = Vec::new();
    for actor in view["actors"].as_array().into_iter().flatten() {
        for g in actor["groups"].as_array().into_iter().flatten() {
            let name = actor["name"].as_str().unwrap_or_default().to_owned();
            out.push((name, g["is_leader"] == true, g["term"].as_u64().unwrap_or(0)));
        }
    }
    out
}

#[test]
fn the_microgrid_serves_metrics_promtool_accepts_and_shows_a_killed_leader_replaced() {
    let dir = TempDir::new("metrics-microgrid").unwrap();
    let (mut app, addr) = run_app("microgrid", MICROGRID, MICROGRID_DEPLOYMENT, &dir);
    // Five units running, one leader, group traffic flowing.
    let view = wait_for_view(&addr, START, "five units running with one leader", |v| {
        let leaders = members(v).iter().filter(|m| m.1).count();
        let flowing = v["actors"].as_array().into_iter().flatten().all(|a| {
            a["groups"].as_array().into_iter().flatten().any(|g| g["rates"]["sent"].as_f64().unwrap_or(0.0) > 0.0)
        });
        running(v).len() == 5 && leaders == 1 && flowing
    })
    .unwrap();
    let metrics = get_ok(&addr, "/metrics").unwrap();
    for line in [
        "cohort_actor_up{app=\"Microgrid\"",
        "cohort_group_leader{app=\"Microgrid\"",
        "cohort_handler_duration_seconds_bucket{",
        "cohort_actor_resident_memory_bytes{",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }
    promtool_accepts(&metrics);

    // SIGKILL the leader's process: the view shows its restart and another leader.
    let (leader, _, term) = members(&view).into_iter().find(|m| m.1).unwrap();
    let pid = view["actors"].as_array().unwrap().iter().find(|a| a["name"] == leader.as_str()).unwrap()["pid"]
        .as_i64()
        .unwrap();
    cohort_tests::signal(i32::try_from(pid).unwrap(), libc::SIGKILL).unwrap();
    wait_for_view(&addr, Duration::from_secs(2), "the kill seen: a restart and a new leader", |v| {
        let restarted =
            v["actors"].as_array().into_iter().flatten().any(|a| a["name"] == leader.as_str() && a["restarts"] == 1);
        let new_leader = members(v).iter().any(|m| m.1 && m.0 != leader && m.2 > term);
        restarted && new_leader
    })
    .unwrap();
    app.stop();
}

#[test]
fn the_estimator_serves_metrics_promtool_accepts_with_message_rates() {
    let dir = TempDir::new("metrics-estimator").unwrap();
    let (mut app, addr) = run_app("estimator", ESTIMATOR, ESTIMATOR_DEPLOYMENT, &dir);
    // The sensors publish every second: rates show once two reports a second apart saw it.
    let view = wait_for_view(&addr, START, "both actors running with messages flowing", |v| {
        let sent =
            v["actors"].as_array().into_iter().flatten().flat_map(|a| a["instances"].as_array().into_iter().flatten());
        let flowing = sent
            .flat_map(|i| i["ports"].as_array().into_iter().flatten())
            .any(|p| p["rates"]["sent"].as_f64().unwrap_or(0.0) > 0.0);
        running(v).len() == 2 && flowing
    })
    .unwrap();
    assert!(view["graph"]["flows"].as_array().is_some_and(|f| !f.is_empty()), "no flows in the graph: {view}");
    let metrics = get_ok(&addr, "/metrics").unwrap();
    assert!(metrics.contains("cohort_port_messages_total{app=\"DistributedEstimator\""), "{metrics}");
    promtool_accepts(&metrics);

    // `cohort top --once --json` reports the same, with non-zero rates.
    let out = Command::new(COHORT).args(["top", "--url", &addr, "--once", "--json"]).output().unwrap();
    assert!(out.status.success(), "cohort top failed: {}", String::from_utf8_lossy(&out.stderr));
    let top: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rates: Vec<(String, f64)> = top["actors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["instances"].as_array().into_iter().flatten())
        .flat_map(|i| {
            i["ports"].as_array().into_iter().flatten().map(move |p| {
                (
                    format!("{}.{}", i["name"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or("")),
                    p["rates"]["sent"].as_f64().unwrap_or(0.0) + p["rates"]["received"].as_f64().unwrap_or(0.0),
                )
            })
        })
        .collect();
    assert!(
        rates.iter().any(|(_, r)| *r > 0.0),
        "no port of the estimator has a non-zero rate in cohort top: {rates:?}"
    );
    app.stop();
}

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");

#[test]
fn each_hosts_page_shows_every_host_through_discovery() {
    use cohort_tests::{netns_unavailable, Hosts, Proc, RedisServer};
    let test = "each_hosts_page_shows_every_host_through_discovery";
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
    let dir = TempDir::new("metrics-hosts").unwrap();
    let deployment = dir.path().join("split.depl");
    std::fs::write(&deployment, cohort_tests::SPLIT_ESTIMATOR_DEPLOYMENT).unwrap();
    let deployment = deployment.display().to_string();
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let daemon = "tcp://127.0.0.1:9700";
    let mut running = Vec::new();
    let mut monitors = Vec::new();
    for (i, host) in ["a", "b"].into_iter().enumerate() {
        let (ns, name) = (hosts.ns(host), format!("host-{host}"));
        let disco = Proc::in_ns(&format!("disco {host}"), &ns, PROBE, &["disco", daemon, &name, &redis]).unwrap();
        disco.expect("READY");
        let monitor = format!("{}.0.{}:9464", hosts.net(), i + 1);
        let extra = ["--deployment", &deployment, "--host", &name, "--insecure", "--metrics", &monitor];
        let env = [("XDG_RUNTIME_DIR", dir.path().to_str().unwrap())];
        let app = hosts.launcher(host, &format!("estimator on {name}"), ESTIMATOR, daemon, &extra, &env).unwrap();
        running.push((disco, app));
        monitors.push(monitor);
    }
    // Each host's view shows both hosts' actors running, the other's through discovery.
    for monitor in &monitors {
        let view = wait_for_view(monitor, START, "both hosts' actors running", |v| {
            let on = |actor: &str, host: &str| {
                v["actors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["name"] == actor && a["host"] == host && a["state"] == "running")
            };
            on("Estimator", "host-a") && on("Aggregator", "host-b")
        })
        .unwrap();
        let hosts_seen: Vec<&str> = view["hosts"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(hosts_seen.len(), 2, "{hosts_seen:?}");
    }
    for (_, app) in &mut running {
        app.stop();
    }
}
