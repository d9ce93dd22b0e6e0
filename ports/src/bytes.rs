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
    /// Where the payload starts in the message.
    start: usize,
    /// The message's data, when it lies outside the message struct (a large message's
    /// buffer), so it stays put when the struct moves: reading it then costs no call into
    /// libzmq. `None` for a small message, whose bytes live inside the struct.
    data: Option<NonNull<u8>>,
    /// The message's length.
    len: usize,
}

// SAFETY: `data` points into the buffer of `message`, which the value owns and never changes;
// libzmq's messages may move between threads (`zmq::Message` is `Send` and `Sync`), and their
// shared buffers count references atomically.
unsafe impl Send for ReceivedBytes {}
// SAFETY: as above; shared access only reads the bytes.
unsafe impl Sync for ReceivedBytes {}

impl ReceivedBytes {
    /// The bytes of `message` from `start` on (none when `start` is past its end).
    pub(crate) fn new(message: zmq::Message, start: usize) -> ReceivedBytes {
        let (data, len) = outside_data(&message);
        ReceivedBytes { message, start: start.min(len), data, len }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self.data {
            // SAFETY: `data` is the start of the message's `len` bytes, outside the struct,
            // which live as long as the message (owned by `self`) and are never written.
            Some(data) => unsafe { std::slice::from_raw_parts(data.as_ptr().add(self.start), self.len - self.start) },
            None => &self.message[self.start..],
        }
    }

    /// The same message without its first `n` bytes (or empty, when it has fewer).
    #[must_use]
    pub fn skip(mut self, n: usize) -> ReceivedBytes {
        self.start = self.start.saturating_add(n).min(self.len);
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

/// The start of `message`'s data when it lies outside the message struct (a large message's
/// buffer, which stays put when the struct moves), and the message's length.
fn outside_data(message: &zmq::Message) -> (Option<NonNull<u8>>, usize) {
    let bytes: &[u8] = message;
    let struct_start = std::ptr::from_ref(message).cast::<u8>() as usize;
    let struct_range = struct_start..struct_start + std::mem::size_of::<zmq::Message>();
    let data = (!struct_range.contains(&(bytes.as_ptr() as usize))).then(|| NonNull::from(bytes).cast::<u8>());
    (data, bytes.len())
}

/// The raw payload of the message just received, lent to the reader of
/// [`SubPort::recv_mixed`](crate::SubPort::recv_mixed): read it where it is
/// ([`RawPayload::as_bytes`]; the port then receives the next message into the same libzmq
/// message), or take it along without a copy ([`RawPayload::take`]).
pub struct RawPayload<'a> {
    message: &'a mut zmq::Message,
    /// Where the payload starts in the message.
    start: usize,
    /// The message's data, looked up once (each look is two calls into libzmq), when it lies
    /// outside the message struct (as for [`ReceivedBytes`]); the message is borrowed, so it
    /// neither moves nor changes while this lives. `None` for a small message, read in place.
    data: Option<NonNull<u8>>,
    /// The message's length.
    len: usize,
}

impl<'a> RawPayload<'a> {
    /// The bytes of `message` from `start` on.
    pub(crate) fn new(message: &'a mut zmq::Message, start: usize) -> RawPayload<'a> {
        let (data, len) = outside_data(message);
        RawPayload { message, start: start.min(len), data, len }
    }

    /// The payload's bytes, in place.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self.data {
            // SAFETY: `data` is the start of the message's `len` bytes, outside the struct, read
            // when it was lent; the message stays borrowed (unchanged) as long as `self`, and
            // `start <= len`.
            Some(data) => unsafe { std::slice::from_raw_parts(data.as_ptr().add(self.start), self.len - self.start) },
            None => self.message.get(self.start..).unwrap_or_default(),
        }
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
