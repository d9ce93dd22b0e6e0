//! The DistributedEstimator in one process: its two actors, with the arguments the model and
//! deployment give them, find each other through a real discovery daemon, and every handler of
//! every component fires: sensor readings, queries, estimates, aggregates. What happens is read
//! from the components' own log lines. Two more tests replay one component deterministically
//! (`cohort_runtime::replay`): the LocalEstimator with readings and the replies to its queries,
//! and the GlobalEstimator with estimates and ticks of its timer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_discovery::{Daemon, DaemonThread, MemoryBackend, RegistryConfig};
use cohort_model::{compile_app_model, compile_deployment, SourceFile};
use cohort_ports::Interface;
use cohort_runtime::params::Resolver;
use cohort_runtime::{run_actor, ActorError, ActorSettings};

/// One log record: its message and its key-values (the logger's and the record's), as text.
#[derive(Debug, Clone)]
struct Event {
    msg: String,
    kv: BTreeMap<String, String>,
}

impl Event {
    fn get(&self, key: &str) -> Option<&str> {
        self.kv.get(key).map(String::as_str)
    }

    /// The component instance that logged it (`Actor.instance`).
    fn component(&self) -> &str {
        self.get("component").unwrap_or("")
    }
}

/// A slog drain that sends every record to a channel.
struct Capture(Mutex<Sender<Event>>);

struct Collect(BTreeMap<String, String>);

impl slog::Serializer for Collect {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        self.0.insert(key.to_string(), val.to_string());
        Ok(())
    }
}

impl slog::Drain for Capture {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record<'_>, values: &slog::OwnedKVList) -> Result<(), slog::Never> {
        use slog::KV;
        let mut kv = Collect(BTreeMap::new());
        let _ = values.serialize(record, &mut kv);
        let _ = record.kv().serialize(record, &mut kv);
        let event = Event { msg: record.msg().to_string(), kv: kv.0 };
        let _ = self.0.lock().unwrap().send(event);
        Ok(())
    }
}

/// A daemon on its own thread, stopped when dropped.
fn start_daemon() -> DaemonThread {
    let ctx = zmq::Context::new();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let daemon =
        Daemon::bind(&ctx, "tcp://127.0.0.1:*", RegistryConfig::new("h"), Box::new(MemoryBackend), log).unwrap();
    daemon.spawn(ctx).unwrap()
}

/// Waits, up to `deadline`, for an event that `wanted` accepts; panics naming `what` and listing
/// what came instead.
fn wait_for(events: &Receiver<Event>, deadline: Instant, what: &str, wanted: impl Fn(&Event) -> bool) -> Event {
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if wanted(&e) => return e,
            Ok(e) => seen.push(format!("{} {:?}", e.msg, e.kv)),
            Err(_) => panic!("no {what} in time; the log had:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn sensor_readings_estimates_and_aggregates_flow_between_the_two_actors() {
    let (app, model, depl) = estimator_files();
    let deployment = compile_deployment(&depl.text).value.unwrap();
    let resolver = Resolver::new(&app, &model).with_deployment(&deployment, &depl);
    // Both actors are placed `on all`: any host will do.
    let args = |actor: &str| resolver.all_component_args(&resolver.actor_args(actor, "127.0.0.1").unwrap()).unwrap();
    let (estimator_args, aggregator_args) = (args("Estimator"), args("Aggregator"));

    let daemon = start_daemon();
    let settings = ActorSettings {
        daemon: daemon.endpoint().to_owned(),
        interface: Interface::Named("lo".into()),
        ..ActorSettings::default()
    };
    let (tx, events) = channel();
    let log = slog::Logger::root(Capture(Mutex::new(tx)), slog::o!());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let run = |actor: &'static str, args| -> JoinHandle<Result<(), ActorError>> {
        let (app, settings, stop, log) = (app.clone(), settings.clone(), stop.clone(), log.clone());
        std::thread::spawn(move || {
            run_actor(&app, actor, args, &cohort_apps::estimator::components(), &settings, &stop, &log)
        })
    };
    let actors = [run("Aggregator", aggregator_args), run("Estimator", estimator_args)];

    // The first wakeup comes 3 s after the start and should already count estimates; a slow
    // machine gets one more wakeup.
    let deadline = start + Duration::from_secs(10);
    let need = |what: &str, f: &dyn Fn(&Event) -> bool| wait_for(&events, deadline, what, f);

    // Each estimator reports its arguments once, as the model and deployment resolve them. (The
    // channel keeps every event, so the order of these waits need not be the order of the logs.)
    let mut found = BTreeMap::new();
    while found.len() < 2 {
        let e = need("activation of both estimators", &|e| e.msg.ends_with("Estimator active"));
        found.insert(e.component().to_owned(), e);
    }
    let filter = &found["Estimator.filter"];
    assert_eq!(filter.msg, "LocalEstimator active");
    assert_eq!(
        [filter.get("iArg"), filter.get("fArg"), filter.get("sArg"), filter.get("bArg"), filter.get("smoothing")],
        [Some("789"), Some("0.12"), Some("text"), Some("false"), Some("0.12")]
    );
    let aggr = &found["Aggregator.aggr"];
    assert_eq!(aggr.msg, "GlobalEstimator active");
    // `iArg` and `sArg` come from the deployment through the actor's formals, `fArg` is the default.
    assert_eq!(
        [aggr.get("iArg"), aggr.get("fArg"), aggr.get("sArg"), aggr.get("bArg")],
        [Some("12"), Some("4.56"), Some("fromDeployment"), Some("true")]
    );

    // Then the flow, each step of it logged by the handler that does it, in this order.
    let reading = need("sensor reading", &|e| e.msg == "sensor reading" && e.component() == "Estimator.sensor");
    let value: f64 = reading.get("value").unwrap().parse().unwrap();
    assert!((5.0..=35.0).contains(&value), "{value}");
    need("query", &|e| e.msg == "sensor ready; querying it" && e.component() == "Estimator.filter");
    need("answer", &|e| e.msg == "sensor queried" && e.component() == "Estimator.sensor");
    let estimate = need("estimate", &|e| e.msg == "estimate" && e.component() == "Estimator.filter");
    let received = need("received estimate", &|e| e.msg == "estimate received" && e.component() == "Aggregator.aggr");
    assert_eq!(received.get("source").map(|s| s.starts_with("Estimator.filter@")), Some(true));
    assert!(estimate.get("estimate").is_some() && received.get("estimate").is_some());
    let aggregate = need("aggregate with a count", &|e| {
        e.msg == "aggregate" && e.get("count").is_some_and(|c| c.parse::<u64>().unwrap() >= 1)
    });
    assert_eq!(aggregate.get("sources"), Some("1"));
    let [min, mean, max] = ["min", "mean", "max"].map(|k| aggregate.get(k).unwrap().parse::<f64>().unwrap());
    assert!(min <= mean && mean <= max, "{aggregate:?}");
    let took = start.elapsed();

    // Nothing went wrong on the way: no handler failed, no query was lost.
    stop.store(true, Ordering::Relaxed);
    for actor in actors {
        actor.join().unwrap().unwrap();
    }
    drop(log);
    let problems: Vec<Event> = events
        .try_iter()
        .filter(|e| e.msg.contains("failed") || e.msg.contains("panicked") || e.msg.contains("cannot"))
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    eprintln!("the first aggregate with estimates came {took:?} after the start: {aggregate:?}");
}

/// The estimator's model and its deployment, read from `apps/estimator`.
fn estimator_files() -> (cohort_model::ast::App, SourceFile, SourceFile) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("estimator");
    let read = |name: &str| SourceFile::new(name, std::fs::read_to_string(dir.join(name)).unwrap());
    let (model, depl) = (read("estimator.riaps"), read("estimator.depl"));
    let app = compile_app_model(&model.text).value.unwrap().apps.remove(0);
    (app, model, depl)
}

/// The arguments the deployment gives instance `instance` of actor `actor`.
fn instance_args(
    app: &cohort_model::ast::App,
    model: &SourceFile,
    depl: &SourceFile,
    actor: &str,
    instance: &str,
) -> cohort_runtime::ComponentArgs {
    let deployment = compile_deployment(&depl.text).value.unwrap();
    let resolver = Resolver::new(app, model).with_deployment(&deployment, depl);
    resolver.component_args(&resolver.actor_args(actor, "127.0.0.1").unwrap(), instance).unwrap()
}

/// Deterministic replay of one component: the LocalEstimator gets five sensor readings, each a
/// `ready` message and the reply to the query it sends for it, at times on a simulated clock.
/// It sends the same queries and estimates at every run, and the estimates are the moving
/// average of the readings with its `fArg` (0.12).
#[test]
fn a_replayed_local_estimator_sends_the_same_queries_and_estimates_every_time() {
    use cohort_apps::estimator::messages::{Estimate, SensorQuery, SensorReady, SensorValue};
    use cohort_runtime::replay::{ComponentReplay, Input, OutputKind};

    let (app, model, depl) = estimator_files();
    let args = instance_args(&app, &model, &depl, "Estimator", "filter");
    let components = cohort_apps::estimator::components();
    let replay = ComponentReplay::new(&app, "Estimator", "filter", args, &components).unwrap();
    let readings = [1.0, 3.0, 2.0, 5.0, 4.0];
    let mut inputs = Vec::new();
    for (n, value) in (1u64..).zip(readings) {
        let at = Duration::from_secs(n);
        inputs.push(Input::message(at, "ready", &SensorReady { seq: n }).unwrap());
        inputs.push(Input::reply(at + Duration::from_millis(3), "query", &SensorValue { seq: n, value }).unwrap());
    }

    let first = replay.run(&inputs).unwrap();
    for _ in 0..3 {
        assert_eq!(replay.run(&inputs).unwrap(), first, "the same inputs give the same outputs");
    }
    let requests: Vec<_> = first.iter().filter(|o| o.kind == OutputKind::Request).collect();
    let queries: Vec<u64> = requests.iter().map(|o| o.decode::<SensorQuery>().unwrap().seq).collect();
    assert_eq!(queries, [1, 2, 3, 4, 5], "one query per reading");
    let after: Vec<Option<usize>> = requests.iter().map(|o| o.after).collect();
    assert_eq!(after, [Some(0), Some(2), Some(4), Some(6), Some(8)], "each right after its `ready`");
    let estimates: Vec<Estimate> =
        first.iter().filter(|o| o.port == "estimate").map(|o| o.decode::<Estimate>().unwrap()).collect();
    assert_eq!(estimates.len(), readings.len());
    let mut expected = readings[0];
    for (i, (estimate, value)) in estimates.iter().zip(readings).enumerate() {
        if i > 0 {
            expected += 0.12 * (value - expected);
        }
        assert_eq!((estimate.seq, estimate.value), (i as u64 + 1, value));
        assert!((estimate.estimate - expected).abs() < 1e-12, "estimate {i}: {} vs {expected}", estimate.estimate);
    }
}

/// The GlobalEstimator replayed with estimates and ticks of its `wakeup` timer: each tick logs the
/// aggregate of the estimates fed since the last one.
#[test]
fn a_replayed_global_estimator_aggregates_the_estimates_fed_between_its_ticks() {
    use cohort_apps::estimator::messages::Estimate;
    use cohort_runtime::replay::{ComponentReplay, Input};

    let (app, model, depl) = estimator_files();
    let args = instance_args(&app, &model, &depl, "Aggregator", "aggr");
    let (tx, rx) = channel();
    let log = slog::Logger::root(slog::Fuse(Capture(Mutex::new(tx))), slog::o!());
    let components = cohort_apps::estimator::components();
    let replay = ComponentReplay::new(&app, "Aggregator", "aggr", args, &components).unwrap().with_log(log);
    let estimate = |source: &str, seq: u64, value: f64| Estimate { source: source.into(), seq, value, estimate: value };
    let ms = Duration::from_millis;
    let inputs = [
        Input::message(ms(100), "estimate", &estimate("a", 1, 1.0)).unwrap(),
        Input::message(ms(200), "estimate", &estimate("b", 1, 3.0)).unwrap(),
        Input::tick(ms(3000), "wakeup"),
        Input::message(ms(3100), "estimate", &estimate("a", 2, 5.0)).unwrap(),
        Input::tick(ms(6000), "wakeup"),
    ];
    let outputs = replay.run(&inputs).unwrap();
    assert!(outputs.is_empty(), "the GlobalEstimator sends nothing: {outputs:?}");
    let aggregates: Vec<[String; 3]> = rx
        .try_iter()
        .filter(|e| e.msg == "aggregate")
        .map(|e| ["count", "sources", "mean"].map(|k| e.get(k).unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(aggregates, [["2", "2", "2"], ["1", "1", "5"]].map(|a| a.map(str::to_owned)));
}
