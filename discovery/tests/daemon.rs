#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The daemon and the client over real sockets: ports find each other, are told when a provider
//! dies, survive malformed messages, and recover from a daemon restart by themselves.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_discovery::protocol::{decode_daemon, DaemonMessage, ErrorCode};
use cohort_discovery::*;
use cohort_ports::*;

const WAIT: Duration = Duration::from_secs(5);

fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// A daemon (heartbeat 50 ms, liveness 300 ms) serving on its own thread until dropped.
fn start_daemon(endpoint: &str) -> DaemonThread {
    let mut config = RegistryConfig::new("host-a");
    config.heartbeat_interval = Duration::from_millis(50);
    config.liveness_timeout = Duration::from_millis(300);
    let ctx = zmq::Context::new();
    let daemon = Daemon::bind(&ctx, endpoint, config, Box::new(MemoryBackend), log()).unwrap();
    daemon.spawn(ctx).unwrap()
}

fn client(daemon: &str, ctx: &zmq::Context, actor: &str) -> DiscoveryClient {
    let mut config = ClientConfig::new("App", actor);
    config.daemon = daemon.to_owned();
    DiscoveryClient::connect(ctx, config, log()).unwrap()
}

fn factory(actor: &str) -> PortFactory {
    let dir = std::env::temp_dir().join(format!("cohort-disco-test-{}-{actor}", std::process::id()));
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), dir, actor).unwrap();
    PortFactory::new(addressing, SocketOptions::default(), Security::None, log()).unwrap()
}

/// Polls `client` until it reports an update, or fails after five seconds.
fn next_update(client: &mut DiscoveryClient) -> Update {
    let give_up = Instant::now() + WAIT;
    loop {
        let mut updates = client.poll().unwrap();
        if !updates.is_empty() {
            assert_eq!(updates.len(), 1, "{updates:?}");
            return updates.remove(0);
        }
        assert!(Instant::now() < give_up, "no update within {WAIT:?}");
        let wait = client.next_deadline().saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
        let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, i64::try_from(wait.as_millis() + 1).unwrap()).unwrap();
    }
}

/// Keeps `client` heartbeating for `duration` and checks it reports nothing.
fn quiet_for(client: &mut DiscoveryClient, duration: Duration) {
    let until = Instant::now() + duration;
    while Instant::now() < until {
        assert_eq!(client.poll().unwrap(), Vec::new());
        let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 10).unwrap();
    }
}

#[test]
fn a_subscriber_finds_its_publisher_and_hears_of_its_death() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let ctx = zmq::Context::new();
    let (fa, fb) = (factory("pa"), factory("pb"));
    let mut consumer = client(daemon.endpoint(), &ctx, "Consumer");
    let mut sub = fb.subscriber(&PortSpec::new("c", "in", PortKind::Sub, Scope::Global, "Temp")).unwrap();
    assert_eq!(consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Global).unwrap(), Vec::new());

    let mut provider = client(daemon.endpoint(), &ctx, "Producer");
    let mut publisher = fa.publisher(&PortSpec::new("p", "out", PortKind::Pub, Scope::Global, "Temp")).unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Global, publisher.endpoint()).unwrap();

    let update = next_update(&mut consumer);
    assert_eq!(
        (update.port.as_str(), &update.added, &update.removed),
        ("c.in", &vec![publisher.endpoint().clone()], &vec![])
    );
    sub.add_endpoint(&update.added[0]).unwrap();
    let give_up = Instant::now() + WAIT;
    loop {
        publisher.send(&21.5f64).unwrap();
        let mut items = [sub.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 20).unwrap();
        if let Some(m) = sub.recv::<f64>().unwrap() {
            assert_eq!(m.value, 21.5);
            break;
        }
        assert!(Instant::now() < give_up, "the subscriber never heard the publisher");
    }

    // A later lookup of the same service gets the endpoint at once.
    let mut late = client(daemon.endpoint(), &ctx, "Late");
    assert_eq!(late.lookup("l.in", PortKind::Sub, "Temp", Scope::Global).unwrap(), vec![publisher.endpoint().clone()]);

    // The provider dies without a word: its heartbeats stop, and after the liveness timeout
    // every consumer is told.
    let died = Instant::now();
    drop(provider);
    let update = next_update(&mut consumer);
    assert_eq!((update.added.len(), update.removed), (0, vec![publisher.endpoint().clone()]));
    assert!(died.elapsed() >= Duration::from_millis(250), "removed before the liveness timeout");
    assert_eq!(next_update(&mut late).removed, vec![publisher.endpoint().clone()]);
}

#[test]
fn a_removed_provider_ends_outstanding_requests() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let ctx = zmq::Context::new();
    let (fa, fb) = (factory("ra"), factory("rb"));
    let mut server = client(daemon.endpoint(), &ctx, "Server");
    let rep = fa.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Global, "Q").with_reply("A")).unwrap();
    server.provide("s.rep", PortKind::Rep, "Q#A", Scope::Global, rep.endpoint()).unwrap();

    let mut asker = client(daemon.endpoint(), &ctx, "Asker");
    let mut req = fb.requester(&PortSpec::new("c", "req", PortKind::Req, Scope::Global, "Q").with_reply("A")).unwrap();
    for endpoint in asker.lookup("c.req", PortKind::Req, "Q#A", Scope::Global).unwrap() {
        req.add_endpoint(&endpoint).unwrap();
    }
    let id = req.request(&"never answered").unwrap();

    server.goodbye().unwrap();
    let update = next_update(&mut asker);
    for endpoint in &update.removed {
        req.remove_endpoint(endpoint).unwrap();
    }
    match req.recv::<String>().unwrap() {
        Some(Response::Failed { id: got, error: CallError::ProviderGone, replies: 0 }) => assert_eq!(got, id),
        other => panic!("expected the request to end with ProviderGone, got {other:?}"),
    }
}

#[test]
fn the_daemon_survives_malformed_messages() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let ctx = zmq::Context::new();
    let raw = ctx.socket(zmq::DEALER).unwrap();
    raw.connect(daemon.endpoint()).unwrap();
    let garbage: [&[u8]; 4] = [b"", b"\xff\xff\xff", b"\xa1\x67version\x18\x63", &[0x80; 64]];
    for bytes in garbage {
        raw.send(bytes, 0).unwrap();
        let mut items = [raw.as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 5000).unwrap();
        let reply = decode_daemon(&raw.recv_bytes(0).unwrap()).unwrap();
        match reply.message {
            DaemonMessage::Reply { id: 0, result: Err(e) } => {
                assert!(matches!(e.code, ErrorCode::Malformed | ErrorCode::Version), "{e:?}")
            }
            other => panic!("expected an error reply, got {other:?}"),
        }
    }
    raw.send_multipart([&b"two"[..], &b"frames"[..]], 0).unwrap();
    let mut items = [raw.as_poll_item(zmq::POLLIN)];
    zmq::poll(&mut items, 5000).unwrap();
    assert!(matches!(
        decode_daemon(&raw.recv_bytes(0).unwrap()).unwrap().message,
        DaemonMessage::Reply { result: Err(_), .. }
    ));

    // Still serving.
    let mut c = client(daemon.endpoint(), &ctx, "After");
    assert_eq!(c.lookup("x.in", PortKind::Sub, "M", Scope::Global).unwrap(), Vec::new());
}

#[test]
fn clients_recover_from_a_daemon_restart_by_themselves() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let endpoint = daemon.endpoint().to_owned();
    let ctx = zmq::Context::new();
    let fa = factory("da");
    let mut provider = client(&endpoint, &ctx, "Producer");
    let publisher = fa.publisher(&PortSpec::new("p", "out", PortKind::Pub, Scope::Local, "Temp")).unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Local, publisher.endpoint()).unwrap();
    let mut consumer = client(&endpoint, &ctx, "Consumer");
    assert_eq!(
        consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Local).unwrap(),
        vec![publisher.endpoint().clone()]
    );

    drop(daemon);
    let _restarted = start_daemon(&endpoint);

    // The provider re-registers by itself: a new consumer finds it.
    let give_up = Instant::now() + WAIT;
    let mut newcomer = client(&endpoint, &ctx, "Newcomer");
    loop {
        provider.poll().unwrap();
        consumer.poll().unwrap();
        if newcomer.lookup("n.in", PortKind::Sub, "Temp", Scope::Local).unwrap() == vec![publisher.endpoint().clone()] {
            break;
        }
        assert!(Instant::now() < give_up, "the provider never re-registered");
        let mut items = [provider.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 20).unwrap();
    }
    // The old consumer re-issued its lookup: nothing changed for it, so it reports nothing,
    // and it still hears of the provider's death.
    let alive = KeepAlive::start(provider);
    quiet_for(&mut consumer, Duration::from_millis(400));
    drop(alive);
    assert_eq!(next_update(&mut consumer).removed, vec![publisher.endpoint().clone()]);
}

/// Polls `client` until it has registered `sessions` times, checking it reports nothing.
fn until_sessions(client: &mut DiscoveryClient, sessions: u32) {
    let give_up = Instant::now() + WAIT;
    while client.sessions() < sessions {
        assert_eq!(client.poll().unwrap(), Vec::new());
        assert!(Instant::now() < give_up, "the client never re-registered");
        let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 10).unwrap();
    }
}

#[test]
fn a_restart_does_not_disconnect_consumers_from_live_providers() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let endpoint = daemon.endpoint().to_owned();
    let ctx = zmq::Context::new();
    let fa = factory("sa");
    let mut provider = client(&endpoint, &ctx, "Producer");
    let mut doomed = client(&endpoint, &ctx, "Doomed");
    let publisher = fa.publisher(&PortSpec::new("p", "out", PortKind::Pub, Scope::Global, "Temp")).unwrap();
    let other = fa.publisher(&PortSpec::new("d", "out", PortKind::Pub, Scope::Global, "Temp")).unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Global, publisher.endpoint()).unwrap();
    doomed.provide("d.out", PortKind::Pub, "Temp", Scope::Global, other.endpoint()).unwrap();
    let mut consumer = client(&endpoint, &ctx, "Consumer");
    assert_eq!(consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Global).unwrap().len(), 2);

    // The daemon restarts, and one provider dies with it. While it is down, the others keep
    // heartbeating into their queues; the new daemon answers each of those as unknown.
    drop(daemon);
    drop(doomed);
    quiet_for(&mut consumer, Duration::from_millis(200));
    quiet_for(&mut provider, Duration::from_millis(200));
    let _restarted = start_daemon(&endpoint);

    // The consumer re-registers first: the new daemon knows no provider yet, but the consumer
    // reports no removal, because providers get one liveness timeout to come back.
    until_sessions(&mut consumer, 2);
    until_sessions(&mut provider, 2);
    let alive = KeepAlive::start(provider);
    // The live provider came back, so it is never reported; the dead one is, after the timeout.
    let update = next_update(&mut consumer);
    assert_eq!((update.added, update.removed), (vec![], vec![other.endpoint().clone()]));
    quiet_for(&mut consumer, Duration::from_millis(100));
    // The stale "unknown" answers to queued heartbeats did not make anyone register twice
    // (a second hello would have removed and re-added the provider).
    let provider = alive.stop();
    assert_eq!((provider.sessions(), consumer.sessions()), (2, 2));
}

/// Keeps a client heartbeating on a thread of its own until stopped (or dropped, which drops
/// the client: the actor dies).
struct KeepAlive {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<DiscoveryClient>>,
}

impl KeepAlive {
    fn start(mut client: DiscoveryClient) -> KeepAlive {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                client.poll().unwrap();
                let mut items = [client.socket().as_poll_item(zmq::POLLIN)];
                zmq::poll(&mut items, 10).unwrap();
            }
            client
        });
        KeepAlive { stop, thread: Some(thread) }
    }

    /// Stops heartbeating and hands the client back.
    fn stop(mut self) -> DiscoveryClient {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            drop(t.join().unwrap());
        }
    }
}

#[test]
fn a_client_the_daemon_dropped_as_silent_registers_again_when_it_next_asks() {
    let daemon = start_daemon("tcp://127.0.0.1:*");
    let endpoint = daemon.endpoint().to_owned();
    let ctx = zmq::Context::new();
    let fa = factory("silent");
    let mut provider = client(&endpoint, &ctx, "Producer");
    let first = fa.publisher(&PortSpec::new("p", "out", PortKind::Pub, Scope::Local, "Temp")).unwrap();
    provider.provide("p.out", PortKind::Pub, "Temp", Scope::Local, first.endpoint()).unwrap();
    // The provider stays silent (as a starved process is) while the consumer keeps polling:
    // the daemon drops the provider, and the consumer hears its endpoint removed.
    let mut consumer = client(&endpoint, &ctx, "Consumer");
    consumer.lookup("c.in", PortKind::Sub, "Temp", Scope::Local).unwrap();
    assert_eq!(next_update(&mut consumer).removed, vec![first.endpoint().clone()]);
    // Its next request is refused as from an unknown client; it registers again (its first
    // port too) and the request succeeds.
    let second = fa.publisher(&PortSpec::new("p", "out2", PortKind::Pub, Scope::Local, "Temp")).unwrap();
    provider.provide("p.out2", PortKind::Pub, "Temp", Scope::Local, second.endpoint()).unwrap();
    assert_eq!(provider.sessions(), 2);
    // Both come back, in one update or two.
    let mut found = Vec::new();
    let give_up = Instant::now() + WAIT;
    while found.len() < 2 {
        for update in consumer.poll().unwrap() {
            assert_eq!(update.removed, Vec::new(), "{update:?}");
            found.extend(update.added);
        }
        assert!(Instant::now() < give_up, "found only {found:?} within {WAIT:?}");
        let mut items = [consumer.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 20).unwrap();
    }
    found.sort();
    let mut expected = vec![first.endpoint().clone(), second.endpoint().clone()];
    expected.sort();
    assert_eq!(found, expected);
}
