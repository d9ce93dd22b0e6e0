//! Building outgoing frames and checking incoming ones: the part every port shares.

use std::sync::Arc;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::Serialize;
use slog::warn;

use crate::codec;
use crate::error::PortError;
use crate::options::SocketOptions;
use crate::stats::{worth_logging, PortStats};
use crate::wire::{self, Flags, FrameError, Header, MessageType};

/// A message received on a port, with its sequence number and timestamps.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<T> {
    /// The message (or, from a `*_bytes` receive, its payload bytes).
    pub value: T,
    /// The sender's sequence number of the message (the request id on request ports).
    pub seq: u64,
    /// When it was sent, if the sending port is `timed`.
    pub send_time: Option<SystemTime>,
    /// When it was received, if the receiving port is `timed`.
    pub recv_time: Option<SystemTime>,
}

/// Writes outgoing frames into one reused buffer.
#[derive(Debug)]
pub(crate) struct Outbox {
    buf: Vec<u8>,
    timed: bool,
}

impl Outbox {
    pub(crate) fn new(timed: bool) -> Outbox {
        Outbox { buf: Vec::with_capacity(256), timed }
    }

    fn flags(&self, extra: Flags) -> Flags {
        if self.timed {
            extra.with(Flags::TIMED)
        } else {
            extra
        }
    }

    /// A frame carrying `value` as CBOR.
    pub(crate) fn typed<T: Serialize + ?Sized>(
        &mut self,
        ty: &MessageType,
        seq: u64,
        extra: Flags,
        value: &T,
    ) -> Result<&[u8], PortError> {
        let flags = self.flags(extra);
        wire::write_header(&mut self.buf, flags, ty.id(), seq);
        codec::encode(value, &mut self.buf).map_err(PortError::Encode)?;
        Ok(&self.buf)
    }

    /// A frame carrying `bytes` as they are.
    pub(crate) fn raw(&mut self, ty: &MessageType, seq: u64, extra: Flags, bytes: &[u8]) -> &[u8] {
        let flags = self.flags(extra.with(Flags::RAW));
        wire::write_header(&mut self.buf, flags, ty.id(), seq);
        self.buf.extend_from_slice(bytes);
        &self.buf
    }

    /// The frame [`Outbox::raw`] makes, as its header and the caller's payload, for
    /// [`send_frame`] to put together straight in a ZeroMQ message.
    #[inline]
    pub(crate) fn raw_frame<'a>(&self, ty: &MessageType, seq: u64, extra: Flags, payload: &'a [u8]) -> RawFrame<'a> {
        self.frame(ty, seq, extra.with(Flags::RAW), payload)
    }

    /// A frame of `payload`, a message already encoded as CBOR, as [`Outbox::typed`] would have
    /// made it.
    #[inline]
    pub(crate) fn encoded_frame<'a>(
        &self,
        ty: &MessageType,
        seq: u64,
        extra: Flags,
        payload: &'a [u8],
    ) -> RawFrame<'a> {
        self.frame(ty, seq, extra, payload)
    }

    #[inline]
    fn frame<'a>(&self, ty: &MessageType, seq: u64, extra: Flags, payload: &'a [u8]) -> RawFrame<'a> {
        let flags = self.flags(extra);
        let mut frame =
            RawFrame { header: [0; wire::TIMED_HEADER_LEN], header_len: wire::header_len(flags), prefix: &[], payload };
        wire::put_header(&mut frame.header[..frame.header_len], flags, ty.id(), seq);
        frame
    }
}

/// An outgoing frame of raw payload bytes: its header, and the payload where the caller has it,
/// in two pieces (a prefix, often empty, then the rest).
pub(crate) struct RawFrame<'a> {
    header: [u8; wire::TIMED_HEADER_LEN],
    header_len: usize,
    prefix: &'a [u8],
    payload: &'a [u8],
}

impl<'a> RawFrame<'a> {
    /// A frame already put together (a typed frame from [`Outbox::typed`]), to be copied into
    /// the ZeroMQ message as it is.
    #[inline]
    pub(crate) fn whole(frame: &'a [u8]) -> RawFrame<'a> {
        RawFrame { header: [0; wire::TIMED_HEADER_LEN], header_len: 0, prefix: &[], payload: frame }
    }

    /// A bare frame ([`wire::BARE_TAG`], then `prefix` and `payload`, copied in place).
    #[inline]
    pub(crate) fn bare(prefix: &'a [u8], payload: &'a [u8]) -> RawFrame<'a> {
        let mut header = [0; wire::TIMED_HEADER_LEN];
        header[0] = wire::BARE_TAG;
        RawFrame { header, header_len: wire::BARE_HEADER_LEN, prefix, payload }
    }

    /// The frame's length in bytes: header, prefix and payload.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.header_len + self.prefix.len() + self.payload.len()
    }
}

/// What a receive asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// A CBOR payload, to decode.
    Typed,
    /// The payload bytes, whatever their encoding.
    Bytes,
    /// The payload bytes, whatever their encoding, or a bare frame's bytes (a group
    /// subscriber's byte receives).
    BytesOrBare,
}

/// A frame that passed the checks; its payload stays in the [`Inbox`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub(crate) header: Header,
    pub(crate) recv_time: Option<SystemTime>,
    offset: usize,
    /// The whole frame's length, so counting it needs no second look at the message.
    len: usize,
}

impl Arrival {
    pub(crate) fn received<T>(&self, value: T) -> Received<T> {
        Received { value, seq: self.header.seq, send_time: self.header.send_time, recv_time: self.recv_time }
    }
}

/// Receives frames from a socket, refusing (counting and logging) every frame that is not a
/// well-formed message of the expected type.
pub(crate) struct Inbox {
    identity: zmq::Message,
    body: zmq::Message,
    extra: zmq::Message,
    stats: Arc<PortStats>,
    log: slog::Logger,
    timed: bool,
}

impl Inbox {
    pub(crate) fn new(stats: Arc<PortStats>, log: slog::Logger, timed: bool) -> Inbox {
        Inbox {
            identity: zmq::Message::new(),
            body: zmq::Message::new(),
            extra: zmq::Message::new(),
            stats,
            log,
            timed,
        }
    }

    pub(crate) fn stats(&self) -> &Arc<PortStats> {
        &self.stats
    }

    pub(crate) fn log(&self) -> &slog::Logger {
        &self.log
    }

    /// Receives, without blocking, the next frame of type `expected` that passes the checks.
    /// `routed` says the socket is a ROUTER, whose messages start with the sender's identity.
    /// Returns `None` when nothing (more) is waiting.
    pub(crate) fn next(
        &mut self,
        socket: &zmq::Socket,
        routed: bool,
        expected: &MessageType,
        want: Want,
    ) -> Result<Option<Arrival>, PortError> {
        loop {
            if routed {
                if !recv_nowait(socket, &mut self.identity)? {
                    return Ok(None);
                }
                if !self.identity.get_more() {
                    self.refuse(&FrameError::FrameCount { found: 1, expected: 2 });
                    continue;
                }
            }
            if !recv_nowait(socket, &mut self.body)? {
                return Ok(None);
            }
            let recv_time = if self.timed { Some(SystemTime::now()) } else { None };
            if self.body.get_more() {
                let found = usize::from(routed) + 1 + self.drain(socket)?;
                self.refuse(&FrameError::FrameCount { found, expected: usize::from(routed) + 1 });
                continue;
            }
            // The message is looked at once here (each look is two calls into libzmq).
            let frame: &[u8] = &self.body;
            match check(frame, expected, want) {
                Ok((header, offset)) => return Ok(Some(Arrival { header, recv_time, offset, len: frame.len() })),
                Err(e) => self.refuse(&e),
            }
        }
    }

    /// Receives, without blocking, the next message of a socket that is not a ROUTER into the
    /// inbox, refusing messages of more than one part, and returns when it arrived (on timed
    /// ports); `None` when nothing (more) is waiting. Its header is not checked: the caller
    /// checks [`Inbox::body`] with [`check`], so the frame is looked up once.
    #[inline]
    pub(crate) fn next_single(&mut self, socket: &zmq::Socket) -> Result<Option<Option<SystemTime>>, PortError> {
        loop {
            if !recv_nowait(socket, &mut self.body)? {
                return Ok(None);
            }
            let recv_time = if self.timed { Some(SystemTime::now()) } else { None };
            if !self.body.get_more() {
                return Ok(Some(recv_time));
            }
            let found = 1 + self.drain(socket)?;
            self.refuse(&FrameError::FrameCount { found, expected: 1 });
        }
    }

    /// The whole frame of the last message received.
    #[inline]
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    /// Counts `arrival`, the message last received, as delivered.
    #[inline]
    pub(crate) fn delivered(&self, arrival: &Arrival) {
        self.stats.received(arrival.len);
    }

    /// Counts the message last received, a frame of `len` bytes, as delivered (a receive that
    /// checked [`Inbox::body`] itself).
    #[inline]
    pub(crate) fn delivered_len(&self, len: usize) {
        self.stats.received(len);
    }

    /// The message last received, to lend its payload ([`crate::RawPayload`]).
    #[inline]
    pub(crate) fn body_mut(&mut self) -> &mut zmq::Message {
        &mut self.body
    }

    /// The payload of the last arrival.
    pub(crate) fn payload(&self, arrival: &Arrival) -> &[u8] {
        &self.body[arrival.offset..]
    }

    /// The identity frame of the last arrival on a ROUTER.
    pub(crate) fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// Decodes the payload of the last arrival; a payload that does not decode is refused.
    pub(crate) fn decode<T: DeserializeOwned>(&self, arrival: &Arrival) -> Option<T> {
        match codec::decode(self.payload(arrival)) {
            Ok(value) => Some(value),
            Err(e) => {
                self.refuse(&e);
                None
            }
        }
    }

    /// Counts and (thinly) logs a refused frame.
    pub(crate) fn refuse(&self, error: &FrameError) {
        let count = self.stats.refused(error);
        if worth_logging(count) {
            warn!(self.log, "dropped a bad frame"; "reason" => %error, "count_of_this_reason" => count);
        }
    }

    /// Receives and discards the remaining parts of a multipart message; returns how many.
    fn drain(&mut self, socket: &zmq::Socket) -> Result<usize, PortError> {
        let mut n = 0;
        loop {
            if !recv_nowait(socket, &mut self.extra)? {
                return Ok(n);
            }
            n += 1;
            if !self.extra.get_more() {
                return Ok(n);
            }
        }
    }
}

/// Checks an incoming frame for a receive of `expected` that wants `want`: its header, its
/// message type and, for a typed receive, that its payload is CBOR. Returns the header and the
/// offset of the payload.
#[inline]
pub(crate) fn check(frame: &[u8], expected: &MessageType, want: Want) -> Result<(Header, usize), FrameError> {
    if want == Want::BytesOrBare && frame.first() == Some(&wire::BARE_TAG) {
        // A bare frame reads as a raw one of the port's type, unnumbered and untimed.
        let header = Header { flags: Flags::RAW, type_id: expected.id(), seq: 0, send_time: None };
        return Ok((header, wire::BARE_HEADER_LEN));
    }
    let (header, payload) = wire::read_header(frame)?;
    wire::check_type(&header, expected)?;
    if want == Want::Typed && header.flags.contains(Flags::RAW) {
        return Err(FrameError::Encoding { found: "raw bytes", expected: "CBOR" });
    }
    Ok((header, frame.len() - payload.len()))
}

/// Receives one part without blocking; false when nothing is waiting. Retries on EINTR.
#[inline]
pub(crate) fn recv_nowait(socket: &zmq::Socket, msg: &mut zmq::Message) -> Result<bool, PortError> {
    loop {
        match socket.recv(msg, zmq::DONTWAIT) {
            Ok(()) => return Ok(true),
            Err(zmq::Error::EAGAIN) => return Ok(false),
            Err(zmq::Error::EINTR) => continue,
            Err(e) => return Err(PortError::zmq("receive", e)),
        }
    }
}

/// Sends one part, waiting up to the socket's send timeout. Retries on EINTR.
#[inline]
pub(crate) fn send_part(
    socket: &zmq::Socket,
    bytes: &[u8],
    more: bool,
    options: &SocketOptions,
) -> Result<(), PortError> {
    let flags = if more { zmq::SNDMORE } else { 0 };
    loop {
        match socket.send(bytes, flags) {
            Ok(()) => return Ok(()),
            Err(zmq::Error::EINTR) => continue,
            Err(e) => return Err(send_error(e, options)),
        }
    }
}

/// Sends `frame` as one part, waiting up to the socket's send timeout. Retries on EINTR.
///
/// The part is put together in place in a libzmq message: the payload is copied once, as a
/// plain `send(&[u8])` copies it, where building it in the [`Outbox`] buffer first would copy it
/// twice and `zmq::Message::with_size` would zero-fill it first.
pub(crate) fn send_frame(
    socket: &mut zmq::Socket,
    frame: &RawFrame<'_>,
    more: bool,
    options: &SocketOptions,
) -> Result<(), PortError> {
    let header = &frame.header[..frame.header_len];
    let (prefix, payload) = (frame.prefix, frame.payload);
    let len = header.len() + prefix.len() + payload.len();
    let mut msg = std::mem::MaybeUninit::<zmq_sys::zmq_msg_t>::uninit();
    // SAFETY: zmq_msg_init_size initialises the message at the pointer, with room for `len`
    // bytes, or fails (out of memory) and leaves nothing to close.
    if unsafe { zmq_sys::zmq_msg_init_size(msg.as_mut_ptr(), len) } != 0 {
        return Err(send_error(last_zmq_error(), options));
    }
    let msg = msg.as_mut_ptr();
    // SAFETY: the message is initialised and its data is `len` bytes that nothing else refers
    // to; the message stays where it is (its data may be inside it). The three pieces fill it.
    unsafe {
        let data = zmq_sys::zmq_msg_data(msg).cast::<u8>();
        std::ptr::copy_nonoverlapping(header.as_ptr(), data, header.len());
        let data = data.add(header.len());
        std::ptr::copy_nonoverlapping(prefix.as_ptr(), data, prefix.len());
        std::ptr::copy_nonoverlapping(payload.as_ptr(), data.add(prefix.len()), payload.len());
    }
    let flags = if more { zmq_sys::ZMQ_SNDMORE as i32 } else { 0 };
    loop {
        // SAFETY: the message is initialised; the socket pointer is valid while `socket` lives.
        // On success libzmq owns the content; on failure the message is still ours, unchanged.
        if unsafe { zmq_sys::zmq_msg_send(msg, socket.as_mut_ptr(), flags) } >= 0 {
            return Ok(());
        }
        let error = last_zmq_error();
        if error != zmq::Error::EINTR {
            // SAFETY: the unsent message is ours to close, once.
            unsafe { zmq_sys::zmq_msg_close(msg) };
            return Err(send_error(error, options));
        }
    }
}

fn last_zmq_error() -> zmq::Error {
    // SAFETY: zmq_errno has no preconditions.
    zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
}

fn send_error(error: zmq::Error, options: &SocketOptions) -> PortError {
    match error {
        zmq::Error::EAGAIN => PortError::SendTimeout(options.send_timeout),
        zmq::Error::EHOSTUNREACH => PortError::PeerGone,
        e => PortError::zmq("send", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw frame sent with `send_frame` reads back as the same header and payload, timed or
    /// not, for payloads stored inside the message (short) and outside it (long).
    #[test]
    fn raw_frames_go_out_whole() {
        let ctx = zmq::Context::new();
        let mut tx = ctx.socket(zmq::PAIR).unwrap();
        let rx = ctx.socket(zmq::PAIR).unwrap();
        rx.bind("inproc://frames-raw").unwrap();
        tx.connect("inproc://frames-raw").unwrap();
        let ty = MessageType::new("Raw");
        let options = SocketOptions::default();
        for timed in [false, true] {
            for len in [0, 1, 19, 20, 64, 1024, 70_000] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let outbox = Outbox::new(timed);
                let before = SystemTime::now();
                send_frame(&mut tx, &outbox.raw_frame(&ty, 7, Flags::FINAL, &payload), false, &options).unwrap();
                let msg = rx.recv_msg(0).unwrap();
                let (header, body) = wire::read_header(&msg).unwrap();
                assert_eq!((header.type_id, header.seq, body), (ty.id(), 7, &payload[..]), "timed {timed}, {len} B");
                assert!(header.flags.contains(Flags::RAW.with(Flags::FINAL)));
                assert_eq!(header.send_time.is_some_and(|t| t >= before - std::time::Duration::from_millis(1)), timed);
                // A bare frame of the same payload in two pieces: the tag, then the bytes.
                let (prefix, rest) = payload.split_at(len / 3);
                send_frame(&mut tx, &RawFrame::bare(prefix, rest), false, &options).unwrap();
                let msg = rx.recv_msg(0).unwrap();
                assert_eq!(msg.split_first(), Some((&wire::BARE_TAG, &payload[..])), "bare, {len} B");
                assert_eq!(wire::read_header(&msg), Err(FrameError::Bare));
                assert_eq!(check(&msg, &ty, Want::Bytes), Err(FrameError::Bare));
                let (header, offset) = check(&msg, &ty, Want::BytesOrBare).unwrap();
                assert_eq!(
                    (header.flags, header.seq, header.send_time, &msg[offset..]),
                    (Flags::RAW, 0, None, &payload[..])
                );
            }
        }
    }
}
