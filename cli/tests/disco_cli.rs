//! `cohort disco` and `cohort ls` as a user runs them: the daemon serves until SIGTERM, and `ls`
//! shows what actors registered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cohort_discovery::{ClientConfig, DiscoveryClient};
use cohort_ports::{Endpoint, PortKind, Scope};

/// A `cohort disco` process, killed when dropped.
struct Disco {
    child: Child,
    endpoint: String,
}

impl Disco {
    fn start() -> Disco {
        // A free port: bind one, let it go, and hand it to the daemon.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            // Not secured: the test's clients are plain (secured daemons: tests/security.rs).
            .args(["disco", "--endpoint", &endpoint, "--host", "test-host", "--log-level", "debug", "--log-json"])
            .arg("--insecure")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Disco { child, endpoint }
    }

    /// Runs `cohort ls` against this daemon until it answers, or fails after five seconds.
    fn ls(&self, extra: &[&str]) -> String {
        let give_up = Instant::now() + Duration::from_secs(5);
        loop {
            let out = ls(&self.endpoint, extra);
            if out.status.success() {
                return String::from_utf8(out.stdout).unwrap();
            }
            assert!(Instant::now() < give_up, "ls never succeeded: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

impl Drop for Disco {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ls(endpoint: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args(["ls", "--daemon", endpoint, "--timeout-ms", "300", "--insecure"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn ls_shows_what_actors_registered_and_disco_stops_on_sigterm() {
    let mut disco = Disco::start();
    assert_eq!(disco.ls(&[]), "no actors registered\n");

    let ctx = zmq::Context::new();
    let mut config = ClientConfig::new("Weather", "Station");
    config.daemon = disco.endpoint.clone();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let mut client = DiscoveryClient::connect(&ctx, config, log).unwrap();
    let endpoint = Endpoint::parse("tcp://10.0.0.7:4100").unwrap();
    client.provide("sensor.out", PortKind::Pub, "Reading", Scope::Global, &endpoint).unwrap();
    client.lookup("sensor.cmd", PortKind::Sub, "Command", Scope::Local).unwrap();

    let text = disco.ls(&[]);
    assert!(text.contains("app Weather\n  actor Station (pid "), "{text}");
    assert!(text.contains("provides sensor.out: pub Reading global at tcp://10.0.0.7:4100"), "{text}");
    assert!(text.contains("looks up sensor.cmd: pub Command local@test-host"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&disco.ls(&["--json"])).unwrap();
    assert_eq!(json["actors"][0]["actor"], "Station");

    // SIGTERM stops the daemon cleanly, and its log says so.
    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(i32::try_from(disco.child.id()).unwrap(), libc::SIGTERM) };
    let status = disco.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(disco.child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("\"msg\":\"discovery daemon listening\""), "{log}");
    assert!(log.contains("\"msg\":\"discovery daemon stopped\""), "{log}");
}

#[test]
fn ls_without_a_daemon_fails_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = ls(&format!("tcp://127.0.0.1:{port}"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot list the discovery daemon") && err.contains("did not answer"), "{err}");
}
