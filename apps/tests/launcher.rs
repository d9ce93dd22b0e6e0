//! The estimator app as a user runs it: `estimator run` starts one process per actor, and the
//! host's discovery daemon as a process of its own (which exits by itself once idle); a killed
//! actor is restarted and the flow resumes; Ctrl-C stops everything within 5 s; bad input is a
//! clear error with exit status 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/estimator/estimator.depl");
const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `estimator run`, whose JSON log records arrive on a channel.
struct App {
    child: Child,
    records: Receiver<Value>,
}

impl App {
    fn start(extra: &[&str]) -> App {
        App::start_from(std::path::Path::new(env!("CARGO_BIN_EXE_estimator")), extra)
    }

    /// Starts the estimator from the program at `program`.
    fn start_from(program: &std::path::Path, extra: &[&str]) -> App {
        let daemon = format!("tcp://127.0.0.1:{}", free_port());
        let mut child = Command::new(program)
            .args(["run", "--deployment", DEPLOYMENT, "--daemon", &daemon, "--interface", "lo", "--log-format", "json"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, records) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(record) = serde_json::from_str::<Value>(&line) {
                    if tx.send(record).is_err() {
                        break;
                    }
                }
            }
        });
        App { child, records }
    }

    /// The next record whose message is `msg` and that satisfies `also`.
    fn expect(&self, msg: &str, also: impl Fn(&Value) -> bool) -> Value {
        let give_up = Instant::now() + WAIT;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok(r) if r["msg"] == msg && also(&r) => return r,
                Ok(_) => {}
                Err(e) => panic!("no {msg:?} record within {WAIT:?} ({e})"),
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        unsafe { libc::kill(i32::try_from(self.child.id()).unwrap(), signal) };
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alive(pid: i64) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(i32::try_from(pid).unwrap(), 0) == 0 }
}

fn pid_of(record: &Value) -> i64 {
    record["pid"].as_i64().unwrap()
}

#[test]
fn the_estimator_runs_recovers_from_a_killed_actor_and_stops_on_ctrl_c() {
    let mut app = App::start(&[]);
    let estimator = app.expect("actor started", |r| r["actor"] == "Estimator");
    let aggregator = app.expect("actor started", |r| r["actor"] == "Aggregator");
    // Every component's handlers fire: readings, queries, estimates, aggregates.
    app.expect("sensor reading", |_| true);
    app.expect("sensor queried", |_| true);
    app.expect("estimate", |_| true);
    app.expect("estimate received", |_| true);
    app.expect("aggregate", |r| r["count"].as_u64().unwrap_or(0) >= 1);

    // kill -9 the Estimator actor: it is restarted and estimates flow again.
    let old = pid_of(&estimator);
    // SAFETY: as above; the pid is a grandchild the launcher started.
    unsafe { libc::kill(i32::try_from(old).unwrap(), libc::SIGKILL) };
    app.expect("actor exited; restarting it", |r| r["actor"] == "Estimator");
    let restarted = app.expect("actor restarted", |r| r["actor"] == "Estimator");
    assert_ne!(pid_of(&restarted), old);
    app.expect("estimate received", |_| true);

    // Ctrl-C: everything stops within 5 s, with status 0, leaving no process behind.
    let asked = Instant::now();
    app.signal(libc::SIGINT);
    let status = loop {
        if let Some(status) = app.child.try_wait().unwrap() {
            break status;
        }
        assert!(asked.elapsed() < Duration::from_secs(6), "the app did not stop within 5 s");
        std::thread::yield_now();
    };
    assert!(status.success(), "{status:?}");
    assert!(asked.elapsed() <= Duration::from_secs(5));
    for pid in [pid_of(&restarted), pid_of(&aggregator)] {
        assert!(!alive(pid), "actor process {pid} is still running");
    }
}

#[test]
fn actors_restart_even_after_the_program_file_was_replaced() {
    // A rebuild while the app runs replaces the program's file; restarts must still work.
    let dir = std::env::temp_dir().join(format!("cohort-replaced-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("estimator");
    std::fs::copy(env!("CARGO_BIN_EXE_estimator"), &program).unwrap();
    let app = App::start_from(&program, &[]);
    let estimator = app.expect("actor started", |r| r["actor"] == "Estimator");
    app.expect("estimate received", |_| true);
    std::fs::remove_file(&program).unwrap();
    std::fs::write(&program, b"#!/bin/sh\nexit 3\n").unwrap();
    // SAFETY: kill has no memory-safety preconditions; the pid is a grandchild the launcher started.
    unsafe { libc::kill(i32::try_from(pid_of(&estimator)).unwrap(), libc::SIGKILL) };
    let restarted = app.expect("actor restarted", |r| r["actor"] == "Estimator");
    assert_ne!(pid_of(&restarted), pid_of(&estimator));
    app.expect("estimate received", |_| true);
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duration_stops_the_app_by_itself() {
    let mut app = App::start(&["--duration", "1"]);
    app.expect("every actor stopped", |_| true);
    assert!(app.child.wait().unwrap().success());
}

fn run_with(args: &[&str]) -> (Option<i32>, String) {
    let daemon = format!("tcp://127.0.0.1:{}", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_estimator"))
        .args(["run", "--daemon", &daemon, "--interface", "lo"])
        .args(args)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("cohort-launcher-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_input_is_a_clear_error_with_status_1() {
    // A model with a syntax error: file:line:col and what was expected.
    let bad = temp_file("bad.riaps", "app DistributedEstimator {\n  message M\n}\n");
    let (code, err) = run_with(&["--model", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad.riaps:3:1: error: expected"), "{err}");

    // A component type the binary does not implement.
    let extra = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/estimator/estimator.riaps"))
        .unwrap()
        .replace("sensor : Sensor;", "sensor : Sensor;\n          spare : Spare;")
        .replace("// Local estimator component", "component Spare { timer t 1000; }\n    // Local estimator component");
    let model = temp_file("spare.riaps", &extra);
    let (code, err) = run_with(&["--model", model.to_str().unwrap(), "--deployment", DEPLOYMENT]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "error: no implementation of component type `Spare` is registered (instance `spare` of actor `Estimator`)"
        ),
        "{err}"
    );
    assert!(err.contains("spare.riaps:") && err.contains(" |           spare : Spare;"), "{err}");

    // An argument of the wrong type in the deployment.
    let depl = temp_file(
        "bad.depl",
        "app DistributedEstimator {\n\ton all Estimator;\n\ton all Aggregator(posArg=\"twelve\");\n}\n",
    );
    let (code, err) = run_with(&["--deployment", depl.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad.depl:3:27: error:") && err.contains("expects an integer"), "{err}");

    // Without a deployment, a required actor argument is missing.
    let (code, err) = run_with(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("needs a value for `posArg`"), "{err}");
    for f in [bad, model, depl] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn issue_12_a_bad_deployment_stops_run_once_before_any_actor_starts() {
    // This host is h1. `Estimator` is placed twice on it, and the placements on h2 and h3,
    // which h1 never runs, have argument errors: `run` reports all of them, as `cohort check`
    // does, and starts nothing.
    let depl = temp_file(
        "twice.depl",
        "app DistributedEstimator {\n\ton all Estimator;\n\ton (h1) Estimator;\n\ton (h1, h2) Aggregator(posArg=1);\n\ton (h2) Sensor;\n\ton (h3) Aggregator(posArg=\"x\");\n}\n",
    );
    let (code, err) =
        run_with(&["--deployment", depl.to_str().unwrap(), "--host", "h1", "--log-format", "json", "--duration", "10"]);
    assert_eq!(code, Some(1), "{err}");
    let name = depl.display().to_string();
    let placed_twice = format!("{name}:3:10: error: actor `Estimator` is placed on host `h1` more than once\n");
    assert_eq!(err.matches(&placed_twice).count(), 1, "{err}");
    assert!(err.contains("3 | \ton (h1) Estimator;\n"), "{err}");
    assert!(err.contains(&format!("{name}:2:9: note: first placed on every host here\n")), "{err}");
    assert!(err.contains(&format!("{name}:5:10: error: app `DistributedEstimator` has no actor `Sensor`")), "{err}");
    assert!(err.contains(&format!("{name}:6:28: error: `iArg` of component `GlobalEstimator`")), "{err}");
    assert_eq!(err.matches(": error: ").count(), 3, "{err}");
    // Nothing started: no actor process, no discovery daemon, no restart.
    for started in ["actor starting", "actor started", "restarting", "discovery daemon"] {
        assert!(!err.contains(started), "{started:?} in:\n{err}");
    }
    let _ = std::fs::remove_file(depl);
}

#[test]
fn code_generated_from_another_model_stops_run_once_before_any_actor_starts() {
    // The estimator's code was generated from its model; run it with a model whose Sensor port
    // has another name, and which gives LocalEstimator's `iArg` (no default, an integer in the
    // model the code was generated from, so an `i64` in its `Params`) a string.
    let model = include_str!("../estimator/estimator.riaps")
        .replacen("pub ready : SensorReady ;", "pub announce : SensorReady ;", 1)
        .replacen("filter : LocalEstimator(iArg=789,", "filter : LocalEstimator(iArg=\"789\",", 1);
    let path = temp_file("other.riaps", &model);
    let deployment = concat!(env!("CARGO_MANIFEST_DIR"), "/estimator/estimator.depl");
    let (code, err) = run_with(&[
        "--model",
        path.to_str().unwrap(),
        "--deployment",
        deployment,
        "--log-format",
        "json",
        "--duration",
        "10",
    ]);
    assert_eq!(code, Some(1), "{err}");
    let wrong_port = "the code of component Sensor was generated from another model (port 2 is `pub announce : \
                      SensorReady` in the model but `pub ready : SensorReady` in the generated code)";
    assert_eq!(err.matches(wrong_port).count(), 1, "{err}");
    let wrong_type =
        "cannot run: parameter `iArg` of component `LocalEstimator` (instance `filter`) is a string, not an \
                      integer";
    assert_eq!(err.matches(wrong_type).count(), 1, "{err}");
    for started in ["actor starting", "actor started", "restarting", "discovery daemon"] {
        assert!(!err.contains(started), "{started:?} in:\n{err}");
    }
    let _ = std::fs::remove_file(path);
}
