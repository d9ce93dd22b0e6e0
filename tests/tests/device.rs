//! Device components (real processes): the launcher runs the device instance of an actor in a
//! process of its own, its readings reach the actor's component over the port the model makes
//! internal (local between the two processes), the device gets its deployment argument, a
//! `kill -9` of the device's process restarts it under supervision while the actor's process
//! keeps running, and the readings resume from the new process; the app then stops cleanly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use cohort_tests::http::wait_for_view;
use cohort_tests::{free_port, signal, AppRun, Record, TempDir};
use serde_json::Value;

const DEVICES: &str = env!("CARGO_BIN_EXE_cohort-device");

/// How long the app may take to start and show a reading.
const START: Duration = Duration::from_secs(15);
/// How long a restarted device may take to be back (its backoff, then its start).
const BACK: Duration = Duration::from_secs(10);

/// The deployment: the actor's argument, which the device's formal takes.
const DEPLOYMENT: &str = "app Devices {\n\ton all Station(unit = \"watt\");\n}\n";

/// A reading logged by the component, as (meter's pid, logger's pid, unit).
fn reading(r: &Record) -> Option<(i64, i64, String)> {
    if r.msg() != "reading" {
        return None;
    }
    Some((r.value["meter_pid"].as_i64()?, r.value["logger_pid"].as_i64()?, r.text("unit").to_owned()))
}

/// The process of `name` (an actor, or `ACTOR.INSTANCE` for a device) as the launcher last
/// logged it, once known.
fn pid_of(app: &mut AppRun, name: &str, within: Duration) -> i32 {
    let give_up = Instant::now() + within;
    while Instant::now() < give_up {
        if let Some(pid) = app.actor_pids().get(name) {
            return *pid;
        }
        app.next(give_up);
    }
    panic!("{name} was not started within {within:?}");
}

/// The monitor view's entry `name` (null when missing).
fn entry(view: &Value, name: &str) -> Value {
    let actors = view["actors"].as_array().into_iter().flatten();
    actors.into_iter().find(|a| a["name"] == name).cloned().unwrap_or(Value::Null)
}

/// The names of an entry's instances.
fn instances(entry: &Value) -> Vec<String> {
    let all = entry["instances"].as_array().into_iter().flatten();
    all.filter_map(|i| i["name"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_device_runs_in_its_own_process_and_is_restarted_after_kill_9() {
    let test_start = Instant::now();
    let dir = TempDir::new("device").unwrap();
    let depl = dir.path().join("devices.depl");
    std::fs::write(&depl, DEPLOYMENT).unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let depl = depl.display().to_string();
    let metrics = format!("127.0.0.1:{}", free_port().unwrap());
    let mut args = cohort_tests::local_run_args(&depl, &daemon);
    args.extend(["--metrics", &metrics]);
    let mut app = AppRun::start("devices", DEVICES, &args, &[("XDG_RUNTIME_DIR", run.to_str().unwrap())]).unwrap();

    // Two processes: the actor's and its device's.
    let actor = pid_of(&mut app, "Station", START);
    let device = pid_of(&mut app, "Station.meter", START);
    assert_ne!(actor, device, "the device must run in a process of its own");

    // The device's readings reach the component in the actor's process, with the deployment's unit.
    let (at, (meter, logger, unit)) = app.wait("a reading", START, reading).unwrap();
    eprintln!("first reading {:?} after the start", at.duration_since(test_start));
    assert_eq!((meter, logger), (i64::from(device), i64::from(actor)));
    assert_eq!(unit, "watt", "the device's formal takes the deployment's argument");

    // kill -9 the device: the supervisor restarts it, and the readings resume from the new process.
    let killed = Instant::now();
    signal(device, libc::SIGKILL).unwrap();
    let (_, restarted) = app
        .wait("the device restarted", BACK, |r| {
            (r.msg() == "actor restarted" && r.actor() == "Station.meter").then(|| r.value["pid"].as_i64())
        })
        .unwrap();
    let restarted = restarted.unwrap();
    assert_ne!(restarted, i64::from(device));
    let (at, (meter, logger, _)) = app
        .wait("a reading from the restarted device", BACK, |r| reading(r).filter(|(m, _, _)| *m == restarted))
        .unwrap();
    eprintln!("readings resumed {:?} after the kill", at.duration_since(killed));
    assert_eq!(logger, i64::from(actor), "the actor's process keeps running");
    assert_eq!(meter, restarted);
    assert_eq!(app.actor_pids().get("Station"), Some(&actor));

    // The monitor shows the device as an entry of its own, with its new process and one restart;
    // the actor's entry has its other instance only.
    wait_for_view(&metrics, BACK, "the device's entry", |v| {
        let (meter, station) = (entry(v, "Station.meter"), entry(v, "Station"));
        meter["state"] == "running"
            && meter["pid"].as_i64() == Some(restarted)
            && meter["restarts"] == 1
            && instances(&meter) == ["meter"]
            && station["pid"].as_i64() == Some(i64::from(actor))
            && instances(&station) == ["logger"]
    })
    .unwrap();

    assert!(app.terminate().is_some_and(|s| s.success()), "the app stops cleanly");
    eprintln!("test took {:?}", test_start.elapsed());
}
