//! `cohort disco`: runs this host's discovery daemon until interrupted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use cohort_discovery::{DaemonConfig, DaemonSecurity, DaemonStats, DaemonStatsHandle, SharedRegistry};
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
    let mut config = DaemonConfig::new(&args.endpoint, &host);
    config.registry.heartbeat_interval = Duration::from_millis(args.heartbeat_ms);
    config.registry.liveness_timeout = Duration::from_millis(args.timeout_ms);
    if args.registry == RegistryKind::Redis {
        let mut options = args.redis.options(&args.redis_url);
        options.ttl = Duration::from_millis(args.redis_ttl_ms);
        config.shared = SharedRegistry::Redis(options);
    }
    config.security = if args.insecure {
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
    let mut daemon = config.bind(&ctx, log.clone()).map_err(anyhow::Error::from)?;
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

    fn has_app(&self) -> bool {
        false
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
