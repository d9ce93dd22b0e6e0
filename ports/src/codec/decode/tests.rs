//! The decoder and the encoder against minicbor-serde's, which they replaced: the encoder writes
//! the same bytes, the decoder gives the same values from them, and the same answer (a value, or an error) for any other input, except for
//! the differences the module documents.

use std::collections::BTreeMap;
use std::fmt::{self, Debug, Write as _};

use proptest::prelude::*;
use serde::de::{DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::from_slice;

/// minicbor-serde's decoder, as `codec::decode` used it: trailing bytes are an error.
fn minicbor_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut de = minicbor_serde::Deserializer::new(bytes);
    let value = T::deserialize(&mut de).map_err(|e| e.to_string())?;
    match bytes.len() - de.decoder().position() {
        0 => Ok(value),
        n => Err(format!("{n} trailing bytes after the value")),
    }
}

/// Whether both decoders give the same answer for `bytes` as a `T`: the same value (compared
/// by `Debug`, which tells `-0.0` from `0.0` and shows NaN), or both an error. Where only
/// minicbor-serde accepts, the input must be one the module documents: a stray break in an
/// ignored value.
fn agreement<T: DeserializeOwned + Debug>(bytes: &[u8]) -> Result<(), String> {
    match (from_slice::<T>(bytes), minicbor_decode::<T>(bytes)) {
        (Ok(ours), Ok(theirs)) if format!("{ours:?}") == format!("{theirs:?}") => Ok(()),
        (Err(_), Err(_)) => Ok(()),
        (Err(ours), Ok(_)) if ours.to_string().contains("stray break") => Ok(()),
        (ours, theirs) => {
            Err(format!("{} {bytes:02x?}: ours {ours:?}, minicbor-serde {theirs:?}", std::any::type_name::<T>()))
        }
    }
}

/// Encodes `value` as `codec::encode` does and checks that both decoders give it back.
fn round_trip<T: Serialize + DeserializeOwned + Debug>(value: &T) {
    let mut bytes = Vec::new();
    crate::codec::encode(value, &mut bytes).unwrap();
    // Our encoder writes exactly minicbor-serde's bytes.
    assert_eq!(bytes, minicbor_serde::to_vec(value).unwrap(), "{value:?}");
    let ours = from_slice::<T>(&bytes).unwrap_or_else(|e| panic!("{value:?} {bytes:02x?}: {e}"));
    assert_eq!(format!("{ours:?}"), format!("{value:?}"), "{bytes:02x?}");
    assert_eq!(format!("{:?}", minicbor_decode::<T>(&bytes).unwrap()), format!("{value:?}"), "{bytes:02x?}");
    // And the same trace of visits through `deserialize_any`.
    let (ours, theirs) = (from_slice::<Trace>(&bytes), minicbor_decode::<Trace>(&bytes));
    assert_eq!(ours.ok(), theirs.ok(), "{value:?} {bytes:02x?}");
}

/// The benchmark's message.
#[derive(Serialize, Deserialize, Debug)]
struct Bench {
    kind: u8,
    seq: u64,
    value: f64,
    sensor: String,
    unit: String,
}

/// An enum with every kind of variant.
#[derive(Serialize, Deserialize, Debug)]
enum Every {
    Unit,
    Newtype(i64),
    NewtypeUnit(()),
    Tuple(u8, String),
    Struct { x: f32, next: Option<Box<Every>> },
}

/// A unit struct.
#[derive(Serialize, Deserialize, Debug)]
struct Marker;

/// A newtype struct.
#[derive(Serialize, Deserialize, Debug)]
struct Meters(f64);

/// A tuple struct.
#[derive(Serialize, Deserialize, Debug)]
struct Point(i32, i32, char);

/// A struct whose fields may all be missing, so that unknown fields (ignored values) and
/// partial maps decode.
#[derive(Serialize, Deserialize, Debug, Default)]
#[serde(default)]
struct Loose {
    a: Option<i16>,
    b: Vec<char>,
    c: Option<ByteBuf>,
    d: Option<(u8, f32)>,
    e: Option<()>,
    f: Option<i128>,
}

/// What `deserialize_any` reports, visit by visit, so that two decoders can be compared
/// call for call (which visit method, borrowed or not, and in what nesting).
#[derive(Debug, PartialEq)]
struct Trace(String);

impl<'de> Deserialize<'de> for Trace {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(TraceVisitor).map(Trace)
    }
}

/// The visitor behind [`Trace`].
struct TraceVisitor;

/// Visit methods that record their name and value.
macro_rules! trace {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method<E: serde::de::Error>(self, v: $ty) -> Result<String, E> {
            Ok(format!("{} {v:?}", stringify!($method)))
        })*
    };
}

impl<'de> Visitor<'de> for TraceVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }

    trace!(visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32, visit_i64: i64, visit_i128: i128,
        visit_u8: u8, visit_u16: u16, visit_u32: u32, visit_u64: u64, visit_u128: u128, visit_f32: f32,
        visit_f64: f64, visit_str: &str, visit_borrowed_str: &'de str, visit_string: String,
        visit_bytes: &[u8], visit_borrowed_bytes: &'de [u8], visit_byte_buf: Vec<u8>);

    fn visit_none<E: serde::de::Error>(self) -> Result<String, E> {
        Ok("none".into())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Ok("unit".into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut out = format!("seq {:?} [", seq.size_hint());
        while let Some(Trace(item)) = seq.next_element()? {
            let _ = write!(out, "{item}, ");
        }
        Ok(out + "]")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let mut out = format!("map {:?} {{", map.size_hint());
        while let Some((Trace(k), Trace(v))) = map.next_entry()? {
            let _ = write!(out, "{k}: {v}, ");
        }
        Ok(out + "}")
    }
}

#[test]
fn decodes_what_the_encoder_writes_as_minicbor_serde_does() {
    round_trip(&Bench { kind: 1, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".into(), unit: "degC".into() });
    let every = vec![
        Every::Unit,
        Every::Newtype(i64::MIN),
        Every::NewtypeUnit(()),
        Every::Tuple(255, "é😀".into()),
        Every::Struct { x: -0.0, next: Some(Box::new(Every::Struct { x: f32::NAN, next: None })) },
    ];
    round_trip(&every);
    for e in every {
        round_trip(&e);
    }
    round_trip(&(Marker, Meters(-1.25), Point(i32::MIN, i32::MAX, '😀'), ()));
    round_trip(&(None::<u8>, Some(7u8), Some(Some(())), Some(Every::Unit)));
    round_trip(&(u8::MAX, u16::MAX, u32::MAX, u64::MAX, i8::MIN, i16::MIN, i32::MIN, i64::MIN, i64::MAX));
    round_trip(&(0u8, 23u8, 24u8, -1i8, -24i8, -25i8, -128i16, -129i16, -32_769i32, -2_147_483_649i64));
    round_trip(&(i128::MIN, i128::MAX, u128::MAX, u128::from(u64::MAX) + 1, -i128::from(u64::MAX) - 1));
    round_trip(&(i128::from(u64::MAX), -i128::from(u64::MAX), 0u128, -1i128));
    round_trip(&[0.0f32, -0.0, 1.5, f32::MAX, f32::MIN_POSITIVE, f32::INFINITY, f32::NAN]);
    round_trip(&[0.0f64, -0.0, 21.5, f64::MAX, f64::MIN_POSITIVE, f64::NEG_INFINITY, f64::NAN, 1e-310]);
    round_trip(&('a', 'é', '😀', '\0', true, false));
    round_trip(&(String::new(), "x".repeat(300), "é".repeat(40), "ascii then é".to_string()));
    round_trip(&(ByteBuf::new(), ByteBuf::from(vec![0xff; 300]), vec![1u8, 2, 3], [9u8; 3]));
    round_trip(&BTreeMap::from([("k".to_string(), vec![Some(1.5f64), None]), ("".into(), vec![])]));
    round_trip(&BTreeMap::from([(1u64, vec![true]), (u64::MAX, vec![])]));
    round_trip(&vec![Some(BTreeMap::from([(String::from("a"), vec![Every::Unit, Every::Newtype(-3)])])), None]);
    round_trip(&Loose {
        a: Some(-300),
        b: vec!['x', 'ÿ'],
        c: Some(ByteBuf::from(vec![1])),
        d: Some((1, 2.5)),
        e: Some(()),
        f: Some(i128::MIN),
    });
    round_trip(&Loose::default());
    round_trip(&(
        minicbor_serde::tag::Required::<24, String>::new("tagged".into()),
        minicbor_serde::tag::Optional::<7, u8>::tagged(1),
        minicbor_serde::tag::Optional::<7, u8>::untagged(2),
        minicbor_serde::tag::Any::tagged(minicbor::data::Tag::new(1000), vec![1u16]),
        minicbor_serde::tag::Any::untagged(-1i8),
    ));
}

/// Inputs the encoder does not write (other widths, indefinite lengths, other types, bad
/// data), each read as every target type by both decoders.
const ODD_INPUTS: &[&[u8]] = &[
    // Integers: long forms, edges of i8…i64, out of range, reserved widths.
    b"\x18\x05",
    b"\x19\x00\x05",
    b"\x1a\x00\x00\x01\x00",
    b"\x1b\x00\x00\x00\x00\x00\x00\x00\x05",
    b"\x1c",
    b"\x38\x7f",
    b"\x38\x80",
    b"\x39\x00\x05",
    b"\x39\x7f\xff",
    b"\x39\x80\x00",
    b"\x3a\x80\x00\x00\x00",
    b"\x3b\x7f\xff\xff\xff\xff\xff\xff\xff",
    b"\x3b\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\x3b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x38",
    b"\x19\x01",
    // Floats and simple values.
    b"\xf9\x3c\x00",
    b"\xfa\x3f\xc0\x00\x00",
    b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00",
    b"\xfa\x3f",
    b"\xf7",
    b"\xf8\x20",
    b"\xe0",
    b"\xff",
    b"\xfc",
    b"\xf4",
    b"\xf5",
    b"\xf6",
    // Strings: long lengths, indefinite, bad chunks, bad UTF-8.
    b"\x78\x01a",
    b"\x79\x00\x01a",
    b"\x7f\x61a\x61b\xff",
    b"\x7f\xff",
    b"\x5f\x41\x01\x42\x02\x03\xff",
    b"\x7f\x41\x01\xff",
    b"\x7f\x7f\xff\xff",
    b"\x61\xff",
    b"\x62\xc3\xa9",
    b"\x7f\x61\xc3\x61\xa9\xff",
    b"\x41",
    b"\x7b\xff\xff\xff\xff\xff\xff\xff\xff",
    // Arrays and maps: indefinite, long lengths, odd entries, unit.
    b"\x80",
    b"\x98\x00",
    b"\x9f\xff",
    b"\x9f\x01\x02\xff",
    b"\x82\x01",
    b"\x9f\x01",
    b"\xa0",
    b"\xbf\xff",
    b"\xbf\x61a\x01\xff",
    b"\xbf\x61a\xff",
    b"\xb8\x01\x61a\x01",
    b"\x9b\xff\xff\xff\xff\xff\xff\xff\xff",
    // Tags: bignums, others, nested.
    b"\xc2\x41\x01",
    b"\xc2\x40",
    b"\xc3\x40",
    b"\xc3\x50\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\xc2\x51\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\xc2\x51\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\xc6",
    b"\xc6\x01",
    b"\xd8\x20\x60",
    b"\xc6\xc6\x01",
    b"\xdc",
    // Enums: names alone, in maps, with the map left out, non-canonical map lengths.
    b"\x64Unit",
    b"\xa1\x64Unit\x80",
    b"\x67Newtype\x05",
    b"\xa1\x67Newtype\x05",
    b"\xb8\x01\x67Newtype\x05",
    b"\xa2\x67Newtype\x05",
    b"\x9f\xbf\x64Unit\xff",
    b"\x65Tuple\x82\x01\x60",
    b"\xa1\x65Tuple\x83\x01\x60\x60",
    b"\x66Struct\xa1\x61x\xfa\x3f\x80\x00\x00",
    b"\xbf\x64Unit\xff",
    // Structs: unknown fields with values of every kind, stray breaks, repeated fields.
    b"\xa1\x61z\x9f\x01\x82\x02\xbf\xff\xff",
    b"\xa1\x61z\xc6\xa1\x01\x02",
    b"\xa1\x61z\xff",
    b"\xa1\x61z\x82\xff\x01",
    b"\xa1\x61z\xbf\x01\xff",
    b"\xa1\x61z\x7f\x61a\xff",
    b"\xa1\x61z\xf9\x00\x00",
    b"\xa1\x61z\xfc",
    b"\xa1\x61z\x61\xff",
    b"\xa2\x61a\x01\x61a\x02",
    b"\xa1\x61\xff\x01",
    b"\xa1\x01\x01",
    b"\x80\x00",
];

/// Reads `bytes` as every target type with both decoders.
fn agreement_for_all(bytes: &[u8]) -> Result<(), String> {
    agreement::<Bench>(bytes)?;
    agreement::<Every>(bytes)?;
    agreement::<Vec<Every>>(bytes)?;
    agreement::<Loose>(bytes)?;
    agreement::<Trace>(bytes)?;
    agreement::<(Marker, Meters, Point)>(bytes)?;
    agreement::<Option<Vec<i32>>>(bytes)?;
    agreement::<BTreeMap<String, Option<f64>>>(bytes)?;
    agreement::<(u8, i8, u64, i64, i128, u128, char)>(bytes)?;
    agreement::<(f32, f64, bool, (), String, ByteBuf)>(bytes)?;
    agreement::<u8>(bytes)?;
    agreement::<u16>(bytes)?;
    agreement::<u32>(bytes)?;
    agreement::<u64>(bytes)?;
    agreement::<u128>(bytes)?;
    agreement::<i8>(bytes)?;
    agreement::<i16>(bytes)?;
    agreement::<i32>(bytes)?;
    agreement::<i64>(bytes)?;
    agreement::<i128>(bytes)?;
    agreement::<char>(bytes)?;
    agreement::<f32>(bytes)?;
    agreement::<f64>(bytes)?;
    agreement::<bool>(bytes)?;
    agreement::<()>(bytes)?;
    agreement::<Marker>(bytes)?;
    agreement::<String>(bytes)?;
    agreement::<ByteBuf>(bytes)?;
    agreement::<Option<u8>>(bytes)?;
    agreement::<serde::de::IgnoredAny>(bytes)?;
    agreement::<minicbor_serde::tag::Any<Loose>>(bytes)?;
    agreement::<minicbor_serde::tag::Optional<7, u8>>(bytes)?;
    Ok(())
}

#[test]
fn reads_other_inputs_as_minicbor_serde_does() {
    for bytes in ODD_INPUTS {
        agreement_for_all(bytes).unwrap();
        // And inside an array, followed by another item.
        agreement_for_all(&[&[0x82], *bytes, &[0x00]].concat()).unwrap();
        agreement::<(Trace, u8)>(&[&[0x82], *bytes, &[0x00]].concat()).unwrap();
    }
}

#[test]
fn the_documented_differences() {
    // A stray break as an ignored value: minicbor's `skip` reads it as an item.
    for bytes in [&b"\xa1\x61z\xff"[..], b"\xa1\x61z\x82\xff\x01", b"\xa1\x61z\xbf\x01\xff"] {
        assert!(minicbor_decode::<Loose>(bytes).is_ok(), "{bytes:02x?}");
        assert!(from_slice::<Loose>(bytes).unwrap_err().to_string().contains("stray break"), "{bytes:02x?}");
    }
    // Nesting beyond MAX_DEPTH, read or ignored.
    let deep = |levels: usize| [vec![0x81; levels], vec![0x00]].concat();
    let max = super::MAX_DEPTH as usize;
    assert!(from_slice::<Trace>(&deep(max)).is_ok());
    assert!(minicbor_decode::<Trace>(&deep(max + 1)).is_ok());
    assert!(from_slice::<Trace>(&deep(max + 1)).unwrap_err().to_string().contains("nested too deeply"));
    // (The struct's map is one level.)
    let ignored = |levels: usize| [&b"\xa1\x61z"[..], &deep(levels)].concat();
    assert!(from_slice::<Loose>(&ignored(max - 1)).is_ok());
    assert!(minicbor_decode::<Loose>(&ignored(max)).is_ok());
    assert!(from_slice::<Loose>(&ignored(max)).unwrap_err().to_string().contains("nested too deeply"));
    // Far deeper than a stack allows recursing: an error, not a crash.
    assert!(from_slice::<Trace>(&deep(1_000_000)).is_err());
    assert!(from_slice::<Loose>(&ignored(1_000_000)).is_err());
    /// A type that recurses without reading anything.
    #[derive(Deserialize)]
    struct Endless(#[allow(dead_code)] Option<Box<Endless>>);
    assert!(from_slice::<Endless>(b"\x01").is_err());
}

/// Pieces of CBOR (and of non-CBOR) that the target types' readers look for, to be strung
/// together at random.
const PIECES: &[&[u8]] = &[
    b"\x00",
    b"\x01",
    b"\x17",
    b"\x18\xff",
    b"\x19\x01\x00",
    b"\x1a\x00\x01\x00\x00",
    b"\x1b\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x20",
    b"\x38\x80",
    b"\x3b\x80\x00\x00\x00\x00\x00\x00\x00",
    b"\x40",
    b"\x41\x01",
    b"\x5f",
    b"\x60",
    b"\x61\xff",
    b"\x7f",
    b"\x80",
    b"\x81",
    b"\x82",
    b"\x83",
    b"\x9f",
    b"\xa0",
    b"\xa1",
    b"\xa2",
    b"\xa5",
    b"\xbf",
    b"\xc2",
    b"\xc3",
    b"\xc6",
    b"\xc7",
    b"\xf4",
    b"\xf6",
    b"\xf7",
    b"\xf9\x3c\x00",
    b"\xfa\x3f\x80\x00\x00",
    b"\xfb\x3f\xf8\x00\x00\x00\x00\x00\x00",
    b"\xff",
    b"\x1c",
    b"\x64kind",
    b"\x63seq",
    b"\x65value",
    b"\x66sensor",
    b"\x64unit",
    b"\x61a",
    b"\x61b",
    b"\x61c",
    b"\x61d",
    b"\x61e",
    b"\x61f",
    b"\x61x",
    b"\x61z",
    b"\x64Unit",
    b"\x67Newtype",
    b"\x6bNewtypeUnit",
    b"\x65Tuple",
    b"\x66Struct",
    b"\x64next",
];

/// Values the encoder writes, as bytes, to be changed at random.
fn encoded_samples() -> Vec<Vec<u8>> {
    fn bytes<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        crate::codec::encode(value, &mut out).unwrap();
        out
    }
    vec![
        bytes(&Bench { kind: 1, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".into(), unit: "degC".into() }),
        bytes(&Every::Struct { x: 1.0, next: Some(Box::new(Every::Tuple(2, "é".into()))) }),
        bytes(&Every::NewtypeUnit(())),
        bytes(&Loose {
            a: Some(-3),
            b: vec!['c'],
            c: Some(ByteBuf::from(vec![1, 2])),
            d: Some((1, 0.5)),
            e: Some(()),
            f: Some(-1),
        }),
        bytes(&(Marker, Meters(2.0), Point(1, -1, 'p'))),
        bytes(&Some(vec![1i32, -70_000])),
        bytes(&BTreeMap::from([("a".to_string(), Some(1.5f64)), ("b".into(), None)])),
        bytes(&(7u8, -7i8, u64::MAX, i64::MIN, i128::MIN, u128::MAX, 'é')),
        bytes(&(1.5f32, 2.5f64, true, (), "s".to_string(), ByteBuf::from(vec![0]))),
        bytes(&minicbor_serde::tag::Any::tagged(minicbor::data::Tag::new(9), Loose::default())),
        bytes(&minicbor_serde::tag::Optional::<7, u8>::tagged(1)),
    ]
}

/// One change to a sample: replace, insert or remove the byte at a position.
#[derive(Debug, Clone)]
enum Change {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Change::Replace(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Change::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Change::Remove),
    ]
}

/// Inputs of three sorts: random bytes, pieces strung together, and encoded values changed.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let samples = encoded_samples();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(prop::sample::select(PIECES), 0..16).prop_map(|pieces| pieces.concat()),
        (prop::sample::select(samples), prop::collection::vec(change(), 0..3)).prop_map(|(mut bytes, changes)| {
            for change in changes {
                match change {
                    Change::Replace(i, b) if !bytes.is_empty() => {
                        let i = i.index(bytes.len());
                        bytes[i] = b;
                    }
                    Change::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), b),
                    Change::Remove(i) if !bytes.is_empty() => {
                        bytes.remove(i.index(bytes.len()));
                    }
                    _ => {}
                }
            }
            bytes
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any input gives both decoders' answer (and never panics ours).
    #[test]
    fn any_input_reads_as_minicbor_serde_reads_it(bytes in input()) {
        agreement_for_all(&bytes).map_err(TestCaseError::fail)?;
    }

    /// Longer random bytes never panic ours (minicbor-serde is left out: it recurses as deep as
    /// the input nests).
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let _ = from_slice::<Trace>(&bytes);
        let _ = from_slice::<Loose>(&bytes);
        let _ = from_slice::<Vec<Every>>(&bytes);
        let _ = from_slice::<BTreeMap<String, Option<f64>>>(&bytes);
        let _ = from_slice::<serde::de::IgnoredAny>(&bytes);
        let _ = from_slice::<(u8, i8, u64, i64, i128, u128, char)>(&bytes);
    }
}

/// A timing of `codec::decode` against minicbor-serde's decoder on the benchmark's 64-byte
/// struct; no assertion. Run in release:
/// `cargo test -p cohort-ports --release --lib codec -- --ignored --nocapture`
/// (with `DECODE_ONLY=decode`, say, to time one of them alone, for a profiler).
#[test]
#[ignore = "a timing run with no assertion; run it by hand, in release"]
fn decode_timing() {
    let r = Bench { kind: 1, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".into(), unit: "degC".into() };
    let mut bytes = Vec::new();
    crate::codec::encode(&r, &mut bytes).unwrap();
    // Rounds of 100,000 decodes, each decoder's rounds interleaved with the others', so
    // that load from elsewhere on the machine falls on all of them; the minimum and the
    // median of the rounds are printed.
    type Decoder<'a> = (&'static str, &'a dyn Fn(&[u8]) -> Bench);
    let parts = (&r.sensor[..], &r.unit[..]);
    let allocs_only = |b: &[u8]| Bench {
        kind: b[0],
        seq: 0,
        value: 0.0,
        sensor: std::hint::black_box(parts.0).into(),
        unit: std::hint::black_box(parts.1).into(),
    };
    let decoders: [Decoder; 3] = [
        ("decode", &|b| crate::codec::decode(b).unwrap()),
        ("minicbor-serde", &|b| minicbor_decode(b).unwrap()),
        ("allocs only", &allocs_only),
    ];
    const N: u32 = 100_000;
    let mut ns = vec![Vec::new(); decoders.len()];
    for _ in 0..30 {
        for ((name, f), ns) in decoders.iter().zip(&mut ns) {
            if std::env::var("DECODE_ONLY").is_ok_and(|only| only != *name) {
                continue;
            }
            let start = std::time::Instant::now();
            for _ in 0..N {
                std::hint::black_box(f(std::hint::black_box(&bytes)));
            }
            ns.push(start.elapsed().as_nanos() as f64 / f64::from(N));
        }
    }
    for ((name, _), ns) in decoders.iter().zip(&mut ns).filter(|(_, ns)| !ns.is_empty()) {
        ns.sort_by(f64::total_cmp);
        println!("{name:>14}: min {:6.1}, median {:6.1} ns/op ({} bytes)", ns[0], ns[ns.len() / 2], bytes.len());
    }
}

/// Times the encoders, ours and minicbor-serde's (as `codec::encode` used it: into a reused
/// buffer through a writer that copies short writes inline), on the benchmark's struct; no
/// assertion. Run in release:
/// `cargo test -p cohort-ports --release --lib encode_timing -- --ignored --nocapture`.
#[test]
#[ignore = "a timing run with no assertion; run it by hand, in release"]
fn encode_timing() {
    struct Appender<'a>(&'a mut Vec<u8>);
    impl minicbor::encode::Write for Appender<'_> {
        type Error = std::convert::Infallible;
        #[inline(always)]
        fn write_all(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
            match bytes.len() {
                1 => self.0.push(bytes[0]),
                _ => self.0.extend_from_slice(bytes),
            }
            Ok(())
        }
    }
    let r = Bench { kind: 1, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".into(), unit: "degC".into() };
    type Encoder<'a> = (&'static str, &'a dyn Fn(&Bench, &mut Vec<u8>));
    let encoders: [Encoder; 2] = [
        ("encode", &|v, out| crate::codec::encode(v, out).unwrap()),
        ("minicbor-serde", &|v, out| v.serialize(&mut minicbor_serde::Serializer::new(Appender(out))).unwrap()),
    ];
    const N: u32 = 100_000;
    let mut ns = vec![Vec::new(); encoders.len()];
    let mut out = Vec::with_capacity(256);
    for _ in 0..30 {
        for ((_, f), ns) in encoders.iter().zip(&mut ns) {
            let start = std::time::Instant::now();
            for _ in 0..N {
                out.clear();
                f(std::hint::black_box(&r), &mut out);
                std::hint::black_box(&out);
            }
            ns.push(start.elapsed().as_nanos() as f64 / f64::from(N));
        }
    }
    for ((name, _), ns) in encoders.iter().zip(&mut ns) {
        ns.sort_by(f64::total_cmp);
        println!("{name:>14}: min {:6.1}, median {:6.1} ns/op ({} bytes)", ns[0], ns[ns.len() / 2], out.len());
    }
}
