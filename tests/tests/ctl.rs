//! `cohort ctl` against a running estimator (real processes): passivating the Sensor instance
//! runs its `on_passivate` and stops its readings, so the aggregates empty, and the monitor's
//! view and `status` mark it passive; activating it brings them back; restarting the Estimator
//! actor gives it a new process, counted as no crash, and the flow resumes; unknown actors and
//! instances are refused with exit status 1; a request of another protocol version gets the
//! launcher's version; `stop` ends the launcher with exit status 0. A launcher refuses a runtime
//! directory open to others. And, without an app: several launchers of one app need
//! `--launcher`, dead ones are ignored, and a launcher that does not answer is reported as such.
//!
//! Access by another user is refused by the runtime directory's mode (0700), which a test run
//! as root cannot show; docs/runtime.md says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cohort_runtime::ctl;
use cohort_tests::http::wait_for_view;
use cohort_tests::{free_port, AppRun, Record, TempDir};

const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const COHORT: &str = env!("CARGO_BIN_EXE_cohort-cli");
const ESTIMATOR_MODEL: &str = include_str!("../../apps/estimator/estimator.riaps");
const ESTIMATOR_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.depl");
const APP: &str = "DistributedEstimator";

/// How long the app may take to start and show an aggregate.
const START: Duration = Duration::from_secs(15);
/// How long a change asked for may take to show in the log (a few 250 ms wakeups).
const SHOWS: Duration = Duration::from_secs(3);

/// The tests that run processes run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The estimator with fast clocks (a reading every 50 ms, an aggregate every 250 ms), its
/// runtime files under `dir`, its monitor at `metrics` if given.
fn estimator(dir: &TempDir, metrics: Option<&str>) -> AppRun {
    let model = dir.path().join("estimator.riaps");
    let fast = ESTIMATOR_MODEL
        .replace("timer clock 1000;", "timer clock 50;")
        .replace("timer wakeup 3000;", "timer wakeup 250;");
    assert_ne!(fast, ESTIMATOR_MODEL, "the estimator model's timers changed; update the ctl tests");
    std::fs::write(&model, fast).unwrap();
    let daemon = format!("tcp://127.0.0.1:{}", free_port().unwrap());
    let model = model.display().to_string();
    let mut args = cohort_tests::local_run_args(ESTIMATOR_DEPLOYMENT, &daemon);
    args.extend(["--model", &model]);
    if let Some(addr) = metrics {
        args.extend(["--metrics", addr]);
    }
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    AppRun::start("estimator", ESTIMATOR, &args, &[("XDG_RUNTIME_DIR", run.to_str().unwrap())]).unwrap()
}

/// `cohort ctl APP ARGS...` with the app's runtime directory under `dir`.
fn ctl(dir: &TempDir, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = Command::new(COHORT)
        .arg("ctl")
        .arg(APP)
        .args(args)
        .env("XDG_RUNTIME_DIR", dir.path().join("run"))
        .output()
        .unwrap();
    eprintln!("cohort ctl {APP} {}: {:?} in {:?}", args.join(" "), out.status.code(), started.elapsed());
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `out` succeeded; its standard output.
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "cohort ctl failed: {}{}", stdout(out), stderr(out));
    stdout(out)
}

fn is_aggregate(r: &Record, nonempty: bool) -> bool {
    r.msg() == "aggregate" && (r.value["count"].as_u64().unwrap_or(0) > 0) == nonempty
}

fn from_sensor(r: &Record, msg: &str) -> bool {
    r.msg() == msg && r.text("component") == "Estimator.sensor"
}

#[test]
fn ctl_passivates_activates_restarts_and_stops_the_estimator() {
    let _serial = serial();
    let test_start = Instant::now();
    let dir = TempDir::new("ctl").unwrap();
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut app = estimator(&dir, Some(&addr));
    app.wait("an aggregate", START, |r| is_aggregate(r, true).then_some(())).unwrap();

    // Passivate the sensor: its on_passivate runs, its readings stop, the aggregates empty.
    let asked = Instant::now();
    let out = ok(&ctl(&dir, &["passivate", "Estimator.sensor"]));
    assert_eq!(out.trim(), "passivated Estimator.sensor");
    let (_, passive_at) = app
        .wait("Sensor passive", SHOWS, |r| from_sensor(r, "Sensor passive").then_some(()))
        .map(|(at, ())| (at, app.records().len() - 1))
        .unwrap();
    // Two empty aggregates in a row: the estimates in flight are through.
    for _ in 0..2 {
        app.wait("an empty aggregate", SHOWS, |r| is_aggregate(r, false).then_some(())).unwrap();
    }
    eprintln!("passivated: aggregates empty {:?} after asking", asked.elapsed());
    let status = ok(&ctl(&dir, &["status"]));
    let estimator_line = status.lines().find(|l| l.starts_with("Estimator ")).unwrap();
    assert!(estimator_line.ends_with("sensor"), "{status}");
    // The monitor's view marks the instance.
    wait_for_view(&addr, SHOWS, "the sensor marked passive", |v| {
        let instances =
            v["actors"].as_array().into_iter().flatten().flat_map(|a| a["instances"].as_array().into_iter().flatten());
        instances.filter(|i| i["passive"] == true).map(|i| i["name"].as_str()).collect::<Vec<_>>() == [Some("sensor")]
    })
    .unwrap();
    // Passivating again does not call on_passivate again.
    ok(&ctl(&dir, &["passivate", "Estimator.sensor"]));

    // Activate it: on_activate runs, readings and aggregates come back.
    let asked = Instant::now();
    assert_eq!(ok(&ctl(&dir, &["activate", "Estimator.sensor"])).trim(), "activated Estimator.sensor");
    let resumed_from = app.records().len();
    app.wait("Sensor active", SHOWS, |r| from_sensor(r, "Sensor active").then_some(())).unwrap();
    app.wait("an aggregate again", SHOWS, |r| is_aggregate(r, true).then_some(())).unwrap();
    eprintln!("activated: aggregates again {:?} after asking", asked.elapsed());
    let between = &app.records()[passive_at + 1..resumed_from];
    assert!(!between.iter().any(|r| from_sensor(r, "sensor reading")), "a reading while passive");
    assert_eq!(between.iter().filter(|r| from_sensor(r, "Sensor passive")).count(), 0, "on_passivate ran twice");

    // Restart the Estimator actor: a new process, no crash counted, the flow resumes.
    let old_pid = app.actor_pids()["Estimator"];
    let asked = Instant::now();
    let out = ok(&ctl(&dir, &["restart", "Estimator"]));
    assert!(out.starts_with(&format!("restarted Estimator: pid {old_pid} -> ")), "{out}");
    let (_, new_pid) = app
        .wait("actor restarted on request", SHOWS, |r| {
            (r.msg() == "actor restarted on request").then(|| r.value["pid"].as_i64().unwrap())
        })
        .unwrap();
    assert_ne!(new_pid, i64::from(old_pid));
    assert!(out.trim().ends_with(&new_pid.to_string()), "{out}");
    // The new process's estimates reach the aggregator (an estimate names its process).
    let source = format!(":{new_pid}");
    app.wait("an estimate of the new process", START, |r| {
        (r.msg() == "estimate received" && r.text("source").ends_with(&source)).then_some(())
    })
    .unwrap();
    app.wait("an aggregate after the restart", SHOWS, |r| is_aggregate(r, true).then_some(())).unwrap();
    eprintln!("restarted: aggregates again {:?} after asking", asked.elapsed());
    assert!(!app.records().iter().any(|r| r.msg() == "actor exited; restarting it"), "the restart counted as a crash");
    let status = ok(&ctl(&dir, &["status"]));
    let line: Vec<&str> = status.lines().find(|l| l.starts_with("Estimator ")).unwrap().split_whitespace().collect();
    assert_eq!(line[1..], ["running", &new_pid.to_string(), "0", "1", "-"], "{status}");

    // Unknown actors and instances: a clear error, exit status 1.
    let out = ctl(&dir, &["passivate", "Nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown actor \"Nobody\" (this launcher runs: Estimator, Aggregator)"),
        "{}",
        stderr(&out)
    );
    let out = ctl(&dir, &["activate", "Estimator.nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("actor Estimator has no instance \"nobody\" (its instances: sensor, filter)"),
        "{}",
        stderr(&out)
    );
    let out = ctl(&dir, &["restart", "Nobody"]);
    assert_eq!(out.status.code(), Some(1));

    // A request of another protocol version gets the launcher's version back.
    let app_dir = dir.path().join("run").join("cohort").join(APP);
    let launcher = ctl::find_launchers(&app_dir).unwrap().pop().unwrap();
    assert_eq!(launcher.pid, u32::try_from(app.pid()).unwrap());
    let reply = raw_request(&launcher.endpoint, &ctl::Request { version: 99, command: ctl::Command::Status });
    assert_eq!(reply, ctl::Reply::Err(ctl::CtlError::Version { ours: ctl::PROTOCOL_VERSION, theirs: 99 }));

    // Stop: the launcher exits 0, and leaves no control socket behind.
    assert_eq!(ok(&ctl(&dir, &["stop"])).trim(), "stopping");
    let status = app.wait_exit(Duration::from_secs(8)).expect("the launcher did not exit");
    assert_eq!(status.code(), Some(0));
    let out = ctl(&dir, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no launcher of DistributedEstimator runs here"), "{}", stderr(&out));
    eprintln!("whole test: {:?}", test_start.elapsed());
}

/// Sends `request` to the control socket at `endpoint` as `cohort ctl` does; the reply.
fn raw_request(endpoint: &str, request: &ctl::Request) -> ctl::Reply {
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::DEALER).unwrap();
    socket.set_linger(0).unwrap();
    socket.set_rcvtimeo(5000).unwrap();
    socket.connect(endpoint).unwrap();
    socket.send_multipart([&b""[..], &minicbor_serde::to_vec(request).unwrap()], 0).unwrap();
    let frames = socket.recv_multipart(0).unwrap();
    minicbor_serde::from_slice(frames.last().unwrap()).unwrap()
}

#[test]
fn a_launcher_refuses_a_runtime_directory_open_to_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let _serial = serial();
    let dir = TempDir::new("ctl-open").unwrap();
    let app_dir = dir.path().join("run").join("cohort").join(APP);
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::set_permissions(&app_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut app = estimator(&dir, None);
    let status = app.wait_exit(START).expect("the launcher did not exit");
    assert_eq!(status.code(), Some(1));
    assert!(ctl::find_launchers(&app_dir).unwrap().is_empty());
}

#[test]
fn ctl_chooses_among_launchers_and_says_when_one_does_not_answer() {
    let dir = TempDir::new("ctl-choose").unwrap();
    let app_dir = dir.path().join("app");
    std::fs::create_dir_all(&app_dir).unwrap();
    // Two live pids (this test and init), one dead: files, not sockets, so nobody answers.
    let me = std::process::id();
    for pid in [me, 1, 999_999_999] {
        std::fs::write(app_dir.join(format!("{pid}-control.sock")), b"").unwrap();
    }
    let run = |args: &[&str]| {
        let mut all = vec!["ctl", APP, "status", "--runtime-dir", app_dir.to_str().unwrap()];
        all.extend_from_slice(args);
        Command::new(COHORT).args(&all).output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("2 launchers of DistributedEstimator run here (pids 1, "), "{text}");
    assert!(text.contains("choose one with --launcher PID") && !text.contains("999999999"), "{text}");
    let out = run(&["--launcher", "999999999"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no launcher of DistributedEstimator with pid 999999999"), "{}", stderr(&out));
    let started = Instant::now();
    let out = run(&["--launcher", &me.to_string(), "--timeout-ms", "300"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("the launcher (pid {me}) did not answer within 300ms")), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(5));
}
