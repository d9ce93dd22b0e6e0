//! The app's `/metrics` text: exact lines of a made-up view, promtool's verdict on it, and the
//! table of docs/operations.md against the metrics it has.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use cohort_model::ast::PortKind;
use cohort_monitor::prometheus::{app_metrics, MetricKind, MetricSet};
use cohort_monitor::{
    encode_app, ActorState, ActorView, AppGraph, AppView, GroupMemberView, GroupReport, GroupTraffic, HandlerReport,
    Histogram, InstanceView, PortCounters, PortRates, PortView, ProcessStats, VoteCounts,
};
use support::{assert_promtool_ok, promtool};

fn port(name: &str, kind: PortKind, counters: PortCounters) -> PortView {
    PortView { name: name.to_owned(), kind, counters, rates: PortRates::default() }
}

fn unit(name: &str, leader: bool, state: ActorState) -> ActorView {
    let report = PortCounters { sent: 42, bytes_sent: 4200, dropped_wrong_type: 2, ..PortCounters::default() };
    let ask = PortCounters {
        sent: 10,
        received: 7,
        bytes_sent: 100,
        bytes_received: 70,
        timed_out: 2,
        provider_gone: 1,
        dropped_stale: 1,
        ..PortCounters::default()
    };
    let mut counts = vec![0; 15];
    counts[0] = 1; // ≤ 10 µs
    counts[5] = 3; // ≤ 1 ms
    counts[14] = 1; // > 5 s
    let tick = HandlerReport {
        port: "tick".to_owned(),
        calls: 5,
        errors: 1,
        panics: 0,
        deadline_misses: 2,
        latency: Histogram { counts, sum_seconds: 6.25 },
    };
    ActorView {
        name: name.to_owned(),
        host: "node-1".to_owned(),
        state,
        pid: Some(4242),
        restarts: 3,
        started_ms: Some(1_700_000_000_500),
        reported_ms: Some(1_700_000_010_000),
        process: Some(ProcessStats { rss_bytes: 8_000_000, cpu_seconds: 1.5, threads: 9, limits: Default::default() }),
        cpu_rate: 0.1,
        instances: vec![InstanceView {
            name: "unit".to_owned(),
            component: "GeneratingUnit".to_owned(),
            ports: vec![port("report", PortKind::Pub, report), port("ask", PortKind::Qry, ask)],
            handlers: vec![tick],
            passive: false,
        }],
        groups: vec![GroupMemberView {
            member: GroupReport {
                instance: "unit".to_owned(),
                group_type: "Feeder".to_owned(),
                group: "feeder1".to_owned(),
                member: format!("{name}-member"),
                leader: Some("Unit1-member".to_owned()),
                is_leader: leader,
                term: 4,
                members: vec!["a".into(), "b".into(), "c".into()],
                elections: 2,
                votes: VoteCounts { passed: 5, failed: 1, timed_out: 0, lost: 1 },
                traffic: GroupTraffic { sent: 30, received: 60, bytes_sent: 3000, bytes_received: 6000 },
                refused: 1,
            },
            rates: PortRates::default(),
        }],
    }
}

fn view() -> AppView {
    let starting = ActorView {
        name: "Unit3".to_owned(),
        host: "node-1".to_owned(),
        state: ActorState::Restarting,
        pid: None,
        restarts: 1,
        started_ms: None,
        reported_ms: None,
        process: None,
        cpu_rate: 0.0,
        instances: Vec::new(),
        groups: Vec::new(),
    };
    AppView {
        app: "Microgrid".to_owned(),
        host: "node-1".to_owned(),
        at_ms: 1_700_000_010_000,
        graph: AppGraph { actors: Vec::new(), flows: Vec::new() },
        hosts: vec!["node-1".to_owned()],
        actors: vec![unit("Unit1", true, ActorState::Running), unit("Unit2", false, ActorState::Running), starting],
        warnings: Vec::new(),
    }
}

fn assert_has_line(text: &str, line: &str) {
    assert!(text.lines().any(|l| l == line), "no line\n{line}\nin\n{text}");
}

#[test]
fn the_app_metrics_have_these_lines() {
    let text = encode_app(&view());
    let unit1 = r#"app="Microgrid",host="node-1",actor="Unit1""#;
    let port = format!(r#"{unit1},instance="unit",port="report",kind="pub""#);
    for line in [
        "# HELP cohort_actor_up Whether the actor's process runs and reports (1) or not (0: starting, restarting, failed or stopped).",
        "# TYPE cohort_actor_up gauge",
        &format!("cohort_actor_up{{{unit1}}} 1"),
        r#"cohort_actor_up{app="Microgrid",host="node-1",actor="Unit3"} 0"#,
        "# TYPE cohort_actor_restarts_total counter",
        &format!("cohort_actor_restarts_total{{{unit1}}} 3"),
        &format!("cohort_actor_start_time_seconds{{{unit1}}} 1700000000.5"),
        &format!("cohort_actor_resident_memory_bytes{{{unit1}}} 8000000"),
        &format!("cohort_actor_cpu_seconds_total{{{unit1}}} 1.5"),
        &format!("cohort_actor_threads{{{unit1}}} 9"),
        "# TYPE cohort_port_messages_total counter",
        &format!(r#"cohort_port_messages_total{{{port},direction="sent"}} 42"#),
        &format!(r#"cohort_port_messages_total{{{port},direction="received"}} 0"#),
        &format!(r#"cohort_port_bytes_total{{{port},direction="sent"}} 4200"#),
        &format!(r#"cohort_port_dropped_total{{{unit1},instance="unit",port="report",reason="wrong_type"}} 2"#),
        &format!(r#"cohort_port_dropped_total{{{unit1},instance="unit",port="ask",reason="stale"}} 1"#),
        &format!(r#"cohort_requests_total{{{unit1},instance="unit",port="ask",kind="qry",outcome="reply"}} 7"#),
        &format!(r#"cohort_requests_total{{{unit1},instance="unit",port="ask",kind="qry",outcome="timed_out"}} 2"#),
        &format!(r#"cohort_requests_total{{{unit1},instance="unit",port="ask",kind="qry",outcome="provider_gone"}} 1"#),
        &format!(r#"cohort_handler_calls_total{{{unit1},instance="unit",port="tick"}} 5"#),
        &format!(r#"cohort_handler_errors_total{{{unit1},instance="unit",port="tick"}} 1"#),
        &format!(r#"cohort_handler_panics_total{{{unit1},instance="unit",port="tick"}} 0"#),
        &format!(r#"cohort_handler_deadline_misses_total{{{unit1},instance="unit",port="tick"}} 2"#),
        "# TYPE cohort_handler_duration_seconds histogram",
        &format!(r#"cohort_handler_duration_seconds_sum{{{unit1},instance="unit",port="tick"}} 6.25"#),
        &format!(r#"cohort_handler_duration_seconds_count{{{unit1},instance="unit",port="tick"}} 5"#),
        &format!(r#"cohort_handler_duration_seconds_bucket{{le="0.00001",{unit1},instance="unit",port="tick"}} 1"#),
        &format!(r#"cohort_handler_duration_seconds_bucket{{le="0.0005",{unit1},instance="unit",port="tick"}} 1"#),
        &format!(r#"cohort_handler_duration_seconds_bucket{{le="0.001",{unit1},instance="unit",port="tick"}} 4"#),
        &format!(r#"cohort_handler_duration_seconds_bucket{{le="5.0",{unit1},instance="unit",port="tick"}} 4"#),
        &format!(r#"cohort_handler_duration_seconds_bucket{{le="+Inf",{unit1},instance="unit",port="tick"}} 5"#),
        &format!(r#"cohort_group_leader{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 1"#),
        r#"cohort_group_leader{app="Microgrid",host="node-1",actor="Unit2",instance="unit",group_type="Feeder",group="feeder1"} 0"#,
        &format!(r#"cohort_group_has_leader{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 1"#),
        &format!(r#"cohort_group_term{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 4"#),
        &format!(r#"cohort_group_members{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 3"#),
        &format!(r#"cohort_group_elections_total{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 2"#),
        &format!(
            r#"cohort_group_votes_total{{{unit1},instance="unit",group_type="Feeder",group="feeder1",outcome="lost"}} 1"#
        ),
        &format!(
            r#"cohort_group_messages_total{{{unit1},instance="unit",group_type="Feeder",group="feeder1",direction="received"}} 60"#
        ),
        &format!(
            r#"cohort_group_bytes_total{{{unit1},instance="unit",group_type="Feeder",group="feeder1",direction="sent"}} 3000"#
        ),
        &format!(r#"cohort_group_refused_total{{{unit1},instance="unit",group_type="Feeder",group="feeder1"}} 1"#),
    ] {
        assert_has_line(&text, line);
    }
    // Only request ports count requests; an actor that has not reported has no process.
    assert!(!text.contains(r#"port="report",kind="pub",outcome"#), "{text}");
    assert!(!text.contains(r#"cohort_actor_threads{app="Microgrid",host="node-1",actor="Unit3"}"#), "{text}");
    // Prometheus text 0.0.4, not OpenMetrics.
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
}

#[test]
fn only_the_actors_of_the_launchers_host_are_encoded() {
    let mut view = view();
    let local = encode_app(&view);
    let mut remote = unit("Unit4", false, ActorState::Running);
    remote.host = "node-2".to_owned();
    view.hosts.push("node-2".to_owned());
    view.actors.push(remote);
    // node-2's launcher serves Unit4's metrics.
    assert_eq!(encode_app(&view), local);
}

#[test]
fn every_family_is_declared_once_with_help_before_its_samples() {
    let text = encode_app(&view());
    let mut declared = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(!declared.contains(&name), "{name} declared twice");
            declared.push(name.clone());
            current = name;
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert_eq!(rest.split(' ').next().unwrap(), current, "TYPE without HELP");
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            assert!(name == current || family == current, "{name} outside its family {current}");
        }
    }
    assert_eq!(declared.len(), 25, "{declared:?}");
}

#[test]
fn label_values_are_escaped() {
    let mut set = MetricSet::new();
    set.gauge("x_value", "A value.", &[("host", "a \"b\" \\ c\nd")], 1u64);
    set.counter("x_seconds_total", "Seconds.", &[], 0.5);
    let text = set.encode();
    assert_eq!(
        text,
        "# HELP x_value A value.\n# TYPE x_value gauge\nx_value{host=\"a \\\"b\\\" \\\\ c\\nd\"} 1\n\
         # HELP x_seconds_total Seconds.\n# TYPE x_seconds_total counter\nx_seconds_total 0.5\n"
    );
}

#[test]
fn promtool_accepts_the_app_metrics() {
    let text = encode_app(&view());
    let Some(output) = promtool("promtool_accepts_the_app_metrics", &["check", "metrics"], &text) else { return };
    assert_promtool_ok(&output, &text);
}

#[test]
fn promtool_accepts_an_app_that_has_not_reported_yet() {
    let mut view = view();
    view.actors.truncate(0);
    let text = encode_app(&view);
    assert_eq!(text, "");
    let Some(output) = promtool("promtool_accepts_an_app_that_has_not_reported_yet", &["check", "metrics"], &text)
    else {
        return;
    };
    assert_promtool_ok(&output, &text);
}

/// The metric table of docs/operations.md: (name, type) of each row whose first cell is a
/// metric name in backquotes.
fn documented_metrics() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md");
    let doc = std::fs::read_to_string(path).unwrap();
    doc.lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `cohort_")?.split('|');
            let name = format!("cohort_{}", cells.next()?.trim().strip_suffix('`')?);
            Some((name, cells.next()?.trim().to_owned()))
        })
        .collect()
}

#[test]
fn docs_operations_lists_every_app_metric_with_its_type() {
    let documented = documented_metrics();
    for (name, kind) in app_metrics(&view()).families() {
        let kind = match kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        };
        assert!(
            documented.iter().any(|(n, k)| *n == name && k == kind),
            "docs/operations.md has no row `{name}` | {kind}; it has {documented:?}"
        );
    }
}
