//! Request ports: `req` (asynchronous), `clt` (synchronous call) and `qry` (several answers).
//!
//! A request port keeps one DEALER socket per provider that discovery reports, and sends each
//! request to one provider, in turn. Because it knows where each request went, it can end
//! exactly the requests of a provider that discovery removes, and a removal is a real
//! disconnect (the socket is closed). Every request ends: in a reply, or in a [`CallError`] when
//! its deadline passes or its provider goes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use slog::{debug, warn};

use crate::endpoint::{Endpoint, Transport};
use crate::error::{CallError, PortError};
use crate::frames::{send_frame, send_part, Arrival, Inbox, Outbox, Received, Want};
use crate::kind::PortKind;
use crate::options::SocketOptions;
use crate::security::Security;
use crate::socket::make_socket;
use crate::stats::{worth_logging, PortStats};
use crate::wire::{Flags, MessageType};

/// The id of one request (or query) on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a request port delivers: a reply to one of its requests, or the end of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Response<T> {
    /// A reply (an answer, on a `qry` port).
    Reply {
        /// The request it answers.
        id: RequestId,
        /// The reply.
        message: Received<T>,
        /// Whether the request has ended with it: always on `req`, on the final answer on `qry`.
        last: bool,
    },
    /// The request ended without (further) replies.
    Failed {
        /// The request.
        id: RequestId,
        /// Why it ended.
        error: CallError,
        /// How many replies it had received (answers, on a `qry` port).
        replies: u32,
    },
}

impl<T> Response<T> {
    /// The request this response belongs to.
    pub fn id(&self) -> RequestId {
        match self {
            Response::Reply { id, .. } | Response::Failed { id, .. } => *id,
        }
    }
}

struct Provider {
    /// Names the provider in [`Pending`] (cheaper to copy per request than the endpoint).
    id: u64,
    endpoint: Endpoint,
    socket: zmq::Socket,
}

struct Pending {
    provider: u64,
    deadline: Instant,
    timeout: Duration,
    replies: u32,
}

/// The part `req`, `clt` and `qry` share.
pub(crate) struct Requester {
    pub(crate) kind: PortKind,
    pub(crate) ctx: zmq::Context,
    pub(crate) transport: Transport,
    pub(crate) options: SocketOptions,
    pub(crate) security: Security,
    pub(crate) request_type: MessageType,
    pub(crate) reply_type: MessageType,
    providers: Vec<Provider>,
    next_provider: usize,
    next_read: usize,
    next_provider_id: u64,
    pending: HashMap<u64, Pending>,
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    ended: VecDeque<(u64, CallError, u32)>,
    seq: u64,
    outbox: Outbox,
    inbox: Inbox,
}

/// A frame to send: CBOR of a value, or raw bytes.
enum Body<'a, T: ?Sized> {
    Typed(&'a T),
    Raw(&'a [u8]),
}

impl Requester {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind: PortKind,
        ctx: zmq::Context,
        transport: Transport,
        options: SocketOptions,
        security: Security,
        request_type: MessageType,
        reply_type: MessageType,
        timed: bool,
        stats: Arc<PortStats>,
        log: slog::Logger,
    ) -> Requester {
        Requester {
            kind,
            ctx,
            transport,
            options,
            security,
            request_type,
            reply_type,
            providers: Vec::new(),
            next_provider: 0,
            next_read: 0,
            next_provider_id: 0,
            pending: HashMap::new(),
            deadlines: BinaryHeap::new(),
            ended: VecDeque::new(),
            seq: 0,
            outbox: Outbox::new(timed),
            inbox: Inbox::new(stats, log, timed),
        }
    }

    fn log(&self) -> &slog::Logger {
        self.inbox.log()
    }

    pub(crate) fn stats(&self) -> &Arc<PortStats> {
        self.inbox.stats()
    }

    pub(crate) fn add_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        if self.providers.iter().any(|p| &p.endpoint == endpoint) {
            return Ok(false);
        }
        let socket = make_socket(&self.ctx, self.kind, self.transport, &self.options, &self.security)?;
        socket.connect(endpoint.as_str()).map_err(|e| PortError::zmq(format!("connecting to {endpoint}"), e))?;
        debug!(self.log(), "provider added"; "endpoint" => %endpoint);
        self.next_provider_id += 1;
        self.providers.push(Provider { id: self.next_provider_id, endpoint: endpoint.clone(), socket });
        Ok(true)
    }

    pub(crate) fn remove_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        let Some(index) = self.providers.iter().position(|p| &p.endpoint == endpoint) else {
            return Ok(false);
        };
        let provider = self.providers.remove(index);
        let id = provider.id;
        // Requests still queued for it are dropped with the socket.
        provider.socket.set_linger(0).map_err(|e| PortError::zmq("setting ZMQ_LINGER", e))?;
        drop(provider);
        let mut gone: Vec<u64> = self.pending.iter().filter(|(_, p)| p.provider == id).map(|(seq, _)| *seq).collect();
        gone.sort_unstable();
        for seq in gone {
            if let Some(p) = self.pending.remove(&seq) {
                self.stats().provider_gone();
                self.ended.push_back((seq, CallError::ProviderGone, p.replies));
            }
        }
        debug!(self.log(), "provider removed"; "endpoint" => %endpoint, "ended_requests" => self.ended.len());
        Ok(true)
    }

    pub(crate) fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.providers.iter().map(|p| &p.endpoint)
    }

    pub(crate) fn sockets(&self) -> impl Iterator<Item = &zmq::Socket> {
        self.providers.iter().map(|p| &p.socket)
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Sends a request to the next provider; returns its id and the provider's index.
    fn send<T: Serialize + ?Sized>(
        &mut self,
        body: Body<'_, T>,
        timeout: Duration,
    ) -> Result<(RequestId, usize), PortError> {
        if self.providers.is_empty() {
            return Err(PortError::NoProvider);
        }
        let index = self.next_provider % self.providers.len();
        self.next_provider = index + 1;
        self.seq += 1;
        let seq = self.seq;
        let provider = &mut self.providers[index];
        match body {
            Body::Typed(value) => {
                let frame = self.outbox.typed(&self.request_type, seq, Flags::empty(), value)?;
                send_part(&provider.socket, frame, false, &self.options)?;
            }
            Body::Raw(bytes) => {
                let frame = self.outbox.raw_frame(&self.request_type, seq, Flags::empty(), bytes);
                send_frame(&mut provider.socket, &frame, false, &self.options)?;
            }
        }
        let deadline = Instant::now() + timeout;
        self.pending.insert(seq, Pending { provider: provider.id, deadline, timeout, replies: 0 });
        if self.kind != PortKind::Clt {
            // A call waits for its own deadline; only asynchronous requests need the heap.
            self.deadlines.push(Reverse((deadline, seq)));
        }
        self.inbox.stats().sent();
        Ok((RequestId(seq), index))
    }

    pub(crate) fn request<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<RequestId, PortError> {
        self.send(Body::Typed(value), timeout).map(|(id, _)| id)
    }

    pub(crate) fn request_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<RequestId, PortError> {
        self.send::<[u8]>(Body::Raw(bytes), timeout).map(|(id, _)| id)
    }

    /// The earliest deadline of an outstanding request, for the caller's poll timeout.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(Reverse((deadline, seq))) = self.deadlines.peek().copied() {
            if self.pending.get(&seq).is_some_and(|p| p.deadline == deadline) {
                return Some(deadline);
            }
            self.deadlines.pop();
        }
        None
    }

    /// Ends every request whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(Reverse((deadline, seq))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            if self.pending.get(&seq).is_some_and(|p| p.deadline == deadline) {
                if let Some(p) = self.pending.remove(&seq) {
                    self.stats().timed_out();
                    self.ended.push_back((seq, CallError::TimedOut(p.timeout), p.replies));
                }
            }
        }
    }

    /// The next reply from any provider that belongs to an outstanding request; stale replies
    /// are counted and dropped. `only` limits the search to one provider's socket.
    fn next_reply(&mut self, want: Want, only: Option<usize>) -> Result<Option<Arrival>, PortError> {
        let count = self.providers.len();
        // Start after the provider read last, so a busy provider cannot starve the others.
        let (first, n) = match only {
            Some(i) => (i, 1),
            None => (self.next_read, count),
        };
        for k in 0..n {
            let i = (first + k) % count;
            loop {
                let provider = &self.providers[i];
                let Some(arrival) = self.inbox.next(&provider.socket, false, &self.reply_type, want)? else {
                    break;
                };
                // A reply counts only from the provider its request went to.
                if self.pending.get(&arrival.header.seq).is_some_and(|p| p.provider == provider.id) {
                    self.next_read = i + 1;
                    return Ok(Some(arrival));
                }
                let n = self.stats().stale();
                if worth_logging(n) {
                    warn!(self.log(), "dropped a reply to a request that had already ended (or was not sent there)";
                        "request" => arrival.header.seq, "stale_replies" => n);
                }
            }
        }
        Ok(None)
    }

    /// Records a reply to `seq`; returns whether the request has ended with it.
    fn settle(&mut self, seq: u64, ends: bool) -> u32 {
        if ends {
            self.pending.remove(&seq).map_or(1, |p| p.replies + 1)
        } else if let Some(p) = self.pending.get_mut(&seq) {
            p.replies += 1;
            p.replies
        } else {
            1
        }
    }

    fn ends_with(&self, arrival: &Arrival) -> bool {
        self.kind != PortKind::Qry || arrival.header.flags.contains(Flags::FINAL)
    }

    /// The next response: ended requests first, then replies.
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Response<T>>, PortError> {
        self.expire(Instant::now());
        if let Some((seq, error, replies)) = self.ended.pop_front() {
            return Ok(Some(Response::Failed { id: RequestId(seq), error, replies }));
        }
        let Some(arrival) = self.next_reply(Want::Typed, None)? else {
            return Ok(None);
        };
        let seq = arrival.header.seq;
        let last = self.ends_with(&arrival);
        match self.inbox.decode::<T>(&arrival) {
            Some(value) => {
                self.settle(seq, last);
                self.inbox.stats().received();
                Ok(Some(Response::Reply { id: RequestId(seq), message: arrival.received(value), last }))
            }
            None => {
                let replies = self.pending.remove(&seq).map_or(0, |p| p.replies);
                Ok(Some(Response::Failed { id: RequestId(seq), error: CallError::BadReply, replies }))
            }
        }
    }

    /// Like [`Requester::recv`], with the reply's payload bytes.
    pub(crate) fn recv_bytes(&mut self) -> Result<Option<Response<&[u8]>>, PortError> {
        self.expire(Instant::now());
        if let Some((seq, error, replies)) = self.ended.pop_front() {
            return Ok(Some(Response::Failed { id: RequestId(seq), error, replies }));
        }
        let Some(arrival) = self.next_reply(Want::Bytes, None)? else {
            return Ok(None);
        };
        let seq = arrival.header.seq;
        let last = self.ends_with(&arrival);
        self.settle(seq, last);
        self.inbox.stats().received();
        Ok(Some(Response::Reply { id: RequestId(seq), message: arrival.received(self.inbox.payload(&arrival)), last }))
    }

    /// Sends one request and waits for its reply, up to `timeout`.
    fn call_arrival<T: Serialize + ?Sized>(
        &mut self,
        body: Body<'_, T>,
        timeout: Duration,
        want: Want,
    ) -> Result<Arrival, PortError> {
        let (id, index) = self.send(body, timeout)?;
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(arrival) = self.next_reply(want, Some(index))? {
                if arrival.header.seq == id.0 {
                    self.pending.remove(&id.0);
                    self.inbox.stats().received();
                    return Ok(arrival);
                }
                // A late reply to an earlier call that timed out: it has no taker.
                self.pending.remove(&arrival.header.seq);
                self.stats().stale();
            }
            let now = Instant::now();
            if now >= deadline {
                self.pending.remove(&id.0);
                self.stats().timed_out();
                return Err(CallError::TimedOut(timeout).into());
            }
            let wait = i64::try_from((deadline - now).as_millis() + 1).unwrap_or(i64::MAX);
            let mut items = [self.providers[index].socket.as_poll_item(zmq::POLLIN)];
            match zmq::poll(&mut items, wait) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(PortError::zmq("poll", e)),
            }
        }
    }

    pub(crate) fn call<Q: Serialize + ?Sized, R: DeserializeOwned>(
        &mut self,
        value: &Q,
        timeout: Duration,
    ) -> Result<Received<R>, PortError> {
        let arrival = self.call_arrival(Body::Typed(value), timeout, Want::Typed)?;
        match self.inbox.decode::<R>(&arrival) {
            Some(reply) => Ok(arrival.received(reply)),
            None => Err(CallError::BadReply.into()),
        }
    }

    pub(crate) fn call_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<Received<Vec<u8>>, PortError> {
        let arrival = self.call_arrival::<[u8]>(Body::Raw(bytes), timeout, Want::Bytes)?;
        Ok(arrival.received(self.inbox.payload(&arrival).to_vec()))
    }
}

/// The connect-side methods every request port has.
macro_rules! requester_common {
    ($port:ty) => {
        impl $port {
            /// The port's kind.
            pub fn kind(&self) -> PortKind {
                self.core.kind
            }

            /// The port's counters.
            pub fn stats(&self) -> &Arc<PortStats> {
                self.core.stats()
            }

            /// Connects to a provider reported by discovery; false if already connected.
            pub fn add_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
                self.core.add_endpoint(endpoint)
            }

            /// Disconnects from a provider that discovery says is gone, ending its outstanding
            /// requests with [`CallError::ProviderGone`]; false if it was not connected.
            pub fn remove_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
                self.core.remove_endpoint(endpoint)
            }

            /// The providers it is connected to.
            pub fn endpoints(&self) -> impl Iterator<Item = &Endpoint> {
                self.core.endpoints()
            }

            /// The sockets to poll (one per provider): readable means a reply may be waiting.
            pub fn sockets(&self) -> impl Iterator<Item = &zmq::Socket> {
                self.core.sockets()
            }

            /// How many requests are outstanding.
            pub fn outstanding(&self) -> usize {
                self.core.outstanding()
            }
        }
    };
}

/// An asynchronous requester (`req`): any number of requests outstanding, each reply correlated
/// to its request; stale replies are dropped, so a lost reply never wedges the port.
pub struct ReqPort {
    pub(crate) core: Requester,
}

requester_common!(ReqPort);

impl ReqPort {
    /// Sends `value` to the next provider, with the default deadline.
    pub fn request<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<RequestId, PortError> {
        let timeout = self.core.options.request_timeout;
        self.core.request(value, timeout)
    }

    /// Sends `value` with its own deadline.
    pub fn request_within<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<RequestId, PortError> {
        self.core.request(value, timeout)
    }

    /// Sends raw bytes, with the default deadline.
    pub fn request_bytes(&mut self, bytes: &[u8]) -> Result<RequestId, PortError> {
        let timeout = self.core.options.request_timeout;
        self.core.request_bytes(bytes, timeout)
    }

    /// The next reply or ended request, or `None`. Never blocks; call it when a socket is
    /// readable or [`ReqPort::next_deadline`] has passed.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Response<T>>, PortError> {
        self.core.recv()
    }

    /// Like [`ReqPort::recv`], with the reply's payload bytes.
    pub fn recv_bytes(&mut self) -> Result<Option<Response<&[u8]>>, PortError> {
        self.core.recv_bytes()
    }

    /// When the earliest outstanding request times out.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.core.next_deadline()
    }
}

/// A query port (`qry`): any number of queries outstanding, each answered any number of times,
/// in any order. A query ends with its final answer (the answerer's
/// [`crate::ReplyPort::reply`]) or when its deadline passes.
pub struct QryPort {
    pub(crate) core: Requester,
}

requester_common!(QryPort);

impl QryPort {
    /// Sends a query to the next provider, with the default deadline.
    pub fn query<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<RequestId, PortError> {
        let timeout = self.core.options.request_timeout;
        self.core.request(value, timeout)
    }

    /// Sends a query with its own deadline.
    pub fn query_within<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<RequestId, PortError> {
        self.core.request(value, timeout)
    }

    /// Sends raw bytes as a query, with the default deadline.
    pub fn query_bytes(&mut self, bytes: &[u8]) -> Result<RequestId, PortError> {
        let timeout = self.core.options.request_timeout;
        self.core.request_bytes(bytes, timeout)
    }

    /// The next answer or ended query, or `None`. Never blocks.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Response<T>>, PortError> {
        self.core.recv()
    }

    /// Like [`QryPort::recv`], with the answer's payload bytes.
    pub fn recv_bytes(&mut self) -> Result<Option<Response<&[u8]>>, PortError> {
        self.core.recv_bytes()
    }

    /// When the earliest outstanding query times out.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.core.next_deadline()
    }
}

/// A synchronous client (`clt`): [`CltPort::call`] sends a request and waits for its reply, up
/// to a timeout. A reply that comes after its call timed out is dropped.
pub struct CltPort {
    pub(crate) core: Requester,
}

requester_common!(CltPort);

impl CltPort {
    /// Calls the next provider with `value` and waits up to the default request timeout.
    pub fn call<Q: Serialize + ?Sized, R: DeserializeOwned>(&mut self, value: &Q) -> Result<Received<R>, PortError> {
        let timeout = self.core.options.request_timeout;
        self.core.call(value, timeout)
    }

    /// Calls with its own timeout.
    pub fn call_within<Q: Serialize + ?Sized, R: DeserializeOwned>(
        &mut self,
        value: &Q,
        timeout: Duration,
    ) -> Result<Received<R>, PortError> {
        self.core.call(value, timeout)
    }

    /// Calls with raw bytes and returns the reply's bytes.
    pub fn call_bytes(&mut self, bytes: &[u8], timeout: Duration) -> Result<Received<Vec<u8>>, PortError> {
        self.core.call_bytes(bytes, timeout)
    }
}
