//! The control channel between an actor's main thread and each component thread.
//!
//! Both ends live in one process, so the values travel as Rust values over a std channel; an
//! inproc PAIR socket beside it carries empty frames that only wake the other side's poll. A
//! sender puts the value in the channel before it sends the wake-up, so a receiver that was
//! woken always finds it. A failure to send (the other side has gone) is logged, never dropped
//! silently.

use std::sync::mpsc;

use cohort_budgets::Limit;
use cohort_groups::{GroupKey, MemberId};
use cohort_model::PortDescriptor;
use cohort_ports::{Endpoint, PortKind};
use slog::warn;

use crate::events::{NicState, Peer, PeerState};
use crate::group::GroupName;
use crate::metrics::InstanceProbe;

/// What the actor tells a component thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToComponent {
    /// Start periodic timers and call `on_activate`.
    Activate,
    /// Call `on_passivate`; no messages are handled until the next `Activate` (`cohort ctl
    /// APP passivate`, relayed by the launcher: [`crate::actor_ctl`]).
    Passivate,
    /// Call `on_deactivate`, close the ports and end the thread.
    Stop,
    /// Providers of a consuming port changed. (The other members of a joined group are the
    /// coordination thread's business: their updates go there, see [`crate::coordinator`].)
    Update {
        /// The consuming port's index in the component's port list.
        port: usize,
        /// Endpoints to connect to.
        added: Vec<Endpoint>,
        /// Endpoints to disconnect from.
        removed: Vec<Endpoint>,
    },
    /// The interface the actor's global ports bind to changed state: call `on_nic_state`.
    Nic(NicState),
    /// Another actor of the app appeared or disappeared: call `on_peer_state`.
    Peer(Peer, PeerState),
    /// The actor went over a part of its budget: call `on_limit`.
    Limit(Limit),
}

/// A port of a component that discovery must know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiscoveredPort {
    /// The port.
    pub(crate) port: PortDescriptor,
    /// Its socket-level kind.
    pub(crate) kind: PortKind,
    /// Its bound endpoint (a providing port), or none (a consuming port to look up).
    pub(crate) endpoint: Option<Endpoint>,
}

/// What a component thread tells its actor.
#[derive(Debug, Clone)]
pub(crate) enum FromComponent {
    /// The component is built; these ports need discovery, and these are the counters of its
    /// ports and handlers, for the actor's reports.
    Ready(Vec<DiscoveredPort>, InstanceProbe),
    /// The component could not be built.
    Failed(String),
    /// The component joined a group instance: register its publisher and look up the others'.
    Join {
        /// The group instance.
        group: GroupName,
        /// The group instance as discovery knows it.
        key: GroupKey,
        /// The member the coordination thread made: discovery updates for the group go to it.
        member: MemberId,
        /// The member's publisher endpoint.
        endpoint: Endpoint,
    },
    /// The component left a group instance.
    Leave {
        /// The group instance.
        group: GroupName,
        /// The member's publisher endpoint.
        endpoint: Endpoint,
    },
    /// The thread has ended.
    Stopped,
}

/// One end of a control channel: sends `S`, receives `R`.
pub(crate) struct ControlEnd<S, R> {
    tx: mpsc::Sender<S>,
    rx: mpsc::Receiver<R>,
    wake: zmq::Socket,
    log: slog::Logger,
}

/// The actor's end of a component's control channel.
pub(crate) type ActorEnd = ControlEnd<ToComponent, FromComponent>;

/// The component's end of its control channel.
pub(crate) type ComponentEnd = ControlEnd<FromComponent, ToComponent>;

/// A connected pair of ends: the actor's and the component's.
pub(crate) fn pair(ctx: &zmq::Context, name: &str, log: &slog::Logger) -> Result<(ActorEnd, ComponentEnd), zmq::Error> {
    let (ours, theirs) = wake_pair(ctx, &format!("inproc://cohort-control/{name}"))?;
    let (to_component, from_actor) = mpsc::channel();
    let (to_actor, from_component) = mpsc::channel();
    Ok((
        ControlEnd { tx: to_component, rx: from_component, wake: ours, log: log.clone() },
        ControlEnd { tx: to_actor, rx: from_actor, wake: theirs, log: log.clone() },
    ))
}

impl<S: std::fmt::Debug, R> ControlEnd<S, R> {
    /// Sends `message` without waiting. If the other side has gone, says so in the log.
    pub(crate) fn send(&self, message: S) {
        if let Err(mpsc::SendError(message)) = self.tx.send(message) {
            warn!(self.log, "a control message was not delivered: the other side has gone"; "message" => ?message);
            return;
        }
        wake(&self.wake, &self.log);
    }

    /// The next message, without blocking. Clears the wake-ups that announced it.
    pub(crate) fn try_recv(&self) -> Option<R> {
        clear_wakeups(&self.wake);
        self.rx.try_recv().ok()
    }

    /// The socket to poll for wake-ups.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.wake
    }
}

/// Two connected inproc PAIR sockets on `endpoint` (which must be unique in `ctx`): the bound
/// one first. Each carries empty frames that wake the poll of the other's owner.
pub(crate) fn wake_pair(ctx: &zmq::Context, endpoint: &str) -> Result<(zmq::Socket, zmq::Socket), zmq::Error> {
    let bound = ctx.socket(zmq::PAIR)?;
    bound.bind(endpoint)?;
    let connected = ctx.socket(zmq::PAIR)?;
    connected.connect(endpoint)?;
    Ok((bound, connected))
}

/// Wakes the owner of the other end of the PAIR `socket`, without waiting. A full queue of
/// wake-ups already wakes it; any other failure is logged.
pub(crate) fn wake(socket: &zmq::Socket, log: &slog::Logger) {
    match socket.send(&[][..], zmq::DONTWAIT) {
        Ok(()) | Err(zmq::Error::EAGAIN) => {}
        Err(e) => warn!(log, "cannot wake the other side of an inproc channel"; "error" => %e),
    }
}

/// Reads and drops every wake-up waiting on `socket`. Call it before draining the channel the
/// wake-ups announce, so that a value sent after the drain still leaves a wake-up behind.
pub(crate) fn clear_wakeups(socket: &zmq::Socket) {
    while socket.recv_bytes(zmq::DONTWAIT).is_ok() {}
}
