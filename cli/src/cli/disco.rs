//! `cohort disco`: runs this host's discovery daemon until interrupted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use cohort_discovery::{Backend, Daemon, DaemonSecurity, MemoryBackend, RedisBackend, RedisConfig, RegistryConfig};
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
        RegistryKind::Redis => {
            let mut redis = RedisConfig::new(&host);
            redis.url = args.redis_url.clone();
            redis.ttl = Duration::from_millis(args.redis_ttl_ms);
            Box::new(RedisBackend::connect(redis, log.clone()).context("cannot use the Redis registry")?)
        }
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
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot install the signal handler")?;
    daemon.run(&stop).context("the discovery daemon failed")?;
    info!(log, "discovery daemon stopped");
    Ok(())
}
