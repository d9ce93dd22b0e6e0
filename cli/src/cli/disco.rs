//! `cohort disco`: runs this host's discovery daemon until interrupted.

use std::env::VarError;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use cohort_discovery::redis_backend::{RedisAuth, RedisConnectError};
use cohort_discovery::{
    Backend, Daemon, DaemonSecurity, DaemonStats, DaemonStatsHandle, MemoryBackend, RedisBackend, RedisConfig,
    RegistryConfig,
};
use cohort_monitor::{MetricSet, MonitorServer, Source};
use cohort_ports::keyfile::default_keys_dir;
use slog::{info, warn};

use super::{DiscoArgs, Failure, RegistryKind};
use cohort_runtime::host::hostname;
use cohort_runtime::logging::logger;

/// Runs the daemon until Ctrl-C, SIGTERM or SIGHUP.
pub(crate) fn run(args: &DiscoArgs) -> Result<(), Failure> {
    let log = logger(args.log_level, args.log_json);
    let host = match &args.host {
        Some(host) => host.clone(),
        None => hostname().context("cannot read this host's name; give one with --host")?,
    };
    let mut config = RegistryConfig::new(&host);
    config.heartbeat_interval = Duration::from_millis(args.heartbeat_ms);
    config.liveness_timeout = Duration::from_millis(args.timeout_ms);
    let backend: Box<dyn Backend + Send> = match args.registry {
        RegistryKind::Memory => Box::new(MemoryBackend),
        RegistryKind::Redis => Box::new(redis_backend(args, &host, &log).context("cannot use the Redis registry")?),
    };
    let security = if args.insecure {
        warn!(log, "traffic is NOT encrypted or authenticated (--insecure): anyone who can reach the endpoint can register and read");
        DaemonSecurity::None
    } else if cohort_ports::libzmq_info().curve {
        let dir = match &args.keys_dir {
            Some(dir) => dir.clone(),
            None => default_keys_dir().context("give --keys-dir")?,
        };
        DaemonSecurity::keys_dir(dir)
    } else {
        return Err(anyhow!(
            "the linked libzmq has no CURVE, so the daemon cannot be secured: build with Cohort's zmq-sys \
             (zmq-sys/README.md), or run with --insecure"
        )
        .into());
    };
    let ctx = zmq::Context::new();
    let mut daemon = Daemon::bind_with(&ctx, &args.endpoint, config, backend, &security, log.clone())
        .with_context(|| format!("cannot start the discovery daemon at {}", args.endpoint))?;
    let _metrics_server = match &args.metrics {
        Some(addr) => {
            let source = Arc::new(DaemonMetrics { host: host.clone(), stats: daemon.stats_handle() });
            Some(MonitorServer::start(addr, source, &log).context("cannot serve the daemon's metrics")?)
        }
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot install the signal handler")?;
    daemon.run(&stop).context("the discovery daemon failed")?;
    info!(log, "discovery daemon stopped");
    Ok(())
}

/// The daemon's `/metrics`, from the stats it publishes after every step.
///
/// The encoding is here, in the one crate that knows both sides: the discovery crate counts
/// (plain [`DaemonStats`], no monitoring dependency) and cohort-monitor encodes metric families
/// ([`MetricSet`], which knows nothing of discovery).
struct DaemonMetrics {
    host: String,
    stats: DaemonStatsHandle,
}

impl Source for DaemonMetrics {
    fn prometheus(&self) -> String {
        daemon_metrics(&self.host, &self.stats.latest()).encode()
    }

    fn view_json(&self) -> Option<String> {
        None
    }
}

/// The metric families of a daemon's `stats`, every series labelled with its `host`.
fn daemon_metrics(host: &str, stats: &DaemonStats) -> MetricSet {
    let mut set = MetricSet::new();
    let r = &stats.registry;
    for (kind, n) in r.requests.by_kind() {
        set.counter(
            "cohort_discovery_requests_total",
            "Requests the daemon took, by kind: hello, goodbye, provide, withdraw, lookup, unlookup, heartbeat, list.",
            &[("host", host), ("kind", kind)],
            n,
        );
    }
    for (reason, n) in [
        ("malformed", r.malformed),
        ("foreign_version", r.foreign_version),
        ("unknown_client", r.unknown_client),
        ("invalid", r.invalid),
        ("forbidden", stats.forbidden),
    ] {
        set.counter(
            "cohort_discovery_refused_total",
            "Requests the daemon refused, by reason: malformed, foreign_version (another protocol version), \
             unknown_client (no hello first), invalid, forbidden (not allowed by the connection's key).",
            &[("host", host), ("reason", reason)],
            n,
        );
    }
    let labels = [("host", host)];
    set.gauge("cohort_discovery_actors", "Actors registered with the daemon.", &labels, r.actors);
    for (origin, n) in [("local", r.local_providers), ("remote", r.remote_providers)] {
        set.gauge(
            "cohort_discovery_providers",
            "Provider endpoints the daemon knows, by origin: local (this host's actors) or remote (other hosts).",
            &[("host", host), ("origin", origin)],
            n,
        );
    }
    set.gauge("cohort_discovery_lookups", "Consuming ports whose providers the daemon watches.", &labels, r.lookups);
    set.counter(
        "cohort_discovery_expired_total",
        "Actors the daemon dropped because they went silent for the liveness timeout.",
        &labels,
        r.expired,
    );
    set.counter("cohort_discovery_pushes_total", "Provider updates pushed to consuming ports.", &labels, stats.pushes);
    set.counter(
        "cohort_discovery_send_failures_total",
        "Replies and pushes that could not be sent: the client was gone or not reading.",
        &labels,
        stats.send_failures,
    );
    set.counter(
        "cohort_discovery_remote_changes_total",
        "Provider changes of other hosts read from the shared registry (Redis).",
        &labels,
        stats.remote_changes,
    );
    set.counter(
        "cohort_discovery_registry_errors_total",
        "Failed operations of the shared registry (Redis): sharing or withdrawing a provider, reading changes.",
        &labels,
        stats.backend_errors,
    );
    set
}

/// The environment variable that may hold the Redis password (instead of --redis-password-file).
const PASSWORD_ENV: &str = "COHORT_REDIS_PASSWORD";

/// Connects the Redis registry of `--registry redis`, with the password of the file or the
/// environment and the CA certificate of `--redis-ca`.
fn redis_backend(args: &DiscoArgs, host: &str, log: &slog::Logger) -> anyhow::Result<RedisBackend> {
    let mut config = RedisConfig::new(host);
    config.url = args.redis_url.clone();
    config.ttl = Duration::from_millis(args.redis_ttl_ms);
    let password = redis_password(args)?;
    config.auth = match (&password, &args.redis_user) {
        (Some((password, _)), user) => Some(RedisAuth { user: user.clone(), password: password.clone() }),
        (None, Some(_)) => {
            bail!("--redis-user needs a password: give it with --redis-password-file FILE or {PASSWORD_ENV}")
        }
        (None, None) => None,
    };
    if let Some(path) = &args.redis_ca {
        let pem = std::fs::read(path).with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
        config.tls_ca = Some(pem);
    }
    let source = password.map(|(_, source)| source);
    RedisBackend::connect(config, log.clone()).map_err(|e| explain(e, args, source.as_deref()))
}

/// The Redis password and where it came from (for messages), from --redis-password-file or
/// the environment; `None` when neither gives one (an empty variable counts as unset).
fn redis_password(args: &DiscoArgs) -> anyhow::Result<Option<(String, String)>> {
    let from_env = match std::env::var(PASSWORD_ENV) {
        Ok(password) if password.is_empty() => None,
        Ok(password) => Some(password),
        Err(VarError::NotPresent) => None,
        Err(VarError::NotUnicode(_)) => bail!("{PASSWORD_ENV} is not valid UTF-8"),
    };
    match (&args.redis_password_file, from_env) {
        (Some(_), Some(_)) => bail!(
            "the Redis password is given twice, by --redis-password-file and by {PASSWORD_ENV}: \
             give it one way only"
        ),
        (Some(path), None) => Ok(Some((read_password_file(path)?, format!("the file {}", path.display())))),
        (None, Some(password)) => Ok(Some((password, PASSWORD_ENV.to_owned()))),
        (None, None) => Ok(None),
    }
}

/// The password in the file at `path`, which only its owner may read or write.
fn read_password_file(path: &Path) -> anyhow::Result<String> {
    let what = || format!("cannot read the Redis password file {}", path.display());
    let mut file = std::fs::File::open(path).with_context(what)?;
    let meta = file.metadata().with_context(what)?;
    if !meta.is_file() {
        bail!("the Redis password file {} is not a regular file", path.display());
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        bail!(
            "the Redis password file {path} is open to other users (mode {mode:04o}); make it private with \
             `chmod 600 {path}`",
            path = path.display()
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(what)?;
    password_of(&text).map_err(|why| anyhow!("the Redis password file {} {why}", path.display()))
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

/// `e` with what to do about it on this command line: `password_source` says where the
/// password came from, if one was given.
fn explain(e: RedisConnectError, args: &DiscoArgs, password_source: Option<&str>) -> anyhow::Error {
    let hint = match &e {
        RedisConnectError::PasswordInUrl { .. } => format!(
            "a password on the command line is visible to every user of this host (`ps`): give it with \
             --redis-password-file FILE or the {PASSWORD_ENV} environment variable"
        ),
        RedisConnectError::UserInUrl { .. } => "give the user with --redis-user".to_owned(),
        RedisConnectError::AuthenticationFailed { .. } => match (password_source, &args.redis_user) {
            (Some(source), Some(user)) => format!("the user was {user:?}, the password came from {source}"),
            (Some(source), None) => {
                format!("the user was `default` (see --redis-user), the password came from {source}")
            }
            (None, _) => "no password was given".to_owned(),
        },
        RedisConnectError::AuthenticationRequired { .. } => {
            format!("give the password with --redis-password-file FILE or {PASSWORD_ENV}")
        }
        RedisConnectError::UntrustedCertificate { .. } => match &args.redis_ca {
            Some(path) => format!("is {} the CA that signed it?", path.display()),
            None => "give its CA with --redis-ca FILE".to_owned(),
        },
        RedisConnectError::CertificateNotForHost { .. } => {
            "give --redis-url a host name or address that the certificate names".to_owned()
        }
        RedisConnectError::CaWithoutTls { .. } => "use a rediss:// URL for TLS, or drop --redis-ca".to_owned(),
        _ => return e.into(),
    };
    anyhow!("{e} ({hint})")
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
}
