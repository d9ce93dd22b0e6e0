#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `cohort keygen`, `cohort disco --keys-dir` and `cohort ls` with keys, as a user runs them.
//!
//! A libzmq without CURVE (not Cohort's `zmq-sys`) makes these tests check the refusal and print
//! `SKIPPED`; `COHORT_REQUIRE_CURVE=1`, which `.ci/run` sets, makes them fail instead.

#[path = "../../tests/support/curve.rs"]
mod curve;

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cohort_ports::keyfile::{app_key_path, daemon_key_path};
use cohort_ports::KeyFile;
use curve::{curve_available, has_curve, Dir};

/// How long a test waits for anything it expects before failing.
const WAIT: Duration = Duration::from_secs(10);

fn cohort(args: &[&str], config_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohort")).args(args).env("XDG_CONFIG_HOME", config_home).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cohort keygen` writes a private key file at the default place or at --out, refuses to
/// replace one without --force, and needs CURVE.
#[test]
fn keygen_writes_a_private_key_file_once() {
    let dir = Dir::new("keygen");
    let out = dir.0.join("elsewhere").join("App.key");
    let run = cohort(&["keygen", "App", "--out", out.to_str().unwrap()], &dir.0);
    if !has_curve() {
        assert_eq!(run.status.code(), Some(2));
        assert!(text(&run.stderr).contains("has no CURVE"), "{}", text(&run.stderr));
        assert!(!out.exists());
        let _ = curve_available("keygen_writes_a_private_key_file_once");
        return;
    }
    assert!(run.status.success(), "{}", text(&run.stderr));
    let file = KeyFile::read(&out).unwrap();
    assert_eq!(file.app.as_deref(), Some("App"));
    assert_eq!(std::fs::metadata(&out).unwrap().mode() & 0o777, 0o600);
    let said = text(&run.stdout);
    assert!(said.contains(out.to_str().unwrap()) && said.contains(&file.keys.public_z85()), "{said}");

    let again = cohort(&["keygen", "App", "--out", out.to_str().unwrap()], &dir.0);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("exists already; give --force"), "{}", text(&again.stderr));
    assert_eq!(KeyFile::read(&out).unwrap(), file);
    let forced = cohort(&["keygen", "App", "--out", out.to_str().unwrap(), "--force"], &dir.0);
    assert!(forced.status.success());
    assert_ne!(KeyFile::read(&out).unwrap(), file);

    // The default place is under $XDG_CONFIG_HOME.
    let default = cohort(&["keygen", "Other"], &dir.0);
    assert!(default.status.success(), "{}", text(&default.stderr));
    let path = app_key_path(&dir.0.join("cohort").join("keys"), "Other");
    assert_eq!(KeyFile::read(&path).unwrap().app.as_deref(), Some("Other"));
    let bad = cohort(&["keygen", "no/such"], &dir.0);
    assert_eq!(bad.status.code(), Some(2));
}

/// A `cohort disco` process, killed when dropped.
struct Disco(Child);

impl Drop for Disco {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// With CURVE, `cohort disco --keys-dir` makes its key there and `cohort ls` with that key
/// directory lists it, while a plain `ls` gets no answer. Without CURVE, `--keys-dir` is
/// refused.
#[test]
fn disco_and_ls_use_the_key_directory() {
    let dir = Dir::new("disco");
    let keys = dir.0.join("keys");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let args = ["disco", "--endpoint", &endpoint, "--host", "h", "--keys-dir", keys.to_str().unwrap()];
    if !has_curve() {
        let run = cohort(&args, &dir.0);
        assert_eq!(run.status.code(), Some(2));
        assert!(
            text(&run.stderr).contains("--keys-dir") && text(&run.stderr).contains("no CURVE"),
            "{}",
            text(&run.stderr)
        );
        let _ = curve_available("disco_and_ls_use_the_key_directory");
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args(args)
        .env("XDG_CONFIG_HOME", &dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _disco = Disco(child);
    let give_up = Instant::now() + WAIT;
    loop {
        let ls =
            cohort(&["ls", "--daemon", &endpoint, "--keys-dir", keys.to_str().unwrap(), "--timeout-ms", "300"], &dir.0);
        if ls.status.success() {
            assert!(text(&ls.stdout).contains("no actors registered"), "{}", text(&ls.stdout));
            break;
        }
        assert!(Instant::now() < give_up, "ls never succeeded: {}", text(&ls.stderr));
    }
    assert_eq!(std::fs::metadata(daemon_key_path(&keys)).unwrap().mode() & 0o777, 0o600);
    // $XDG_CONFIG_HOME/cohort/keys has no daemon key: ls asks without one and gets no answer.
    let plain = cohort(&["ls", "--daemon", &endpoint, "--timeout-ms", "300"], &dir.0);
    assert_eq!(plain.status.code(), Some(2), "{}", text(&plain.stdout));
}
