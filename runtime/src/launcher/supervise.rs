//! The supervisor: one child process per actor, and one per device instance of each actor
//! ([`ChildSpec`]), restarted with backoff when it crashes, all
//! stopped gracefully (SIGTERM, then SIGKILL after 5 s) when the app stops, and sent SIGTERM by
//! the kernel when the launcher dies (see [`spawn`]). Between its turns it serves `cohort ctl`
//! ([`super::ctl_server`]): a restart asked for stops the actor the same graceful way and starts
//! it again at once, without backoff and without counting a crash.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cohort_budgets::Budget;
use cohort_monitor::Board;
use slog::{info, warn};

use crate::ctl::{ActorLine, CtlError, Done, Reply};

use super::budgets::{Enforcement, Placement};
use super::ctl_server::{Client, CtlServer, Order};
use super::host_daemon::HostLink;
use super::restart::{Decision, RestartPolicy, RestartState};

/// How long stopping may take before stragglers are killed.
const GRACE: Duration = Duration::from_secs(5);

/// How often the supervisor looks at its children.
const TICK: Duration = Duration::from_millis(20);

/// A process the supervisor runs: an actor (its instances but the devices), or one device
/// instance of an actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildSpec {
    /// The actor.
    pub(crate) actor: String,
    /// The device instance, for a device's process.
    pub(crate) device: Option<String>,
    /// The actor's budget, which each of its processes gets whole.
    pub(crate) budget: Budget,
}

impl ChildSpec {
    /// The name the launcher's log, the monitor and `cohort ctl status` give the process:
    /// `ACTOR`, or `ACTOR.INSTANCE` for a device.
    pub(crate) fn name(&self) -> String {
        match &self.device {
            Some(d) => format!("{}.{d}", self.actor),
            None => self.actor.clone(),
        }
    }
}

struct Supervised {
    name: String,
    spec: ChildSpec,
    /// The cgroup and the class that enforce its budget, if any.
    placement: Placement,
    child: Option<Child>,
    started: Instant,
    restart_at: Option<Instant>,
    history: RestartState,
    /// A restart asked with `cohort ctl`, under way: the process was sent SIGTERM.
    asked: Option<AskedRestart>,
    /// Restarts after crashes.
    crashes: u64,
    /// Restarts asked with `cohort ctl`.
    restarts_asked: u64,
}

/// A restart asked with `cohort ctl`.
struct AskedRestart {
    /// Who waits for the answer.
    client: Client,
    /// The process stopped.
    old_pid: Option<u32>,
    /// When to SIGKILL the process if it has not exited.
    kill_at: Instant,
}

/// The program to start for a child process, and the `argv[0]` to give it: the image this
/// launcher runs, even if its file was replaced or deleted since (a rebuild while the app runs):
/// /proc/self/exe still names it. `argv[0]` stays the program's path, so `ps` shows it.
pub(crate) fn this_program() -> Result<(PathBuf, PathBuf), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
    let image = Path::new("/proc/self/exe");
    let program = if image.exists() { image.to_path_buf() } else { exe.clone() };
    Ok((program, exe))
}

/// Starts actor `name` as a child process of this one.
///
/// The child is bound to the launcher's life: before it runs the actor it asks the kernel for
/// SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), so a launcher killed with SIGKILL leaves
/// no actor behind; the actors stop as on Ctrl-C. The request is made in the forked child before
/// `exec`, and is kept across it, so there is no window in which the actor runs unbound. If the
/// launcher died before the request took effect, the child's parent is already another process
/// (`getppid` differs) and the child exits at once. The kernel ties the signal to the thread that
/// forked the child: the supervisor starts every actor from the launcher's main thread, which
/// lives as long as the launcher.
///
/// The forked child moves itself into the cgroups of its `placement` before `exec`, so that
/// everything the actor does is counted against its budget, and the actor is told their folders
/// (`--cgroup`).
fn spawn(spec: &ChildSpec, child_args: &[String], placement: &Placement) -> Result<Child, String> {
    let (program, exe) = this_program()?;
    // SAFETY: getpid has no preconditions and cannot fail.
    let launcher = unsafe { libc::getpid() };
    let mut command = Command::new(program);
    command.arg0(&exe);
    command.arg("actor").arg(&spec.actor);
    if let Some(device) = &spec.device {
        command.arg("--device").arg(device);
    }
    command.args(child_args).stdin(Stdio::null());
    for dir in placement.dirs() {
        command.arg("--cgroup").arg(dir);
    }
    let placement = placement.clone();
    // SAFETY: the hook runs in the forked child before exec. It calls only async-signal-safe
    // functions (prctl, getppid, _exit, and open/write/close in `join_self`), allocates nothing
    // and touches no lock.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The launcher died before the request took effect: no signal will come.
            if libc::getppid() != launcher {
                libc::_exit(1);
            }
            placement.join_self()?;
            Ok(())
        });
    }
    command.spawn().map_err(|e| format!("cannot start actor {}: {e}", spec.name()))
}

/// What the supervisor runs, and where it says what it did.
pub(crate) struct Supervision<'a> {
    /// The processes: the actors, and their device instances.
    pub(crate) children: &'a [ChildSpec],
    /// The arguments every actor process gets after its name.
    pub(crate) child_args: &'a [String],
    /// Stop after this long.
    pub(crate) duration: Option<Duration>,
    /// Where starts, exits and restarts are recorded for the monitor.
    pub(crate) board: &'a Board,
    /// The control sockets of `cohort ctl`, polled between turns.
    pub(crate) ctl: &'a mut CtlServer,
    /// What the processes' budgets are enforced with.
    pub(crate) enforcement: &'a Enforcement,
}

/// Runs the actors until `stop` is set, the duration passes or `cohort ctl APP stop` asks;
/// gives up (and stops all) when an actor crashes too often. The launcher stays registered
/// with its host's discovery daemon (`host`) until its actors have stopped.
pub(crate) fn run(
    supervision: Supervision<'_>,
    mut host: HostLink,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), String> {
    let outcome = supervise(supervision, &mut host, stop, log);
    host.leave(log);
    outcome
}

/// The body of [`run`].
fn supervise(
    supervision: Supervision<'_>,
    host: &mut HostLink,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), String> {
    let Supervision { children, child_args, duration, board, ctl, enforcement } = supervision;
    let policy = RestartPolicy::default();
    let mut supervised = Vec::new();
    for spec in children {
        let name = spec.name();
        let placement = enforcement.place(spec, log);
        let child = spawn(spec, child_args, &placement)?;
        info!(log, "actor started"; "actor" => &name, "pid" => child.id());
        board.started(&name, child.id(), false);
        supervised.push(Supervised {
            name,
            spec: spec.clone(),
            placement,
            child: Some(child),
            started: Instant::now(),
            restart_at: None,
            history: RestartState::new(policy),
            asked: None,
            crashes: 0,
            restarts_asked: 0,
        });
    }
    let until = duration.map(|d| Instant::now() + d);
    let mut outcome = Ok(());
    'serve: while !stop.load(Ordering::Relaxed) && until.is_none_or(|u| Instant::now() < u) {
        for s in &mut supervised {
            if let Some(child) = &mut s.child {
                if let Ok(Some(status)) = child.try_wait() {
                    s.child = None;
                    if let Some(asked) = s.asked.take() {
                        if let Err(e) = restart_now(s, asked, child_args, board, ctl, log) {
                            outcome = Err(e);
                            break 'serve;
                        }
                        continue;
                    }
                    s.crashes += 1;
                    s.placement.tell_oom_kill(&s.name, s.spec.budget.memory, log);
                    let now = Instant::now();
                    match s.history.crashed(s.started, now) {
                        Decision::RestartAt(at) => {
                            board.exited(&s.name);
                            warn!(log, "actor exited; restarting it"; "actor" => &s.name, "status" => %status,
                                "in_ms" => at.saturating_duration_since(now).as_millis() as u64);
                            s.restart_at = Some(at);
                        }
                        Decision::GiveUp { crashes } => {
                            board.failed(&s.name);
                            outcome = Err(format!(
                                "actor {} exited {crashes} times within {:?}; giving up",
                                s.name, policy.window
                            ));
                            break 'serve;
                        }
                    }
                } else if s.asked.as_ref().is_some_and(|a| Instant::now() >= a.kill_at) {
                    warn!(log, "actor did not stop in time; killing it"; "actor" => &s.name);
                    let _ = child.kill();
                }
            }
            if s.restart_at.is_some_and(|at| Instant::now() >= at) {
                s.restart_at = None;
                match spawn(&s.spec, child_args, &s.placement) {
                    Ok(child) => {
                        info!(log, "actor restarted"; "actor" => &s.name, "pid" => child.id());
                        board.started(&s.name, child.id(), true);
                        s.child = Some(child);
                        s.started = Instant::now();
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break 'serve;
                    }
                }
            }
        }
        host.tick(log);
        let pid_of =
            |name: &str| supervised.iter().find(|s| s.name == name).and_then(|s| s.child.as_ref()).map(Child::id);
        let orders = ctl.serve(TICK, &pid_of, board);
        for order in orders {
            obey(order, &mut supervised, ctl, stop, log);
        }
    }
    info!(log, "stopping the app");
    for s in &mut supervised {
        if let Some(asked) = s.asked.take() {
            ctl.reply(&asked.client, Reply::Err(CtlError::Stopping));
        }
    }
    ctl.finish();
    stop_all(&mut supervised, log);
    for s in &supervised {
        s.placement.remove();
    }
    board.stopped();
    outcome
}

/// Starts `s` again at once after the restart `asked` stopped it, and tells who asked.
fn restart_now(
    s: &mut Supervised,
    asked: AskedRestart,
    child_args: &[String],
    board: &Board,
    ctl: &CtlServer,
    log: &slog::Logger,
) -> Result<(), String> {
    match spawn(&s.spec, child_args, &s.placement) {
        Ok(child) => {
            let pid = child.id();
            info!(log, "actor restarted on request"; "actor" => &s.name, "pid" => pid, "old_pid" => asked.old_pid);
            board.started(&s.name, pid, false);
            s.child = Some(child);
            s.started = Instant::now();
            s.restarts_asked += 1;
            let done = Done::Restarted { actor: s.name.clone(), old_pid: asked.old_pid, new_pid: pid };
            ctl.reply(&asked.client, Reply::Ok(done));
            Ok(())
        }
        Err(e) => {
            ctl.reply(&asked.client, Reply::Err(CtlError::NotRunning(s.name.clone())));
            Err(e)
        }
    }
}

/// Carries out what `cohort ctl` asked of the supervisor.
fn obey(order: Order, supervised: &mut [Supervised], ctl: &CtlServer, stop: &AtomicBool, log: &slog::Logger) {
    match order {
        Order::Status(client) => {
            let actors = supervised
                .iter()
                .map(|s| {
                    let pid = s.child.as_ref().map(Child::id);
                    let state = match (&s.child, &s.asked) {
                        (Some(_), Some(_)) => "restarting",
                        (Some(_), None) => "running",
                        (None, _) => "restarting",
                    };
                    ActorLine {
                        name: s.name.clone(),
                        state: state.to_owned(),
                        pid,
                        crashes: s.crashes,
                        restarts_asked: s.restarts_asked,
                        passive: ctl.passive(&s.name, pid),
                    }
                })
                .collect();
            ctl.reply(&client, Reply::Ok(Done::Status { launcher: std::process::id(), actors }));
        }
        Order::Stop(client) => {
            info!(log, "stopping on request");
            stop.store(true, Ordering::Relaxed);
            ctl.reply(&client, Reply::Ok(Done::Stopping));
        }
        Order::Restart(client, actor) => {
            let Some(s) = supervised.iter_mut().find(|s| s.name == actor) else {
                ctl.reply(&client, Reply::Err(CtlError::UnknownActor { actor, known: Vec::new() }));
                return;
            };
            let Some(child) = s.child.as_ref().filter(|_| s.asked.is_none()) else {
                ctl.reply(&client, Reply::Err(CtlError::NotRunning(actor)));
                return;
            };
            let old_pid = child.id();
            info!(log, "restarting an actor on request"; "actor" => &actor, "pid" => old_pid);
            if let Ok(pid) = i32::try_from(old_pid) {
                // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
            s.asked = Some(AskedRestart { client, old_pid: Some(old_pid), kill_at: Instant::now() + GRACE });
        }
    }
}

/// SIGTERM to every child, then SIGKILL to those still running after [`GRACE`].
fn stop_all(supervised: &mut [Supervised], log: &slog::Logger) {
    for s in supervised.iter() {
        if let Some(child) = &s.child {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
    }
    let deadline = Instant::now() + GRACE;
    loop {
        let mut running = 0;
        for s in supervised.iter_mut() {
            if let Some(child) = &mut s.child {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => s.child = None,
                    Ok(None) => running += 1,
                }
            }
        }
        if running == 0 {
            info!(log, "every actor stopped");
            return;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(TICK);
    }
    for s in supervised.iter_mut() {
        if let Some(mut child) = s.child.take() {
            warn!(log, "actor did not stop in time; killing it"; "actor" => &s.name);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
