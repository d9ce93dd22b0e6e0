//! How the backend reaches the Redis server and who it is there: the client built from the
//! URL, the credentials (`AUTH`) and the TLS settings (`rediss://`), and the refusals that no
//! retry can cure (a wrong password, an untrusted certificate), which stop a daemon at start.

use redis::IntoConnectionInfo as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;

/// Credentials for a server that requires authentication (`AUTH [user] password`).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisAuth {
    /// The ACL user; `None` logs in as the `default` user (a server with `requirepass`).
    pub user: Option<String>,
    /// The password. `Debug` never prints it, nor does any error or log.
    pub password: String,
}

impl std::fmt::Debug for RedisAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAuth").field("user", &self.user).field("password", &"***").finish()
    }
}

/// Why [`RedisBackend::connect`](super::RedisBackend::connect) refused to start. Every URL in
/// it is shown without a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConnectError {
    /// The configuration cannot work (an empty host id, prefix or password, too short a TTL).
    #[error("{why}")]
    Invalid {
        /// What is wrong.
        why: String,
    },
    /// The URL does not parse, or asks for what the client cannot do; fix the URL.
    #[error("bad Redis URL {url}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why it is refused.
        why: String,
    },
    /// The URL holds a password, which would show in process lists and logs: give it in
    /// [`RedisConfig::auth`](super::RedisConfig::auth) instead.
    #[error("the Redis URL {url} contains a password")]
    PasswordInUrl {
        /// The URL, its password masked.
        url: String,
    },
    /// The URL names a user: give it in [`RedisConfig::auth`](super::RedisConfig::auth), with
    /// the password.
    #[error("the Redis URL {url} contains a user name")]
    UserInUrl {
        /// The URL.
        url: String,
    },
    /// A CA certificate was given for a URL without TLS (TLS is `rediss://`).
    #[error("a CA certificate is given but the Redis URL {url} is not rediss:// (TLS)")]
    CaWithoutTls {
        /// The URL.
        url: String,
    },
    /// The CA certificate does not parse, or there is none in the PEM text.
    #[error("unusable CA certificate: {why}")]
    BadCa {
        /// What is wrong with it.
        why: String,
    },
    /// The server refused the credentials: the password is wrong, the user does not exist or
    /// is disabled, or the server has no password at all.
    #[error("Redis at {url}: authentication failed: wrong password or user")]
    AuthenticationFailed {
        /// The server's URL.
        url: String,
    },
    /// The server requires a password and none was given.
    #[error("Redis at {url}: the server requires a password (NOAUTH) and none was given")]
    AuthenticationRequired {
        /// The server's URL.
        url: String,
    },
    /// The server's certificate was not accepted: it is not signed by a trusted authority, has
    /// expired, ….
    #[error("Redis at {url}: the server's certificate is not trusted: {why}")]
    UntrustedCertificate {
        /// The server's URL.
        url: String,
        /// What is wrong with the certificate.
        why: String,
    },
    /// The server's certificate does not name the URL's host (connect by a name or address
    /// that it names).
    #[error("Redis at {url}: the server's certificate is not valid for this host: {why}")]
    CertificateNotForHost {
        /// The server's URL.
        url: String,
        /// The names the certificate is valid for, as rustls says it.
        why: String,
    },
    /// The TLS handshake failed for another reason (the server does not speak TLS on that
    /// port, asks for a client certificate, …).
    #[error("Redis at {url}: TLS failed: {why}")]
    Tls {
        /// The server's URL.
        url: String,
        /// What rustls reported.
        why: String,
    },
    /// A resource of this process could not be made.
    #[error("{what}: {source}")]
    Local {
        /// What was being made.
        what: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
}

/// The client of `url` (`server` is the URL without its password, for errors), logging in with
/// `auth` and trusting the PEM certificates `ca` for TLS instead of the system's roots.
pub(super) fn client(
    url: &str,
    server: &str,
    auth: Option<&RedisAuth>,
    ca: Option<&[u8]>,
) -> Result<redis::Client, RedisConnectError> {
    let bad_url = |e: redis::RedisError| RedisConnectError::BadUrl { url: server.to_owned(), why: e.to_string() };
    let info = url.into_connection_info().map_err(bad_url)?;
    let settings = info.redis_settings().clone();
    if settings.password().is_some() {
        return Err(RedisConnectError::PasswordInUrl { url: server.to_owned() });
    }
    if settings.username().is_some() {
        return Err(RedisConnectError::UserInUrl { url: server.to_owned() });
    }
    let settings = match auth {
        None => settings,
        Some(auth) if auth.password.is_empty() => {
            return Err(RedisConnectError::Invalid { why: "the Redis password is empty".into() })
        }
        Some(RedisAuth { user: Some(user), .. }) if user.is_empty() => {
            return Err(RedisConnectError::Invalid { why: "the Redis user name is empty".into() })
        }
        Some(RedisAuth { user: Some(user), password }) => settings.set_username(user).set_password(password),
        Some(RedisAuth { user: None, password }) => settings.set_password(password),
    };
    let info = info.set_redis_settings(settings);
    let tls = match info.addr() {
        redis::ConnectionAddr::TcpTls { insecure: true, .. } => {
            return Err(RedisConnectError::BadUrl {
                url: server.to_owned(),
                why: "the server's certificate cannot go unchecked (#insecure)".into(),
            })
        }
        redis::ConnectionAddr::TcpTls { .. } => true,
        _ => false,
    };
    if tls {
        install_crypto_provider();
    }
    match ca {
        None => redis::Client::open(info).map_err(bad_url),
        Some(_) if !tls => Err(RedisConnectError::CaWithoutTls { url: server.to_owned() }),
        Some(pem) => {
            let mut count = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                cert.map_err(|e| RedisConnectError::BadCa { why: e.to_string() })?;
                count += 1;
            }
            if count == 0 {
                return Err(RedisConnectError::BadCa { why: "no PEM certificate (BEGIN CERTIFICATE) in it".into() });
            }
            let certificates = redis::TlsCertificates { client_tls: None, root_cert: Some(pem.to_vec()) };
            redis::Client::build_with_tls(info, certificates)
                .map_err(|e| RedisConnectError::BadCa { why: e.to_string() })
        }
    }
}

/// Installs `ring` as rustls's process-wide crypto provider unless one is installed already.
/// The redis crate builds its TLS settings with the process's provider, and rustls cannot
/// choose one by itself when the build holds several.
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The refusal that `error`, met while connecting to `server`, stands for, if it is one that
/// retrying cannot cure: refused credentials, an untrusted certificate, a failed TLS
/// handshake, a client that cannot be configured. `None` for everything else (the server is
/// down, unreachable or slow).
pub(super) fn refusal(error: &redis::RedisError, server: &str) -> Option<RedisConnectError> {
    let url = server.to_owned();
    if error.kind() == redis::ErrorKind::AuthenticationFailed {
        return Some(RedisConnectError::AuthenticationFailed { url });
    }
    if error.code() == Some("NOAUTH") {
        return Some(RedisConnectError::AuthenticationRequired { url });
    }
    if let Some(tls) = rustls_error(error) {
        return Some(match tls {
            rustls::Error::InvalidCertificate(
                why @ (rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. }),
            ) => RedisConnectError::CertificateNotForHost { url, why: why.to_string() },
            rustls::Error::InvalidCertificate(why) => {
                RedisConnectError::UntrustedCertificate { url, why: certificate_problem(why) }
            }
            other => RedisConnectError::Tls { url, why: other.to_string() },
        });
    }
    if error.kind() == redis::ErrorKind::InvalidClientConfig {
        return Some(RedisConnectError::BadUrl { url, why: error.to_string() });
    }
    None
}

/// The rustls error behind `error`, if any: rustls's stream reports it inside an I/O error,
/// which the redis crate keeps behind an `Arc`.
fn rustls_error(error: &redis::RedisError) -> Option<&rustls::Error> {
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        if let Some(tls) = unwrap_rustls(e) {
            return Some(tls);
        }
        cause = e.source();
    }
    None
}

/// `e` as a rustls error, looking through the wrappers whose `source` skips what they wrap:
/// an `Arc` and an I/O error.
fn unwrap_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    type Shared = std::sync::Arc<dyn std::error::Error + Send + Sync>;
    if let Some(tls) = e.downcast_ref::<rustls::Error>() {
        Some(tls)
    } else if let Some(shared) = e.downcast_ref::<Shared>() {
        let inner: &(dyn std::error::Error + 'static) = &**shared;
        unwrap_rustls(inner)
    } else if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
        let inner: &(dyn std::error::Error + 'static) = inner;
        unwrap_rustls(inner)
    } else {
        None
    }
}

/// `why` in words.
fn certificate_problem(why: &rustls::CertificateError) -> String {
    match why {
        rustls::CertificateError::UnknownIssuer => "it is not signed by a trusted authority".to_owned(),
        other => other.to_string(),
    }
}

/// `url` without the password of its user information (`redis://user:***@host/`).
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{}", &rest[at + 1..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("redis://:secret@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
        assert_eq!(redact("redis://cohort:se:cr@et@r:6379"), "redis://cohort:***@r:6379");
        assert_eq!(redact("redis://cohort@r:6379"), "redis://cohort@r:6379");
        assert_eq!(redact("redis://10.0.0.1:6379/"), "redis://10.0.0.1:6379/");
        assert_eq!(redact("unix:///run/redis.sock"), "unix:///run/redis.sock");
        let auth = RedisAuth { user: Some("cohort".into()), password: "s3cret".into() };
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    #[test]
    fn credentials_go_apart_from_the_url() {
        let e = client("redis://:s3cret@h:6379/", &redact("redis://:s3cret@h:6379/"), None, None).unwrap_err();
        assert!(matches!(e, RedisConnectError::PasswordInUrl { .. }), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = client("redis://u:s3cret@h/", "redis://u:***@h/", None, None).unwrap_err();
        assert!(matches!(e, RedisConnectError::PasswordInUrl { .. }), "{e}");
        let e = client("redis://cohort@h/", "redis://cohort@h/", None, None).unwrap_err();
        assert!(matches!(e, RedisConnectError::UserInUrl { .. }), "{e}");
        let empty = RedisAuth { user: None, password: String::new() };
        assert!(matches!(
            client("redis://h/", "redis://h/", Some(&empty), None),
            Err(RedisConnectError::Invalid { .. })
        ));
        let auth = RedisAuth { user: Some("cohort".into()), password: "pw".into() };
        let client = client("redis://h/", "redis://h/", Some(&auth), None).unwrap();
        let settings = client.get_connection_info().redis_settings();
        assert_eq!((settings.username(), settings.password()), (Some("cohort"), Some("pw")));
    }

    #[test]
    fn tls_settings_are_checked_before_connecting() {
        let e = client("redis://h/", "redis://h/", None, Some(b"x".as_slice())).unwrap_err();
        assert!(matches!(e, RedisConnectError::CaWithoutTls { .. }), "{e}");
        let e = client("rediss://h/", "rediss://h/", None, Some(b"no certificate here".as_slice())).unwrap_err();
        assert!(matches!(e, RedisConnectError::BadCa { .. }), "{e}");
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let e = client("rediss://h/", "rediss://h/", None, Some(broken.as_slice())).unwrap_err();
        assert!(matches!(e, RedisConnectError::BadCa { .. }), "{e}");
        let e = client("rediss://h/#insecure", "rediss://h/#insecure", None, None).unwrap_err();
        assert!(matches!(e, RedisConnectError::BadUrl { .. }), "{e}");
        assert!(client("rediss://h:6380/", "rediss://h:6380/", None, None).is_ok());
    }
}
