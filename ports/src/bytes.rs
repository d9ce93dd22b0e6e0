//! Received payload bytes that stay in the libzmq message they arrived in.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;

/// The payload of a received message, read in place: it keeps the libzmq message it arrived in
/// (for a large message, a reference to the receive buffer) and the offset where the payload
/// starts, so handing it on costs no allocation and no copy. From
/// [`SubPort::recv_mixed`](crate::SubPort::recv_mixed).
///
/// It derefs to the payload's bytes. Dropping it releases the message.
pub struct ReceivedBytes {
    message: zmq::Message,
    /// Where the payload starts in the message (at most its length).
    start: usize,
}

impl ReceivedBytes {
    /// The bytes of `message` from `start` on (none when `start` is past its end).
    pub(crate) fn new(message: zmq::Message, start: usize) -> ReceivedBytes {
        let start = start.min(message.len());
        ReceivedBytes { message, start }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.message.get(self.start..).unwrap_or_default()
    }

    /// The same message without its first `n` bytes (or empty, when it has fewer).
    #[must_use]
    pub fn skip(mut self, n: usize) -> ReceivedBytes {
        self.start = self.start.saturating_add(n).min(self.message.len());
        self
    }
}

impl Deref for ReceivedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for ReceivedBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for ReceivedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReceivedBytes").field(&self.as_bytes()).finish()
    }
}

/// The raw payload of the message just received, lent to the reader of
/// [`SubPort::recv_mixed`](crate::SubPort::recv_mixed): read it where it is
/// ([`RawPayload::as_bytes`]; the port then receives the next message into the same libzmq
/// message), or take it along without a copy ([`RawPayload::take`]).
pub struct RawPayload<'a> {
    message: &'a mut zmq::Message,
    /// The payload's bytes, looked up when the frame was checked (each look is two calls into
    /// libzmq). They stay valid while this lives: the message is borrowed, so it neither moves
    /// nor changes.
    payload: NonNull<[u8]>,
    /// Where the payload starts in the message.
    start: usize,
}

impl<'a> RawPayload<'a> {
    /// The bytes of `message` from `start` on.
    #[cfg(test)]
    pub(crate) fn new(message: &'a mut zmq::Message, start: usize) -> RawPayload<'a> {
        let frame = NonNull::from(&**message);
        RawPayload::lent(message, frame, start)
    }

    /// The bytes of `message`, whose whole frame `frame` is (read from it just before), from
    /// `start` on.
    #[inline]
    pub(crate) fn lent(message: &'a mut zmq::Message, frame: NonNull<[u8]>, start: usize) -> RawPayload<'a> {
        let start = start.min(frame.len());
        // SAFETY: `frame` is the message's bytes and `start` lies within them.
        let payload = unsafe { NonNull::slice_from_raw_parts(frame.cast::<u8>().add(start), frame.len() - start) };
        RawPayload { message, payload, start }
    }

    /// The payload's bytes, in place.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `payload` lies within the message's bytes, read when it was lent; the message
        // stays borrowed (unmoved, unchanged) as long as `self`.
        unsafe { self.payload.as_ref() }
    }

    /// Takes the payload along: the message it arrived in moves into the [`ReceivedBytes`]
    /// (no copy), and the port receives the next message into a new one.
    pub fn take(self) -> ReceivedBytes {
        ReceivedBytes::new(std::mem::replace(self.message, zmq::Message::new()), self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lent_payload_reads_in_place_or_is_taken_whole() {
        let mut message = zmq::Message::from(&b"header:payload"[..]);
        assert_eq!(RawPayload::new(&mut message, 7).as_bytes(), b"payload");
        assert!(RawPayload::new(&mut message, 99).as_bytes().is_empty());
        let taken = RawPayload::new(&mut message, 7).take();
        assert_eq!(taken.as_bytes(), b"payload");
        assert!(message.is_empty(), "the lender keeps an empty message");
    }

    #[test]
    fn skipping_moves_the_start_and_never_past_the_end() {
        let bytes = ReceivedBytes::new(zmq::Message::from(&b"header:payload"[..]), 7);
        assert_eq!(&*bytes, b"payload");
        let bytes = bytes.skip(3);
        assert_eq!(bytes.as_bytes(), b"load");
        assert!(bytes.skip(10).is_empty());
        assert!(ReceivedBytes::new(zmq::Message::from(&b"ab"[..]), 5).is_empty());
    }

    #[test]
    fn small_and_large_messages_read_the_same_after_moving() {
        for len in [0, 1, 30, 33, 34, 64, 1000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let received = ReceivedBytes::new(zmq::Message::from(&bytes[..]), 0);
            let moved: Vec<ReceivedBytes> = vec![received];
            assert_eq!(moved[0].as_bytes(), &bytes[..], "{len} bytes");
            let skipped = moved.into_iter().next().unwrap().skip(1);
            assert_eq!(skipped.as_bytes(), bytes.get(1..).unwrap_or(&[]), "{len} bytes less one");
        }
    }
}
