#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The quick, in-suite version of the `discovery_protocol` fuzz target (`fuzz/`, see
//! `docs/fuzzing.md`): valid client and daemon frames of every kind, mutated at the byte level
//! (bit flips, truncation, inserted and deleted bytes, splices of two frames, overwritten bytes),
//! are decoded both ways and sent to a registry.
//!
//! Nothing panics; a frame decodes to one that encodes back to an equal frame, or is refused as
//! malformed or of another version; cut or extended frames are refused; the registry answers
//! every frame with exactly one reply to its sender (id 0 and an error when it does not decode),
//! and after any amount of garbage a new actor is still welcomed, registers a provider and is
//! found by a lookup.
//!
//! Runs are reproducible (fixed seed unless `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES`
//! replaces the case counts).

#[path = "../../tests/support/mutation.rs"]
mod mutation;

use mutation::{apply_all, config, mutations};

use std::sync::OnceLock;
use std::time::Duration;

use cohort_discovery::protocol::{
    decode_client, decode_daemon, encode, ClientFrame, ClientRequest, DaemonFrame, DaemonMessage, DecodeError,
    ErrorCode, ErrorReply, Listing, ReplyBody, WireScope, PROTOCOL_VERSION,
};
use cohort_discovery::{Effect, Registry, RegistryConfig};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// Valid frames
// ---------------------------------------------------------------------------------------------

fn client(id: u64, request: ClientRequest) -> Vec<u8> {
    encode(&ClientFrame { version: PROTOCOL_VERSION, id, request })
}

fn daemon(message: DaemonMessage) -> Vec<u8> {
    encode(&DaemonFrame { version: PROTOCOL_VERSION, message })
}

/// Valid client frames of every request and daemon frames of every message, made once.
fn valid() -> &'static [Vec<u8>] {
    static VALID: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    VALID.get_or_init(|| {
        let provide = ClientRequest::Provide {
            port: "s.out".into(),
            kind: "pub".into(),
            messages: "M".into(),
            scope: WireScope::Global,
            endpoint: "tcp://10.0.0.1:5000".into(),
        };
        let lookup = ClientRequest::Lookup {
            port: "r.in".into(),
            kind: "sub".into(),
            messages: "M".into(),
            scope: WireScope::Local,
        };
        let requests = [
            ClientRequest::Hello { app: "App".into(), actor: "Sender".into(), pid: 4242 },
            ClientRequest::Goodbye,
            provide,
            ClientRequest::Withdraw { endpoint: "ipc:///tmp/x".into() },
            lookup,
            ClientRequest::Unlookup { port: "r.in".into() },
            ClientRequest::Heartbeat,
            ClientRequest::List,
        ];
        let mut frames: Vec<Vec<u8>> =
            requests.into_iter().enumerate().map(|(i, r)| client(i as u64 * 1000 + 1, r)).collect();
        let replies = [
            Ok(ReplyBody::Done),
            Ok(ReplyBody::Welcome { heartbeat_ms: 500, timeout_ms: 2000 }),
            Ok(ReplyBody::Endpoints(vec!["tcp://10.0.0.1:5000".into(), "inproc://x".into()])),
            Ok(ReplyBody::Listing(Listing { actors: Vec::new(), remote: Vec::new() })),
            Err(ErrorReply { code: ErrorCode::Invalid, message: "no".into() }),
        ];
        for (id, result) in replies.into_iter().enumerate() {
            frames.push(daemon(DaemonMessage::Reply { id: id as u64, result }));
        }
        frames.push(daemon(DaemonMessage::Update {
            port: "r.in".into(),
            added: vec!["tcp://10.0.0.2:1".into()],
            removed: vec!["tcp://10.0.0.3:1".into()],
        }));
        frames
    })
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Bytes that mean something in CBOR (major types, lengths, break, floats).
const INTERESTING: &[u8] =
    &[0x00, 0x01, 0x02, 0x17, 0x18, 0x1b, 0x1f, 0x3f, 0x5f, 0x7f, 0x9f, 0xa1, 0xbf, 0xf6, 0xfb, 0xff];

/// A valid frame with one to four mutations.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), mutations(INTERESTING, 10)).prop_map(|(which, mutations)| {
        apply_all(which.get(valid()).clone(), &mutations, &|i: &Index| i.get(valid()).as_slice())
    })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Decodes `bytes` both ways: each decodes to a frame of this version that encodes back to an
/// equal frame, or is refused. Returns the client frame's outcome.
fn decode_both(bytes: &[u8]) -> Result<Result<ClientFrame, DecodeError>, TestCaseError> {
    let client = decode_client(bytes);
    if let Ok(frame) = &client {
        prop_assert_eq!(frame.version, PROTOCOL_VERSION);
        let again = decode_client(&encode(frame));
        prop_assert_eq!(again.as_ref(), Ok(frame));
    }
    if let Ok(frame) = decode_daemon(bytes) {
        prop_assert_eq!(frame.version, PROTOCOL_VERSION);
        prop_assert_eq!(decode_daemon(&encode(&frame)), Ok(frame));
    }
    Ok(client)
}

fn registry() -> Registry {
    Registry::new(RegistryConfig::new("h1"))
}

/// Sends `bytes` from `from` and checks that exactly one reply goes back to it, with the frame's
/// id, or id 0 and the decode error when the frame does not decode.
fn send(r: &mut Registry, now: Duration, from: &[u8], bytes: &[u8]) -> Result<Vec<Effect>, TestCaseError> {
    let decoded = decode_both(bytes)?;
    let effects = r.on_frame(now, from, bytes);
    let replies: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reply { to, id, result } => Some((to, *id, result)),
            _ => None,
        })
        .collect();
    prop_assert_eq!(replies.len(), 1, "{:?}", effects);
    let (to, id, result) = replies[0];
    prop_assert_eq!(to.as_slice(), from);
    match decoded {
        Ok(frame) => prop_assert_eq!(id, frame.id),
        Err(e) => {
            prop_assert_eq!(id, 0);
            let expected = match e {
                DecodeError::Version { .. } => ErrorCode::Version,
                DecodeError::Malformed(_) => ErrorCode::Malformed,
            };
            prop_assert_eq!(result.as_ref().err().map(|e| e.code), Some(expected));
        }
    }
    Ok(effects)
}

/// The reply to request `id` among `effects`.
fn reply(effects: &[Effect], id: u64) -> Option<&Result<ReplyBody, ErrorReply>> {
    effects.iter().find_map(|e| match e {
        Effect::Reply { id: i, result, .. } if *i == id => Some(result),
        _ => None,
    })
}

#[test]
fn valid_frames_decode_one_way() {
    for bytes in valid() {
        let (c, d) = (decode_client(bytes), decode_daemon(bytes));
        assert!(c.is_ok() != d.is_ok(), "{c:?} / {d:?}");
    }
}

proptest! {
    #![proptest_config(config(500, 0x00c0_4047_f024))]

    /// Mutated frames decode to sound frames or are refused, never panic.
    #[test]
    fn mutated_frames_decode_or_are_refused(bytes in mutated()) {
        decode_both(&bytes)?.ok();
    }

    /// A frame cut short, or with bytes after it, is refused.
    #[test]
    fn cut_and_extended_frames_are_refused(
        which in any::<Index>(),
        at in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let bytes = which.get(valid());
        let cut = &bytes[..at.index(bytes.len())];
        prop_assert!(decode_client(cut).is_err() && decode_daemon(cut).is_err(), "{} of {} bytes decode", cut.len(), bytes.len());
        let mut extended = bytes.clone();
        extended.extend_from_slice(&extra);
        prop_assert!(decode_client(&extended).is_err() && decode_daemon(&extended).is_err(), "{:?} decodes", extended);
    }

    /// After any garbage from four clients, every frame having had its one reply, a new actor
    /// is welcomed, registers a provider and is found by another new actor's lookup.
    #[test]
    fn the_registry_keeps_working_after_garbage(
        garbage in prop::collection::vec((0..4u8, mutated()), 1..24),
    ) {
        let mut r = registry();
        let mut now = Duration::ZERO;
        for (client, bytes) in &garbage {
            now += Duration::from_millis(10);
            send(&mut r, now, &[b'g', *client], bytes)?;
        }
        let (provider, consumer) = (b"new-provider".as_slice(), b"new-consumer".as_slice());
        let hello = |actor: &str| ClientRequest::Hello { app: "App".into(), actor: actor.into(), pid: 1 };
        let effects = send(&mut r, now, provider, &client(1, hello("P")))?;
        prop_assert_eq!(reply(&effects, 1), Some(&Ok(ReplyBody::Welcome { heartbeat_ms: 500, timeout_ms: 2000 })));
        let endpoint = "tcp://10.9.9.9:7000";
        let provide = ClientRequest::Provide {
            port: "p.out".into(),
            kind: "pub".into(),
            messages: "Fresh".into(),
            scope: WireScope::Global,
            endpoint: endpoint.into(),
        };
        let effects = send(&mut r, now, provider, &client(2, provide))?;
        prop_assert_eq!(reply(&effects, 2), Some(&Ok(ReplyBody::Done)));
        send(&mut r, now, consumer, &client(3, hello("C")))?;
        let lookup =
            ClientRequest::Lookup { port: "c.in".into(), kind: "sub".into(), messages: "Fresh".into(), scope: WireScope::Global };
        let effects = send(&mut r, now, consumer, &client(4, lookup))?;
        match reply(&effects, 4) {
            Some(Ok(ReplyBody::Endpoints(endpoints))) => prop_assert!(endpoints.iter().any(|e| e == endpoint), "{:?}", endpoints),
            other => prop_assert!(false, "lookup answered {:?}", other),
        }
        r.listing();
        r.on_tick(now + Duration::from_secs(10));
    }
}
