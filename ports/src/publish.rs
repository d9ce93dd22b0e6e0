//! Publish/subscribe ports: `pub`/`sub` and the group's `gpub`/`gsub`.

use std::collections::BTreeSet;
use std::ptr::NonNull;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bytes::RawPayload;
use crate::codec;
use crate::endpoint::Endpoint;
use crate::error::PortError;
use crate::frames::{check, send_frame, Inbox, Outbox, RawFrame, Received, Want};
use crate::kind::PortKind;
use crate::options::SocketOptions;
use crate::stats::PortStats;
use crate::wire::{Flags, FrameError, MessageType};

/// A publisher: a PUB socket bound at [`PubPort::endpoint`], which discovery hands to subscribers.
pub struct PubPort {
    pub(crate) kind: PortKind,
    pub(crate) socket: zmq::Socket,
    pub(crate) endpoint: Endpoint,
    pub(crate) message: MessageType,
    pub(crate) outbox: Outbox,
    pub(crate) seq: u64,
    pub(crate) stats: Arc<PortStats>,
    pub(crate) options: SocketOptions,
    /// Removes the port's ipc file after the socket (declared above) has closed.
    pub(crate) _ipc: crate::scope::IpcFile,
}

impl PubPort {
    /// The endpoint the port is bound at, with its real (ephemeral) port number.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// `pub` or `gpub`.
    pub fn kind(&self) -> PortKind {
        self.kind
    }

    /// The port's counters.
    pub fn stats(&self) -> &Arc<PortStats> {
        &self.stats
    }

    /// The underlying PUB socket (a component replay asks it to take in a new subscriber's
    /// subscription before the component publishes).
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Publishes `value`, encoded as CBOR.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PortError> {
        self.seq += 1;
        let frame = self.outbox.typed(&self.message, self.seq, Flags::empty(), value)?;
        let len = frame.len();
        send_frame(&mut self.socket, &RawFrame::whole(frame), false, &self.options)?;
        self.stats.sent(len);
        Ok(())
    }

    /// Publishes `bytes` as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        self.seq += 1;
        let frame = self.outbox.raw_frame(&self.message, self.seq, Flags::empty(), bytes);
        send_frame(&mut self.socket, &frame, false, &self.options)?;
        self.stats.sent(frame.len());
        Ok(())
    }

    /// Publishes `payload`, a message already encoded as CBOR (a recording's, which `cohort
    /// replay` sends again): subscribers receive it as if [`PubPort::send`] had encoded it. The
    /// payload is not checked.
    pub fn send_encoded(&mut self, payload: &[u8]) -> Result<(), PortError> {
        self.seq += 1;
        let frame = self.outbox.encoded_frame(&self.message, self.seq, Flags::empty(), payload);
        send_frame(&mut self.socket, &frame, false, &self.options)?;
        self.stats.sent(frame.len());
        Ok(())
    }

    /// Publishes a bare frame (`cohort_ports::wire`'s [`BARE_TAG`](crate::wire::BARE_TAG),
    /// then `prefix` and `bytes`, both copied once straight into the outgoing message): no
    /// header, type id or sequence number, for a layout of the caller's own that identifies its
    /// frames (a group's data frames). Only group subscribers accept bare frames.
    pub fn send_bare(&mut self, prefix: &[u8], bytes: &[u8]) -> Result<(), PortError> {
        let frame = RawFrame::bare(prefix, bytes);
        send_frame(&mut self.socket, &frame, false, &self.options)?;
        self.stats.sent(frame.len());
        Ok(())
    }
}

/// A message of either encoding, from [`SubPort::recv_mixed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mixed<T, R> {
    /// A CBOR payload (sent with [`PubPort::send`]), decoded.
    Typed(T),
    /// A raw payload (sent with [`PubPort::send_bytes`], or a bare frame's bytes after the tag,
    /// sent with [`PubPort::send_bare`]), as the receiver's own reader made it.
    Raw(R),
}

/// A subscriber: a SUB socket connected to every publisher discovery reports. It receives every
/// message of its type from them; frames of other types or forms are counted and dropped.
pub struct SubPort {
    pub(crate) kind: PortKind,
    pub(crate) socket: zmq::Socket,
    pub(crate) endpoints: BTreeSet<Endpoint>,
    pub(crate) message: MessageType,
    pub(crate) inbox: Inbox,
}

impl SubPort {
    /// `sub` or `gsub`.
    pub fn kind(&self) -> PortKind {
        self.kind
    }

    /// The port's counters.
    pub fn stats(&self) -> &Arc<PortStats> {
        self.inbox.stats()
    }

    /// The socket, for polling: readable means [`SubPort::recv`] may return a message.
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Connects to a publisher; returns false if it was already connected.
    pub fn add_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        if self.endpoints.contains(endpoint) {
            return Ok(false);
        }
        self.socket.connect(endpoint.as_str()).map_err(|e| PortError::zmq(format!("connecting to {endpoint}"), e))?;
        self.endpoints.insert(endpoint.clone());
        Ok(true)
    }

    /// Disconnects from a publisher; returns false if it was not connected.
    pub fn remove_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        if !self.endpoints.remove(endpoint) {
            return Ok(false);
        }
        disconnect(&self.socket, endpoint)?;
        Ok(true)
    }

    /// The publishers it is connected to.
    pub fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints.iter()
    }

    /// The next message, decoded from CBOR, or `None` when none is waiting. Never blocks.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Received<T>>, PortError> {
        loop {
            let Some(arrival) = self.inbox.next(&self.socket, false, &self.message, Want::Typed)? else {
                return Ok(None);
            };
            if let Some(value) = self.inbox.decode(&arrival) {
                self.inbox.delivered(&arrival);
                return Ok(Some(arrival.received(value)));
            }
        }
    }

    /// What the byte receives accept: bare frames too on a group subscriber.
    fn bytes_want(&self) -> Want {
        if self.kind == PortKind::GroupSub {
            Want::BytesOrBare
        } else {
            Want::Bytes
        }
    }

    /// The next message, CBOR or raw, or `None` when none is waiting. Never blocks. For ports
    /// whose publishers send both: a CBOR payload is decoded as `T`, a raw payload (on a group
    /// subscriber, a bare frame's bytes after the tag too, sequence number 0) is handed to
    /// `raw` in place, as a [`RawPayload`] it may read where it is or take along (no copy
    /// either way), and `raw` reads it into an `R` or says
    /// why it cannot. A payload that does not decode, or that `raw` turns down, is refused like
    /// any bad frame (counted as `undecodable`, logged thinly) and the next message is tried.
    pub fn recv_mixed<T: DeserializeOwned, R>(
        &mut self,
        mut raw: impl FnMut(RawPayload<'_>) -> Result<R, String>,
    ) -> Result<Option<Received<Mixed<T, R>>>, PortError> {
        loop {
            let Some(recv_time) = self.inbox.next_single(&self.socket)? else {
                return Ok(None);
            };
            // The frame is looked up once, for the checks and the payload: this is the data
            // path of groups, one call per message.
            let frame = self.inbox.body();
            let len = frame.len();
            let value = match check(frame, &self.message, self.bytes_want()) {
                Ok((header, offset)) if header.flags.contains(Flags::RAW) => {
                    let frame = NonNull::from(frame);
                    raw(RawPayload::lent(self.inbox.body_mut(), frame, offset))
                        .map(|value| (header, Mixed::Raw(value)))
                        .map_err(FrameError::Payload)
                }
                Ok((header, offset)) => {
                    codec::decode(&self.inbox.body()[offset..]).map(|value| (header, Mixed::Typed(value)))
                }
                Err(e) => Err(e),
            };
            match value {
                Ok((header, value)) => {
                    self.inbox.delivered_len(len);
                    return Ok(Some(Received { value, seq: header.seq, send_time: header.send_time, recv_time }));
                }
                Err(e) => self.inbox.refuse(&e),
            }
        }
    }

    /// The payload bytes of the next message, or `None` when none is waiting. Never blocks. A
    /// group subscriber takes bare frames too (their bytes after the tag, sequence number 0).
    pub fn recv_bytes(&mut self) -> Result<Option<Received<&[u8]>>, PortError> {
        let Some(arrival) = self.inbox.next(&self.socket, false, &self.message, self.bytes_want())? else {
            return Ok(None);
        };
        self.inbox.delivered(&arrival);
        Ok(Some(arrival.received(self.inbox.payload(&arrival))))
    }
}

/// Disconnects `socket` from `endpoint`; an endpoint the socket no longer knows is not an error.
pub(crate) fn disconnect(socket: &zmq::Socket, endpoint: &Endpoint) -> Result<(), PortError> {
    match socket.disconnect(endpoint.as_str()) {
        Ok(()) | Err(zmq::Error::ENOENT) => Ok(()),
        Err(e) => Err(PortError::zmq(format!("disconnecting from {endpoint}"), e)),
    }
}
