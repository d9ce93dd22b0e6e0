#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Malformed and foreign frames, injected with raw ZeroMQ sockets: each is dropped and counted
//! under its reason, and the good message after it still arrives.

mod common;

use std::time::Duration;

use cohort_ports::wire::{self, Flags, BASE_HEADER_LEN};
use cohort_ports::*;
use common::*;

/// Which counter of [`StatsSnapshot`] a refused frame must raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Malformed,
    ForeignVersion,
    WrongType,
    Undecodable,
}

impl Reason {
    fn count(self, s: &StatsSnapshot) -> u64 {
        match self {
            Reason::Malformed => s.malformed,
            Reason::ForeignVersion => s.foreign_version,
            Reason::WrongType => s.wrong_type,
            Reason::Undecodable => s.undecodable,
        }
    }
}

/// A bad message: its ZeroMQ frames and the reason it must be refused for.
struct Bad {
    name: &'static str,
    parts: Vec<Vec<u8>>,
    reason: Reason,
    /// Whether the header passes every check (only the CBOR payload is bad): on a request port,
    /// such a reply ends its request with [`CallError::BadReply`].
    header_ok: bool,
}

/// Every kind of bad message for a port expecting `type_name`, with `seq` where a header has one.
fn bad_messages(type_name: &str, seq: u64) -> Vec<Bad> {
    let good = good_frame(type_name, seq, &Reading::new(1));
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut frame = good.clone();
        f(&mut frame);
        vec![frame]
    };
    let bad = |name, parts, reason| Bad { name, parts, reason, header_ok: false };
    let bad_payload = |name, payload: Vec<u8>| Bad {
        name,
        parts: vec![frame(Flags::empty(), type_name, seq, &payload)],
        reason: Reason::Undecodable,
        header_ok: true,
    };
    let mut timed_without_time = frame(Flags::TIMED, type_name, seq, b"");
    timed_without_time.truncate(BASE_HEADER_LEN);
    let mut trailing = cbor(&Reading::new(1));
    trailing.push(0);
    vec![
        bad("empty frame", vec![vec![]], Reason::Malformed),
        bad("shorter than a header", vec![good[..BASE_HEADER_LEN - 1].to_vec()], Reason::Malformed),
        bad("short, of another version", vec![vec![2, 0]], Reason::ForeignVersion),
        bad("another format version", with(&|f| f[0] = 2), Reason::ForeignVersion),
        bad("not a Cohort frame", vec![b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()], Reason::ForeignVersion),
        bad("unknown flag bits", with(&|f| f[1] |= 0x80), Reason::Malformed),
        bad("timed without its time", vec![timed_without_time], Reason::Malformed),
        bad("another message type", vec![good_frame("Other", seq, &Reading::new(1))], Reason::WrongType),
        bad("an extra ZeroMQ frame", vec![good.clone(), b"extra".to_vec()], Reason::Malformed),
        bad("an empty delimiter first", vec![vec![], good.clone()], Reason::Malformed),
        bad("raw bytes to a typed receive", vec![frame(Flags::RAW, type_name, seq, b"raw")], Reason::Undecodable),
        bad_payload("undecodable CBOR", vec![0xff, 0x00, 0x1c]),
        bad_payload("truncated CBOR", cbor(&Reading::new(1))[..5].to_vec()),
        bad_payload("trailing bytes after the CBOR", trailing),
        bad_payload("CBOR of another shape", cbor(&"a string")),
    ]
}

/// Checks that exactly `reason`'s counter went up by one between two snapshots.
fn counted_once(name: &str, reason: Reason, before: &StatsSnapshot, after: &StatsSnapshot) {
    assert_eq!(reason.count(after), reason.count(before) + 1, "{name}: not counted as {reason:?}");
    assert_eq!(after.dropped(), before.dropped() + 1, "{name}: counted more than once ({after:?})");
    assert_eq!(after.received, before.received, "{name}: counted as received");
}

/// A subscriber connected to a raw PUB drops every bad message, and receives the good one sent
/// after them all.
#[test]
fn subscriber_drops_bad_frames() {
    let env = Env::new("frames-sub");
    let raw = env.factory.context().socket(zmq::PUB).unwrap();
    raw.bind("tcp://127.0.0.1:*").unwrap();
    let mut sub = env.factory.subscriber(&PortSpec::new("s", "in", PortKind::Sub, Scope::Global, "Reading")).unwrap();
    sub.add_endpoint(&bound_endpoint(&raw)).unwrap();

    // Warm up (slow joiner): publish until one arrives, then drain up to the last one sent.
    let mut sent = 0;
    let mut seen = None;
    while seen.is_none() {
        assert!(sent < 500, "the subscriber never got a warm-up message");
        sent += 1;
        send_parts(&raw, &[good_frame("Reading", sent, &Reading::new(0))]);
        if readable_within(sub.socket(), Duration::from_millis(10)) {
            seen = sub.recv::<Reading>().unwrap().map(|m| m.seq);
        }
    }
    while seen != Some(sent) {
        seen = Some(until(&mut sub, "draining the warm-up", |s| s.recv::<Reading>().unwrap()).seq);
    }

    // One at a time: each is refused and counted under its reason.
    for bad in bad_messages("Reading", 1) {
        let before = sub.stats().snapshot();
        send_parts(&raw, &bad.parts);
        wait_readable(sub.socket(), bad.name);
        assert!(sub.recv::<Reading>().unwrap().is_none(), "{}: delivered", bad.name);
        counted_once(bad.name, bad.reason, &before, &sub.stats().snapshot());
    }

    // All at once, then a good one: the first receive skips them all and returns the good one.
    let before = sub.stats().snapshot();
    let all = bad_messages("Reading", 2);
    for bad in &all {
        send_parts(&raw, &bad.parts);
    }
    send_parts(&raw, &[good_frame("Reading", 3, &Reading::new(3))]);
    let got = until(&mut sub, "the good message after the bad ones", |s| s.recv::<Reading>().unwrap());
    assert_eq!((got.value, got.seq), (Reading::new(3), 3));
    let after = sub.stats().snapshot();
    assert_eq!(after.dropped() - before.dropped(), u64::try_from(all.len()).unwrap());
    for reason in [Reason::Malformed, Reason::ForeignVersion, Reason::WrongType, Reason::Undecodable] {
        let expected = all.iter().filter(|b| b.reason == reason).count();
        assert_eq!(reason.count(&after) - reason.count(&before), u64::try_from(expected).unwrap(), "{reason:?}");
    }
}

/// A replier reached by a raw DEALER (and a raw REQ) drops every bad request, answers the good
/// one, and its reply has the documented header.
#[test]
fn replier_drops_bad_frames() {
    let env = Env::new("frames-rep");
    let spec = PortSpec::new("s", "rep", PortKind::Rep, Scope::Local, "Reading").with_reply("Ack");
    let mut rep = env.factory.replier(&spec).unwrap();
    let dealer = env.factory.context().socket(zmq::DEALER).unwrap();
    dealer.connect(rep.endpoint().as_str()).unwrap();

    for bad in bad_messages("Reading", 1) {
        let before = rep.stats().snapshot();
        send_parts(&dealer, &bad.parts);
        wait_readable(rep.socket(), bad.name);
        assert!(rep.recv::<Reading>().unwrap().is_none(), "{}: delivered", bad.name);
        counted_once(bad.name, bad.reason, &before, &rep.stats().snapshot());
    }

    // A REQ socket wraps its message in an envelope: one frame too many.
    let req = env.factory.context().socket(zmq::REQ).unwrap();
    req.connect(rep.endpoint().as_str()).unwrap();
    let before = rep.stats().snapshot();
    send_parts(&req, &[good_frame("Reading", 1, &Reading::new(1))]);
    wait_readable(rep.socket(), "the REQ socket's message");
    assert!(rep.recv::<Reading>().unwrap().is_none());
    counted_once("REQ envelope", Reason::Malformed, &before, &rep.stats().snapshot());

    // A good request after the bad ones arrives and is answered.
    send_parts(&dealer, &[good_frame("Reading", 77, &Reading::new(77))]);
    let request = until(&mut rep, "the good request", |r| r.recv::<Reading>().unwrap());
    assert_eq!((request.message.value, request.token.request_seq()), (Reading::new(77), 77));
    rep.reply(&request.token, &"answer").unwrap();
    wait_readable(&dealer, "the reply");
    let parts = dealer.recv_multipart(0).unwrap();
    assert_eq!(parts.len(), 1, "a reply is one ZeroMQ frame");
    let (header, payload) = wire::read_header(&parts[0]).unwrap();
    assert_eq!((header.type_id, header.seq, header.send_time), (wire::type_id("Ack"), 77, None));
    assert!(header.flags.contains(Flags::FINAL) && !header.flags.contains(Flags::RAW));
    assert_eq!(minicbor_serde::from_slice::<String>(payload).unwrap(), "answer");
}

/// A requester whose provider is a raw ROUTER: bad replies are dropped (a reply whose header is
/// right but whose payload does not decode ends its request with `BadReply`), replies to
/// unknown requests are stale, and good replies still arrive.
#[test]
fn requester_drops_bad_replies() {
    let env = Env::new("frames-req");
    let router = env.factory.context().socket(zmq::ROUTER).unwrap();
    router.bind("tcp://127.0.0.1:*").unwrap();
    let spec = PortSpec::new("c", "req", PortKind::Req, Scope::Global, "Ask").with_reply("Reading");
    let mut req = env.factory.requester(&spec).unwrap();
    req.add_endpoint(&bound_endpoint(&router)).unwrap();

    // Sends a request and returns its id, the requester's identity at the router, and its seq.
    let ask = |req: &mut ReqPort| {
        let id = req.request(&"ask").unwrap();
        wait_readable(&router, "a request at the fake provider");
        let mut parts = router.recv_multipart(0).unwrap();
        assert_eq!(parts.len(), 2, "identity and one frame");
        let (header, payload) = wire::read_header(&parts[1]).unwrap();
        assert_eq!((header.type_id, header.seq), (wire::type_id("Ask"), id.0));
        assert_eq!(minicbor_serde::from_slice::<String>(payload).unwrap(), "ask");
        (id, parts.swap_remove(0))
    };
    let reply = |identity: &[u8], parts: &[Vec<u8>]| {
        let mut all = vec![identity.to_vec()];
        all.extend_from_slice(parts);
        send_parts(&router, &all);
    };

    let mut open = Vec::new();
    for bad in bad_messages("Reading", 0) {
        let (id, identity) = ask(&mut req);
        // The bad message carries the id of the request it pretends to answer.
        let parts: Vec<Vec<u8>> = bad
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let mut part = part.clone();
                if part.len() >= BASE_HEADER_LEN && part[0] == wire::FORMAT_VERSION && i == 0 {
                    part[6..14].copy_from_slice(&id.0.to_le_bytes());
                }
                part
            })
            .collect();
        let before = req.stats().snapshot();
        reply(&identity, &parts);
        wait_readable(req.sockets().next().unwrap(), bad.name);
        let got = req.recv::<Reading>().unwrap();
        if bad.header_ok {
            assert_eq!(got, Some(Response::Failed { id, error: CallError::BadReply, replies: 0 }), "{}", bad.name);
        } else {
            assert_eq!(got, None, "{}: delivered", bad.name);
            open.push((id, identity));
        }
        counted_once(bad.name, bad.reason, &before, &req.stats().snapshot());
    }

    // A well-formed reply to a request this port never made is stale.
    let before = req.stats().snapshot();
    reply(&open[0].1, &[good_frame("Reading", 999_999, &Reading::new(9))]);
    wait_readable(req.sockets().next().unwrap(), "the reply to an unknown request");
    assert!(req.recv::<Reading>().unwrap().is_none());
    let after = req.stats().snapshot();
    assert_eq!((after.stale, after.dropped(), after.received), (before.stale + 1, before.dropped(), before.received));

    // Every request the bad replies left open still gets its good reply.
    assert_eq!(req.outstanding(), open.len());
    for (n, (id, identity)) in open.iter().enumerate() {
        reply(identity, &[good_frame("Reading", id.0, &Reading::new(u32::try_from(n).unwrap()))]);
    }
    for (n, (id, _)) in open.iter().enumerate() {
        match until(&mut req, "a good reply", |r| r.recv::<Reading>().unwrap()) {
            Response::Reply { id: got, message, last: true } => {
                assert_eq!((got, message.value), (*id, Reading::new(u32::try_from(n).unwrap())));
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }
    assert_eq!(req.outstanding(), 0);
}

/// A reply counts only from the provider its request went to: another provider answering with
/// the same request id is stale, and the real reply still arrives.
#[test]
fn requester_takes_replies_only_from_the_provider_asked() {
    let env = Env::new("frames-other-provider");
    let routers: Vec<zmq::Socket> = (0..2)
        .map(|_| {
            let router = env.factory.context().socket(zmq::ROUTER).unwrap();
            router.bind("tcp://127.0.0.1:*").unwrap();
            router
        })
        .collect();
    let spec = PortSpec::new("c", "req", PortKind::Req, Scope::Global, "Ask").with_reply("Reading");
    let mut req = env.factory.requester(&spec).unwrap();
    for router in &routers {
        req.add_endpoint(&bound_endpoint(router)).unwrap();
    }
    // Requests go to the providers in turn: the first to routers[0], the second to routers[1].
    let first = req.request(&"one").unwrap();
    let second = req.request(&"two").unwrap();
    let mut identities = Vec::new();
    for router in &routers {
        wait_readable(router, "a request at a fake provider");
        identities.push(router.recv_multipart(0).unwrap().swap_remove(0));
    }

    // routers[1] answers the request that went to routers[0].
    send_parts(&routers[1], &[identities[1].clone(), good_frame("Reading", first.0, &Reading::new(1))]);
    let other_socket = req.sockets().nth(1).unwrap();
    wait_readable(other_socket, "the misdirected reply");
    assert_eq!(req.recv::<Reading>().unwrap(), None);
    assert_eq!(req.stats().snapshot().stale, 1);
    assert_eq!(req.outstanding(), 2);

    send_parts(&routers[0], &[identities[0].clone(), good_frame("Reading", first.0, &Reading::new(2))]);
    match until(&mut req, "the real reply", |r| r.recv::<Reading>().unwrap()) {
        Response::Reply { id, message, .. } => assert_eq!((id, message.value), (first, Reading::new(2))),
        other => panic!("expected the reply, got {other:?}"),
    }
    assert_eq!(req.outstanding(), 1, "{second} is still open");
}
