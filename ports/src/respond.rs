//! Providers of request ports: `rep`, `srv` and `ans`, one ROUTER bound per port.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use slog::warn;

use crate::endpoint::Endpoint;
use crate::error::PortError;
use crate::frames::{send_frame, send_part, Inbox, Outbox, RawFrame, Received, Want};
use crate::kind::PortKind;
use crate::options::SocketOptions;
use crate::stats::{worth_logging, PortStats};
use crate::wire::{Flags, MessageType};

/// Where a reply goes: the requester's identity and its request id. Keep it to reply later or
/// out of order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyToken {
    identity: Vec<u8>,
    seq: u64,
}

impl ReplyToken {
    /// The request id this token answers.
    pub fn request_seq(&self) -> u64 {
        self.seq
    }
}

/// A request received by a providing port.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<T> {
    /// Where the reply goes.
    pub token: ReplyToken,
    /// The request.
    pub message: Received<T>,
}

/// A providing port: `rep` (answers `req`), `srv` (answers `clt`) or `ans` (answers `qry`). A
/// ROUTER bound at [`ReplyPort::endpoint`]; each reply is routed back to the requester named by
/// its [`ReplyToken`], in any order.
pub struct ReplyPort {
    pub(crate) kind: PortKind,
    pub(crate) socket: zmq::Socket,
    pub(crate) endpoint: Endpoint,
    pub(crate) request_type: MessageType,
    pub(crate) reply_type: MessageType,
    pub(crate) inbox: Inbox,
    pub(crate) outbox: Outbox,
    pub(crate) options: SocketOptions,
    /// Removes the port's ipc file after the socket (declared above) has closed.
    pub(crate) _ipc: crate::scope::IpcFile,
}

/// `rep`: answers each request of a `req` port.
pub type RepPort = ReplyPort;
/// `srv`: answers each call of a `clt` port.
pub type SrvPort = ReplyPort;
/// `ans`: answers queries of a `qry` port, any number of times each.
pub type AnsPort = ReplyPort;

impl ReplyPort {
    /// `rep`, `srv` or `ans`.
    pub fn kind(&self) -> PortKind {
        self.kind
    }

    /// The endpoint the port is bound at, with its real port number.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The port's counters.
    pub fn stats(&self) -> &Arc<PortStats> {
        self.inbox.stats()
    }

    /// The socket, for polling: readable means [`ReplyPort::recv`] may return a request.
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// The next request, decoded from CBOR, or `None` when none is waiting. Never blocks.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Request<T>>, PortError> {
        loop {
            let Some(arrival) = self.inbox.next(&self.socket, true, &self.request_type, Want::Typed)? else {
                return Ok(None);
            };
            if let Some(value) = self.inbox.decode(&arrival) {
                self.inbox.delivered(&arrival);
                let token = ReplyToken { identity: self.inbox.identity().to_vec(), seq: arrival.header.seq };
                return Ok(Some(Request { token, message: arrival.received(value) }));
            }
        }
    }

    /// The next request's payload bytes, or `None`. Never blocks.
    pub fn recv_bytes(&mut self) -> Result<Option<Request<&[u8]>>, PortError> {
        let Some(arrival) = self.inbox.next(&self.socket, true, &self.request_type, Want::Bytes)? else {
            return Ok(None);
        };
        self.inbox.delivered(&arrival);
        let token = ReplyToken { identity: self.inbox.identity().to_vec(), seq: arrival.header.seq };
        Ok(Some(Request { token, message: arrival.received(self.inbox.payload(&arrival)) }))
    }

    /// Sends the reply to the request of `token`; on an `ans` port, the final answer.
    pub fn reply<T: Serialize + ?Sized>(&mut self, token: &ReplyToken, value: &T) -> Result<(), PortError> {
        let frame = self.outbox.typed(&self.reply_type, token.seq, Flags::FINAL, value)?;
        route(&self.socket, &token.identity, frame, &self.options, &self.inbox)
    }

    /// Sends raw bytes as the reply to `token`; on an `ans` port, the final answer.
    pub fn reply_bytes(&mut self, token: &ReplyToken, bytes: &[u8]) -> Result<(), PortError> {
        let frame = self.outbox.raw_frame(&self.reply_type, token.seq, Flags::FINAL, bytes);
        route_frame(&mut self.socket, &token.identity, &frame, &self.options, &self.inbox)
    }

    /// Sends one answer of several to the query of `token` (`ans` ports only); end the
    /// query with [`ReplyPort::reply`], or let its deadline end it.
    pub fn answer<T: Serialize + ?Sized>(&mut self, token: &ReplyToken, value: &T) -> Result<(), PortError> {
        self.require_ans("answer")?;
        let frame = self.outbox.typed(&self.reply_type, token.seq, Flags::empty(), value)?;
        route(&self.socket, &token.identity, frame, &self.options, &self.inbox)
    }

    /// Sends raw bytes as one answer of several (`ans` ports only).
    pub fn answer_bytes(&mut self, token: &ReplyToken, bytes: &[u8]) -> Result<(), PortError> {
        self.require_ans("answer")?;
        let frame = self.outbox.raw_frame(&self.reply_type, token.seq, Flags::empty(), bytes);
        route_frame(&mut self.socket, &token.identity, &frame, &self.options, &self.inbox)
    }

    fn require_ans(&self, op: &'static str) -> Result<(), PortError> {
        if self.kind == PortKind::Ans {
            Ok(())
        } else {
            Err(PortError::WrongKind { op, kind: self.kind.name() })
        }
    }
}

/// Sends `frame` through a ROUTER to the peer `identity`; a peer that is gone is counted.
pub(crate) fn route(
    socket: &zmq::Socket,
    identity: &[u8],
    frame: &[u8],
    options: &SocketOptions,
    inbox: &Inbox,
) -> Result<(), PortError> {
    let sent = send_part(socket, identity, true, options).and_then(|()| send_part(socket, frame, false, options));
    routed(sent, frame.len(), inbox)
}

/// Like [`route`], with a raw-payload frame (see [`send_frame`]).
pub(crate) fn route_frame(
    socket: &mut zmq::Socket,
    identity: &[u8],
    frame: &RawFrame<'_>,
    options: &SocketOptions,
    inbox: &Inbox,
) -> Result<(), PortError> {
    let sent = send_part(socket, identity, true, options).and_then(|()| send_frame(socket, frame, false, options));
    routed(sent, frame.len(), inbox)
}

/// Counts the outcome of routing a message of `len` bytes.
fn routed(sent: Result<(), PortError>, len: usize, inbox: &Inbox) -> Result<(), PortError> {
    match sent {
        Ok(()) => {
            inbox.stats().sent(len);
            Ok(())
        }
        Err(PortError::PeerGone) => {
            let n = inbox.stats().unroutable();
            if worth_logging(n) {
                warn!(inbox.log(), "could not route a message: its peer is gone"; "unroutable" => n);
            }
            Err(PortError::PeerGone)
        }
        Err(e) => Err(e),
    }
}
