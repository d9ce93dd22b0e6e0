//! The frame format of a group member's sockets ([`crate::GroupMember`]).
//!
//! Every ZeroMQ message on the gpub/gsub mesh, on the leader's ROUTER and on a member's DEALER
//! is one Cohort frame (see `cohort_ports::wire`) of message type [`FRAME_TYPE`] whose CBOR
//! payload is one [`Envelope`]:
//!
//! ```text
//! { "from": bstr(16),                       the sender's MemberId
//!   "body": { "Control": GroupMessage }     the core's protocol (serde's default enum form)
//!         | { "Data": bstr } }              an application message to every other member
//! ```
//!
//! Which bodies each socket carries (anything else is dropped and counted):
//!
//! | socket | bodies |
//! |---|---|
//! | gpub → gsub | `Data`; `Control` of `Alive`, `Leave`, `PreVote`, `PreVoteReply`, `RequestVote`, `Vote`, `Leader`, `CallVote`, `Announce` |
//! | member DEALER → leader ROUTER | `Control` of `Ack`, `ToLeader`, `ProposeVote`, `Ballot`; `from` must equal the DEALER's routing id |
//! | leader ROUTER → member DEALER | `Control` of `FromLeader`, from the leader the DEALER follows |

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

/// What an [`Envelope`] carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body<'a> {
    /// A message of the group protocol (membership, election, leader messages, votes).
    Control(Cow<'a, GroupMessage>),
    /// An application message to every other member (group pub/sub).
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
            GroupMessage::Leader { term: 9, endpoint: "tcp://127.0.0.1:4000".into(), seq: 4, members: vec![[3; 16], [9; 16]] },
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
