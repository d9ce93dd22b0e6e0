//! The payload decoder: a serde `Deserializer` for the CBOR that `codec::encode` writes.
//!
//! It accepts what `minicbor_serde::Deserializer` (0.7, without its `half` feature) accepts and
//! gives the same values, so replacing that decoder changed nothing on the wire. It takes about
//! half the time (a 64-byte struct of five fields: about 160 ns → 75 ns, of which about 35 ns
//! are the struct's two `String`s), mostly because text, which every field name is, is checked
//! for UTF-8 inline by a word-wide ASCII test rather than by a call to `std::str::from_utf8`,
//! and is read by inlined code; its error is one boxed word, so results come back in
//! registers. Its rules, minicbor-serde's:
//!
//! - Integers: major types 0 and 1 at any width, range-checked against the target type;
//!   `i128`/`u128` also from bignum tags 2 and 3. `char` is an unsigned integer (how
//!   minicbor-serde writes it).
//! - Floats: `f32` only from a 4-byte float, `f64` from a 4- or 8-byte one; half floats (`0xf9`)
//!   are refused, as minicbor-serde refuses them without its `half` feature.
//! - Text and byte strings of definite length only, borrowed from the input; text must be
//!   UTF-8. Indefinite-length strings are read (and joined) only by `deserialize_any`.
//! - `()` and unit structs are an empty array, `None` is null, `Some(x)` is `x`.
//! - Arrays and maps of definite or indefinite length; a tuple needs a definite array of
//!   exactly its length; a struct is a map whose keys are its fields' names.
//! - An enum variant is its name (a unit variant), or a map of one entry from the name to the
//!   value (newtype, tuple and struct variants); as in minicbor-serde, the one-entry map may be
//!   left out and the value follow the name directly. minicbor-serde's tag wrappers
//!   (`minicbor_serde::tag::{Required, Optional, Any}`) are read as it reads them.
//! - Other tags, `undefined` and simple values are refused, except inside an ignored value.
//!
//! Where it differs, it refuses what is not well-formed CBOR and minicbor-serde accepted:
//!
//! - an ignored value (an unknown struct field's, read with `deserialize_ignored_any`) that is
//!   a lone break byte (`0xff`), contains one where an item belongs (in a definite-length array
//!   or map, or as the value of an indefinite-length map's last key), which minicbor's `skip`
//!   lets through;
//! - anything nested more than [`MAX_DEPTH`] levels deep, where minicbor-serde recurses
//!   without a limit (and a deep enough input overflows the stack).

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, U64Deserializer};
use serde::de::{self, DeserializeSeed, Visitor};

#[cfg(test)]
mod tests;

/// How deeply arrays, maps, enums, options and newtypes may nest, so that no input can make
/// the decoder recurse without bound.
pub(super) const MAX_DEPTH: u32 = 256;

/// The break byte that ends an indefinite-length item.
const BREAK: u8 = 0xff;

use super::{NO_TAG_VARIANT, TAG_CONTAINER, TAG_VARIANT};

/// Decodes `bytes` as one CBOR value of type `T`; trailing bytes are an error.
#[inline]
pub(super) fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    let mut de = Deserializer { input: bytes, pos: 0, depth: 0 };
    let value = T::deserialize(&mut de)?;
    match bytes.len().saturating_sub(de.pos) {
        0 => Ok(value),
        extra => Err(Error(Box::new(Kind::Trailing(extra)))),
    }
}

/// Why a payload did not decode. Boxed: errors are rare, and a one-word error lets the
/// decoder's results come back in registers.
#[derive(Debug)]
pub(super) struct Error(Box<Kind>);

/// The kinds of [`Error`].
#[derive(Debug)]
enum Kind {
    /// The input ended inside an item.
    EndOfInput,
    /// The item at byte `at` is not what was expected there.
    Syntax {
        /// The offset of the item's first byte.
        at: usize,
        /// What was expected, or what is wrong.
        what: &'static str,
    },
    /// Bytes are left after the value.
    Trailing(usize),
    /// The type's own `Deserialize` refused the value (a missing field, an unknown variant…).
    Custom(String),
}

impl Error {
    /// The input ended inside an item.
    #[cold]
    fn end() -> Self {
        Error(Box::new(Kind::EndOfInput))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Kind::EndOfInput => f.write_str("the CBOR value ends early"),
            Kind::Syntax { at, what } => write!(f, "CBOR at byte {at}: {what}"),
            Kind::Trailing(n) => write!(f, "{n} trailing bytes after the value"),
            Kind::Custom(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error(Box::new(Kind::Custom(message.to_string())))
    }
}

/// A cursor over the input, and how deeply the value being read is nested. A clone looks
/// ahead without consuming.
#[derive(Clone)]
struct Deserializer<'de> {
    /// The whole input.
    input: &'de [u8],
    /// The offset of the next byte to read; never more than `input.len()`.
    pos: usize,
    /// How many arrays, maps, enums, options and newtypes enclose the current item.
    depth: u32,
}

/// Whether `input[start..start + len]` is ASCII. Field names and most short strings are,
/// and checking that inline is cheaper than `std::str::from_utf8` (a call); a string of up to
/// 8 bytes is checked as one word read from the input, when 8 bytes are there, rather than
/// byte by byte in a loop whose length varies from key to key.
#[inline(always)]
fn is_ascii(input: &[u8], start: usize, len: usize) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    if len <= 8 {
        let word = start.checked_add(8).and_then(|end| input.get(start..end)).and_then(|w| <[u8; 8]>::try_from(w).ok());
        if let Some(word) = word {
            // The string's bytes are the word's low `len` bytes.
            let mask = u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0);
            return u64::from_le_bytes(word) & mask & HIGH_BITS == 0;
        }
    }
    start.checked_add(len).and_then(|end| input.get(start..end)).is_some_and(<[u8]>::is_ascii)
}

/// A syntax error at `at`.
#[cold]
fn syntax(at: usize, what: &'static str) -> Error {
    Error(Box::new(Kind::Syntax { at, what }))
}

impl<'de> Deserializer<'de> {
    /// The next byte, not consumed.
    #[inline]
    fn peek(&self) -> Result<u8, Error> {
        self.input.get(self.pos).copied().ok_or_else(Error::end)
    }

    /// The next byte, consumed.
    #[inline]
    fn next(&mut self) -> Result<u8, Error> {
        let byte = self.peek()?;
        self.pos += 1;
        Ok(byte)
    }

    /// The next `n` bytes, consumed.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        let end = self.pos.checked_add(n).ok_or_else(Error::end)?;
        let bytes = self.input.get(self.pos..end).ok_or_else(Error::end)?;
        self.pos = end;
        Ok(bytes)
    }

    /// The next `N` bytes, consumed, as an array.
    #[inline]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        <[u8; N]>::try_from(self.take(N)?).map_err(|_| Error::end())
    }

    /// The argument of the head whose first byte, `head` at offset `at`, was just read: the
    /// value in its low 5 bits, or in the 1, 2, 4 or 8 bytes after it. The indefinite length
    /// (31) and the reserved values (28–30) are an error.
    #[inline]
    fn argument(&mut self, head: u8, at: usize) -> Result<u64, Error> {
        match head & 0x1f {
            n @ 0..=23 => Ok(u64::from(n)),
            24 => self.next().map(u64::from),
            25 => self.take_array().map(|b| u64::from(u16::from_be_bytes(b))),
            26 => self.take_array().map(|b| u64::from(u32::from_be_bytes(b))),
            27 => self.take_array().map(u64::from_be_bytes),
            _ => Err(syntax(at, "a reserved or indefinite length where a number belongs")),
        }
    }

    /// The length of a definite-length item whose head, `head` at `at`, was just read.
    #[inline]
    fn length(&mut self, head: u8, at: usize) -> Result<usize, Error> {
        let n = self.argument(head, at)?;
        usize::try_from(n).map_err(|_| syntax(at, "a length too large for this machine"))
    }

    /// Reads the head of an item of major type `major` (0–7), failing with `what` if the item
    /// is of another type; returns the head's first byte and its offset.
    #[inline]
    fn head_of(&mut self, major: u8, what: &'static str) -> Result<(u8, usize), Error> {
        let at = self.pos;
        let head = self.next()?;
        if head >> 5 == major {
            Ok((head, at))
        } else {
            Err(syntax(at, what))
        }
    }

    /// An unsigned integer (major type 0) of any width.
    #[inline]
    fn unsigned(&mut self) -> Result<(u64, usize), Error> {
        let (head, at) = self.head_of(0, "expected an unsigned integer")?;
        Ok((self.argument(head, at)?, at))
    }

    /// An integer of either sign (major type 0 or 1), as whether it is negative and its
    /// argument `n` (the value is `n`, or `-1 - n` if negative).
    #[inline]
    fn integer(&mut self) -> Result<(bool, u64, usize), Error> {
        let at = self.pos;
        let head = self.next()?;
        match head >> 5 {
            0 => Ok((false, self.argument(head, at)?, at)),
            1 => Ok((true, self.argument(head, at)?, at)),
            _ => Err(syntax(at, "expected an integer")),
        }
    }

    /// A text string of definite length, borrowed. Inlined: it reads every field name.
    #[inline(always)]
    fn text(&mut self) -> Result<&'de str, Error> {
        let at = self.pos;
        let head = self.next()?;
        let len = match head {
            0x60..=0x77 => usize::from(head & 0x1f),
            0x78..=0x7b => self.length(head, at)?,
            _ => return Err(syntax(at, "expected a text string of definite length")),
        };
        let start = self.pos;
        let bytes = self.take(len)?;
        if is_ascii(self.input, start, len) {
            // SAFETY: `bytes` (`input[start..start + len]`) is ASCII, which is UTF-8.
            Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).map_err(|_| syntax(at, "a text string that is not UTF-8"))
        }
    }

    /// A byte string of definite length, borrowed.
    #[inline]
    fn bytes(&mut self) -> Result<&'de [u8], Error> {
        let (head, at) = self.head_of(2, "expected a byte string")?;
        if head == 0x5f {
            return Err(syntax(at, "expected a byte string of definite length"));
        }
        let len = self.length(head, at)?;
        self.take(len)
    }

    /// The head of an array (major 4) or map (major 5): its length, or `None` if indefinite.
    #[inline]
    fn container(&mut self, major: u8, what: &'static str) -> Result<Option<u64>, Error> {
        let (head, at) = self.head_of(major, what)?;
        if head & 0x1f == 31 {
            Ok(None)
        } else {
            self.argument(head, at).map(Some)
        }
    }

    /// A positive (tag 2) or negative (tag 3) bignum's magnitude, after its tag: a definite
    /// byte string of at most 16 significant bytes.
    fn bignum(&mut self) -> Result<u128, Error> {
        let at = self.pos;
        let bytes = self.bytes()?;
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let significant = bytes.get(start..).unwrap_or_default();
        let mut buf = [0u8; 16];
        let offset = 16usize.checked_sub(significant.len()).ok_or_else(|| syntax(at, "a bignum beyond 128 bits"))?;
        buf.get_mut(offset..).ok_or_else(Error::end)?.copy_from_slice(significant);
        Ok(u128::from_be_bytes(buf))
    }

    /// The tag number of a tag head, consumed.
    fn tag(&mut self) -> Result<(u64, usize), Error> {
        let (head, at) = self.head_of(6, "expected a tag")?;
        Ok((self.argument(head, at)?, at))
    }

    /// Enters a nested item that starts at `at`, refusing to go deeper than [`MAX_DEPTH`].
    #[inline]
    fn enter(&mut self, at: usize) -> Result<(), Error> {
        if self.depth >= MAX_DEPTH {
            return Err(syntax(at, "nested too deeply"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Reads a nested item with `read`, one level deeper.
    #[inline]
    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, Error>) -> Result<T, Error> {
        self.enter(self.pos)?;
        let result = read(self);
        self.depth -= 1;
        result
    }

    /// Skips one well-formed item of any type, tags included, without allocating.
    fn skip(&mut self) -> Result<(), Error> {
        let mut at = self.pos;
        let mut head = self.next()?;
        while head >> 5 == 6 {
            self.argument(head, at)?;
            at = self.pos;
            head = self.next()?;
        }
        match head >> 5 {
            0 | 1 => self.argument(head, at).map(drop),
            major @ (2 | 3) if head & 0x1f == 31 => loop {
                if self.peek()? == BREAK {
                    self.pos += 1;
                    return Ok(());
                }
                let (chunk, chunk_at) = self.head_of(major, "a chunk of another type in a string")?;
                self.skip_string(chunk, chunk_at)?;
            },
            2 | 3 => self.skip_string(head, at),
            major @ (4 | 5) => {
                let items_per_entry = if major == 4 { 1 } else { 2 };
                self.enter(at)?;
                let result = if head & 0x1f == 31 {
                    self.skip_until_break(items_per_entry)
                } else {
                    self.argument(head, at).and_then(|n| self.skip_entries(n, items_per_entry))
                };
                self.depth -= 1;
                result
            }
            _ => match head {
                0xe0..=0xf7 => Ok(()),
                0xf8 => self.take(1).map(drop),
                0xf9 => self.take(2).map(drop),
                0xfa => self.take(4).map(drop),
                0xfb => self.take(8).map(drop),
                BREAK => Err(syntax(at, "a stray break (0xff) in an ignored value")),
                _ => Err(syntax(at, "a reserved simple-value head")),
            },
        }
    }

    /// Skips the contents of a definite-length string whose head (`head` at `at`) was read.
    fn skip_string(&mut self, head: u8, at: usize) -> Result<(), Error> {
        if head & 0x1f == 31 {
            return Err(syntax(at, "an indefinite-length chunk in a string"));
        }
        let len = self.length(head, at)?;
        let bytes = self.take(len)?;
        if head >> 5 == 3 && std::str::from_utf8(bytes).is_err() {
            return Err(syntax(at, "a text string that is not UTF-8"));
        }
        Ok(())
    }

    /// Skips `n` entries of `items` items each (an array's elements or a map's pairs).
    fn skip_entries(&mut self, n: u64, items: u8) -> Result<(), Error> {
        for _ in 0..n {
            for _ in 0..items {
                self.skip()?;
            }
        }
        Ok(())
    }

    /// Skips entries of `items` items each up to and including a break.
    fn skip_until_break(&mut self, items: u8) -> Result<(), Error> {
        while self.peek()? != BREAK {
            self.skip_entries(1, items)?;
        }
        self.pos += 1;
        Ok(())
    }

    /// The pieces of an indefinite-length string of major type 2 or 3, whose head was read:
    /// definite-length chunks of the same type up to a break, joined.
    fn chunks(&mut self, major: u8) -> Result<Vec<u8>, Error> {
        let mut joined = Vec::new();
        while self.peek()? != BREAK {
            let piece = if major == 3 { self.text()?.as_bytes() } else { self.bytes()? };
            joined.extend_from_slice(piece);
        }
        self.pos += 1;
        Ok(joined)
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        let head = self.peek()?;
        // A negative integer goes to the narrowest visit method that the head's width allows
        // for its value (as minicbor-serde decides it), so its argument's first byte is looked at.
        let input = self.input;
        let high_bit = || match input.get(at + 1) {
            Some(&b) => Ok(b >= 0x80),
            None => Err(Error::end()),
        };
        match head {
            0x00..=0x18 => self.deserialize_u8(visitor),
            0x19 => self.deserialize_u16(visitor),
            0x1a => self.deserialize_u32(visitor),
            0x1b => self.deserialize_u64(visitor),
            0x20..=0x37 => self.deserialize_i8(visitor),
            0x38 if !high_bit()? => self.deserialize_i8(visitor),
            0x38 => self.deserialize_i16(visitor),
            0x39 if !high_bit()? => self.deserialize_i16(visitor),
            0x39 => self.deserialize_i32(visitor),
            0x3a if !high_bit()? => self.deserialize_i32(visitor),
            0x3a => self.deserialize_i64(visitor),
            0x3b if !high_bit()? => self.deserialize_i64(visitor),
            0x3b => self.deserialize_i128(visitor),
            0x40..=0x5b => visitor.visit_borrowed_bytes(self.bytes()?),
            0x5f => {
                self.pos += 1;
                visitor.visit_byte_buf(self.chunks(2)?)
            }
            0x60..=0x7b => visitor.visit_borrowed_str(self.text()?),
            0x7f => {
                self.pos += 1;
                let joined =
                    String::from_utf8(self.chunks(3)?).map_err(|_| syntax(at, "a text string that is not UTF-8"))?;
                visitor.visit_string(joined)
            }
            0x80..=0x9b | 0x9f => self.deserialize_seq(visitor),
            0xa0..=0xbb | 0xbf => self.deserialize_map(visitor),
            0xc0..=0xdb => {
                let (tag, _) = Deserializer::clone(self).tag()?;
                match tag {
                    2 => self.deserialize_u128(visitor),
                    3 => self.deserialize_i128(visitor),
                    _ => Err(syntax(at, "a tag other than a bignum's")),
                }
            }
            0xf4 | 0xf5 => self.deserialize_bool(visitor),
            0xf6 => {
                self.pos += 1;
                visitor.visit_none()
            }
            0xfa => self.deserialize_f32(visitor),
            0xfb => self.deserialize_f64(visitor),
            0xf9 => Err(syntax(at, "a half-precision float")),
            _ => Err(syntax(at, "undefined, a simple value, a break or a reserved head")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.next()? {
            0xf4 => visitor.visit_bool(false),
            0xf5 => visitor.visit_bool(true),
            _ => Err(syntax(at, "expected a bool")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (negative, n, at) = self.integer()?;
        let v = i8::try_from(n).map_err(|_| syntax(at, "an integer out of range for i8"))?;
        visitor.visit_i8(if negative { -1 - v } else { v })
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (negative, n, at) = self.integer()?;
        let v = i16::try_from(n).map_err(|_| syntax(at, "an integer out of range for i16"))?;
        visitor.visit_i16(if negative { -1 - v } else { v })
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (negative, n, at) = self.integer()?;
        let v = i32::try_from(n).map_err(|_| syntax(at, "an integer out of range for i32"))?;
        visitor.visit_i32(if negative { -1 - v } else { v })
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (negative, n, at) = self.integer()?;
        let v = i64::try_from(n).map_err(|_| syntax(at, "an integer out of range for i64"))?;
        visitor.visit_i64(if negative { -1 - v } else { v })
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.peek()? >> 5 {
            0 | 1 => {
                let (negative, n, _) = self.integer()?;
                visitor.visit_i128(if negative { -1 - i128::from(n) } else { i128::from(n) })
            }
            6 => {
                let (tag, _) = self.tag()?;
                let negative = match tag {
                    2 => false,
                    3 => true,
                    _ => return Err(syntax(at, "a tag other than a bignum's")),
                };
                let v = i128::try_from(self.bignum()?).map_err(|_| syntax(at, "a bignum out of range for i128"))?;
                visitor.visit_i128(if negative { -1 - v } else { v })
            }
            _ => Err(syntax(at, "expected an integer")),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (n, at) = self.unsigned()?;
        visitor.visit_u8(u8::try_from(n).map_err(|_| syntax(at, "an integer out of range for u8"))?)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (n, at) = self.unsigned()?;
        visitor.visit_u16(u16::try_from(n).map_err(|_| syntax(at, "an integer out of range for u16"))?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (n, at) = self.unsigned()?;
        visitor.visit_u32(u32::try_from(n).map_err(|_| syntax(at, "an integer out of range for u32"))?)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_u64(self.unsigned()?.0)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.peek()? >> 5 {
            0 => visitor.visit_u128(u128::from(self.unsigned()?.0)),
            6 => match self.tag()? {
                (2, _) => visitor.visit_u128(self.bignum()?),
                _ => Err(syntax(at, "a tag other than a positive bignum's")),
            },
            _ => Err(syntax(at, "expected an unsigned integer")),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.next()? {
            0xfa => visitor.visit_f32(f32::from_be_bytes(self.take_array()?)),
            _ => Err(syntax(at, "expected a single-precision float")),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.next()? {
            0xfb => visitor.visit_f64(f64::from_be_bytes(self.take_array()?)),
            0xfa => visitor.visit_f64(f64::from(f32::from_be_bytes(self.take_array()?))),
            _ => Err(syntax(at, "expected a single- or double-precision float")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (n, at) = self.unsigned()?;
        let c = u32::try_from(n).ok().and_then(char::from_u32).ok_or_else(|| syntax(at, "not a char's code point"))?;
        visitor.visit_char(c)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.text()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_str(self.text()?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_bytes(self.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_bytes(self.bytes()?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek()? == 0xf6 {
            self.pos += 1;
            visitor.visit_none()
        } else {
            self.nested(|de| visitor.visit_some(de))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        match self.container(4, "expected unit, an empty array")? {
            Some(0) => visitor.visit_unit(),
            _ => Err(syntax(at, "expected unit, an empty array")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.nested(|de| visitor.visit_newtype_struct(de))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let left = self.container(4, "expected an array")?;
        self.nested(|de| visitor.visit_seq(Items { de, left }))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let at = self.pos;
        let left = self.container(4, "expected an array")?;
        if left != u64::try_from(len).ok() {
            return Err(syntax(at, "an array of another length than the tuple's"));
        }
        self.nested(|de| visitor.visit_seq(Items { de, left }))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let left = self.container(5, "expected a map")?;
        self.nested(|de| visitor.visit_map(Items { de, left }))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == TAG_CONTAINER {
            let tag = if self.peek()? >> 5 == 6 { Some(self.tag()?.0) } else { None };
            return self.nested(|de| visitor.visit_enum(TagWrapper { de, tag }));
        }
        let at = self.pos;
        if (0xa0..=0xbb).contains(&self.peek()?) && self.container(5, "expected a map")? != Some(1) {
            return Err(syntax(at, "an enum as a map of more or fewer entries than one"));
        }
        self.nested(|de| visitor.visit_enum(Variant { de }))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.text()?)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of an array, or the entries of a map, being read.
struct Items<'a, 'de> {
    /// The deserializer, positioned at the next element or key.
    de: &'a mut Deserializer<'de>,
    /// How many elements (or entries) are left, or `None` if the item ends with a break.
    left: Option<u64>,
}

impl Items<'_, '_> {
    /// Whether another element or key follows; consumes the break that ends an indefinite
    /// item.
    #[inline]
    fn more(&mut self) -> Result<bool, Error> {
        match self.left {
            Some(n) => Ok(n > 0),
            None if self.de.peek()? == BREAK => {
                self.de.pos += 1;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Counts one element or entry as read.
    #[inline]
    fn done_one(&mut self) {
        if let Some(n) = &mut self.left {
            *n = n.saturating_sub(1);
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if !self.more()? {
            return Ok(None);
        }
        let value = seed.deserialize(&mut *self.de)?;
        self.done_one();
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        self.left.and_then(|n| usize::try_from(n).ok())
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = seed.deserialize(&mut *self.de)?;
        self.done_one();
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.left.and_then(|n| usize::try_from(n).ok())
    }
}

/// An enum being read: the variant's name, then its value (if it has one).
struct Variant<'a, 'de> {
    /// The deserializer, positioned at the variant's name.
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name = seed.deserialize(&mut *self.de)?;
        Ok((name, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_tuple(self.de, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self.de, visitor)
    }
}

/// minicbor-serde's tag wrapper being read: its `Tag` variant (the tag number, then the value)
/// if a tag was there, else its `NoTag` variant (the value).
struct TagWrapper<'a, 'de> {
    /// The deserializer, positioned at the value, after the tag if there was one.
    de: &'a mut Deserializer<'de>,
    /// The tag number read, if any.
    tag: Option<u64>,
}

impl<'de> de::EnumAccess<'de> for TagWrapper<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let name = if self.tag.is_some() { TAG_VARIANT } else { NO_TAG_VARIANT };
        let name = seed.deserialize(BorrowedStrDeserializer::<Error>::new(name))?;
        Ok((name, self))
    }
}

impl<'de> de::VariantAccess<'de> for TagWrapper<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Err(de::Error::invalid_type(de::Unexpected::UnitVariant, &"NoTag or Tag variant"))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(TagAndValue { de: self.de, tag: self.tag, value_read: false })
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(de::Unexpected::StructVariant, &"NoTag or Tag variant"))
    }
}

/// The tag wrapper's `Tag` variant as a sequence: the tag number (if any), then the value.
struct TagAndValue<'a, 'de> {
    /// The deserializer, positioned at the value.
    de: &'a mut Deserializer<'de>,
    /// The tag number, until it has been handed out.
    tag: Option<u64>,
    /// Whether the value has been read.
    value_read: bool,
}

impl<'de> de::SeqAccess<'de> for TagAndValue<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        if let Some(tag) = self.tag.take() {
            return seed.deserialize(U64Deserializer::<Error>::new(tag)).map(Some);
        }
        if self.value_read {
            return Ok(None);
        }
        self.value_read = true;
        seed.deserialize(&mut *self.de).map(Some)
    }
}
