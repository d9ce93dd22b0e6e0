#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The discovery benchmark: how long discovery takes to connect a consumer to a new provider,
//! and to tell it that a provider is gone.
//!
//! Run it with `cargo bench -p cohort-tests --bench discovery` (`COHORT_BENCH_QUICK=1` for 3
//! repetitions per case instead of 20). Daemons ask for a heartbeat every 50 ms and drop an
//! actor silent for 300 ms (the liveness timeout); Redis entries live 1 s (the TTL).
//!
//! Measured, per case: median, p90 and max in ms, and whether the target is met.
//!
//! - **addition**: from the start of the provider's `provide()` call to the consumer (already
//!   looked up, polling its discovery client and its sub port) receiving the first message of
//!   the new publisher, which publishes all along (every 0.2 ms in process, every 1 ms as a
//!   probe). Targets: ≤ 5 ms on one host, ≤ 50 ms across hosts. Also shown, for information:
//!   until the consumer is told of the provider (discovery alone, without connecting).
//! - **removal, provider died**: from the provider's death (its discovery client dropped or its
//!   process killed, without a goodbye) to the consumer's removal update. Its daemon notices
//!   after the liveness timeout since the provider's last heartbeat, so the times are shown
//!   also minus the timeout. The provider dies a few ms after its `provide()` (its last word to
//!   the daemon), so the removal lands just short of the timeout: close to the worst case.
//!   Target: ≤ liveness timeout + 10 ms.
//! - **removal, goodbye** (one host): from the start of the provider's `goodbye()` to the
//!   consumer's removal update. Target: the same as above.
//! - **removal, host died** (across hosts): provider and daemon dead, so only the Redis TTL
//!   removes the entry; shown also minus the TTL. For information: within TTL + 110 ms (Redis
//!   expires keys in a 100 ms cycle). Each round starts when the previous expiry is seen, so
//!   the rounds keep in step with that cycle: the spread of a real host's death (0 to 100 ms
//!   past the TTL) does not show here.
//!
//! Scenarios:
//!
//! 1. **same host, memory**: one daemon on a thread of this process with the memory backend;
//!    provider and consumer (on a thread of its own) are its clients.
//! 2. **across hosts, Redis**: two network namespaces on a bridge, as in `tests/multihost.rs`,
//!    with a `redis-server` in the root namespace; a `cohort-probe disco` in each, the provider
//!    probe in host a, the consumer probe in host b. The probes run with `--stamp`, and the
//!    times are differences of the wall-clock stamps they print (one machine, one clock). The
//!    provider is killed alone (its daemon times it out and withdraws the entry), then, in
//!    other rounds, together with its daemon (the entry expires in Redis).
//!
//!    Without root or `ip`, or with `COHORT_BENCH_LOOPBACK=1`, scenario 2 runs as **redis
//!    loopback** instead: two daemons on threads of this process on 127.0.0.1, each with its
//!    own Redis backend and host id, sharing a local `redis-server`; the host dies by stopping
//!    its daemon. Without `redis-server`, its cases print `SKIPPED`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _};
use cohort_discovery::{
    Backend, ClientConfig, Daemon, DaemonThread, DiscoveryClient, MemoryBackend, RedisBackend, RedisConfig,
    RegistryConfig,
};
use cohort_ports::{Addressing, Interface, PortFactory, PortKind, PortSpec, PubPort, Scope, Security, SocketOptions};
use cohort_tests::{installed, netns_unavailable, stamp_of, unix_nanos, Hosts, Proc, RedisServer};

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const APP: &str = "Bench";
const MESSAGE: &str = "Reading";
const HEARTBEAT: Duration = Duration::from_millis(50);
const LIVENESS: Duration = Duration::from_millis(300);
const TTL: Duration = Duration::from_millis(1000);
const ADD_SAME_HOST: Duration = Duration::from_millis(5);
const ADD_ACROSS_HOSTS: Duration = Duration::from_millis(50);
const REMOVAL: Duration = Duration::from_millis(300 + 10);
/// Redis expires keys in a cycle run ten times a second: an entry may outlive its TTL by that.
const EXPIRY: Duration = Duration::from_millis(1000 + 110);
/// How often the in-process provider publishes while waiting for its first message to arrive.
const PACE: Duration = Duration::from_micros(200);
/// How long anything expected may take beyond its deadline before the case fails.
const GIVE_UP: Duration = Duration::from_secs(5);

fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

// ---------------------------------------------------------------------------------------------
// Cases and their statistics.

enum Target {
    /// Met when the max is at most this.
    AtMost(Duration),
    /// Shown, not counted; with a bound to compare to, if any.
    Informational(Option<Duration>),
}

struct Case {
    scenario: &'static str,
    what: &'static str,
    target: Target,
    /// A duration the samples are shown relative to as well (the liveness timeout, the TTL).
    relative_to: Option<(&'static str, Duration)>,
    samples: Vec<Duration>,
    failure: Option<String>,
    skipped: Option<String>,
}

impl Case {
    fn new(scenario: &'static str, what: &'static str, target: Target) -> Case {
        Case { scenario, what, target, relative_to: None, samples: Vec::new(), failure: None, skipped: None }
    }

    fn relative_to(mut self, name: &'static str, d: Duration) -> Case {
        self.relative_to = Some((name, d));
        self
    }

    /// Whether the case meets its target; `None` when it has none or did not run.
    fn met(&self) -> Option<bool> {
        match (&self.target, &self.skipped) {
            (Target::AtMost(bound), None) => {
                Some(self.failure.is_none() && !self.samples.is_empty() && self.samples.iter().all(|s| s <= bound))
            }
            _ => None,
        }
    }

    fn line(&self) -> String {
        let head = format!("{:<20} {:<38}", self.scenario, self.what);
        if let Some(why) = &self.skipped {
            return format!("{head} SKIPPED: {why}");
        }
        let mut line = head;
        let mut sorted = self.samples.clone();
        sorted.sort();
        if !sorted.is_empty() {
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            let (median, p90, max) = (percentile(&sorted, 50), percentile(&sorted, 90), sorted[sorted.len() - 1]);
            line += &format!(
                " n={:<3} median {:>7.2}  p90 {:>7.2}  max {:>7.2} ms",
                sorted.len(),
                ms(median),
                ms(p90),
                ms(max)
            );
            if let Some((name, d)) = self.relative_to {
                let rel = |s: Duration| ms(s) - ms(d);
                line += &format!(" ({name} {:+.2} / {:+.2} / {:+.2})", rel(median), rel(p90), rel(max));
            }
        }
        let bound = |d: &Duration| format!("{} ms", d.as_millis());
        match (&self.target, self.met()) {
            (Target::AtMost(d), Some(true)) => line += &format!("  target ≤ {}: met", bound(d)),
            (Target::AtMost(d), _) => line += &format!("  target ≤ {}: NOT met", bound(d)),
            (Target::Informational(None), _) => line += "  (informational)",
            (Target::Informational(Some(d)), _) => {
                let within = !sorted.is_empty() && sorted.iter().all(|s| s <= d);
                line += &format!("  (informational: ≤ {}: {})", bound(d), if within { "yes" } else { "no" });
            }
        }
        if let Some(why) = &self.failure {
            line += &format!("  FAILED: {why}");
        }
        line
    }
}

/// The nearest-rank percentile of sorted, non-empty samples.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Marks every case short of `reps` samples as failed with `error`.
fn fail_short(cases: &mut [Case], reps: usize, error: anyhow::Error) {
    for case in cases {
        if case.samples.len() < reps {
            case.failure = Some(format!("{error:#}"));
        }
    }
}

fn skipped(scenario: &'static str, mut cases: Vec<Case>, why: &str) -> Vec<Case> {
    for case in &mut cases {
        case.scenario = scenario;
        case.skipped = Some(why.to_owned());
    }
    cases
}

// Indices of the four cases of a scenario.
const ADDED: usize = 0;
const TOLD: usize = 1;
const DIED: usize = 2;
const LAST: usize = 3;

fn across_host_cases(scenario: &'static str) -> Vec<Case> {
    vec![
        Case::new(scenario, "addition: provide → first message", Target::AtMost(ADD_ACROSS_HOSTS)),
        Case::new(scenario, "addition: provide → consumer told", Target::Informational(None)),
        Case::new(scenario, "removal: provider killed", Target::AtMost(REMOVAL)).relative_to("− timeout", LIVENESS),
        Case::new(scenario, "removal: host killed (TTL expiry)", Target::Informational(Some(EXPIRY)))
            .relative_to("− TTL", TTL),
    ]
}

// ---------------------------------------------------------------------------------------------
// In-process daemons, consumer and provider.

/// A daemon serving on its own thread until dropped (a Redis backend's entries are then left
/// to expire).
fn start_daemon(host: &str, backend: Box<dyn Backend + Send>) -> anyhow::Result<DaemonThread> {
    let mut config = RegistryConfig::new(host);
    config.heartbeat_interval = HEARTBEAT;
    config.liveness_timeout = LIVENESS;
    let ctx = zmq::Context::new();
    let daemon = Daemon::bind(&ctx, "tcp://127.0.0.1:*", config, backend, log())?;
    Ok(daemon.spawn(ctx)?)
}

fn port_factory(dir: &Path, actor: &str) -> anyhow::Result<PortFactory> {
    let addressing = Addressing::with_runtime_dir(&Interface::Address([127, 0, 0, 1].into()), dir, actor)?;
    Ok(PortFactory::new(addressing, SocketOptions::default(), Security::None, log())?)
}

fn client(ctx: &zmq::Context, daemon: &str, actor: &str) -> anyhow::Result<DiscoveryClient> {
    let mut config = ClientConfig::new(APP, actor);
    config.daemon = daemon.to_owned();
    Ok(DiscoveryClient::connect(ctx, config, log())?)
}

/// What the consumer thread saw, and when.
enum Event {
    /// Told of a provider (its endpoint).
    Added(String, Instant),
    /// Told a provider is gone.
    Removed(String, Instant),
    /// The first message carrying this number.
    Msg(u64, Instant),
    /// The thread stopped on an error.
    Failed(String),
}

/// A consumer on a thread of its own: a sub port connected to whatever discovery reports.
struct Consumer {
    events: Receiver<Event>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Consumer {
    /// Starts the consumer and waits until its lookup is done.
    fn start(daemon: &str, dir: &Path) -> anyhow::Result<Consumer> {
        let (tx, events) = channel();
        let (ready_tx, ready) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, daemon, dir) = (stop.clone(), daemon.to_owned(), dir.to_owned());
        let thread = std::thread::spawn(move || {
            if let Err(e) = consume(&daemon, &dir, &flag, &tx, &ready_tx) {
                let _ = tx.send(Event::Failed(format!("consumer: {e:#}")));
            }
        });
        let consumer = Consumer { events, stop, thread: Some(thread) };
        match ready.recv_timeout(GIVE_UP) {
            Ok(()) => Ok(consumer),
            Err(_) => match consumer.events.try_recv() {
                Ok(Event::Failed(why)) => Err(anyhow!(why)),
                _ => Err(anyhow!("the consumer did not look up within {GIVE_UP:?}")),
            },
        }
    }

    /// The next event within `until`.
    fn next(&self, until: Instant) -> anyhow::Result<Option<Event>> {
        match self.events.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Event::Failed(why)) => Err(anyhow!(why)),
            Ok(event) => Ok(Some(event)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(anyhow!("the consumer thread stopped")),
        }
    }

    /// When the consumer is told that `endpoint` is gone, within `within` of `since`.
    fn removed(&self, endpoint: &str, since: Instant, within: Duration) -> anyhow::Result<Instant> {
        let give_up = since + within;
        loop {
            match self.next(give_up)? {
                Some(Event::Removed(e, at)) if e == endpoint => return Ok(at),
                Some(_) => {}
                None => bail!("the consumer was not told of the removal of {endpoint} within {within:?}"),
            }
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn consume(daemon: &str, dir: &Path, stop: &AtomicBool, tx: &Sender<Event>, ready: &Sender<()>) -> anyhow::Result<()> {
    let ctx = zmq::Context::new();
    let factory = port_factory(dir, "Display")?;
    let mut sub = factory.subscriber(&PortSpec::new("display", "in", PortKind::Sub, Scope::Global, MESSAGE))?;
    let mut disco = client(&ctx, daemon, "Display")?;
    for endpoint in disco.lookup("display.in", PortKind::Sub, MESSAGE, Scope::Global)? {
        sub.add_endpoint(&endpoint)?;
    }
    let _ = ready.send(());
    let mut last = 0;
    while !stop.load(Ordering::Relaxed) {
        for update in disco.poll()? {
            let at = Instant::now();
            for endpoint in update.added {
                sub.add_endpoint(&endpoint)?;
                let _ = tx.send(Event::Added(endpoint.as_str().to_owned(), at));
            }
            for endpoint in update.removed {
                sub.remove_endpoint(&endpoint)?;
                let _ = tx.send(Event::Removed(endpoint.as_str().to_owned(), at));
            }
        }
        while let Some(m) = sub.recv::<u64>()? {
            if m.value > last {
                last = m.value;
                let _ = tx.send(Event::Msg(m.value, Instant::now()));
            }
        }
        let until = disco.next_deadline().min(Instant::now() + Duration::from_millis(10));
        let ms = until.saturating_duration_since(Instant::now()).as_micros().div_ceil(1000);
        let mut items = [disco.socket().as_poll_item(zmq::POLLIN), sub.socket().as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, i64::try_from(ms).unwrap_or(10)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A provider that registered its publisher and was heard by the consumer.
struct Provider {
    client: DiscoveryClient,
    publisher: PubPort,
    endpoint: String,
}

/// Binds a publisher, connects a discovery client, then measures from `provide()` to the
/// consumer's first message carrying `id`, publishing all along. Records into `cases`.
fn add_provider(
    ctx: &zmq::Context,
    factory: &PortFactory,
    daemon: &str,
    consumer: &Consumer,
    id: u64,
    cases: &mut [Case],
) -> anyhow::Result<Provider> {
    let mut publisher = factory.publisher(&PortSpec::new("sensor", "out", PortKind::Pub, Scope::Global, MESSAGE))?;
    let mut client = client(ctx, daemon, "Sensor")?;
    let endpoint = publisher.endpoint().as_str().to_owned();
    let start = Instant::now();
    client.provide("sensor.out", PortKind::Pub, MESSAGE, Scope::Global, publisher.endpoint())?;
    let give_up = start + GIVE_UP;
    let mut told = None;
    loop {
        publisher.send(&id)?;
        client.poll()?;
        match consumer.next(Instant::now() + PACE)? {
            Some(Event::Added(e, at)) if e == endpoint => told = Some(at),
            Some(Event::Msg(n, at)) if n == id => {
                let told = told.context("a message came before the addition")?;
                cases[TOLD].samples.push(told - start);
                cases[ADDED].samples.push(at - start);
                return Ok(Provider { client, publisher, endpoint });
            }
            _ => {}
        }
        ensure!(Instant::now() < give_up, "no message from {endpoint} within {GIVE_UP:?}");
    }
}

/// Scenario 1 (`redis` none) or its loopback stand-in for scenario 2.
fn in_process(scenario: &'static str, reps: usize, redis: Option<&RedisServer>, dir: &Path) -> Vec<Case> {
    let mut cases = match redis {
        None => vec![
            Case::new(scenario, "addition: provide → first message", Target::AtMost(ADD_SAME_HOST)),
            Case::new(scenario, "addition: provide → consumer told", Target::Informational(None)),
            Case::new(scenario, "removal: provider died, no goodbye", Target::AtMost(REMOVAL))
                .relative_to("− timeout", LIVENESS),
            Case::new(scenario, "removal: provider said goodbye", Target::AtMost(REMOVAL)),
        ],
        Some(_) => {
            let mut cases = across_host_cases(scenario);
            cases[DIED].what = "removal: provider died, no goodbye";
            cases[LAST].what = "removal: host died (TTL expiry)";
            cases
        }
    };
    if let Err(e) = run_in_process(&mut cases, reps, redis, dir) {
        fail_short(&mut cases, reps, e);
    }
    cases
}

fn run_in_process(cases: &mut [Case], reps: usize, redis: Option<&RedisServer>, dir: &Path) -> anyhow::Result<()> {
    let backend = |host: &str| -> anyhow::Result<Box<dyn Backend + Send>> {
        Ok(match redis {
            None => Box::new(MemoryBackend),
            Some(server) => {
                let mut config = RedisConfig::new(host);
                config.url = server.url();
                config.ttl = TTL;
                Box::new(RedisBackend::connect(config, log())?)
            }
        })
    };
    let mut daemon_a = start_daemon("host-a", backend("host-a")?)?;
    let daemon_b = match redis {
        Some(_) => Some(start_daemon("host-b", backend("host-b")?)?),
        None => None,
    };
    let consumer = Consumer::start(daemon_b.as_ref().unwrap_or(&daemon_a).endpoint(), dir)?;
    let ctx = zmq::Context::new();
    let factory = port_factory(dir, "Sensor")?;
    let mut id = 0;
    for round in 0..2 * reps {
        id += 1;
        let provider = add_provider(&ctx, &factory, daemon_a.endpoint(), &consumer, id, cases)?;
        let endpoint = provider.endpoint.clone();
        let since = Instant::now();
        if round < reps {
            // Dies without a word: its daemon times it out.
            drop(provider);
            cases[DIED].samples.push(consumer.removed(&endpoint, since, LIVENESS + GIVE_UP)? - since);
        } else if redis.is_some() {
            // The host dies: its daemon stops refreshing the entry, which expires in Redis.
            drop(provider);
            drop(daemon_a);
            cases[LAST].samples.push(consumer.removed(&endpoint, since, TTL + GIVE_UP)? - since);
            daemon_a = start_daemon("host-a", backend("host-a")?)?;
        } else {
            provider.client.goodbye()?;
            drop(provider.publisher);
            cases[LAST].samples.push(consumer.removed(&endpoint, since, GIVE_UP)? - since);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Across network namespaces, with probe processes.

/// The word `n` of a probe's line.
fn word(line: &str, n: usize) -> &str {
    line.split(' ').nth(n).unwrap_or("")
}

/// The nanoseconds between two stamped lines of the probes.
fn between(earlier: &str, later: &str) -> anyhow::Result<Duration> {
    let (a, b) = (stamp_of(earlier), stamp_of(later));
    let (a, b) = a.zip(b).with_context(|| format!("unstamped lines {earlier:?}, {later:?}"))?;
    let nanos = b.checked_sub(a).with_context(|| format!("the clock went back between {earlier:?} and {later:?}"))?;
    Ok(Duration::from_nanos(u64::try_from(nanos)?))
}

fn across_namespaces(hosts: &Hosts, reps: usize) -> Vec<Case> {
    let mut cases = across_host_cases("across hosts, Redis");
    if let Err(e) = run_across_namespaces(hosts, reps, &mut cases) {
        fail_short(&mut cases, reps, e);
    }
    cases
}

fn run_across_namespaces(hosts: &Hosts, reps: usize, cases: &mut [Case]) -> anyhow::Result<()> {
    let server = RedisServer::start(&hosts.bridge_address()).map_err(|e| anyhow!(e))?;
    let redis = server.url();
    let daemon = "tcp://127.0.0.1:9700";
    let (ns_a, ns_b) = (hosts.ns("a"), hosts.ns("b"));
    let (heartbeat, liveness, ttl) =
        (HEARTBEAT.as_millis().to_string(), LIVENESS.as_millis().to_string(), TTL.as_millis().to_string());
    let start_disco = |ns: &str, host: &str| -> anyhow::Result<Proc> {
        let args =
            ["disco", daemon, host, &redis, "--heartbeat-ms", &heartbeat, "--liveness-ms", &liveness, "--ttl-ms", &ttl];
        let disco = Proc::in_ns(&format!("disco {host}"), ns, PROBE, &args)?;
        disco.next_line("READY", GIVE_UP).map_err(|e| anyhow!(e))?;
        Ok(disco)
    };
    let _disco_b = start_disco(&ns_b, "host-b")?;
    let consume = ["consume", daemon, APP, "Display", MESSAGE, "--stamp"];
    let consumer = Proc::in_ns("consumer", &ns_b, PROBE, &consume)?;
    let line = |p: &Proc, prefix: &str, within: Duration| p.next_line(prefix, within).map_err(|e| anyhow!(e));
    line(&consumer, "READY", GIVE_UP)?;
    let mut disco_a = None;
    for round in 0..2 * reps {
        if disco_a.is_none() {
            disco_a = Some(start_disco(&ns_a, "host-a")?);
        }
        let provide = ["provide", daemon, APP, "Sensor", MESSAGE, "--stamp", "--every-ms", "1"];
        let mut provider = Proc::in_ns("provider", &ns_a, PROBE, &provide)?;
        let providing = line(&provider, "PROVIDING ", GIVE_UP)?;
        let endpoint = word(&providing, 1).to_owned();
        let added = line(&consumer, "ADDED ", GIVE_UP)?;
        ensure!(word(&added, 1) == endpoint, "expected the addition of {endpoint}, got {added:?}");
        let msg = line(&consumer, "MSG ", GIVE_UP)?;
        ensure!(word(&msg, 3) == endpoint, "expected a message from {endpoint}, got {msg:?}");
        cases[TOLD].samples.push(between(&providing, &added)?);
        cases[ADDED].samples.push(between(&providing, &msg)?);

        let killed = format!("KILLED {}", unix_nanos());
        provider.kill();
        let (case, within) = if round < reps {
            (DIED, LIVENESS + GIVE_UP)
        } else {
            // The whole host: nothing is left to withdraw the entry.
            drop(disco_a.take());
            (LAST, TTL + GIVE_UP)
        };
        let removed = line(&consumer, "REMOVED ", within)?;
        ensure!(word(&removed, 1) == endpoint, "expected the removal of {endpoint}, got {removed:?}");
        cases[case].samples.push(between(&killed, &removed)?);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

fn across_hosts(reps: usize, dir: &Path) -> Vec<Case> {
    if !installed("redis-server") {
        let why = "redis-server not found (apt-get install -y redis-server)";
        return skipped("across hosts, Redis", across_host_cases("across hosts, Redis"), why);
    }
    let why = if std::env::var_os("COHORT_BENCH_LOOPBACK").is_some() {
        "COHORT_BENCH_LOOPBACK is set".to_owned()
    } else if let Some(why) = netns_unavailable() {
        why
    } else {
        match Hosts::create() {
            Ok(hosts) => return across_namespaces(&hosts, reps),
            Err(why) => format!("cannot create network namespaces: {why}"),
        }
    };
    println!("across hosts: network namespaces skipped ({why}); two daemons of this process on loopback instead");
    match RedisServer::start("127.0.0.1") {
        Ok(server) => in_process("redis loopback", reps, Some(&server), dir),
        Err(why) => skipped("redis loopback", across_host_cases("redis loopback"), &why),
    }
}

fn main() {
    let quick = std::env::var_os("COHORT_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    let reps = if quick { 3 } else { 20 };
    println!(
        "discovery: {reps} rounds per case; heartbeat {} ms, liveness timeout {} ms, Redis TTL {} ms",
        HEARTBEAT.as_millis(),
        LIVENESS.as_millis(),
        TTL.as_millis()
    );
    let dir: PathBuf = std::env::temp_dir().join(format!("cohort-bench-{}", std::process::id()));
    let mut all = Vec::new();
    let scenarios: [&dyn Fn() -> Vec<Case>; 2] =
        [&|| in_process("same host, memory", reps, None, &dir), &|| across_hosts(reps, &dir)];
    for scenario in scenarios {
        let cases = scenario();
        for case in &cases {
            println!("{}", case.line());
        }
        all.extend(cases);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let counted: Vec<bool> = all.iter().filter_map(Case::met).collect();
    println!("{} of {} cases meet their target", counted.iter().filter(|m| **m).count(), counted.len());
}
