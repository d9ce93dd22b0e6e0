//! What the runtime tells components about the world around them: the state of the host's
//! network interface ([`NicState`], from [`crate::nic`]) and other actors of the app coming and
//! going ([`Peer`], [`PeerState`], from [`crate::peers`]).

use std::fmt;

/// Whether the network interface the actor's global ports bind to can carry traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NicState {
    /// The interface is administratively up and has a carrier (`IFF_UP` and `IFF_RUNNING`).
    Up,
    /// The interface is down, has lost its carrier, or is gone.
    Down,
}

impl fmt::Display for NicState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NicState::Up => "up",
            NicState::Down => "down",
        })
    }
}

/// Whether another actor of the app is in discovery's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// The actor has registered with discovery (or was registered when this actor started).
    Up,
    /// Discovery removed the actor: it said goodbye, or missed its liveness timeout.
    Down,
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerState::Up => "up",
            PeerState::Down => "down",
        })
    }
}

/// Another actor process of the app, on this host or any other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    /// The actor's name in the model.
    pub actor: String,
    /// The address the actor's global ports bind to (its host, as the network sees it).
    pub host: String,
    /// The actor's process id on its host.
    pub pid: u32,
    /// A unique id of this run of the actor (a restarted actor gets a new one, even if its pid
    /// is the same).
    pub id: String,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} (pid {})", self.actor, self.host, self.pid)
    }
}
