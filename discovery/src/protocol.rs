//! The discovery protocol: CBOR messages between an actor's client (DEALER) and its host's
//! daemon (ROUTER). Every message carries [`PROTOCOL_VERSION`]; a message of another version, or
//! one that does not decode, gets an error reply and changes nothing.

use cohort_ports::Scope;
use serde::{Deserialize, Serialize};

use crate::service::Service;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// The daemon's default endpoint.
pub const DEFAULT_DAEMON_ENDPOINT: &str = "tcp://127.0.0.1:9700";

/// A port's scope on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireScope {
    /// [`Scope::Global`].
    Global,
    /// [`Scope::Local`].
    Local,
    /// [`Scope::Internal`].
    Internal,
}

impl From<Scope> for WireScope {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Global => WireScope::Global,
            Scope::Local => WireScope::Local,
            Scope::Internal => WireScope::Internal,
        }
    }
}

impl From<WireScope> for Scope {
    fn from(scope: WireScope) -> Self {
        match scope {
            WireScope::Global => Scope::Global,
            WireScope::Local => Scope::Local,
            WireScope::Internal => Scope::Internal,
        }
    }
}

/// A request from a client to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientRequest {
    /// Registers the actor this client serves (again, after a daemon restart).
    Hello {
        /// The app.
        app: String,
        /// The actor.
        actor: String,
        /// The actor's process id, for listings.
        pid: u32,
    },
    /// Unregisters the actor: all its providers and lookups go.
    Goodbye,
    /// Registers a providing port's bound endpoint.
    Provide {
        /// The port, `instance.port`, unique in the actor.
        port: String,
        /// The port's kind name (`pub`, `rep`, `srv`, `ans`, `gpub`).
        kind: String,
        /// The message type(s) (see [`crate::Service::messages`]).
        messages: String,
        /// The port's scope.
        scope: WireScope,
        /// The bound endpoint.
        endpoint: String,
    },
    /// Unregisters a providing port's endpoint.
    Withdraw {
        /// The endpoint.
        endpoint: String,
    },
    /// Looks up the providers of a consuming port and asks for their changes to be pushed.
    Lookup {
        /// The port, `instance.port`, unique in the actor.
        port: String,
        /// The port's kind name (`sub`, `req`, `clt`, `qry`, `gsub`).
        kind: String,
        /// The message type(s).
        messages: String,
        /// The port's scope.
        scope: WireScope,
    },
    /// Stops the pushes of a lookup.
    Unlookup {
        /// The port.
        port: String,
    },
    /// Says the actor is alive.
    Heartbeat,
    /// Asks what the daemon knows (for `cohort ls`); needs no `Hello`.
    List,
}

/// A client's message: version, request id, request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientFrame {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u16,
    /// Chosen by the client; the reply carries it back.
    pub id: u64,
    /// The request.
    pub request: ClientRequest,
}

/// What a request achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplyBody {
    /// Done.
    Done,
    /// The actor is registered; heartbeat at this interval, or be dropped after the timeout.
    Welcome {
        /// Heartbeat interval in milliseconds.
        heartbeat_ms: u64,
        /// Liveness timeout in milliseconds.
        timeout_ms: u64,
    },
    /// The current providers of a lookup.
    Endpoints(Vec<String>),
    /// What the daemon knows.
    Listing(Listing),
}

/// What the registry knows, for `cohort ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Registered actors.
    pub actors: Vec<ActorListing>,
    /// Providers from other hosts.
    pub remote: Vec<(Service, String)>,
}

/// One actor in a [`Listing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorListing {
    /// App.
    pub app: String,
    /// Actor.
    pub actor: String,
    /// Process id.
    pub pid: u32,
    /// Its providers: port, service, endpoint.
    pub provides: Vec<(String, Service, String)>,
    /// Its lookups: port, service.
    pub lookups: Vec<(String, Service)>,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The message does not decode.
    Malformed,
    /// The message is of another protocol version.
    Version,
    /// The client has not said `Hello` (or the daemon restarted and forgot it): say it again.
    UnknownClient,
    /// The request is well-formed but cannot be done (bad kind, bad endpoint, …; with a secured
    /// daemon, a request the connection's key does not allow).
    Invalid,
}

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What kind of error.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
}

/// A message from the daemon to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DaemonMessage {
    /// The reply to request `id` (0 when the request did not decode).
    Reply {
        /// The request's id.
        id: u64,
        /// Its outcome.
        result: Result<ReplyBody, ErrorReply>,
    },
    /// Providers of a looked-up port were added or removed.
    Update {
        /// The consuming port.
        port: String,
        /// New endpoints.
        added: Vec<String>,
        /// Endpoints that are gone.
        removed: Vec<String>,
    },
}

/// A daemon's message: version and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonFrame {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub version: u16,
    /// The message.
    pub message: DaemonMessage,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not CBOR of the expected shape.
    #[error("malformed discovery message: {0}")]
    Malformed(String),
    /// Another protocol version.
    #[error("discovery protocol version {found}, this build speaks {PROTOCOL_VERSION}")]
    Version {
        /// The version found.
        found: u16,
    },
}

/// Encodes a frame as CBOR.
pub fn encode<T: Serialize>(frame: &T) -> Vec<u8> {
    // Encoding plain data into a Vec cannot fail.
    minicbor_serde::to_vec(frame).unwrap_or_default()
}

/// Only the version field, to tell a message of another version from a malformed one.
#[derive(Deserialize)]
struct VersionOnly {
    version: u16,
}

/// Decodes `bytes` as exactly one CBOR value of type `T`: bytes after the value make the
/// message malformed (a ZeroMQ frame is one message, so they can only be damage), as in the
/// ports' codec.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut de = minicbor_serde::Deserializer::new(bytes);
    match T::deserialize(&mut de) {
        Ok(frame) => match bytes.len().saturating_sub(de.decoder().position()) {
            0 => Ok(frame),
            trailing => Err(DecodeError::Malformed(format!("{trailing} trailing bytes after the message"))),
        },
        Err(e) => match minicbor_serde::from_slice::<VersionOnly>(bytes) {
            Ok(v) if v.version != PROTOCOL_VERSION => Err(DecodeError::Version { found: v.version }),
            _ => Err(DecodeError::Malformed(e.to_string())),
        },
    }
}

/// Decodes a client frame, checking its version.
pub fn decode_client(bytes: &[u8]) -> Result<ClientFrame, DecodeError> {
    let frame: ClientFrame = decode(bytes)?;
    if frame.version != PROTOCOL_VERSION {
        return Err(DecodeError::Version { found: frame.version });
    }
    Ok(frame)
}

/// Decodes a daemon frame, checking its version.
pub fn decode_daemon(bytes: &[u8]) -> Result<DaemonFrame, DecodeError> {
    let frame: DaemonFrame = decode(bytes)?;
    if frame.version != PROTOCOL_VERSION {
        return Err(DecodeError::Version { found: frame.version });
    }
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_versions_are_checked() {
        let frame = ClientFrame {
            version: PROTOCOL_VERSION,
            id: 7,
            request: ClientRequest::Lookup {
                port: "s.in".into(),
                kind: "sub".into(),
                messages: "M".into(),
                scope: WireScope::Local,
            },
        };
        assert_eq!(decode_client(&encode(&frame)).unwrap(), frame);
        let mut trailing = encode(&frame);
        trailing.push(0);
        assert!(matches!(decode_client(&trailing), Err(DecodeError::Malformed(m)) if m.contains("trailing")));
        let other = ClientFrame { version: 9, ..frame };
        assert_eq!(decode_client(&encode(&other)), Err(DecodeError::Version { found: 9 }));
        assert!(matches!(decode_client(b"\xff\x00garbage"), Err(DecodeError::Malformed(_))));
        let reply = DaemonFrame {
            version: PROTOCOL_VERSION,
            message: DaemonMessage::Reply {
                id: 1,
                result: Err(ErrorReply { code: ErrorCode::UnknownClient, message: "say hello".into() }),
            },
        };
        assert_eq!(decode_daemon(&encode(&reply)).unwrap(), reply);
    }
}
