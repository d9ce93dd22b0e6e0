//! The CBOR payload codec, kept behind two functions so the library can be swapped.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::FrameError;

mod decode;
mod encode;

/// minicbor-serde's names for its tag container (its `tag` module), which both directions
/// honour: an enum whose variant [`TAG_VARIANT`] is a tuple of a tag number and the value, and
/// whose variant [`NO_TAG_VARIANT`] is the value alone.
const TAG_CONTAINER: &str = "$#minicbor_serde_tag_container#$";
/// The tag container's variant for a tagged value.
const TAG_VARIANT: &str = "$#minicbor_serde_tag#$";
/// The tag container's variant for a value without a tag.
const NO_TAG_VARIANT: &str = "$#minicbor_serde_no_tag#$";

/// Appends the CBOR encoding of `value` to `out`.
///
/// The encoder is our own ([`mod@encode`]): it writes the bytes minicbor-serde's serializer
/// writes (the tests compare them), in less time.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    encode::to_vec(value, out).map_err(|e| e.to_string())
}

/// Decodes `bytes` as one CBOR value of type `T`; trailing bytes are an error.
///
/// The decoder is our own ([`mod@decode`]), which accepts what minicbor-serde's accepts and gives
/// the same values, in about half the time.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    decode_text(bytes).map_err(FrameError::Payload)
}

/// [`decode`], with why it failed as text.
pub(crate) fn decode_text<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    decode::from_slice(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Reading {
        id: u64,
        value: f64,
        name: String,
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Shape {
        Empty,
        Named { a: i64, b: Option<String> },
        Pair(u8, f32),
    }

    #[test]
    fn the_bytes_are_minicbor_serdes() {
        let values = vec![
            (Shape::Empty, vec![0u64, 23, 24, 255, 256, 65_535, 65_536, u64::MAX]),
            (Shape::Named { a: -1_000_000_000_000, b: Some("é".repeat(40)) }, vec![]),
            (Shape::Named { a: 0, b: None }, vec![1]),
            (Shape::Pair(7, -1.5), (0..300).collect()),
        ];
        for value in &values {
            let mut ours = Vec::new();
            encode(value, &mut ours).unwrap();
            assert_eq!(ours, minicbor_serde::to_vec(value).unwrap(), "{value:?}");
            assert_eq!(&decode::<(Shape, Vec<u64>)>(&ours).unwrap(), value);
        }
    }

    #[test]
    fn values_round_trip_and_garbage_is_an_error() {
        let r = Reading { id: 3, value: 1.5, name: "t1".into() };
        let mut buf = vec![0xAA];
        encode(&r, &mut buf).unwrap();
        assert_eq!(buf[0], 0xAA, "encode appends");
        assert_eq!(decode::<Reading>(&buf[1..]).unwrap(), r);
        assert!(decode::<Reading>(&buf[1..buf.len() - 1]).is_err());
        assert!(decode::<Reading>(&buf).is_err());
        let mut extra = buf[1..].to_vec();
        extra.push(0);
        assert!(matches!(decode::<Reading>(&extra), Err(FrameError::Payload(m)) if m.contains("trailing")));
    }
}
