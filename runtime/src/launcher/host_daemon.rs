//! The discovery daemon of this host, as the launcher finds or starts it.
//!
//! One daemon serves every launcher of a host, of any app, and belongs to none of them: when no
//! daemon answers at `--daemon`, the launcher starts one as a process of its own (this program,
//! with the hidden `disco-daemon` command, [`serve`]), in a session of its own, with no
//! parent-death signal, logging to `discovery-<endpoint>.log` beside a pidfile in the host's
//! runtime directory ([`host_runtime_dir`]). The launchers of the host use it and may stop in
//! any order. It ends by itself once it has had no client (launcher or actor) for the idle time
//! (`--daemon-idle`, 10 s): each launcher stays registered while it runs ([`Presence`]), so the
//! daemon outlives every launcher that uses it, and nothing is left running after the last.
//!
//! Two launchers that start at once both start a daemon; the bind decides. The loser's daemon
//! finds the endpoint taken and says so before it exits ([`IN_USE`]), and its launcher uses the
//! winner's.

mod presence;
pub(crate) mod serve;

use std::io::BufRead as _;
use std::net::{TcpStream, ToSocketAddrs as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cohort_discovery::ClientSecurity;
use slog::{info, warn};

use presence::Presence;

use super::redis_args::RedisArgs;
use super::security::AppSecurity;
use super::LogFormat;
use crate::logging::Level;

/// What a starting daemon prints on its standard output once it serves.
const READY: &str = "READY";
/// What it prints when the endpoint is taken (another daemon won the race), before it exits.
const IN_USE: &str = "IN-USE";
/// What it prints when it cannot start for another reason, before it exits.
const FAILED: &str = "FAILED";

/// How long a daemon may take to start: its keys, the first Redis connection (up to 2 s), the
/// bind.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a daemon that runs may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the probe of a tcp endpoint may take to connect.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// How the launcher starts the host's daemon when none answers.
pub(crate) struct DaemonPlan<'a> {
    /// The endpoint (`--daemon`).
    pub(crate) endpoint: &'a str,
    /// The app, whose runtime directory's parent holds the daemon's files.
    pub(crate) app: &'a str,
    /// The daemon's host id: the launcher's `--host`, else the machine's name. It keys the
    /// host's entries in a shared registry, where every daemon needs an id of its own.
    pub(crate) host: &'a str,
    /// The app's keys; `None` with `--insecure`.
    pub(crate) security: Option<&'a AppSecurity>,
    /// `--registry URL` and its login and TLS options; `None` for this host only.
    pub(crate) registry: Option<(&'a str, &'a RedisArgs)>,
    /// How long the daemon stays without a client.
    pub(crate) idle: Duration,
    /// The daemon logs as the launcher does.
    pub(crate) log_format: LogFormat,
    /// How much it logs.
    pub(crate) log_level: Level,
}

/// The host's runtime directory: the parent of every app's private one
/// (`$XDG_RUNTIME_DIR/cohort`, else `<temp dir>/cohort-<uid>`).
pub(crate) fn host_runtime_dir(app: &str) -> PathBuf {
    let dir = cohort_ports::default_runtime_dir(app);
    dir.parent().map_or_else(|| dir.clone(), Path::to_path_buf)
}

/// The log file and the pidfile of the daemon at `endpoint` in `dir`.
fn files(dir: &Path, endpoint: &str) -> (PathBuf, PathBuf) {
    let mut slug = String::new();
    for c in endpoint.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_matches('-');
    (dir.join(format!("discovery-{slug}.log")), dir.join(format!("discovery-{slug}.pid")))
}

/// Finds the daemon at the plan's endpoint, or starts it; returns the daemon's process when
/// this launcher started it (to reap it should it end first).
pub(crate) fn ensure(plan: &DaemonPlan<'_>, log: &slog::Logger) -> Result<Option<Child>, String> {
    let endpoint = plan.endpoint;
    if probe(endpoint) == Probe::Taken {
        return match ask(plan) {
            Ok(()) => {
                info!(log, "using the running discovery daemon"; "endpoint" => endpoint);
                Ok(None)
            }
            Err(e) => Err(format!("something answers at {endpoint}, but not a discovery daemon this app can use: {e}")),
        };
    }
    match start(plan)? {
        Started::Ready(child, log_file) => {
            info!(log, "started the discovery daemon of this host"; "endpoint" => endpoint, "pid" => child.id(),
                "log" => %log_file.display(), "idle_exit_s" => plan.idle.as_secs_f64());
            Ok(Some(child))
        }
        Started::InUse(why) => match ask(plan) {
            Ok(()) => {
                info!(log, "using the running discovery daemon (another launcher started it first)";
                    "endpoint" => endpoint);
                Ok(None)
            }
            Err(e) => {
                Err(format!("no discovery daemon answers at {endpoint} ({e}), and one cannot be started there: {why}"))
            }
        },
    }
}

/// What a quick look at an endpoint tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Something listens there.
    Taken,
    /// Nothing listens there, or the look cannot tell (starting a daemon there will).
    Free,
}

/// Whether something listens at `endpoint`: a tcp connection is accepted, or an ipc socket
/// file exists. Costs a connection, never a request's timeout.
fn probe(endpoint: &str) -> Probe {
    if let Some(address) = endpoint.strip_prefix("tcp://") {
        let Ok(addresses) = address.to_socket_addrs() else { return Probe::Free };
        for address in addresses {
            if TcpStream::connect_timeout(&address, PROBE_TIMEOUT).is_ok() {
                return Probe::Taken;
            }
        }
        Probe::Free
    } else if let Some(path) = endpoint.strip_prefix("ipc://") {
        if Path::new(path).exists() {
            Probe::Taken
        } else {
            Probe::Free
        }
    } else {
        Probe::Free
    }
}

/// Asks the daemon at the plan's endpoint for its listing, as a tool (with the daemon's own key
/// when secured).
fn ask(plan: &DaemonPlan<'_>) -> Result<(), String> {
    let tool = match plan.security {
        None => ClientSecurity::None,
        Some(s) => ClientSecurity::tool(&s.dir).map_err(|e| e.to_string())?,
    };
    cohort_discovery::list_with(&zmq::Context::new(), plan.endpoint, ASK_TIMEOUT, &tool)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// How starting a daemon ended.
enum Started {
    /// It serves: its process and its log file.
    Ready(Child, PathBuf),
    /// The endpoint was taken meanwhile; why, in the daemon's words.
    InUse(String),
}

/// Starts the daemon as a process of its own and waits until it serves or says why not.
fn start(plan: &DaemonPlan<'_>) -> Result<Started, String> {
    let dir = host_runtime_dir(plan.app);
    cohort_ports::create_private_dir(&dir).map_err(|e| e.to_string())?;
    // The daemon runs in `/`.
    let dir = std::path::absolute(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (log_file, pidfile) = files(&dir, plan.endpoint);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_file)
        .map_err(|e| format!("cannot open the discovery daemon's log {}: {e}", log_file.display()))?;
    let (program, arg0) = super::supervise::this_program()?;
    let mut command = Command::new(program);
    command.arg0(arg0).arg("disco-daemon").args(daemon_args(plan, &pidfile)?);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).current_dir("/");
    // SAFETY: the hook runs in the forked child before exec and calls only setsid and
    // close_range, which are async-signal-safe system calls. A session of its own: no
    // terminal's Ctrl-C or hang-up reaches the daemon, and it is not bound to the launcher's
    // life (no parent-death signal either). Every descriptor the launcher inherited from its
    // own starter (a pipe a caller waits on to close, say) is closed at exec, so the daemon
    // holds none of them; where the kernel lacks close_range (before 5.11) they stay open.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let _ = libc::syscall(libc::SYS_close_range, 3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC);
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| format!("cannot start the discovery daemon: {e}"))?;
    let said = first_line(&mut child);
    let fail = |child: &mut Child, why: String| -> Result<Started, String> {
        let _ = child.kill();
        let _ = child.wait();
        Err(format!("the discovery daemon did not start: {why} (its log: {})", log_file.display()))
    };
    match said {
        Some(line) if line == READY => Ok(Started::Ready(child, log_file)),
        Some(line) if line.starts_with(IN_USE) => {
            let _ = child.wait();
            Ok(Started::InUse(line[IN_USE.len()..].trim().to_owned()))
        }
        Some(line) if line.starts_with(FAILED) => {
            let _ = child.wait();
            Err(format!("the discovery daemon of this host did not start: {}", line[FAILED.len()..].trim()))
        }
        Some(line) => fail(&mut child, format!("it said {line:?}")),
        None => match child.try_wait() {
            Ok(Some(status)) => fail(&mut child, format!("it exited ({status}) before serving")),
            _ => fail(&mut child, format!("it did not serve within {START_TIMEOUT:?}")),
        },
    }
}

/// The first line `child` prints on its standard output within [`START_TIMEOUT`]; `None` when
/// it closed its output or took longer.
fn first_line(child: &mut Child) -> Option<String> {
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    // The thread ends with the line, or when the daemon's output closes (the daemon exits, or
    // the launcher kills it after the timeout).
    std::thread::Builder::new()
        .name("disco-start".to_owned())
        .spawn(move || {
            let mut line = String::new();
            let read = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(read.ok().filter(|&n| n > 0).map(|_| line.trim_end().to_owned()));
        })
        .ok()?;
    rx.recv_timeout(START_TIMEOUT).ok().flatten()
}

/// The daemon's command line after `disco-daemon`.
fn daemon_args(plan: &DaemonPlan<'_>, pidfile: &Path) -> Result<Vec<String>, String> {
    let mut args = vec![
        "--endpoint".to_owned(),
        plan.endpoint.to_owned(),
        "--host".to_owned(),
        plan.host.to_owned(),
        "--pidfile".to_owned(),
        pidfile.display().to_string(),
        "--idle-exit".to_owned(),
        plan.idle.as_secs_f64().to_string(),
        "--log-format".to_owned(),
        if plan.log_format == LogFormat::Json { "json" } else { "human" }.to_owned(),
        "--log-level".to_owned(),
        format!("{:?}", plan.log_level).to_lowercase(),
    ];
    let absolute = |path: &Path| std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()));
    match plan.security {
        None => args.push("--insecure".to_owned()),
        Some(s) => {
            args.extend(["--keys-dir".to_owned(), absolute(&s.dir)?.display().to_string()]);
            args.extend(["--admit".to_owned(), absolute(&s.key_file)?.display().to_string()]);
        }
    }
    if let Some((url, redis)) = plan.registry {
        args.extend(["--registry".to_owned(), url.to_owned()]);
        args.extend(redis.to_args()?);
    }
    Ok(args)
}

/// The launcher's link to its host's daemon while it runs: the daemon's process if this
/// launcher started it, and the launcher's registration.
pub(crate) struct HostLink {
    daemon: Option<Child>,
    presence: Presence,
}

impl HostLink {
    /// Registers the launcher with the daemon [`ensure`] found or started (`daemon`, its
    /// process if started here), with the security of its actors.
    pub(crate) fn join(
        mut daemon: Option<Child>,
        plan: &DaemonPlan<'_>,
        security: ClientSecurity,
        log: &slog::Logger,
    ) -> Result<HostLink, String> {
        match Presence::join(plan.app, plan.endpoint, security, log) {
            Ok(presence) => Ok(HostLink { daemon, presence }),
            Err(e) => {
                // A daemon nobody can use is of no use to anyone: stop the one started here.
                if let Some(child) = &mut daemon {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                Err(e)
            }
        }
    }

    /// Keeps the registration alive, and reaps the daemon this launcher started should it end.
    pub(crate) fn tick(&mut self, log: &slog::Logger) {
        self.presence.tick(log);
        if let Some(child) = &mut self.daemon {
            if let Ok(Some(status)) = child.try_wait() {
                warn!(log, "the discovery daemon of this host exited"; "pid" => child.id(), "status" => %status);
                self.daemon = None;
            }
        }
    }

    /// Unregisters the launcher; the daemon stays for the host's other launchers, or until idle.
    pub(crate) fn leave(self, log: &slog::Logger) {
        self.presence.leave(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_named_after_the_endpoint() {
        let (log, pid) = files(Path::new("/run/cohort"), "tcp://127.0.0.1:9700");
        assert_eq!(log, Path::new("/run/cohort/discovery-tcp-127.0.0.1-9700.log"));
        assert_eq!(pid, Path::new("/run/cohort/discovery-tcp-127.0.0.1-9700.pid"));
        let (log, _) = files(Path::new("/r"), "ipc:///tmp/a b/disco.sock");
        assert_eq!(log, Path::new("/r/discovery-ipc-tmp-a-b-disco.sock.log"));
    }

    #[test]
    fn a_closed_port_is_free_and_a_listening_one_taken() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(probe(&format!("tcp://127.0.0.1:{port}")), Probe::Taken);
        drop(listener);
        assert_eq!(probe(&format!("tcp://127.0.0.1:{port}")), Probe::Free);
        assert_eq!(probe("ipc:///nonexistent/cohort/disco.sock"), Probe::Free);
        assert_eq!(probe("tcp://*:9700"), Probe::Free);
    }
}
