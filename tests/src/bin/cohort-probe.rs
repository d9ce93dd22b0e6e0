//! `cohort-probe`: a tiny actor for the multi-process tests, until the runtime's actors exist.
//!
//! ```text
//! cohort-probe provide DAEMON APP ACTOR MESSAGE   publish a counter on a global pub port
//! cohort-probe consume DAEMON APP ACTOR MESSAGE   subscribe through discovery and report
//! cohort-probe disco ENDPOINT HOST [REDIS_URL]    run a discovery daemon (memory, or Redis with a 1 s TTL);
//!                                                 secured with CURVE given `--keys-dir DIR`
//! cohort-probe group DAEMON APP INSTANCE          join a group instance through discovery and report its leader
//! cohort-probe blast DAEMON APP ACTOR MESSAGE     publish raw messages at a fixed rate and report the rate
//! cohort-probe count DAEMON APP ACTOR MESSAGE     subscribe through discovery and count what arrives
//! cohort-probe serve DAEMON APP ACTOR             answer `ProbeQuery#ProbeReply` requests (rep)
//! cohort-probe ask DAEMON APP ACTOR               send requests at a fixed rate; report every outcome
//! ```
//!
//! Each prints one line per event on standard output, flushed at once:
//! `READY <endpoint>`, `ADDED <endpoint>`, `REMOVED <endpoint>`, `MSG <n> FROM <endpoint>` (the
//! first message after each addition), so a test can follow what happens. The provider also
//! prints `PROVIDING <endpoint>` just before it registers its port.
//!
//! `group` joins instance INSTANCE of the group type `ProbeGroup` (message type `ProbeMsg`) as one
//! member, over tcp on 127.0.0.1: it registers the member's publisher with the daemon (`gpub`)
//! and looks up the others' (`gsub`), connecting to whatever discovery reports. It prints
//! `JOINED <member id>` once registered, then `LEADER <member id|none> <term>` each time the
//! leader it knows changes, and votes yes in every vote it is asked to vote in. It runs until
//! killed; SIGTERM ends it cleanly, after its last `HOLD` line.
//!
//! With `--stamp` (unless `--no-lease`), `group` also reports its leader lease. Each turn of its
//! loop samples `GroupMember::is_leader` (whether it leads with a lease that holds at that
//! moment), stamped with the wall clock; while its member leads, the loop wakes at least every
//! 4 ms so that the samples are dense (it sleeps as long as usual otherwise). It prints
//!
//! - `HOLD <from_ns> <to_ns>` when a run of samples that found it leading ends: `from_ns` is the
//!   stamp of the run's first such sample, `to_ns` of its last (both wall clock, nanoseconds
//!   since the Unix epoch). A run still open when SIGTERM comes is printed then; one cut short
//!   by SIGKILL is not. The runs of two members must never overlap.
//! - `LEASE <until_ns>` each time `GroupMember::leader_lease` changes to a new value (a lease
//!   renewed, as often as once per heartbeat): when the lease ends, on the wall clock (the
//!   monotonic deadline carried over as `now_wall + (until - now)`).
//!
//! The fault tests' commands (tcp on 127.0.0.1, global scope):
//!
//! - `blast` publishes `--size` bytes every `--every-us` µs, phase-locked (a late send does not
//!   move the later ones; sends that fell due meanwhile are made at once, unless the publisher is
//!   more than 1 s behind), and every `--report-ms` prints `SENT <total> <in this period>
//!   <longest send in µs>`: a publisher that never blocks keeps its rate and its sends short.
//! - `count` prints `ADDED <endpoint>` for each publisher discovery reports and, every
//!   `--report-ms`, `GOT <total> <last seq> <missing>`, where missing counts the gaps in the
//!   publisher's sequence numbers (messages dropped on the way).
//! - `serve` prints `READY <endpoint>` once registered, and answers each request with its value.
//! - `ask` sends a request every `--every-ms` with a deadline of `--timeout-ms` and prints `SENT
//!   <id>` for each, then exactly one outcome per request: `OK <id>` (the reply, which must carry
//!   the request's value) or `FAIL <id> <why>`; `UNSENT <why>` when a request could not be sent
//!   (no provider connected). When its standard input ends it stops sending, waits for the
//!   outstanding requests to end, and prints `DONE <sent> <ok> <failed>`.
//!
//! Options, after the arguments (for the discovery and groups benchmarks):
//!
//! ```text
//! --stamp             append the wall-clock time (CLOCK_REALTIME, nanoseconds since the Unix
//!                     epoch) to every line, as a last word: comparable between processes
//! --no-lease          group: no lease reports (`HOLD`, `LEASE`) with --stamp, and so no 4 ms
//!                     wakes while leading: for measuring the group's own CPU cost
//! --every-ms N        provide: publish every N ms (10)
//! --heartbeat-ms N    disco: ask clients to heartbeat every N ms (500); group: the group's
//!                     heartbeat, the other timings scaled with it (100: Cohort's defaults)
//! --expected N        group: the group's declared size (none: a majority of the known members)
//! --liveness-ms N     disco: drop a client silent for N ms (2000)
//! --ttl-ms N          disco: the TTL of the Redis entries (1000)
//! --size N            blast: bytes per message (1024)
//! --every-us N        blast: publish every N µs (1000)
//! --report-ms N       blast, count: report every N ms (100)
//! --timeout-ms N      ask: the deadline of each request (1000)
//! ```

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use cohort_discovery::{
    ClientConfig, Daemon, DaemonSecurity, DiscoveryClient, MemoryBackend, RedisBackend, RedisConfig, RegistryConfig,
};
use cohort_groups::{CommandError, GroupConfig, GroupError, GroupEvent, GroupKey, GroupMember, MemberId, Role};
use cohort_ports::{Addressing, Interface, PortFactory, PortKind, PortSpec, Response, Scope, Security, SocketOptions};

/// What the options after the arguments ask for.
#[derive(Debug, Clone)]
struct Options {
    /// `disco`: the key directory of a daemon secured with CURVE (`None`: not secured).
    keys_dir: Option<std::path::PathBuf>,
    stamp: bool,
    /// `group --stamp`: leave out the lease reports.
    no_lease: bool,
    every: Duration,
    /// `None`: the command's own default.
    heartbeat: Option<Duration>,
    liveness: Duration,
    ttl: Duration,
    expected: Option<usize>,
    size: usize,
    every_us: Duration,
    report: Duration,
    timeout: Duration,
}

impl Options {
    /// Splits `args` into positional arguments and options.
    fn parse(args: &[String]) -> anyhow::Result<(Vec<String>, Options)> {
        let mut options = Options {
            keys_dir: None,
            stamp: false,
            no_lease: false,
            every: Duration::from_millis(10),
            heartbeat: None,
            liveness: Duration::from_secs(2),
            ttl: Duration::from_millis(1000),
            expected: None,
            size: 1024,
            every_us: Duration::from_micros(1000),
            report: Duration::from_millis(100),
            timeout: Duration::from_millis(1000),
        };
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut number = || -> anyhow::Result<u64> {
                let value = it.next().with_context(|| format!("{arg} needs a number"))?;
                let n: u64 = value.parse().with_context(|| format!("{arg} {value}: not a number"))?;
                ensure!(n > 0, "{arg} must be at least 1");
                Ok(n)
            };
            match arg.as_str() {
                "--keys-dir" => options.keys_dir = Some(it.next().context("--keys-dir needs a directory")?.into()),
                "--stamp" => options.stamp = true,
                "--no-lease" => options.no_lease = true,
                "--every-ms" => options.every = Duration::from_millis(number()?),
                "--heartbeat-ms" => options.heartbeat = Some(Duration::from_millis(number()?)),
                "--liveness-ms" => options.liveness = Duration::from_millis(number()?),
                "--ttl-ms" => options.ttl = Duration::from_millis(number()?),
                "--expected" => options.expected = Some(usize::try_from(number()?)?),
                "--size" => options.size = usize::try_from(number()?)?,
                "--every-us" => options.every_us = Duration::from_micros(number()?),
                "--report-ms" => options.report = Duration::from_millis(number()?),
                "--timeout-ms" => options.timeout = Duration::from_millis(number()?),
                other if other.starts_with("--") => {
                    bail!("unknown option {other}; see the doc comment of cohort-probe")
                }
                _ => positional.push(arg.clone()),
            }
        }
        Ok((positional, options))
    }

    /// Prints `line`, stamped if asked.
    fn say(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ =
            if self.stamp { writeln!(out, "{line} {}", cohort_tests::unix_nanos()) } else { writeln!(out, "{line}") };
        let _ = out.flush();
    }
}

fn logger() -> slog::Logger {
    use slog::Drain as _;
    let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
    slog::Logger::root(slog_term::FullFormat::new(decorator).build().fuse(), slog::o!())
}

fn factory(app: &str, actor: &str) -> anyhow::Result<PortFactory> {
    let dir = std::env::temp_dir().join(format!("cohort-probe-{}", std::process::id()));
    let addressing = Addressing::with_runtime_dir(&Interface::Auto, dir, actor)?;
    let _ = app;
    Ok(PortFactory::new(addressing, SocketOptions::default(), Security::None, logger())?)
}

fn client(daemon: &str, app: &str, actor: &str) -> anyhow::Result<DiscoveryClient> {
    let mut config = ClientConfig::new(app, actor);
    config.daemon = daemon.to_owned();
    config.request_timeout = Duration::from_secs(5);
    Ok(DiscoveryClient::connect(&zmq::Context::new(), config, logger())?)
}

fn wait(socket: &zmq::Socket, until: Instant) -> anyhow::Result<()> {
    // Rounded up to whole milliseconds, so as not to spin just before `until`.
    let left = until.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    match zmq::poll(&mut items, i64::try_from(left).unwrap_or(i64::MAX)) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn provide(o: &Options, daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = factory(app, actor)?;
    let mut publisher = factory.publisher(&PortSpec::new("probe", "out", PortKind::Pub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    o.say(&format!("PROVIDING {}", publisher.endpoint()));
    disco.provide("probe.out", PortKind::Pub, message, Scope::Global, publisher.endpoint())?;
    o.say(&format!("READY {}", publisher.endpoint()));
    let mut n: u64 = 0;
    let mut next = Instant::now();
    loop {
        if Instant::now() >= next {
            n += 1;
            publisher.send(&n)?;
            next = Instant::now() + o.every;
        }
        disco.poll()?;
        wait(disco.socket(), next.min(disco.next_deadline()))?;
    }
}

fn consume(o: &Options, daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = factory(app, actor)?;
    let mut sub = factory.subscriber(&PortSpec::new("probe", "in", PortKind::Sub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    let mut fresh = Vec::new();
    for endpoint in disco.lookup("probe.in", PortKind::Sub, message, Scope::Global)? {
        sub.add_endpoint(&endpoint)?;
        o.say(&format!("ADDED {endpoint}"));
        fresh.push(endpoint);
    }
    o.say("READY");
    loop {
        for update in disco.poll()? {
            for endpoint in update.added {
                sub.add_endpoint(&endpoint)?;
                o.say(&format!("ADDED {endpoint}"));
                fresh.push(endpoint);
            }
            for endpoint in update.removed {
                sub.remove_endpoint(&endpoint)?;
                fresh.retain(|e| *e != endpoint);
                o.say(&format!("REMOVED {endpoint}"));
            }
        }
        while let Some(m) = sub.recv::<u64>()? {
            if !fresh.is_empty() {
                // One provider in these tests: the first message after an addition is its.
                o.say(&format!("MSG {} FROM {}", m.value, fresh.remove(0)));
            }
        }
        let until = disco.next_deadline().min(Instant::now() + Duration::from_millis(10));
        let mut items = [disco.socket().as_poll_item(zmq::POLLIN), sub.socket().as_poll_item(zmq::POLLIN)];
        let left = until.saturating_duration_since(Instant::now());
        match zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn disco(o: &Options, endpoint: &str, host: &str, redis: Option<&str>) -> anyhow::Result<()> {
    let log = logger();
    let mut config = RegistryConfig::new(host);
    config.heartbeat_interval = o.heartbeat.unwrap_or(Duration::from_millis(500));
    config.liveness_timeout = o.liveness;
    let backend: Box<dyn cohort_discovery::Backend + Send> = match redis {
        None => Box::new(MemoryBackend),
        Some(url) => {
            let mut redis = RedisConfig::new(host);
            redis.url = url.to_owned();
            redis.ttl = o.ttl;
            Box::new(RedisBackend::connect(redis, log.clone())?)
        }
    };
    let security = o.keys_dir.clone().map_or(DaemonSecurity::None, DaemonSecurity::keys_dir);
    let ctx = zmq::Context::new();
    let mut daemon = Daemon::bind_with(&ctx, endpoint, config, backend, &security, log)?;
    o.say(&format!("READY {}", daemon.endpoint()));
    let stop = AtomicBool::new(false);
    daemon.run(&stop)?;
    Ok(())
}

/// The group type and message type of the `group` command's group.
const GROUP_TYPE: &str = "ProbeGroup";
const GROUP_MESSAGE: &str = "ProbeMsg";

fn member_text(id: &MemberId) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

/// How long the `group` loop sleeps at most while its member leads, with `--stamp`: its
/// `is_leader` samples are at most about this far apart (and the first false one comes at most
/// this long after the lease ran out).
const LEADING_WAKE: Duration = Duration::from_millis(4);

/// Set by SIGTERM: the `group` loop ends.
static TERMINATED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    TERMINATED.store(true, Ordering::Relaxed);
}

/// Blocks (`true`) or unblocks SIGTERM in the calling thread. Threads started while it is blocked
/// (ZeroMQ's I/O threads) keep it blocked, so SIGTERM interrupts the main thread's poll.
fn mask_sigterm(block: bool) -> anyhow::Result<()> {
    let how = if block { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
    // SAFETY: the set is initialised by sigemptyset before use; pthread_sigmask only changes
    // this thread's signal mask.
    let rc = unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut())
    };
    ensure!(rc == 0, "pthread_sigmask: {}", std::io::Error::from_raw_os_error(rc));
    Ok(())
}

/// Makes SIGTERM set [`TERMINATED`] instead of ending the process.
fn catch_sigterm() -> anyhow::Result<()> {
    let handler: extern "C" fn(libc::c_int) = on_sigterm;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    let previous = unsafe { libc::signal(libc::SIGTERM, handler as libc::sighandler_t) };
    ensure!(previous != libc::SIG_ERR, "signal(SIGTERM): {}", std::io::Error::last_os_error());
    Ok(())
}

/// The wall-clock time (nanoseconds since the Unix epoch) of a monotonic instant.
fn wall_of(at: Instant) -> u128 {
    let (now, wall) = (Instant::now(), cohort_tests::unix_nanos());
    if at >= now {
        wall + (at - now).as_nanos()
    } else {
        wall.saturating_sub((now - at).as_nanos())
    }
}

/// The lease reports of `group --stamp`: runs of samples that found the member leading
/// (`HOLD`) and new lease deadlines (`LEASE`).
#[derive(Debug, Default)]
struct LeaseReport {
    /// The stamps of the first and the latest sample of the open run.
    run: Option<(u128, u128)>,
    /// The lease last seen.
    lease: Option<Instant>,
}

impl LeaseReport {
    /// Samples `member.is_leader()` (ending the open run, with its `HOLD` line, if it no longer
    /// leads) and reports a new lease; returns the sample.
    fn sample(&mut self, o: &Options, member: &GroupMember) -> bool {
        let at = cohort_tests::unix_nanos();
        let leading = member.is_leader();
        if leading {
            let from = self.run.map_or(at, |(from, _)| from);
            self.run = Some((from, at));
        } else {
            self.end(o);
        }
        let lease = member.leader_lease();
        if lease != self.lease {
            self.lease = lease;
            if let Some(until) = lease {
                o.say(&format!("LEASE {}", wall_of(until)));
            }
        }
        leading
    }

    /// Ends the open run, if any, with its `HOLD` line.
    fn end(&mut self, o: &Options) {
        if let Some((from, to)) = self.run.take() {
            o.say(&format!("HOLD {from} {to}"));
        }
    }
}

/// Joins one group instance through discovery and reports the leader it knows (and with
/// `--stamp` its lease) until killed or terminated.
fn group(o: &Options, daemon: &str, app: &str, instance: &str) -> anyhow::Result<()> {
    // ZeroMQ's threads start with the first sockets, below: they inherit the blocked SIGTERM,
    // which only this thread takes (from the moment it unblocks it, before its loop).
    mask_sigterm(true)?;
    catch_sigterm()?;
    // Tcp only: no ipc files. Probes share the (empty) runtime directory, so killed probes
    // leave nothing behind.
    let dir = std::env::temp_dir().join("cohort-probe-group");
    let actor = format!("group-{}", std::process::id());
    let loopback = Interface::Address(std::net::Ipv4Addr::LOCALHOST.into());
    let addressing = Addressing::with_runtime_dir(&loopback, dir, &actor)?;
    let factory = PortFactory::new(addressing, SocketOptions::default(), Security::None, logger())?;
    let key = GroupKey {
        app: app.to_owned(),
        group_type: GROUP_TYPE.to_owned(),
        instance: instance.to_owned(),
        message: GROUP_MESSAGE.to_owned(),
    };
    let messages = key.service_messages();
    let mut config = GroupConfig::default();
    if let Some(heartbeat) = o.heartbeat {
        config = config.with_heartbeat(heartbeat);
    }
    config.expected_size = o.expected;
    let mut member = GroupMember::join(&factory, key, config, logger())?;
    let mut disco = client(daemon, app, &actor)?;
    disco.provide("probe.gpub", PortKind::GroupPub, &messages, Scope::Global, member.publisher_endpoint())?;
    for endpoint in disco.lookup("probe.gsub", PortKind::GroupSub, &messages, Scope::Global)? {
        member.add_peer(&endpoint)?;
    }
    o.say(&format!("JOINED {}", member_text(&member.id())));
    mask_sigterm(false)?;
    let mut shown: Option<MemberId> = None;
    let mut lease = LeaseReport::default();
    let report_lease = o.stamp && !o.no_lease;
    while !TERMINATED.load(Ordering::Relaxed) {
        for update in disco.poll()? {
            for endpoint in &update.added {
                member.add_peer(endpoint)?;
            }
            for endpoint in &update.removed {
                member.remove_peer(endpoint)?;
            }
        }
        for event in member.poll(Instant::now()) {
            if let GroupEvent::VoteRequested { vote, .. } = event {
                match member.cast_vote(vote, true) {
                    // Decided (and forgotten) before this member's ballot: nothing to do.
                    Ok(()) | Err(GroupError::Command(CommandError::UnknownVote)) => {}
                    Err(e) => eprintln!("cannot vote: {e}"),
                }
            }
        }
        let leading = report_lease && lease.sample(o, &member);
        let leader = member.core().leader();
        if leader != shown {
            shown = leader;
            let name = leader.as_ref().map_or_else(|| "none".to_owned(), member_text);
            o.say(&format!("LEADER {name} {}", member.core().term()));
        }
        let mut until = disco.next_deadline().min(member.next_deadline());
        if report_lease && (leading || member.core().role() == Role::Leader) {
            until = until.min(Instant::now() + LEADING_WAKE);
        }
        // Rounded up to whole milliseconds, so as not to spin just before `until`.
        let left = until.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
        let sockets = member.sockets();
        let mut items: Vec<zmq::PollItem<'_>> = std::iter::once(disco.socket())
            .chain(sockets.iter().copied())
            .map(|s| s.as_poll_item(zmq::POLLIN))
            .collect();
        match zmq::poll(&mut items, i64::try_from(left).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    lease.end(o);
    Ok(())
}

/// A port factory binding global ports on 127.0.0.1, with a shared (empty) runtime directory.
fn loopback_factory(actor: &str) -> anyhow::Result<PortFactory> {
    let dir = std::env::temp_dir().join("cohort-probe-loopback");
    let loopback = Interface::Address(std::net::Ipv4Addr::LOCALHOST.into());
    let addressing = Addressing::with_runtime_dir(&loopback, dir, actor)?;
    Ok(PortFactory::new(addressing, SocketOptions::default(), Security::None, logger())?)
}

/// Polls `sockets` until `until` (rounded up to whole milliseconds).
fn wait_any(sockets: &[&zmq::Socket], until: Instant) -> anyhow::Result<()> {
    let left = until.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
    let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
    match zmq::poll(&mut items, i64::try_from(left).unwrap_or(i64::MAX)) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Publishes raw messages at a fixed, phase-locked rate and reports how many it sent and how long
/// the longest send took, per report period.
fn blast(o: &Options, daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = loopback_factory(actor)?;
    let mut publisher = factory.publisher(&PortSpec::new("probe", "out", PortKind::Pub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    disco.provide("probe.out", PortKind::Pub, message, Scope::Global, publisher.endpoint())?;
    o.say(&format!("READY {}", publisher.endpoint()));
    let payload = vec![0x5a_u8; o.size];
    let (mut total, mut in_period, mut longest) = (0_u64, 0_u64, Duration::ZERO);
    let start = Instant::now();
    let (mut next, mut report) = (start, start + o.report);
    loop {
        let now = Instant::now();
        while now >= next {
            let before = Instant::now();
            publisher.send_bytes(&payload)?;
            longest = longest.max(before.elapsed());
            total += 1;
            in_period += 1;
            next += o.every_us;
            if now.saturating_duration_since(next) > Duration::from_secs(1) {
                // Far behind (the process was stopped): skip the missed sends, keep the phase.
                let behind = (now - next).as_nanos() / o.every_us.as_nanos().max(1);
                next += o.every_us * u32::try_from(behind + 1).unwrap_or(u32::MAX);
            }
        }
        if now >= report {
            o.say(&format!("SENT {total} {in_period} {}", longest.as_micros()));
            (in_period, longest) = (0, Duration::ZERO);
            // One report per period, even after a hiccup longer than a period.
            while report <= now {
                report += o.report;
            }
        }
        disco.poll()?;
        let until = next.min(report).min(disco.next_deadline());
        let left = until.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            // Poll waits whole milliseconds: sleep shorter waits (discovery is polled next round).
            std::thread::sleep(left);
        } else {
            wait_any(&[disco.socket()], until)?;
        }
    }
}

/// Subscribes through discovery and reports how many messages arrived and how many the
/// publisher's sequence numbers say are missing.
fn count(o: &Options, daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = loopback_factory(actor)?;
    let mut sub = factory.subscriber(&PortSpec::new("probe", "in", PortKind::Sub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    for endpoint in disco.lookup("probe.in", PortKind::Sub, message, Scope::Global)? {
        sub.add_endpoint(&endpoint)?;
        o.say(&format!("ADDED {endpoint}"));
    }
    o.say("READY");
    let (mut total, mut last, mut missing) = (0_u64, 0_u64, 0_u64);
    let mut report = Instant::now() + o.report;
    loop {
        for update in disco.poll()? {
            for endpoint in update.added {
                sub.add_endpoint(&endpoint)?;
                o.say(&format!("ADDED {endpoint}"));
            }
            for endpoint in update.removed {
                sub.remove_endpoint(&endpoint)?;
                o.say(&format!("REMOVED {endpoint}"));
            }
        }
        while let Some(m) = sub.recv_bytes()? {
            if last > 0 && m.seq > last + 1 {
                missing += m.seq - last - 1;
            }
            last = m.seq;
            total += 1;
        }
        let now = Instant::now();
        if now >= report {
            o.say(&format!("GOT {total} {last} {missing}"));
            // One report per period, even after a hiccup longer than a period.
            while report <= now {
                report += o.report;
            }
        }
        wait_any(&[disco.socket(), sub.socket()], report.min(disco.next_deadline()))?;
    }
}

/// The request and reply types of `serve` and `ask`.
const QUERY: &str = "ProbeQuery";
const REPLY: &str = "ProbeReply";

/// Answers every request with its value.
fn serve(o: &Options, daemon: &str, app: &str, actor: &str) -> anyhow::Result<()> {
    let factory = loopback_factory(actor)?;
    let spec = PortSpec::new("probe", "answer", PortKind::Rep, Scope::Global, QUERY).with_reply(REPLY);
    let mut replier = factory.replier(&spec)?;
    let mut disco = client(daemon, app, actor)?;
    let messages = format!("{QUERY}#{REPLY}");
    disco.provide("probe.answer", PortKind::Rep, &messages, Scope::Global, replier.endpoint())?;
    o.say(&format!("READY {}", replier.endpoint()));
    loop {
        disco.poll()?;
        while let Some(request) = replier.recv::<u64>()? {
            replier.reply(&request.token, &request.message.value)?;
        }
        wait_any(&[disco.socket(), replier.socket()], disco.next_deadline())?;
    }
}

/// Sends a request every `--every-ms` until standard input ends, and reports exactly one outcome
/// per request sent.
fn ask(o: &Options, daemon: &str, app: &str, actor: &str) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    let stop = Arc::new(AtomicBool::new(false));
    let stdin_ended = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        stdin_ended.store(true, Ordering::Relaxed);
    });
    let factory = loopback_factory(actor)?;
    let spec = PortSpec::new("probe", "ask", PortKind::Req, Scope::Global, QUERY).with_reply(REPLY);
    let mut requester = factory.requester(&spec)?;
    let mut disco = client(daemon, app, actor)?;
    let messages = format!("{QUERY}#{REPLY}");
    for endpoint in disco.lookup("probe.ask", PortKind::Req, &messages, Scope::Global)? {
        requester.add_endpoint(&endpoint)?;
        o.say(&format!("ADDED {endpoint}"));
    }
    o.say("READY");
    // The value each outstanding request carries, keyed by its id.
    let mut outstanding: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut sent, mut ok, mut failed, mut value) = (0_u64, 0_u64, 0_u64, 0_u64);
    let mut next = Instant::now();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        for update in disco.poll()? {
            for endpoint in update.added {
                requester.add_endpoint(&endpoint)?;
                o.say(&format!("ADDED {endpoint}"));
            }
            for endpoint in update.removed {
                requester.remove_endpoint(&endpoint)?;
                o.say(&format!("REMOVED {endpoint}"));
            }
        }
        if !stopping && Instant::now() >= next {
            value += 1;
            match requester.request_within(&value, o.timeout) {
                Ok(id) => {
                    outstanding.insert(id.0, value);
                    sent += 1;
                    o.say(&format!("SENT {}", id.0));
                }
                Err(e) => o.say(&format!("UNSENT {e}")),
            }
            next += o.every;
        }
        while let Some(response) = requester.recv::<u64>()? {
            let id = response.id().0;
            let Some(asked) = outstanding.remove(&id) else {
                bail!("a second outcome for request {id}: {response:?}");
            };
            match response {
                Response::Reply { message, .. } if message.value == asked => {
                    ok += 1;
                    o.say(&format!("OK {id}"));
                }
                Response::Reply { message, .. } => bail!("request {id} asked {asked} and got {}", message.value),
                Response::Failed { error, .. } => {
                    failed += 1;
                    o.say(&format!("FAIL {id} {error:?}"));
                }
            }
        }
        if stopping && outstanding.is_empty() {
            o.say(&format!("DONE {sent} {ok} {failed}"));
            return Ok(());
        }
        let mut until = disco.next_deadline().min(Instant::now() + Duration::from_millis(50));
        if !stopping {
            until = until.min(next);
        }
        if let Some(deadline) = requester.next_deadline() {
            until = until.min(deadline);
        }
        let sockets: Vec<&zmq::Socket> = std::iter::once(disco.socket()).chain(requester.sockets()).collect();
        wait_any(&sockets, until)?;
    }
}

fn main() -> anyhow::Result<()> {
    // As an actor process does.
    cohort_ports::allocator::tune_for_messages();
    let all: Vec<String> = std::env::args().skip(1).collect();
    let (args, o) = Options::parse(&all)?;
    let arg =
        |i: usize| args.get(i).map(String::as_str).context("missing argument; see the doc comment of cohort-probe");
    match arg(0)? {
        "provide" => provide(&o, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "consume" => consume(&o, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "disco" => disco(&o, arg(1)?, arg(2)?, args.get(3).map(String::as_str)),
        "group" => group(&o, arg(1)?, arg(2)?, arg(3)?),
        "blast" => blast(&o, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "count" => count(&o, arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "serve" => serve(&o, arg(1)?, arg(2)?, arg(3)?),
        "ask" => ask(&o, arg(1)?, arg(2)?, arg(3)?),
        other => bail!("unknown command {other:?}: provide, consume, disco, group, blast, count, serve or ask"),
    }
}
