#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Socket options: the factory applies every option to every socket it makes (heartbeats only
//! off inproc), and the options take effect: default deadlines, send timeouts, message size.

mod common;

use std::time::{Duration, Instant};

use cohort_ports::*;
use common::*;

fn custom() -> SocketOptions {
    SocketOptions {
        send_timeout: Duration::from_millis(750),
        send_hwm: 123,
        recv_hwm: 456,
        heartbeat_interval: Duration::from_millis(250),
        heartbeat_timeout: Duration::from_millis(900),
        // Sent in units of 100 ms, so it is rounded down to 1200.
        heartbeat_ttl: Duration::from_millis(1250),
        max_message_size: 4096,
        linger: Duration::from_millis(50),
        reconnect_interval: Duration::from_millis(70),
        request_timeout: Duration::from_secs(2),
        publish_no_drop: false,
        batch_size: 65536,
    }
}

/// Checks the options `socket` reports; heartbeats are expected only when `heartbeats`.
fn check(socket: &zmq::Socket, heartbeats: bool, what: &str) {
    let got = (
        socket.get_sndtimeo().unwrap(),
        socket.get_sndhwm().unwrap(),
        socket.get_rcvhwm().unwrap(),
        socket.get_maxmsgsize().unwrap(),
        socket.get_linger().unwrap(),
        socket.get_reconnect_ivl().unwrap(),
    );
    assert_eq!(
        got,
        (750, 123, 456, 4096, 50, 70),
        "{what}: (sndtimeo, sndhwm, rcvhwm, maxmsgsize, linger, reconnect_ivl)"
    );
    let beats = (
        socket.get_heartbeat_ivl().unwrap(),
        socket.get_heartbeat_timeout().unwrap(),
        socket.get_heartbeat_ttl().unwrap(),
    );
    let expected = if heartbeats { (250, 900, 1200) } else { (0, -1, 0) };
    assert_eq!(beats, expected, "{what}: (heartbeat ivl, timeout, ttl)");
}

#[test]
fn factory_applies_the_options_to_every_socket() {
    let env = Env::with("options", custom(), Security::None).unwrap();
    let f = &env.factory;
    assert_eq!(f.options(), &custom());
    for scope in SCOPES {
        let remote = scope != Scope::Internal;
        let spec = |owner: &str, kind| PortSpec::new(owner, scope.name(), kind, scope, "M");
        let sub = f.subscriber(&spec("sub", PortKind::Sub)).unwrap();
        check(sub.socket(), remote, &format!("sub over {}", scope.name()));
        let rep = f.replier(&spec("rep", PortKind::Rep)).unwrap();
        check(rep.socket(), remote, &format!("rep over {}", scope.name()));
        let mut req = f.requester(&spec("req", PortKind::Req)).unwrap();
        req.add_endpoint(rep.endpoint()).unwrap();
        check(req.sockets().next().unwrap(), remote, &format!("req over {}", scope.name()));
        let leader = f.hub(&spec("leader", PortKind::GroupLeader)).unwrap();
        check(leader.socket(), remote, &format!("group leader over {}", scope.name()));
        let member = f.member(&spec("member", PortKind::GroupMember), PeerId::random()).unwrap();
        check(member.socket(), remote, &format!("group member over {}", scope.name()));
        // An inside port and its plugs are inproc whatever the scope: no heartbeats.
        let ins = f.hub(&spec("ins", PortKind::Ins)).unwrap();
        check(ins.socket(), false, "ins");
        check(ins.plug().unwrap().socket(), false, "ins plug");
    }
}

#[test]
fn zero_heartbeat_interval_turns_heartbeats_off() {
    let options = SocketOptions { heartbeat_interval: Duration::ZERO, ..custom() };
    let env = Env::with("no-heartbeats", options, Security::None).unwrap();
    let rep = env.factory.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Global, "M")).unwrap();
    check(rep.socket(), false, "rep over tcp without heartbeats");
}

/// `request` uses the default deadline of the options; `request_within` its own.
#[test]
fn default_request_deadline_comes_from_the_options() {
    let env = Env::with("default-deadline", custom(), Security::None).unwrap();
    let rep = env.factory.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Internal, "M")).unwrap();
    let mut req = env.factory.requester(&PortSpec::new("c", "req", PortKind::Req, Scope::Internal, "M")).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    let before = Instant::now();
    req.request(&1u8).unwrap();
    let deadline = req.next_deadline().unwrap();
    assert!(deadline >= before + custom().request_timeout && deadline <= Instant::now() + custom().request_timeout);
}

/// When a provider cannot take more, a request fails with `SendTimeout` after the send timeout
/// instead of blocking.
#[test]
fn send_times_out_when_the_queue_is_full() {
    let options = SocketOptions {
        send_timeout: Duration::from_millis(100),
        send_hwm: 1,
        recv_hwm: 1,
        linger: Duration::ZERO,
        ..SocketOptions::default()
    };
    let env = Env::with("send-timeout", options, Security::None).unwrap();
    let mut req = env.factory.requester(&PortSpec::new("c", "req", PortKind::Req, Scope::Local, "M")).unwrap();
    // Nothing is bound there: requests queue up for a provider that never comes.
    let nowhere = Endpoint::parse(&format!("ipc://{}/nobody.sock", env.dir.display())).unwrap();
    req.add_endpoint(&nowhere).unwrap();
    let mut queued = 0;
    loop {
        let started = Instant::now();
        match req.request(&queued) {
            Ok(_) => queued += 1,
            Err(PortError::SendTimeout(t)) => {
                assert_eq!(t, Duration::from_millis(100));
                assert!(started.elapsed() >= Duration::from_millis(90), "gave up after {:?}", started.elapsed());
                break;
            }
            Err(e) => panic!("expected a send timeout, got {e}"),
        }
        assert!(queued < 100, "the queue never filled");
    }
    assert_eq!(req.outstanding(), queued);
    assert_eq!(req.stats().snapshot().sent, u64::try_from(queued).unwrap());
}

/// A message bigger than `max_message_size` is not delivered (the receiver drops the
/// connection, so the request ends at once as `ProviderGone`), and the port works again once
/// the sender reconnects.
#[test]
fn oversized_messages_are_not_delivered() {
    let options = SocketOptions { max_message_size: 1024, ..SocketOptions::default() };
    let env = Env::with("max-size", options, Security::None).unwrap();
    let mut rep = env.factory.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Global, "M")).unwrap();
    let mut req = env.factory.requester(&PortSpec::new("c", "req", PortKind::Req, Scope::Global, "M")).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    let timeout = Duration::from_millis(200);
    let big = req.request_within(&serde_bytes::ByteBuf::from(vec![7; 2000]), timeout).unwrap();
    match until(&mut req, "the end of the oversized request", |r| r.recv::<u8>().unwrap()) {
        Response::Failed { id, error, replies: 0 } => assert_eq!((id, error), (big, CallError::ProviderGone)),
        other => panic!("expected the oversized request to end with its connection, got {other:?}"),
    }
    assert!(rep.recv_bytes().unwrap().is_none(), "the oversized request was delivered");
    assert_eq!(rep.stats().snapshot().received, 0);

    // Until the connection is back, the only provider takes no request.
    let small = until(&mut req, "the connection back", |r| {
        match r.request_within(&serde_bytes::ByteBuf::from(vec![7; 100]), WAIT) {
            Ok(id) => Some(id),
            Err(PortError::NoProvider) => None,
            Err(e) => panic!("sending the small request: {e}"),
        }
    });
    let request = until(&mut rep, "the small request", |r| r.recv::<serde_bytes::ByteBuf>().unwrap());
    assert_eq!((request.token.request_seq(), request.message.value.len()), (small.0, 100));
    rep.reply(&request.token, &1u8).unwrap();
    assert!(
        matches!(until(&mut req, "the reply", |r| r.recv::<u8>().unwrap()), Response::Reply { id, .. } if id == small)
    );
}

/// A batch size below one byte is refused when a socket is made, with what was being set.
#[test]
fn a_batch_size_below_one_byte_is_refused() {
    let options = SocketOptions { batch_size: 0, ..SocketOptions::default() };
    let env = Env::with("batch-zero", options, Security::None).unwrap();
    let refused = env.factory.subscriber(&PortSpec::new("s", "sub", PortKind::Sub, Scope::Local, "M"));
    match refused {
        Err(e @ PortError::Zmq { source: zmq::Error::EINVAL, .. }) => {
            assert!(e.to_string().contains("batch size to 0 bytes"), "{e}");
        }
        Err(e) => panic!("expected EINVAL, got {e}"),
        Ok(_) => panic!("a batch size of 0 was taken"),
    }
}
