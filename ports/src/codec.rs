//! The CBOR payload codec, kept behind two functions so the library can be swapped.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::wire::FrameError;

/// Appends the CBOR encoding of `value` to `out`.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    value.serialize(&mut minicbor_serde::Serializer::new(out)).map_err(|e| e.to_string())
}

/// Decodes `bytes` as one CBOR value of type `T`; trailing bytes are an error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    let mut de = minicbor_serde::Deserializer::new(bytes);
    let value = T::deserialize(&mut de).map_err(|e| FrameError::Payload(e.to_string()))?;
    let used = de.decoder().position();
    if used != bytes.len() {
        return Err(FrameError::Payload(format!("{} trailing bytes after the value", bytes.len() - used)));
    }
    Ok(value)
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
