#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A subscriber taking CBOR and raw messages from the same publishers (`SubPort::recv_mixed`),
//! and bare frames (`PubPort::send_bare`), which only group subscribers take.

mod common;

use cohort_ports::*;
use common::*;

/// What the test's raw reader makes of a raw payload: its first byte must be `b'R'`.
fn read_raw(bytes: RawPayload<'_>) -> Result<Vec<u8>, String> {
    match bytes.as_bytes().split_first() {
        Some((b'R', rest)) => Ok(rest.to_vec()),
        _ => Err("not an R frame".to_owned()),
    }
}

fn next(subscriber: &mut SubPort) -> Received<Mixed<Reading, Vec<u8>>> {
    until(subscriber, "a mixed message", |s| s.recv_mixed::<Reading, _>(read_raw).unwrap())
}

#[test]
fn typed_and_raw_messages_arrive_in_order_and_bad_ones_are_refused() {
    for (scope, timed) in [(Scope::Internal, false), (Scope::Global, true)] {
        let env = Env::new(&format!("mixed-{scope:?}"));
        let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Reading").timed(timed);
        let mut publisher = env.factory.publisher(&spec("sender", PortKind::Pub)).unwrap();
        let mut subscriber = env.factory.subscriber(&spec("receiver", PortKind::Sub)).unwrap();
        subscriber.add_endpoint(publisher.endpoint()).unwrap();
        join(&mut publisher, &mut subscriber);
        let before = subscriber.stats().snapshot();

        publisher.send(&Reading::new(1)).unwrap();
        publisher.send_bytes(b"Rabc").unwrap();
        publisher.send_bytes(b"Xrefused by the reader").unwrap();
        publisher.send_bytes(b"Rwhole").unwrap();
        publisher.send_bytes(b"").unwrap();
        publisher.send_bytes(b"R").unwrap();
        publisher.send(&Reading::new(2)).unwrap();

        let got = next(&mut subscriber);
        assert_eq!(got.value, Mixed::Typed(Reading::new(1)));
        check_times(&got, timed);
        let got = next(&mut subscriber);
        assert_eq!(got.value, Mixed::Raw(b"abc".to_vec()));
        check_times(&got, timed);
        assert_eq!(next(&mut subscriber).value, Mixed::Raw(b"whole".to_vec()));
        assert_eq!(next(&mut subscriber).value, Mixed::Raw(Vec::new()));
        assert_eq!(next(&mut subscriber).value, Mixed::Typed(Reading::new(2)));
        let after = subscriber.stats().snapshot();
        assert_eq!(after.undecodable - before.undecodable, 2, "the X frame and the empty one");
        assert_eq!(after.received - before.received, 5);
        assert!(subscriber.recv_mixed::<Reading, _>(read_raw).unwrap().is_none());
    }
}

/// Bare frames reach a group subscriber's byte receives, in order with the port frames around
/// them, as unnumbered raw payloads; a plain subscriber refuses them as of another type.
#[test]
fn bare_frames_reach_group_subscribers_only() {
    let env = Env::new("mixed-bare");
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, Scope::Global, "Reading");
    let mut publisher = env.factory.publisher(&spec("sender", PortKind::GroupPub)).unwrap();
    let mut group = env.factory.subscriber(&spec("member", PortKind::GroupSub)).unwrap();
    let mut plain = env.factory.subscriber(&spec("other", PortKind::Sub)).unwrap();
    // The group subscriber joins last, so no warm-up message of the other's join is left for it.
    for subscriber in [&mut plain, &mut group] {
        subscriber.add_endpoint(publisher.endpoint()).unwrap();
        join(&mut publisher, subscriber);
    }
    let (group_before, plain_before) = (group.stats().snapshot(), plain.stats().snapshot());

    publisher.send(&Reading::new(1)).unwrap();
    publisher.send_bare(b"R", b"abc").unwrap();
    publisher.send_bare(b"", b"").unwrap();
    publisher.send_bare(b"R", b"").unwrap();
    publisher.send_bare(b"Rby", b"tes").unwrap();
    publisher.send(&Reading::new(2)).unwrap();

    let got = next(&mut group);
    assert_eq!(got.value, Mixed::Typed(Reading::new(1)));
    assert_ne!(got.seq, 0, "a port frame is numbered");
    let got = next(&mut group);
    assert_eq!((got.value, got.seq, got.send_time), (Mixed::Raw(b"abc".to_vec()), 0, None));
    assert_eq!(next(&mut group).value, Mixed::Raw(Vec::new()));
    let got = until(&mut group, "a bare frame's bytes", |s| s.recv_bytes().unwrap().map(|r| (r.value.to_vec(), r.seq)));
    assert_eq!(got, (b"Rbytes".to_vec(), 0));
    assert_eq!(next(&mut group).value, Mixed::Typed(Reading::new(2)));
    let after = group.stats().snapshot();
    assert_eq!(after.undecodable - group_before.undecodable, 1, "the empty bare frame, turned down by the reader");
    assert_eq!(after.received - group_before.received, 5);

    assert_eq!(next(&mut plain).value, Mixed::Typed(Reading::new(1)));
    assert_eq!(next(&mut plain).value, Mixed::Typed(Reading::new(2)));
    let after = plain.stats().snapshot();
    assert_eq!(after.wrong_type - plain_before.wrong_type, 4, "every bare frame");
    assert_eq!(after.received - plain_before.received, 2);
}

#[test]
fn cbor_that_does_not_decode_is_refused() {
    let env = Env::new("mixed-cbor");
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, Scope::Internal, "Reading");
    let mut publisher = env.factory.publisher(&spec("sender", PortKind::Pub)).unwrap();
    let mut subscriber = env.factory.subscriber(&spec("receiver", PortKind::Sub)).unwrap();
    subscriber.add_endpoint(publisher.endpoint()).unwrap();
    join(&mut publisher, &mut subscriber);
    let before = subscriber.stats().snapshot();
    publisher.send("not a reading").unwrap();
    publisher.send_bytes(b"Rafter").unwrap();
    assert_eq!(next(&mut subscriber).value, Mixed::Raw(b"after".to_vec()));
    let after = subscriber.stats().snapshot();
    assert_eq!((after.undecodable - before.undecodable, after.received - before.received), (1, 1));
}

/// Frames that are not well-formed messages of the port's type are refused by a mixed receive
/// under the same reasons as by the other receives, and the good message after them arrives.
#[test]
fn bad_frames_are_refused_by_a_mixed_receive() {
    use cohort_ports::wire::{Flags, BASE_HEADER_LEN};
    let env = Env::new("mixed-bad");
    let raw = env.factory.context().socket(zmq::PUB).unwrap();
    raw.bind("tcp://127.0.0.1:*").unwrap();
    let mut sub = env.factory.subscriber(&PortSpec::new("s", "in", PortKind::Sub, Scope::Global, "Reading")).unwrap();
    sub.add_endpoint(&bound_endpoint(&raw)).unwrap();
    // Warm up (slow joiner): publish until one arrives, then drain up to the last one sent.
    let mut sent: u64 = 0;
    let mut seen = None;
    while seen.is_none() {
        assert!(sent < 500, "the subscriber never got a warm-up message");
        sent += 1;
        send_parts(&raw, &[frame(Flags::RAW, "Reading", sent, b"Rwarm")]);
        if readable_within(sub.socket(), std::time::Duration::from_millis(10)) {
            seen = sub.recv_mixed::<Reading, _>(read_raw).unwrap().map(|m| m.seq);
        }
    }
    while seen != Some(sent) {
        seen = Some(next(&mut sub).seq);
    }

    let before = sub.stats().snapshot();
    let good = frame(Flags::RAW, "Reading", 1, b"Rgood");
    let bad: Vec<Vec<Vec<u8>>> = vec![
        vec![vec![]],
        vec![good[..BASE_HEADER_LEN - 1].to_vec()],
        vec![good.clone(), b"extra".to_vec()],
        vec![frame(Flags::RAW.with(Flags::TIMED), "Reading", 1, b"")[..BASE_HEADER_LEN].to_vec()],
        vec![{
            let mut f = good.clone();
            f[1] |= 0x80;
            f
        }],
        vec![{
            let mut f = good.clone();
            f[0] = 2;
            f
        }],
        vec![frame(Flags::RAW, "Other", 1, b"Rother")],
        vec![frame(Flags::RAW, "Reading", 1, b"Xnot for the reader")],
        vec![frame(Flags::empty(), "Reading", 1, &[0xff, 0x00])],
    ];
    for parts in &bad {
        send_parts(&raw, parts);
    }
    send_parts(&raw, &[good]);
    assert_eq!(next(&mut sub).value, Mixed::Raw(b"good".to_vec()));
    let after = sub.stats().snapshot();
    let counts = |s: &StatsSnapshot| (s.malformed, s.foreign_version, s.wrong_type, s.undecodable, s.received);
    let (m, f, w, u, r) = counts(&after);
    let (m0, f0, w0, u0, r0) = counts(&before);
    assert_eq!((m - m0, f - f0, w - w0, u - u0, r - r0), (5, 1, 1, 2, 1));
}
