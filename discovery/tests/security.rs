#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A secured discovery daemon (CURVE with a key directory) over real sockets: the app's own
//! actors register and find each other; a client without a key, with an unknown key, expecting
//! another daemon key, or holding another app's key for this app registers nothing, and the
//! daemon's listing shows nothing of it.
//!
//! A libzmq without CURVE (not Cohort's `zmq-sys`) makes these tests print `SKIPPED` (and check
//! that a secured daemon is refused); `COHORT_REQUIRE_CURVE=1`, which `.ci/run` sets, makes them
//! fail instead.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cohort_discovery::protocol::{
    decode_daemon, encode, ClientFrame, ClientRequest, DaemonMessage, ErrorCode, Listing, WireScope, PROTOCOL_VERSION,
};
use cohort_discovery::*;
use cohort_ports::keyfile::{app_key_path, daemon_key_path};
use cohort_ports::*;

const WAIT: Duration = Duration::from_secs(5);

/// How long a client that will not get through waits for the daemon.
const REFUSED: Duration = Duration::from_millis(300);

fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// Whether the linked libzmq has CURVE; when not, says `SKIPPED` where `cargo test` shows it
/// and checks that a secured daemon is refused.
fn curve_available(test: &str) -> bool {
    if zmq::has("curve") == Some(true) {
        return true;
    }
    assert!(
        std::env::var_os("COHORT_REQUIRE_CURVE").is_none(),
        "COHORT_REQUIRE_CURVE is set but the linked libzmq has no CURVE"
    );
    let line = format!("SKIPPED {test}: the linked libzmq has no CURVE (zmq-sys/README.md)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let dir = Keys::new(&format!("{test}-refused"));
    let ctx = zmq::Context::new();
    let security = DaemonSecurity::keys_dir(&dir.0);
    match Daemon::bind_with(
        &ctx,
        "tcp://127.0.0.1:*",
        RegistryConfig::new("h"),
        Box::new(MemoryBackend),
        &security,
        log(),
    ) {
        Err(DaemonError::Security(PortError::CurveUnavailable { .. })) => {}
        Err(e) => panic!("expected CurveUnavailable, got {e}"),
        Ok(_) => panic!("a secured daemon was bound with a libzmq that has no CURVE"),
    }
    assert!(!daemon_key_path(&dir.0).exists(), "no daemon key is made without CURVE");
    false
}

/// A key directory of a test, removed when dropped.
struct Keys(PathBuf);

impl Keys {
    fn new(test: &str) -> Keys {
        let dir = std::env::temp_dir().join(format!("cohort-disco-keys-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Keys(dir)
    }

    /// Makes app `app`'s key file and returns its keys.
    fn app(&self, app: &str) -> AppKeys {
        let keys = AppKeys::generate().unwrap();
        KeyFile::for_app(app, keys.clone()).unwrap().write(&app_key_path(&self.0, app), false).unwrap();
        keys
    }

    fn daemon_key(&self) -> [u8; 32] {
        KeyFile::read(&daemon_key_path(&self.0)).unwrap().keys.public_key()
    }

    fn tool(&self) -> ClientSecurity {
        ClientSecurity::tool(&self.0).unwrap()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn secured_daemon(keys: &Keys) -> DaemonThread {
    let ctx = zmq::Context::new();
    let security = DaemonSecurity::keys_dir(&keys.0);
    let daemon = Daemon::bind_with(
        &ctx,
        "tcp://127.0.0.1:*",
        RegistryConfig::new("h"),
        Box::new(MemoryBackend),
        &security,
        log(),
    )
    .unwrap();
    daemon.spawn(ctx).unwrap()
}

fn connect(
    daemon: &DaemonThread,
    ctx: &zmq::Context,
    app: &str,
    actor: &str,
    security: ClientSecurity,
    timeout: Duration,
) -> Result<DiscoveryClient, ClientError> {
    let mut config = ClientConfig::new(app, actor);
    config.daemon = daemon.endpoint().to_owned();
    config.security = security;
    config.request_timeout = timeout;
    DiscoveryClient::connect(ctx, config, log())
}

fn listing(daemon: &DaemonThread, keys: &Keys) -> Listing {
    list_with(&zmq::Context::new(), daemon.endpoint(), WAIT, &keys.tool()).unwrap()
}

fn actors(listing: &Listing) -> Vec<(String, String)> {
    let mut actors: Vec<_> = listing.actors.iter().map(|a| (a.app.clone(), a.actor.clone())).collect();
    actors.sort();
    actors
}

fn factory(dir: &Path, actor: &str, keys: &AppKeys) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), dir, actor).unwrap();
    PortFactory::new(addressing, SocketOptions::default(), Security::Curve(keys.clone()), log()).unwrap()
}

/// The app's own actors register, look each other up and talk over secured ports; a client
/// of another app, with an unknown key, expecting another daemon, or with no key at all
/// registers nothing.
#[test]
fn only_the_apps_own_actors_register() {
    if !curve_available("only_the_apps_own_actors_register") {
        return;
    }
    let keys = Keys::new("own");
    let app = keys.app("App");
    let other = keys.app("Other");
    let daemon = secured_daemon(&keys);
    let ctx = zmq::Context::new();
    let own = || ClientSecurity::app(app.clone(), &keys.0).unwrap();

    // The app's actors: a provider and a consumer, whose secured ports then talk.
    let mut producer = connect(&daemon, &ctx, "App", "Producer", own(), WAIT).unwrap();
    let mut consumer = connect(&daemon, &ctx, "App", "Consumer", own(), WAIT).unwrap();
    let dir = keys.0.join("run");
    let (fa, fb) = (factory(&dir, "pa", &app), factory(&dir, "pb", &app));
    let mut publisher = fa.publisher(&PortSpec::new("p", "out", PortKind::Pub, Scope::Global, "T")).unwrap();
    producer.provide("p.out", PortKind::Pub, "T", Scope::Global, publisher.endpoint()).unwrap();
    let found = consumer.lookup("c.in", PortKind::Sub, "T", Scope::Global).unwrap();
    assert_eq!(found, vec![publisher.endpoint().clone()]);
    let mut sub = fb.subscriber(&PortSpec::new("c", "in", PortKind::Sub, Scope::Global, "T")).unwrap();
    sub.add_endpoint(&found[0]).unwrap();
    let give_up = Instant::now() + WAIT;
    loop {
        publisher.send(&"hello").unwrap();
        let mut items = [sub.socket().as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, 20).unwrap();
        if let Some(m) = sub.recv::<String>().unwrap() {
            assert_eq!(m.value, "hello");
            break;
        }
        assert!(Instant::now() < give_up, "the secured subscriber never heard the secured publisher");
    }

    // No key: the handshake cannot even start (the daemon speaks CURVE only).
    let plain = connect(&daemon, &ctx, "App", "Plain", ClientSecurity::None, REFUSED);
    assert!(matches!(plain, Err(ClientError::Timeout { .. })), "{:?}", plain.err());

    // A key of no app in the key directory: the daemon's ZAP handler refuses it.
    let stranger = ClientSecurity::Curve { keys: AppKeys::generate().unwrap(), daemon_key: keys.daemon_key() };
    let refused = connect(&daemon, &ctx, "App", "Stranger", stranger, REFUSED);
    let message = match refused {
        Err(e @ ClientError::SecuredTimeout { .. }) => e.to_string(),
        other => panic!("expected SecuredTimeout, got {:?}", other.err()),
    };
    assert!(message.contains("key directory"), "{message}");

    // The app's key, but expecting another daemon key: the client gives up on the handshake.
    let lost = ClientSecurity::Curve { keys: app.clone(), daemon_key: AppKeys::generate().unwrap().public_key() };
    let refused = connect(&daemon, &ctx, "App", "Lost", lost, REFUSED);
    assert!(matches!(refused, Err(ClientError::SecuredTimeout { .. })), "{:?}", refused.err());

    // Another app's key (admitted as that app) cannot register an actor of this app, nor can a
    // tool's key (the daemon's own).
    for (security, who) in [(ClientSecurity::app(other.clone(), &keys.0).unwrap(), "Other"), (keys.tool(), "a tool")] {
        match connect(&daemon, &ctx, "App", "Impostor", security, WAIT) {
            Err(ClientError::Refused(e)) => {
                assert_eq!(e.code, ErrorCode::Invalid, "{who}: {}", e.message);
                assert!(e.message.starts_with("forbidden: "), "{who}: {}", e.message);
            }
            other => panic!("{who}'s key registered an actor of App: {:?}", other.err()),
        }
    }

    // Only the app's two actors are known.
    let seen = listing(&daemon, &keys);
    assert_eq!(actors(&seen), vec![("App".into(), "Consumer".into()), ("App".into(), "Producer".into())]);
    // A plain listing gets nothing either.
    let plain = list_with(&ctx, daemon.endpoint(), REFUSED, &ClientSecurity::None);
    assert!(matches!(plain, Err(ClientError::Timeout { .. })), "{plain:?}");

    // The other app registers as itself.
    let _other = connect(&daemon, &ctx, "Other", "Own", ClientSecurity::app(other, &keys.0).unwrap(), WAIT).unwrap();
    assert_eq!(actors(&listing(&daemon, &keys)).len(), 3);
}

/// A raw client with routing id `id` secured by `keys`, connected to `daemon`.
fn raw_client(
    ctx: &zmq::Context,
    daemon: &DaemonThread,
    keys: &AppKeys,
    daemon_key: &[u8; 32],
    id: &[u8],
) -> zmq::Socket {
    let socket = ctx.socket(zmq::DEALER).unwrap();
    socket.set_identity(id).unwrap();
    socket.set_linger(0).unwrap();
    keys.secure_client(&socket, daemon_key).unwrap();
    socket.connect(daemon.endpoint()).unwrap();
    socket
}

/// Sends `request` with `id` and waits for its reply; `None` after `within`.
fn ask(socket: &zmq::Socket, id: u64, request: ClientRequest, within: Duration) -> Option<DaemonMessage> {
    socket.send(encode(&ClientFrame { version: PROTOCOL_VERSION, id, request }), 0).unwrap();
    let give_up = Instant::now() + within;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        let mut items = [socket.as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap()).unwrap();
        if !items[0].is_readable() {
            return None;
        }
        let message = decode_daemon(&socket.recv_bytes(0).unwrap()).unwrap().message;
        if matches!(message, DaemonMessage::Reply { id: got, .. } if got == id) {
            return Some(message);
        }
    }
}

/// A connection of another app that reuses the routing id of an app's actor is another client:
/// it cannot register providers for the actor the id belonged to.
#[test]
fn a_reused_routing_id_does_not_take_over_another_apps_actor() {
    if !curve_available("a_reused_routing_id_does_not_take_over_another_apps_actor") {
        return;
    }
    let keys = Keys::new("reuse");
    let (app, other) = (keys.app("App"), keys.app("Other"));
    let daemon = secured_daemon(&keys);
    let daemon_key = keys.daemon_key();
    let ctx = zmq::Context::new();
    let id = b"actor-routing-id";

    let first = raw_client(&ctx, &daemon, &app, &daemon_key, id);
    let hello = ClientRequest::Hello { app: "App".into(), actor: "Victim".into(), pid: 1 };
    match ask(&first, 1, hello, WAIT) {
        Some(DaemonMessage::Reply { result: Ok(_), .. }) => {}
        other => panic!("the app's own hello failed: {other:?}"),
    }
    drop(first);

    // The other app's connection with the same routing id: its provide is from an unknown
    // client. The ROUTER ignores a connection with a routing id in use until the first
    // connection's end reaches it, so connect again until answered.
    let provide = || ClientRequest::Provide {
        port: "p.out".into(),
        kind: "pub".into(),
        messages: "T".into(),
        scope: WireScope::Global,
        endpoint: "tcp://127.0.0.1:5999".into(),
    };
    let give_up = Instant::now() + WAIT;
    let mut n = 1;
    let reply = loop {
        let second = raw_client(&ctx, &daemon, &other, &daemon_key, id);
        if let Some(reply) = ask(&second, n, provide(), Duration::from_millis(200)) {
            break reply;
        }
        assert!(Instant::now() < give_up, "the daemon never answered the second connection");
        n += 1;
    };
    match reply {
        DaemonMessage::Reply { result: Err(e), .. } => assert_eq!(e.code, ErrorCode::UnknownClient, "{}", e.message),
        other => panic!("another app's connection acted for App's actor: {other:?}"),
    }
    let seen = listing(&daemon, &keys);
    assert!(seen.actors.iter().all(|a| a.provides.is_empty()), "{seen:?}");
}

/// `cohort keygen` while the daemon runs: the new app's actors are admitted without a restart.
#[test]
fn a_key_made_while_the_daemon_runs_is_admitted() {
    if !curve_available("a_key_made_while_the_daemon_runs_is_admitted") {
        return;
    }
    let keys = Keys::new("late");
    let daemon = secured_daemon(&keys);
    let late = keys.app("Late");
    let ctx = zmq::Context::new();
    let client = connect(&daemon, &ctx, "Late", "A", ClientSecurity::app(late, &keys.0).unwrap(), WAIT);
    assert!(client.is_ok(), "{:?}", client.err());
    assert_eq!(actors(&listing(&daemon, &keys)), vec![("Late".into(), "A".into())]);
}
