//! `cohort-soak`: runs both example apps (the estimator and the microgrid) for a given time,
//! injects seeded random faults into their actor processes (kill -9; SIGSTOP for a few hundred
//! milliseconds, then SIGCONT), and watches their JSON log records: message counts, restarts,
//! elections, votes and actions, the memory of every process over time, and the invariants
//! (one leader per term; one leader known to all units soon after each fault; every unit learns
//! the same vote result and carries out an action within 50 ms of the others; the estimates
//! flow again soon after each fault; no panics, failed components or unexplained exits; no
//! sustained memory growth). It prints a progress line per sample and a report at the end
//! (also as JSON with `--report FILE`), and exits 1 when an invariant was broken.
//!
//! `cohort-soak --help` lists the options; `docs/operations.md` ("Soak") shows a run.
//!
//! With the environment variable `COHORT_SOAK_APP` set to `estimator` or `microgrid` the binary
//! is that app instead (its `run` and `actor` commands): the soak's fallback when no app binary
//! sits next to it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};

#[path = "../soak/cli.rs"]
mod cli;
#[path = "../soak/memory.rs"]
mod memory;
#[path = "../soak/monitor/mod.rs"]
mod monitor;

use cli::{now_us, show, Options};
use cohort_tests::Rng;
use memory::{Memory, MemoryRow};
use monitor::{App, Counts, ElectionRow, FaultKind, FaultRow, Monitor, Record, Startup, ViolationRow, RESTART_WAIT_US};
use serde::Serialize;

/// The environment variable that turns this binary into one of the apps.
const APP_ENV: &str = "COHORT_SOAK_APP";
/// The apps' deployments: every actor on this host.
const ESTIMATOR_DEPL: &str = include_str!("../../../apps/estimator/estimator.depl");
const MICROGRID_DEPL: &str = include_str!("../../../apps/microgrid/microgrid.depl");
/// A SIGSTOP lasts this long at least…
const STOP_MIN_MS: u64 = 200;
/// …and at most.
const STOP_MAX_MS: u64 = 800;
/// An actor killed this many times within [`KILL_WINDOW`] is not killed again until the window
/// moves on: the launcher gives up on an actor that crashes more than 5 times in 30 s, and the
/// soak tests recovery, not that limit.
const MAX_KILLS: usize = 3;
const KILL_WINDOW: Duration = Duration::from_secs(30);
/// How long the launchers may take to stop (their actors get 5 s) before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The main loop looks at the clock at least this often (for Ctrl-C).
const MAX_WAIT: Duration = Duration::from_millis(200);

/// Set by SIGINT or SIGTERM: stop the soak early, and report.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    if let Ok(app) = std::env::var(APP_ENV) {
        return built_in_app(&app);
    }
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Soak(o)) => o,
        Err(e) => {
            eprintln!("cohort-soak: {e:#}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match soak(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cohort-soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs app `name` (this process was started as one of the apps' launcher or actors).
fn built_in_app(name: &str) -> ExitCode {
    use cohort_runtime::{launch, AppModel};
    match name {
        "estimator" => launch(
            AppModel::embedded("estimator.riaps", include_str!("../../../apps/estimator/estimator.riaps")),
            cohort_apps::estimator::components(),
        ),
        "microgrid" => launch(
            AppModel::embedded("microgrid.riaps", include_str!("../../../apps/microgrid/microgrid.riaps")),
            cohort_apps::microgrid::components(),
        ),
        other => {
            eprintln!("cohort-soak: {APP_ENV}={other:?} names no app (estimator or microgrid)");
            ExitCode::from(2)
        }
    }
}

/// How an app is started.
#[derive(Debug, Clone)]
enum Program {
    /// An app binary.
    File(PathBuf),
    /// This binary, as the app ([`APP_ENV`]).
    BuiltIn(PathBuf),
}

impl Program {
    fn path(&self) -> &Path {
        match self {
            Program::File(p) | Program::BuiltIn(p) => p,
        }
    }

    fn describe(&self, app: App) -> String {
        match self {
            Program::File(p) => p.display().to_string(),
            Program::BuiltIn(p) => format!("{} (built in: {APP_ENV}={})", p.display(), app.label()),
        }
    }

    /// The same program run from a copy in `dir`. A launcher starts each restarted actor from
    /// its own binary's path, so a rebuild that replaces the binary during the soak (cargo
    /// unlinks and rewrites it) would make every later restart fail; the copy stays put.
    fn copied_to(&self, dir: &Path, app: App) -> anyhow::Result<Program> {
        let copy = dir.join(format!("{}-app", app.label()));
        std::fs::copy(self.path(), &copy)
            .with_context(|| format!("cannot copy {} to {}", self.path().display(), copy.display()))?;
        Ok(match self {
            Program::File(_) => Program::File(copy),
            Program::BuiltIn(_) => Program::BuiltIn(copy),
        })
    }
}

/// A binary next to this one that is older than it by more than this may be stale (built from
/// older sources); binaries linked by one cargo run are seconds apart.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The binary to run `app` with: the one given, else one next to this binary that is not
/// [older](STALE_AFTER) than it (`cohort-<app>` of this crate, then `<app>` of cohort-apps),
/// else this binary.
fn program(app: App, given: Option<&PathBuf>) -> anyhow::Result<Program> {
    if let Some(path) = given {
        if !path.is_file() {
            bail!("--{} {}: no such file", app.label(), path.display());
        }
        return Ok(Program::File(path.clone()));
    }
    let me = std::env::current_exe().context("cannot find this program's path")?;
    let dir = me.parent().ok_or_else(|| anyhow!("{} has no folder", me.display()))?;
    let mine = modified(&me);
    for name in [format!("cohort-{}", app.label()), app.label().to_owned()] {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            match (modified(&candidate), mine) {
                (Some(theirs), Some(mine)) if theirs + STALE_AFTER < mine => {
                    println!("soak: skipping {} (older than this binary; may be stale)", candidate.display());
                }
                _ => return Ok(Program::File(candidate)),
            }
        }
    }
    Ok(Program::BuiltIn(me))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A free TCP port of 127.0.0.1, for a launcher's discovery daemon.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// What the reader threads send: a line of an app's standard error, or its end.
enum Input {
    Line { app: App, read_us: u64, line: String },
    Closed(App),
}

/// A running `<app> run` launcher.
struct Launcher {
    app: App,
    child: Child,
    pid: u32,
    exited: Option<ExitStatus>,
    closed: bool,
}

/// Starts `app`'s launcher with `deployment`; its standard error's lines go to `tx`, and to
/// `log` if given.
fn start_app(
    app: App,
    program: &Program,
    deployment: &Path,
    log: Option<std::fs::File>,
    tx: Sender<Input>,
) -> anyhow::Result<Launcher> {
    let daemon = format!("tcp://127.0.0.1:{}", free_port()?);
    let mut command = match program {
        Program::File(path) => {
            let mut c = Command::new(path);
            c.env_remove(APP_ENV);
            c
        }
        Program::BuiltIn(path) => {
            let mut c = Command::new(path);
            c.env(APP_ENV, app.label());
            c
        }
    };
    command
        .arg("run")
        .arg("--deployment")
        .arg(deployment)
        .args(["--log-format", "json", "--interface", "lo", "--daemon", &daemon])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: Ctrl-C at the terminal reaches the soak only, which then stops
        // the apps itself (after continuing any actor it stopped).
        .process_group(0);
    let mut child = command.spawn().with_context(|| format!("cannot start the {} app", app.label()))?;
    let stderr = child.stderr.take().ok_or_else(|| anyhow!("the {} app has no standard error", app.label()))?;
    std::thread::spawn(move || {
        // Lines are read as bytes: a stray non-UTF-8 byte must not stop the reading, or the
        // pipe would fill and block the apps.
        let mut reader = BufReader::new(stderr);
        let mut log = log.map(std::io::BufWriter::new);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Some(w) = &mut log {
                        // The log is evidence, not a check: a full disk stops the copy only.
                        if w.write_all(&buf).is_err() {
                            log = None;
                        }
                    }
                    let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                    if tx.send(Input::Line { app, read_us: now_us(), line }).is_err() {
                        return;
                    }
                }
            }
        }
        if let Some(mut w) = log {
            let _ = w.flush();
        }
        let _ = tx.send(Input::Closed(app));
    });
    println!("soak: started the {} app (launcher pid {}, discovery {daemon})", app.label(), child.id());
    Ok(Launcher { app, pid: child.id(), child, exited: None, closed: false })
}

/// Sends `signal` to `pid`; false if it failed (the process is gone).
fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill has no memory-safety preconditions; the pid is a launcher this soak started
    // or one of its actors, checked to be the launcher's child just before.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// The running apps, the processes the soak stopped, and the temporary deployments: whatever
/// happens, stopped actors are continued and the launchers stopped when this is dropped.
struct Apps {
    launchers: Vec<Launcher>,
    /// `(when to continue, fault index, pid)`.
    stopped: Vec<(Instant, usize, u32)>,
    dir: PathBuf,
}

impl Apps {
    fn continue_all(&mut self) {
        for (_, _, pid) in self.stopped.drain(..) {
            signal(pid, libc::SIGCONT);
        }
    }

    fn launcher(&self, app: App) -> Option<&Launcher> {
        self.launchers.iter().find(|l| l.app == app)
    }

    fn all_done(&self) -> bool {
        self.launchers.iter().all(|l| l.exited.is_some() && l.closed)
    }
}

impl Drop for Apps {
    /// Continues stopped actors; launchers still running (the soak ended early, on an error) get
    /// SIGTERM, and SIGKILL if they have not exited within [`STOP_GRACE`].
    fn drop(&mut self) {
        self.continue_all();
        let mut running: Vec<Launcher> = std::mem::take(&mut self.launchers);
        running.retain_mut(|l| l.exited.is_none() && matches!(l.child.try_wait(), Ok(None)));
        if !running.is_empty() {
            let mut left: Vec<u32> = running.iter().map(|l| l.pid).collect();
            for pid in &left {
                signal(*pid, libc::SIGTERM);
            }
            // A thread reaps them and says which it reaped, so no pid is signalled after it
            // was reaped (and could be reused).
            let (tx, reaped) = channel();
            std::thread::spawn(move || {
                for mut l in running {
                    let _ = l.child.wait();
                    if tx.send(l.pid).is_err() {
                        return;
                    }
                }
            });
            let give_up = Instant::now() + STOP_GRACE;
            while !left.is_empty() {
                match reaped.recv_timeout(give_up.saturating_duration_since(Instant::now())) {
                    Ok(pid) => left.retain(|p| *p != pid),
                    Err(_) => break,
                }
            }
            for pid in &left {
                signal(*pid, libc::SIGKILL);
            }
            while !left.is_empty() {
                match reaped.recv_timeout(Duration::from_secs(2)) {
                    Ok(pid) => left.retain(|p| *p != pid),
                    Err(_) => break,
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where the soak is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running the apps, injecting faults.
    Running,
    /// The time is up: no more faults; the last faults' checks finish (until the given time).
    Draining(Instant),
    /// The launchers were asked to stop (at the given time).
    Stopping(Instant),
}

/// The samples over time, for the report.
#[derive(Default)]
struct Timeline {
    memory: Memory,
    rows: Vec<SampleRow>,
}

/// One sample, a row of the report's `samples`.
#[derive(Debug, Clone, Serialize)]
struct SampleRow {
    /// Seconds since the start.
    at_s: f64,
    /// The resident memory of all processes, kB.
    rss_total_kb: u64,
    /// How many processes were sampled.
    processes: usize,
    /// Faults so far.
    faults: usize,
    /// Restarts so far.
    restarts: u64,
    /// Violations so far.
    violations: usize,
}

/// Runs the soak; true when no invariant was broken.
fn soak(o: &Options) -> anyhow::Result<bool> {
    let programs = [program(App::Estimator, o.estimator.as_ref())?, program(App::Microgrid, o.microgrid.as_ref())?];
    let dir = std::env::temp_dir().join(format!("cohort-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut apps = Apps { launchers: Vec::new(), stopped: Vec::new(), dir: dir.clone() };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    println!(
        "soak: {} with {}, samples every {}, seed {} (replay with --seed {})",
        show(o.duration),
        o.fault_every.map_or_else(|| "no faults".to_owned(), |d| format!("a fault every {}", show(d))),
        show(o.sample_every),
        o.seed,
        o.seed
    );
    let (tx, rx) = channel();
    let start = Instant::now();
    let start_us = now_us();
    for (app, program) in App::ALL.into_iter().zip(&programs) {
        let depl = dir.join(format!("{}.depl", app.label()));
        let text = match app {
            App::Estimator => ESTIMATOR_DEPL,
            App::Microgrid => MICROGRID_DEPL,
        };
        std::fs::write(&depl, text).with_context(|| format!("cannot write {}", depl.display()))?;
        println!("soak: {} app: {} (run from a copy in {})", app.label(), program.describe(app), dir.display());
        let copy = program.copied_to(&dir, app)?;
        let log = match &o.logs {
            Some(logs) => {
                std::fs::create_dir_all(logs).with_context(|| format!("cannot create {}", logs.display()))?;
                let path = logs.join(format!("{}.log", app.label()));
                Some(std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?)
            }
            None => None,
        };
        apps.launchers.push(start_app(app, &copy, &depl, log, tx.clone())?);
    }
    drop(tx);

    let mut monitor = Monitor::new(start_us, micros(o.leader_bound), micros(o.flow_bound));
    let mut rng = Rng::new(o.seed);
    let mut timeline = Timeline::default();
    let end = start + o.duration;
    let drain_for = Duration::from_micros(RESTART_WAIT_US) + o.leader_bound.max(o.flow_bound) + Duration::from_secs(1);
    let mut next_sample = start + o.sample_every;
    let mut next_fault = o.fault_every.map(|every| start + every);
    let mut phase = Phase::Running;
    let mut interrupted = false;
    loop {
        let now = Instant::now();
        // SIGCONT for the stops that are over.
        let (due, keep): (Vec<_>, Vec<_>) = apps.stopped.drain(..).partition(|(at, _, _)| *at <= now);
        apps.stopped = keep;
        for (_, fault, pid) in due {
            signal(pid, libc::SIGCONT);
            monitor.continued(fault, now_us());
        }
        if phase == Phase::Running {
            if let (Some(at), Some(every)) = (next_fault, o.fault_every) {
                if now >= at {
                    inject(&mut monitor, &mut apps, &mut rng);
                    next_fault = Some(at + every);
                }
            }
        }
        if now >= next_sample && !matches!(phase, Phase::Stopping(_)) {
            sample(&monitor, &apps, &mut timeline, start, o.duration);
            monitor.forget_old(now_us());
            while next_sample <= now {
                next_sample += o.sample_every;
            }
        }
        monitor.tick(now_us());
        for l in &mut apps.launchers {
            if l.exited.is_none() {
                if let Ok(Some(status)) = l.child.try_wait() {
                    l.exited = Some(status);
                    if !matches!(phase, Phase::Stopping(_)) {
                        let what = format!("the {} app's launcher exited by itself ({status})", l.app.label());
                        monitor.external_violation(now_us(), "the apps keep running", what);
                    }
                }
            }
        }
        if INTERRUPTED.load(Ordering::Relaxed) && !interrupted {
            interrupted = true;
            println!("soak: interrupted; stopping the apps");
        }
        let early_end = interrupted || apps.launchers.iter().any(|l| l.exited.is_some());
        phase = match phase {
            Phase::Running if early_end => stop(&mut apps, now),
            Phase::Running if now >= end => {
                println!("soak: time is up; waiting for the last faults' checks");
                Phase::Draining(now + drain_for)
            }
            Phase::Draining(until) if early_end || now >= until || !monitor.fault_checks_pending() => {
                stop(&mut apps, now)
            }
            Phase::Stopping(_) if apps.all_done() => break,
            Phase::Stopping(since) if now >= since + STOP_GRACE => {
                for l in apps.launchers.iter_mut().filter(|l| l.exited.is_none()) {
                    let what = format!("the {} app did not stop within {}", l.app.label(), show(STOP_GRACE));
                    monitor.external_violation(now_us(), "the apps stop when asked", what);
                    let _ = l.child.kill();
                    l.exited = l.child.wait().ok();
                }
                if now >= since + STOP_GRACE + Duration::from_secs(5) {
                    break; // the readers never closed: some actor outlived its launcher
                }
                phase
            }
            other => other,
        };
        // Wait for a record or the next timer.
        let mut wake = now + MAX_WAIT;
        for t in apps.stopped.iter().map(|s| s.0).chain([next_sample]).chain(next_fault) {
            wake = wake.min(t);
        }
        if phase == Phase::Running {
            wake = wake.min(end);
        }
        match rx.recv_timeout(wake.saturating_duration_since(Instant::now())) {
            Ok(input) => {
                handle(&mut monitor, &mut apps, input);
                while let Ok(input) = rx.try_recv() {
                    handle(&mut monitor, &mut apps, input);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Every launcher and actor closed its standard error: they are exiting.
                for l in &mut apps.launchers {
                    l.closed = true;
                    if l.exited.is_none() {
                        l.exited = l.child.wait().ok();
                        if !matches!(phase, Phase::Stopping(_)) {
                            let what = format!("the {} app's launcher exited by itself", l.app.label());
                            monitor.external_violation(now_us(), "the apps keep running", what);
                        }
                    }
                }
            }
        }
    }
    // Late records: whatever is still queued.
    drain(&mut monitor, &mut apps, &rx);
    let ended_us = now_us();
    for l in &apps.launchers {
        if let Some(status) = l.exited.filter(|s| !s.success()) {
            let what = format!("the {} app's launcher exited with {status} when stopped", l.app.label());
            monitor.external_violation(ended_us, "the apps stop cleanly", what);
        }
    }
    for s in timeline.memory.series() {
        if let memory::Verdict::Grew { first, last } = s.verdict(o.warmup) {
            let what = format!(
                "{} (pid {}) grew from a median of {first} kB to {last} kB (more than {:.0} % + {} kB)",
                s.name,
                s.pid,
                memory::GROWTH_FRACTION * 100.0,
                memory::GROWTH_SLACK_KB
            );
            monitor.external_violation(ended_us, "no sustained memory growth", what);
        }
    }
    let ran = start.elapsed();
    let report = serde_json::to_string_pretty(&report(o, &programs, &monitor, &timeline, ran, interrupted))? + "\n";
    print_report(o, &monitor, &timeline, ran);
    if let Some(path) = &o.report {
        std::fs::write(path, report).with_context(|| format!("cannot write {}", path.display()))?;
        println!("soak: report written to {}", path.display());
    }
    drop(apps);
    Ok(monitor.violations().is_empty() && !interrupted)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Continues every stopped actor and asks both launchers to stop.
fn stop(apps: &mut Apps, now: Instant) -> Phase {
    apps.continue_all();
    for l in &apps.launchers {
        if l.exited.is_none() {
            signal(l.pid, libc::SIGTERM);
        }
    }
    println!("soak: stopping the apps");
    Phase::Stopping(now)
}

fn handle(monitor: &mut Monitor, apps: &mut Apps, input: Input) {
    match input {
        Input::Line { app, read_us, line } => match Record::parse(&line) {
            Some(record) => monitor.record(app, read_us, &record, &line),
            None => monitor.text_line(app, read_us, &line),
        },
        Input::Closed(app) => {
            for l in apps.launchers.iter_mut().filter(|l| l.app == app) {
                l.closed = true;
            }
        }
    }
}

fn drain(monitor: &mut Monitor, apps: &mut Apps, rx: &Receiver<Input>) {
    while let Ok(input) = rx.try_recv() {
        handle(monitor, apps, input);
    }
}

/// Injects one fault into a random actor: kill -9, or SIGSTOP now and SIGCONT in 200–800 ms.
fn inject(monitor: &mut Monitor, apps: &mut Apps, rng: &mut Rng) {
    let now = now_us();
    let kill = rng.below(2) == 0;
    let stop_ms = STOP_MIN_MS + rng.below(STOP_MAX_MS - STOP_MIN_MS + 1);
    let pick = rng.next_u64();
    let candidates: Vec<(App, String, u32)> = monitor
        .processes()
        .filter(|((app, _), p)| p.alive && !p.stopped && apps.launcher(*app).is_some_and(|l| l.exited.is_none()))
        .map(|((app, actor), p)| (*app, actor.clone(), p.pid))
        .collect();
    let window_start = now.saturating_sub(micros(KILL_WINDOW));
    let killable: Vec<&(App, String, u32)> = candidates
        .iter()
        .filter(|(app, actor, _)| monitor.kills_since(*app, actor, window_start) < MAX_KILLS)
        .collect();
    let (kind, pool): (FaultKind, Vec<&(App, String, u32)>) = if kill && !killable.is_empty() {
        (FaultKind::Kill, killable)
    } else {
        (FaultKind::Stop(stop_ms), candidates.iter().collect())
    };
    let Some(&(app, actor, pid)) = pool.get(usize::try_from(pick % pool.len().max(1) as u64).unwrap_or(0)) else {
        println!("soak: no actor to fault (none running)");
        return;
    };
    let Some(launcher) = apps.launcher(*app) else { return };
    // The pid must still be the launcher's child: never signal a process the soak did not start.
    if memory::parent_of(*pid) != Some(launcher.pid) {
        println!("soak: {} actor {actor} (pid {pid}) is no longer the launcher's child; no fault", app.label());
        return;
    }
    let sent = match kind {
        FaultKind::Kill => signal(*pid, libc::SIGKILL),
        FaultKind::Stop(_) => signal(*pid, libc::SIGSTOP),
    };
    if !sent {
        println!("soak: cannot signal {} actor {actor} (pid {pid}); no fault", app.label());
        return;
    }
    let index = monitor.fault_injected(now, *app, actor, *pid, kind);
    let what = match kind {
        FaultKind::Kill => "kill -9".to_owned(),
        FaultKind::Stop(ms) => {
            apps.stopped.push((Instant::now() + Duration::from_millis(ms), index, *pid));
            format!("SIGSTOP for {ms} ms")
        }
    };
    let leader = if monitor.faults().get(index).is_some_and(|f| f.was_leader) { " (the leader)" } else { "" };
    println!(
        "soak: fault {} at {:.1}s: {what} of {} actor {actor}{leader}, pid {pid}",
        index + 1,
        monitor.secs(now),
        app.label()
    );
}

/// Samples the memory of every process and prints a progress line.
fn sample(monitor: &Monitor, apps: &Apps, timeline: &mut Timeline, start: Instant, planned: Duration) {
    let at = start.elapsed().as_secs_f64();
    let mut total = 0_u64;
    let mut count = 0_usize;
    for l in &apps.launchers {
        if l.exited.is_none() {
            if let Some(kb) = memory::rss_kb(l.pid) {
                timeline.memory.add(&format!("{}/launcher", l.app.label()), l.pid, 0.0, at, kb);
                total += kb;
                count += 1;
            }
        }
    }
    for ((app, actor), p) in monitor.processes() {
        if !p.alive {
            continue;
        }
        if let Some(kb) = memory::rss_kb(p.pid) {
            let born = monitor.secs(p.born_us);
            timeline.memory.add(&format!("{}/{actor}", app.label()), p.pid, born, at, kb);
            total += kb;
            count += 1;
        }
    }
    println!(
        "[{:>6} / {}] rss {:.1} MB in {count} processes | {}",
        show(Duration::from_secs_f64(at)),
        show(planned),
        total as f64 / 1024.0,
        monitor.progress()
    );
    timeline.rows.push(SampleRow {
        at_s: memory::round1(at),
        rss_total_kb: total,
        processes: count,
        faults: monitor.faults().len(),
        restarts: monitor.restarts_total(),
        violations: monitor.violations().len(),
    });
}

/// Median and maximum of `xs`, for people.
fn spread(xs: &[u64]) -> String {
    if xs.is_empty() {
        return "none".to_owned();
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    format!("median {} ms, max {} ms over {}", v[v.len() / 2], v[v.len() - 1], v.len())
}

/// The JSON report (`--report FILE`), its sections in this order.
#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    interrupted: bool,
    seed: u64,
    planned_s: f64,
    ran_s: f64,
    settings: Settings,
    binaries: Binaries,
    startup_s: Startup,
    counts: Counts,
    timing_ms: Timing,
    faults: Vec<FaultRow>,
    elections: Vec<ElectionRow>,
    memory: Vec<MemoryRow>,
    samples: Vec<SampleRow>,
    violations: Vec<ViolationRow>,
    notes: Vec<String>,
}

/// The report's `settings`: the options that shape a run.
#[derive(Debug, Serialize)]
struct Settings {
    fault_every_s: Option<f64>,
    sample_every_s: f64,
    leader_bound_s: f64,
    flow_bound_s: f64,
    warmup_s: f64,
    stop_ms: [u64; 2],
}

/// The report's `binaries`: which program ran each app.
#[derive(Debug, Serialize)]
struct Binaries {
    estimator: String,
    microgrid: String,
}

/// The report's `timing_ms`: every failover and recovery time.
#[derive(Debug, Serialize)]
struct Timing {
    leader_failover_after_fault: Vec<u64>,
    microgrid_recovery_after_restart_or_continue: Vec<u64>,
    estimator_recovery_after_restart_or_continue: Vec<u64>,
}

fn report(o: &Options, programs: &[Program; 2], m: &Monitor, t: &Timeline, ran: Duration, interrupted: bool) -> Report {
    let (failover, mut recovery) = m.timing_summary();
    Report {
        ok: m.violations().is_empty() && !interrupted,
        interrupted,
        seed: o.seed,
        planned_s: o.duration.as_secs_f64(),
        ran_s: memory::round1(ran.as_secs_f64()),
        settings: Settings {
            fault_every_s: o.fault_every.map(|d| d.as_secs_f64()),
            sample_every_s: o.sample_every.as_secs_f64(),
            leader_bound_s: o.leader_bound.as_secs_f64(),
            flow_bound_s: o.flow_bound.as_secs_f64(),
            warmup_s: o.warmup.as_secs_f64(),
            stop_ms: [STOP_MIN_MS, STOP_MAX_MS],
        },
        binaries: Binaries {
            estimator: programs[0].describe(App::Estimator),
            microgrid: programs[1].describe(App::Microgrid),
        },
        startup_s: m.startup(),
        counts: m.counts(),
        timing_ms: Timing {
            leader_failover_after_fault: failover,
            microgrid_recovery_after_restart_or_continue: recovery.remove(&App::Microgrid).unwrap_or_default(),
            estimator_recovery_after_restart_or_continue: recovery.remove(&App::Estimator).unwrap_or_default(),
        },
        faults: m.fault_rows(),
        elections: m.election_rows(),
        memory: t.memory.series().map(|s| s.to_row(o.warmup)).collect(),
        samples: t.rows.clone(),
        violations: m.violation_rows(),
        notes: m.notes(),
    }
}

fn print_report(o: &Options, m: &Monitor, t: &Timeline, ran: Duration) {
    let c = m.counts();
    let (failover, recovery) = m.timing_summary();
    println!("\n==== cohort-soak report ====");
    println!("ran {} (planned {}), seed {}", show(ran), show(o.duration), o.seed);
    println!(
        "faults: {} ({} kill -9, {} SIGSTOP/SIGCONT); recovered {}, superseded {}, missed {}",
        c.faults.total, c.faults.kill, c.faults.stop, c.faults.recovered, c.faults.superseded, c.faults.missed
    );
    println!("restarts: {}", c.restarts);
    println!("elections: {} (max term {})", c.microgrid.elections, c.microgrid.max_term);
    println!("leader failover after a kill or stop of the leader: {}", spread(&failover));
    for app in App::ALL {
        let xs = recovery.get(&app).map_or(&[][..], Vec::as_slice);
        println!("{} recovery after the restart or SIGCONT: {}", app.label(), spread(xs));
    }
    println!(
        "microgrid votes: {} yes, {} no, {} timeout, {} lost; actions carried out: {}",
        c.microgrid.votes.yes,
        c.microgrid.votes.no,
        c.microgrid.votes.timeout,
        c.microgrid.votes.lost,
        c.microgrid.actions_carried_out
    );
    let kinds: Vec<String> = c.estimator.records_per_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("estimator records: {}", kinds.join(", "));
    println!("memory (VmRSS, kB; a restarted actor starts a new row):");
    println!("  {:<22} {:>7} {:>7} {:>7} {:>7} {:>7}  verdict", "process", "pid", "samples", "first", "last", "max");
    for s in t.memory.series() {
        let verdict = match s.verdict(o.warmup) {
            memory::Verdict::TooShort => "too short to judge".to_owned(),
            memory::Verdict::Flat { first, last } => format!("flat ({first} → {last})"),
            memory::Verdict::Grew { first, last } => format!("GREW ({first} → {last})"),
        };
        let kbs: Vec<u64> = s.samples.iter().map(|x| x.1).collect();
        println!(
            "  {:<22} {:>7} {:>7} {:>7} {:>7} {:>7}  {verdict}",
            s.name,
            s.pid,
            kbs.len(),
            kbs.first().copied().unwrap_or(0),
            kbs.last().copied().unwrap_or(0),
            kbs.iter().max().copied().unwrap_or(0)
        );
    }
    if m.violations().is_empty() {
        println!("violations: none");
    } else {
        println!("violations: {}", m.violations().len());
        for v in m.violations() {
            println!("  {:.1}s {}: {}", m.secs(v.at_us), v.invariant, v.detail);
            for r in &v.records {
                println!("      {r}");
            }
        }
    }
}
