//! The frame format of a group member's sockets ([`crate::GroupMember`]).
//!
//! Every ZeroMQ message on the gpub/gsub mesh, on the leader's ROUTER and on a member's DEALER
//! is one Cohort frame (see `cohort_ports::wire`), of message type [`FRAME_TYPE`] or bare. It has
//! one of two forms:
//!
//! - **Control frames** (a port frame with the `RAW` flag clear): the payload is one CBOR
//!   [`Envelope`]:
//!
//!   ```text
//!   { "from": bstr(16),                       the sender's MemberId
//!     "body": { "Control": GroupMessage }     the core's protocol (serde's default enum form)
//!           | { "Data": bstr } }              an application message to every other member
//!   ```
//!
//! - **Data frames** (on the mesh only): one application message
//!   ([`GroupMember::send`](crate::GroupMember::send)) in a fixed layout, [`DataFrame`], sent as
//!   a bare frame: the ports' one-byte tag (`cohort_ports::wire::BARE_TAG`, `0xB7`) instead of
//!   their 14-byte header, then
//!
//!   | offset | size | field |
//!   |---|---|---|
//!   | 0 | 1 | tag, [`DATA_TAG`] (`0x01`) |
//!   | 1 | 16 | the sender's MemberId |
//!   | 17 | the rest (0 or more) | the application's bytes, as given to `send` |
//!
//!   so a 64-byte message is an 82-byte frame. A payload shorter than [`DATA_HEADER_LEN`]
//!   bytes, or with another first byte, is not a data frame: the gsub port refuses it (its
//!   `undecodable` counter, part of `MemberStats::refused`) and drops it. Reading one is a
//!   length check and a copy of the application's bytes, where a CBOR envelope costs a decoder
//!   run per message. Members also accept the two earlier forms of the same message on the
//!   mesh, but no longer send them: the same layout as the raw payload of a port frame (`RAW`
//!   set), and the CBOR `Data` body above.
//!
//! Which bodies each socket carries (anything else is dropped and counted):
//!
//! | socket | bodies |
//! |---|---|
//! | gpub → gsub | data frames, and CBOR `Data`; `Control` of `Alive`, `Leave`, `PreVote`, `PreVoteReply`, `RequestVote`, `Vote`, `Leader`, `CallVote`, `Announce` |
//! | member DEALER → leader ROUTER | `Control` of `Ack`, `ToLeader`, `ProposeVote`, `Ballot`; `from` must equal the DEALER's routing id (raw frames are refused) |
//! | leader ROUTER → member DEALER | `Control` of `FromLeader`, from the leader the DEALER follows (raw frames are refused) |
//!
//! A frame from the receiving member itself, of either form, is dropped too.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::wire::{GroupMessage, MemberId};

/// The message type name of every group frame: frames of any other type (another port's
/// messages, stray publishers) are refused by the ports' type check before decoding.
pub const FRAME_TYPE: &str = "cohort.group";

/// One group frame's payload: who sent it and what it carries. Borrowed when sent, owned
/// (`Envelope<'static>`) when received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope<'a> {
    /// The sending member.
    #[serde(with = "member_id")]
    pub from: MemberId,
    /// What it carries.
    pub body: Body<'a>,
}

/// The first byte of a [`DataFrame`].
pub const DATA_TAG: u8 = 0x01;

/// The length of a [`DataFrame`]'s fixed header: [`DATA_TAG`] and the sender's 16-byte id.
pub const DATA_HEADER_LEN: usize = 1 + 16;

/// One application message on the mesh in the data frame layout (see the module
/// documentation): the raw payload of a group frame, read without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame<'a> {
    /// The sending member.
    pub from: MemberId,
    /// The application's bytes.
    pub payload: &'a [u8],
}

/// Why a raw group payload is not a [`DataFrame`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataFrameError {
    /// The payload starts with another byte than [`DATA_TAG`].
    #[error("raw group payload starts with {found:#04x}, not the data tag {DATA_TAG:#04x}")]
    UnknownTag {
        /// The first byte.
        found: u8,
    },
    /// The payload is shorter than the data frame header.
    #[error("raw group payload of {len} bytes is shorter than the {DATA_HEADER_LEN}-byte data frame header")]
    TooShort {
        /// The payload's length.
        len: usize,
    },
}

impl<'a> DataFrame<'a> {
    /// The fixed header of a data frame from `from`; the application's bytes follow it.
    pub fn header(from: &MemberId) -> [u8; DATA_HEADER_LEN] {
        let mut header = [0; DATA_HEADER_LEN];
        header[0] = DATA_TAG;
        header[1..].copy_from_slice(from);
        header
    }

    /// Reads a raw group payload as a data frame.
    #[inline]
    pub fn decode(bytes: &'a [u8]) -> Result<DataFrame<'a>, DataFrameError> {
        match bytes.split_first_chunk::<DATA_HEADER_LEN>() {
            Some(([DATA_TAG, id @ ..], payload)) => Ok(DataFrame { from: *id, payload }),
            Some(([found, ..], _)) => Err(DataFrameError::UnknownTag { found: *found }),
            None => match bytes.first() {
                Some(&found) if found != DATA_TAG => Err(DataFrameError::UnknownTag { found }),
                _ => Err(DataFrameError::TooShort { len: bytes.len() }),
            },
        }
    }

    /// The whole raw payload: header and application bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(DATA_HEADER_LEN + self.payload.len());
        bytes.extend_from_slice(&DataFrame::header(&self.from));
        bytes.extend_from_slice(self.payload);
        bytes
    }
}

/// What an [`Envelope`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body<'a> {
    /// A message of the group protocol (membership, election, leader messages, votes).
    Control(Cow<'a, GroupMessage>),
    /// An application message to every other member (group pub/sub), in the earlier form:
    /// members accept it on the mesh but send a [`DataFrame`] instead.
    Data(#[serde(with = "bytes")] Cow<'a, [u8]>),
}

/// Where a frame arrived, which decides the bodies it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The gsub socket (the broadcast mesh).
    Mesh,
    /// The leader's ROUTER (member → leader).
    ToLeader,
    /// The member's DEALER (leader → member).
    FromLeader,
}

impl Body<'_> {
    /// Whether this body may arrive on `channel`.
    pub fn allowed_on(&self, channel: Channel) -> bool {
        match self {
            Body::Data(_) => channel == Channel::Mesh,
            Body::Control(message) => channel_of(message) == channel,
        }
    }
}

/// The channel a protocol message travels on.
pub fn channel_of(message: &GroupMessage) -> Channel {
    match message {
        GroupMessage::Alive { .. }
        | GroupMessage::Leave
        | GroupMessage::PreVote { .. }
        | GroupMessage::PreVoteReply { .. }
        | GroupMessage::RequestVote { .. }
        | GroupMessage::Vote { .. }
        | GroupMessage::Leader { .. }
        | GroupMessage::CallVote { .. }
        | GroupMessage::Announce { .. } => Channel::Mesh,
        GroupMessage::ToLeader { .. }
        | GroupMessage::Ack { .. }
        | GroupMessage::ProposeVote { .. }
        | GroupMessage::Ballot { .. } => Channel::ToLeader,
        GroupMessage::FromLeader { .. } => Channel::FromLeader,
    }
}

/// A [`MemberId`] as a 16-byte CBOR byte string.
mod member_id {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    use crate::wire::MemberId;

    pub(super) fn serialize<S: Serializer>(id: &MemberId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<MemberId, D::Error> {
        struct Id;
        impl Visitor<'_> for Id {
            type Value = MemberId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a 16-byte member id")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<MemberId, E> {
                MemberId::try_from(v).map_err(|_| E::invalid_length(v.len(), &self))
            }
        }
        d.deserialize_bytes(Id)
    }
}

/// Application bytes as a CBOR byte string (serde writes a `Vec<u8>` as an array of integers).
mod bytes {
    use std::borrow::Cow;

    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, [u8]>, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes).map(Cow::Owned)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::wire::{Subject, VoteId, VoteKind};

    fn round_trip(envelope: &Envelope<'_>) -> Envelope<'static> {
        let bytes = minicbor_serde::to_vec(envelope).unwrap();
        let mut de = minicbor_serde::Deserializer::new(&bytes);
        let back = Envelope::deserialize(&mut de).unwrap();
        assert_eq!(de.decoder().position(), bytes.len());
        back
    }

    #[test]
    fn envelopes_round_trip() {
        let from = [7u8; 16];
        let payload = vec![0u8, 1, 255, 42];
        let data = Envelope { from, body: Body::Data(Cow::Borrowed(&payload)) };
        assert_eq!(round_trip(&data), data);
        let vote = VoteId { requester: [1; 16], number: u64::MAX };
        let messages = [
            GroupMessage::Alive { term: 3 },
            GroupMessage::Leave,
            GroupMessage::Leader {
                term: 9,
                endpoint: "tcp://127.0.0.1:4000".into(),
                seq: 4,
                members: vec![[3; 16], [9; 16]],
            },
            GroupMessage::Ack { term: 9, seq: 4 },
            GroupMessage::ProposeVote {
                vote,
                subject: Subject::Action { action: vec![1, 2], at_us: 17 },
                kind: VoteKind::Consensus,
                timeout_us: 5,
            },
        ];
        for message in messages {
            let control = Envelope { from, body: Body::Control(Cow::Borrowed(&message)) };
            assert_eq!(round_trip(&control), control);
        }
    }

    #[test]
    fn ids_and_data_are_byte_strings() {
        let envelope = Envelope { from: [0xAB; 16], body: Body::Data(Cow::Borrowed(&[0xCD; 40])) };
        let bytes = minicbor_serde::to_vec(&envelope).unwrap();
        // map(2) "from" bstr(16) … "body" map(1) "Data" bstr(40) …
        assert_eq!(bytes.len(), 1 + 5 + 1 + 16 + 5 + 1 + 5 + 2 + 40);
    }

    #[test]
    fn wrong_ids_and_unknown_fields_do_not_decode() {
        let decode = |bytes: &[u8]| {
            let mut de = minicbor_serde::Deserializer::new(bytes);
            Envelope::deserialize(&mut de).is_ok()
        };
        #[derive(Serialize)]
        struct Short<'a> {
            #[serde(with = "serde_bytes_like")]
            from: &'a [u8],
            body: Body<'a>,
        }
        mod serde_bytes_like {
            pub(super) fn serialize<S: serde::Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b)
            }
        }
        let short = Short { from: &[1; 15], body: Body::Data(Cow::Borrowed(b"x")) };
        assert!(!decode(&minicbor_serde::to_vec(&short).unwrap()));
        #[derive(Serialize)]
        struct Extra<'a> {
            #[serde(with = "serde_bytes_like")]
            from: &'a [u8],
            body: Body<'a>,
            extra: u8,
        }
        let extra = Extra { from: &[1; 16], body: Body::Data(Cow::Borrowed(b"x")), extra: 1 };
        assert!(!decode(&minicbor_serde::to_vec(&extra).unwrap()));
        let fine = Short { from: &[1; 16], body: Body::Data(Cow::Borrowed(b"x")) };
        assert!(decode(&minicbor_serde::to_vec(&fine).unwrap()));
    }

    #[test]
    fn data_frames_round_trip() {
        for len in [0, 1, 64, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let frame = DataFrame { from: [0x5A; 16], payload: &payload };
            let bytes = frame.encode();
            assert_eq!(bytes.len(), DATA_HEADER_LEN + len);
            assert_eq!(bytes[..DATA_HEADER_LEN], DataFrame::header(&[0x5A; 16]));
            assert_eq!(DataFrame::decode(&bytes), Ok(frame));
        }
    }

    #[test]
    fn raw_payloads_that_are_not_data_frames_do_not_decode() {
        let good = DataFrame { from: [3; 16], payload: b"x" }.encode();
        assert_eq!(DataFrame::decode(&[]), Err(DataFrameError::TooShort { len: 0 }));
        assert_eq!(DataFrame::decode(&good[..DATA_HEADER_LEN - 1]), Err(DataFrameError::TooShort { len: 16 }));
        assert_eq!(DataFrame::decode(&[DATA_TAG]), Err(DataFrameError::TooShort { len: 1 }));
        let mut other = good.clone();
        other[0] = 0xA2;
        assert_eq!(DataFrame::decode(&other), Err(DataFrameError::UnknownTag { found: 0xA2 }));
        assert_eq!(DataFrame::decode(&[7]), Err(DataFrameError::UnknownTag { found: 7 }));
        // A CBOR envelope is not a data frame either.
        let cbor = minicbor_serde::to_vec(&Envelope { from: [3; 16], body: Body::Data(Cow::Borrowed(b"x")) }).unwrap();
        assert!(DataFrame::decode(&cbor).is_err());
    }

    proptest::proptest! {
        /// Any bytes decode or fail with a reason, never panic; what decodes encodes back.
        #[test]
        fn any_raw_payload_is_read_or_refused(
            first in proptest::option::of(0u8..3),
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let bytes: Vec<u8> = first.into_iter().chain(rest).collect();
            match DataFrame::decode(&bytes) {
                Ok(frame) => proptest::prop_assert_eq!(frame.encode(), bytes),
                Err(_) => proptest::prop_assert!(bytes.len() < DATA_HEADER_LEN || bytes[0] != DATA_TAG),
            }
        }
    }

    #[test]
    fn bodies_keep_to_their_channels() {
        let data = Body::Data(Cow::Borrowed(b"x"));
        assert!(data.allowed_on(Channel::Mesh) && !data.allowed_on(Channel::ToLeader));
        let ballot = GroupMessage::Ballot { vote: VoteId { requester: [1; 16], number: 1 }, yes: true };
        let body = Body::Control(Cow::Borrowed(&ballot));
        assert!(body.allowed_on(Channel::ToLeader) && !body.allowed_on(Channel::Mesh));
        let from_leader = GroupMessage::FromLeader { term: 1, payload: vec![] };
        assert_eq!(channel_of(&from_leader), Channel::FromLeader);
    }
}
