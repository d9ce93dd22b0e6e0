//! The control channel between an actor's main thread and each component thread: an inproc
//! PAIR socket pair carrying CBOR messages.

use serde::{Deserialize, Serialize};

/// What the actor tells a component thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToComponent {
    /// Start periodic timers and call `on_activate`.
    Activate,
    /// Call `on_passivate`; no messages are handled until the next `Activate`.
    Passivate,
    /// Call `on_deactivate`, close the ports and end the thread.
    Stop,
    /// Providers of a consuming port changed.
    Update {
        /// The port's name in the component.
        port: String,
        /// Endpoints to connect to.
        added: Vec<String>,
        /// Endpoints to disconnect from.
        removed: Vec<String>,
    },
}

/// A providing port to register with discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Provided {
    /// The port's name in the component.
    pub(crate) port: String,
    /// Its kind name.
    pub(crate) kind: String,
    /// Its message type(s) as discovery names them.
    pub(crate) messages: String,
    /// Its scope.
    pub(crate) scope: cohort_discovery::protocol::WireScope,
    /// Its bound endpoint.
    pub(crate) endpoint: String,
}

/// A consuming port to look up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Wanted {
    /// The port's name in the component.
    pub(crate) port: String,
    /// Its kind name.
    pub(crate) kind: String,
    /// Its message type(s) as discovery names them.
    pub(crate) messages: String,
    /// Its scope.
    pub(crate) scope: cohort_discovery::protocol::WireScope,
}

/// What a component thread tells its actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum FromComponent {
    /// The component is built; these ports need discovery.
    Ready {
        /// Its providing ports.
        provides: Vec<Provided>,
        /// Its consuming ports.
        wants: Vec<Wanted>,
    },
    /// The component could not be built.
    Failed(String),
    /// The component joined a group instance: register its publisher and look up the others'.
    Join {
        /// The group's name in the component (`group:<type>/<instance>`).
        port: String,
        /// The group's discovery message key.
        messages: String,
        /// The member's publisher endpoint.
        endpoint: String,
    },
    /// The component left a group instance.
    Leave {
        /// The group's name in the component.
        port: String,
        /// The member's publisher endpoint.
        endpoint: String,
    },
    /// The thread has ended.
    Stopped,
}

/// Sends a control message without waiting: a peer that has gone (its thread ended) would
/// otherwise block the sender forever, and a live peer's queue is never full of these.
pub(crate) fn send<T: Serialize>(socket: &zmq::Socket, message: &T) {
    if let Ok(bytes) = minicbor_serde::to_vec(message) {
        let _ = socket.send(bytes, zmq::DONTWAIT);
    }
}

/// Receives a control message without blocking.
pub(crate) fn try_recv<T: for<'de> Deserialize<'de>>(socket: &zmq::Socket) -> Option<T> {
    let bytes = socket.recv_bytes(zmq::DONTWAIT).ok()?;
    minicbor_serde::from_slice(&bytes).ok()
}
