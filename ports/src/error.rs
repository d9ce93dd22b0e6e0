//! Errors of the ports crate.

use std::time::Duration;

/// An error from creating or using a port.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A ZeroMQ call failed.
    #[error("{op} failed: {source}")]
    Zmq {
        /// What was being done.
        op: String,
        /// The ZeroMQ error.
        source: zmq::Error,
    },
    /// Security was asked for, but the linked libzmq has no CURVE.
    #[error(
        "CURVE security was asked for, but the linked libzmq {version} has no CURVE; build with Cohort's \
         zmq-sys (zmq-sys/README.md) or a libzmq with libsodium, or turn security off"
    )]
    CurveUnavailable {
        /// Version of the linked libzmq.
        version: String,
    },
    /// A CURVE key is not a 40-character Z85 string or 32 raw bytes.
    #[error("invalid CURVE key: {0}")]
    InvalidKey(String),
    /// An endpoint is not `tcp://`, `ipc://` or `inproc://`.
    #[error("invalid endpoint {endpoint:?}: {why}")]
    InvalidEndpoint {
        /// The text given.
        endpoint: String,
        /// What is wrong with it.
        why: String,
    },
    /// No network interface could be chosen for global ports.
    #[error("no usable network interface: {0}")]
    Interface(String),
    /// The per-app runtime directory for ipc endpoints could not be made.
    #[error("cannot prepare the runtime directory {path}: {source}")]
    RuntimeDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A request was made while no provider is known, or while the connection to every known
    /// provider is down.
    #[error("no provider is connected")]
    NoProvider,
    /// A send did not complete within the send timeout (the peer is slow or its queue is full).
    #[error("send did not complete within {0:?}")]
    SendTimeout(Duration),
    /// A message could not be encoded.
    #[error("cannot encode the message: {0}")]
    Encode(String),
    /// A reply was routed to a requester that is no longer connected.
    #[error("the requester of this reply is gone")]
    PeerGone,
    /// The operation does not apply to this kind of port.
    #[error("{op} does not apply to a {kind} port")]
    WrongKind {
        /// The operation.
        op: &'static str,
        /// The port kind.
        kind: &'static str,
    },
    /// A synchronous call ended without a reply.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl PortError {
    pub(crate) fn zmq(op: impl Into<String>, source: zmq::Error) -> PortError {
        PortError::Zmq { op: op.into(), source }
    }
}

/// Why a request, call or query ended without (further) replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Its deadline passed.
    #[error("no reply within the deadline of {0:?}")]
    TimedOut(Duration),
    /// The connection to the provider it was sent to closed (the provider died or dropped the
    /// connection), or discovery removed that provider, before it replied. The provider may
    /// or may not have carried the request out; a late reply is dropped.
    #[error("the provider was removed or its connection closed before it replied")]
    ProviderGone,
    /// The reply arrived but does not decode as the expected type (it was counted and dropped).
    #[error("the reply does not decode as the expected message")]
    BadReply,
}

/// Result type of this crate.
pub type Result<T, E = PortError> = std::result::Result<T, E>;
