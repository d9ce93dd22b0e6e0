//! Recording and replay with real processes: `cohort record` records the estimator for 5 s; what
//! it wrote agrees with what the GlobalEstimator logged; `cohort replay` publishes the recording
//! into a run of the Aggregator actor alone (a deployment without the Estimator), whose
//! GlobalEstimator then logs the same estimates; and a reader nobody here wrote, the Python `mcap`
//! package (with `cbor2`, installed into a virtual environment of the test's own), reads the
//! same channels, counts and payloads. The microgrid's group is recorded with `--groups`. A ring (`--ring 2`) writes only the last 2 s on SIGUSR1,
//! and again when it stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use cohort_tests::{free_port, local_run_args, skip, AppRun, Record, TempDir};
use serde_json::Value;

const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const COHORT: &str = env!("CARGO_BIN_EXE_cohort-cli");
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.riaps");
const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.depl");

/// The Aggregator alone, with the arguments the example's deployment gives it.
const AGGREGATOR_ONLY: &str =
    "app DistributedEstimator {\n\ton all Aggregator(posArg=12,optArg=\"fromDeployment\");\n}\n";

/// How long the app may take to start.
const START: Duration = Duration::from_secs(15);

/// An estimate the GlobalEstimator logged, as (source, seq, value).
fn estimate(r: &Record) -> Option<(String, u64, String)> {
    (r.msg() == "estimate received")
        .then(|| Some((r.text("source").to_owned(), r.value["seq"].as_u64()?, r.value["value"].to_string())))
        .flatten()
}

/// Runs `cohort` with `args`, its runtime directory `run`; its standard output, after checking
/// that it succeeded.
fn cohort(run: &Path, args: &[&str]) -> String {
    let out = Command::new(COHORT).args(args).env("XDG_RUNTIME_DIR", run).output().unwrap();
    assert!(out.status.success(), "cohort {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts the estimator app with `deployment`.
fn estimator(name: &str, deployment: &str, daemon: &str, run: &Path) -> AppRun {
    let args = local_run_args(deployment, daemon);
    AppRun::start(name, ESTIMATOR, &args, &[("XDG_RUNTIME_DIR", run.to_str().unwrap())]).unwrap()
}

#[test]
fn a_recording_replays_into_the_aggregator_alone_and_python_reads_it() {
    let dir = TempDir::new("recording").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let file = dir.path().join("estimator.mcap");
    let file = file.to_str().unwrap();

    // 1. The whole app runs; 5 s of it are recorded.
    let mut app = estimator("estimator", DEPLOYMENT, &daemon, &run);
    app.wait("a first estimate", START, estimate).unwrap();
    cohort(&run, &["record", MODEL, "--daemon", &daemon, "--insecure", "-o", file, "--duration", "5"]);
    app.terminate();
    let logged: BTreeSet<(String, u64, String)> = app.records().iter().filter_map(estimate).collect();

    // What the file holds: the Estimate and SensorReady providers, with what the app logged.
    let info = cohort(&run, &["bag", "info", file]);
    eprintln!("{info}");
    assert!(info.contains("app:      DistributedEstimator"), "{info}");
    assert!(info.contains("model:    attached"), "{info}");
    let lines = cohort(&run, &["bag", "cat", file, "--messages", "Estimate"]);
    let recorded: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(recorded.len() >= 3, "about one estimate a second: {}", recorded.len());
    let recorded: BTreeSet<(String, u64, String)> = recorded
        .iter()
        .map(|m| {
            let p = &m["payload"];
            (p["source"].as_str().unwrap().to_owned(), p["seq"].as_u64().unwrap(), p["value"].to_string())
        })
        .collect();
    assert!(recorded.is_subset(&logged), "every recorded estimate was logged by the app: {recorded:?}");
    let readies = cohort(&run, &["bag", "cat", file, "--messages", "SensorReady"]).lines().count();
    assert!(readies >= 3, "the local SensorReady is recorded too: {readies}");

    // 2. The Aggregator alone gets the recording, and logs the same estimates.
    let depl = dir.path().join("aggregator.depl");
    std::fs::write(&depl, AGGREGATOR_ONLY).unwrap();
    let mut aggregator = estimator("aggregator", depl.to_str().unwrap(), &daemon, &run);
    aggregator
        .wait("the aggregator running", START, |r| {
            (r.msg() == "actor running" && r.actor() == "Aggregator").then_some(())
        })
        .unwrap();
    cohort(&run, &["replay", file, "--daemon", &daemon, "--insecure", "--interface", "lo"]);
    aggregator.terminate();
    let replayed: BTreeSet<(String, u64, String)> = aggregator.records().iter().filter_map(estimate).collect();
    assert_eq!(replayed, recorded, "the replayed run logs the recorded estimates");

    // 3. The recording as a regression test of one component: its SensorReady messages replayed
    // into the LocalEstimator alone make it query the sensor for the same readings, every time.
    replays_into_the_local_estimator(Path::new(file), readies);

    // 4. Python's mcap package reads the same channels, counts and payloads.
    python_reads(dir.path(), file, &recorded, readies);
}

/// The recorded `ready` messages fed to the LocalEstimator (`cohort_runtime::replay`): one query
/// per reading, with its number, the same at every run.
fn replays_into_the_local_estimator(file: &Path, readies: usize) {
    use cohort_apps::estimator::messages::{SensorQuery, SensorReady};
    use cohort_runtime::params::Resolver;
    use cohort_runtime::replay::{ComponentReplay, InputEvent};

    let source = cohort_model::SourceFile::new("estimator.riaps", std::fs::read_to_string(MODEL).unwrap());
    let app = cohort_model::compile_app_model(&source.text).value.unwrap().apps.remove(0);
    let bag = cohort_recorder::Bag::open(file).unwrap();
    let inputs = cohort_recorder::component_inputs(&bag, &app, "Estimator", "filter", true).unwrap();
    let readings: Vec<u64> = inputs
        .iter()
        .map(|i| match &i.event {
            InputEvent::Message { payload, .. } => minicbor_serde::from_slice::<SensorReady>(payload).unwrap().seq,
            other => panic!("the LocalEstimator has no timer and gets no reply from a recording: {other:?}"),
        })
        .collect();
    assert_eq!(readings.len(), readies);
    let resolver = Resolver::new(&app, &source);
    let args = resolver.component_args(&resolver.actor_defaults("Estimator").unwrap(), "filter").unwrap();
    let components = cohort_apps::estimator::components();
    let replay = ComponentReplay::new(&app, "Estimator", "filter", args, &components).unwrap();
    let outputs = replay.run(&inputs).unwrap();
    assert_eq!(replay.run(&inputs).unwrap(), outputs, "the same recording, the same outputs");
    let queries: Vec<u64> = outputs.iter().map(|o| o.decode::<SensorQuery>().unwrap().seq).collect();
    assert_eq!(queries, readings, "one query per recorded reading");
}

/// The Python reader: a virtual environment with `mcap` and `cbor2`, and a script that prints
/// each message's topic, scope and decoded payload.
fn python_reads(dir: &Path, file: &str, estimates: &BTreeSet<(String, u64, String)>, readies: usize) {
    let test = "a_recording_replays_into_the_aggregator_alone_and_python_reads_it (Python reader)";
    let venv = dir.join("venv");
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).output();
    if !made.is_ok_and(|o| o.status.success()) {
        return skip(test, "python3 -m venv failed (apt-get install -y python3-venv)", "COHORT_REQUIRE_PYTHON_MCAP");
    }
    let pip = Command::new(venv.join("bin/pip")).args(["install", "--quiet", "mcap", "cbor2"]).output().unwrap();
    if !pip.status.success() {
        let why = format!("pip install mcap cbor2 failed: {}", String::from_utf8_lossy(&pip.stderr).trim());
        return skip(test, &why, "COHORT_REQUIRE_PYTHON_MCAP");
    }
    let script = r#"
import json, sys, cbor2
from mcap.reader import make_reader
with open(sys.argv[1], "rb") as f:
    reader = make_reader(f)
    for schema, channel, message in reader.iter_messages():
        print(json.dumps({"topic": channel.topic, "schema": schema.name if schema else None,
                          "encoding": channel.message_encoding, "scope": channel.metadata.get("scope"),
                          "seq": message.sequence, "payload": cbor2.loads(message.data)}))
"#;
    let out = Command::new(venv.join("bin/python")).arg("-c").arg(script).arg(file).output().unwrap();
    assert!(out.status.success(), "the Python reader: {}", String::from_utf8_lossy(&out.stderr));
    let read: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let of = |topic: &'static str| read.iter().filter(move |m| m["topic"] == topic);
    for m in &read {
        assert_eq!(m["encoding"], "cbor");
        assert_eq!(m["schema"], m["topic"], "the schema is named as the model's message");
    }
    assert!(of("Estimate").all(|m| m["scope"] == "global"));
    assert!(of("SensorReady").all(|m| m["scope"] == "local"));
    let python: BTreeSet<(String, u64, String)> = of("Estimate")
        .map(|m| {
            let p = &m["payload"];
            (p["source"].as_str().unwrap().to_owned(), p["seq"].as_u64().unwrap(), p["value"].to_string())
        })
        .collect();
    assert_eq!(&python, estimates, "Python decodes the estimates the app logged");
    assert_eq!(of("SensorReady").count(), readies);
}

#[test]
fn a_ring_keeps_the_last_seconds_and_writes_them_on_sigusr1_and_at_the_end() {
    let dir = TempDir::new("recording-ring").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let file = dir.path().join("box.mcap");
    let mut app = estimator("estimator", DEPLOYMENT, &daemon, &run);
    app.wait("a first estimate", START, estimate).unwrap();
    let args = ["record", MODEL, "--daemon", &daemon, "--insecure", "--ring", "2", "-o", file.to_str().unwrap()];
    let mut recorder = Command::new(COHORT).args(args).env("XDG_RUNTIME_DIR", &run).spawn().unwrap();
    // Four more estimates (one a second) pass the recorder: more than the ring keeps.
    for n in 0..4 {
        app.wait(&format!("estimate {n}"), START, estimate).unwrap();
    }
    cohort_tests::signal(i32::try_from(recorder.id()).unwrap(), libc::SIGUSR1).unwrap();
    let written = std::time::Instant::now() + START;
    let info = loop {
        // The file is complete once its summary reads.
        if let Ok(out) = Command::new(COHORT).args(["bag", "info", file.to_str().unwrap()]).output() {
            if out.status.success() {
                break String::from_utf8(out.stdout).unwrap();
            }
        }
        assert!(std::time::Instant::now() < written, "the ring was not written on SIGUSR1");
        app.watch(std::time::Instant::now() + Duration::from_millis(50), |_| {});
    };
    let span: f64 =
        info.lines().find_map(|l| l.strip_prefix("span:")).unwrap().trim().trim_end_matches(" s").parse().unwrap();
    assert!(span <= 2.0, "the ring keeps 2 s: {info}");
    let estimates = info.lines().find(|l| l.trim_start().starts_with("Estimate")).unwrap();
    let count: u64 = estimates.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((1..=3).contains(&count), "the estimates of the last 2 s, of the 4 or more sent: {info}");
    cohort_tests::signal(i32::try_from(recorder.id()).unwrap(), libc::SIGTERM).unwrap();
    assert!(recorder.wait().unwrap().success());
    let last = dir.path().join("box-2.mcap");
    cohort(&run, &["bag", "info", last.to_str().unwrap()]);
    app.terminate();
}

#[test]
fn groups_are_recorded_member_by_member() {
    const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
    const GRID_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.riaps");
    const GRID_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.depl");
    let dir = TempDir::new("recording-groups").unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let file = dir.path().join("grid.mcap");
    let file = file.to_str().unwrap();
    let args = local_run_args(GRID_DEPLOYMENT, &daemon);
    let mut app = AppRun::start("microgrid", MICROGRID, &args, &[("XDG_RUNTIME_DIR", run.to_str().unwrap())]).unwrap();
    app.wait("a leader", START, |r| (r.msg() == "group view" && r.text("leader") != "none").then_some(())).unwrap();
    cohort(&run, &["record", GRID_MODEL, "--groups", "--daemon", &daemon, "--insecure", "-o", file, "--duration", "3"]);
    app.terminate();

    // A channel per member of Feeders.feeder that sent on the group's mesh: in a settled group,
    // the leader alone (its heartbeats and votes; the others talk to the leader only).
    let info = cohort(&run, &["bag", "info", file]);
    eprintln!("{info}");
    let members: Vec<&str> = info.lines().filter(|l| l.trim_start().starts_with("Feeders.feeder")).collect();
    assert!(!members.is_empty(), "{info}");
    assert!(members.iter().all(|l| l.contains("(cohort-group)")), "{info}");
    let frames: Vec<Value> =
        cohort(&run, &["bag", "cat", file]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!frames.is_empty());
    assert!(frames.iter().all(|f| f["message"] == "Feeders.feeder"));
    // Control frames decode as the group's envelope: who sent it and what.
    assert!(frames.iter().all(|f| f["payload"]["from"].as_str().is_some_and(|from| from.len() == 32)), "{frames:?}");
    assert!(frames.iter().any(|f| f["payload"]["body"]["Control"]["Leader"].is_object()), "the leader's heartbeats");
}
