//! Cohort ports: the kinds of port a component can have, the port factory that turns a port of
//! the model into a configured ZeroMQ socket, the wire format and socket security.
//!
//! | kind | socket | side | notes |
//! |---|---|---|---|
//! | `pub` / `gpub` | PUB | bind | |
//! | `sub` / `gsub` | SUB | connect | every endpoint discovery reports |
//! | `req` | DEALER per provider | connect | any number outstanding, correlated by id |
//! | `rep` | ROUTER | bind | replies routed to their sender |
//! | `clt` | DEALER per provider | connect | blocking call with a timeout |
//! | `srv` | ROUTER | bind | |
//! | `qry` | DEALER per provider | connect | several answers per query, any order |
//! | `ans` | ROUTER | bind | |
//! | `ins` | ROUTER on inproc | bind | worker threads plug DEALERs in |
//! | group member / leader | DEALER / ROUTER | connect / bind | member follows the leader |
//!
//! Connect-side DEALERs (request ports, group members) carry a socket monitor ([`monitor`]), so
//! a closed connection is noticed at once rather than at discovery's liveness timeout.
//!
//! Scopes pick the transport ([`scope`]); [`wire`] describes the frame format; the factory is
//! [`PortFactory`]. `docs/ports.md` has the defaults and where libzmq comes from; [`security`],
//! [`keyfile`] and [`zap`] are CURVE security, app key files and client authentication
//! (`docs/security.md`). [`allocator`] tunes glibc's allocator for ZeroMQ's messages, once per
//! process.

pub mod allocator;
mod bytes;
pub mod cbor;
mod codec;
pub mod endpoint;
pub mod error;
mod factory;
mod frames;
mod hub;
pub mod keyfile;
pub mod kind;
pub mod monitor;
pub mod options;
mod publish;
mod request;
mod respond;
pub mod scope;
pub mod security;
mod socket;
mod spec;
pub mod stats;
pub mod wire;
pub mod zap;

pub use bytes::{RawPayload, ReceivedBytes};
pub use endpoint::{Endpoint, Transport};
pub use error::{CallError, PortError};
pub use factory::{Port, PortFactory};
pub use frames::Received;
pub use hub::{FromPeer, Hub, InsPlug, InsPort, LeaderPort, MemberPort, PeerId, Spoke};
pub use keyfile::{KeyFile, KeyFileError};
pub use kind::{PortKind, Side};
pub use monitor::{LinkEvent, LinkState};
pub use options::{SocketOptions, DEFAULT_BATCH_SIZE};
pub use publish::{Mixed, PubPort, SubPort};
pub use request::{CltPort, QryPort, ReqPort, RequestId, Response};
pub use respond::{AnsPort, RepPort, ReplyPort, ReplyToken, Request, SrvPort};
pub use scope::{create_private_dir, default_runtime_dir, Addressing, Interface, Scope};
pub use security::{AppKeys, Security};
pub use spec::PortSpec;
pub use stats::{PortStats, StatsSnapshot};
pub use wire::MessageType;

/// What the linked libzmq is and which optional mechanisms it was built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibzmqInfo {
    /// libzmq version as (major, minor, patch).
    pub version: (i32, i32, i32),
    /// Whether CURVE security is available (false for the vendored build of `zmq` 0.10).
    pub curve: bool,
    /// Whether the ipc transport is available.
    pub ipc: bool,
}

/// Reports the version and capabilities of the libzmq this binary is linked against.
pub fn libzmq_info() -> LibzmqInfo {
    let (major, minor, patch) = zmq::version();
    LibzmqInfo {
        version: (major, minor, patch),
        curve: zmq::has("curve").unwrap_or(false),
        ipc: zmq::has("ipc").unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_libzmq_is_4_3_with_ipc() {
        let info = libzmq_info();
        assert_eq!((info.version.0, info.version.1), (4, 3));
        assert!(info.ipc, "libzmq without ipc cannot carry local ports");
    }
}
