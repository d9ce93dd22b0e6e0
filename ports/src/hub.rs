//! Many-to-one channels: a [`Hub`] (ROUTER, binds) and its [`Spoke`]s (one DEALER each).
//!
//! An inside port (`ins`) is a hub on inproc and the component's worker threads hold its spokes
//! ([`Hub::plug`]); a group leader's channel is a hub and each member's channel to its leader a
//! spoke that follows the current leader ([`Spoke::connect_to`]). A spoke over tcp or ipc
//! watches its connection with a socket monitor ([`crate::monitor`]): [`Spoke::link`] says
//! whether it is up, and [`Spoke::link_events`] reports each change, within milliseconds of a
//! hub's process dying.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::endpoint::{Endpoint, Transport};
use crate::error::PortError;
use crate::frames::{send_part, Inbox, Outbox, Received, Want};
use crate::kind::PortKind;
use crate::monitor::{LinkEvent, LinkState, Watched};
use crate::options::SocketOptions;
use crate::publish::disconnect;
use crate::respond::route;
use crate::security::Security;
use crate::socket::make_socket;
use crate::stats::PortStats;
use crate::wire::{Flags, MessageType};

/// The identity of a spoke, as its hub sees it: unique across processes and hosts (a UUID),
/// unlike RIAPS's object ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(Vec<u8>);

impl PeerId {
    /// A new random id.
    pub fn random() -> PeerId {
        PeerId(uuid::Uuid::new_v4().as_bytes().to_vec())
    }

    /// An id from its bytes (1 to 255 bytes, not starting with a zero byte, as ZeroMQ requires).
    pub fn from_bytes(bytes: &[u8]) -> Option<PeerId> {
        (!bytes.is_empty() && bytes.len() <= 255 && bytes[0] != 0).then(|| PeerId(bytes.to_vec()))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A message a hub received, with the spoke it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FromPeer<T> {
    /// The spoke that sent it.
    pub from: PeerId,
    /// The message.
    pub message: Received<T>,
}

/// The hub side: a ROUTER bound at [`Hub::endpoint`]; receives from every spoke with the
/// spoke's [`PeerId`], and sends to one spoke by id.
pub struct Hub {
    pub(crate) kind: PortKind,
    pub(crate) socket: zmq::Socket,
    pub(crate) endpoint: Endpoint,
    pub(crate) message: MessageType,
    pub(crate) inbox: Inbox,
    pub(crate) outbox: Outbox,
    pub(crate) seq: u64,
    pub(crate) options: SocketOptions,
    pub(crate) ctx: zmq::Context,
    pub(crate) timed: bool,
    pub(crate) log: slog::Logger,
    /// Removes the port's ipc file after the socket (declared above) has closed.
    pub(crate) _ipc: crate::scope::IpcFile,
}

/// `ins`: an inside port.
pub type InsPort = Hub;
/// A group leader's channel to its members.
pub type LeaderPort = Hub;
/// A worker thread's end of an inside port.
pub type InsPlug = Spoke;
/// A group member's channel to its leader.
pub type MemberPort = Spoke;

impl Hub {
    /// `ins` or `gleader`.
    pub fn kind(&self) -> PortKind {
        self.kind
    }

    /// The endpoint the hub is bound at.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The port's counters.
    pub fn stats(&self) -> &Arc<PortStats> {
        self.inbox.stats()
    }

    /// The socket, for polling.
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// A new spoke connected to this hub, for a worker thread of the component (inside ports:
    /// the hub is on inproc, so the spoke must stay in this process). Spokes can move to
    /// another thread.
    pub fn plug(&self) -> Result<Spoke, PortError> {
        if self.kind != PortKind::Ins {
            return Err(PortError::WrongKind { op: "plug", kind: self.kind.name() });
        }
        let mut spoke = new_spoke(
            self.kind,
            &self.ctx,
            Transport::Inproc,
            &self.options,
            &Security::None,
            self.message.clone(),
            self.timed,
            PeerId::random(),
            Arc::new(PortStats::default()),
            self.log.new(slog::o!("plug" => true)),
        )?;
        spoke.connect_to(Some(&self.endpoint))?;
        Ok(spoke)
    }

    /// The next message from any spoke, with the spoke's id, or `None`. Never blocks.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<FromPeer<T>>, PortError> {
        loop {
            let Some(arrival) = self.inbox.next(&self.socket, true, &self.message, Want::Typed)? else {
                return Ok(None);
            };
            if let Some(value) = self.inbox.decode(&arrival) {
                self.inbox.delivered(&arrival);
                let from = PeerId(self.inbox.identity().to_vec());
                return Ok(Some(FromPeer { from, message: arrival.received(value) }));
            }
        }
    }

    /// The next message's payload bytes, with the spoke's id, or `None`. Never blocks.
    pub fn recv_bytes(&mut self) -> Result<Option<FromPeer<&[u8]>>, PortError> {
        let Some(arrival) = self.inbox.next(&self.socket, true, &self.message, Want::Bytes)? else {
            return Ok(None);
        };
        self.inbox.delivered(&arrival);
        let from = PeerId(self.inbox.identity().to_vec());
        Ok(Some(FromPeer { from, message: arrival.received(self.inbox.payload(&arrival)) }))
    }

    /// Sends `value` to the spoke `to`; [`PortError::PeerGone`] if it is not connected.
    pub fn send_to<T: Serialize + ?Sized>(&mut self, to: &PeerId, value: &T) -> Result<(), PortError> {
        self.seq += 1;
        let frame = self.outbox.typed(&self.message, self.seq, Flags::empty(), value)?;
        route(&self.socket, &to.0, frame, &self.options, &self.inbox)
    }

    /// Sends raw bytes to the spoke `to`.
    pub fn send_bytes_to(&mut self, to: &PeerId, bytes: &[u8]) -> Result<(), PortError> {
        self.seq += 1;
        let frame = self.outbox.raw(&self.message, self.seq, Flags::empty(), bytes);
        route(&self.socket, &to.0, frame, &self.options, &self.inbox)
    }
}

/// The spoke side: one DEALER with a fixed [`PeerId`], connected to at most one hub at a time.
pub struct Spoke {
    pub(crate) kind: PortKind,
    /// The DEALER, with its monitor (none on inproc).
    pub(crate) link: Watched,
    pub(crate) id: PeerId,
    pub(crate) hub: Option<Endpoint>,
    pub(crate) message: MessageType,
    pub(crate) inbox: Inbox,
    pub(crate) outbox: Outbox,
    pub(crate) seq: u64,
    pub(crate) options: SocketOptions,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_spoke(
    kind: PortKind,
    ctx: &zmq::Context,
    transport: Transport,
    options: &SocketOptions,
    security: &Security,
    message: MessageType,
    timed: bool,
    id: PeerId,
    stats: Arc<PortStats>,
    log: slog::Logger,
) -> Result<Spoke, PortError> {
    // A DEALER gets the spoke kind's socket type whatever `kind` says.
    let socket = make_socket(ctx, PortKind::GroupMember, transport, options, security)?;
    socket.set_identity(id.as_bytes()).map_err(|e| PortError::zmq("setting ZMQ_ROUTING_ID", e))?;
    Ok(Spoke {
        kind,
        link: Watched::new(ctx, socket, transport)?,
        id,
        hub: None,
        message,
        inbox: Inbox::new(stats, log, timed),
        outbox: Outbox::new(timed),
        seq: 0,
        options: options.clone(),
    })
}

impl Spoke {
    /// The kind of the hub it belongs to (`ins` or `gmember`).
    pub fn kind(&self) -> PortKind {
        self.kind
    }

    /// The id the hub sees.
    pub fn id(&self) -> &PeerId {
        &self.id
    }

    /// The hub it is connected to.
    pub fn hub(&self) -> Option<&Endpoint> {
        self.hub.as_ref()
    }

    /// The port's counters.
    pub fn stats(&self) -> &Arc<PortStats> {
        self.inbox.stats()
    }

    /// The DEALER, for polling: readable means a message may be waiting.
    pub fn socket(&self) -> &zmq::Socket {
        self.link.socket()
    }

    /// The socket monitor, for polling (none over inproc): readable means the connection closed
    /// or came back; call [`Spoke::link_events`] or a receive.
    pub fn monitor_socket(&self) -> Option<&zmq::Socket> {
        self.link.monitor()
    }

    /// The sockets to poll: the DEALER, then the socket monitor (none over inproc).
    pub fn sockets(&self) -> impl Iterator<Item = &zmq::Socket> {
        std::iter::once(self.link.socket()).chain(self.link.monitor())
    }

    /// The state of the connection to the hub, as of the last call that read the monitor
    /// ([`Spoke::link_events`], a receive that found nothing, [`Spoke::connect_to`]); `None`
    /// when connected to no hub. Over inproc it stays [`LinkState::Connecting`].
    pub fn link(&self) -> Option<LinkState> {
        self.hub.as_ref().map(|_| self.link.state())
    }

    /// Reads the socket monitor without blocking: the changes of the connection to the hub
    /// since the last read, in order. A receive that finds nothing also reads the monitor (so
    /// that a poller that only receives never finds it readable again), dropping what it
    /// reads: call this first to see every change.
    pub fn link_events(&mut self) -> Result<Vec<LinkEvent>, PortError> {
        self.link.read_events(self.inbox.log())
    }

    /// How many times the connection to a hub closed so far, whoever read the monitor's
    /// events ([`Spoke::link_events`], or a receive that found nothing).
    pub fn link_downs(&self) -> u64 {
        self.link.downs()
    }

    /// Reads the monitor for a receive: keeps [`Spoke::link`] current, drops the events.
    fn watch_link(&mut self) {
        if let Err(e) = self.link_events() {
            slog::warn!(self.inbox.log(), "reading the socket monitor failed"; "error" => %e);
        }
    }

    /// Connects to `hub` instead of the current one (a new leader), or to none. The events of
    /// the old connection not read yet are dropped, and [`Spoke::link`] starts again at
    /// [`LinkState::Connecting`].
    pub fn connect_to(&mut self, hub: Option<&Endpoint>) -> Result<(), PortError> {
        if self.hub.as_ref() == hub {
            return Ok(());
        }
        self.watch_link();
        if let Some(old) = self.hub.take() {
            disconnect(self.link.socket(), &old)?;
        }
        self.link.restart();
        if let Some(new) = hub {
            self.link.socket().connect(new.as_str()).map_err(|e| PortError::zmq(format!("connecting to {new}"), e))?;
            self.hub = Some(new.clone());
        }
        Ok(())
    }

    /// Sends `value` to the hub; [`PortError::NoProvider`] when connected to none.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), PortError> {
        if self.hub.is_none() {
            return Err(PortError::NoProvider);
        }
        self.seq += 1;
        let frame = self.outbox.typed(&self.message, self.seq, Flags::empty(), value)?;
        let len = frame.len();
        send_part(self.link.socket(), frame, false, &self.options)?;
        self.inbox.stats().sent(len);
        Ok(())
    }

    /// Sends raw bytes to the hub.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        if self.hub.is_none() {
            return Err(PortError::NoProvider);
        }
        self.seq += 1;
        let frame = self.outbox.raw(&self.message, self.seq, Flags::empty(), bytes);
        let len = frame.len();
        send_part(self.link.socket(), frame, false, &self.options)?;
        self.inbox.stats().sent(len);
        Ok(())
    }

    /// The next message from the hub, or `None`. Never blocks. Before it returns `None` it
    /// reads the monitor (see [`Spoke::link_events`]).
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Received<T>>, PortError> {
        loop {
            let Some(arrival) = self.inbox.next(self.link.socket(), false, &self.message, Want::Typed)? else {
                self.watch_link();
                return Ok(None);
            };
            if let Some(value) = self.inbox.decode(&arrival) {
                self.inbox.delivered(&arrival);
                return Ok(Some(arrival.received(value)));
            }
        }
    }

    /// The next message's payload bytes, or `None`. Never blocks. Before it returns `None` it
    /// reads the monitor (see [`Spoke::link_events`]).
    pub fn recv_bytes(&mut self) -> Result<Option<Received<&[u8]>>, PortError> {
        let Some(arrival) = self.inbox.next(self.link.socket(), false, &self.message, Want::Bytes)? else {
            self.watch_link();
            return Ok(None);
        };
        self.inbox.delivered(&arrival);
        Ok(Some(arrival.received(self.inbox.payload(&arrival))))
    }

    /// Waits up to `timeout` for the next message from the hub (for worker threads that have
    /// nothing else to poll).
    pub fn recv_within<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<Option<Received<T>>, PortError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(message) = self.recv()? {
                return Ok(Some(message));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait = i64::try_from((deadline - now).as_millis() + 1).unwrap_or(i64::MAX);
            let mut items: Vec<zmq::PollItem<'_>> = self.sockets().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
            match zmq::poll(&mut items, wait) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(PortError::zmq("poll", e)),
            }
        }
    }
}
