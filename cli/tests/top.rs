//! `cohort top`, run as a user runs it, against a monitor server in the test process that
//! serves a board of hand-made actor reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;

use cohort_model::ast::PortKind;
use cohort_monitor::{
    ActorReport, ActorState, AppGraph, AppView, Board, GroupReport, GroupTraffic, InstanceReport, MonitorServer,
    PortCounters, PortReport, ProcessStats, Source, VoteCounts, Warning, WarningLevel, WarningRing,
};

/// A launcher's board, as the monitor server reads it.
struct BoardSource(Arc<Board>);

impl Source for BoardSource {
    fn prometheus(&self) -> String {
        String::new()
    }

    fn view_json(&self) -> Option<String> {
        serde_json::to_string(&self.0.view()).ok()
    }
}

/// A discovery daemon's monitor: `/metrics` only.
struct MetricsOnly;

impl Source for MetricsOnly {
    fn prometheus(&self) -> String {
        String::new()
    }

    fn view_json(&self) -> Option<String> {
        None
    }
}

const T0: u64 = 1_700_000_000_000;

/// Member `member` of group `Balance/g1`, led by member `m1`.
fn member(instance: &str, member: &str) -> GroupReport {
    GroupReport {
        instance: instance.to_owned(),
        group_type: "Balance".to_owned(),
        group: "g1".to_owned(),
        member: member.to_owned(),
        leader: Some("m1".to_owned()),
        is_leader: member == "m1",
        term: 3,
        members: vec!["m1".to_owned(), "m2".to_owned()],
        elections: 1,
        votes: VoteCounts::default(),
        traffic: GroupTraffic::default(),
        refused: 0,
    }
}

/// A report of actor `actor` (process `pid`) at `at_ms`, whose one port has sent `sent`
/// messages of 64 bytes each.
fn report(actor: &str, pid: u32, at_ms: u64, sent: u64, group: GroupReport) -> ActorReport {
    ActorReport {
        actor: actor.to_owned(),
        pid,
        started_ms: T0 - 5000,
        at_ms,
        process: ProcessStats {
            rss_bytes: 7 * 1024 * 1024,
            cpu_seconds: at_ms.saturating_sub(T0) as f64 / 10_000.0,
            threads: 4,
            limits: Default::default(),
        },
        instances: vec![InstanceReport {
            name: "unit".to_owned(),
            component: "Unit".to_owned(),
            ports: vec![PortReport {
                name: "report".to_owned(),
                kind: PortKind::Pub,
                counters: PortCounters { sent, bytes_sent: sent * 64, dropped_stale: 2, ..PortCounters::default() },
            }],
            handlers: Vec::new(),
        }],
        groups: vec![group],
        warnings: vec![Warning {
            at_ms: T0,
            level: WarningLevel::Warning,
            source: format!("{actor}.unit"),
            text: "slow handler".to_owned(),
        }],
    }
}

/// A monitor serving two actors that each reported twice, a second apart: unit1 sent 20
/// messages a second, unit2 5.
fn serve() -> MonitorServer {
    let actors = ["unit1".to_owned(), "unit2".to_owned()];
    let board = Board::new(
        "Microgrid",
        "node-1",
        AppGraph { actors: Vec::new(), flows: Vec::new() },
        &actors,
        WarningRing::new(),
    );
    board.started("unit1", 101, false);
    board.started("unit2", 102, true);
    for (actor, pid, per_second, group) in
        [("unit1", 101, 20, member("unit", "m1")), ("unit2", 102, 5, member("unit", "m2"))]
    {
        assert!(board.report(report(actor, pid, T0, 10, group.clone())));
        assert!(board.report(report(actor, pid, T0 + 1000, 10 + per_second, group)));
    }
    serve_source(Arc::new(BoardSource(Arc::new(board))))
}

fn serve_source(source: Arc<dyn Source>) -> MonitorServer {
    let log = slog::Logger::root(slog::Discard, slog::o!());
    MonitorServer::start("127.0.0.1:0", source, &log).unwrap()
}

/// Runs `cohort top ARGS`, with no HTTP proxy in the way: (exit code, stdout, stderr).
fn top(args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cohort"));
    command.arg("top").args(args);
    for proxy in ["ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
        command.env_remove(proxy);
    }
    let output = command.output().unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code(), text(output.stdout), text(output.stderr))
}

#[test]
fn once_json_prints_the_app_view_with_port_rates() {
    let server = serve();
    let url = format!("http://{}", server.addr());
    let (code, stdout, stderr) = top(&["--url", &url, "--once", "--json"]);
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    let view: AppView = serde_json::from_str(&stdout).unwrap();
    assert_eq!((view.app.as_str(), view.host.as_str()), ("Microgrid", "node-1"));
    let unit1 = &view.actors[0];
    assert_eq!((unit1.name.as_str(), unit1.state, unit1.pid), ("unit1", ActorState::Running, Some(101)));
    let rates = unit1.instances[0].ports[0].rates;
    assert!((rates.sent - 20.0).abs() < 1e-9, "{rates:?}");
    assert!((rates.bytes_sent - 1280.0).abs() < 1e-9, "{rates:?}");
    assert!((view.actors[1].instances[0].ports[0].rates.sent - 5.0).abs() < 1e-9);
    assert_eq!(view.actors[1].restarts, 1);
}

#[test]
fn once_prints_actors_ports_groups_and_warnings_aligned() {
    let server = serve();
    let (code, stdout, stderr) = top(&["--url", &server.addr().to_string(), "--once"]);
    assert_eq!(code, Some(0), "stderr:\n{stderr}");
    assert!(stdout.starts_with("Microgrid on node-1 at 2"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no escapes with --once:\n{stdout}");
    let line = |start: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` line in\n{stdout}"))
    };
    // The actor's line, then its port's: messages and bytes per second, and the drops.
    let unit1 = line("unit1");
    assert!(unit1.contains("running") && unit1.contains("101") && unit1.contains("7.0 MiB"), "{unit1}");
    let port_lines: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("unit ")).collect();
    assert_eq!(port_lines.len(), 2, "{stdout}");
    let columns: Vec<&str> = port_lines[0].split_whitespace().collect();
    assert_eq!(columns, ["unit", "report", "pub", "20.0", "0", "1.2", "KiB", "0", "B", "2"], "{stdout}");
    // Columns line up: each port line ends where the port header ends.
    let header = line("INSTANCE");
    assert!(header.contains("SENT/s") && header.contains("BYTES OUT/s"), "{header}");
    assert!(port_lines.iter().all(|l| l.len() == header.len()), "{stdout}");
    // One line for the group both actors joined, led by unit1's instance.
    let groups: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Balance/g1")).collect();
    assert_eq!(groups.len(), 1, "{stdout}");
    assert_eq!(groups[0].split_whitespace().collect::<Vec<_>>(), ["Balance/g1", "m1", "3", "2", "unit1.unit"]);
    assert!(line("22:13:20").contains("slow handler"), "{stdout}");
}

#[test]
fn an_unreachable_monitor_fails_with_the_url_and_a_hint() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, stdout, stderr) = top(&["--url", &url, "--once", "--json"]);
    assert_eq!(code, Some(1), "stderr:\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&format!("cannot read the app's view at {url}/api/view:")), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(stderr.contains("hint: is the app running with --metrics ADDR?"), "{stderr}");
}

#[test]
fn a_monitor_without_a_view_fails_with_its_answer() {
    let server = serve_source(Arc::new(MetricsOnly));
    let (code, _, stderr) = top(&["--url", &server.addr().to_string(), "--once"]);
    assert_eq!(code, Some(1), "stderr:\n{stderr}");
    assert!(stderr.contains("answered 404 Not Found: not found"), "{stderr}");
    assert!(stderr.contains("discovery daemon"), "{stderr}");
}

#[test]
fn json_needs_once() {
    let (code, _, stderr) = top(&["--json"]);
    assert_eq!(code, Some(2), "stderr:\n{stderr}");
    assert!(stderr.contains("--once"), "{stderr}");
}
