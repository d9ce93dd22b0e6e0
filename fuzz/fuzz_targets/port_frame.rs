//! Feeds arbitrary bytes to the ports' frame decoder, as one ZeroMQ frame arriving at a port:
//! the header check, the message type check, the CBOR payload decoded into each of a few
//! message types (a struct with a float, an enum with every kind of variant, a tuple, a byte
//! string, a sequence of structs, a string) and the raw receive.
//!
//! Nothing may panic. A frame a typed receive accepts has the expected type and no `RAW` flag,
//! and the decoded value, sent again, is received as the same value; a frame the raw receive
//! accepts has a good header and its payload is the rest of the frame. Run with
//! `cargo +nightly fuzz run port_frame` (see `docs/fuzzing.md`).

#![no_main]

use cohort_fuzz::{port_frame, port_types, Command, Reading, Tuple};
use cohort_ports::wire::{self, Flags, FrameError, MessageType, BASE_HEADER_LEN, TIMED_HEADER_LEN};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|data: &[u8]| {
    let types = port_types();
    let header = wire::read_header(data);
    typed::<Reading>(data, &types[0]);
    typed::<Command>(data, &types[1]);
    typed::<Tuple>(data, &types[2]);
    typed::<serde_bytes::ByteBuf>(data, &types[3]);
    typed::<Vec<Reading>>(data, &types[4]);
    typed::<String>(data, &types[5]);
    for ty in &types {
        raw(data, ty, &header);
    }
});

/// A typed receive of `ty` as `T`.
fn typed<T: Serialize + DeserializeOwned + std::fmt::Debug>(frame: &[u8], ty: &MessageType) {
    match wire::decode_for_fuzz::<T>(frame, ty) {
        Ok((header, value)) => {
            assert_eq!(header.type_id, ty.id());
            assert!(!header.flags.contains(Flags::RAW));
            assert_eq!(header.send_time.is_some(), header.flags.contains(Flags::TIMED));
            // Sent again (as a port sends it), the value is received again, and its encoding is
            // the same the second time (floats compare by encoding, so NaN is fine).
            let once = cohort_fuzz::cbor(&value);
            let frame = port_frame(header.flags, ty.name(), header.seq, &once);
            match wire::decode_for_fuzz::<T>(&frame, ty) {
                Ok((_, again)) => assert_eq!(cohort_fuzz::cbor(&again), once, "{value:?} re-encodes differently"),
                Err(e) => panic!("{value:?} does not decode after encoding: {e}"),
            }
        }
        Err(e) => {
            // Every refusal has a message for the port's log.
            assert!(!e.to_string().is_empty());
            if let FrameError::TooShort { len, needed } = e {
                assert!(len < needed && (needed == BASE_HEADER_LEN || needed == TIMED_HEADER_LEN));
            }
        }
    }
}

/// A `*_bytes` receive of `ty`: accepted exactly when the header is good and of type `ty`, and
/// then the payload is what follows the header.
fn raw(frame: &[u8], ty: &MessageType, header: &Result<(wire::Header, &[u8]), FrameError>) {
    let result = wire::payload_for_fuzz(frame, ty);
    match (header, &result) {
        (Ok((h, payload)), Ok((h2, payload2))) => {
            assert_eq!(h, h2);
            assert_eq!(h.type_id, ty.id());
            assert_eq!(payload, payload2);
            let len = if h.flags.contains(Flags::TIMED) { TIMED_HEADER_LEN } else { BASE_HEADER_LEN };
            assert_eq!(&frame[len..], *payload);
        }
        (Ok((h, _)), Err(FrameError::WrongType { found, expected, .. })) => {
            assert_eq!((*found, *expected), (h.type_id, ty.id()));
            assert_ne!(h.type_id, ty.id());
        }
        (Err(e), Err(e2)) => assert_eq!(e, e2),
        (h, r) => panic!("the header reads as {h:?} but the raw receive gives {r:?}"),
    }
}
