//! Discovery across hosts: two network namespaces with their own addresses, joined by a bridge,
//! one discovery daemon in each, sharing one Redis server. A consumer on one host receives from
//! a provider on the other, and is told when the provider's host dies.
//!
//! Needs root (for `ip netns`), iproute2 and redis-server; without them it prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

fn skip(why: &str) {
    let line = format!("SKIPPED multihost: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(std::env::var_os("COHORT_REQUIRE_NETNS").is_none(), "COHORT_REQUIRE_NETNS is set: {why}");
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Two namespaces `<tag>a`, `<tag>b` with 10.<net>.0.1 and .2, on a bridge at 10.<net>.0.254.
struct Hosts {
    tag: String,
    net: String,
}

impl Hosts {
    fn create() -> Result<Hosts, String> {
        let pid = std::process::id();
        let hosts = Hosts { tag: format!("ch{}", pid % 100_000), net: format!("10.{}", 100 + pid % 150) };
        let (t, net) = (&hosts.tag, &hosts.net);
        ip(&["link", "add", &format!("{t}br"), "type", "bridge"])?;
        ip(&["addr", "add", &format!("{net}.0.254/24"), "dev", &format!("{t}br")])?;
        ip(&["link", "set", &format!("{t}br"), "up"])?;
        for (i, host) in ["a", "b"].iter().enumerate() {
            let ns = format!("{t}{host}");
            let (outer, inner) = (format!("{t}{host}o"), format!("{t}{host}i"));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &outer, "type", "veth", "peer", "name", &inner])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "master", &format!("{t}br")])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "addr", "add", &format!("{net}.0.{}/24", i + 1), "dev", &inner])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", &inner, "up"])?;
            ip(&["netns", "exec", &ns, "ip", "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn ns(&self, host: &str) -> String {
        format!("{}{host}", self.tag)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in ["a", "b"] {
            let _ = ip(&["netns", "del", &self.ns(host)]);
            let _ = ip(&["link", "del", &format!("{}{host}o", self.tag)]);
        }
        let _ = ip(&["link", "del", &format!("{}br", self.tag)]);
    }
}

/// A child process whose standard output lines arrive on a channel; killed when dropped.
struct Proc {
    child: Child,
    lines: Receiver<String>,
    name: String,
}

impl Proc {
    fn spawn(name: &str, program: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(program).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines, name: name.to_owned() }
    }

    fn in_ns(name: &str, ns: &str, args: &[&str]) -> Proc {
        let mut all = vec!["netns", "exec", ns, env!("CARGO_BIN_EXE_cohort-probe")];
        all.extend_from_slice(args);
        Proc::spawn(name, "ip", &all)
    }

    /// The first line starting with `prefix`, skipping others; fails after `WAIT`.
    fn expect(&self, prefix: &str) -> String {
        let give_up = Instant::now() + WAIT;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("{}: no line starting with {prefix:?} within {WAIT:?} ({e})", self.name),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

#[test]
fn a_consumer_on_one_host_receives_from_a_provider_on_another() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip("not root, cannot create network namespaces");
    }
    if Command::new("redis-server").arg("--version").output().is_err() {
        return skip("redis-server not found (apt-get install -y redis-server)");
    }
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip(&format!("cannot create network namespaces: {why}")),
    };
    let redis_port = 16_000 + std::process::id() % 10_000;
    let bind = format!("{}.0.254", hosts.net);
    let _redis = Proc::spawn(
        "redis",
        "redis-server",
        // Protected mode refuses clients from other addresses; this server is on a private test bridge.
        &[
            "--port",
            &redis_port.to_string(),
            "--bind",
            &bind,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
    );
    let give_up = Instant::now() + WAIT;
    while !redis_answers(&format!("{bind}:{redis_port}")) {
        assert!(Instant::now() < give_up, "redis-server never answered");
        std::thread::yield_now();
    }
    let redis = format!("redis://{bind}:{redis_port}/");
    let daemon = "tcp://127.0.0.1:9700";
    let (ns_a, ns_b) = (hosts.ns("a"), hosts.ns("b"));

    let disco_b = Proc::in_ns("disco b", &ns_b, &["disco", daemon, "host-b", &redis]);
    disco_b.expect("READY");
    let consumer = Proc::in_ns("consumer", &ns_b, &["consume", daemon, "Weather", "Display", "Reading"]);
    consumer.expect("READY");

    let disco_a = Proc::in_ns("disco a", &ns_a, &["disco", daemon, "host-a", &redis]);
    disco_a.expect("READY");
    let provider = Proc::in_ns("provider", &ns_a, &["provide", daemon, "Weather", "Sensor", "Reading"]);
    let ready = provider.expect("READY ");
    let started = Instant::now();
    let endpoint = ready.trim_start_matches("READY ").to_owned();
    assert!(endpoint.starts_with(&format!("tcp://{}.0.1:", hosts.net)), "bound on host a's address: {endpoint}");

    assert_eq!(consumer.expect("ADDED "), format!("ADDED {endpoint}"));
    let added = started.elapsed();
    assert!(consumer.expect("MSG ").ends_with(&format!("FROM {endpoint}")));
    eprintln!("multihost: provider registered → consumer told in {added:?}");

    // Host a dies: its provider and its daemon are killed, so nothing withdraws the entry; it
    // expires in Redis and host b's daemon tells the consumer.
    drop(provider);
    drop(disco_a);
    let died = Instant::now();
    assert_eq!(consumer.expect("REMOVED "), format!("REMOVED {endpoint}"));
    eprintln!("multihost: host a died → consumer told in {:?}", died.elapsed());
}
