//! Request ports: `req` (asynchronous), `clt` (synchronous call) and `qry` (several answers).
//!
//! A request port keeps one DEALER socket per provider that discovery reports, and sends each
//! request to one provider, in turn. Because it knows where each request went, it can end
//! exactly the requests of a provider that goes, and a removal by discovery is a real
//! disconnect (the socket is closed). Every request ends exactly once: in a reply, or in a
//! [`CallError`] when its deadline passes or its provider goes.
//!
//! A provider that dies is noticed in milliseconds, not at discovery's liveness timeout: each
//! DEALER has a socket monitor ([`crate::monitor`]), and when its connection closes the port
//! ends the requests sent to that provider before then with [`CallError::ProviderGone`] and
//! sends new requests to the other providers until the connection is back (ZeroMQ reconnects
//! by itself, so a provider restarted on the same endpoint is used again). Replies that
//! arrived before the connection closed are still delivered first. A reply that comes later
//! for a request that has ended (a restarted provider may still get a request that was queued
//! for it) is dropped and counted as stale, never delivered twice. Discovery's removal of the
//! dead provider then only closes the socket.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use slog::{debug, info, warn};

use crate::endpoint::{Endpoint, Transport};
use crate::error::{CallError, PortError};
use crate::frames::{send_frame, send_part, Arrival, Inbox, Outbox, Received, Want};
use crate::kind::PortKind;
use crate::monitor::{LinkEvent, LinkState, Watched};
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
    /// The DEALER connected to it, with its monitor.
    link: Watched,
}

struct Pending {
    provider: u64,
    /// How many times the provider's connection had gone down when the request was sent: once
    /// it has gone down again, the request is lost with that connection.
    downs: u64,
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
    /// Since when requests lost with a closed connection wait to be ended ([`Requester::sweep`]).
    sweep_from: Option<Instant>,
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
            sweep_from: None,
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
        // The monitor starts before the connection, so it sees every event of it.
        let link = Watched::new(&self.ctx, socket, endpoint.transport())?;
        link.socket().connect(endpoint.as_str()).map_err(|e| PortError::zmq(format!("connecting to {endpoint}"), e))?;
        debug!(self.log(), "provider added"; "endpoint" => %endpoint);
        self.next_provider_id += 1;
        self.providers.push(Provider { id: self.next_provider_id, endpoint: endpoint.clone(), link });
        Ok(true)
    }

    pub(crate) fn remove_endpoint(&mut self, endpoint: &Endpoint) -> Result<bool, PortError> {
        let Some(index) = self.providers.iter().position(|p| &p.endpoint == endpoint) else {
            return Ok(false);
        };
        let provider = self.providers.remove(index);
        let id = provider.id;
        // Requests still queued for it are dropped with the socket.
        provider.link.socket().set_linger(0).map_err(|e| PortError::zmq("setting ZMQ_LINGER", e))?;
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

    pub(crate) fn links(&self) -> impl Iterator<Item = (&Endpoint, LinkState)> {
        self.providers.iter().map(|p| (&p.endpoint, p.link.state()))
    }

    /// The DEALERs, in provider order, then the monitors (none on inproc).
    pub(crate) fn sockets(&self) -> impl Iterator<Item = &zmq::Socket> {
        let dealers = self.providers.iter().map(|p| p.link.socket());
        dealers.chain(self.providers.iter().filter_map(|p| p.link.monitor()))
    }

    /// Reads every monitor event waiting (never blocks). A provider whose connection closed
    /// takes no new request until it is back, and the requests sent to it before are due to end
    /// ([`Requester::sweep`]).
    fn watch_links(&mut self) {
        for i in 0..self.providers.len() {
            let events = match self.providers[i].link.read_events(self.inbox.log()) {
                Ok(events) => events,
                Err(e) => {
                    warn!(self.log(), "reading a provider's socket monitor failed"; "error" => %e);
                    continue;
                }
            };
            let provider = &self.providers[i];
            for event in events {
                match event {
                    LinkEvent::Disconnected => {
                        self.sweep_from.get_or_insert_with(Instant::now);
                        let outstanding = self.pending.values().filter(|p| p.provider == provider.id).count();
                        info!(self.inbox.log(), "the connection to a provider closed; its outstanding requests end";
                            "endpoint" => %provider.endpoint, "outstanding" => outstanding);
                    }
                    LinkEvent::Connected if provider.link.downs() > 0 => {
                        info!(self.inbox.log(), "reconnected to a provider"; "endpoint" => %provider.endpoint);
                    }
                    LinkEvent::Connected => {
                        debug!(self.inbox.log(), "connected to a provider"; "endpoint" => %provider.endpoint);
                    }
                }
            }
        }
    }

    /// Ends, with [`CallError::ProviderGone`], every request sent to a provider before its
    /// connection last closed (those still outstanding: a reply that arrived first has been
    /// delivered). Call it when no reply is waiting.
    fn sweep(&mut self) {
        if self.sweep_from.take().is_none() {
            return;
        }
        let providers = &self.providers;
        let lost_with = |p: &Pending| providers.iter().any(|q| q.id == p.provider && q.link.downs() > p.downs);
        let mut lost: Vec<u64> = self.pending.iter().filter(|(_, p)| lost_with(p)).map(|(seq, _)| *seq).collect();
        lost.sort_unstable();
        for seq in lost {
            if let Some(p) = self.pending.remove(&seq) {
                self.stats().provider_gone();
                self.ended.push_back((seq, CallError::ProviderGone, p.replies));
            }
        }
    }

    /// The next provider in turn whose connection is not down.
    fn pick(&mut self) -> Option<usize> {
        let count = self.providers.len();
        let index = (0..count)
            .map(|k| (self.next_provider + k) % count)
            .find(|&i| self.providers[i].link.state() != LinkState::Down)?;
        self.next_provider = index + 1;
        Some(index)
    }

    pub(crate) fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Sends a request to the next provider whose connection is not down; returns its id and
    /// the provider's index. [`PortError::NoProvider`] when there is none.
    fn send<T: Serialize + ?Sized>(
        &mut self,
        body: Body<'_, T>,
        timeout: Duration,
    ) -> Result<(RequestId, usize), PortError> {
        self.watch_links();
        let index = self.pick().ok_or(PortError::NoProvider)?;
        self.seq += 1;
        let seq = self.seq;
        let provider = &mut self.providers[index];
        let len = match body {
            Body::Typed(value) => {
                let frame = self.outbox.typed(&self.request_type, seq, Flags::empty(), value)?;
                let len = frame.len();
                send_part(provider.link.socket(), frame, false, &self.options)?;
                len
            }
            Body::Raw(bytes) => {
                let frame = self.outbox.raw_frame(&self.request_type, seq, Flags::empty(), bytes);
                send_frame(provider.link.socket_mut(), &frame, false, &self.options)?;
                frame.len()
            }
        };
        let deadline = Instant::now() + timeout;
        let downs = provider.link.downs();
        self.pending.insert(seq, Pending { provider: provider.id, downs, deadline, timeout, replies: 0 });
        if self.kind != PortKind::Clt {
            // A call waits for its own deadline; only asynchronous requests need the heap.
            self.deadlines.push(Reverse((deadline, seq)));
        }
        self.inbox.stats().sent(len);
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

    /// The earliest deadline of an outstanding request, for the caller's poll timeout; reads
    /// the monitors first, and is already past when requests lost with a closed connection
    /// wait to be ended by the next receive.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.watch_links();
        while let Some(Reverse((deadline, seq))) = self.deadlines.peek().copied() {
            if self.pending.get(&seq).is_some_and(|p| p.deadline == deadline) {
                return Some(self.sweep_from.map_or(deadline, |from| from.min(deadline)));
            }
            self.deadlines.pop();
        }
        self.sweep_from
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
                let Some(arrival) = self.inbox.next(provider.link.socket(), false, &self.reply_type, want)? else {
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

    /// The first request that has ended without a reply, if any.
    fn next_ended<T>(&mut self) -> Option<Response<T>> {
        let (seq, error, replies) = self.ended.pop_front()?;
        Some(Response::Failed { id: RequestId(seq), error, replies })
    }

    /// Reads the monitors and ends the requests lost with a closed connection: what a receive
    /// does once no reply is waiting (so that a reply which arrived before the close still
    /// counts). Reading the monitors only here costs nothing per reply, and changes nothing a
    /// caller sees: lost requests end only once no reply is waiting anyway.
    fn next_lost<T>(&mut self) -> Option<Response<T>> {
        self.watch_links();
        self.sweep();
        self.next_ended()
    }

    /// The next response: ended requests first, then replies, then the requests lost with a
    /// closed connection.
    pub(crate) fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Response<T>>, PortError> {
        self.expire(Instant::now());
        if let Some(ended) = self.next_ended() {
            return Ok(Some(ended));
        }
        let Some(arrival) = self.next_reply(Want::Typed, None)? else {
            return Ok(self.next_lost());
        };
        let seq = arrival.header.seq;
        let last = self.ends_with(&arrival);
        match self.inbox.decode::<T>(&arrival) {
            Some(value) => {
                self.settle(seq, last);
                self.inbox.delivered(&arrival);
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
        if let Some(ended) = self.next_ended() {
            return Ok(Some(ended));
        }
        let Some(arrival) = self.next_reply(Want::Bytes, None)? else {
            return Ok(self.next_lost());
        };
        let seq = arrival.header.seq;
        let last = self.ends_with(&arrival);
        self.settle(seq, last);
        self.inbox.delivered(&arrival);
        Ok(Some(Response::Reply { id: RequestId(seq), message: arrival.received(self.inbox.payload(&arrival)), last }))
    }

    /// Sends one request and waits for its reply, up to `timeout`, or until the connection to
    /// its provider closes ([`CallError::ProviderGone`]).
    fn call_arrival<T: Serialize + ?Sized>(
        &mut self,
        body: Body<'_, T>,
        timeout: Duration,
        want: Want,
    ) -> Result<Arrival, PortError> {
        // A `clt` port has no receive: calls end here, and nothing else takes ended requests.
        self.sweep_from = None;
        self.ended.clear();
        let (id, index) = self.send(body, timeout)?;
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(arrival) = self.next_reply(want, Some(index))? {
                if arrival.header.seq == id.0 {
                    self.pending.remove(&id.0);
                    self.inbox.delivered(&arrival);
                    return Ok(arrival);
                }
                // A late reply to an earlier call that timed out: it has no taker.
                self.pending.remove(&arrival.header.seq);
                self.stats().stale();
            }
            // No reply yet: did the connection it went over close?
            self.watch_links();
            let downs = self.providers[index].link.downs();
            if self.pending.get(&id.0).is_some_and(|p| downs > p.downs) {
                self.pending.remove(&id.0);
                self.stats().provider_gone();
                return Err(CallError::ProviderGone.into());
            }
            let now = Instant::now();
            if now >= deadline {
                self.pending.remove(&id.0);
                self.stats().timed_out();
                return Err(CallError::TimedOut(timeout).into());
            }
            let wait = i64::try_from((deadline - now).as_millis() + 1).unwrap_or(i64::MAX);
            let link = &self.providers[index].link;
            let mut items: Vec<zmq::PollItem<'_>> =
                std::iter::once(link.socket()).chain(link.monitor()).map(|s| s.as_poll_item(zmq::POLLIN)).collect();
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

            /// The providers with the state of each one's connection, as of the last call that
            /// read the socket monitors (a request, a call, `next_deadline`, or a receive that
            /// found no reply). New requests skip providers whose connection is
            /// [`LinkState::Down`].
            pub fn links(&self) -> impl Iterator<Item = (&Endpoint, LinkState)> {
                self.core.links()
            }

            /// The sockets to poll: first one DEALER per provider (readable: a reply may be
            /// waiting), then one socket monitor per provider, except over inproc (readable: its
            /// connection closed or came back). Either way, call the port's receive.
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
    /// readable or [`ReqPort::next_deadline`] has passed. Reads the socket monitors (before it
    /// returns `None`): the requests sent to a provider whose connection closed end with
    /// [`CallError::ProviderGone`], after any reply that had already arrived.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Response<T>>, PortError> {
        self.core.recv()
    }

    /// Like [`ReqPort::recv`], with the reply's payload bytes.
    pub fn recv_bytes(&mut self) -> Result<Option<Response<&[u8]>>, PortError> {
        self.core.recv_bytes()
    }

    /// When the earliest outstanding request times out; already past when requests lost with
    /// a closed connection wait to be ended by [`ReqPort::recv`].
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

    /// When the earliest outstanding query times out; already past when queries lost with a
    /// closed connection wait to be ended by [`QryPort::recv`].
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.core.next_deadline()
    }
}

/// A synchronous client (`clt`): [`CltPort::call`] sends a request and waits for its reply, up
/// to a timeout, or until the connection to its provider closes ([`CallError::ProviderGone`]).
/// A reply that comes after its call ended is dropped. The port is not polled between calls:
/// each call reads the connection changes that happened since the last one first.
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
