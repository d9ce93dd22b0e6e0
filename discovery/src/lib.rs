//! Cohort discovery: the protocol between actors and the per-host discovery daemon, and the
//! registry core that matches providers with consumers.
//!
//! - [`protocol`]: versioned CBOR messages between an actor's client and its host's daemon.
//! - [`service`]: the key (app, provider kind, message types, reach) that decides who matches whom.
//! - [`registry`]: the daemon's state machine, with no sockets or clock inside.
//!
//! The daemon, the client and the Redis registry for several hosts come next.

pub mod protocol;
pub mod registry;
pub mod service;

pub use registry::{ClientId, Effect, Listing, Registry, RegistryConfig};
pub use service::{Reach, Service, ServiceError};
