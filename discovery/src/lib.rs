//! Cohort discovery: the protocol between actors and the per-host discovery daemon, the
//! registry core that matches providers with consumers, the daemon and the client.
//!
//! - [`protocol`]: versioned CBOR messages between an actor's client and its host's daemon.
//! - [`service`]: the key (app, provider kind, message types, reach) that decides who matches whom.
//! - [`registry`]: the daemon's state machine, with no sockets or clock inside.
//! - [`daemon`]: the daemon, which moves bytes between its ROUTER socket and the registry.
//! - [`daemon_config`]: everything a daemon is started with, as `cohort disco` and an app's
//!   launcher start one.
//! - [`zap`]: who a secured daemon admits (this host's clients with a known app's key).
//! - [`client`]: an actor's client, which registers, heartbeats and reports endpoint updates.
//! - [`backend`]: registries shared between hosts; [`backend::MemoryBackend`] is the embedded
//!   single-host default.
//! - [`redis_backend`]: the registry of several hosts, shared through a Redis server with
//!   expiring entries; [`RedisOptions`] are its command-line options (user, password file or
//!   environment, CA certificate), read and checked once for every command.

pub mod backend;
pub mod client;
pub mod daemon;
pub mod daemon_config;
pub mod protocol;
pub mod redis_backend;
pub mod registry;
pub mod service;
pub mod zap;

pub use backend::{Backend, MemoryBackend};
pub use client::{
    list, list_with, ClientConfig, ClientError, ClientSecurity, DiscoveryClient, Update, GOODBYE_TIMEOUT,
};
pub use daemon::{Daemon, DaemonError, DaemonSecurity, DaemonStats, DaemonStatsHandle, DaemonThread, KeysDir};
pub use daemon_config::{DaemonConfig, DaemonStartError, SharedRegistry};
pub use redis_backend::{RedisAuth, RedisBackend, RedisConfig, RedisConnectError, RedisOptions, RedisOptionsError};
pub use registry::{ClientId, Effect, Listing, Registry, RegistryConfig, RegistryStats, RequestCounts};
pub use service::{port_messages, Reach, Service, ServiceError};
