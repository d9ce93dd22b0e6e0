//! `cohort disco` and `cohort ls` as a user runs them: the daemon serves until SIGTERM, `ls`
//! shows what actors registered, and `--metrics` serves Prometheus metrics that promtool accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
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
        Disco::start_with(&["--log-level", "debug"])
    }

    fn start_with(extra: &[&str]) -> Disco {
        // A free port: bind one, let it go, and hand it to the daemon.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let endpoint = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_cohort"))
            // Not secured: the test's clients are plain (secured daemons: tests/security.rs).
            .args(["disco", "--endpoint", &endpoint, "--host", "test-host", "--log-json"])
            .arg("--insecure")
            .args(extra)
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

/// Runs `promtool check metrics` on `text`, or skips visibly where promtool is absent (fails
/// instead with `COHORT_REQUIRE_PROMTOOL=1`).
fn promtool_check_metrics(test: &str, text: &str) {
    let spawned = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var("COHORT_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
                "{test}: promtool not found and COHORT_REQUIRE_PROMTOOL=1"
            );
            // Written past the test harness's capture, so that the skip is seen.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: promtool not found (apt-get install prometheus)");
            return;
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- on:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status line, the headers and the body of `GET path` (HTTP/1.0) at `addr`.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

/// The `HOST:PORT` of the daemon's metrics, from its log line `serving metrics and the live
/// page`; the rest of its log is read and dropped, so that it never blocks on a full pipe.
fn metrics_addr(disco: &mut Disco) -> String {
    let stderr = disco.child.stderr.take().unwrap();
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            let _ = lines.send(line);
        }
    });
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let line = log.recv_timeout(give_up.saturating_duration_since(Instant::now())).expect("no metrics url logged");
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        if record["msg"] == "serving metrics and the live page" {
            let url = record["url"].as_str().unwrap();
            return url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        }
    }
}

#[test]
fn disco_serves_metrics_that_promtool_accepts() {
    let mut disco = Disco::start_with(&["--metrics", "127.0.0.1:0"]);
    let addr = metrics_addr(&mut disco);
    let (head, text) = http_get(&addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    assert!(text.contains("\ncohort_discovery_actors{host=\"test-host\"} 0\n"), "{text}");
    // The daemon has no app: no live page.
    assert!(http_get(&addr, "/").0.contains(" 404"));

    let ctx = zmq::Context::new();
    let mut config = ClientConfig::new("Weather", "Station");
    config.daemon = disco.endpoint.clone();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let mut client = DiscoveryClient::connect(&ctx, config, log).unwrap();
    let endpoint = Endpoint::parse("tcp://10.0.0.7:4100").unwrap();
    client.provide("sensor.out", PortKind::Pub, "Reading", Scope::Global, &endpoint).unwrap();
    client.lookup("sensor.in", PortKind::Sub, "Reading", Scope::Global).unwrap();

    // The stats are published after each of the daemon's steps (at most 100 ms apart).
    let give_up = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let (_, text) = http_get(&addr, "/metrics");
        if text.contains("cohort_discovery_lookups{host=\"test-host\"} 1") {
            break text;
        }
        assert!(Instant::now() < give_up, "the lookup never showed:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    for line in [
        "# TYPE cohort_discovery_requests_total counter",
        "cohort_discovery_requests_total{host=\"test-host\",kind=\"hello\"} 1",
        "cohort_discovery_requests_total{host=\"test-host\",kind=\"provide\"} 1",
        "cohort_discovery_requests_total{host=\"test-host\",kind=\"lookup\"} 1",
        "cohort_discovery_refused_total{host=\"test-host\",reason=\"malformed\"} 0",
        "cohort_discovery_actors{host=\"test-host\"} 1",
        "cohort_discovery_providers{host=\"test-host\",origin=\"local\"} 1",
        "cohort_discovery_providers{host=\"test-host\",origin=\"remote\"} 0",
        // The provider was there before the lookup, whose reply named it: nothing to push.
        "cohort_discovery_pushes_total{host=\"test-host\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
    }
    promtool_check_metrics("disco_serves_metrics_that_promtool_accepts", &text);

    // docs/operations.md has a row for every metric, with its type.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md")).unwrap();
    for declared in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = declared.split_once(' ').unwrap();
        let row = format!("| `{name}` | {kind} |");
        assert!(doc.contains(&row), "docs/operations.md has no row starting {row}");
    }
}
