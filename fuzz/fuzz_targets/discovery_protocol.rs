//! Feeds arbitrary bytes to the discovery protocol: each record of the input (see
//! `cohort_fuzz::records`) is decoded as a client frame and as a daemon frame, and handed to a
//! registry as a frame from one of four clients, after some time has passed (the control byte:
//! bits 0–1 the client, bits 2–7 the time in 100 ms steps, so clients also time out).
//!
//! Nothing may panic. A frame that decodes re-encodes to an equal frame; every frame gets
//! exactly one reply, to its sender, with its id (0 when it does not decode, then with the
//! `Malformed` or `Version` error); every reply and push the daemon would send encodes and
//! decodes back unchanged. Run with `cargo +nightly fuzz run discovery_protocol` (see
//! `docs/fuzzing.md`).

#![no_main]

use std::time::Duration;

use cohort_discovery::protocol::{
    decode_client, decode_daemon, encode, DaemonFrame, DaemonMessage, DecodeError, ErrorCode, PROTOCOL_VERSION,
};
use cohort_discovery::{Effect, Registry, RegistryConfig};
use cohort_fuzz::{client_id, discovery_step, records, DISCOVERY_HOST};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut registry = Registry::new(RegistryConfig::new(DISCOVERY_HOST));
    let mut now = Duration::ZERO;
    for record in records(data) {
        now += discovery_step(record.ctl);
        if registry.next_deadline().is_some_and(|deadline| deadline <= now) {
            check_sendable(&registry.on_tick(now));
        }

        if let Ok(frame) = decode_daemon(record.bytes) {
            assert_eq!(frame.version, PROTOCOL_VERSION);
            assert_eq!(decode_daemon(&encode(&frame)), Ok(frame));
        }
        let client = decode_client(record.bytes);
        if let Ok(frame) = &client {
            assert_eq!(frame.version, PROTOCOL_VERSION);
            assert_eq!(decode_client(&encode(frame)).as_ref(), Ok(frame));
        }

        let from = client_id(record.ctl);
        let effects = registry.on_frame(now, &from, record.bytes);
        let replies: Vec<_> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Reply { to, id, result } => Some((to, *id, result)),
                _ => None,
            })
            .collect();
        assert_eq!(replies.len(), 1, "not one reply: {effects:?}");
        let (to, id, result) = replies[0];
        assert_eq!(to.as_slice(), from.as_slice());
        match &client {
            Ok(frame) => assert_eq!(id, frame.id),
            Err(e) => {
                assert_eq!(id, 0);
                let code = result.as_ref().err().map(|r| r.code);
                let expected = match e {
                    DecodeError::Version { .. } => ErrorCode::Version,
                    DecodeError::Malformed(_) => ErrorCode::Malformed,
                };
                assert_eq!(code, Some(expected));
            }
        }
        check_sendable(&effects);
        let _ = registry.shared();
    }
    // What `cohort ls` would get.
    let listing = registry.listing();
    let frame = DaemonFrame {
        version: PROTOCOL_VERSION,
        message: DaemonMessage::Reply { id: 1, result: Ok(cohort_discovery::protocol::ReplyBody::Listing(listing)) },
    };
    assert_eq!(decode_daemon(&encode(&frame)), Ok(frame));
});

/// Every reply and push, encoded as the daemon sends it, decodes back unchanged.
fn check_sendable(effects: &[Effect]) {
    for effect in effects {
        let message = match effect.clone() {
            Effect::Reply { id, result, .. } => DaemonMessage::Reply { id, result },
            Effect::Push { port, added, removed, .. } => DaemonMessage::Update { port, added, removed },
            Effect::Share(..) | Effect::Unshare(..) => continue,
        };
        let frame = DaemonFrame { version: PROTOCOL_VERSION, message };
        assert_eq!(decode_daemon(&encode(&frame)), Ok(frame));
    }
}
