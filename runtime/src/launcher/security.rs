//! The launcher's security: secure unless told otherwise. Every port and the discovery daemon
//! use the app's key file (made on first run in the key directory). `--insecure` runs
//! without CURVE, after a warning at start-up; a libzmq without CURVE refuses to start
//! unless given `--insecure`.

use std::path::{Path, PathBuf};

use cohort_discovery::{ClientSecurity, DaemonSecurity, KeysDir};
use cohort_ports::keyfile::{app_key_path, default_keys_dir};
use cohort_ports::{AppKeys, KeyFile, Security};
use slog::{info, warn};

/// The warning at the start of a run with `--insecure`.
pub(crate) const INSECURE: &str =
    "traffic is NOT encrypted or authenticated (--insecure): anyone who can reach this host's ports can read and send";

/// The refusal, without `--insecure`, when the linked libzmq has no CURVE.
pub(crate) const NO_CURVE: &str = "the linked libzmq has no CURVE, so traffic cannot be encrypted: build the app \
     with Cohort's zmq-sys (its [patch.crates-io] line, zmq-sys/README.md), or run with --insecure";

/// What the launcher logs when every port is secured.
pub(crate) const ENCRYPTED: &str = "traffic is encrypted and authenticated (CURVE)";

/// The app's keys as resolved for a run.
#[derive(Debug, Clone)]
pub(crate) struct AppSecurity {
    /// The app's key file.
    pub(crate) key_file: PathBuf,
    /// The key directory (the discovery daemon's keys).
    pub(crate) dir: PathBuf,
}

fn keys_dir(given: Option<&Path>) -> Result<PathBuf, String> {
    match given {
        Some(dir) => Ok(dir.to_owned()),
        None => default_keys_dir().map_err(|e| format!("{e}; give --keys-dir")),
    }
}

/// Reads app `app`'s key file at `path`, which must name the app.
fn read_app_keys(app: &str, path: &Path) -> Result<AppKeys, String> {
    let file = KeyFile::read(path).map_err(|e| e.to_string())?;
    match file.app.as_deref() {
        Some(name) if name == app => Ok(file.keys),
        Some(name) => Err(format!("the key file {} holds the keys of app {name}, not of app {app}", path.display())),
        None => Err(format!("the key file {} names no app (is it a discovery daemon's key?)", path.display())),
    }
}

/// How a run is asked to treat security, from the command line and the linked libzmq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    /// `--insecure` was given.
    pub(crate) insecure: bool,
    /// The linked libzmq has CURVE.
    pub(crate) curve: bool,
}

impl Asked {
    /// `--insecure` as given, and this process's libzmq.
    pub(crate) fn now(insecure: bool) -> Asked {
        Asked { insecure, curve: cohort_ports::libzmq_info().curve }
    }

    /// Whether the run is secured: `Ok(false)` with `--insecure`, an error when it must be
    /// secured and cannot be, or `--insecure` contradicts `keys`.
    fn secured(self, keys: Option<&Path>) -> Result<bool, String> {
        match (self.insecure, keys) {
            (true, Some(path)) => Err(format!("--keys {} and --insecure contradict each other", path.display())),
            (true, None) => Ok(false),
            (false, _) if !self.curve => Err(NO_CURVE.to_owned()),
            (false, _) => Ok(true),
        }
    }
}

/// For `run`, before anything starts: the app's keys (`keys`, else the key directory's
/// `<app>.key`, made there when missing); `None` after a warning with `--insecure`; an error
/// when the run cannot be secured.
pub(crate) fn for_launcher(
    app: &str,
    keys: Option<&Path>,
    dir: Option<&Path>,
    asked: Asked,
    log: &slog::Logger,
) -> Result<Option<AppSecurity>, String> {
    if !asked.secured(keys)? {
        warn!(log, "{}", INSECURE);
        return Ok(None);
    }
    let dir = keys_dir(dir)?;
    let (key_file, keys) = match keys {
        Some(path) => (path.to_owned(), read_app_keys(app, path)?),
        None => {
            let path = app_key_path(&dir, app);
            let (file, made) = KeyFile::read_or_create(&path, Some(app)).map_err(|e| e.to_string())?;
            if made {
                info!(log, "made the app's keys; copy this file (mode 0600) to the app's other hosts";
                    "file" => %path.display());
            }
            let keys = match file.app.as_deref() {
                Some(name) if name == app => file.keys,
                _ => read_app_keys(app, &path)?,
            };
            (path, keys)
        }
    };
    info!(log, "{}", ENCRYPTED;
        "public_key" => keys.public_z85(), "key_file" => %key_file.display());
    Ok(Some(AppSecurity { key_file, dir }))
}

/// For the host's discovery daemon that a launcher starts: CURVE with the key directory `dir`,
/// also admitting the app whose key file is `admit` (the launcher's, which may lie outside the
/// directory, `--keys`).
pub(crate) fn for_daemon(dir: &Path, admit: Option<&Path>) -> Result<DaemonSecurity, String> {
    let mut extra = Vec::new();
    if let Some(path) = admit {
        let file = KeyFile::read(path).map_err(|e| e.to_string())?;
        let app = file.app.ok_or_else(|| format!("the key file {} names no app", path.display()))?;
        extra.push((app, file.keys.public_key()));
    }
    Ok(DaemonSecurity::Curve(KeysDir { dir: dir.to_owned(), extra }))
}

/// For an actor process: the security of its ports and of its discovery client, from the key
/// file and directory the launcher passed (nothing is made here).
pub(crate) fn for_actor(
    app: &str,
    keys: Option<&Path>,
    dir: Option<&Path>,
    asked: Asked,
) -> Result<(Security, ClientSecurity), String> {
    if !asked.secured(keys)? {
        return Ok((Security::None, ClientSecurity::None));
    }
    let dir = keys_dir(dir)?;
    let path = keys.map_or_else(|| app_key_path(&dir, app), Path::to_owned);
    let keys = read_app_keys(app, &path)?;
    let discovery = ClientSecurity::app(keys.clone(), &dir).map_err(|e| {
        format!("{e} (the discovery daemon makes it; is it running with --keys-dir {}?)", dir.display())
    })?;
    Ok((Security::Curve(keys), discovery))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_unless_told_otherwise() {
        let key = Path::new("/k/App.key");
        let with_curve = Asked { insecure: false, curve: true };
        assert_eq!(with_curve.secured(None), Ok(true));
        assert_eq!(with_curve.secured(Some(key)), Ok(true));
        let without_curve = Asked { insecure: false, curve: false };
        assert_eq!(without_curve.secured(None), Err(NO_CURVE.to_owned()));
        assert_eq!(without_curve.secured(Some(key)), Err(NO_CURVE.to_owned()));
        for curve in [true, false] {
            let insecure = Asked { insecure: true, curve };
            assert_eq!(insecure.secured(None), Ok(false));
            let e = insecure.secured(Some(key)).unwrap_err();
            assert!(e.contains("--keys /k/App.key and --insecure contradict"), "{e}");
        }
    }

    #[test]
    fn key_files_of_another_app_or_of_the_daemon_are_refused() {
        let dir = std::env::temp_dir().join(format!("cohort-launcher-keys-{}", std::process::id()));
        let keys =
            AppKeys::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
                .unwrap_or_else(|e| panic!("{e}"));
        let other = dir.join("Other.key");
        let daemon = dir.join("daemon.key");
        KeyFile::for_app("Other", keys.clone()).and_then(|f| f.write(&other, true)).unwrap_or_else(|e| panic!("{e}"));
        KeyFile::for_daemon(keys.clone()).write(&daemon, true).unwrap_or_else(|e| panic!("{e}"));
        let e = read_app_keys("App", &other).unwrap_err();
        assert!(e.contains("holds the keys of app Other, not of app App") && e.contains("Other.key"), "{e}");
        assert!(read_app_keys("App", &daemon).unwrap_err().contains("names no app"));
        assert_eq!(read_app_keys("Other", &other).ok(), Some(keys));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
