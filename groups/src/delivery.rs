//! What [`GroupMember::poll_with`](crate::GroupMember::poll_with) hands its handler: group
//! messages lent in the ZeroMQ message they arrived in, and every other event.
//!
//! An owner that reads each group message as it arrives saves building an event for it (and
//! copying a small payload into that event, then reading it back): the handler reads the bytes
//! where libzmq put them, as a raw subscriber would. One that wants to keep a message makes it
//! an event ([`LentMessage::into_event`]).

use std::fmt;

use cohort_ports::RawPayload;

use crate::event::{GroupEvent, Payload};
use crate::wire::MemberId;

/// One thing that happened in the group, in order, as
/// [`GroupMember::poll_with`](crate::GroupMember::poll_with) hands it over.
#[derive(Debug)]
pub enum Delivery<'a> {
    /// A group message from another member ([`GroupMember::send`](crate::GroupMember::send)),
    /// lent until the handler returns.
    Message(LentMessage<'a>),
    /// Any other event (never a [`GroupEvent::Message`]: those come as
    /// [`Delivery::Message`]).
    Event(GroupEvent),
}

/// A group message from another member, lent to the handler of
/// [`GroupMember::poll_with`](crate::GroupMember::poll_with): read it in place
/// ([`LentMessage::as_bytes`], no copy), or keep it ([`LentMessage::into_event`]). A handle to
/// the message where the member holds it, one pointer wide: taking it out of a [`Delivery`]
/// copies nothing else.
pub struct LentMessage<'a> {
    lent: &'a mut Lent<'a>,
}

impl fmt::Debug for LentMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LentMessage").field("from", &self.from()).field("bytes", &self.as_bytes()).finish()
    }
}

/// A lent message, held by the member while the handler runs.
pub(crate) struct Lent<'a> {
    from: MemberId,
    body: Body<'a>,
}

/// Where a lent message's bytes are.
enum Body<'a> {
    /// In the frame it arrived in, after a data frame header of `header` bytes.
    Frame { raw: RawPayload<'a>, header: usize },
    /// Decoded already (a message in the earlier CBOR form).
    Decoded(Payload),
    /// Taken ([`LentMessage::into_event`] consumes the handle, so nothing reads this).
    Taken,
}

impl<'a> Lent<'a> {
    /// The message from `from` whose payload is `raw`'s bytes after a data frame header of
    /// `header` bytes.
    #[inline]
    pub(crate) fn in_frame(from: MemberId, raw: RawPayload<'a>, header: usize) -> Lent<'a> {
        Lent { from, body: Body::Frame { raw, header } }
    }

    /// A message whose payload was decoded from an envelope (the earlier CBOR form).
    pub(crate) fn decoded(from: MemberId, payload: Payload) -> Lent<'a> {
        Lent { from, body: Body::Decoded(payload) }
    }

    /// The handle to lend.
    #[inline]
    pub(crate) fn handle(&'a mut self) -> LentMessage<'a> {
        LentMessage { lent: self }
    }
}

impl LentMessage<'_> {
    /// The sender.
    #[inline]
    pub fn from(&self) -> MemberId {
        self.lent.from
    }

    /// The message's bytes (CBOR when the sender is a runtime component), where they are.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.lent.body {
            Body::Frame { raw, header } => raw.as_bytes().get(*header..).unwrap_or_default(),
            Body::Decoded(payload) => payload.as_bytes(),
            Body::Taken => &[],
        }
    }

    /// The message as the [`GroupEvent::Message`] [`GroupMember::poll`](crate::GroupMember::poll)
    /// would have returned: a small payload is copied into the event, a larger one stays in
    /// the ZeroMQ message it arrived in (no copy).
    pub fn into_event(self) -> GroupEvent {
        let payload = match std::mem::replace(&mut self.lent.body, Body::Taken) {
            Body::Frame { raw, header } => Payload::from_frame(raw, header),
            Body::Decoded(payload) => payload,
            Body::Taken => Payload::new(Vec::new()),
        };
        GroupEvent::Message { from: self.lent.from, payload }
    }

    /// Appends the message to `events` as a [`GroupEvent::Message`], written in place.
    #[inline]
    pub(crate) fn push_to(self, events: &mut Vec<GroupEvent>) {
        let from = self.lent.from;
        match std::mem::replace(&mut self.lent.body, Body::Taken) {
            Body::Frame { raw, header } => GroupEvent::push_message(events, from, raw, header),
            Body::Decoded(payload) => events.push(GroupEvent::Message { from, payload }),
            Body::Taken => {}
        }
    }
}
