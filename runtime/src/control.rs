//! The control channel between an actor's main thread and each component thread.
//!
//! Both ends live in one process, so the values travel as Rust values over a std channel; an
//! inproc PAIR socket beside it carries empty frames that only wake the other side's poll. A
//! sender puts the value in the channel before it sends the wake-up, so a receiver that was
//! woken always finds it. A failure to send (the other side has gone) is logged, never dropped
//! silently.

use std::sync::mpsc;

use cohort_groups::GroupKey;
use cohort_model::PortDescriptor;
use cohort_ports::{Endpoint, PortKind};
use slog::warn;

use crate::group::GroupName;

/// What the actor tells a component thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToComponent {
    /// Start periodic timers and call `on_activate`.
    Activate,
    /// Call `on_passivate`; no messages are handled until the next `Activate`. (Nothing sends it
    /// yet: the actor has no passivation command.)
    #[allow(dead_code)]
    Passivate,
    /// Call `on_deactivate`, close the ports and end the thread.
    Stop,
    /// Providers of a consuming port (or the other members of a joined group) changed.
    Update {
        /// The consuming port or group.
        target: Target,
        /// Endpoints to connect to.
        added: Vec<Endpoint>,
        /// Endpoints to disconnect from.
        removed: Vec<Endpoint>,
    },
}

/// What a discovery update is for, inside one component.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Target {
    /// The consuming port at this index of the component's port list.
    Port(usize),
    /// A group instance the component joined.
    Group(GroupName),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FromComponent {
    /// The component is built; these ports need discovery.
    Ready(Vec<DiscoveredPort>),
    /// The component could not be built.
    Failed(String),
    /// The component joined a group instance: register its publisher and look up the others'.
    Join {
        /// The group instance.
        group: GroupName,
        /// The group instance as discovery knows it.
        key: GroupKey,
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
    let endpoint = format!("inproc://cohort-control/{name}");
    let ours = ctx.socket(zmq::PAIR)?;
    ours.bind(&endpoint)?;
    let theirs = ctx.socket(zmq::PAIR)?;
    theirs.connect(&endpoint)?;
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
        // A full queue of wake-ups already wakes the other side; any other failure is logged.
        match self.wake.send(&[][..], zmq::DONTWAIT) {
            Ok(()) | Err(zmq::Error::EAGAIN) => {}
            Err(e) => warn!(self.log, "cannot wake the other side of a control channel"; "error" => %e),
        }
    }

    /// The next message, without blocking. Clears the wake-ups that announced it.
    pub(crate) fn try_recv(&self) -> Option<R> {
        while self.wake.recv_bytes(zmq::DONTWAIT).is_ok() {}
        self.rx.try_recv().ok()
    }

    /// The socket to poll for wake-ups.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.wake
    }
}
