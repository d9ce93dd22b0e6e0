//! The launcher's security as a user meets it, with the estimator app.
//!
//! Secure unless told otherwise: the first run makes the app's key file (mode 0600) in the key
//! directory and the app runs encrypted end to end (ports and discovery); a later run uses the
//! same keys; another app's key file is refused. `--insecure` runs unencrypted after a warning
//! given before anything starts, and makes no keys; with `--keys` it is refused. (A libzmq
//! without CURVE refuses to start without `--insecure`: `runtime/src/launcher/security.rs`
//! tests that decision, since this build's libzmq has CURVE.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use cohort_ports::KeyFile;
use serde_json::Value;

const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/estimator/estimator.depl");
const WAIT: Duration = Duration::from_secs(15);
const INSECURE: &str =
    "traffic is NOT encrypted or authenticated (--insecure): anyone who can reach this host's ports can read and send";
const ENCRYPTED: &str = "traffic is encrypted and authenticated (CURVE)";

fn has_curve() -> bool {
    zmq::has("curve") == Some(true)
}

/// Prints `SKIPPED` where `cargo test` shows it (failing instead under `COHORT_REQUIRE_CURVE`
/// when CURVE is what is missing).
fn skipped(test: &str, why: &str, curve_missing: bool) {
    assert!(
        !curve_missing || std::env::var_os("COHORT_REQUIRE_CURVE").is_none(),
        "COHORT_REQUIRE_CURVE is set but the linked libzmq has no CURVE"
    );
    let _ = std::io::stderr().write_all(format!("SKIPPED {test}: {why}\n").as_bytes());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A directory of a test, used as `$XDG_CONFIG_HOME`; removed when dropped.
struct Home(PathBuf);

impl Home {
    fn new(test: &str) -> Home {
        let dir = std::env::temp_dir().join(format!("cohort-apps-sec-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir)
    }

    fn keys(&self) -> PathBuf {
        self.0.join("cohort").join("keys")
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn estimator(home: &Path, args: &[&str]) -> Command {
    let daemon = format!("tcp://127.0.0.1:{}", free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_estimator"));
    command
        .args(["run", "--deployment", DEPLOYMENT, "--daemon", &daemon, "--interface", "lo"])
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// A running `estimator run` whose JSON log records arrive on a channel.
struct App {
    child: Child,
    records: Receiver<Value>,
}

impl App {
    fn start(home: &Path, extra: &[&str]) -> App {
        let mut child =
            estimator(home, &[&["--log-format", "json"], extra].concat()).stderr(Stdio::piped()).spawn().unwrap();
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

    /// The next record whose message is `msg`, with every record before it.
    fn expect(&self, msg: &str) -> (Value, Vec<Value>) {
        let give_up = Instant::now() + WAIT;
        let mut before = Vec::new();
        loop {
            match self.records.recv_timeout(give_up.saturating_duration_since(Instant::now())) {
                Ok(r) if r["msg"] == msg => return (r, before),
                Ok(r) => before.push(r),
                Err(e) => panic!("no {msg:?} record within {WAIT:?} ({e}); before: {before:?}"),
            }
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the launcher to its end; its exit status and standard error.
fn run_to_end(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = estimator(home, args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn insecure_runs_unencrypted_after_a_warning_and_makes_no_keys() {
    let home = Home::new("insecure");

    // --keys contradicts --insecure: status 1 with the reason, before anything starts.
    let (code, err) = run_to_end(&home.0, &["--insecure", "--keys", "/nonexistent/App.key"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--keys /nonexistent/App.key and --insecure contradict each other"), "{err}");
    assert!(!err.contains("discovery daemon") && !err.contains("actor started"), "something started: {err}");

    // The app runs, after a warning at start-up, and makes no keys.
    let mut app = App::start(&home.0, &["--insecure", "--duration", "1"]);
    let (warning, before) = app.expect(INSECURE);
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert!(before.iter().all(|r| r["msg"] != "actor started"), "the warning came after actors started");
    app.expect("actor started");
    app.expect("every actor stopped");
    assert!(app.child.wait().unwrap().success());
    assert!(!home.keys().exists());
}

#[test]
fn with_curve_the_app_runs_encrypted_with_keys_made_on_first_run() {
    let test = "with_curve_the_app_runs_encrypted_with_keys_made_on_first_run";
    if !has_curve() {
        return skipped(test, "the linked libzmq has no CURVE (zmq-sys/README.md)", true);
    }
    let home = Home::new("curve");
    let key_file = home.keys().join("DistributedEstimator.key");

    // First run: the keys are made, and the whole flow runs over secured ports and discovery.
    let app = App::start(&home.0, &[]);
    let (made, _) = app.expect("made the app's keys; copy this file (mode 0600) to the app's other hosts");
    assert_eq!(made["file"], key_file.display().to_string());
    let (secured, _) = app.expect(ENCRYPTED);
    let keys = KeyFile::read(&key_file).unwrap();
    assert_eq!(keys.app.as_deref(), Some("DistributedEstimator"));
    assert_eq!(secured["public_key"], keys.keys.public_z85());
    assert_eq!(std::fs::metadata(&key_file).unwrap().mode() & 0o777, 0o600);
    app.expect("actor started");
    app.expect("estimate received");
    app.expect("aggregate");
    assert!(home.keys().join("daemon.key").exists());
    drop(app);

    // Later runs use the same keys.
    let app = App::start(&home.0, &[]);
    let (secured, before) = app.expect(ENCRYPTED);
    assert!(before.iter().all(|r| r["msg"] != made["msg"]), "the keys were made again");
    assert_eq!(secured["public_key"], keys.keys.public_z85());
    app.expect("aggregate");
    drop(app);

    // Another app's key file is refused.
    let other = home.0.join("Other.key");
    KeyFile::for_app("Other", cohort_ports::AppKeys::generate().unwrap()).unwrap().write(&other, false).unwrap();
    let (code, err) = run_to_end(&home.0, &["--keys", other.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("holds the keys of app Other, not of app DistributedEstimator"), "{err}");
}
