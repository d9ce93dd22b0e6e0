//! The Redis registry as a command line gives it (`cohort disco --registry redis`, `APP run
//! --registry URL`): a URL, an ACL user, a password file or the `COHORT_REDIS_PASSWORD`
//! environment variable, a CA certificate file. [`RedisOptions`] reads and checks them into a
//! [`RedisConfig`], and says what to do about a refusal in the words of those options.

use std::env::VarError;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{RedisAuth, RedisBackend, RedisConfig, RedisConnectError};

/// The environment variable that may hold the Redis password (instead of a password file).
pub const PASSWORD_ENV: &str = "COHORT_REDIS_PASSWORD";

/// The Redis registry's options as given on a command line; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// The server: `redis://HOST[:PORT][/DB]`, or `rediss://…` for TLS, without credentials.
    pub url: String,
    /// The ACL user (`--redis-user`); needs a password.
    pub user: Option<String>,
    /// The file holding the password (`--redis-password-file`): one line, readable by its owner
    /// only. Otherwise the password comes from [`PASSWORD_ENV`], if set and not empty.
    pub password_file: Option<PathBuf>,
    /// A PEM file with the CA certificates to trust for a `rediss://` server (`--redis-ca`).
    pub ca: Option<PathBuf>,
    /// How long this host's entries outlive it in Redis ([`RedisConfig::ttl`]).
    pub ttl: Duration,
}

/// Why [`RedisOptions`] cannot give a working Redis registry. Every message names the option
/// to change; none holds the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisOptionsError {
    /// Both a password file and the environment variable give a password: give one only.
    #[error("the Redis password is given twice, by --redis-password-file and by {PASSWORD_ENV}: give it one way only")]
    PasswordTwice,
    /// The environment variable is not UTF-8.
    #[error("{PASSWORD_ENV} is not valid UTF-8")]
    PasswordNotUnicode,
    /// A user without a password: give the password too.
    #[error("--redis-user needs a password: give it with --redis-password-file FILE or {PASSWORD_ENV}")]
    UserWithoutPassword,
    /// The password file cannot be read.
    #[error("cannot read the Redis password file {}", path.display())]
    ReadPasswordFile {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The password file is a directory, a device, ….
    #[error("the Redis password file {} is not a regular file", path.display())]
    PasswordFileNotRegular {
        /// The file.
        path: PathBuf,
    },
    /// Other users may read or write the password file: make it private.
    #[error(
        "the Redis password file {path} is open to other users (mode {mode:04o}); make it private with \
         `chmod 600 {path}`",
        path = path.display()
    )]
    PasswordFileOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The password file is empty or holds more than one line.
    #[error("the Redis password file {} {why}", path.display())]
    PasswordFileContent {
        /// The file.
        path: PathBuf,
        /// What is wrong with its text.
        why: &'static str,
    },
    /// The CA certificate file cannot be read.
    #[error("cannot read the CA certificate {}", path.display())]
    ReadCa {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The configuration or the server refused (see [`RedisConnectError`]), with what to do
    /// about it on the command line when there is something to say.
    #[error("{error}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Refused {
        /// The refusal.
        error: RedisConnectError,
        /// What to change.
        hint: Option<String>,
    },
}

impl RedisOptions {
    /// The server at `url`, nothing else given, entries living 3 s.
    pub fn new(url: &str) -> RedisOptions {
        RedisOptions { url: url.to_owned(), user: None, password_file: None, ca: None, ttl: Duration::from_secs(3) }
    }

    /// The configuration of host `host`'s registry: the password read from its file or the
    /// environment, the CA certificate read. Nothing is connected to.
    pub fn config(&self, host: &str) -> Result<RedisConfig, RedisOptionsError> {
        self.resolve(host).map(|(config, _)| config)
    }

    /// Checks everything that can be checked without the server: the password's source, the
    /// files, the URL, the CA certificates.
    pub fn check(&self, host: &str) -> Result<(), RedisOptionsError> {
        let (config, source) = self.resolve(host)?;
        config.check().map_err(|e| self.refused(e, source.as_deref()))
    }

    /// Connects host `host`'s Redis registry ([`RedisBackend::connect`]): a refused password or
    /// certificate fails here, before anything is written.
    pub fn connect(&self, host: &str, log: slog::Logger) -> Result<RedisBackend, RedisOptionsError> {
        let (config, source) = self.resolve(host)?;
        RedisBackend::connect(config, log).map_err(|e| self.refused(e, source.as_deref()))
    }

    /// The configuration, and where its password came from (for messages).
    fn resolve(&self, host: &str) -> Result<(RedisConfig, Option<String>), RedisOptionsError> {
        let mut config = RedisConfig::new(host);
        config.url = self.url.clone();
        config.ttl = self.ttl;
        let password = self.password()?;
        config.auth = match (&password, &self.user) {
            (Some((password, _)), user) => Some(RedisAuth { user: user.clone(), password: password.clone() }),
            (None, Some(_)) => return Err(RedisOptionsError::UserWithoutPassword),
            (None, None) => None,
        };
        if let Some(path) = &self.ca {
            let pem = std::fs::read(path).map_err(|source| RedisOptionsError::ReadCa { path: path.clone(), source })?;
            config.tls_ca = Some(pem);
        }
        Ok((config, password.map(|(_, source)| source)))
    }

    /// The password and where it came from, from the file or the environment; `None` when
    /// neither gives one (an empty variable counts as unset).
    fn password(&self) -> Result<Option<(String, String)>, RedisOptionsError> {
        let from_env = match std::env::var(PASSWORD_ENV) {
            Ok(password) if password.is_empty() => None,
            Ok(password) => Some(password),
            Err(VarError::NotPresent) => None,
            Err(VarError::NotUnicode(_)) => return Err(RedisOptionsError::PasswordNotUnicode),
        };
        match (&self.password_file, from_env) {
            (Some(_), Some(_)) => Err(RedisOptionsError::PasswordTwice),
            (Some(path), None) => Ok(Some((read_password_file(path)?, format!("the file {}", path.display())))),
            (None, Some(password)) => Ok(Some((password, PASSWORD_ENV.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// `error` with what to do about it with these options; `source` says where the password
    /// came from, if one was given.
    fn refused(&self, error: RedisConnectError, source: Option<&str>) -> RedisOptionsError {
        let hint = match &error {
            RedisConnectError::PasswordInUrl { .. } => Some(format!(
                "a password on the command line is visible to every user of this host (`ps`): give it with \
                 --redis-password-file FILE or the {PASSWORD_ENV} environment variable"
            )),
            RedisConnectError::UserInUrl { .. } => Some("give the user with --redis-user".to_owned()),
            RedisConnectError::AuthenticationFailed { .. } => Some(match (source, &self.user) {
                (Some(source), Some(user)) => format!("the user was {user:?}, the password came from {source}"),
                (Some(source), None) => {
                    format!("the user was `default` (see --redis-user), the password came from {source}")
                }
                (None, _) => "no password was given".to_owned(),
            }),
            RedisConnectError::AuthenticationRequired { .. } => {
                Some(format!("give the password with --redis-password-file FILE or {PASSWORD_ENV}"))
            }
            RedisConnectError::UntrustedCertificate { .. } => Some(match &self.ca {
                Some(path) => format!("is {} the CA that signed it?", path.display()),
                None => "give its CA with --redis-ca FILE".to_owned(),
            }),
            RedisConnectError::CertificateNotForHost { .. } => {
                Some("give the URL a host name or address that the certificate names".to_owned())
            }
            RedisConnectError::CaWithoutTls { .. } => {
                Some("use a rediss:// URL for TLS, or drop --redis-ca".to_owned())
            }
            _ => None,
        };
        RedisOptionsError::Refused { error, hint }
    }
}

/// The password in the file at `path`, which only its owner may read or write.
fn read_password_file(path: &Path) -> Result<String, RedisOptionsError> {
    let unreadable = |source| RedisOptionsError::ReadPasswordFile { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(RedisOptionsError::PasswordFileNotRegular { path: path.to_owned() });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(RedisOptionsError::PasswordFileOpen { path: path.to_owned(), mode });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(unreadable)?;
    password_of(&text).map_err(|why| RedisOptionsError::PasswordFileContent { path: path.to_owned(), why })
}

/// The password in a password file's `text`: its one line, without the final line break.
fn password_of(text: &str) -> Result<String, &'static str> {
    let line = text.strip_suffix('\n').map_or(text, |line| line.strip_suffix('\r').unwrap_or(line));
    if line.is_empty() {
        Err("is empty")
    } else if line.contains(['\n', '\r']) {
        Err("has more than one line")
    } else {
        Ok(line.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_holds_one_line() {
        assert_eq!(password_of("s3cret\n"), Ok("s3cret".to_owned()));
        assert_eq!(password_of("s3cret\r\n"), Ok("s3cret".to_owned()));
        assert_eq!(password_of("s3cret"), Ok("s3cret".to_owned()));
        assert_eq!(password_of(" with spaces \n"), Ok(" with spaces ".to_owned()));
        assert_eq!(password_of("\n"), Err("is empty"));
        assert_eq!(password_of(""), Err("is empty"));
        assert_eq!(password_of("one\ntwo\n"), Err("has more than one line"));
        assert_eq!(password_of("s3cret\n\n"), Err("has more than one line"));
    }

    #[test]
    fn files_and_urls_are_checked_without_a_server() {
        let dir = std::env::temp_dir().join(format!("cohort-redis-options-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join("open.password");
        std::fs::write(&file, "s3cret\n").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap_or_else(|e| panic!("{e}"));
        let open = RedisOptions { password_file: Some(file.clone()), ..RedisOptions::new("redis://127.0.0.1:9/") };
        let e = open.check("h").unwrap_err();
        assert!(matches!(e, RedisOptionsError::PasswordFileOpen { mode: 0o640, .. }), "{e}");
        assert!(e.to_string().contains("`chmod 600 "), "{e}");
        let e = RedisOptions::new("memory").check("h").unwrap_err();
        assert!(e.to_string().starts_with("bad Redis URL memory"), "{e}");
        let e = RedisOptions::new("redis://:s3cret@h/").check("h").unwrap_err();
        assert!(e.to_string().contains("--redis-password-file FILE") && !e.to_string().contains("s3cret"), "{e}");
        let missing = RedisOptions { ca: Some(dir.join("none.pem")), ..RedisOptions::new("rediss://h/") };
        assert!(matches!(missing.check("h"), Err(RedisOptionsError::ReadCa { .. })));
        assert!(RedisOptions::new("rediss://h:6380/").check("h").is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
