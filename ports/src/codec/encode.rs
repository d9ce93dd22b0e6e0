//! The CBOR encoder: serde values to the bytes minicbor-serde's serializer writes, written
//! straight into the port's buffer.
//!
//! Every choice is minicbor-serde 0.7's, so the bytes on the wire stay those `docs/ports.md`
//! documents (the tests compare the two on fixed and random values):
//!
//! - integers in their shortest head (major type 0, or 1 for negatives); `u128` and `i128`
//!   beyond 64 bits as bignums (tags 2 and 3 over the big-endian bytes without leading zeros);
//! - `f32` and `f64` at their own width (`0xfa`, `0xfb`), never shortened; `char` as its code
//!   point, an integer;
//! - `None` as null, `Some(x)` as `x`; unit and unit structs as an empty array;
//! - strings as text, bytes as byte strings;
//! - sequences and maps of known length with their length, others indefinite (ended by a
//!   break); tuples and tuple structs as arrays, structs as maps keyed by field name;
//! - a unit variant as its name (text); newtype, tuple and struct variants as a map of one entry,
//!   the name to the value (tuple variants an array, struct variants a map);
//! - minicbor-serde's tag container (its `Tagged` values) as the CBOR tag and its value.
//!
//! It is faster than minicbor-serde's because each item's head is written as one fixed-size
//! copy into a reserved buffer, with no `Write` trait object or error plumbing per byte.

use serde::ser::{self, Serialize};

use super::{NO_TAG_VARIANT, TAG_CONTAINER, TAG_VARIANT};

/// Major types, shifted into the initial byte.
const UNSIGNED: u8 = 0x00;
const NEGATIVE: u8 = 0x20;
const BYTES: u8 = 0x40;
const TEXT: u8 = 0x60;
const ARRAY: u8 = 0x80;
const MAP: u8 = 0xa0;
const TAG: u8 = 0xc0;
const NULL: u8 = 0xf6;
const FALSE: u8 = 0xf4;
const TRUE: u8 = 0xf5;
const F32: u8 = 0xfa;
const F64: u8 = 0xfb;
const BEGIN_ARRAY: u8 = 0x9f;
const BEGIN_MAP: u8 = 0xbf;
const BREAK: u8 = 0xff;
/// Bignum tags.
const POSITIVE_BIGNUM: u64 = 2;
const NEGATIVE_BIGNUM: u64 = 3;

/// Why a value cannot be encoded: only what its own `Serialize` reports (a map whose key fails,
/// a `collect_str` whose `Display` fails).
#[derive(Debug)]
pub(crate) struct EncodeError(String);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

/// Appends the CBOR encoding of `value` to `out`.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    value.serialize(&mut Encoder { out })
}

/// The serializer: appends to its buffer.
struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    /// The head of an item of major type `major` with argument `n`, in its shortest form.
    #[inline(always)]
    fn head(&mut self, major: u8, n: u64) {
        if n < 24 {
            self.out.push(major | n as u8);
        } else if n <= 0xff {
            self.out.extend_from_slice(&[major | 24, n as u8]);
        } else if n <= 0xffff {
            let b = (n as u16).to_be_bytes();
            self.out.extend_from_slice(&[major | 25, b[0], b[1]]);
        } else if n <= 0xffff_ffff {
            let b = (n as u32).to_be_bytes();
            self.out.extend_from_slice(&[major | 26, b[0], b[1], b[2], b[3]]);
        } else {
            let b = n.to_be_bytes();
            self.out.extend_from_slice(&[major | 27, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        }
    }

    #[inline(always)]
    fn signed(&mut self, v: i64) {
        if v >= 0 {
            self.head(UNSIGNED, v as u64);
        } else {
            // -1 - v, without overflow for i64::MIN.
            self.head(NEGATIVE, !(v as u64));
        }
    }

    #[inline(always)]
    fn text(&mut self, s: &str) {
        self.head(TEXT, s.len() as u64);
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A bignum: `tag` over the big-endian bytes of `n` without leading zeros.
    fn bignum(&mut self, tag: u64, n: u128) {
        self.head(TAG, tag);
        let bytes = n.to_be_bytes();
        let start = (n.leading_zeros() / 8) as usize;
        self.head(BYTES, (bytes.len() - start) as u64);
        self.out.extend_from_slice(&bytes[start..]);
    }
}

/// A compound value being written; `end` closes an indefinite one. A tuple variant of
/// minicbor-serde's tag container writes its first field as the tag.
struct Compound<'a, 'b> {
    encoder: &'b mut Encoder<'a>,
    indefinite: bool,
    tag_next: bool,
}

impl<'a, 'b> Compound<'a, 'b> {
    fn new(encoder: &'b mut Encoder<'a>, indefinite: bool) -> Self {
        Compound { encoder, indefinite, tag_next: false }
    }

    fn close(self) -> Result<(), EncodeError> {
        if self.indefinite {
            self.encoder.out.push(BREAK);
        }
        Ok(())
    }
}

impl<'a, 'b> ser::Serializer for &'b mut Encoder<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'a, 'b>;
    type SerializeTuple = Compound<'a, 'b>;
    type SerializeTupleStruct = Compound<'a, 'b>;
    type SerializeTupleVariant = Compound<'a, 'b>;
    type SerializeMap = Compound<'a, 'b>;
    type SerializeStruct = Compound<'a, 'b>;
    type SerializeStructVariant = Compound<'a, 'b>;

    #[inline]
    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.signed(v.into());
        Ok(())
    }

    #[inline]
    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.signed(v.into());
        Ok(())
    }

    #[inline]
    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.signed(v.into());
        Ok(())
    }

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        self.signed(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        if v >= 0 {
            return self.serialize_u128(v as u128);
        }
        let n = !(v as u128);
        match u64::try_from(n) {
            Ok(n) => self.head(NEGATIVE, n),
            Err(_) => self.bignum(NEGATIVE_BIGNUM, n),
        }
        Ok(())
    }

    #[inline]
    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.head(UNSIGNED, v.into());
        Ok(())
    }

    #[inline]
    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.head(UNSIGNED, v.into());
        Ok(())
    }

    #[inline]
    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.head(UNSIGNED, v.into());
        Ok(())
    }

    #[inline]
    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        self.head(UNSIGNED, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        match u64::try_from(v) {
            Ok(n) => self.head(UNSIGNED, n),
            Err(_) => self.bignum(POSITIVE_BIGNUM, v),
        }
        Ok(())
    }

    #[inline]
    fn serialize_f32(self, v: f32) -> Result<(), EncodeError> {
        let b = v.to_be_bytes();
        self.out.extend_from_slice(&[F32, b[0], b[1], b[2], b[3]]);
        Ok(())
    }

    #[inline]
    fn serialize_f64(self, v: f64) -> Result<(), EncodeError> {
        let b = v.to_be_bytes();
        self.out.extend_from_slice(&[F64, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        Ok(())
    }

    #[inline]
    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        self.head(UNSIGNED, u32::from(v).into());
        Ok(())
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        self.text(v);
        Ok(())
    }

    #[inline]
    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        self.head(BYTES, v.len() as u64);
        self.out.extend_from_slice(v);
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.out.push(ARRAY);
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        self.text(variant);
        Ok(())
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        if name == TAG_CONTAINER && variant == NO_TAG_VARIANT {
            return value.serialize(self);
        }
        self.out.push(MAP | 1);
        self.text(variant);
        value.serialize(self)
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a, 'b>, EncodeError> {
        match len {
            Some(n) => self.head(ARRAY, n as u64),
            None => self.out.push(BEGIN_ARRAY),
        }
        Ok(Compound::new(self, len.is_none()))
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 'b>, EncodeError> {
        self.head(ARRAY, len as u64);
        Ok(Compound::new(self, false))
    }

    #[inline]
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'b>, EncodeError> {
        self.serialize_tuple(len)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, EncodeError> {
        if name == TAG_CONTAINER && variant == TAG_VARIANT {
            return Ok(Compound { encoder: self, indefinite: false, tag_next: true });
        }
        self.out.push(MAP | 1);
        self.text(variant);
        self.serialize_tuple(len)
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a, 'b>, EncodeError> {
        match len {
            Some(n) => self.head(MAP, n as u64),
            None => self.out.push(BEGIN_MAP),
        }
        Ok(Compound::new(self, len.is_none()))
    }

    #[inline]
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a, 'b>, EncodeError> {
        self.head(MAP, len as u64);
        Ok(Compound::new(self, false))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 'b>, EncodeError> {
        self.out.push(MAP | 1);
        self.text(variant);
        self.serialize_struct(name, len)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        if self.tag_next {
            self.tag_next = false;
            let tag = value.serialize(TagNumber)?;
            self.encoder.head(TAG, tag);
            return Ok(());
        }
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        key.serialize(&mut *self.encoder)
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        self.encoder.text(key);
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), EncodeError> {
        self.encoder.text(key);
        value.serialize(&mut *self.encoder)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.close()
    }
}

/// Reads the tag number of minicbor-serde's tag container: an unsigned integer, nothing else.
struct TagNumber;

fn not_a_tag() -> EncodeError {
    EncodeError("expected u64".to_owned())
}

impl ser::Serializer for TagNumber {
    type Ok = u64;
    type Error = EncodeError;
    type SerializeSeq = ser::Impossible<u64, EncodeError>;
    type SerializeTuple = ser::Impossible<u64, EncodeError>;
    type SerializeTupleStruct = ser::Impossible<u64, EncodeError>;
    type SerializeTupleVariant = ser::Impossible<u64, EncodeError>;
    type SerializeMap = ser::Impossible<u64, EncodeError>;
    type SerializeStruct = ser::Impossible<u64, EncodeError>;
    type SerializeStructVariant = ser::Impossible<u64, EncodeError>;

    fn serialize_u8(self, v: u8) -> Result<u64, EncodeError> {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<u64, EncodeError> {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<u64, EncodeError> {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<u64, EncodeError> {
        Ok(v)
    }
    fn serialize_bool(self, _: bool) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_i8(self, _: i8) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_i16(self, _: i16) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_i32(self, _: i32) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_i64(self, _: i64) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_f32(self, _: f32) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_f64(self, _: f64) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_char(self, _: char) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_str(self, _: &str) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_none(self) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_unit(self) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u64, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, EncodeError> {
        Err(not_a_tag())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, EncodeError> {
        Err(not_a_tag())
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}
