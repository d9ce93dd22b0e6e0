#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The quick, in-suite version of the `port_frame` fuzz target (`fuzz/`, see `docs/fuzzing.md`):
//! valid frames of several message types (structs, enums, tuples, byte strings, sequences,
//! strings, raw bytes; plain, timed and final), mutated at the byte level (bit flips,
//! truncation, inserted and deleted bytes, splices of two frames, overwritten bytes), are
//! received as a typed receive and a raw receive of every type would receive them.
//!
//! Nothing panics; a frame is refused with a reason or accepted as a well-formed frame of the
//! expected type, whose value, sent again, is received again; damage to the header and to the
//! payload is refused with its own reason.
//!
//! Runs are reproducible (fixed seed unless `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES`
//! replaces the case counts).

#[path = "../../tests/support/mutation.rs"]
mod mutation;

use mutation::{apply_all, config, mutations};

use cohort_ports::wire::{self, Flags, FrameError, MessageType, BASE_HEADER_LEN, TIMED_HEADER_LEN};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Message types and valid frames
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    id: u64,
    value: f64,
    name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Command {
    Stop,
    Set(i64),
    Move { x: i32, y: i32 },
    Pair(String, #[serde(with = "serde_bytes")] Vec<u8>),
}

type Tuple = (u8, i64, Option<bool>, Vec<String>);

/// The types' names, as in the model.
const TYPES: [&str; 7] = ["Reading", "Command", "Tuple", "Blob", "Batch", "Text", "Raw"];

fn cbor<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    minicbor_serde::to_vec(value).unwrap()
}

fn frame(flags: Flags, type_name: &str, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    wire::write_header(&mut frame, flags, wire::type_id(type_name), seq);
    frame.extend_from_slice(payload);
    frame
}

/// A valid frame: its type's name and its bytes.
#[derive(Debug)]
struct Valid {
    type_name: &'static str,
    bytes: Vec<u8>,
}

/// Valid frames of every type, plain, timed and final, made once.
fn valid() -> &'static [Valid] {
    static VALID: OnceLock<Vec<Valid>> = OnceLock::new();
    VALID.get_or_init(|| {
        let reading = Reading { id: 7, value: 21.5, name: "t1".into() };
        let payloads: Vec<(&str, Vec<u8>)> = vec![
            ("Reading", cbor(&reading)),
            ("Command", cbor(&Command::Stop)),
            ("Command", cbor(&Command::Set(-3))),
            ("Command", cbor(&Command::Move { x: 1, y: -1 })),
            ("Command", cbor(&Command::Pair("k".into(), vec![0, 255]))),
            ("Tuple", cbor(&(1u8, -9i64, Some(true), vec!["a".to_string(), "bc".into()]))),
            ("Blob", cbor(&serde_bytes::Bytes::new(b"\x00\x01bytes"))),
            ("Batch", cbor(&vec![reading.clone(), Reading { id: 8, value: -0.0, name: String::new() }])),
            ("Text", cbor("héllo")),
        ];
        let mut frames: Vec<Valid> = payloads
            .into_iter()
            .enumerate()
            .map(|(i, (type_name, payload))| {
                let flags = [Flags::empty(), Flags::TIMED, Flags::FINAL][i % 3];
                Valid { type_name, bytes: frame(flags, type_name, i as u64, &payload) }
            })
            .collect();
        frames.push(Valid { type_name: "Raw", bytes: frame(Flags::RAW, "Raw", 1, b"raw bytes") });
        frames.push(Valid { type_name: "Raw", bytes: frame(Flags::RAW.with(Flags::TIMED), "Raw", u64::MAX, b"") });
        frames
    })
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

/// What a receive made of a frame.
#[derive(Debug)]
enum Outcome {
    Accepted,
    Refused(FrameError),
}

/// A typed receive of `type_name` as `T`: refused with a reason, or accepted with the expected
/// type, no `RAW` flag, and a value that is received again when sent again.
fn typed<T: Serialize + DeserializeOwned + std::fmt::Debug>(
    bytes: &[u8],
    type_name: &str,
) -> Result<Outcome, TestCaseError> {
    let ty = MessageType::new(type_name);
    match wire::decode_for_fuzz::<T>(bytes, &ty) {
        Ok((header, value)) => {
            prop_assert_eq!(header.type_id, ty.id());
            prop_assert!(!header.flags.contains(Flags::RAW));
            prop_assert_eq!(header.send_time.is_some(), header.flags.contains(Flags::TIMED));
            let once = cbor(&value);
            let again = wire::decode_for_fuzz::<T>(&frame(header.flags, type_name, header.seq, &once), &ty);
            let again = again.map_err(|e| TestCaseError::fail(format!("{value:?} sent again is refused: {e}")))?;
            prop_assert_eq!(cbor(&again.1), once, "{:?} is received differently when sent again", value);
            Ok(Outcome::Accepted)
        }
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            Ok(Outcome::Refused(e))
        }
    }
}

/// Every receive of every type: returns the outcome of the typed receive of `type_name` (the
/// raw receive for `Raw`).
fn receive_all(bytes: &[u8], type_name: &str) -> Result<Outcome, TestCaseError> {
    let mut outcomes = vec![
        typed::<Reading>(bytes, "Reading")?,
        typed::<Command>(bytes, "Command")?,
        typed::<Tuple>(bytes, "Tuple")?,
        typed::<serde_bytes::ByteBuf>(bytes, "Blob")?,
        typed::<Vec<Reading>>(bytes, "Batch")?,
        typed::<String>(bytes, "Text")?,
    ];
    let header = wire::read_header(bytes);
    for name in TYPES {
        let ty = MessageType::new(name);
        let raw = wire::payload_for_fuzz(bytes, &ty);
        match (&header, &raw) {
            (Ok((h, payload)), Ok((h2, payload2))) => {
                prop_assert_eq!(h, h2);
                prop_assert_eq!(h.type_id, ty.id());
                prop_assert_eq!(payload, payload2);
                let len = if h.flags.contains(Flags::TIMED) { TIMED_HEADER_LEN } else { BASE_HEADER_LEN };
                prop_assert_eq!(&bytes[len..], *payload);
            }
            (Ok((h, _)), Err(FrameError::WrongType { found, .. })) => prop_assert_eq!(*found, h.type_id),
            (Err(e), Err(e2)) => prop_assert_eq!(e, e2),
            (h, r) => prop_assert!(false, "header {:?} but raw receive {:?}", h, r),
        }
        if name == "Raw" {
            outcomes.push(match raw {
                Ok(_) => Outcome::Accepted,
                Err(e) => Outcome::Refused(e),
            });
        }
    }
    let index = TYPES.iter().position(|n| *n == type_name).unwrap();
    Ok(outcomes.swap_remove(index))
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Bytes that mean something in a header or in CBOR (major types, lengths, break, floats).
const INTERESTING: &[u8] =
    &[0x00, 0x01, 0x02, 0x04, 0x07, 0x17, 0x18, 0x1b, 0x1f, 0x3f, 0x5f, 0x7f, 0x9f, 0xbf, 0xf9, 0xfb, 0xff];

fn valid_frame() -> impl Strategy<Value = &'static Valid> {
    any::<Index>().prop_map(|i| i.get(valid()))
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_frames_are_accepted_as_their_type() {
    for v in valid() {
        assert!(matches!(receive_all(&v.bytes, v.type_name).unwrap(), Outcome::Accepted), "{}", v.type_name);
    }
}

proptest! {
    #![proptest_config(config(500, 0x00c0_4047_f023))]

    /// Any mutation: no panic, and every receive refuses with a reason or accepts a sound frame.
    #[test]
    fn mutated_frames_are_refused_or_sound(v in valid_frame(), mutations in mutations(INTERESTING, 10)) {
        let bytes = apply_all(v.bytes.clone(), &mutations, &|i: &Index| i.get(valid()).bytes.as_slice());
        receive_all(&bytes, v.type_name)?;
    }

    /// A frame cut short is refused: inside the header as too short, after it as a payload
    /// that does not decode (a CBOR value has no complete prefix).
    #[test]
    fn truncated_frames_are_refused(v in valid_frame(), at in any::<Index>()) {
        prop_assume!(v.type_name != "Raw");
        let cut = &v.bytes[..at.index(v.bytes.len())];
        let header_len = if wire::read_header(&v.bytes).unwrap().0.flags.contains(Flags::TIMED) {
            TIMED_HEADER_LEN
        } else {
            BASE_HEADER_LEN
        };
        match receive_all(cut, v.type_name)? {
            Outcome::Refused(FrameError::TooShort { len, .. }) => prop_assert!(len < header_len),
            Outcome::Refused(FrameError::Payload(_)) => prop_assert!(cut.len() >= header_len),
            other => prop_assert!(false, "{} bytes of {}: {:?}", cut.len(), v.type_name, other),
        }
    }

    /// Bytes after a typed frame's value are refused as trailing bytes.
    #[test]
    fn trailing_bytes_are_refused(v in valid_frame(), extra in prop::collection::vec(any::<u8>(), 1..16)) {
        prop_assume!(v.type_name != "Raw");
        let mut bytes = v.bytes.clone();
        bytes.extend_from_slice(&extra);
        let outcome = receive_all(&bytes, v.type_name)?;
        prop_assert!(matches!(&outcome, Outcome::Refused(FrameError::Payload(m)) if m.contains("trailing")), "{:?}", outcome);
    }

    /// A header with another version, unknown flag bits or another type is refused for that.
    #[test]
    fn damaged_headers_are_refused_for_their_damage(v in valid_frame(), byte in 0..6usize, bit in 0..8u8) {
        let mut bytes = v.bytes.clone();
        bytes[byte] ^= 1 << bit;
        let outcome = receive_all(&bytes, v.type_name)?;
        match byte {
            0 => prop_assert!(matches!(outcome, Outcome::Refused(FrameError::Version { .. })), "{:?}", outcome),
            1 if bit >= 3 => prop_assert!(matches!(outcome, Outcome::Refused(FrameError::UnknownFlags { .. })), "{:?}", outcome),
            1 => {} // TIMED, RAW or FINAL toggled: another well-formed header, or a short one
            _ => prop_assert!(matches!(outcome, Outcome::Refused(FrameError::WrongType { .. })), "{:?}", outcome),
        }
    }
}
