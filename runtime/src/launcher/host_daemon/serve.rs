//! The body of `APP disco-daemon`: the host's discovery daemon that a launcher started (see
//! [`super`]). It binds, writes its pidfile, tells the launcher on its standard output
//! ([`READY`], or [`IN_USE`] / [`FAILED`] and why), and serves until it has had no client for
//! the idle time, or until SIGTERM, SIGINT or SIGHUP.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use cohort_discovery::{Daemon, DaemonConfig, DaemonSecurity, SharedRegistry};
use slog::{error, info, o};

use super::{FAILED, IN_USE, READY};
use crate::launcher::redis_args::RedisArgs;
use crate::launcher::{security, LogFormat};
use crate::logging::{logger, Level};

/// How long one step of the daemon waits at most, so that it sees a stop or its idle time.
const STEP: Duration = Duration::from_millis(100);

/// Options of `disco-daemon` (given by the launcher that starts it).
#[derive(Debug, Clone, Args)]
pub(crate) struct DaemonArgs {
    /// The endpoint to serve at.
    #[arg(long, value_name = "ENDPOINT")]
    endpoint: String,
    /// The daemon's host id.
    #[arg(long, value_name = "ID")]
    host: String,
    /// Where the daemon writes its process id while it serves.
    #[arg(long, value_name = "FILE")]
    pidfile: PathBuf,
    /// Exit after this many seconds without a registered client.
    #[arg(long, value_name = "SECONDS")]
    idle_exit: f64,
    /// Share this host's global providers through the Redis server at URL.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    #[command(flatten)]
    redis: RedisArgs,
    /// The key directory (CURVE).
    #[arg(long, value_name = "DIR", conflicts_with = "insecure")]
    keys_dir: Option<PathBuf>,
    /// Also admit the app of this key file (a launcher's key file outside the key directory).
    #[arg(long, value_name = "FILE", requires = "keys_dir")]
    admit: Option<PathBuf>,
    /// Serve without CURVE.
    #[arg(long)]
    insecure: bool,
    /// Log as human-readable lines or as one JSON object per line.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
    /// How much to log.
    #[arg(long, value_enum, default_value = "info")]
    log_level: Level,
}

/// Runs the daemon (see the module documentation); its log goes to standard error.
pub(crate) fn serve(args: &DaemonArgs) -> ExitCode {
    let log = logger(args.log_level, args.log_format == LogFormat::Json);
    let log = log.new(o!("pid" => std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        return refuse(FAILED, &format!("cannot install the signal handler: {e}"), &log);
    }
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return refuse(FAILED, &e, &log),
    };
    let ctx = zmq::Context::new();
    let mut daemon = match config.bind(&ctx, log.clone()) {
        Ok(d) => d,
        Err(e) if e.is_address_in_use() => return refuse(IN_USE, &crate::launcher::chain(&e), &log),
        Err(e) => return refuse(FAILED, &crate::launcher::chain(&e), &log),
    };
    if let Err(e) = std::fs::write(&args.pidfile, format!("{}\n", std::process::id())) {
        return refuse(FAILED, &format!("cannot write the pidfile {}: {e}", args.pidfile.display()), &log);
    }
    tell(READY);
    detach_output();
    let idle = Duration::try_from_secs_f64(args.idle_exit).unwrap_or(Duration::ZERO);
    info!(log, "serving this host's launchers; exiting when idle"; "endpoint" => daemon.endpoint(),
        "idle_exit_s" => idle.as_secs_f64(), "pidfile" => %args.pidfile.display());
    let outcome = serve_until_idle(&mut daemon, idle, &stop, &log);
    remove_pidfile(&args.pidfile);
    match outcome {
        Ok(()) => {
            info!(log, "discovery daemon stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!(log, "the discovery daemon failed"; "error" => %e);
            ExitCode::from(1)
        }
    }
}

/// The daemon's configuration from its options: this host's name, the registry, the keys.
fn config(args: &DaemonArgs) -> Result<DaemonConfig, String> {
    let mut config = DaemonConfig::new(&args.endpoint, &args.host);
    if let Some(url) = &args.registry {
        config.shared = SharedRegistry::Redis(args.redis.options(url));
    }
    config.security = match &args.keys_dir {
        None => DaemonSecurity::None,
        Some(dir) => security::for_daemon(dir, args.admit.as_deref())?,
    };
    Ok(config)
}

/// Serves until `stop` is set or no client has been registered for `idle`.
fn serve_until_idle(
    daemon: &mut Daemon,
    idle: Duration,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), cohort_discovery::DaemonError> {
    let mut idle_since = Some(Instant::now());
    while !stop.load(Ordering::Relaxed) {
        daemon.step(STEP)?;
        if daemon.registry().stats().actors > 0 {
            idle_since = None;
        } else {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= idle {
                info!(log, "no launcher or actor has used the discovery daemon for a while; exiting";
                    "idle_s" => since.elapsed().as_secs_f64());
                break;
            }
        }
    }
    Ok(())
}

/// Tells the launcher `what` and why, logs it, and exits with status 1.
fn refuse(what: &str, why: &str, log: &slog::Logger) -> ExitCode {
    tell(&format!("{what} {}", why.replace('\n', " ")));
    if what == IN_USE {
        info!(log, "another discovery daemon serves there; exiting"; "why" => why);
    } else {
        error!(log, "the discovery daemon cannot start"; "error" => why);
    }
    ExitCode::from(1)
}

/// Writes `line` to the launcher that waits for it.
fn tell(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Points standard output at /dev/null: the launcher that read it may be gone, and the daemon
/// must not hold its pipe.
fn detach_output() {
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else { return };
    // SAFETY: dup2 onto standard output, from a descriptor this function owns and keeps open
    // during the call; nothing else of this process uses the pipe it replaces.
    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), libc::STDOUT_FILENO) };
}

/// Removes the pidfile if it still names this process (a later daemon may have replaced it).
fn remove_pidfile(path: &Path) {
    let ours = format!("{}\n", std::process::id());
    if std::fs::read_to_string(path).is_ok_and(|text| text == ours) {
        let _ = std::fs::remove_file(path);
    }
}
