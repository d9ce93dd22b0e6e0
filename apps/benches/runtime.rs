//! The Cohort runtime measured: start-up, handler dispatch against raw ZeroMQ, idle memory.
//!
//! Cases:
//!
//! - `startup first message`: the release `estimator` binary is started with `run` (its
//!   deployment, the host's discovery daemon on a free port, `--interface lo`, JSON log), and
//!   the time from spawning it to the first `estimate received` log line of the
//!   GlobalEstimator is measured, then the app is stopped with SIGINT. Timers tick first one
//!   period after activation, so with the model's 1 s Sensor clock the first message can never
//!   come before 1 s; the measured runs use a copy of the model with a 10 ms clock, so that
//!   what is measured is the runtime's own start-up (processes, discovery, connections). One
//!   extra run with the model's 1 s clock is shown as `info`. Median and max over the runs.
//!   Target: median ≤ 500 ms.
//! - `dispatch 64B tcp`: throughput into a component's `sub` handler against a raw ZeroMQ
//!   receive loop, in the same run. Raw: a PUB (`ZMQ_XPUB_NODROP`) into a SUB whose
//!   thread waits as the runtime's executor does (`zmq::poll` until readable, then `ZMQ_DONTWAIT`
//!   receives until nothing is waiting: the fastest loop libzmq allows), 64-byte messages. Cohort: an actor (`run_actor`, in this process, with a real
//!   discovery daemon) hosting a `Sink` component whose `sub` handler counts messages, fed by a
//!   Cohort `pub` port (its own `PortFactory` and ZeroMQ context, `publish_no_drop`) that is
//!   registered with discovery, so the actor's port connects as in an app. The message is a
//!   64-byte byte string sent as CBOR (66 bytes on the wire plus Cohort's header): the
//!   component API has no raw-bytes handler, so the Cohort side includes the typed decode. The
//!   `info` line `ports typed 64B tcp` is the same typed flow into a bare `SubPort` (poll, then
//!   `recv` until empty) without the runtime: the gap between it and the handler line is the
//!   runtime's own dispatch cost. The `Sink` is written on the typed API generated from
//!   `bench.riaps` (what apps use); the `info` line `dispatch 64B tcp (string-keyed)` runs the
//!   same Sink on the string-keyed `Component` API. msg/s is counted at the receiver from the first data message
//!   to an end marker; raw and Cohort rounds alternate; medians. Target: ≥ 0.9× raw.
//! - `dispatch 64B tcp, metrics`: the same typed handler in an actor that reports to a
//!   launcher (`ActorSettings::monitor`: a PULL socket this process empties and decodes), so
//!   its handler's calls are counted and a report goes out every 500 ms, against the actor
//!   without (the `dispatch 64B tcp` line), in the same rounds. The line gives the median of the
//!   rounds' on/off ratios, of throughput and of the receiving thread's CPU per message. Target:
//!   on/off ≥ 0.98 (collection costs at most 2 %).
//! - `memory <actor>`: VmRSS (`/proc/<pid>/status`) of each actor process of the estimator
//!   (model clock, 1 s) once it is idle, after its GlobalEstimator's first aggregate (3 s); and
//!   of an actor hosting one component that does nothing (a GlobalEstimator with no publisher,
//!   from a one-actor model given with `--model`). Anonymous and file-backed resident memory
//!   and the thread count are shown. Target: ≤ 8 MB per idle actor.
//!
//! Run: `cargo bench -p cohort-apps --bench runtime` (about 20 s on 2 cores). Words after `--` pick the
//! cases whose name contains one of them (`-- startup`, `-- dispatch memory`). Environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COHORT_BENCH_QUICK=1` | off | 3 start-ups, 100,000 messages, 1 round: a smoke run |
//! | `COHORT_BENCH_STARTS` | 10 | start-up runs |
//! | `COHORT_BENCH_MESSAGES` | 1000000 | messages per dispatch run |
//! | `COHORT_BENCH_ROUNDS` | 5 | dispatch runs of each side |
//! | `COHORT_BENCH_VERBOSE=1` | off | print every run on stderr |
//!
//! The exit status is 0 even when a target is missed: this is a report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cohort_discovery::{ClientConfig, Daemon, DaemonThread, DiscoveryClient, MemoryBackend, RegistryConfig};
use cohort_model::ast;
use cohort_ports::{Addressing, Interface, PortFactory, PortKind, PortSpec, Scope, Security, SocketOptions};
use cohort_runtime::{
    run_actor, ActorSettings, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult, Handlers,
    Message, Received,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

const MODEL: &str = include_str!("../estimator/estimator.riaps");
const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/estimator/estimator.depl");
const ESTIMATOR: &str = env!("CARGO_BIN_EXE_estimator");

/// First payload byte of a warm-up message, a data message and the end marker.
const WARM: u8 = 0;
const DATA: u8 = 1;
const END: u8 = 2;
/// Payload of the dispatch case.
const SIZE: usize = 64;
/// Send and receive high-water mark of both sides (ZeroMQ's default).
const HWM: i32 = 1000;
/// Longest wait for anything; a case that stalls this long is broken, not slow.
const STALL: Duration = Duration::from_secs(20);

const START_TARGET_MS: f64 = 500.0;
const DISPATCH_TARGET: f64 = 0.9;
/// Throughput with metrics on, against off (at most 2 % lost to collecting them).
const METRICS_TARGET: f64 = 0.98;
const MEMORY_TARGET_MB: f64 = 8.0;

struct Config {
    starts: usize,
    messages: u64,
    rounds: usize,
    filters: Vec<String>,
    verbose: bool,
    dir: PathBuf,
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().replace('_', "").parse() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{name}={text:?} is not a positive number"),
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

impl Config {
    fn from_env() -> Config {
        let quick = env_flag("COHORT_BENCH_QUICK");
        Config {
            starts: env_number("COHORT_BENCH_STARTS").map_or(if quick { 3 } else { 10 }, |n| n as usize),
            messages: env_number("COHORT_BENCH_MESSAGES").unwrap_or(if quick { 100_000 } else { 1_000_000 }),
            rounds: env_number("COHORT_BENCH_ROUNDS").map_or(if quick { 1 } else { 5 }, |n| n as usize),
            // cargo bench passes `--bench`; every other word is a filter.
            filters: std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect(),
            verbose: env_flag("COHORT_BENCH_VERBOSE"),
            dir: std::env::temp_dir().join(format!("cohort-runtime-bench-{}", std::process::id())),
        }
    }

    fn wants(&self, case: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| case.contains(f.as_str()))
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else {
        format!("{:.0}k", rate / 1e3)
    }
}

// ---------------------------------------------------------------------------------------------
// The estimator binary.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `estimator run`, whose JSON log records arrive on a channel with the time each
/// line was read.
struct App {
    child: Child,
    spawned: Instant,
    records: Receiver<(Instant, Value)>,
}

impl App {
    fn start(model: &Path, deployment: Option<&str>) -> App {
        let daemon = format!("tcp://127.0.0.1:{}", free_port());
        let mut command = Command::new(ESTIMATOR);
        command.arg("run");
        if let Some(d) = deployment {
            command.args(["--deployment", d]);
        }
        command
            .args(["--daemon", &daemon, "--interface", "lo", "--log-format", "json", "--model"])
            .arg(model)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, records) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let at = Instant::now();
                if let Ok(record) = serde_json::from_str::<Value>(&line) {
                    if tx.send((at, record)).is_err() {
                        break;
                    }
                }
            }
        });
        App { child, spawned, records }
    }

    /// The next record whose message is `msg` and that satisfies `also`, with when it was read.
    fn expect(&self, msg: &str, also: impl Fn(&Value) -> bool) -> (Instant, Value) {
        let give_up = Instant::now() + STALL;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok((at, r)) if r["msg"] == msg && also(&r) => return (at, r),
                Ok(_) => {}
                Err(e) => panic!("no {msg:?} record within {STALL:?} ({e})"),
            }
        }
    }

    /// SIGINT, then waits for the launcher to stop its actors and exit.
    fn stop(mut self) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        unsafe { libc::kill(i32::try_from(self.child.id()).unwrap(), libc::SIGINT) };
        let give_up = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > give_up {
                let _ = self.child.kill();
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.wait();
    }
}

fn write_file(cfg: &Config, name: &str, text: &str) -> PathBuf {
    let path = cfg.dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Start-up: spawn to the first `estimate received`. Returns whether the target was met.
fn startup(cfg: &Config) -> bool {
    let fast = MODEL.replace("timer clock 1000;", "timer clock 10;");
    assert_ne!(fast, MODEL, "the model's Sensor clock is no longer `timer clock 1000;`");
    let fast = write_file(cfg, "estimator-10ms.riaps", &fast);
    let slow = write_file(cfg, "estimator.riaps", MODEL);

    let run = |model: &Path| {
        let app = App::start(model, Some(DEPLOYMENT));
        let (daemon, _) = app.expect("started the discovery daemon of this host", |_| true);
        let (running, _) = app.expect("actor running", |r| r["actor"] == "Aggregator");
        let (first, _) = app.expect("estimate received", |_| true);
        let ms = |at: Instant| (at - app.spawned).as_secs_f64() * 1e3;
        let times = (ms(daemon), ms(running), ms(first));
        app.stop();
        times
    };
    // One unreported run, so that the first measured one does not pay for cold caches.
    run(&fast);
    let mut firsts = Vec::new();
    let mut runnings = Vec::new();
    let mut daemons = Vec::new();
    for i in 0..cfg.starts {
        let (daemon, running, first) = run(&fast);
        if cfg.verbose {
            eprintln!(
                "  startup run {}: daemon started {daemon:.0} ms, Aggregator running {running:.0} ms, first message \
                 {first:.0} ms",
                i + 1
            );
        }
        daemons.push(daemon);
        runnings.push(running);
        firsts.push(first);
    }
    let (_, _, slow_first) = run(&slow);
    let max = firsts.iter().copied().fold(0.0, f64::max);
    let p50 = median(firsts);
    let ok = p50 <= START_TARGET_MS;
    println!(
        "{:<32} median {p50:.0} ms  max {max:.0} ms over {} runs (Sensor clock 10 ms; host daemon started \
         after {:.0} ms, Aggregator actor running after {:.0} ms)  target ≤{START_TARGET_MS:.0} ms  {}",
        "startup first message",
        cfg.starts,
        median(daemons),
        median(runnings),
        verdict(ok)
    );
    println!(
        "{:<32} {slow_first:.0} ms with the model's 1 s Sensor clock: its first tick is 1 s after activation, so \
         this can never be under 1 s  info",
        "startup first message, 1 s clock"
    );
    ok
}

// ---------------------------------------------------------------------------------------------
// Dispatch: raw ZeroMQ against a component's handler.

/// The receiving side of a throughput run.
#[derive(Default)]
struct Counter {
    count: u64,
    first: Option<Instant>,
    end: Option<Instant>,
    /// The receiving thread's CPU time at the first data message and at the end marker.
    cpu_first: Duration,
    cpu_end: Duration,
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(u64::try_from(t.tv_sec).unwrap(), u32::try_from(t.tv_nsec).unwrap())
}

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    /// Messages a second at the receiver.
    rate: f64,
    /// CPU time of the receiving thread per message, in ns.
    cpu_ns: f64,
}

impl Counter {
    /// Takes a message whose first payload byte is `mark`; true at the end marker.
    fn take(&mut self, mark: Option<u8>, seen: &AtomicBool) -> bool {
        match mark {
            Some(DATA) => {
                if self.count == 0 {
                    self.first = Some(Instant::now());
                    self.cpu_first = thread_cpu();
                }
                self.count += 1;
                false
            }
            Some(WARM) => {
                seen.store(true, Ordering::Release);
                false
            }
            Some(END) => {
                self.end = Some(Instant::now());
                self.cpu_end = thread_cpu();
                true
            }
            other => panic!("unexpected message {other:?}"),
        }
    }

    /// Messages per second and CPU per message; panics if any was lost.
    fn rate(&self, expected: u64) -> Outcome {
        assert_eq!(self.count, expected, "messages were lost");
        let span = self.end.unwrap() - self.first.unwrap();
        let cpu = self.cpu_end.saturating_sub(self.cpu_first);
        Outcome {
            rate: self.count as f64 / span.as_secs_f64().max(1e-9),
            cpu_ns: cpu.as_secs_f64() * 1e9 / self.count.max(1) as f64,
        }
    }
}

/// Sends warm-up messages, one a millisecond, until the receiver has seen one.
fn warm_up(seen: &AtomicBool, mut send: impl FnMut()) {
    let start = Instant::now();
    while !seen.load(Ordering::Acquire) {
        assert!(start.elapsed() < STALL, "the subscriber never joined");
        send();
        thread::sleep(Duration::from_millis(1));
    }
}

fn payload(mark: u8) -> Vec<u8> {
    let mut data = vec![0xA5; SIZE];
    data[0] = mark;
    data
}

fn set_xpub_nodrop(socket: &mut zmq::Socket) {
    let one: i32 = 1;
    // SAFETY: the socket pointer is valid while `socket` lives; ZMQ_XPUB_NODROP takes an int.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_XPUB_NODROP as i32,
            (&one as *const i32).cast(),
            std::mem::size_of::<i32>(),
        )
    };
    assert_eq!(rc, 0, "setting ZMQ_XPUB_NODROP");
}

/// Raw PUB → SUB over tcp, each side with its own context (as two processes).
fn raw_pubsub(cfg: &Config) -> Outcome {
    let (pub_ctx, sub_ctx) = (zmq::Context::new(), zmq::Context::new());
    let mut publisher = pub_ctx.socket(zmq::PUB).unwrap();
    publisher.set_sndhwm(HWM).unwrap();
    set_xpub_nodrop(&mut publisher);
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = publisher.get_last_endpoint().unwrap().unwrap();
    let subscriber = sub_ctx.socket(zmq::SUB).unwrap();
    subscriber.set_rcvhwm(HWM).unwrap();
    subscriber.set_subscribe(b"").unwrap();
    subscriber.connect(&endpoint).unwrap();

    let seen = Arc::new(AtomicBool::new(false));
    let receiver = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            // The fastest loop libzmq allows, as the runtime's executor waits: poll until
            // readable, then receive without blocking until nothing is waiting.
            let mut msg = zmq::Message::new();
            let mut counter = Counter::default();
            loop {
                let mut items = [subscriber.as_poll_item(zmq::POLLIN)];
                zmq::poll(&mut items, STALL.as_millis() as i64).unwrap();
                while subscriber.recv(&mut msg, zmq::DONTWAIT).is_ok() {
                    if counter.take(msg.first().copied(), &seen) {
                        return counter;
                    }
                }
            }
        })
    };
    warm_up(&seen, || publisher.send(&payload(WARM)[..], 0).unwrap());
    let data = payload(DATA);
    for _ in 0..cfg.messages {
        publisher.send(&data[..], 0).unwrap();
    }
    publisher.send(&payload(END)[..], 0).unwrap();
    receiver.join().unwrap().rate(cfg.messages)
}

/// The bench's message: 64 bytes, CBOR-encoded as a byte string.
#[derive(Debug, Serialize, Deserialize)]
pub struct M(#[serde(with = "serde_bytes")] Vec<u8>);

/// The typed layer generated from `bench.riaps` by the crate's `build.rs`.
#[allow(dead_code, unreachable_pub)]
mod model {
    include!(concat!(env!("OUT_DIR"), "/bench.rs"));
}

/// Where the generated code finds the bench's message type.
#[allow(unreachable_pub)]
mod messages {
    pub use super::M;
}

/// Where the generated registry finds the bench's component types.
mod components {
    pub(crate) use super::{Source, TypedSink as Sink};
}

const BENCH_MODEL: &str = include_str!("bench.riaps");

/// Where the running Sink reports: whether it saw a warm-up message, and its counter at the end.
struct Report {
    seen: AtomicBool,
    done: Mutex<Option<Sender<Counter>>>,
}

static REPORT: Report = Report { seen: AtomicBool::new(false), done: Mutex::new(None) };
/// Messages handled by every Sink ever (a sanity check).
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// `component Sink { sub in : M; }`: counts what its handler gets.
struct Sink {
    counter: Counter,
}

impl Component for Sink {
    const TYPE: &'static str = "Sink";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Sink { counter: Counter::default() })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.sub("in", Sink::on_in);
    }
}

impl Sink {
    fn on_in(&mut self, _: &mut Context, m: Received<M>) -> HandlerResult {
        count(&mut self.counter, &m);
        Ok(())
    }
}

/// Counts a message; at the end marker, reports the counter.
fn count(counter: &mut Counter, m: &Received<M>) {
    HANDLED.fetch_add(1, Ordering::Relaxed);
    if counter.take(m.value.0.first().copied(), &REPORT.seen) {
        let counter = std::mem::take(counter);
        if let Some(tx) = REPORT.done.lock().unwrap().as_ref() {
            let _ = tx.send(counter);
        }
    }
}

/// The same Sink on the typed API generated from the model (what apps use).
struct TypedSink {
    counter: Counter,
}

impl model::sink::Component for TypedSink {
    fn new(
        _: model::sink::Params,
        _: &mut cohort_runtime::typed::Context<model::sink::Ports>,
    ) -> Result<Self, HandlerError> {
        Ok(TypedSink { counter: Counter::default() })
    }

    fn on_in(&mut self, _: &mut cohort_runtime::typed::Context<model::sink::Ports>, m: Received<M>) -> HandlerResult {
        count(&mut self.counter, &m);
        Ok(())
    }
}

/// `component Source { pub out : M; }`: the registry wants it; the bench feeds from a bare port.
struct Source;

impl model::source::Component for Source {
    fn new(
        _: model::source::Params,
        _: &mut cohort_runtime::typed::Context<model::source::Ports>,
    ) -> Result<Self, HandlerError> {
        Ok(Source)
    }
}

/// A daemon on its own thread, stopped when dropped.
fn start_daemon() -> DaemonThread {
    let ctx = zmq::Context::new();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let daemon =
        Daemon::bind(&ctx, "tcp://127.0.0.1:*", RegistryConfig::new("h"), Box::new(MemoryBackend), log).unwrap();
    daemon.spawn(ctx).unwrap()
}

fn options() -> SocketOptions {
    SocketOptions {
        publish_no_drop: true,
        send_hwm: HWM,
        recv_hwm: HWM,
        // A blocked (no-drop) publisher waits for the subscriber rather than failing.
        send_timeout: STALL,
        ..SocketOptions::default()
    }
}

fn factory(cfg: &Config, actor: &str) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), &cfg.dir, actor).unwrap();
    PortFactory::new(addressing, options(), Security::None, slog::Logger::root(slog::Discard, slog::o!())).unwrap()
}

/// Publishes the warm-up, `messages` data messages and the end marker on `publisher`.
fn feed(cfg: &Config, publisher: &mut cohort_ports::PubPort, seen: &AtomicBool) {
    let warm = M(payload(WARM));
    warm_up(seen, || publisher.send(&warm).unwrap());
    let data = M(payload(DATA));
    for _ in 0..cfg.messages {
        publisher.send(&data).unwrap();
    }
    publisher.send(&M(payload(END))).unwrap();
}

/// A Cohort `pub` port into the `sub` handler of a component of an actor run in this process.
///
/// With `monitor`, the actor reports to a launcher's endpoint there (metrics on: its handler's
/// calls are counted and a report goes out every 500 ms); without, it does not (metrics off).
fn cohort_dispatch(
    cfg: &Config,
    app: &ast::App,
    daemon: &DaemonThread,
    components: &Components,
    monitor: Option<&str>,
) -> Outcome {
    let (tx, rx) = channel();
    REPORT.seen.store(false, Ordering::Release);
    *REPORT.done.lock().unwrap() = Some(tx);

    let stop = Arc::new(AtomicBool::new(false));
    let actor = {
        let app = app.clone();
        let stop = Arc::clone(&stop);
        let settings = ActorSettings {
            daemon: daemon.endpoint().to_owned(),
            interface: Interface::Named("lo".into()),
            options: options(),
            monitor: monitor.map(str::to_owned),
            ..ActorSettings::default()
        };
        let args = vec![ComponentArgs::new("sink", "Sink", Vec::<(String, _)>::new())];
        let components = components.clone();
        thread::spawn(move || {
            let log = slog::Logger::root(slog::Discard, slog::o!());
            run_actor(&app, "A", args, &components, &settings, &stop, &log)
        })
    };

    // The feeder: a Cohort pub port of another "actor", registered with discovery.
    let sender = factory(cfg, "Feeder");
    let mut publisher = sender.publisher(&PortSpec::new("source", "out", PortKind::Pub, Scope::Global, "M")).unwrap();
    let mut config = ClientConfig::new(&app.name.name, "Feeder");
    config.daemon = daemon.endpoint().to_owned();
    let mut disco =
        DiscoveryClient::connect(sender.context(), config, slog::Logger::root(slog::Discard, slog::o!())).unwrap();
    disco.provide("source.out", PortKind::Pub, M::NAME, Scope::Global, publisher.endpoint()).unwrap();

    feed(cfg, &mut publisher, &REPORT.seen);
    let counter = rx.recv_timeout(STALL).expect("the Sink did not report the end marker");
    stop.store(true, Ordering::Relaxed);
    actor.join().unwrap().unwrap();
    disco.goodbye().unwrap();
    *REPORT.done.lock().unwrap() = None;
    counter.rate(cfg.messages)
}

/// The same typed flow into a bare `SubPort`, without the runtime (for the `info` line).
fn ports_typed(cfg: &Config) -> Outcome {
    let sender = factory(cfg, "Feeder");
    let receiver = factory(cfg, "A");
    let mut publisher = sender.publisher(&PortSpec::new("source", "out", PortKind::Pub, Scope::Global, "M")).unwrap();
    let mut subscriber = receiver.subscriber(&PortSpec::new("sink", "in", PortKind::Sub, Scope::Global, "M")).unwrap();
    subscriber.add_endpoint(publisher.endpoint()).unwrap();
    let seen = Arc::new(AtomicBool::new(false));
    let handle = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            let mut counter = Counter::default();
            loop {
                let mut items = [subscriber.socket().as_poll_item(zmq::POLLIN)];
                zmq::poll(&mut items, STALL.as_millis() as i64).unwrap();
                while let Some(m) = subscriber.recv::<M>().unwrap() {
                    if counter.take(m.value.0.first().copied(), &seen) {
                        return counter;
                    }
                }
            }
        })
    };
    feed(cfg, &mut publisher, &seen);
    handle.join().unwrap().rate(cfg.messages)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    Ports,
    /// A handler of the typed API generated from the model.
    Handler,
    /// A handler of the string-keyed API.
    Keyed,
    /// The typed handler in an actor that reports to a launcher (metrics on).
    Monitored,
}

/// A launcher's report endpoint: a PULL socket that a thread empties until the process ends,
/// as the launcher's collecting thread does (decoding each report).
fn report_sink(cfg: &Config) -> String {
    let endpoint = format!("ipc://{}/monitor", cfg.dir.display());
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::PULL).unwrap();
    socket.bind(&endpoint).unwrap();
    thread::spawn(move || {
        let _ctx = ctx;
        while let Ok(bytes) = socket.recv_bytes(0) {
            let report: cohort_monitor::ActorReport = minicbor_serde::from_slice(&bytes).unwrap();
            assert_eq!(report.actor, "A");
        }
    });
    endpoint
}

/// Dispatch: returns whether the target was met.
fn dispatch(cfg: &Config) -> bool {
    let compiled = cohort_model::compile_app_model(BENCH_MODEL);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let app = compiled.value.unwrap().apps.remove(0);
    let daemon = start_daemon();

    let short = Config { messages: cfg.messages.min(50_000), filters: Vec::new(), dir: cfg.dir.clone(), ..*cfg };
    let typed = model::components();
    let keyed = Components::new().with::<Sink>();
    let monitor = report_sink(cfg);
    raw_pubsub(&short);
    cohort_dispatch(&short, &app, &daemon, &typed, None);

    let sides = [Side::Raw, Side::Handler, Side::Ports, Side::Keyed, Side::Monitored];
    let mut rates: Vec<Vec<f64>> = sides.iter().map(|_| Vec::new()).collect();
    let mut cpus: Vec<Vec<f64>> = sides.iter().map(|_| Vec::new()).collect();
    for round in 0..cfg.rounds {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let outcome = match sides[i] {
                Side::Raw => raw_pubsub(cfg),
                Side::Handler => cohort_dispatch(cfg, &app, &daemon, &typed, None),
                Side::Ports => ports_typed(cfg),
                Side::Keyed => cohort_dispatch(cfg, &app, &daemon, &keyed, None),
                Side::Monitored => cohort_dispatch(cfg, &app, &daemon, &typed, Some(&monitor)),
            };
            if cfg.verbose {
                eprintln!(
                    "  dispatch round {} {:?}: {} msg/s, receiver CPU {:.0} ns/msg",
                    round + 1,
                    sides[i],
                    rate_text(outcome.rate),
                    outcome.cpu_ns
                );
            }
            rates[i].push(outcome.rate);
            cpus[i].push(outcome.cpu_ns);
        }
    }
    let raw = median(rates[0].clone());
    let handler = median(rates[1].clone());
    let ports = median(rates[2].clone());
    let keyed = median(rates[3].clone());
    let ratio = handler / raw;
    let ok = ratio >= DISPATCH_TARGET;
    println!(
        "{:<32} raw {} msg/s  cohort handler {} msg/s  ratio {ratio:.2}  target ≥{DISPATCH_TARGET}  {}",
        "dispatch 64B tcp",
        rate_text(raw),
        rate_text(handler),
        verdict(ok)
    );
    println!(
        "{:<32} raw {} msg/s  cohort SubPort::recv::<M> {} msg/s  ratio {:.2}; handler/ports {:.2}  info",
        "ports typed 64B tcp (no runtime)",
        rate_text(raw),
        rate_text(ports),
        ports / raw,
        handler / ports
    );
    println!(
        "{:<32} raw {} msg/s  string-keyed handler {} msg/s  ratio {:.2}; typed/string-keyed {:.2}  info",
        "dispatch 64B tcp (string-keyed)",
        rate_text(raw),
        rate_text(keyed),
        keyed / raw,
        handler / keyed
    );
    // Metrics on against off: the median of the rounds' ratios (each round runs both).
    let on_off = median(rates[4].iter().zip(&rates[1]).map(|(on, off)| on / off).collect());
    let cpu_on_off = median(cpus[4].iter().zip(&cpus[1]).map(|(on, off)| on / off).collect());
    println!(
        "{:<32} off {} msg/s  on {} msg/s  on/off {on_off:.3}  receiver CPU on/off {cpu_on_off:.3}  \
         target ≥{METRICS_TARGET}  {}",
        "dispatch 64B tcp, metrics",
        rate_text(handler),
        rate_text(median(rates[4].clone())),
        verdict(on_off >= METRICS_TARGET)
    );
    let cpu: Vec<f64> = cpus.into_iter().map(median).collect();
    println!(
        "{:<32} raw recv {:.0} ns  SubPort::recv::<M> {:.0} ns  typed handler {:.0} ns  string-keyed handler {:.0} ns \
         (receiving thread's CPU time per message, medians)  info",
        "receiver CPU per message", cpu[0], cpu[2], cpu[1], cpu[3]
    );
    ok
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// VmRSS, RssAnon and RssFile in MB, and the thread count, of process `pid`.
struct Rss {
    total: f64,
    anon: f64,
    file: f64,
    threads: u64,
}

fn rss(pid: u32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mb = |kb: u64| kb as f64 / 1024.0;
    Rss {
        total: mb(field("VmRSS:")),
        anon: mb(field("RssAnon:")),
        file: mb(field("RssFile:")) + mb(field("RssShmem:")),
        threads: field("Threads:"),
    }
}

const IDLE_MODEL: &str = "app Idle {\n  message Estimate;\n  component GlobalEstimator \
                          (iArg=123,fArg=4.56,sArg=\"string\",bArg=true) {\n    sub estimate : Estimate;\n    \
                          timer wakeup 3000;\n  }\n  actor Quiet {\n    { aggr : GlobalEstimator(); }\n  }\n}\n";

/// Memory: returns (cases, met).
fn memory(cfg: &Config) -> (usize, usize) {
    let model = write_file(cfg, "estimator.riaps", MODEL);
    let idle = write_file(cfg, "idle.riaps", IDLE_MODEL);
    // Both apps run at once (each has its own daemon); neither is busy.
    let estimator = App::start(&model, Some(DEPLOYMENT));
    let quiet = App::start(&idle, None);
    let mut actors = Vec::new();
    for (app, names) in [(&estimator, &["Estimator", "Aggregator"][..]), (&quiet, &["Quiet"][..])] {
        let mut pids = Vec::new();
        for name in names {
            let (_, r) = app.expect("actor started", |r| r["actor"] == *name);
            pids.push((*name, u32::try_from(r["pid"].as_u64().unwrap()).unwrap()));
        }
        // Idle: after the GlobalEstimator's first aggregate (3 s after activation).
        app.expect("aggregate", |_| true);
        actors.extend(pids);
    }
    let launcher = rss(estimator.child.id());
    let mut met = 0;
    for (name, pid) in &actors {
        let r = rss(*pid);
        let ok = r.total <= MEMORY_TARGET_MB;
        met += usize::from(ok);
        let what = match *name {
            "Estimator" => "Sensor + LocalEstimator",
            "Aggregator" => "GlobalEstimator",
            _ => "one idle GlobalEstimator, no publisher",
        };
        println!(
            "{:<32} VmRSS {:.1} MB (anon {:.1}, file {:.1}), {} threads; {what}  target ≤{MEMORY_TARGET_MB:.0} MB  {}",
            format!("memory {name} actor"),
            r.total,
            r.anon,
            r.file,
            r.threads,
            verdict(ok)
        );
    }
    println!(
        "{:<32} VmRSS {:.1} MB (anon {:.1}, file {:.1}), {} threads; launcher (its daemon runs apart)  info",
        "memory launcher", launcher.total, launcher.anon, launcher.file, launcher.threads
    );
    estimator.stop();
    quiet.stop();
    (actors.len(), met)
}

fn main() {
    let cfg = Config::from_env();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let (major, minor, patch) = zmq::version();
    println!(
        "runtime: libzmq {major}.{minor}.{patch}; {} start-ups; {} rounds per side (alternating) of {} messages of \
         {SIZE} B; {} CPUs",
        cfg.starts,
        cfg.rounds,
        cfg.messages,
        thread::available_parallelism().map_or(0, usize::from)
    );
    let started = Instant::now();
    let mut total = 0;
    let mut met = 0;
    if cfg.wants("startup") {
        total += 1;
        met += usize::from(startup(&cfg));
    }
    if cfg.wants("dispatch") {
        total += 1;
        met += usize::from(dispatch(&cfg));
    }
    if cfg.wants("memory") {
        let (cases, ok) = memory(&cfg);
        total += cases;
        met += ok;
    }
    println!("{met} of {total} cases meet their target ({:.0} s)", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&cfg.dir);
}
