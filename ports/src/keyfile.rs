//! Key files: an app's CURVE keypair (or the discovery daemon's) as a small text file that only
//! its owner can read.
//!
//! ```text
//! # Cohort CURVE keys of app Estimator. Keep this file secret (mode 0600): whoever has it
//! # can join the app. Copy it to every host that runs the app.
//! app = Estimator
//! public = rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
//! secret = JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6
//! ```
//!
//! Lines are `field = value`; blank lines and lines starting with `#` are ignored. `public`
//! and `secret` are required, `app` names the app (the discovery daemon's own key file has
//! none). Files are written with mode 0600, atomically, and never replaced unless asked; a key
//! file that other users can read is refused, as ssh refuses such a private key.
//!
//! The key directory (`$XDG_CONFIG_HOME/cohort/keys`, else `~/.config/cohort/keys`) holds
//! `<app>.key` for each app and `daemon.key`, the discovery daemon's keypair.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::PortError;
use crate::security::AppKeys;

/// The name of the discovery daemon's key file in a key directory.
pub const DAEMON_KEY_FILE: &str = "daemon.key";

/// A problem with a key file or the key directory; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read the key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file (or its directory) could not be written.
    #[error("cannot write the key file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file exists, and replacing it was not asked for.
    #[error("the key file {path} exists already")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Other users can read or change the file.
    #[error("the key file {path} is open to other users (mode {mode:04o}); make it private with `chmod 600 {path}`")]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line of the file is wrong.
    #[error("{path}:{line}: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The file as a whole is wrong (a field is missing, the keys do not match).
    #[error("the key file {path} is not valid: {why}")]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The app name cannot name a key file.
    #[error("{0:?} is not a valid app name (letters, digits and _, not starting with a digit)")]
    BadAppName(String),
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set, so there is no default key directory.
    #[error("no default key directory: neither XDG_CONFIG_HOME nor HOME is set")]
    NoConfigDir,
    /// Keys could not be generated (the linked libzmq has no CURVE).
    #[error(transparent)]
    Keys(#[from] PortError),
}

/// A key file's contents: a keypair, and the app it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The app, or `None` for the discovery daemon's key.
    pub app: Option<String>,
    /// The keypair.
    pub keys: AppKeys,
}

/// Whether `name` can be an app's name in a key file (and so a file name): a RIAPS identifier.
pub fn valid_app_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The default key directory: `$XDG_CONFIG_HOME/cohort/keys`, else `$HOME/.config/cohort/keys`.
pub fn default_keys_dir() -> Result<PathBuf, KeyFileError> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err(KeyFileError::NoConfigDir),
        },
    };
    Ok(config.join("cohort").join("keys"))
}

/// Where app `app`'s key file is in key directory `dir`.
pub fn app_key_path(dir: &Path, app: &str) -> PathBuf {
    dir.join(format!("{app}.key"))
}

/// Where the discovery daemon's key file is in key directory `dir`.
pub fn daemon_key_path(dir: &Path) -> PathBuf {
    dir.join(DAEMON_KEY_FILE)
}

impl KeyFile {
    /// App `app`'s keys.
    pub fn for_app(app: &str, keys: AppKeys) -> Result<KeyFile, KeyFileError> {
        if !valid_app_name(app) {
            return Err(KeyFileError::BadAppName(app.to_owned()));
        }
        Ok(KeyFile { app: Some(app.to_owned()), keys })
    }

    /// The discovery daemon's keys.
    pub fn for_daemon(keys: AppKeys) -> KeyFile {
        KeyFile { app: None, keys }
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let head = match &self.app {
            Some(app) => format!(
                "# Cohort CURVE keys of app {app}. Keep this file secret (mode 0600): whoever has it\n\
                 # can join the app. Copy it to every host that runs the app.\n\
                 app = {app}\n"
            ),
            None => {
                "# Cohort CURVE keys of this host's discovery daemon. Keep this file secret (mode 0600).\n".to_owned()
            }
        };
        format!("{head}public = {}\nsecret = {}\n", self.keys.public_z85(), self.keys.secret_z85())
    }

    /// Reads the key file at `path`, refusing one that other users can read.
    pub fn read(path: &Path) -> Result<KeyFile, KeyFileError> {
        let read_error = |source| KeyFileError::Read { path: path.to_owned(), source };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(KeyFileError::Incomplete { path: path.to_owned(), why: "it is not a regular file".into() });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen { path: path.to_owned(), mode });
        }
        let text = std::io::read_to_string(file).map_err(read_error)?;
        KeyFile::parse(path, &text)
    }

    /// Parses a key file's `text`; `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<KeyFile, KeyFileError> {
        let invalid = |line: usize, why: String| KeyFileError::Invalid { path: path.to_owned(), line, why };
        let (mut app, mut public, mut secret) = (None, None, None);
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((field, value)) = line.split_once('=') else {
                return Err(invalid(n, "expected `field = value`".into()));
            };
            let (field, value) = (field.trim(), value.trim());
            let slot = match field {
                "app" => &mut app,
                "public" => &mut public,
                "secret" => &mut secret,
                other => return Err(invalid(n, format!("unknown field {other:?} (expected app, public or secret)"))),
            };
            if slot.is_some() {
                return Err(invalid(n, format!("{field} is given twice")));
            }
            if value.is_empty() {
                return Err(invalid(n, format!("{field} is empty")));
            }
            *slot = Some((n, value.to_owned()));
        }
        let incomplete = |why: String| KeyFileError::Incomplete { path: path.to_owned(), why };
        let (public_line, public) = public.ok_or_else(|| incomplete("it has no `public = ...` line".into()))?;
        let (secret_line, secret) = secret.ok_or_else(|| incomplete("it has no `secret = ...` line".into()))?;
        crate::security::public_key_from_z85(&public).map_err(|e| invalid(public_line, e.to_string()))?;
        let keys = AppKeys::from_z85(&public, &secret).map_err(|e| invalid(secret_line, e.to_string()))?;
        if keys.is_consistent() == Some(false) {
            return Err(incomplete("the public key is not the secret key's".into()));
        }
        match app {
            Some((line, name)) if !valid_app_name(&name) => {
                Err(invalid(line, KeyFileError::BadAppName(name).to_string()))
            }
            Some((_, name)) => Ok(KeyFile { app: Some(name), keys }),
            None => Ok(KeyFile { app: None, keys }),
        }
    }

    /// Writes the file at `path` with mode 0600, creating its directory (mode 0700) if needed.
    /// An existing file is replaced only when `replace` is set ([`KeyFileError::Exists`]
    /// otherwise). The file appears whole or not at all.
    pub fn write(&self, path: &Path, replace: bool) -> Result<(), KeyFileError> {
        let write_error = |source| KeyFileError::Write { path: path.to_owned(), source };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(write_error)?;
        if !replace && path.exists() {
            return Err(KeyFileError::Exists { path: path.to_owned() });
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()));
        let result = (|| {
            let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
            file.write_all(self.to_text().as_bytes())?;
            file.sync_all()?;
            if replace {
                std::fs::rename(&temp, path)
            } else {
                // A link fails if the file appeared meanwhile: never replace what another
                // process has just written.
                std::fs::hard_link(&temp, path)
            }
        })();
        let _ = std::fs::remove_file(&temp);
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(KeyFileError::Exists { path: path.to_owned() })
            }
            Err(e) => Err(write_error(e)),
        }
    }

    /// Reads the key file at `path`, or, when there is none, makes one with a new keypair for
    /// `app` (`None`: the daemon). Returns the file and whether it was made. When another
    /// process makes the file at the same moment, its keys are the ones used.
    pub fn read_or_create(path: &Path, app: Option<&str>) -> Result<(KeyFile, bool), KeyFileError> {
        match KeyFile::read(path) {
            Err(KeyFileError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other.map(|f| (f, false)),
        }
        let keys = AppKeys::generate()?;
        let file = match app {
            Some(app) => KeyFile::for_app(app, keys)?,
            None => KeyFile::for_daemon(keys),
        };
        match file.write(path, false) {
            Ok(()) => Ok((file, true)),
            Err(KeyFileError::Exists { .. }) => KeyFile::read(path).map(|f| (f, false)),
            Err(e) => Err(e),
        }
    }
}

/// An app's public key, found in a key directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPublicKey {
    /// The app.
    pub app: String,
    /// Its public key.
    pub public: [u8; 32],
    /// The key file.
    pub path: PathBuf,
}

/// The apps' public keys in key directory `dir`, one for each `*.key` file naming an app, and
/// the problems with the files that could not be used (a missing directory is no problem: it
/// has no keys).
pub fn scan_app_keys(dir: &Path) -> (Vec<AppPublicKey>, Vec<KeyFileError>) {
    let (mut keys, mut problems) = (Vec::new(), Vec::new());
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (keys, problems),
        Err(source) => {
            problems.push(KeyFileError::Read { path: dir.to_owned(), source });
            return (keys, problems);
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "key"))
        .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    paths.sort();
    for path in paths {
        match KeyFile::read(&path) {
            Ok(KeyFile { app: Some(app), keys: pair }) => {
                keys.push(AppPublicKey { app, public: pair.public_key(), path })
            }
            Ok(KeyFile { app: None, .. }) => {}
            Err(e) => problems.push(e),
        }
    }
    (keys, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    fn keys() -> AppKeys {
        AppKeys::from_z85(PUBLIC, SECRET).unwrap()
    }

    /// The client keypair of the ZeroMQ documentation.
    fn other_keys() -> AppKeys {
        AppKeys::from_z85("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
            .unwrap()
    }

    /// A fresh directory under the temporary directory, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("cohort-keyfile-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o777
    }

    fn chmod(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn written_files_are_private_read_back_and_not_replaced_unless_asked() {
        let tmp = TempDir::new("write");
        let path = app_key_path(&tmp.0.join("keys"), "Estimator");
        let file = KeyFile::for_app("Estimator", keys()).unwrap();
        file.write(&path, false).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(KeyFile::read(&path).unwrap(), file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("app = Estimator\n") && text.contains(&format!("public = {PUBLIC}\n")), "{text}");

        let other = KeyFile::for_app("Estimator", other_keys()).unwrap();
        let refused = other.write(&path, false).unwrap_err();
        assert!(matches!(&refused, KeyFileError::Exists { path: p } if *p == path), "{refused}");
        assert!(refused.to_string().contains(&path.display().to_string()));
        assert_eq!(KeyFile::read(&path).unwrap(), file);
        other.write(&path, true).unwrap();
        assert_eq!(KeyFile::read(&path).unwrap(), other);
        assert_eq!(mode(&path), 0o600);
        // No temporary files are left behind.
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn files_other_users_can_read_are_refused() {
        let tmp = TempDir::new("open");
        let path = tmp.0.join("App.key");
        KeyFile::for_app("App", keys()).unwrap().write(&path, false).unwrap();
        for open in [0o640, 0o604, 0o660] {
            chmod(&path, open);
            let e = KeyFile::read(&path).unwrap_err();
            assert!(matches!(e, KeyFileError::TooOpen { mode, .. } if mode == open), "{e}");
            let message = e.to_string();
            assert!(message.contains(&path.display().to_string()) && message.contains("chmod 600"), "{message}");
        }
        chmod(&path, 0o400);
        assert!(KeyFile::read(&path).is_ok());
    }

    #[test]
    fn bad_files_give_errors_with_the_path_and_line() {
        let path = Path::new("/keys/App.key");
        let good = format!("app = App\npublic = {PUBLIC}\nsecret = {SECRET}\n");
        assert_eq!(KeyFile::parse(path, &good).unwrap().app.as_deref(), Some("App"));
        let cases = [
            (format!("# c\n\npublic {PUBLIC}\n"), "/keys/App.key:3: expected `field = value`"),
            ("colour = blue\n".to_owned(), "/keys/App.key:1: unknown field \"colour\""),
            (format!("public = {PUBLIC}\npublic = {PUBLIC}\n"), "/keys/App.key:2: public is given twice"),
            (format!("app =\npublic = {PUBLIC}\n"), "/keys/App.key:1: app is empty"),
            (format!("public = {PUBLIC}\n"), "the key file /keys/App.key is not valid: it has no `secret = ...` line"),
            (format!("secret = {SECRET}\n"), "the key file /keys/App.key is not valid: it has no `public = ...` line"),
            (format!("public = short\nsecret = {SECRET}\n"), "/keys/App.key:1: invalid CURVE key"),
            (format!("public = {PUBLIC}\nsecret = {}\n", &SECRET[..20]), "/keys/App.key:2: invalid CURVE key"),
            (
                format!("app = a/b\npublic = {PUBLIC}\nsecret = {SECRET}\n"),
                "/keys/App.key:1: \"a/b\" is not a valid app name",
            ),
        ];
        for (text, expected) in cases {
            let message = KeyFile::parse(path, &text).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{message:?} should start with {expected:?}");
        }
        let missing = KeyFile::read(Path::new("/nonexistent/cohort/App.key")).unwrap_err().to_string();
        assert!(missing.starts_with("cannot read the key file /nonexistent/cohort/App.key:"), "{missing}");
        assert!(matches!(KeyFile::for_app("", keys()), Err(KeyFileError::BadAppName(_))));
        assert!(valid_app_name("DistributedEstimator") && valid_app_name("_x1") && !valid_app_name("1x"));
    }

    #[test]
    fn mismatched_keys_are_refused_when_libzmq_can_tell() {
        // The documentation's server public key with the client's secret key.
        let text = format!("public = {PUBLIC}\nsecret = D:)Q[IlAW!ahhC2ac:9*A}}h:p?([4%wOTJ%JR%cs\n");
        match (keys().is_consistent(), KeyFile::parse(Path::new("k"), &text)) {
            (Some(true), Err(e)) => assert!(e.to_string().contains("not the secret key's"), "{e}"),
            (None, Ok(_)) => {}
            (consistent, parsed) => panic!("unexpected: {consistent:?}, {parsed:?}"),
        }
    }

    #[test]
    fn the_key_directory_is_scanned_for_app_keys() {
        let tmp = TempDir::new("scan");
        assert_eq!(scan_app_keys(&tmp.0).0.len(), 0);
        KeyFile::for_app("A", keys()).unwrap().write(&app_key_path(&tmp.0, "A"), false).unwrap();
        KeyFile::for_daemon(keys()).write(&daemon_key_path(&tmp.0), false).unwrap();
        std::fs::write(tmp.0.join("broken.key"), "nonsense\n").unwrap();
        chmod(&tmp.0.join("broken.key"), 0o600);
        std::fs::write(tmp.0.join("notes.txt"), "not a key").unwrap();
        let (found, problems) = scan_app_keys(&tmp.0);
        let a = AppPublicKey { app: "A".to_owned(), public: keys().public_key(), path: app_key_path(&tmp.0, "A") };
        assert_eq!(found, vec![a]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("broken.key:1"), "{}", problems[0]);
    }

    #[test]
    fn read_or_create_makes_keys_only_with_curve() {
        let tmp = TempDir::new("create");
        let path = daemon_key_path(&tmp.0);
        match KeyFile::read_or_create(&path, None) {
            Ok((made, true)) => {
                assert_eq!(mode(&path), 0o600);
                assert_eq!(KeyFile::read_or_create(&path, None).unwrap(), (made, false));
            }
            Ok((_, false)) => panic!("nothing was there to read"),
            Err(e) => {
                assert!(matches!(e, KeyFileError::Keys(PortError::CurveUnavailable { .. })), "{e}");
                assert!(!path.exists());
            }
        }
    }
}
