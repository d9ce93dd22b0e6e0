//! How a tool reaches a running app: its ports and its discovery daemon, with the app's keys
//! (CURVE) or without any (`--insecure`).

use std::path::{Path, PathBuf};

use cohort_discovery::{ClientConfig, ClientError, ClientSecurity, DiscoveryClient};
use cohort_ports::keyfile::{app_key_path, default_keys_dir};
use cohort_ports::{Addressing, Interface, PortError, PortFactory, SocketOptions};
use cohort_ports::{KeyFile, KeyFileError, Security};

/// Why the app's keys cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The key file or the daemon's key cannot be read.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The key file is another app's.
    #[error("the key file {path} holds the keys of app {holds}, not of app {app}")]
    OtherApp {
        /// The file.
        path: PathBuf,
        /// The app it names (none for a daemon's key).
        holds: String,
        /// The app asked for.
        app: String,
    },
    /// The linked libzmq cannot encrypt.
    #[error("the linked libzmq has no CURVE: use --insecure with an app run with --insecure")]
    NoCurve,
}

/// The security a tool uses with an app's ports and with its discovery daemon.
#[derive(Debug, Clone)]
pub struct Access {
    /// The ports'.
    pub ports: Security,
    /// The discovery daemon's.
    pub discovery: ClientSecurity,
}

impl Access {
    /// Without encryption or authentication, for an app run with `--insecure`.
    pub fn insecure() -> Access {
        Access { ports: Security::None, discovery: ClientSecurity::None }
    }

    /// With app `app`'s keys: from `keys` if given, else `<APP>.key` in the key directory
    /// `keys_dir` (else the default one), whose `daemon.key` names the daemon.
    pub fn of_app(app: &str, keys: Option<&Path>, keys_dir: Option<&Path>) -> Result<Access, AccessError> {
        if !cohort_ports::libzmq_info().curve {
            return Err(AccessError::NoCurve);
        }
        let dir = match keys_dir {
            Some(dir) => dir.to_owned(),
            None => default_keys_dir()?,
        };
        let path = keys.map_or_else(|| app_key_path(&dir, app), Path::to_owned);
        let file = KeyFile::read(&path)?;
        if file.app.as_deref() != Some(app) {
            let holds = file.app.unwrap_or_else(|| "none (a daemon's key)".to_owned());
            return Err(AccessError::OtherApp { path, holds, app: app.to_owned() });
        }
        let discovery = ClientSecurity::app(file.keys.clone(), &dir)?;
        Ok(Access { ports: Security::Curve(file.keys), discovery })
    }
}

/// Why a tool could not join the app.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Its ports could not be set up.
    #[error("ports: {0}")]
    Ports(#[from] PortError),
    /// Discovery failed.
    #[error("discovery: {0}")]
    Discovery(#[from] ClientError),
}

/// A tool joined to an app as a pseudo-actor (`$recorder`, `$replay`): a port factory on a
/// context of its own, and a discovery client of this host's daemon.
pub(crate) struct Joined {
    pub(crate) ctx: zmq::Context,
    pub(crate) factory: PortFactory,
    pub(crate) disco: DiscoveryClient,
}

impl Access {
    /// Joins app `app` as `name` through the daemon at `daemon`, its global ports bound to
    /// `interface`.
    pub(crate) fn join(
        &self,
        app: &str,
        name: &str,
        daemon: &str,
        interface: &Interface,
        log: &slog::Logger,
    ) -> Result<Joined, JoinError> {
        let ctx = zmq::Context::new();
        let addressing = Addressing::new(app, name, interface)?;
        let factory = PortFactory::with_context(
            ctx.clone(),
            addressing,
            SocketOptions::default(),
            self.ports.clone(),
            log.clone(),
        )?;
        let mut config = ClientConfig::new(app, name);
        config.daemon = daemon.to_owned();
        config.security = self.discovery.clone();
        let disco = DiscoveryClient::connect(&ctx, config, log.clone())?;
        Ok(Joined { ctx, factory, disco })
    }
}
