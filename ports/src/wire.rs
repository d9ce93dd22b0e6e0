//! The wire format of a Cohort message frame.
//!
//! Every application frame starts with a small fixed header, followed by the payload in the same
//! ZeroMQ frame (one frame per message keeps per-message cost at the level of raw ZeroMQ; see
//! `docs/ports.md`). All integers are little-endian.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | format version, [`FORMAT_VERSION`] |
//! | 1 | 1 | flags: [`Flags::TIMED`], [`Flags::RAW`], [`Flags::FINAL`] |
//! | 2 | 4 | message type id, [`type_id`] of the model's message name |
//! | 6 | 8 | sequence number (per sending port; the request id on request ports) |
//! | 14 | 8 | send time in nanoseconds since the Unix epoch, only when `TIMED` is set |
//!
//! The payload is CBOR (serde; written by `minicbor-serde`, read by a decoder of our own that
//! accepts what minicbor-serde's accepts, in `codec`) unless `RAW` is set, in which case it is
//! the bytes the application gave.
//!
//! **Bare frames.** A frame whose first byte is [`BARE_TAG`] has no header: the rest is its
//! sender's own bytes, with no type id, sequence number or send time. A group's data frames are
//! bare (`cohort_groups::envelope`): the group's own layout identifies them and their sender, so
//! the 14-byte header would only make every small group message longer. No format version has
//! the tag's value, so the first byte tells the two forms apart. Only group subscribers accept
//! bare frames, in their byte receives ([`crate::SubPort::recv_bytes`] and
//! [`crate::SubPort::recv_mixed`], as a raw payload of sequence number 0 and no send time);
//! every other receive refuses them ([`FrameError::Bare`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The format version this build writes and accepts.
pub const FORMAT_VERSION: u8 = 1;

/// The first byte of a bare frame (see the module documentation), which no format version has.
pub const BARE_TAG: u8 = 0xB7;

/// Length of a bare frame's header: [`BARE_TAG`] alone.
pub const BARE_HEADER_LEN: usize = 1;

/// Length of the header without the optional send time.
pub const BASE_HEADER_LEN: usize = 14;

/// Length of the header of a timed frame.
pub const TIMED_HEADER_LEN: usize = BASE_HEADER_LEN + 8;

/// The flag bits of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// The header carries the send time.
    pub const TIMED: Flags = Flags(0x01);
    /// The payload is raw application bytes, not CBOR.
    pub const RAW: Flags = Flags(0x02);
    /// This answer is the last one to its query.
    pub const FINAL: Flags = Flags(0x04);
    const KNOWN: u8 = 0x07;

    /// No flag set.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` set too.
    #[must_use]
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The flag byte.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// The id of a message type on the wire: 32-bit FNV-1a of the message name as written in the
/// model. Both ends derive it from the same model, so a frame of another type is recognised.
pub const fn type_id(name: &str) -> u32 {
    let bytes = name.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// A message type of the model: its name and its wire id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageType {
    name: String,
    id: u32,
}

impl MessageType {
    /// The message type named `name` in the model.
    pub fn new(name: impl Into<String>) -> MessageType {
        let name = name.into();
        let id = type_id(&name);
        MessageType { name, id }
    }

    /// The name of the message type.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wire id of the message type.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Flag bits.
    pub flags: Flags,
    /// Message type id.
    pub type_id: u32,
    /// Sequence number (request id on request ports).
    pub seq: u64,
    /// Send time, present when the sending port is timed.
    pub send_time: Option<SystemTime>,
}

/// Why a frame was refused. Every refusal is counted by the receiving port and logged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is shorter than its header says.
    #[error("frame of {len} bytes is shorter than its {needed}-byte header")]
    TooShort {
        /// Length of the frame.
        len: usize,
        /// Header length it needed.
        needed: usize,
    },
    /// A bare frame (a group's data frame), which only a group subscriber's byte receives
    /// accept.
    #[error("bare frame (a group's data frame) where a port frame was expected")]
    Bare,
    /// The frame is of another format version (or not a Cohort frame at all).
    #[error("frame of format version {found}, expected {FORMAT_VERSION}")]
    Version {
        /// The version byte found.
        found: u8,
    },
    /// The flag byte has bits this version does not define.
    #[error("frame has unknown flag bits {bits:#04x}")]
    UnknownFlags {
        /// The flag byte.
        bits: u8,
    },
    /// The frame carries another message type than the port expects.
    #[error("frame of message type {found:#010x}, expected {expected_name} ({expected:#010x})")]
    WrongType {
        /// The type id found.
        found: u32,
        /// The type id the port expects.
        expected: u32,
        /// The name of the expected type.
        expected_name: String,
    },
    /// The message has a different number of ZeroMQ frames than the port's pattern.
    #[error("message of {found} ZeroMQ frames, expected {expected}")]
    FrameCount {
        /// Frames found.
        found: usize,
        /// Frames expected.
        expected: usize,
    },
    /// A raw frame reached a typed receive, or a CBOR frame a raw receive.
    #[error("payload is {found}, expected {expected}")]
    Encoding {
        /// The encoding found.
        found: &'static str,
        /// The encoding asked for.
        expected: &'static str,
    },
    /// The CBOR payload does not decode as the expected Rust type.
    #[error("payload does not decode: {0}")]
    Payload(String),
}

/// Writes a header for (`flags`, `type_id`, `seq`) into `out`, which is cleared first. When
/// `flags` has [`Flags::TIMED`], the current time is written too.
#[inline]
pub fn write_header(out: &mut Vec<u8>, flags: Flags, type_id: u32, seq: u64) {
    let len = header_len(flags);
    out.clear();
    out.resize(len, 0);
    put_header(&mut out[..len], flags, type_id, seq);
}

/// Length of the header that `flags` call for.
#[inline]
pub(crate) const fn header_len(flags: Flags) -> usize {
    if flags.contains(Flags::TIMED) {
        TIMED_HEADER_LEN
    } else {
        BASE_HEADER_LEN
    }
}

/// Writes the header for (`flags`, `type_id`, `seq`) into `out`, which is exactly
/// [`header_len`]`(flags)` bytes long (the start of an outgoing ZeroMQ message). The current
/// time is read only when `flags` has [`Flags::TIMED`].
#[inline]
pub(crate) fn put_header(out: &mut [u8], flags: Flags, type_id: u32, seq: u64) {
    out[0] = FORMAT_VERSION;
    out[1] = flags.bits();
    out[2..6].copy_from_slice(&type_id.to_le_bytes());
    out[6..BASE_HEADER_LEN].copy_from_slice(&seq.to_le_bytes());
    if flags.contains(Flags::TIMED) {
        out[BASE_HEADER_LEN..TIMED_HEADER_LEN].copy_from_slice(&nanos_since_epoch(SystemTime::now()).to_le_bytes());
    }
}

/// Reads the header at the start of `frame` and returns it with the payload that follows.
#[inline]
pub fn read_header(frame: &[u8]) -> Result<(Header, &[u8]), FrameError> {
    if frame.first() == Some(&BARE_TAG) {
        return Err(FrameError::Bare);
    }
    if frame.len() < BASE_HEADER_LEN {
        // A frame too short to be ours may still announce another version: say so if it does.
        if let Some(&version) = frame.first() {
            if version != FORMAT_VERSION {
                return Err(FrameError::Version { found: version });
            }
        }
        return Err(FrameError::TooShort { len: frame.len(), needed: BASE_HEADER_LEN });
    }
    if frame[0] != FORMAT_VERSION {
        return Err(FrameError::Version { found: frame[0] });
    }
    let bits = frame[1];
    if bits & !Flags::KNOWN != 0 {
        return Err(FrameError::UnknownFlags { bits });
    }
    let flags = Flags(bits);
    let type_id = u32::from_le_bytes([frame[2], frame[3], frame[4], frame[5]]);
    let mut seq_bytes = [0u8; 8];
    seq_bytes.copy_from_slice(&frame[6..14]);
    let seq = u64::from_le_bytes(seq_bytes);
    let (send_time, header_len) = if flags.contains(Flags::TIMED) {
        if frame.len() < TIMED_HEADER_LEN {
            return Err(FrameError::TooShort { len: frame.len(), needed: TIMED_HEADER_LEN });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&frame[14..22]);
        (Some(UNIX_EPOCH + Duration::from_nanos(u64::from_le_bytes(ts))), TIMED_HEADER_LEN)
    } else {
        (None, BASE_HEADER_LEN)
    };
    Ok((Header { flags, type_id, seq, send_time }, &frame[header_len..]))
}

/// Checks that `header` is of the `expected` message type.
#[inline]
pub fn check_type(header: &Header, expected: &MessageType) -> Result<(), FrameError> {
    if header.type_id == expected.id() {
        Ok(())
    } else {
        Err(FrameError::WrongType {
            found: header.type_id,
            expected: expected.id(),
            expected_name: expected.name().to_owned(),
        })
    }
}

/// Fuzzing entry point, not part of the API: checks `frame` exactly as a port's typed receive
/// does (header, message type `expected`, a CBOR payload) and decodes the payload as a `T` with
/// the ports' codec (trailing bytes refused). For the `port_frame` fuzz target and the
/// mutated-frame tests, which feed it arbitrary bytes; ports use the same functions.
#[doc(hidden)]
pub fn decode_for_fuzz<T: serde::de::DeserializeOwned>(
    frame: &[u8],
    expected: &MessageType,
) -> Result<(Header, T), FrameError> {
    let (header, offset) = crate::frames::check(frame, expected, crate::frames::Want::Typed)?;
    let value = crate::codec::decode(&frame[offset..])?;
    Ok((header, value))
}

/// Fuzzing entry point, not part of the API: checks `frame` exactly as a port's `*_bytes`
/// receive does (header and message type `expected`, any payload encoding) and returns the
/// header with the payload. The raw-receive counterpart of [`decode_for_fuzz`].
#[doc(hidden)]
pub fn payload_for_fuzz<'a>(frame: &'a [u8], expected: &MessageType) -> Result<(Header, &'a [u8]), FrameError> {
    let (header, offset) = crate::frames::check(frame, expected, crate::frames::Want::Bytes)?;
    Ok((header, &frame[offset..]))
}

fn nanos_since_epoch(time: SystemTime) -> u64 {
    // Before 1970 or after 2554 cannot be written; both are clock faults, so write 0.
    time.duration_since(UNIX_EPOCH).ok().and_then(|d| u64::try_from(d.as_nanos()).ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_with_and_without_time() {
        let mut buf = Vec::new();
        write_header(&mut buf, Flags::RAW, 7, 42);
        buf.extend_from_slice(b"xyz");
        let (h, payload) = read_header(&buf).unwrap();
        assert_eq!((h.flags, h.type_id, h.seq, h.send_time, payload), (Flags::RAW, 7, 42, None, &b"xyz"[..]));

        let before = SystemTime::now();
        write_header(&mut buf, Flags::TIMED.with(Flags::FINAL), 9, u64::MAX);
        let (h, payload) = read_header(&buf).unwrap();
        assert!(h.flags.contains(Flags::FINAL) && h.flags.contains(Flags::TIMED));
        assert_eq!((h.type_id, h.seq, payload.len()), (9, u64::MAX, 0));
        let sent = h.send_time.unwrap();
        assert!(sent >= before - Duration::from_micros(1) && sent <= SystemTime::now());
    }

    #[test]
    fn foreign_and_short_frames_are_refused() {
        assert_eq!(read_header(b""), Err(FrameError::TooShort { len: 0, needed: BASE_HEADER_LEN }));
        assert_eq!(read_header(b"\x02abc"), Err(FrameError::Version { found: 2 }));
        assert_eq!(read_header(&[1; 5]), Err(FrameError::TooShort { len: 5, needed: BASE_HEADER_LEN }));
        let mut frame = vec![1, 0x80];
        frame.extend_from_slice(&[0; 12]);
        assert_eq!(read_header(&frame), Err(FrameError::UnknownFlags { bits: 0x80 }));
        frame[1] = Flags::TIMED.bits();
        assert_eq!(read_header(&frame), Err(FrameError::TooShort { len: 14, needed: TIMED_HEADER_LEN }));
    }

    #[test]
    fn type_ids_are_fnv1a_and_checked() {
        assert_eq!(type_id(""), 0x811c_9dc5);
        assert_eq!(type_id("a"), 0xe40c_292c);
        let m = MessageType::new("SensorReady");
        let h = Header { flags: Flags::empty(), type_id: m.id(), seq: 0, send_time: None };
        assert!(check_type(&h, &m).is_ok());
        assert!(matches!(check_type(&h, &MessageType::new("Other")), Err(FrameError::WrongType { .. })));
    }
}
