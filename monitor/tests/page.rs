//! The live page (`monitor/web/index.html`) in a real browser, on its own: a `MonitorServer`
//! on 127.0.0.1 serves a `Board` fed with hand-made actor reports, and headless Chromium
//! (driven over the DevTools pipe, `support/chromium.rs`) loads the page. The tests read the
//! page's hooks (`support/hooks.rs`) and check what it shows: actors, the group's leader, the
//! rate on each flow (the sender's, or the receiver's when the sender is on another host), the
//! ports and handlers, the warnings, and a restart within 2 s. They save screenshots to
//! `target/test-artifacts/page-*.png`.
//!
//! Without Chromium they print `skipped: chromium not found (apt-get install chromium)` and
//! pass, unless `COHORT_REQUIRE_CHROMIUM=1`. They run one at a time (two cores).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/hooks.rs"]
mod hooks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chromium::Browser;
use cohort_model::ast::PortKind;
use cohort_monitor::{
    unix_ms_now, ActorReport, AppGraph, Board, GroupReport, GroupTraffic, HandlerReport, Histogram, InstanceReport,
    MonitorServer, PortCounters, PortReport, ProcessStats, Source, VoteCounts, Warning, WarningLevel, WarningRing,
};
use serde_json::{json, Value};

/// How long the page may take to load and show its first views.
const LOAD: Duration = Duration::from_secs(15);
/// How soon a change of the board must show (the issue's bound).
const CHANGE: Duration = Duration::from_secs(2);
const WIDTH: u32 = 1440;

/// A sensor and a filter on one actor (the reading internal, the query local), a hub with two
/// sinks of the estimate, and a relay of the estimate on an actor that is not on this board
/// (another host).
const PLANT: &str = r"
app Plant {
    message Reading; message Query; message Answer; message Estimate;
    component Sensor { timer clock 100; pub ready : Reading; rep request : (Query, Answer); }
    component Filter { sub ready : Reading; req query : (Query, Answer); pub estimate : Estimate; }
    component Sink { sub estimate : Estimate; timer wakeup 1000; }
    component Relay { pub estimate : Estimate; }
    actor Field { local Query, Answer; internal Reading; { sensor : Sensor; filter : Filter; } }
    actor Hub { { sink : Sink; audit : Sink; } }
    actor Far { { relay : Relay; } }
}
";
const ESTIMATOR: &str = include_str!("../../apps/estimator/estimator.riaps");
const MICROGRID: &str = include_str!("../../apps/microgrid/microgrid.riaps");

const LEADER: &str = "5f0c6a2e-8d1b-4c55-9a1e-7b2d4e6f8a90";
const FOLLOWER_1: &str = "a3c9e1d7-2b4f-4e6a-8c0d-1f3b5d7e9a2c";
const FOLLOWER_2: &str = "c7e2a4f6-9d1b-43c5-a7e9-2b4d6f8a0c1e";

/// The tests start a browser each; they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A board as the monitor server's source.
struct BoardSource(Arc<Board>);

impl Source for BoardSource {
    fn prometheus(&self) -> String {
        String::new()
    }

    fn view_json(&self) -> Option<String> {
        serde_json::to_string(&self.0.view()).ok()
    }
}

fn graph_of(model: &str) -> AppGraph {
    let compiled = cohort_model::compile_app_model(model);
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    AppGraph::of(&compiled.value.unwrap().apps[0])
}

fn serve(board: &Arc<Board>) -> MonitorServer {
    let log = slog::Logger::root(slog::Discard, slog::o!());
    MonitorServer::start("127.0.0.1:0", Arc::new(BoardSource(Arc::clone(board))), &log).unwrap()
}

fn port(name: &str, kind: PortKind, sent: u64, received: u64) -> PortReport {
    let counters = PortCounters {
        sent,
        received,
        bytes_sent: sent * 48,
        bytes_received: received * 48,
        ..PortCounters::default()
    };
    PortReport { name: name.to_owned(), kind, counters }
}

/// A handler of `calls` calls, most of them in the 100–250 µs bucket.
fn handler(port: &str, calls: u64, deadline_misses: u64) -> HandlerReport {
    let mut counts = vec![0; 15];
    counts[3] = calls - calls / 4;
    counts[4] = calls / 4;
    let latency = Histogram { counts, sum_seconds: calls as f64 * 0.000_2 };
    HandlerReport { port: port.to_owned(), calls, errors: 0, panics: 0, deadline_misses, latency }
}

fn instance(name: &str, component: &str, ports: Vec<PortReport>, handlers: Vec<HandlerReport>) -> InstanceReport {
    InstanceReport { name: name.to_owned(), component: component.to_owned(), ports, handlers }
}

/// A member of group `Feeders.grid` after `s` seconds: the leader sends 20 messages a second,
/// the others 5.
fn member(instance: &str, me: &str, term: u64, s: u64) -> GroupReport {
    let sent = if me == LEADER { 100 + 20 * s } else { 50 + 5 * s };
    GroupReport {
        instance: instance.to_owned(),
        group_type: "Feeders".to_owned(),
        group: "grid".to_owned(),
        member: me.to_owned(),
        leader: Some(LEADER.to_owned()),
        is_leader: me == LEADER,
        term,
        members: vec![LEADER.to_owned(), FOLLOWER_1.to_owned(), FOLLOWER_2.to_owned()],
        elections: 2,
        votes: VoteCounts { passed: 7, failed: 1, timed_out: 0, lost: 0 },
        traffic: GroupTraffic { sent, received: 3 * sent, bytes_sent: 64 * sent, bytes_received: 192 * sent },
        refused: 0,
    }
}

fn report(actor: &str, pid: u32, at_ms: u64, instances: Vec<InstanceReport>, groups: Vec<GroupReport>) -> ActorReport {
    ActorReport {
        actor: actor.to_owned(),
        pid,
        started_ms: at_ms.saturating_sub(60_000),
        at_ms,
        process: ProcessStats {
            rss_bytes: 23 << 20,
            cpu_seconds: at_ms as f64 / 100_000.0,
            threads: 6,
            limits: Default::default(),
        },
        instances,
        groups,
        warnings: Vec::new(),
    }
}

/// Field's report after `s` seconds: 10 readings/s, 5 queries/s, 12.5 estimates/s.
fn field(pid: u32, at_ms: u64, s: u64) -> ActorReport {
    let sensor = instance(
        "sensor",
        "Sensor",
        vec![port("ready", PortKind::Pub, 100 + 10 * s, 0), port("request", PortKind::Rep, 50 + 5 * s, 50 + 5 * s)],
        vec![handler("clock", 100 + 10 * s, 0), handler("request", 50 + 5 * s, 0)],
    );
    let filter = instance(
        "filter",
        "Filter",
        vec![
            port("ready", PortKind::Sub, 0, 100 + 10 * s),
            port("query", PortKind::Req, 50 + 5 * s, 50 + 5 * s),
            port("estimate", PortKind::Pub, 40 + 25 * s / 2, 0),
        ],
        vec![handler("ready", 100 + 10 * s, 2), handler("query", 50 + 5 * s, 0)],
    );
    report("Field", pid, at_ms, vec![sensor, filter], vec![member("filter", LEADER, 3, s)])
}

/// Hub's report after `s` seconds: 15 estimates/s into each sink, a wakeup a second.
fn hub(pid: u32, at_ms: u64, s: u64) -> ActorReport {
    let sink = |name: &str| {
        instance(
            name,
            "Sink",
            vec![port("estimate", PortKind::Sub, 0, 30 + 15 * s)],
            vec![handler("estimate", 30 + 15 * s, 0), handler("wakeup", 3 + s, 0)],
        )
    };
    let groups = vec![member("sink", FOLLOWER_1, 3, s), member("audit", FOLLOWER_2, 3, s)];
    report("Hub", pid, at_ms, vec![sink("sink"), sink("audit")], groups)
}

fn warning(at_ms: u64, level: WarningLevel, source: &str, text: &str) -> Warning {
    Warning { at_ms, level, source: source.to_owned(), text: text.to_owned() }
}

/// Waits until the page shows what `condition` (JavaScript over the snapshot `s`) says.
fn wait(browser: &mut Browser, what: &str, condition: &str, within: Duration) -> Value {
    browser.wait_for(what, &hooks::when(condition), within).unwrap_or_else(|e| panic!("{e}"))
}

fn note(line: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

#[test]
fn the_page_shows_actors_groups_flow_rates_and_a_restart() {
    let _serial = serial();
    let Some(program) = chromium::find_or_skip("the_page_shows_actors_groups_flow_rates_and_a_restart") else {
        return;
    };
    let ring = WarningRing::new();
    let actors = ["Field".to_owned(), "Hub".to_owned()];
    let board = Arc::new(Board::new("Plant", "test-host", graph_of(PLANT), &actors, Arc::clone(&ring)));
    board.started("Field", 4101, false);
    board.started("Hub", 4202, false);
    let now = unix_ms_now();
    for (at, s) in [(now - 2000, 0), (now, 2)] {
        assert!(board.report(field(4101, at, s)));
        let mut hub = hub(4202, at, s);
        hub.warnings.push(warning(now - 500, WarningLevel::Error, "Hub.sink", "newest: a handler failed"));
        assert!(board.report(hub));
    }
    ring.push(warning(now - 1500, WarningLevel::Warning, "launcher", "oldest: actor slow to start"));
    let server = serve(&board);
    let url = format!("http://{}/", server.addr());

    let mut browser = Browser::launch(&program, WIDTH, 900).unwrap();
    let started = Instant::now();
    browser.navigate(&url).unwrap();
    let page = wait(&mut browser, "two views shown, live", "s.updates >= 2 && s.connection === 'live'", LOAD);
    note(&format!("page: loaded and live in {:?}", started.elapsed()));
    assert_eq!(page["problem"], "", "{page:#}");
    assert_eq!((page["app"].as_str(), page["host"].as_str()), (Some("Plant"), Some("test-host")));
    assert_eq!(page["columns"], json!(["Field", "Hub", "Far"]));

    // The actors table.
    assert_eq!(page["actors"]["Field"], json!({ "state": "running", "restarts": 0, "pid": "4101" }));
    assert_eq!(page["actors"]["Hub"], json!({ "state": "running", "restarts": 0, "pid": "4202" }));

    // One group row, merged from three members on two actors; its leader is Field's filter.
    let groups = page["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{groups:#?}");
    assert_eq!(groups[0]["group"], "Feeders.grid");
    assert_eq!(groups[0]["leader"], LEADER);
    assert_eq!(groups[0]["leaderActor"], "Field");
    assert_eq!(groups[0]["term"], "3");
    assert_eq!(groups[0]["leaders"], "1");
    assert_eq!(groups[0]["members"], "3");
    assert_eq!(groups[0]["rate"], "30");
    assert_eq!(page["buses"], json!({ "Feeders.grid": "30" }));

    // Every flow's rate: the sender's (the same on both flows of a publisher with two
    // subscribers); from Far, which is not here, the receiver's; none when neither end reported.
    let flows: BTreeMap<String, String> = serde_json::from_value(page["flows"].clone()).unwrap();
    let expected: BTreeMap<String, String> = [
        ("Field.sensor.ready->Field.filter.ready", "10"),
        ("Field.filter.query->Field.sensor.request", "5"),
        ("Field.filter.estimate->Hub.sink.estimate", "12.5"),
        ("Field.filter.estimate->Hub.audit.estimate", "12.5"),
        ("Far.relay.estimate->Hub.sink.estimate", "15"),
        ("Far.relay.estimate->Hub.audit.estimate", "15"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(flows, expected);

    // Ports and handlers: a row per port and per timer.
    let ports = &page["ports"];
    assert_eq!(ports["Field.filter.ready"], json!({ "kind": "sub", "in": "10", "out": "0", "callsRate": "" }));
    assert_eq!(ports["Field.filter.estimate"]["out"], "12.5");
    assert_eq!(ports["Hub.audit.wakeup"]["kind"], "timer");
    assert_eq!(ports.as_object().unwrap().len(), 10, "{ports:#}");

    // The warnings, newest first: the actor's, then the launcher's.
    assert_eq!(page["warnings"], json!(["newest: a handler failed", "oldest: actor slow to start"]));
    browser.screenshot(&chromium::artifacts_dir().join("page-plant.png"), WIDTH).unwrap();

    // Hub's process dies, and the launcher restarts it: each step shows within 2 s.
    board.exited("Hub");
    let changed = Instant::now();
    wait(&mut browser, "Hub restarting", "s.actors.Hub.state === 'restarting' && s.actors.Hub.pid === ''", CHANGE);
    note(&format!("page: Hub restarting after {:?}", changed.elapsed()));
    board.started("Hub", 4303, true);
    let changed = Instant::now();
    let page = wait(
        &mut browser,
        "Hub restarted",
        "s.actors.Hub.restarts === 1 && s.actors.Hub.state === 'starting' && s.actors.Hub.pid === '4303'",
        CHANGE,
    );
    note(&format!("page: Hub restarted after {:?}", changed.elapsed()));
    // Hub has not reported yet: the relay's flows have no rate; Field's keep the sender's.
    assert_eq!(page["flows"]["Far.relay.estimate->Hub.sink.estimate"], "");
    assert_eq!(page["flows"]["Field.filter.estimate->Hub.sink.estimate"], "12.5");
    assert_eq!(page["groups"][0]["members"], "3");

    // The new process reports twice: running again, and the page works out its handler rates.
    let at = unix_ms_now();
    assert!(board.report(hub(4303, at, 0)));
    let changed = Instant::now();
    wait(&mut browser, "Hub running", "s.actors.Hub.state === 'running' && s.actors.Hub.restarts === 1", CHANGE);
    note(&format!("page: Hub running after {:?}", changed.elapsed()));
    assert!(board.report(hub(4303, at + 1000, 1)));
    let page = wait(
        &mut browser,
        "Hub's handler rates",
        "s.ports['Hub.sink.wakeup'].callsRate === '1' && s.ports['Hub.sink.estimate'].callsRate === '15'",
        CHANGE,
    );
    assert_eq!(page["flows"]["Far.relay.estimate->Hub.sink.estimate"], "15");
    assert_eq!(page["actors"]["Field"]["restarts"], 0);
    browser.screenshot(&chromium::artifacts_dir().join("page-plant-restarted.png"), WIDTH).unwrap();

    // The server goes away and comes back on the same address: the page says so, then
    // reconnects by itself.
    let addr = server.addr().to_string();
    drop(server);
    wait(&mut browser, "reconnecting", "s.connection === 'reconnecting'", LOAD);
    let updates = browser.eval(&format!("{}.updates", hooks::SNAPSHOT)).unwrap().as_u64().unwrap();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let _server = MonitorServer::start(&addr, Arc::new(BoardSource(Arc::clone(&board))), &log).unwrap();
    let back = Instant::now();
    wait(&mut browser, "live again", &format!("s.connection === 'live' && s.updates > {updates}"), LOAD);
    note(&format!("page: live again {:?} after the server came back", back.elapsed()));
}

/// Checks, in the page, that no two actor columns overlap and that every text of a column,
/// and every flow label, lies inside the graph; the value is the list of problems.
const LAYOUT_PROBLEMS: &str = r"(() => {
  const problems = [];
  const svg = document.querySelector('#graph svg');
  const outer = svg.getBoundingClientRect();
  const inside = (r, o) => r.left >= o.left - 0.5 && r.right <= o.right + 0.5 && r.top >= o.top - 0.5 && r.bottom <= o.bottom + 0.5;
  const columns = [...svg.querySelectorAll('g[data-column]')];
  const boxes = columns.map((g) => g.querySelector('rect').getBoundingClientRect());
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, j) => {
    if (a.right > b.left && b.right > a.left) problems.push(`columns ${i} and ${i + j + 1} overlap`);
  }));
  columns.forEach((g, i) => g.querySelectorAll('text').forEach((t) => {
    if (!inside(t.getBoundingClientRect(), boxes[i])) problems.push(`${g.dataset.column}: '${t.textContent}' sticks out`);
  }));
  svg.querySelectorAll('[data-flow]').forEach((l) => {
    if (!inside(l.getBoundingClientRect(), outer)) problems.push(`label of ${l.dataset.flow} outside the graph`);
  });
  return problems;
})()";

/// Feeds `board` a report pair for every actor of `graph`: every port moving, the microgrid's
/// units in one group led by the third.
fn feed_everything(board: &Board, graph: &AppGraph) {
    let now = unix_ms_now();
    for (n, actor) in graph.actors.iter().enumerate() {
        let pid = 5000 + u32::try_from(n).unwrap();
        board.started(&actor.name, pid, false);
        for (at, s) in [(now - 1000, 0), (now, 1)] {
            let instances = actor
                .instances
                .iter()
                .map(|i| {
                    let ports = i
                        .ports
                        .iter()
                        .filter(|p| !matches!(p.kind, PortKind::Timer | PortKind::Inside))
                        .map(|p| port(&p.name, p.kind, 10 + 4 * s, 10 + 4 * s))
                        .collect();
                    let handlers = i
                        .ports
                        .iter()
                        .filter(|p| !matches!(p.kind, PortKind::Pub | PortKind::Clt))
                        .map(|p| handler(&p.name, 10 + 2 * s, 0))
                        .collect();
                    instance(&i.name, &i.component, ports, handlers)
                })
                .collect();
            let groups = if graph.actors.len() == 5 {
                let me = format!("{n:08x}-0000-4000-8000-000000000000");
                let leader = "00000002-0000-4000-8000-000000000000";
                let all = (0..5).map(|k| format!("{k:08x}-0000-4000-8000-000000000000")).collect();
                vec![GroupReport {
                    instance: actor.instances[0].name.clone(),
                    group_type: "Feeders".to_owned(),
                    group: "feeder".to_owned(),
                    is_leader: me == leader,
                    member: me,
                    leader: Some(leader.to_owned()),
                    term: 4,
                    members: all,
                    elections: 1,
                    votes: VoteCounts { passed: 12, failed: 3, timed_out: 0, lost: 0 },
                    traffic: GroupTraffic {
                        sent: 40 + 12 * s,
                        received: 160 + 48 * s,
                        bytes_sent: 0,
                        bytes_received: 0,
                    },
                    refused: 0,
                }]
            } else {
                Vec::new()
            };
            assert!(board.report(report(&actor.name, pid, at, instances, groups)));
        }
    }
}

#[test]
fn the_example_apps_are_drawn_without_overlaps() {
    let _serial = serial();
    let Some(program) = chromium::find_or_skip("the_example_apps_are_drawn_without_overlaps") else {
        return;
    };
    let mut browser = Browser::launch(&program, WIDTH, 900).unwrap();
    let examples = [
        ("estimator", "DistributedEstimator", ESTIMATOR, "field-1"),
        ("microgrid", "Microgrid", MICROGRID, "feeder-7"),
    ];
    for (name, app, model, host) in examples {
        let graph = graph_of(model);
        let actors: Vec<String> = graph.actors.iter().map(|a| a.name.clone()).collect();
        let board = Arc::new(Board::new(app, host, graph.clone(), &actors, WarningRing::new()));
        feed_everything(&board, &graph);
        let server = serve(&board);
        browser.navigate(&format!("http://{}/", server.addr())).unwrap();
        let columns = json!(actors).to_string();
        let page = wait(
            &mut browser,
            &format!("the {name} drawn"),
            &format!("s.app === '{app}' && s.updates >= 1 && JSON.stringify(s.columns) === '{columns}'"),
            LOAD,
        );
        assert_eq!(page["problem"], "", "{page:#}");
        assert_eq!(page["flows"].as_object().unwrap().len(), graph.flows.len());
        assert!(page["flows"].as_object().unwrap().values().all(|r| r.as_str().unwrap().parse::<f64>().unwrap() > 0.0));
        let problems = browser.eval(LAYOUT_PROBLEMS).unwrap();
        assert_eq!(problems, json!([]), "{name}");
        browser.screenshot(&chromium::artifacts_dir().join(format!("page-{name}.png")), WIDTH).unwrap();
    }
}
