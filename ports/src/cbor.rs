//! Cohort's CBOR codec for application values, public: the one that typed ports use, for the
//! other places that carry application values (group messages, inside ports' messages, the
//! inputs and outputs of a component replay).
//!
//! It writes exactly the bytes `minicbor-serde` writes and reads what `minicbor-serde` reads,
//! except malformed input that minicbor-serde lets through (see `docs/ports.md`, the typed path),
//! in about half the time.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec;

/// Why a value did not encode, or bytes did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CborError(String);

/// Room for a typical message's encoding, so that encoding one allocates once rather than
/// growing the vector step by step.
const TYPICAL_LEN: usize = 128;

/// The CBOR encoding of `value`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CborError> {
    let mut out = Vec::with_capacity(TYPICAL_LEN);
    codec::encode(value, &mut out).map_err(CborError)?;
    Ok(out)
}

/// Decodes `bytes` as one CBOR value of type `T`; trailing bytes are an error.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CborError> {
    codec::decode_text(bytes).map_err(CborError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Note {
        id: u32,
        text: String,
    }

    #[test]
    fn values_round_trip_as_minicbor_serde_writes_them() {
        let note = Note { id: 7, text: "seven".into() };
        let bytes = to_vec(&note).unwrap();
        assert_eq!(bytes, minicbor_serde::to_vec(&note).unwrap());
        assert_eq!(from_slice::<Note>(&bytes).unwrap(), note);
        assert!(from_slice::<Note>(&bytes[..bytes.len() - 1]).is_err());
    }
}
