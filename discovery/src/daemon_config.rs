//! Everything a discovery daemon is started with, in one value, so that `cohort disco` and the
//! daemon an app's launcher starts for its host are built by the same code: the endpoint, the
//! registry's timing, the registry shared with other hosts, and who may connect.
//!
//! ```no_run
//! use cohort_discovery::{DaemonConfig, RedisOptions, SharedRegistry};
//!
//! let mut config = DaemonConfig::new("tcp://127.0.0.1:9700", "node-1");
//! config.shared = SharedRegistry::Redis(RedisOptions::new("redis://10.0.0.1:6379/"));
//! config.check()?; // the password file, the URL, the CA: before anything starts
//! let log = slog::Logger::root(slog::Discard, slog::o!());
//! let mut daemon = config.bind(&zmq::Context::new(), log)?;
//! daemon.run(&std::sync::atomic::AtomicBool::new(false))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::backend::{Backend, MemoryBackend};
use crate::daemon::{Daemon, DaemonError, DaemonSecurity};
use crate::redis_backend::{RedisOptions, RedisOptionsError};
use crate::registry::RegistryConfig;

/// Where a daemon shares its host's global providers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedRegistry {
    /// Nowhere: the daemon serves its host only ([`MemoryBackend`]).
    Memory,
    /// Through a Redis server, with the daemons of other hosts.
    Redis(RedisOptions),
}

/// How to start a daemon; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The endpoint to serve at.
    pub endpoint: String,
    /// The registry's host id and timing (heartbeat, liveness timeout).
    pub registry: RegistryConfig,
    /// Where the host's global providers are shared.
    pub shared: SharedRegistry,
    /// Who may connect.
    pub security: DaemonSecurity,
}

/// Why a daemon did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonStartError {
    /// The Redis options are wrong, or the server refused them; nothing was written to it.
    #[error("cannot use the Redis registry")]
    Registry(#[source] RedisOptionsError),
    /// The endpoint cannot be served (see [`DaemonStartError::is_address_in_use`]), or the
    /// daemon cannot be secured.
    #[error("cannot start the discovery daemon at {endpoint}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        source: DaemonError,
    },
}

impl DaemonStartError {
    /// Whether the endpoint is taken (by another daemon, or by anything else).
    pub fn is_address_in_use(&self) -> bool {
        matches!(self, DaemonStartError::Bind { source: DaemonError::Zmq { source: zmq::Error::EADDRINUSE, .. }, .. })
    }
}

impl DaemonConfig {
    /// A daemon of host `host` at `endpoint` with the default timing, serving this host only,
    /// unsecured.
    pub fn new(endpoint: &str, host: &str) -> DaemonConfig {
        DaemonConfig {
            endpoint: endpoint.to_owned(),
            registry: RegistryConfig::new(host),
            shared: SharedRegistry::Memory,
            security: DaemonSecurity::None,
        }
    }

    /// Checks what can be checked before starting anything: with Redis, the password's source
    /// and files, the URL and the CA certificates ([`RedisOptions::check`]).
    pub fn check(&self) -> Result<(), DaemonStartError> {
        match &self.shared {
            SharedRegistry::Memory => Ok(()),
            SharedRegistry::Redis(options) => options.check(&self.registry.host).map_err(DaemonStartError::Registry),
        }
    }

    /// Connects the shared registry (a refused password or certificate fails here, before the
    /// endpoint is bound), then binds the daemon ([`Daemon::bind_with`]).
    pub fn bind(self, ctx: &zmq::Context, log: slog::Logger) -> Result<Daemon, DaemonStartError> {
        let backend: Box<dyn Backend + Send> = match &self.shared {
            SharedRegistry::Memory => Box::new(MemoryBackend),
            SharedRegistry::Redis(options) => {
                Box::new(options.connect(&self.registry.host, log.clone()).map_err(DaemonStartError::Registry)?)
            }
        };
        let DaemonConfig { endpoint, registry, security, .. } = self;
        Daemon::bind_with(ctx, &endpoint, registry, backend, &security, log)
            .map_err(|source| DaemonStartError::Bind { endpoint, source })
    }
}
