#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A subscriber taking CBOR and raw messages from the same publishers (`SubPort::recv_mixed`),
//! and raw payloads sent in two pieces (`PubPort::send_bytes_prefixed`).

mod common;

use cohort_ports::*;
use common::*;

/// What the test's raw reader makes of a raw payload: its first byte must be `b'R'`.
fn read_raw(bytes: &[u8]) -> Result<Vec<u8>, String> {
    match bytes.split_first() {
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
        publisher.send_bytes_prefixed(b"R", b"abc").unwrap();
        publisher.send_bytes(b"Xrefused by the reader").unwrap();
        publisher.send_bytes(b"Rwhole").unwrap();
        publisher.send_bytes_prefixed(b"", b"").unwrap();
        publisher.send_bytes_prefixed(b"R", b"").unwrap();
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
