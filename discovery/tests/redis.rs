#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Redis backend against a real `redis-server` started on a free port: hosts learn each
//! other's providers, never their own, a dead host's entries vanish within the TTL, late and
//! restarted hosts learn what exists, a registry restart loses nothing, and two daemons on
//! different hosts connect a consumer to a provider and tell it of the provider's death.
//!
//! Without `redis-server` on the PATH every test prints `SKIPPED` and passes, unless
//! `COHORT_REQUIRE_REDIS` is set.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cohort_discovery::backend::RemoteChange;
use cohort_discovery::*;
use cohort_ports::{Endpoint, PortKind, Scope};

const WAIT: Duration = Duration::from_secs(5);

fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// A `redis-server` child process, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts a server with extra arguments on a free port; `None` when `redis-server` is not
    /// installed.
    fn start_with(extra: &[&str]) -> Option<RedisServer> {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            match RedisServer::start_on(port, extra) {
                Ok(server) => return Some(server),
                Err(Missing) => return None,
                Err(Failed) => continue,
            }
        }
        panic!("redis-server did not start on any of five free ports");
    }

    /// Starts a server on `port`, waiting until it answers PING.
    fn start_on(port: u16, extra: &[&str]) -> Result<RedisServer, StartError> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Missing),
            Err(e) => panic!("cannot run redis-server: {e}"),
        };
        let mut server = RedisServer { child, port };
        let give_up = Instant::now() + WAIT;
        loop {
            if server.ping() {
                return Ok(server);
            }
            if server.child.try_wait().unwrap().is_some() || Instant::now() >= give_up {
                // Exited (the port was taken meanwhile) or never answered.
                return Err(Failed);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else { return false };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_millis(100)) else { return false };
        redis::cmd("PING").query::<String>(&mut conn).is_ok()
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url()).unwrap().get_connection().unwrap()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

enum StartError {
    Missing,
    Failed,
}
use StartError::{Failed, Missing};

/// A running server, or a visible skip (a failure with `COHORT_REQUIRE_REDIS` set).
macro_rules! redis_or_skip {
    ($test:expr) => {
        redis_or_skip!($test, &[])
    };
    ($test:expr, $extra:expr) => {
        match RedisServer::start_with($extra) {
            Some(server) => server,
            None => {
                if std::env::var_os("COHORT_REQUIRE_REDIS").is_some() {
                    panic!("{}: redis-server not found and COHORT_REQUIRE_REDIS is set", $test);
                }
                // Written past the test harness's capture, so that the skip is seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {}: redis-server not found (apt-get install -y redis-server)",
                    $test
                );
                return;
            }
        }
    };
}

fn config(server: &RedisServer, host: &str, ttl: Duration) -> RedisConfig {
    let mut config = RedisConfig::new(host);
    config.url = server.url();
    config.ttl = ttl;
    config
}

fn backend(server: &RedisServer, host: &str, ttl: Duration) -> RedisBackend {
    RedisBackend::connect(config(server, host, ttl), log()).unwrap()
}

fn service(messages: &str) -> Service {
    Service { app: "App".into(), kind: "pub".into(), messages: messages.into(), reach: Reach::Global }
}

fn added(messages: &str, endpoint: &str) -> RemoteChange {
    RemoteChange::Added(service(messages), endpoint.into())
}

fn removed(messages: &str, endpoint: &str) -> RemoteChange {
    RemoteChange::Removed(service(messages), endpoint.into())
}

/// Calls `changes()` of every backend (so that they refresh) until `watcher` (an index) has
/// reported `expected` in total, failing after `within`; the others must report nothing.
/// Returns how long it took.
fn expect_changes(
    backends: &mut [&mut RedisBackend],
    watcher: usize,
    expected: &[RemoteChange],
    within: Duration,
) -> Duration {
    let start = Instant::now();
    let mut got = Vec::new();
    loop {
        for (i, b) in backends.iter_mut().enumerate() {
            let changes = b.changes().unwrap();
            if i == watcher {
                got.extend(changes);
            } else {
                assert_eq!(changes, vec![], "backend {i} reported changes");
            }
        }
        if got.len() >= expected.len() {
            let (mut a, mut b) = (got.clone(), expected.to_vec());
            a.sort_by_key(|c| format!("{c:?}"));
            b.sort_by_key(|c| format!("{c:?}"));
            assert_eq!(a, b);
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "expected {expected:?} within {within:?}, got {got:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Calls `changes()` of every backend for `duration`, checking that none reports anything.
fn quiet(backends: &mut [&mut RedisBackend], duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        for b in backends.iter_mut() {
            assert_eq!(b.changes().unwrap(), vec![]);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Everything `backend` reports during `duration`.
fn drain(backend: &mut RedisBackend, duration: Duration) -> Vec<RemoteChange> {
    let until = Instant::now() + duration;
    let mut got = Vec::new();
    while Instant::now() < until {
        got.extend(backend.changes().unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    got
}

fn provider_keys(server: &RedisServer) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("cohort/1/p/*").query(&mut server.connection()).unwrap();
    keys.sort();
    keys
}

#[test]
fn shares_reach_other_hosts_and_never_their_own() {
    let server = redis_or_skip!("shares_reach_other_hosts_and_never_their_own");
    let ttl = Duration::from_secs(3);
    let (mut a, mut b) = (backend(&server, "h1", ttl), backend(&server, "h2", ttl));
    let ep = "tcp://10.0.0.1:4000";

    a.share(&service("Temp"), ep).unwrap();
    let took = expect_changes(&mut [&mut b, &mut a], 0, &[added("Temp", ep)], WAIT);
    eprintln!("backend: share on h1 -> Added on h2 in {took:?}");
    assert_eq!(provider_keys(&server), vec!["cohort/1/p/h1/App/pub/Temp/tcp:%2F%2F10.0.0.1:4000".to_owned()]);

    // The same endpoint shared by two hosts is reported once, and removed after the last.
    b.share(&service("Temp"), ep).unwrap();
    let mut c = backend(&server, "h3", ttl);
    expect_changes(&mut [&mut c], 0, &[added("Temp", ep)], WAIT);
    a.unshare(&service("Temp"), ep).unwrap();
    quiet(&mut [&mut c], Duration::from_millis(200));
    b.unshare(&service("Temp"), ep).unwrap();
    expect_changes(&mut [&mut c], 0, &[removed("Temp", ep)], WAIT);
    // h2 saw h1's entry go; h1 may or may not have seen h2's come and go.
    expect_changes(&mut [&mut b], 0, &[removed("Temp", ep)], WAIT);
    let seen = drain(&mut a, Duration::from_millis(200));
    assert!(seen.is_empty() || seen == [added("Temp", ep), removed("Temp", ep)], "{seen:?}");

    // Services that are not global never leave the host; withdrawing twice is harmless.
    let local = Service { reach: Reach::Host("h1".into()), ..service("Local") };
    a.share(&local, "tcp://10.0.0.1:4001").unwrap();
    a.unshare(&service("Temp"), ep).unwrap();
    quiet(&mut [&mut a, &mut b, &mut c], Duration::from_millis(200));
    assert_eq!(provider_keys(&server), Vec::<String>::new());
}

#[test]
fn a_dead_host_vanishes_within_the_ttl() {
    let server = redis_or_skip!("a_dead_host_vanishes_within_the_ttl");
    let ttl = Duration::from_millis(300);
    let (mut a, mut b) = (backend(&server, "h1", ttl), backend(&server, "h2", ttl));
    let ep = "tcp://10.0.0.1:4000";
    a.share(&service("Temp"), ep).unwrap();
    expect_changes(&mut [&mut b, &mut a], 0, &[added("Temp", ep)], WAIT);

    // A live host refreshes its entries: they outlive the TTL many times over.
    quiet(&mut [&mut a, &mut b], ttl * 4);

    // The host dies without a word.
    drop(a);
    let took = expect_changes(&mut [&mut b], 0, &[removed("Temp", ep)], WAIT);
    eprintln!("backend: h1 stopped refreshing -> Removed on h2 after {took:?} (ttl {ttl:?})");
    assert!(took <= ttl + Duration::from_millis(400), "removed after {took:?}, the TTL is {ttl:?}");
}

#[test]
fn late_and_restarted_hosts_learn_existing_entries() {
    let server = redis_or_skip!("late_and_restarted_hosts_learn_existing_entries");
    let ttl = Duration::from_secs(3);
    let mut a = backend(&server, "h1", ttl);
    let mut b = backend(&server, "h2", ttl);
    a.share(&service("Temp"), "tcp://10.0.0.1:4000").unwrap();
    a.share(&service("Q#A"), "tcp://10.0.0.1:4001").unwrap();
    b.share(&service("Load"), "tcp://10.0.0.2:4000").unwrap();
    expect_changes(
        &mut [&mut b],
        0,
        &[added("Temp", "tcp://10.0.0.1:4000"), added("Q#A", "tcp://10.0.0.1:4001")],
        WAIT,
    );

    let everything = [
        added("Temp", "tcp://10.0.0.1:4000"),
        added("Q#A", "tcp://10.0.0.1:4001"),
        added("Load", "tcp://10.0.0.2:4000"),
    ];
    let mut c = backend(&server, "h3", ttl);
    expect_changes(&mut [&mut c], 0, &everything, WAIT);
    drop(c);
    let mut c = backend(&server, "h3", ttl);
    expect_changes(&mut [&mut c], 0, &everything, WAIT);

    // h1's daemon restarts: its old entries are not reported to it, and the new backend
    // keeps them alive as soon as its registry shares them again.
    drop(a);
    let mut a = backend(&server, "h1", ttl);
    expect_changes(&mut [&mut a], 0, &[added("Load", "tcp://10.0.0.2:4000")], WAIT);
    a.share(&service("Temp"), "tcp://10.0.0.1:4000").unwrap();
    quiet(&mut [&mut b, &mut c], Duration::from_millis(200));
}

#[test]
fn malformed_and_foreign_entries_are_ignored() {
    let server = redis_or_skip!("malformed_and_foreign_entries_are_ignored");
    let ttl = Duration::from_secs(3);
    let mut b = backend(&server, "h2", ttl);
    let mut conn = server.connection();
    let entry = |host: &str, endpoint: &str| {
        format!(
            r#"{{"host":"{host}","service":{{"app":"App","kind":"pub","messages":"Temp","reach":"Global"}},"endpoint":"{endpoint}"}}"#
        )
    };
    let key = |host: &str, endpoint: &str| format!("cohort/1/p/{host}/App/pub/Temp/{}", endpoint.replace('/', "%2F"));
    let set = |conn: &mut redis::Connection, k: String, v: String| {
        redis::cmd("SET").arg(k).arg(v).arg("PX").arg(3000).query::<()>(conn).unwrap();
    };
    set(&mut conn, key("h9", "tcp://10.0.0.9:1"), "not json".into());
    set(&mut conn, key("h9", "tcp://10.0.0.9:2"), entry("h8", "tcp://10.0.0.9:2"));
    set(&mut conn, key("h9", "tcp://10.0.0.9:3"), entry("h9", "tcp://10.0.0.9:4"));
    set(&mut conn, "cohort/2/p/h9/x".into(), entry("h9", "tcp://10.0.0.9:5"));
    set(&mut conn, key("h9", "tcp://10.0.0.9:6"), entry("h9", "tcp://10.0.0.9:6"));
    expect_changes(&mut [&mut b], 0, &[added("Temp", "tcp://10.0.0.9:6")], WAIT);
    quiet(&mut [&mut b], Duration::from_millis(200));
    redis::cmd("DEL").arg(key("h9", "tcp://10.0.0.9:6")).query::<()>(&mut conn).unwrap();
    expect_changes(&mut [&mut b], 0, &[removed("Temp", "tcp://10.0.0.9:6")], WAIT);
}

#[test]
fn a_registry_restart_loses_nothing_and_does_not_block() {
    let mut server = redis_or_skip!("a_registry_restart_loses_nothing_and_does_not_block");
    let ttl = Duration::from_secs(1);
    let (mut a, mut b) = (backend(&server, "h1", ttl), backend(&server, "h2", ttl));
    a.share(&service("Temp"), "tcp://10.0.0.1:4000").unwrap();
    expect_changes(&mut [&mut b, &mut a], 0, &[added("Temp", "tcp://10.0.0.1:4000")], WAIT);

    // The server dies: calls fail, quickly.
    server.kill();
    let port = server.port;
    let mut failures = 0;
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        for x in [&mut a, &mut b] {
            let start = Instant::now();
            match x.changes() {
                Ok(changes) => assert_eq!(changes, vec![]),
                Err(_) => failures += 1,
            }
            assert!(start.elapsed() < Duration::from_millis(500), "changes() blocked for {:?}", start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(failures > 0, "no call failed while the server was down");
    let start = Instant::now();
    assert!(a.share(&service("Late"), "tcp://10.0.0.1:4001").is_err());
    assert!(start.elapsed() < Duration::from_millis(500), "share() blocked for {:?}", start.elapsed());

    // It comes back empty (no persistence). h1 writes its entries again; h2 keeps reporting
    // h1's first provider as alive, learns the one shared during the outage, and follows
    // notifications again.
    let restarted = RedisServer::start_on(port, &[]).unwrap_or_else(|_| panic!("cannot restart redis on port {port}"));
    let give_up = Instant::now() + WAIT;
    let mut got = Vec::new();
    while !got.contains(&added("Late", "tcp://10.0.0.1:4001")) {
        let _ = a.changes();
        if let Ok(changes) = b.changes() {
            got.extend(changes);
        }
        assert!(Instant::now() < give_up, "h2 never learned the provider shared during the outage: {got:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(got, vec![added("Late", "tcp://10.0.0.1:4001")]);
    // Past the grace period nothing was lost.
    quiet(&mut [&mut a, &mut b], ttl * 2);
    a.share(&service("After"), "tcp://10.0.0.1:4002").unwrap();
    let took = expect_changes(&mut [&mut b, &mut a], 0, &[added("After", "tcp://10.0.0.1:4002")], WAIT);
    assert!(took < Duration::from_millis(500), "h2 relied on a scan ({took:?}), not on notifications");
    drop(restarted);
}

#[test]
fn an_unreachable_registry_does_not_stop_a_backend_from_starting() {
    let server = redis_or_skip!("an_unreachable_registry_does_not_stop_a_backend_from_starting");
    let port = server.port;
    drop(server);
    let mut a = RedisBackend::connect(
        RedisConfig { url: format!("redis://127.0.0.1:{port}/"), ..RedisConfig::new("h1") },
        log(),
    )
    .unwrap();
    assert!(!a.is_connected());
    assert!(a.share(&service("Temp"), "tcp://10.0.0.1:4000").is_err());
    // Started later, the server gets the entry shared before.
    let server = RedisServer::start_on(port, &[]).unwrap_or_else(|_| panic!("cannot start redis on port {port}"));
    let give_up = Instant::now() + WAIT;
    while provider_keys(&server).is_empty() {
        let _ = a.changes();
        assert!(Instant::now() < give_up, "the entry was never written");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(a.is_connected());
    assert!(RedisBackend::connect(RedisConfig { url: "http://nope".into(), ..RedisConfig::new("h1") }, log()).is_err());
    assert!(RedisBackend::connect(RedisConfig { ttl: Duration::ZERO, ..RedisConfig::new("h1") }, log()).is_err());
}

#[test]
fn changes_are_found_without_notifications() {
    // A managed server that refuses CONFIG: notifications cannot be enabled, scans find changes.
    let server = redis_or_skip!("changes_are_found_without_notifications", &["--rename-command", "CONFIG", ""]);
    let ttl = Duration::from_millis(300);
    let (mut a, mut b) = (backend(&server, "h1", ttl), backend(&server, "h2", ttl));
    let ep = "tcp://10.0.0.1:4000";
    quiet(&mut [&mut a, &mut b], Duration::from_millis(50));
    a.share(&service("Temp"), ep).unwrap();
    let took = expect_changes(&mut [&mut b, &mut a], 0, &[added("Temp", ep)], WAIT);
    assert!(took <= ttl + Duration::from_millis(200), "{took:?}");
    a.unshare(&service("Temp"), ep).unwrap();
    let took = expect_changes(&mut [&mut b, &mut a], 0, &[removed("Temp", ep)], WAIT);
    assert!(took <= ttl + Duration::from_millis(200), "{took:?}");
}

/// The ids of the server's pub/sub connections.
fn subscribers(server: &RedisServer) -> Vec<String> {
    let list: String =
        redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("pubsub").query(&mut server.connection()).unwrap();
    let mut ids: Vec<String> =
        list.split_whitespace().filter_map(|field| field.strip_prefix("id=")).map(str::to_owned).collect();
    ids.sort();
    ids
}

#[test]
fn subscriptions_survive_idle_periods() {
    let server = redis_or_skip!("subscriptions_survive_idle_periods");
    let ttl = Duration::from_secs(3);
    let (mut a, mut b) = (backend(&server, "h1", ttl), backend(&server, "h2", ttl));
    let give_up = Instant::now() + WAIT;
    while subscribers(&server).len() < 2 {
        assert!(Instant::now() < give_up, "the backends never subscribed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = subscribers(&server);
    // Long enough for the subscribers to ping the server at least twice.
    quiet(&mut [&mut a, &mut b], Duration::from_millis(2500));
    assert_eq!(subscribers(&server), before);
    a.share(&service("Temp"), "tcp://10.0.0.1:4000").unwrap();
    let took = expect_changes(&mut [&mut b, &mut a], 0, &[added("Temp", "tcp://10.0.0.1:4000")], WAIT);
    assert!(took < Duration::from_millis(100), "{took:?}");
}

/// A daemon with a Redis backend serving on its own thread until dropped.
fn start_daemon(server: &RedisServer, host: &str) -> DaemonThread {
    let mut config = RegistryConfig::new(host);
    config.heartbeat_interval = Duration::from_millis(50);
    config.liveness_timeout = Duration::from_millis(300);
    let backend = backend(server, host, Duration::from_secs(3));
    let ctx = zmq::Context::new();
    let daemon = Daemon::bind(&ctx, "tcp://127.0.0.1:*", config, Box::new(backend), log()).unwrap();
    daemon.spawn(ctx).unwrap()
}

fn client(daemon: &DaemonThread, ctx: &zmq::Context, actor: &str) -> DiscoveryClient {
    let mut config = ClientConfig::new("App", actor);
    config.daemon = daemon.endpoint().to_owned();
    DiscoveryClient::connect(ctx, config, log()).unwrap()
}

/// Polls `client` (and keeps `other` heartbeating) until it reports an update.
fn next_update(client: &mut DiscoveryClient, mut other: Option<&mut DiscoveryClient>) -> Update {
    let give_up = Instant::now() + WAIT;
    loop {
        if let Some(o) = other.as_deref_mut() {
            assert_eq!(o.poll().unwrap(), vec![]);
        }
        let mut updates = client.poll().unwrap();
        if !updates.is_empty() {
            assert_eq!(updates.len(), 1, "{updates:?}");
            return updates.remove(0);
        }
        assert!(Instant::now() < give_up, "no update within {WAIT:?}");
        let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 1).unwrap();
    }
}

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    format!(
        "min {} median {} max {} (n={})",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

#[test]
fn daemons_on_two_hosts_connect_consumers_to_providers() {
    let server = redis_or_skip!("daemons_on_two_hosts_connect_consumers_to_providers");
    let (d1, d2) = (start_daemon(&server, "h1"), start_daemon(&server, "h2"));
    let ctx = zmq::Context::new();
    let mut consumer = client(&d2, &ctx, "Consumer");
    assert_eq!(consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Global).unwrap(), vec![]);
    let mut provider = client(&d1, &ctx, "Producer");

    // Provide and withdraw a few times: each change crosses hosts through Redis.
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let endpoint = Endpoint::parse(&format!("tcp://127.0.0.1:{}", 41000 + i)).unwrap();
        let start = Instant::now();
        provider.provide("p.out", PortKind::Pub, "Temp", Scope::Global, &endpoint).unwrap();
        let update = next_update(&mut consumer, Some(&mut provider));
        adds.push(start.elapsed());
        assert_eq!((update.port.as_str(), update.added, update.removed), ("c.in", vec![endpoint.clone()], vec![]));
        let start = Instant::now();
        provider.withdraw(&endpoint).unwrap();
        let update = next_update(&mut consumer, Some(&mut provider));
        removes.push(start.elapsed());
        assert_eq!((update.added, update.removed), (vec![], vec![endpoint]));
    }
    eprintln!("daemons: provide() on h1 -> consumer update on h2: {}", stats(adds));
    eprintln!("daemons: withdraw() on h1 -> consumer update on h2: {}", stats(removes));

    // A lookup on h2 of a provider known there is answered at once.
    let endpoint = Endpoint::parse("tcp://127.0.0.1:42000").unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Global, &endpoint).unwrap();
    assert_eq!(next_update(&mut consumer, Some(&mut provider)).added, vec![endpoint.clone()]);
    let mut late = client(&d2, &ctx, "Late");
    assert_eq!(late.lookup("l.in", PortKind::Sub, "Temp", Scope::Global).unwrap(), vec![endpoint.clone()]);
    // Local services stay on their host.
    let local = Endpoint::parse("tcp://127.0.0.1:42001").unwrap();
    provider.provide("p.loc", PortKind::Pub, "Here", Scope::Local, &local).unwrap();
    assert_eq!(late.lookup("l.loc", PortKind::Sub, "Here", Scope::Local).unwrap(), vec![]);

    // The provider dies without a word: h1 drops it after the liveness timeout (300 ms), and
    // the consumer on h2 is told.
    let died = Instant::now();
    drop(provider);
    let (mut first, mut second) = (None, None);
    let give_up = Instant::now() + WAIT;
    while first.is_none() || second.is_none() {
        for (c, got) in [(&mut consumer, &mut first), (&mut late, &mut second)] {
            let updates = c.poll().unwrap();
            if !updates.is_empty() {
                assert!(got.is_none(), "{updates:?}");
                *got = Some((updates, died.elapsed()));
            }
        }
        assert!(Instant::now() < give_up, "no removal within {WAIT:?}");
        let mut items = [consumer.socket().as_poll_item(zmq::POLLIN), late.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 1).unwrap();
    }
    for (updates, took) in [first.unwrap(), second.unwrap()] {
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert_eq!((&updates[0].added, &updates[0].removed), (&vec![], &vec![endpoint.clone()]));
        eprintln!("daemons: provider dropped on h1 -> removal on h2 after {took:?} (liveness timeout 300 ms)");
    }
    drop((d1, d2));
}

#[test]
fn a_dead_daemon_host_is_dropped_by_the_others() {
    let server = redis_or_skip!("a_dead_daemon_host_is_dropped_by_the_others");
    let (d1, d2) = (start_daemon(&server, "h1"), start_daemon(&server, "h2"));
    let ctx = zmq::Context::new();
    let mut consumer = client(&d2, &ctx, "Consumer");
    consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Global).unwrap();
    let mut provider = client(&d1, &ctx, "Producer");
    let endpoint = Endpoint::parse("tcp://127.0.0.1:43000").unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Global, &endpoint).unwrap();
    assert_eq!(next_update(&mut consumer, Some(&mut provider)).added, vec![endpoint.clone()]);

    // The whole host goes: its daemon stops refreshing, and its entry expires (TTL 3 s).
    let died = Instant::now();
    drop(d1);
    drop(provider);
    let update = next_update_within(&mut consumer, Duration::from_secs(5));
    let took = died.elapsed();
    assert_eq!(update.removed, vec![endpoint]);
    eprintln!("daemons: host h1 died -> removal on h2 after {took:?} (ttl 3 s)");
    assert!(took <= Duration::from_millis(3500), "{took:?}");
    drop(d2);
}

fn next_update_within(client: &mut DiscoveryClient, within: Duration) -> Update {
    let give_up = Instant::now() + within;
    loop {
        let mut updates = client.poll().unwrap();
        if !updates.is_empty() {
            return updates.remove(0);
        }
        assert!(Instant::now() < give_up, "no update within {within:?}");
        let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 5).unwrap();
    }
}
