//! The events a [`GroupMember`](crate::GroupMember) gives its owner: one type from the member to
//! the component. The runtime re-exports these types unchanged (`cohort_runtime::GroupEvent`,
//! handled by `Component::on_group`).
//!
//! The core's [`Event`] is the core's own output, for its driver; the member turns each into a
//! [`GroupEvent`] here, once, and adds the events only it knows of (group messages, due actions).

use std::fmt;
use std::time::{Duration, SystemTime};

use cohort_ports::{RawPayload, ReceivedBytes};

use serde::de::DeserializeOwned;

use crate::core::Event;
use crate::wire::{MemberId, Outcome, Subject, VoteId, VoteKind};

/// The bytes of a message from the group (CBOR, as the runtime encodes values), decoded on
/// demand. A small group message's payload (up to 72 bytes) is copied into the event;
/// a larger one stays in the ZeroMQ message it arrived in (no copy). Cloning one copies its
/// bytes.
#[derive(Clone)]
pub struct Payload(Bytes);

/// The payload size up to which a group message's bytes are copied into its event: copying
/// them costs less than keeping the ZeroMQ message they arrived in (taking it out of the port,
/// and releasing it with the event), and the event is no larger.
const INLINE: usize = 72;

/// Where a [`Payload`]'s bytes live.
enum Bytes {
    /// In memory of their own (control messages, decoded from CBOR; clones).
    Owned(Vec<u8>),
    /// In the event itself: the first `len` bytes (small group messages).
    Inline { len: u8, bytes: [u8; INLINE] },
    /// In the received ZeroMQ message (larger group messages).
    Received(ReceivedBytes),
}

impl Clone for Bytes {
    fn clone(&self) -> Bytes {
        match self {
            Bytes::Owned(bytes) => Bytes::Owned(bytes.clone()),
            Bytes::Inline { len, bytes } => Bytes::Inline { len: *len, bytes: *bytes },
            Bytes::Received(bytes) => Bytes::Owned(bytes.to_vec()),
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Payload").field(&self.as_bytes()).finish()
    }
}

/// A payload that is not the type it was decoded as.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode a group payload as {wanted}: {why}")]
pub struct DecodeError {
    /// The type asked for.
    pub wanted: &'static str,
    /// Why not.
    pub why: String,
}

impl Payload {
    /// The payload of the bytes a member received.
    pub(crate) fn new(bytes: Vec<u8>) -> Payload {
        Payload(Bytes::Owned(bytes))
    }

    /// The payload that is `raw`'s bytes after a data frame header of `header` bytes: copied
    /// when small, left in the ZeroMQ message it arrived in when larger.
    pub(crate) fn from_frame(raw: RawPayload<'_>, header: usize) -> Payload {
        let bytes = raw.as_bytes().get(header..).unwrap_or_default();
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => {
                let mut inline = [0; INLINE];
                inline[..bytes.len()].copy_from_slice(bytes);
                Payload(Bytes::Inline { len, bytes: inline })
            }
            _ => Payload(Bytes::Received(raw.take().skip(header))),
        }
    }

    /// Decodes the payload as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        cohort_ports::cbor::from_slice(self.as_bytes())
            .map_err(|e| DecodeError { wanted: std::any::type_name::<T>(), why: e.to_string() })
    }

    /// The raw bytes (CBOR when the sender is a runtime component).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Bytes::Owned(bytes) => bytes,
            Bytes::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Bytes::Received(bytes) => bytes,
        }
    }
}

/// What a vote is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteSubject {
    /// A value.
    Value(Payload),
    /// An action, to be carried out together at `at`.
    Action {
        /// The action.
        action: Payload,
        /// When (wall-clock time; members' clocks must be synchronized, e.g. with PTP or NTP).
        at: SystemTime,
    },
}

impl VoteSubject {
    /// The subject as the wire carries it (an action's time in microseconds since the epoch).
    fn from_wire(subject: Subject) -> VoteSubject {
        match subject {
            Subject::Value(bytes) => VoteSubject::Value(Payload::new(bytes)),
            Subject::Action { action, at_us } => VoteSubject::Action {
                action: Payload::new(action),
                at: SystemTime::UNIX_EPOCH + Duration::from_micros(at_us),
            },
        }
    }
}

/// Something that happened in a group instance this member joined, in the order it happened.
/// [`GroupMember::poll`](crate::GroupMember::poll) returns them; a runtime component gets them
/// in `Component::on_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEvent {
    /// A group message from another member ([`GroupMember::send`](crate::GroupMember::send)).
    /// A member never gets its own.
    Message {
        /// The sender.
        from: MemberId,
        /// The message.
        payload: Payload,
    },
    /// A member joined (or was heard again).
    MemberJoined(MemberId),
    /// A member left, or has not been heard for the peer timeout.
    MemberLeft(MemberId),
    /// The group has a leader (possibly this member).
    LeaderElected(MemberId),
    /// The leader is gone (left, silent, stepped down, or superseded).
    LeaderExited(MemberId),
    /// (Leader.) A member sent the leader a message
    /// ([`GroupMember::send_to_leader`](crate::GroupMember::send_to_leader)).
    MessageToLeader {
        /// The sender.
        from: MemberId,
        /// The message.
        payload: Payload,
    },
    /// The leader sent this member a message
    /// ([`GroupMember::send_to_member`](crate::GroupMember::send_to_member)).
    MessageFromLeader {
        /// The leader.
        leader: MemberId,
        /// The message.
        payload: Payload,
    },
    /// The leader asks this member to vote: answer with
    /// [`GroupMember::cast_vote`](crate::GroupMember::cast_vote).
    VoteRequested {
        /// The vote.
        vote: VoteId,
        /// What it is about.
        subject: VoteSubject,
        /// What it takes to pass.
        kind: VoteKind,
    },
    /// The leader announced how a vote ended.
    VoteResult {
        /// The vote.
        vote: VoteId,
        /// What it was about.
        subject: VoteSubject,
        /// Yes, no or timeout.
        outcome: Outcome,
    },
    /// (Requester.) No announcement of this member's vote arrived within its timeout and a
    /// heartbeat: the leader changed or could not be reached. Members that heard the leader may
    /// still have learned how it ended.
    VoteLost {
        /// The vote.
        vote: VoteId,
    },
    /// An action vote passed and its time has come (on every member that learned the result).
    ActionDue {
        /// The vote.
        vote: VoteId,
        /// The action.
        action: Payload,
        /// How late after the agreed time this is delivered.
        late: Duration,
    },
}

impl GroupEvent {
    /// Appends the group message from `from` whose payload is `raw`'s bytes after a data
    /// frame's header of `header` bytes: a small payload is copied straight into the new event
    /// in `events` (no copy on the way), a larger one stays in the message it arrived in.
    #[inline]
    pub(crate) fn push_message(events: &mut Vec<GroupEvent>, from: MemberId, raw: RawPayload<'_>, header: usize) {
        let bytes = raw.as_bytes().get(header..).unwrap_or_default();
        let len = match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= INLINE => len,
            _ => {
                events.push(GroupEvent::Message { from, payload: Payload::from_frame(raw, header) });
                return;
            }
        };
        // Written in place, field by field: an event built aside and then moved in would be
        // read back before its scattered narrow writes had landed (a stall per message).
        events.reserve(1);
        match events.spare_capacity_mut().first_mut() {
            Some(slot) => {
                let event = slot
                    .write(GroupEvent::Message { from, payload: Payload(Bytes::Inline { len, bytes: [0; INLINE] }) });
                if let GroupEvent::Message { payload: Payload(Bytes::Inline { bytes: inline, .. }), .. } = event {
                    inline[..bytes.len()].copy_from_slice(bytes);
                }
                // SAFETY: the first spare slot, now written, becomes the last element.
                unsafe { events.set_len(events.len() + 1) };
            }
            // Not after `reserve(1)`; were it so, the message still goes in, the plain way.
            None => events.push(GroupEvent::Message { from, payload: Payload(Bytes::Owned(bytes.to_vec())) }),
        }
    }

    /// The event for the owner that an event of the core becomes.
    pub(crate) fn from_core(event: Event) -> GroupEvent {
        match event {
            Event::MemberJoined(id) => GroupEvent::MemberJoined(id),
            Event::MemberLeft(id) => GroupEvent::MemberLeft(id),
            Event::LeaderElected(id) => GroupEvent::LeaderElected(id),
            Event::LeaderExited(id) => GroupEvent::LeaderExited(id),
            Event::MessageToLeader { from, payload } => {
                GroupEvent::MessageToLeader { from, payload: Payload::new(payload) }
            }
            Event::MessageFromLeader { leader, payload } => {
                GroupEvent::MessageFromLeader { leader, payload: Payload::new(payload) }
            }
            Event::VoteCalled { vote, subject, kind } => {
                GroupEvent::VoteRequested { vote, subject: VoteSubject::from_wire(subject), kind }
            }
            Event::VoteEnded { vote, subject, outcome } => {
                GroupEvent::VoteResult { vote, subject: VoteSubject::from_wire(subject), outcome }
            }
            Event::VoteLost { vote } => GroupEvent::VoteLost { vote },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_events_keep_their_content() {
        let id: MemberId = [7; 16];
        let vote = VoteId { requester: id, number: 3 };
        let at_us = 1_700_000_000_123_456;
        let event = GroupEvent::from_core(Event::VoteEnded {
            vote,
            subject: Subject::Action { action: vec![1, 2], at_us },
            outcome: Outcome::Yes,
        });
        let GroupEvent::VoteResult { vote: v, subject: VoteSubject::Action { action, at }, outcome } = event else {
            panic!("{event:?}");
        };
        assert_eq!((v, outcome, action.as_bytes()), (vote, Outcome::Yes, &[1, 2][..]));
        assert_eq!(at.duration_since(SystemTime::UNIX_EPOCH).unwrap(), Duration::from_micros(at_us));
        let called = Event::VoteCalled { vote, subject: Subject::Value(vec![9]), kind: VoteKind::Consensus };
        assert_eq!(
            GroupEvent::from_core(called),
            GroupEvent::VoteRequested {
                vote,
                subject: VoteSubject::Value(Payload::new(vec![9])),
                kind: VoteKind::Consensus
            }
        );
        let to_leader = Event::MessageToLeader { from: id, payload: vec![4] };
        assert_eq!(
            GroupEvent::from_core(to_leader),
            GroupEvent::MessageToLeader { from: id, payload: Payload::new(vec![4]) }
        );
    }

    #[test]
    fn payloads_decode_as_their_type_or_say_why_not() {
        let payload = Payload::new(minicbor_serde::to_vec(42.5_f64).unwrap());
        assert_eq!(payload.decode::<f64>().unwrap(), 42.5);
        let e = payload.decode::<String>().unwrap_err();
        assert_eq!(e.wanted, std::any::type_name::<String>());
    }

    /// Every group message becomes an event written into the owner's buffer: at 128 bytes or
    /// less, writing and moving one is a few vector stores, not a call to `memcpy`.
    #[test]
    fn an_event_fits_in_128_bytes() {
        assert!(std::mem::size_of::<GroupEvent>() <= 128, "{} bytes", std::mem::size_of::<GroupEvent>());
    }
}
