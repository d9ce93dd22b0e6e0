//! How a tool reaches a running app: its ports and its discovery daemon, with the app's keys
//! (CURVE) or without any (`--insecure`).

use std::path::{Path, PathBuf};

use cohort_discovery::ClientSecurity;
use cohort_ports::keyfile::{app_key_path, default_keys_dir};
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
