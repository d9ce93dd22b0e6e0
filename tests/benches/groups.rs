#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The groups benchmark: how fast groups form and replace a dead leader (member processes found
//! through discovery), and what a vote and a group message cost next to raw ZeroMQ.
//!
//! Run it with `cargo bench -p cohort-tests --bench groups` (about 7 minutes on 2 cores, of which
//! the idle cases take 4; `COHORT_BENCH_QUICK=1` for a smoke run of about 80 s with fewer
//! repetitions and shorter windows). Words after `--` pick kinds of cases: `formation`,
//! `failover`, `idle`, `votes`, `messages` (which takes `app messages` too), `app`. A discovery
//! daemon (memory backend) serves the process cases, and another the app cases, on a thread of
//! this process, on a free port of 127.0.0.1.
//!
//! Cases:
//!
//! - **formation**: N `cohort-probe group … --stamp` processes (N = 10, 50, 100; 20, 5 and 3
//!   repetitions, quick: 2, 1, 1; default timing: heartbeat 100 ms, elections 300–500 ms, peer
//!   timeout 1 s, no declared size) are started at once into a fresh group instance. Each prints
//!   `JOINED` once registered with discovery and `LEADER <id> <term>` at every leader change,
//!   stamped with the wall clock. Measured: from the last `JOINED` (and, for information, from
//!   just before the first process is started) to the moment every process's latest `LEADER`
//!   line names the same leader (the latest of those lines' stamps). Targets: 10 members and 100
//!   members ≤ 1 s in every repetition (50: information).
//! - **failover**: 5 probe processes with a declared size of 5, and 50 with a declared size of
//!   50. The leader's process is killed with SIGKILL (the wall clock is read just before);
//!   measured until every survivor's latest `LEADER` line names one new leader. A replacement
//!   process is then started; once all name one leader, the next kill comes a random fraction
//!   of a heartbeat later, so that it falls anywhere between two of the leader's heartbeats (at
//!   once, it would always come just after one: the slowest case). Default timing (50 kills at 5
//!   members, 20 at 50; quick: 10 and 3): targets median ≤ 500 ms and p99 ≤ 1 s; 5 members with
//!   a heartbeat of 20 ms (elections 60–100 ms, peer timeout 200 ms; 50 kills): target p99 ≤
//!   150 ms. p99 is the nearest rank, so with 50 kills or fewer it is the largest sample.
//! - **idle**: N probe processes (N = 10, 30, 50, 100; quick: 10, 100; `--no-lease`, so that the
//!   leader does not wake every 4 ms to report its lease) form a group with the default timing;
//!   from the last `JOINED` to one agreed leader is the formation time. After 2 s of settling,
//!   the members' CPU time (user + system, `/proc/<pid>/stat`) is read over 60 s of steady state
//!   (quick: 5 s), and the members whose latest `LEADER` line changed in that window are counted
//!   (0 in a steady group); a member process that exited fails the case. Printed: the CPU per
//!   member at each N (information), the ratio of the CPU per member at 100 to that at 10
//!   (issue 13's target: ≤ 1.5×; liveness traffic is linear in the group size), and the leader
//!   changes at 50 and 100 members (target: 0).
//! - **vote round trip**: 5 members in this process (each with its own port factory, hence
//!   its own ZeroMQ context, as separate processes have), wired to each other directly and
//!   driven by one loop that polls all their sockets; every member votes yes when asked. A
//!   follower asks for a majority vote on a value; measured from `request_vote` to its
//!   `VoteEnded`. Alongside, the same pattern over raw sockets driven the same way: requester
//!   DEALER → leader ROUTER (propose), leader PUB (call), members' DEALERs → ROUTER (ballots,
//!   the leader's own counted at once), leader PUB (announce) to the requester's SUB. The two
//!   run in alternating blocks of a tenth of the votes. Informational, with the ratio of the
//!   medians.
//! - **group messages**: one member sends 64-byte messages with `send`, 2 or 4 other members
//!   (a thread each) take them as an app driving a member does: poll the member's sockets, then
//!   take what `poll_with` lends (the target's case) or, for information, the events of
//!   `poll_into`; alongside, a raw PUB into raw SUBs over tcp loopback, each SUB in the best loop
//!   libzmq allows (poll, then take every waiting message without blocking). Both publishers
//!   have `ZMQ_XPUB_NODROP` and high-water marks of 1000, so nothing is lost (the counts are
//!   checked); raw sockets read and write batches of 256 KiB as members' do
//!   (`MESH_BATCH_SIZE`; libzmq's 8 KiB made raw PUB/SUB slower too). Every receiver, group or
//!   raw, reads every byte of each message it gets (a checksum), as an application reads what
//!   it receives: a raw subscriber that looked at one byte would skip the cache misses that
//!   reading a message costs any real consumer.
//!   `COHORT_BENCH_PEEK=1` makes every receiver look at the first byte only, as these cases did
//!   before. Rate: messages over the time from the first send to the last receiver seeing the
//!   end marker. CPU: the process's user + system time (`getrusage`; sender, receivers and every
//!   ZeroMQ I/O thread) from the first send until every receiver reported, per message sent.
//!   10 rounds of runs of 500,000 messages (quick: 3 of 50,000; about 70 s in all, 10 in a quick
//!   run): raw, group lent, group as events, and raw at the group frame's size (82 bytes), then
//!   the reverse, in turn; the ratio is the median of the rounds' throughput ratios of group
//!   (lent) to raw, shown with their spread (min–max). Target (issue 13): ratio ≥ 0.9. A group
//!   message is a data frame, sent bare (the ports' one-byte tag instead of their 14-byte
//!   header, then a tag and the 16-byte sender id: 18 bytes more than the raw payload on the
//!   wire); the ratio to raw PUB/SUB at the frame's size, also shown (information), tells what
//!   the frame's length costs apart from the receiving member's work.
//! - **app messages** (`groups/app.rs`): the same through the runtime, as an app sends and takes
//!   group messages: components in actors (threads of this process, a ZeroMQ context each), a
//!   64-byte CBOR struct sent with `Group::send` and decoded in `on_group`, 2 or 4 receivers;
//!   10 alternating pairs with raw PUB/SUB at 64 bytes, of 100,000 messages (quick: 3 of
//!   10,000). Information.
//!
//! Every process is killed and reaped when its case ends, also on failure (and dies with this
//! process: `PR_SET_PDEATHSIG`). The exit status is 0 even when a target is missed: this is a
//! report.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use cohort_discovery::{Daemon, DaemonThread, MemoryBackend, RegistryConfig};
use cohort_groups::{
    CommandError, Delivery, GroupConfig, GroupError, GroupEvent, GroupKey, GroupMember, MemberId, Outcome, Role,
    VoteKind, MESH_BATCH_SIZE,
};
use cohort_ports::{Addressing, Endpoint, Interface, PortFactory, Security, SocketOptions};
use cohort_tests::{stamp_of, unix_nanos};

#[path = "groups/app.rs"]
mod app;

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const APP: &str = "GroupBench";
/// How long anything expected may take before the case fails.
const GIVE_UP: Duration = Duration::from_secs(15);
const FORMATION_TARGET: Duration = Duration::from_secs(1);
/// The group sizes whose formation has a target.
const FORMATION_TARGETS: [usize; 2] = [10, 100];
/// Issue 13's targets for idle groups: CPU per member at 100 members at most this many times
/// that at 10, and no leader change in the window at these sizes.
const IDLE_CPU_RATIO: f64 = 1.5;
const IDLE_STEADY_SIZES: [usize; 2] = [50, 100];
const FAILOVER_MEDIAN: Duration = Duration::from_millis(500);
const FAILOVER_P99: Duration = Duration::from_secs(1);
const FAST_HEARTBEAT: Duration = Duration::from_millis(20);
const FAST_FAILOVER_P99: Duration = Duration::from_millis(150);
/// Size of a group message's payload (and of a raw one).
const PAYLOAD: usize = 64;
/// The size of a group data frame carrying [`PAYLOAD`] bytes: the bare frame's tag, the data
/// frame's tag and the sender's id come first. The third side of the message cases is raw
/// PUB/SUB at this size, so that the header's share of the gap shows.
const FRAME: usize = cohort_ports::wire::BARE_HEADER_LEN + cohort_groups::envelope::DATA_HEADER_LEN + PAYLOAD;
/// First payload byte of a warm-up message, a data message and the end marker.
const WARM: u8 = 0;
const DATA: u8 = 1;
const END: u8 = 2;
/// High-water marks of both sides of the message cases (the ports' default).
const HWM: i32 = 1000;

fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

// ---------------------------------------------------------------------------------------------
// Results.

#[derive(Clone, Copy)]
enum Stat {
    Median,
    P99,
}

/// A latency case: its samples and the bounds it must meet.
struct Latencies {
    what: String,
    samples: Vec<Duration>,
    /// Samples expected; fewer (with a failure) is not met.
    wanted: usize,
    bounds: Vec<(Stat, Duration)>,
    failure: Option<String>,
    /// Shown after the numbers.
    note: String,
}

impl Latencies {
    fn new(what: impl Into<String>, wanted: usize, bounds: &[(Stat, Duration)]) -> Latencies {
        Latencies {
            what: what.into(),
            samples: Vec::new(),
            wanted,
            bounds: bounds.to_vec(),
            failure: None,
            note: String::new(),
        }
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut sorted = self.samples.clone();
        sorted.sort();
        sorted
    }

    fn stat(&self, stat: Stat) -> Option<Duration> {
        let sorted = self.sorted();
        (!sorted.is_empty()).then(|| match stat {
            Stat::Median => percentile(&sorted, 50),
            Stat::P99 => percentile(&sorted, 99),
        })
    }

    /// `None` when the case has no target.
    fn met(&self) -> Option<bool> {
        if self.bounds.is_empty() {
            return None;
        }
        Some(
            self.failure.is_none()
                && self.samples.len() >= self.wanted
                && self.bounds.iter().all(|(stat, bound)| self.stat(*stat).is_some_and(|v| v <= *bound)),
        )
    }

    fn target_text(&self) -> String {
        if self.bounds.is_empty() {
            return "(information)".to_owned();
        }
        let parts: Vec<String> = self
            .bounds
            .iter()
            .map(|(stat, bound)| {
                let name = match stat {
                    Stat::Median => "median",
                    Stat::P99 => "p99",
                };
                format!("{name} ≤ {}", duration_text(*bound))
            })
            .collect();
        parts.join(", ")
    }

    fn line(&self) -> String {
        let mut line = format!("{:<51}", self.what);
        let sorted = self.sorted();
        if let (Some(median), Some(p99), Some(max)) =
            (self.stat(Stat::Median), self.stat(Stat::P99), sorted.last().copied())
        {
            line += &format!(
                " n={:<4} median {:>9}  p99 {:>9}  max {:>9}",
                sorted.len(),
                duration_text(median),
                duration_text(p99),
                duration_text(max)
            );
        }
        line += &format!("  {}", self.target_text());
        match self.met() {
            Some(true) => line += ": met",
            Some(false) => line += ": NOT met",
            None => {}
        }
        if !self.note.is_empty() {
            line += &format!("  [{}]", self.note);
        }
        if let Some(why) = &self.failure {
            line += &format!("  FAILED: {why}");
        }
        line
    }

    fn row(&self) -> Row {
        let text = |s: Option<Duration>| s.map_or_else(|| "—".to_owned(), duration_text);
        Row {
            case: self.what.clone(),
            median: text(self.stat(Stat::Median)),
            p99: text(self.stat(Stat::P99)),
            target: if self.bounds.is_empty() { "—".to_owned() } else { self.target_text() },
            met: match (self.met(), &self.failure) {
                (_, Some(_)) => "FAILED".to_owned(),
                (Some(true), None) => "yes".to_owned(),
                (Some(false), None) => "**no**".to_owned(),
                (None, None) => "info".to_owned(),
            },
        }
    }
}

/// A line of the summary table.
struct Row {
    case: String,
    median: String,
    p99: String,
    target: String,
    met: String,
}

/// The nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn duration_text(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.0} ms", us / 1e3)
    }
}

fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M msg/s", rate / 1e6)
    } else {
        format!("{:.0} k msg/s", rate / 1e3)
    }
}

fn median_f64(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(f64::NAN)
}

fn nanos_between(earlier: u128, later: u128) -> Duration {
    Duration::from_nanos(u64::try_from(later.saturating_sub(earlier)).unwrap_or(u64::MAX))
}

// ---------------------------------------------------------------------------------------------
// Member processes.

/// A `cohort-probe group` process and what it last said; killed and reaped when dropped.
struct Probe {
    child: Child,
    /// Its member id (from `JOINED`).
    id: Option<String>,
    /// The stamp of its `JOINED` line.
    joined: Option<u128>,
    /// The latest leader it named (`none` included), with the term and the stamp of that line.
    leader: Option<(String, u64, u128)>,
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The member processes of one group instance; all are killed and reaped when dropped.
struct Probes {
    args: Vec<String>,
    live: BTreeMap<u64, Probe>,
    next: u64,
    tx: Sender<(u64, String)>,
    rx: Receiver<(u64, String)>,
}

impl Probes {
    fn new(daemon: &str, instance: &str, options: &[&str]) -> Probes {
        let mut args: Vec<String> =
            ["group", daemon, APP, instance, "--stamp"].iter().map(|s| (*s).to_owned()).collect();
        args.extend(options.iter().map(|s| (*s).to_owned()));
        let (tx, rx) = channel();
        Probes { args, live: BTreeMap::new(), next: 0, tx, rx }
    }

    /// Starts one more member process; returns its serial number.
    fn spawn(&mut self) -> anyhow::Result<u64> {
        let mut command = Command::new(PROBE);
        command.args(&self.args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed; prctl is one. The probe then dies with the bench
        // even if the bench is killed outright (when no Drop runs).
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let mut child = command.spawn().with_context(|| format!("starting {PROBE}"))?;
        let stdout = child.stdout.take();
        let serial = self.next;
        self.next += 1;
        // Inserted before anything can fail, so the process is reaped in any case.
        self.live.insert(serial, Probe { child, id: None, joined: None, leader: None });
        let stdout = stdout.context("the probe has no standard output")?;
        let tx = self.tx.clone();
        thread::Builder::new().name(format!("probe-{serial}")).spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((serial, line)).is_err() {
                    break;
                }
            }
        })?;
        Ok(serial)
    }

    /// Kills a process with SIGKILL and reaps it; returns the wall clock just before the kill.
    fn kill(&mut self, serial: u64) -> u128 {
        let probe = self.live.remove(&serial);
        let at = unix_nanos();
        drop(probe);
        at
    }

    /// Takes the lines that arrive until `until`.
    fn read_until(&mut self, until: Instant) {
        while Instant::now() < until {
            self.pump(until);
        }
    }

    fn serial_of(&self, id: &str) -> Option<u64> {
        self.live.iter().find(|(_, p)| p.id.as_deref() == Some(id)).map(|(s, _)| *s)
    }

    /// Takes the lines that arrive until `until`, at least one if any comes; false if none.
    fn pump(&mut self, until: Instant) -> bool {
        let first = match self.rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        };
        let more: Vec<(u64, String)> = self.rx.try_iter().collect();
        for (serial, line) in std::iter::once(first).chain(more) {
            // Lines of killed processes may still come: they are ignored.
            let Some(probe) = self.live.get_mut(&serial) else { continue };
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["JOINED", id, _] => {
                    probe.id = Some(id.to_owned());
                    probe.joined = stamp_of(&line);
                }
                ["LEADER", leader, term, _] => {
                    if let (Some(stamp), Ok(term)) = (stamp_of(&line), term.parse()) {
                        probe.leader = Some((leader.to_owned(), term, stamp));
                    }
                }
                _ => {}
            }
        }
        true
    }

    /// Reads lines until `done` holds; fails after `within`, or when a process exits.
    fn wait_for<T>(&mut self, what: &str, within: Duration, done: impl Fn(&Probes) -> Option<T>) -> anyhow::Result<T> {
        let give_up = Instant::now() + within;
        loop {
            if let Some(value) = done(self) {
                return Ok(value);
            }
            ensure!(Instant::now() < give_up, "{what}: not within {within:?}\n{}", self.describe());
            if !self.pump(give_up.min(Instant::now() + Duration::from_millis(500))) {
                for (serial, probe) in &mut self.live {
                    if let Ok(Some(status)) = probe.child.try_wait() {
                        bail!("{what}: member process {serial} exited ({status})");
                    }
                }
            }
        }
    }

    /// The leader every live process names (and which is one of them), not `except`: its id,
    /// the highest term in those `LEADER` lines and the stamp of the latest of them.
    fn agreed(&self, except: Option<&str>) -> Option<(String, u64, u128)> {
        let mut leader: Option<&str> = None;
        let (mut term, mut latest) = (0, 0);
        for probe in self.live.values() {
            let (named, t, stamp) = probe.leader.as_ref()?;
            if leader.is_some_and(|l| l != named) {
                return None;
            }
            leader = Some(named);
            term = term.max(*t);
            latest = latest.max(*stamp);
        }
        let leader = leader?;
        let valid = leader != "none" && except != Some(leader) && self.serial_of(leader).is_some();
        valid.then(|| (leader.to_owned(), term, latest))
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (serial, p) in &self.live {
            out += &format!("  process {serial}: id {:?}, latest leader {:?}\n", p.id, p.leader.as_ref().map(|l| &l.0));
        }
        out
    }
}

/// xorshift64*, seeded from the clock: the kills' phases need not be reproducible.
struct Random(u64);

impl Random {
    fn new() -> Random {
        Random(u64::try_from(unix_nanos() % u128::from(u64::MAX)).unwrap_or(1) | 1)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn start_daemon() -> anyhow::Result<DaemonThread> {
    let mut config = RegistryConfig::new("bench");
    config.heartbeat_interval = Duration::from_millis(200);
    config.liveness_timeout = Duration::from_secs(1);
    let ctx = zmq::Context::new();
    let daemon = Daemon::bind(&ctx, "tcp://127.0.0.1:*", config, Box::new(MemoryBackend), log())?;
    Ok(daemon.spawn(ctx)?)
}

/// How long `n` fresh member processes may take to agree on a leader: starting 100 processes on
/// 2 cores takes seconds.
fn form_within(n: usize) -> Duration {
    GIVE_UP.max(Duration::from_millis(300) * u32::try_from(n).unwrap_or(u32::MAX))
}

/// Formation of `n` members, `reps` times: cases from the last JOINED and from the first spawn.
fn formation(daemon: &str, n: usize, reps: usize) -> [Latencies; 2] {
    let bounds: &[(Stat, Duration)] =
        if FORMATION_TARGETS.contains(&n) { &[(Stat::P99, FORMATION_TARGET)] } else { &[] };
    let mut joined = Latencies::new(format!("formation, {n} members: last JOINED → agreed"), reps, bounds);
    let mut spawned = Latencies::new(format!("formation, {n} members: first spawn → agreed"), reps, &[]);
    for rep in 0..reps {
        let instance = format!("formation-{n}-{rep}");
        let result = (|| -> anyhow::Result<()> {
            let mut probes = Probes::new(daemon, &instance, &[]);
            let start = unix_nanos();
            for _ in 0..n {
                probes.spawn()?;
            }
            let (_, _, agreed) = probes.wait_for("one leader named by all", form_within(n), |p| p.agreed(None))?;
            let last_joined = probes.live.values().filter_map(|p| p.joined).max().context("no JOINED")?;
            joined.samples.push(nanos_between(last_joined, agreed));
            spawned.samples.push(nanos_between(start, agreed));
            Ok(())
        })();
        if let Err(e) = result {
            joined.failure = Some(format!("{e:#}"));
            spawned.failure = Some(format!("{e:#}"));
            break;
        }
    }
    [joined, spawned]
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`; none once it is gone.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces) start at the state, field 3;
    // utime and stime are fields 14 and 15, in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|t| *t > 0)?;
    Some(Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / per_second))
}

/// What an idle group of `n` member processes costs: formation (from the last `JOINED`), then
/// over `window` of steady state, the CPU time of all members and the leader changes they saw.
struct Idle {
    n: usize,
    formed: Option<Duration>,
    /// Per member, in percent of one core.
    cpu_per_member: Option<f64>,
    /// `LEADER` lines printed during the window (0 in a steady group).
    leader_changes: usize,
    failure: Option<String>,
}

fn idle(daemon: &str, n: usize, window: Duration) -> Idle {
    let mut out = Idle { n, formed: None, cpu_per_member: None, leader_changes: 0, failure: None };
    let result = (|| -> anyhow::Result<()> {
        // Without the probes' lease reports: their 4 ms wakes in the leader are not the group's.
        let mut probes = Probes::new(daemon, &format!("idle-{n}"), &["--no-lease"]);
        for _ in 0..n {
            probes.spawn()?;
        }
        let (_, _, agreed) = probes.wait_for("one leader named by all", form_within(n), |p| p.agreed(None))?;
        let last_joined = probes.live.values().filter_map(|p| p.joined).max().context("no JOINED")?;
        out.formed = Some(nanos_between(last_joined, agreed));
        // Let discovery's pushes and the first heartbeats settle.
        probes.read_until(Instant::now() + Duration::from_secs(2));
        let before: BTreeMap<u64, Option<(String, u64, u128)>> =
            probes.live.iter().map(|(s, p)| (*s, p.leader.clone())).collect();
        let pids: Vec<u32> = probes.live.values().map(|p| p.child.id()).collect();
        let cpu_at = |pids: &[u32]| pids.iter().map(|pid| cpu_time(*pid).unwrap_or_default()).sum::<Duration>();
        let (start, cpu_start) = (Instant::now(), cpu_at(&pids));
        probes.read_until(start + window);
        let (elapsed, cpu) = (start.elapsed(), cpu_at(&pids).saturating_sub(cpu_start));
        let exited: Vec<String> = probes
            .live
            .iter_mut()
            .filter_map(|(serial, p)| p.child.try_wait().ok().flatten().map(|status| format!("{serial}: {status}")))
            .collect();
        out.cpu_per_member = Some(cpu.as_secs_f64() / elapsed.as_secs_f64() / n as f64 * 100.0);
        out.leader_changes = before
            .iter()
            .filter(|(serial, latest)| probes.live.get(serial).is_some_and(|p| p.leader != **latest))
            .count();
        ensure!(exited.is_empty(), "{} of {n} member processes exited: {}", exited.len(), exited.join(", "));
        Ok(())
    })();
    out.failure = result.err().map(|e| format!("{e:#}"));
    out
}

/// The line and the summary row of one idle case (information).
fn idle_report(case: &Idle, window: Duration) -> (String, Row) {
    let cpu = case.cpu_per_member.map_or_else(|| "—".to_owned(), |c| format!("{c:.2} %"));
    let formed = case.formed.map_or_else(|| "—".to_owned(), duration_text);
    let mut line = format!(
        "{:<51} formed {formed:>9}  idle CPU per member {cpu:>8} of a core  leader changes in {} s: {}",
        format!("idle group, {} members", case.n),
        window.as_secs(),
        case.leader_changes
    );
    if let Some(why) = &case.failure {
        line += &format!("  FAILED: {why}");
    }
    let row = Row {
        case: format!("idle {} members: formation / CPU per member / leader changes", case.n),
        median: format!("{formed} / {cpu}"),
        p99: case.leader_changes.to_string(),
        target: "—".to_owned(),
        met: if case.failure.is_some() { "FAILED".to_owned() } else { "info".to_owned() },
    };
    (line, row)
}

/// Issue 13's targets over the idle cases: the CPU per member at 100 members against 10, and no
/// leader change at 50 and 100 members. Each with its line, its row and whether it is met.
fn idle_targets(cases: &[Idle], window: Duration) -> Vec<(String, Row, bool)> {
    let mut out = Vec::new();
    let met_text = |ok: bool| if ok { "yes" } else { "**no**" }.to_owned();
    let size = |n: usize| cases.iter().find(|c| c.n == n);
    match (size(10), size(100)) {
        (Some(small), Some(large)) => {
            let what = "idle CPU per member, 100 vs 10 members";
            let target = format!("≤ {IDLE_CPU_RATIO:.1}×");
            let (text, ok) = match (small.cpu_per_member, large.cpu_per_member) {
                (Some(a), Some(b)) if a > 0.0 => {
                    let ratio = b / a;
                    (format!("{ratio:.2}× ({b:.2} % / {a:.2} %)"), ratio <= IDLE_CPU_RATIO)
                }
                _ => ("—".to_owned(), false),
            };
            let verdict = if ok { "met" } else { "NOT met" };
            out.push((
                format!("{what:<51} {text}  {target}: {verdict}"),
                Row { case: what.to_owned(), median: text, p99: "—".to_owned(), target, met: met_text(ok) },
                ok,
            ));
        }
        _ => {
            // Not both sizes run: the largest against the smallest, for information.
            let measured: Vec<(usize, f64)> = cases.iter().filter_map(|c| c.cpu_per_member.map(|p| (c.n, p))).collect();
            if let (Some((small, a)), Some((large, b))) = (measured.first(), measured.last()) {
                println!("idle CPU per member, {large} vs {small} members: {:.2}×  (information)", b / a);
            }
        }
    }
    for case in cases.iter().filter(|c| IDLE_STEADY_SIZES.contains(&c.n)) {
        let what = format!("idle group, {} members: leader changes in {} s", case.n, window.as_secs());
        let ok = case.failure.is_none() && case.leader_changes == 0;
        let verdict = if ok { "met" } else { "NOT met" };
        let mut line = format!("{what:<51} {}  target 0: {verdict}", case.leader_changes);
        if case.failure.is_some() {
            line += "  (the case FAILED, above)";
        }
        let row = Row {
            case: what,
            median: case.leader_changes.to_string(),
            p99: "—".to_owned(),
            target: "0".to_owned(),
            met: if case.failure.is_some() { "FAILED".to_owned() } else { met_text(ok) },
        };
        out.push((line, row, ok));
    }
    out
}

/// `kills` failovers of an `n`-member group with a declared size of `n`.
fn failover(daemon: &str, n: usize, kills: usize, heartbeat: Option<Duration>) -> Latencies {
    let (what, bounds) = match heartbeat {
        None => (
            format!("failover after kill -9, {n} members, default timing"),
            vec![(Stat::Median, FAILOVER_MEDIAN), (Stat::P99, FAILOVER_P99)],
        ),
        Some(h) => (
            format!("failover after kill -9, {n} members, heartbeat {} ms", h.as_millis()),
            vec![(Stat::P99, FAST_FAILOVER_P99)],
        ),
    };
    let mut case = Latencies::new(what, kills, &bounds);
    let heartbeat_ms = heartbeat.map(|h| h.as_millis().to_string());
    let expected = n.to_string();
    let mut options = vec!["--expected", expected.as_str()];
    if let Some(ms) = &heartbeat_ms {
        options.extend(["--heartbeat-ms", ms.as_str()]);
    }
    let instance = format!("failover-{n}-{}", heartbeat_ms.as_deref().unwrap_or("default"));
    let mut probes = Probes::new(daemon, &instance, &options);
    let mut spawned = n;
    let mut rounds = 0;
    let mut slowest: Option<(Duration, u64)> = None;
    let result = (|| -> anyhow::Result<()> {
        for _ in 0..n {
            probes.spawn()?;
        }
        let heartbeat = heartbeat.unwrap_or(GroupConfig::default().heartbeat);
        let mut random = Random::new();
        let all_name_one = format!("all {n} naming one leader");
        probes.wait_for("the first leader", form_within(n), |p| p.agreed(None))?;
        for _ in 0..kills {
            // The group agrees as soon as the newest member hears the leader's heartbeat:
            // killing at once would always kill just after one, the slowest case. A random
            // part of a heartbeat later, the kill falls anywhere between two, as a crash does.
            probes.read_until(Instant::now() + heartbeat.mul_f64(random.unit()));
            let (leader, term, _) = probes.wait_for(&all_name_one, GIVE_UP, |p| p.agreed(None))?;
            let serial = probes.serial_of(&leader).context("the leader's process")?;
            let killed = probes.kill(serial);
            let (_, new_term, agreed) =
                probes.wait_for("a new leader named by every survivor", GIVE_UP, |p| p.agreed(Some(&leader)))?;
            // One term per election round: more than one means a round without a winner.
            rounds += usize::from(new_term > term + 1);
            let took = nanos_between(killed, agreed);
            case.samples.push(took);
            if slowest.is_none_or(|(d, _)| took > d) {
                slowest = Some((took, new_term.saturating_sub(term)));
            }
            probes.spawn()?;
            spawned += 1;
            probes.wait_for(&all_name_one, GIVE_UP, |p| p.agreed(None))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        case.failure = Some(format!("{e:#}"));
    }
    case.note = format!("{spawned} processes; {rounds} of the failovers needed more than one election round");
    if let Some((took, terms)) = slowest {
        case.note += &format!("; the slowest ({}): {terms} round(s)", duration_text(took));
    }
    case
}

// ---------------------------------------------------------------------------------------------
// Members in this process.

fn factory(dir: &Path, actor: &str, options: SocketOptions) -> anyhow::Result<PortFactory> {
    let loopback = Interface::Address(std::net::Ipv4Addr::LOCALHOST.into());
    let addressing = Addressing::with_runtime_dir(&loopback, dir, actor)?;
    Ok(PortFactory::new(addressing, options, Security::None, log())?)
}

fn key(instance: &str) -> GroupKey {
    GroupKey {
        app: APP.to_owned(),
        group_type: "BenchGroup".to_owned(),
        instance: instance.to_owned(),
        message: "BenchMsg".to_owned(),
    }
}

/// Members of one group driven by one loop, wired to each other directly (as discovery would).
struct Mesh {
    members: Vec<GroupMember>,
    // Declared after the members, so they close first.
    _factories: Vec<PortFactory>,
}

impl Mesh {
    fn new(dir: &Path, instance: &str, n: usize) -> anyhow::Result<Mesh> {
        let factories = (0..n)
            .map(|i| factory(dir, &format!("{instance}-{i}"), SocketOptions::default()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut members = factories
            .iter()
            .map(|f| GroupMember::join(f, key(instance), GroupConfig::default(), log()))
            .collect::<Result<Vec<_>, _>>()?;
        let endpoints: Vec<Endpoint> = members.iter().map(|m| m.publisher_endpoint().clone()).collect();
        for m in &mut members {
            for e in &endpoints {
                m.add_peer(e)?;
            }
        }
        Ok(Mesh { members, _factories: factories })
    }

    /// Polls every member once, voting yes whenever asked; returns the events.
    fn poll_all(&mut self) -> anyhow::Result<Vec<(usize, GroupEvent)>> {
        let mut events = Vec::new();
        for (i, member) in self.members.iter_mut().enumerate() {
            for event in member.poll(Instant::now()) {
                if let GroupEvent::VoteRequested { vote, .. } = &event {
                    match member.cast_vote(*vote, true) {
                        // Decided (and forgotten) before this member's ballot.
                        Ok(()) | Err(GroupError::Command(CommandError::UnknownVote)) => {}
                        Err(e) => bail!("voting: {e}"),
                    }
                }
                events.push((i, event));
            }
        }
        Ok(events)
    }

    /// Waits until a socket is readable or the earliest deadline comes, at most `max`.
    fn wait(&self, max: Duration) -> anyhow::Result<()> {
        let now = Instant::now();
        let wake = self.members.iter().map(GroupMember::next_deadline).min().map_or(now + max, |d| d.min(now + max));
        // Rounded up to whole milliseconds, so as not to spin just before the deadline.
        let wait = wake.saturating_duration_since(now).as_micros().div_ceil(1000);
        let sockets: Vec<&zmq::Socket> = self.members.iter().flat_map(GroupMember::sockets).collect();
        let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        match zmq::poll(&mut items, i64::try_from(wait).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs until one member leads and every other follows it; returns the leader.
    fn elect(&mut self) -> anyhow::Result<usize> {
        let give_up = Instant::now() + GIVE_UP;
        loop {
            self.poll_all()?;
            let leaders: Vec<usize> =
                (0..self.members.len()).filter(|i| self.members[*i].core().role() == Role::Leader).collect();
            if let [l] = leaders[..] {
                let id = self.members[l].id();
                let all = self.members.iter().enumerate().all(|(i, m)| {
                    m.core().leader() == Some(id) && m.following() == if i == l { None } else { Some(id) }
                });
                if all {
                    return Ok(l);
                }
            }
            ensure!(Instant::now() < give_up, "no leader known to all within {GIVE_UP:?}");
            self.wait(Duration::from_millis(100))?;
        }
    }
}

/// A group of 5 in this process whose follower `requester` asks for votes.
struct GroupVotes {
    mesh: Mesh,
    requester: usize,
    round: u64,
}

impl GroupVotes {
    fn new(dir: &Path) -> anyhow::Result<GroupVotes> {
        let mut mesh = Mesh::new(dir, "votes", 5)?;
        let leader = mesh.elect()?;
        Ok(GroupVotes { mesh, requester: (leader + 1) % 5, round: 0 })
    }

    /// One majority vote: its round trip and whether it ended yes.
    fn vote(&mut self) -> anyhow::Result<(Duration, bool)> {
        self.round += 1;
        let requester = self.requester;
        let start = Instant::now();
        let vote = self.mesh.members[requester].request_vote(&self.round.to_le_bytes(), VoteKind::Majority, None)?;
        loop {
            // The events come out of the poll, before the wait: a vote that ended is seen at once.
            for (i, event) in self.mesh.poll_all()? {
                match event {
                    GroupEvent::VoteResult { vote: v, outcome, .. } if i == requester && v == vote => {
                        return Ok((start.elapsed(), outcome == Outcome::Yes));
                    }
                    GroupEvent::VoteLost { vote: v } if i == requester && v == vote => {
                        return Ok((start.elapsed(), false));
                    }
                    _ => {}
                }
            }
            ensure!(start.elapsed() < GIVE_UP, "vote {} did not end within {GIVE_UP:?}", self.round);
            self.mesh.wait(Duration::from_millis(100))?;
        }
    }
}

const PROPOSE: u8 = 1;
const CALL: u8 = 2;
const BALLOT: u8 = 3;
const ANNOUNCE: u8 = 4;

fn raw_message(kind: u8, n: u64) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&n.to_le_bytes());
    m
}

fn parse_raw(m: &[u8]) -> Option<(u8, u64)> {
    let (kind, rest) = m.split_first()?;
    Some((*kind, u64::from_le_bytes(rest.try_into().ok()?)))
}

/// The same pattern over raw sockets, each member with its own context: member 0 leads
/// (ROUTER + PUB), members 1–4 have a DEALER to the ROUTER and a SUB to the PUB; member 1 asks.
struct RawVotes {
    router: zmq::Socket,
    publisher: zmq::Socket,
    dealers: Vec<zmq::Socket>,
    subs: Vec<zmq::Socket>,
    round: u64,
    // Declared last, so the sockets close first.
    _contexts: Vec<zmq::Context>,
}

impl RawVotes {
    fn new() -> anyhow::Result<RawVotes> {
        let contexts: Vec<zmq::Context> = (0..5).map(|_| zmq::Context::new()).collect();
        let bound = |socket: &zmq::Socket| -> anyhow::Result<String> {
            socket.bind("tcp://127.0.0.1:*")?;
            socket.get_last_endpoint()?.map_err(|_| anyhow!("the bound endpoint is not UTF-8"))
        };
        let router = contexts[0].socket(zmq::ROUTER)?;
        let router_at = bound(&router)?;
        let publisher = contexts[0].socket(zmq::PUB)?;
        let publisher_at = bound(&publisher)?;
        let mut dealers = Vec::new();
        let mut subs = Vec::new();
        for ctx in &contexts[1..] {
            let dealer = ctx.socket(zmq::DEALER)?;
            dealer.connect(&router_at)?;
            let sub = ctx.socket(zmq::SUB)?;
            sub.set_subscribe(b"")?;
            sub.connect(&publisher_at)?;
            dealers.push(dealer);
            subs.push(sub);
        }
        // Until every SUB hears the PUB (a warm-up message a millisecond).
        let mut heard = [false; 4];
        let give_up = Instant::now() + GIVE_UP;
        while !heard.iter().all(|h| *h) {
            ensure!(Instant::now() < give_up, "the raw subscribers never joined");
            publisher.send(raw_message(0, 0), 0)?;
            let mut items: Vec<zmq::PollItem<'_>> = subs.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
            zmq::poll(&mut items, 1)?;
            for (i, sub) in subs.iter().enumerate() {
                while sub.recv_bytes(zmq::DONTWAIT).is_ok() {
                    heard[i] = true;
                }
            }
        }
        Ok(RawVotes { router, publisher, dealers, subs, round: 0, _contexts: contexts })
    }

    /// One vote: propose, call, ballots (a majority of 3 with the leader's own), announce.
    fn vote(&mut self) -> anyhow::Result<Duration> {
        const MAJORITY: usize = 3;
        self.round += 1;
        let n = self.round;
        let start = Instant::now();
        let mut yes = 0;
        self.dealers[0].send(raw_message(PROPOSE, n), 0)?;
        loop {
            while let Ok(frames) = self.router.recv_multipart(zmq::DONTWAIT) {
                match frames.last().and_then(|m| parse_raw(m)) {
                    Some((PROPOSE, v)) if v == n => {
                        self.publisher.send(raw_message(CALL, n), 0)?;
                        // The leader's own ballot.
                        yes = 1;
                    }
                    Some((BALLOT, v)) if v == n => {
                        yes += 1;
                        if yes == MAJORITY {
                            self.publisher.send(raw_message(ANNOUNCE, n), 0)?;
                        }
                    }
                    _ => {}
                }
            }
            for (i, sub) in self.subs.iter().enumerate() {
                while let Ok(m) = sub.recv_bytes(zmq::DONTWAIT) {
                    match parse_raw(&m) {
                        Some((CALL, v)) if v == n => self.dealers[i].send(raw_message(BALLOT, n), 0)?,
                        Some((ANNOUNCE, v)) if v == n && i == 0 => return Ok(start.elapsed()),
                        _ => {}
                    }
                }
            }
            ensure!(start.elapsed() < GIVE_UP, "raw vote {n} did not end within {GIVE_UP:?}");
            let mut items: Vec<zmq::PollItem<'_>> =
                std::iter::once(&self.router).chain(self.subs.iter()).map(|s| s.as_poll_item(zmq::POLLIN)).collect();
            zmq::poll(&mut items, 100)?;
        }
    }
}

/// `votes` timed votes of each side (after a tenth as many untimed), in ten alternating blocks.
fn votes_cases(dir: &Path, votes: usize) -> (Latencies, Latencies) {
    let mut group = Latencies::new("vote round trip, 5 members (group)", votes, &[]);
    let mut raw = Latencies::new("vote round trip, 5 members (raw ZeroMQ)", votes, &[]);
    let mut not_yes = 0;
    let result = (|| -> anyhow::Result<()> {
        let mut g = GroupVotes::new(dir)?;
        let mut r = RawVotes::new()?;
        let block = (votes / 10).max(1);
        for _ in 0..block {
            g.vote()?;
            r.vote()?;
        }
        // group, raw, raw, group, …: drift on a shared machine hits both alike.
        for b in 0..votes.div_ceil(block) {
            let count = block.min(votes - b * block);
            for group_first in [b % 2 == 0, b % 2 == 1] {
                for _ in 0..count {
                    if group_first {
                        let (took, yes) = g.vote()?;
                        group.samples.push(took);
                        not_yes += usize::from(!yes);
                    } else {
                        raw.samples.push(r.vote()?);
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        group.failure = Some(format!("{e:#}"));
        raw.failure = Some(format!("{e:#}"));
    } else if not_yes > 0 {
        group.failure = Some(format!("{not_yes} votes did not end yes"));
    }
    if let (Some(g), Some(r)) = (group.stat(Stat::Median), raw.stat(Stat::Median)) {
        group.note = format!("{:.2}× raw median", g.as_secs_f64() / r.as_secs_f64());
    }
    (group, raw)
}

// ---------------------------------------------------------------------------------------------
// Group messages against raw PUB/SUB.

/// The throughput ratio to raw PUB/SUB that group messages should reach (issue 13).
const MESSAGES_TARGET: f64 = 0.9;

/// What a receiving thread tells the sender.
enum Report {
    /// Its member's publisher (group only).
    Joined(Endpoint),
    /// It hears the sender.
    Ready,
    /// It saw the end marker after this many data messages.
    Done(u64, Instant),
    Failed(String),
}

/// Waits for one report per receiver; `between` runs before each wait, which lasts until the
/// instant it returns at most.
fn collect(
    reports: &Receiver<(usize, Report)>,
    k: usize,
    what: &str,
    mut between: impl FnMut() -> anyhow::Result<Instant>,
) -> anyhow::Result<Vec<Report>> {
    let give_up = Instant::now() + GIVE_UP;
    let mut got: Vec<Option<Report>> = (0..k).map(|_| None).collect();
    while got.iter().any(Option::is_none) {
        ensure!(Instant::now() < give_up, "{what}: not within {GIVE_UP:?}");
        let until = between()?.min(give_up);
        match reports.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((_, Report::Failed(why))) => bail!("{what}: {why}"),
            Ok((i, report)) => got[i] = Some(report),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("{what}: the receivers stopped"),
        }
    }
    Ok(got.into_iter().flatten().collect())
}

/// Whether the message cases' receivers look at the first byte of each message only
/// (`COHORT_BENCH_PEEK=1`) instead of reading every byte.
fn peek_only() -> bool {
    static PEEK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PEEK.get_or_init(|| std::env::var_os("COHORT_BENCH_PEEK").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// What every receiver of the message cases, group or raw, does with a message's bytes before
/// looking at its first byte: reads them all (a checksum), as an application reads what it
/// gets, unless `peek` (then nothing).
#[inline]
fn read_through(bytes: &[u8], peek: bool) {
    if !peek {
        std::hint::black_box(bytes.iter().fold(0u32, |sum, b| sum.wrapping_add(u32::from(*b))));
    }
}

fn payload(mark: u8) -> Vec<u8> {
    let mut data = vec![0xA5; PAYLOAD];
    data[0] = mark;
    data
}

fn no_drop_options() -> SocketOptions {
    SocketOptions { send_hwm: HWM, recv_hwm: HWM, publish_no_drop: true, ..SocketOptions::default() }
}

/// The CPU time this process has used so far, user and system, over all its threads (the
/// sender, the receivers and every ZeroMQ I/O thread).
fn process_cpu() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the struct it is given, which lives until the call returns.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// One run of a message case: its rate, and the CPU time the whole process used per message
/// sent (delivering it to every receiver included).
#[derive(Debug, Clone, Copy)]
struct Run {
    rate: f64,
    cpu: Duration,
}

impl Run {
    /// The run of `n` messages sent from `start` (when the process had used `cpu_before`) until
    /// the last receiver saw the end marker at `last`.
    fn new(n: u64, start: Instant, last: Instant, cpu_before: Duration) -> Run {
        let cpu = process_cpu().saturating_sub(cpu_before);
        Run { rate: n as f64 / (last - start).as_secs_f64(), cpu: cpu / u32::try_from(n).unwrap_or(u32::MAX) }
    }
}

/// One group member sends `n` messages to `k` others on threads.
fn group_pubsub(dir: &Path, round: usize, k: usize, n: u64, take: Take) -> anyhow::Result<Run> {
    let instance = format!("pubsub-{k}-{round}");
    let sender_factory = factory(dir, &format!("{instance}-s"), no_drop_options())?;
    let mut sender = GroupMember::join(&sender_factory, key(&instance), GroupConfig::default(), log())?;
    let sender_id = sender.id();
    let (tx, reports) = channel();
    let mut peers_tx = Vec::new();
    let mut threads = Vec::new();
    for i in 0..k {
        let (ptx, prx) = channel::<Vec<Endpoint>>();
        peers_tx.push(ptx);
        let (tx, dir, instance) = (tx.clone(), dir.to_owned(), instance.clone());
        // Named, so a profile tells the two kinds of receiver apart.
        threads.push(thread::Builder::new().name(format!("group-recv-{i}")).spawn(move || {
            if let Err(e) = group_receiver(&dir, &instance, i, sender_id, &prx, &tx, take) {
                let _ = tx.send((i, Report::Failed(format!("receiver {i}: {e:#}"))));
            }
        })?);
    }
    let result = (|| -> anyhow::Result<Run> {
        let mut endpoints = vec![sender.publisher_endpoint().clone()];
        for report in collect(&reports, k, "receivers joining", || Ok(Instant::now() + GIVE_UP))? {
            if let Report::Joined(e) = report {
                endpoints.push(e);
            }
        }
        for e in &endpoints {
            sender.add_peer(e)?;
        }
        for p in &peers_tx {
            p.send(endpoints.clone())?;
        }
        // The sender heartbeats until every receiver has heard it.
        collect(&reports, k, "receivers hearing the sender", || {
            sender.poll(Instant::now());
            Ok(sender.next_deadline())
        })?;
        let (data, end) = (payload(DATA), payload(END));
        let cpu_before = process_cpu();
        let start = Instant::now();
        for _ in 0..n {
            sender.send(&data)?;
        }
        sender.send(&end)?;
        let mut last = start;
        for report in collect(&reports, k, "receivers counting", || Ok(Instant::now() + GIVE_UP))? {
            if let Report::Done(count, at) = report {
                ensure!(count == n, "a receiver got {count} of {n} messages");
                last = last.max(at);
            }
        }
        Ok(Run::new(n, start, last, cpu_before))
    })();
    drop(peers_tx);
    for t in threads {
        let _ = t.join();
    }
    result
}

/// How a receiving member takes group messages.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    /// Lent, read in place (`GroupMember::poll_with`).
    Lent,
    /// As events (`GroupMember::poll_into`, one buffer for all).
    Events,
}

/// A receiving member, used as an app uses one: poll the member's sockets until one is readable
/// or its deadline comes, then take what `GroupMember::poll_with` lends (or the events of
/// `GroupMember::poll_into`).
fn group_receiver(
    dir: &Path,
    instance: &str,
    i: usize,
    sender: MemberId,
    peers: &Receiver<Vec<Endpoint>>,
    reports: &Sender<(usize, Report)>,
    take: Take,
) -> anyhow::Result<()> {
    let factory = factory(dir, &format!("{instance}-r{i}"), no_drop_options())?;
    let mut member = GroupMember::join(&factory, key(instance), GroupConfig::default(), log())?;
    reports.send((i, Report::Joined(member.publisher_endpoint().clone())))?;
    for e in peers.recv_timeout(GIVE_UP)? {
        member.add_peer(&e)?;
    }
    let give_up = Instant::now() + GIVE_UP;
    let mut count = 0;
    let mut events = Vec::new();
    let peek = peek_only();
    loop {
        let (mut heard_sender, mut ended) = (false, None);
        let mut message = |bytes: &[u8]| {
            read_through(bytes, peek);
            match bytes.first() {
                Some(&DATA) => count += 1,
                Some(&END) => ended = Some(Instant::now()),
                _ => {}
            }
        };
        match take {
            Take::Lent => member.poll_with(Instant::now(), |delivery| match delivery {
                Delivery::Message(lent) => message(lent.as_bytes()),
                Delivery::Event(GroupEvent::MemberJoined(m)) => heard_sender |= m == sender,
                Delivery::Event(_) => {}
            }),
            Take::Events => {
                member.poll_into(Instant::now(), &mut events);
                for event in &events {
                    match event {
                        GroupEvent::Message { payload, .. } => message(payload.as_bytes()),
                        GroupEvent::MemberJoined(m) => heard_sender |= *m == sender,
                        _ => {}
                    }
                }
                events.clear();
            }
        }
        if heard_sender {
            reports.send((i, Report::Ready))?;
        }
        if let Some(at) = ended {
            reports.send((i, Report::Done(count, at)))?;
            return Ok(());
        }
        ensure!(Instant::now() < give_up, "no end marker within {GIVE_UP:?} ({count} messages)");
        let wait = member.next_deadline().saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
        if wait == 0 {
            // Due now (more messages waiting than one poll reads): no need to ask the sockets.
            continue;
        }
        let mut items = member.sockets().map(|s| s.as_poll_item(zmq::POLLIN));
        match zmq::poll(&mut items, i64::try_from(wait).unwrap_or(100)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sets the int socket option `option` (number `name` in zmq.h), which the `zmq` crate has no
/// setter for.
fn set_int_option(socket: &mut zmq::Socket, option: i32, name: &str, value: i32) -> anyhow::Result<()> {
    // SAFETY: the socket pointer is valid while `socket` lives; the option takes an int.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(socket.as_mut_ptr(), option, (&value as *const i32).cast(), std::mem::size_of::<i32>())
    };
    ensure!(rc == 0, "setting {name} to {value}: {}", zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }));
    Ok(())
}

/// A raw socket as a member's are (besides no-drop and queue limits): batches of
/// [`MESH_BATCH_SIZE`] bytes, with which raw PUB/SUB is faster too (the best raw loop).
fn set_member_batches(socket: &mut zmq::Socket) -> anyhow::Result<()> {
    // zmq.h's ZMQ_IN_BATCH_SIZE and ZMQ_OUT_BATCH_SIZE, draft options.
    set_int_option(socket, 101, "ZMQ_IN_BATCH_SIZE", MESH_BATCH_SIZE)?;
    set_int_option(socket, 102, "ZMQ_OUT_BATCH_SIZE", MESH_BATCH_SIZE)
}

/// A raw PUB sends `n` messages of `size` bytes to `k` raw SUBs on threads.
fn raw_pubsub(k: usize, n: u64, size: usize) -> anyhow::Result<Run> {
    let ctx = zmq::Context::new();
    let mut publisher = ctx.socket(zmq::PUB)?;
    publisher.set_sndhwm(HWM)?;
    set_int_option(&mut publisher, zmq_sys::ZMQ_XPUB_NODROP as i32, "ZMQ_XPUB_NODROP", 1)?;
    set_member_batches(&mut publisher)?;
    publisher.bind("tcp://127.0.0.1:*")?;
    let endpoint = publisher.get_last_endpoint()?.map_err(|_| anyhow!("endpoint"))?;
    let (tx, reports) = channel();
    let mut threads = Vec::new();
    for i in 0..k {
        let (tx, endpoint) = (tx.clone(), endpoint.clone());
        threads.push(thread::Builder::new().name(format!("raw-recv-{i}")).spawn(move || {
            if let Err(e) = raw_receiver(&endpoint, i, &tx) {
                let _ = tx.send((i, Report::Failed(format!("raw receiver {i}: {e:#}"))));
            }
        })?);
    }
    let result = (|| -> anyhow::Result<Run> {
        let warm = payload(WARM);
        // A warm-up message a millisecond until every subscriber has one.
        collect(&reports, k, "raw subscribers joining", || {
            publisher.send(&warm[..], 0)?;
            Ok(Instant::now() + Duration::from_millis(1))
        })?;
        let (mut data, end) = (payload(DATA), payload(END));
        data.resize(size, 0xA5);
        let cpu_before = process_cpu();
        let start = Instant::now();
        for _ in 0..n {
            publisher.send(&data[..], 0)?;
        }
        publisher.send(&end[..], 0)?;
        let mut last = start;
        for report in collect(&reports, k, "raw subscribers counting", || Ok(Instant::now() + GIVE_UP))? {
            if let Report::Done(count, at) = report {
                ensure!(count == n, "a raw subscriber got {count} of {n} messages");
                last = last.max(at);
            }
        }
        Ok(Run::new(n, start, last, cpu_before))
    })();
    for t in threads {
        let _ = t.join();
    }
    result
}

/// A raw subscriber in the fastest loop libzmq allows a poller: wait until the socket is
/// readable, then take every message waiting without blocking.
fn raw_receiver(endpoint: &str, i: usize, reports: &Sender<(usize, Report)>) -> anyhow::Result<()> {
    let ctx = zmq::Context::new();
    let mut subscriber = ctx.socket(zmq::SUB)?;
    subscriber.set_rcvhwm(HWM)?;
    subscriber.set_subscribe(b"")?;
    set_member_batches(&mut subscriber)?;
    subscriber.connect(endpoint)?;
    let give_up = Instant::now() + GIVE_UP;
    let mut msg = zmq::Message::new();
    let mut count = 0;
    let mut ready = false;
    let peek = peek_only();
    loop {
        loop {
            match subscriber.recv(&mut msg, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => break,
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let bytes: &[u8] = &msg;
            read_through(bytes, peek);
            match bytes.first() {
                Some(&WARM) if !ready => {
                    ready = true;
                    reports.send((i, Report::Ready))?;
                }
                Some(&DATA) => count += 1,
                Some(&END) => {
                    reports.send((i, Report::Done(count, Instant::now())))?;
                    return Ok(());
                }
                _ => {}
            }
        }
        ensure!(Instant::now() < give_up, "no end marker within {GIVE_UP:?} ({count} messages)");
        let mut items = [subscriber.as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, 100) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The median, smallest and largest of `values` (NaN when there are none).
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let min = values.iter().copied().fold(f64::NAN, f64::min);
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    (median_f64(values.to_vec()), min, max)
}

fn cpu_text(cpu: f64) -> String {
    format!("{:.2} µs", cpu * 1e6)
}

/// The sides of a message case.
#[derive(Clone, Copy, PartialEq)]
enum MessageSide {
    /// Raw PUB/SUB with the group's payload, [`PAYLOAD`] bytes: the target's reference.
    Raw,
    /// Group messages, lent to the receivers (`poll_with`): the target's case.
    Group,
    /// Group messages taken as events (`poll_into`, information).
    GroupEvents,
    /// Raw PUB/SUB at the size of a group data frame, [`FRAME`] bytes (information).
    RawFrame,
}

/// One run of each side of a message case.
struct Round {
    raw: Run,
    group: Run,
    group_events: Run,
    raw_frame: Run,
}

/// The sides for `k` receivers over `rounds` rounds of runs, raw, group, group as events, raw
/// at the frame's size, and the reverse in turn (drift on a shared machine hits them alike); the
/// ratio is the median of the rounds' throughput ratios (group over raw), with their spread;
/// the same for group messages taken as events, and against raw at the frame's size, is shown
/// for information. Also returns whether it meets the target.
fn pubsub_case(dir: &Path, k: usize, n: u64, rounds: usize) -> (String, Row, Option<bool>) {
    const SIDES: [MessageSide; 4] =
        [MessageSide::Raw, MessageSide::Group, MessageSide::GroupEvents, MessageSide::RawFrame];
    let mut runs: Vec<Round> = Vec::new();
    let mut failure = None;
    for round in 0..rounds {
        let mut order = SIDES;
        if round % 2 == 1 {
            order.reverse();
        }
        let mut done: [Option<Run>; 4] = [None; 4];
        for (slot, side) in order.into_iter().enumerate() {
            let result = match side {
                MessageSide::Raw => raw_pubsub(k, n, PAYLOAD),
                MessageSide::Group => group_pubsub(dir, 2 * round, k, n, Take::Lent),
                MessageSide::GroupEvents => group_pubsub(dir, 2 * round + 1, k, n, Take::Events),
                MessageSide::RawFrame => raw_pubsub(k, n, FRAME),
            };
            match result {
                Ok(run) => done[slot] = Some(run),
                Err(e) => failure = Some(format!("{e:#}")),
            }
        }
        let side = |wanted: MessageSide| order.iter().position(|s| *s == wanted).and_then(|slot| done[slot]);
        if let (Some(raw), Some(group), Some(group_events), Some(raw_frame)) = (
            side(MessageSide::Raw),
            side(MessageSide::Group),
            side(MessageSide::GroupEvents),
            side(MessageSide::RawFrame),
        ) {
            runs.push(Round { raw, group, group_events, raw_frame });
        }
    }
    let column = |f: &dyn Fn(&Round) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let cpu = |run: &Run| run.cpu.as_secs_f64();
    let (group_rate, _, _) = spread(&column(&|r| r.group.rate));
    let (raw_rate, _, _) = spread(&column(&|r| r.raw.rate));
    let (group_cpu, _, _) = spread(&column(&|r| cpu(&r.group)));
    let (raw_cpu, _, _) = spread(&column(&|r| cpu(&r.raw)));
    let (ratio, low, high) = spread(&column(&|r| r.group.rate / r.raw.rate));
    let (cpu_ratio, _, _) = spread(&column(&|r| cpu(&r.group) / cpu(&r.raw)));
    let (events_ratio, events_low, events_high) = spread(&column(&|r| r.group_events.rate / r.raw.rate));
    let (events_cpu_ratio, _, _) = spread(&column(&|r| cpu(&r.group_events) / cpu(&r.raw)));
    let (frame_ratio, frame_low, frame_high) = spread(&column(&|r| r.group.rate / r.raw_frame.rate));
    let (frame_cpu_ratio, _, _) = spread(&column(&|r| cpu(&r.group) / cpu(&r.raw_frame)));
    let information = format!(
        "as events (poll_into): {events_ratio:.2} ({events_low:.2}–{events_high:.2}), CPU {events_cpu_ratio:.2}×; \
         against raw at the frame's {FRAME} B: {frame_ratio:.2} ({frame_low:.2}–{frame_high:.2}), CPU {frame_cpu_ratio:.2}×"
    );
    let what = format!("group messages 64 B, 1 → {k} members");
    let met = (failure.is_none() && !runs.is_empty()).then_some(ratio >= MESSAGES_TARGET);
    let mut line = format!(
        "{what:<51} n={n} ×{} rounds  group {} CPU {}/msg  raw {} CPU {}/msg  ratio {ratio:.2} ({low:.2}–{high:.2}), \
         CPU {cpu_ratio:.2}×  (target ≥ {MESSAGES_TARGET}: {}); {information}",
        runs.len(),
        rate_text(group_rate),
        cpu_text(group_cpu),
        rate_text(raw_rate),
        cpu_text(raw_cpu),
        match met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "—",
        }
    );
    if let Some(why) = &failure {
        line += &format!("  FAILED: {why}");
    }
    let row = Row {
        case: what,
        median: format!(
            "{} at {}/msg CPU (raw {} at {}/msg; {ratio:.2}×, {low:.2}–{high:.2}; {information})",
            rate_text(group_rate),
            cpu_text(group_cpu),
            rate_text(raw_rate),
            cpu_text(raw_cpu)
        ),
        p99: "—".to_owned(),
        target: format!("≥ {MESSAGES_TARGET}× raw"),
        met: match (&failure, met) {
            (Some(_), _) | (None, None) => "FAILED".to_owned(),
            (None, Some(true)) => "yes".to_owned(),
            (None, Some(false)) => "**no**".to_owned(),
        },
    };
    (line, row, met)
}

// ---------------------------------------------------------------------------------------------

fn main() {
    // As an actor process does; process-wide, so the raw sides run with it too.
    cohort_ports::allocator::tune_for_messages();
    let quick = std::env::var_os("COHORT_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    let (formations, kills, votes, messages, pairs) = if quick {
        ([(10, 2), (50, 1), (100, 1)], 10, 200, 50_000, 3)
    } else {
        ([(10, 20), (50, 5), (100, 3)], 50, 1000, 500_000, 10)
    };
    // Through the runtime: slower, so fewer messages per run.
    let app_messages = messages / 5;
    // Failovers of a large group: fewer kills, each restarts a member of a 50-process group.
    let (large_group, large_kills) = (50, if quick { 3 } else { 20 });
    let (idle_sizes, idle_window): (&[usize], Duration) =
        if quick { (&[10, 100], Duration::from_secs(5)) } else { (&[10, 30, 50, 100], Duration::from_secs(60)) };
    println!("groups: {} run; member processes are {PROBE}", if quick { "quick" } else { "full" });
    if peek_only() {
        println!("COHORT_BENCH_PEEK is set: the message cases' receivers look at each message's first byte only");
    }
    let started = Instant::now();
    let dir: PathBuf = std::env::temp_dir().join(format!("cohort-bench-groups-{}", std::process::id()));
    let mut rows = Vec::new();
    let mut met = Vec::new();
    // The idle targets' verdicts, added to `met` at the end (`report` borrows it until then).
    let mut idle_met = Vec::new();
    let mut report = |case: &Latencies, rows: &mut Vec<Row>| {
        println!("{}", case.line());
        rows.push(case.row());
        if let Some(m) = case.met() {
            met.push(m);
        }
    };

    // Words after `--` pick the kinds of cases (cargo passes `--bench` itself).
    let words: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |kind: &str| words.is_empty() || words.iter().any(|w| kind.contains(w.as_str()));
    if wants("formation") || wants("failover") || wants("idle") {
        match start_daemon() {
            Ok(daemon) => {
                if wants("formation") {
                    for (n, reps) in formations {
                        for case in formation(daemon.endpoint(), n, reps) {
                            report(&case, &mut rows);
                        }
                    }
                }
                if wants("failover") {
                    report(&failover(daemon.endpoint(), 5, kills, None), &mut rows);
                    report(&failover(daemon.endpoint(), large_group, large_kills, None), &mut rows);
                    report(&failover(daemon.endpoint(), 5, kills, Some(FAST_HEARTBEAT)), &mut rows);
                }
                if wants("idle") {
                    let mut cases = Vec::new();
                    for &n in idle_sizes {
                        let case = idle(daemon.endpoint(), n, idle_window);
                        let (line, row) = idle_report(&case, idle_window);
                        println!("{line}");
                        rows.push(row);
                        cases.push(case);
                    }
                    for (line, row, ok) in idle_targets(&cases, idle_window) {
                        println!("{line}");
                        rows.push(row);
                        idle_met.push(ok);
                    }
                }
            }
            Err(e) => println!("no discovery daemon, process cases skipped: {e:#}"),
        }
    }
    if wants("votes") {
        let (group, raw) = votes_cases(&dir, votes);
        report(&group, &mut rows);
        report(&raw, &mut rows);
    }
    if wants("messages") {
        for k in [2, 4] {
            let (line, row, ok) = pubsub_case(&dir, k, messages, pairs);
            println!("{line}");
            rows.push(row);
            met.extend(ok);
        }
    }
    if wants("app messages") {
        match start_daemon() {
            Ok(daemon) => {
                for k in [2, 4] {
                    let (line, row) = app::app_case(daemon.endpoint(), k, app_messages, pairs);
                    println!("{line}");
                    rows.push(row);
                }
            }
            Err(e) => println!("no discovery daemon, app message cases skipped: {e:#}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    met.extend(idle_met);
    println!();
    println!("| case | median | p99 | target | met |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!("| {} | {} | {} | {} | {} |", r.case, r.median, r.p99, r.target, r.met);
    }
    println!();
    println!(
        "{} of {} cases with a target meet it; {:.0} s",
        met.iter().filter(|m| **m).count(),
        met.len(),
        started.elapsed().as_secs_f64()
    );
}
