#![allow(clippy::unwrap_used, clippy::expect_used)]
//! An app secured with CURVE against foreign peers, over real sockets: a subscriber, a
//! requester, a client and a group member without the app's keys receive nothing and are not
//! counted, whether they have no key, another key, or (raw sockets) the app's public key with a
//! keypair of their own. (`cohort keygen`, `disco` and `ls` with keys: `cli/tests/security.rs`.)
//!
//! A libzmq without CURVE (not Cohort's `zmq-sys`) makes the CURVE tests print `SKIPPED` (and
//! check that a secured factory is refused); `COHORT_REQUIRE_CURVE=1`, which `.ci/run` sets,
//! makes them fail instead.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cohort_groups::{GroupConfig, GroupEvent, GroupKey, GroupMember, MemberId};
use cohort_ports::*;

/// How long a test waits for anything it expects before failing.
const WAIT: Duration = Duration::from_secs(10);

/// How long a foreign request waits for its reply.
const NO_REPLY: Duration = Duration::from_millis(300);

#[path = "../../tests/support/curve.rs"]
mod curve;

use curve::{curve_available, log, loopback, Dir};

/// Options for foreign peers: a short send timeout and no linger, so what they cannot deliver
/// neither blocks them nor their closing.
fn foreign_options() -> SocketOptions {
    SocketOptions { send_timeout: Duration::from_millis(100), linger: Duration::ZERO, ..SocketOptions::default() }
}

/// A factory of its own (its own context, as another process has), ipc files under `dir`.
fn factory(dir: &Path, actor: &str, options: SocketOptions, security: Security) -> PortFactory {
    let addressing = Addressing::with_runtime_dir(&loopback(), dir, actor).unwrap();
    PortFactory::new(addressing, options, security, log()).unwrap()
}

/// The app's factory, and foreign ones: with no security, and with another app's keys.
struct Factories {
    app: AppKeys,
    server: PortFactory,
    own: PortFactory,
    plain: PortFactory,
    other: PortFactory,
}

impl Factories {
    fn new(dir: &Path) -> Factories {
        let app = AppKeys::generate().unwrap();
        Factories {
            server: factory(dir, "server", SocketOptions::default(), Security::Curve(app.clone())),
            own: factory(dir, "own", SocketOptions::default(), Security::Curve(app.clone())),
            plain: factory(dir, "plain", foreign_options(), Security::None),
            other: factory(dir, "other", foreign_options(), Security::Curve(AppKeys::generate().unwrap())),
            app,
        }
    }
}

/// A raw socket of a peer that knows the app's public key (it is no secret) but not its secret
/// key: it presents a keypair of its own and expects the app's key as the server's. A monitor
/// reports its handshakes.
struct Impostor {
    socket: zmq::Socket,
    monitor: zmq::Socket,
}

impl Impostor {
    fn new(kind: zmq::SocketType, app: &AppKeys) -> Impostor {
        static MONITORS: AtomicUsize = AtomicUsize::new(0);
        let ctx = zmq::Context::new();
        let socket = ctx.socket(kind).unwrap();
        socket.set_linger(0).unwrap();
        socket.set_sndtimeo(100).unwrap();
        if kind == zmq::SUB {
            socket.set_subscribe(b"").unwrap();
        }
        AppKeys::generate().unwrap().secure_client(&socket, &app.public_key()).unwrap();
        let endpoint = format!("inproc://impostor-monitor-{}", MONITORS.fetch_add(1, Ordering::Relaxed));
        let events = [
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED,
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH,
            zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL,
            zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL,
        ];
        socket.monitor(&endpoint, events.iter().map(|e| i32::from(e.to_raw())).fold(0, |a, b| a | b)).unwrap();
        let monitor = ctx.socket(zmq::PAIR).unwrap();
        monitor.connect(&endpoint).unwrap();
        Impostor { socket, monitor }
    }

    /// The next handshake event, waiting up to `within`.
    fn event(&self, within: Duration) -> Option<zmq::SocketEvent> {
        let mut items = [self.monitor.as_poll_item(zmq::POLLIN)];
        zmq::poll(&mut items, i64::try_from(within.as_millis()).unwrap()).unwrap();
        if !items[0].is_readable() {
            return None;
        }
        let frames = self.monitor.recv_multipart(0).unwrap();
        Some(zmq::SocketEvent::from_raw(u16::from_le_bytes([frames[0][0], frames[0][1]])))
    }

    /// Waits until the server's ZAP handler refuses the handshake; fails if it succeeds.
    fn refused(&self) {
        match self.event(WAIT) {
            Some(zmq::SocketEvent::HANDSHAKE_FAILED_AUTH) => {}
            other => panic!("expected the app's ZAP handler to refuse the impostor, got {other:?}"),
        }
    }

    /// Checks that no handshake succeeded since [`Impostor::refused`].
    fn never_got_in(&self) {
        while let Some(event) = self.event(Duration::ZERO) {
            assert_ne!(event, zmq::SocketEvent::HANDSHAKE_SUCCEEDED, "the impostor completed a handshake");
        }
    }
}

fn readable_within(socket: &zmq::Socket, within: Duration) -> bool {
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    zmq::poll(&mut items, i64::try_from(within.as_millis()).unwrap()).unwrap();
    items[0].is_readable()
}

/// Over tcp and ipc: the app's own subscriber gets every message; subscribers with no key or
/// another key, and an impostor with the app's public key, get none.
#[test]
fn a_foreign_subscriber_receives_nothing() {
    if !curve_available("a_foreign_subscriber_receives_nothing") {
        return;
    }
    let dir = Dir::new("sub");
    let f = Factories::new(&dir.0);
    for scope in [Scope::Global, Scope::Local] {
        let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "T");
        let mut publisher = f.server.publisher(&spec("p", PortKind::Pub)).unwrap();
        let mut foreign: Vec<SubPort> = [&f.plain, &f.other]
            .iter()
            .map(|factory| {
                let mut s = factory.subscriber(&spec("s", PortKind::Sub)).unwrap();
                s.add_endpoint(publisher.endpoint()).unwrap();
                s
            })
            .collect();
        let impostor = Impostor::new(zmq::SUB, &f.app);
        impostor.socket.connect(publisher.endpoint().as_str()).unwrap();
        impostor.refused();

        // The app's own subscriber: publish until it hears, then a numbered run it gets whole.
        let mut own = f.own.subscriber(&spec("s", PortKind::Sub)).unwrap();
        own.add_endpoint(publisher.endpoint()).unwrap();
        let give_up = Instant::now() + WAIT;
        while !readable_within(own.socket(), Duration::from_millis(10)) {
            assert!(Instant::now() < give_up, "the app's own subscriber never heard over {}", scope.name());
            publisher.send(&0u32).unwrap();
        }
        for n in 1..=20u32 {
            publisher.send(&n).unwrap();
        }
        let mut last = 0;
        while last != 20 {
            assert!(Instant::now() < give_up, "the app's own subscriber missed messages over {}", scope.name());
            match own.recv::<u32>().unwrap() {
                Some(m) => last = m.value,
                None => {
                    readable_within(own.socket(), Duration::from_millis(100));
                }
            }
        }

        for s in &mut foreign {
            assert!(s.recv_bytes().unwrap().is_none(), "a foreign subscriber got a message over {}", scope.name());
            assert_eq!(s.stats().snapshot().received, 0);
        }
        assert_eq!(impostor.socket.recv_bytes(zmq::DONTWAIT), Err(zmq::Error::EAGAIN));
        impostor.never_got_in();
    }
}

/// Waits until `req` reports the end of a request.
fn end_of(req: &mut ReqPort) -> Response<u32> {
    let give_up = Instant::now() + WAIT;
    loop {
        if let Some(response) = req.recv::<u32>().unwrap() {
            return response;
        }
        assert!(Instant::now() < give_up, "a request never ended");
        let mut items: Vec<_> = req.sockets().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        zmq::poll(&mut items, 20).unwrap();
    }
}

/// A foreign `req` (no key, another key) gets no reply: its request ends in `TimedOut` (or
/// cannot even be sent). A foreign `clt` call returns within its timeout, without a reply. An
/// impostor is refused. The server receives only the app's own request.
#[test]
fn a_foreign_requester_or_client_gets_no_reply() {
    if !curve_available("a_foreign_requester_or_client_gets_no_reply") {
        return;
    }
    let dir = Dir::new("req");
    let f = Factories::new(&dir.0);
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, Scope::Global, "Q").with_reply("A");
    let mut rep = f.server.replier(&spec("rep", PortKind::Rep)).unwrap();
    let mut srv = f.server.replier(&spec("srv", PortKind::Srv)).unwrap();

    for foreign in [&f.plain, &f.other] {
        let mut req = foreign.requester(&spec("c", PortKind::Req)).unwrap();
        req.add_endpoint(rep.endpoint()).unwrap();
        let started = Instant::now();
        // The request ends at its deadline, or at once with `ProviderGone` when the requester's
        // socket monitor sees the connection close after the failed handshake; or it cannot be
        // sent at all (the handshake already failed: no provider is up, or the send waits out
        // its timeout on a socket libzmq left without a peer).
        match req.request_within(&"let me in", NO_REPLY) {
            Ok(id) => match end_of(&mut req) {
                Response::Failed { id: got, error: CallError::ProviderGone, replies: 0 } => assert_eq!(got, id),
                Response::Failed { id: got, error, replies: 0 } => {
                    assert_eq!((got, error), (id, CallError::TimedOut(NO_REPLY)));
                    assert!(started.elapsed() >= NO_REPLY);
                }
                other => panic!("a foreign request got through: {other:?}"),
            },
            Err(PortError::SendTimeout(_) | PortError::NoProvider) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
        assert!(started.elapsed() < WAIT, "a foreign request hung");

        let mut clt = foreign.client(&spec("c", PortKind::Clt)).unwrap();
        clt.add_endpoint(srv.endpoint()).unwrap();
        let started = Instant::now();
        match clt.call_within::<_, u32>(&"let me in", NO_REPLY) {
            Err(PortError::Call(CallError::TimedOut(t))) => assert_eq!(t, NO_REPLY),
            Err(PortError::Call(CallError::ProviderGone) | PortError::SendTimeout(_) | PortError::NoProvider) => {}
            other => panic!("a foreign call did not fail as it should: {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(2), "a foreign call took {:?}", started.elapsed());
    }
    for server in [&rep, &srv] {
        let impostor = Impostor::new(zmq::DEALER, &f.app);
        impostor.socket.connect(server.endpoint().as_str()).unwrap();
        impostor.refused();
        impostor.never_got_in();
    }

    // The app's own requester is answered, and is all the server ever heard.
    let mut req = f.own.requester(&spec("c", PortKind::Req)).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    let id = req.request(&"mine").unwrap();
    let give_up = Instant::now() + WAIT;
    let request = loop {
        if let Some(r) = rep.recv::<String>().unwrap() {
            break r;
        }
        assert!(Instant::now() < give_up, "the app's own request never arrived");
        readable_within(rep.socket(), Duration::from_millis(100));
    };
    assert_eq!(request.message.value, "mine");
    rep.reply(&request.token, &7u32).unwrap();
    match end_of(&mut req) {
        Response::Reply { id: got, message, .. } => assert_eq!((got, message.value), (id, 7)),
        other => panic!("the app's own request failed: {other:?}"),
    }
    for server in [&rep, &srv] {
        let seen = server.stats().snapshot();
        assert_eq!((seen.malformed, seen.foreign_version, seen.undecodable), (0, 0, 0), "{seen:?}");
    }
    assert_eq!(rep.stats().snapshot().received, 1);
    assert!(srv.recv::<String>().unwrap().is_none());
    assert_eq!(srv.stats().snapshot().received, 0);
}

fn group_key() -> GroupKey {
    GroupKey { app: "App".into(), group_type: "G".into(), instance: "one".into(), message: "Msg".into() }
}

/// Group members of the app and foreign ones (another key; no key) in one mesh, as discovery
/// would make it: the app's members elect a leader among themselves and hear each other's
/// messages; the foreign members hear nothing and nobody counts them.
#[test]
fn a_foreign_group_member_hears_nothing_and_is_not_counted() {
    if !curve_available("a_foreign_group_member_hears_nothing_and_is_not_counted") {
        return;
    }
    let dir = Dir::new("group");
    let app = AppKeys::generate().unwrap();
    let config = GroupConfig::default().with_heartbeat(Duration::from_millis(50));
    let mut factories: Vec<PortFactory> = (0..3)
        .map(|i| factory(&dir.0, &format!("m{i}"), SocketOptions::default(), Security::Curve(app.clone())))
        .collect();
    factories.push(factory(&dir.0, "other", foreign_options(), Security::Curve(AppKeys::generate().unwrap())));
    factories.push(factory(&dir.0, "plain", foreign_options(), Security::None));
    let mut members: Vec<GroupMember> =
        factories.iter().map(|f| GroupMember::join(f, group_key(), config, log()).unwrap()).collect();
    let endpoints: Vec<Endpoint> = members.iter().map(|m| m.publisher_endpoint().clone()).collect();
    for m in &mut members {
        for e in &endpoints {
            m.add_peer(e).unwrap();
        }
    }
    let ids: Vec<MemberId> = members.iter().map(GroupMember::id).collect();
    let (real, foreign) = ids.split_at(3);
    let mut real_sorted = real.to_vec();
    real_sorted.sort_unstable();
    let mut events: Vec<Vec<GroupEvent>> = vec![Vec::new(); members.len()];

    let step = |members: &mut Vec<GroupMember>, events: &mut Vec<Vec<GroupEvent>>| {
        for (i, m) in members.iter_mut().enumerate() {
            events[i].extend(m.poll(Instant::now()));
        }
        let now = Instant::now();
        let wake = members.iter().map(GroupMember::next_deadline).min().unwrap_or(now);
        let wait = wake.saturating_duration_since(now).min(Duration::from_millis(50));
        let sockets: Vec<&zmq::Socket> = members.iter().flat_map(GroupMember::sockets).collect();
        let mut items: Vec<_> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        zmq::poll(&mut items, i64::try_from(wait.as_millis()).unwrap() + 1).unwrap();
    };

    // The app's members agree on a leader among themselves, with the three of them.
    let give_up = Instant::now() + WAIT;
    loop {
        step(&mut members, &mut events);
        let leaders: Vec<Option<MemberId>> = members[..3].iter().map(|m| m.core().leader()).collect();
        let agreed = leaders[0].is_some_and(|l| real.contains(&l)) && leaders.iter().all(|l| *l == leaders[0]);
        if agreed && members[..3].iter().all(|m| m.core().members() == real_sorted) {
            break;
        }
        assert!(Instant::now() < give_up, "the app's members never agreed: {leaders:?}");
    }

    // Member 0 publishes ten messages; the other two hear all of them.
    for n in 0..10u8 {
        members[0].send(&[n]).unwrap();
    }
    let heard = |events: &[GroupEvent]| {
        events.iter().filter(|e| matches!(e, GroupEvent::Message { from, .. } if *from == ids[0])).count()
    };
    let give_up = Instant::now() + WAIT;
    while heard(&events[1]) < 10 || heard(&events[2]) < 10 {
        assert!(Instant::now() < give_up, "the app's members did not hear each other");
        step(&mut members, &mut events);
    }

    for (i, id) in foreign.iter().enumerate() {
        let m = &members[3 + i];
        assert_eq!(m.core().members(), vec![*id], "a foreign member heard of others");
        for event in &events[3 + i] {
            match event {
                GroupEvent::Message { .. } => panic!("a foreign member received a group message: {event:?}"),
                GroupEvent::MemberJoined(who) | GroupEvent::LeaderElected(who) => {
                    assert_eq!(who, id, "a foreign member heard of {who:?}");
                }
                _ => {}
            }
        }
    }
    for (i, m) in members[..3].iter().enumerate() {
        assert_eq!(m.core().members(), real_sorted);
        for event in &events[i] {
            if let GroupEvent::MemberJoined(who) | GroupEvent::Message { from: who, .. } = event {
                assert!(real.contains(who), "member {i} counted a foreign member");
            }
        }
    }
}
