//! Cohort ports against raw ZeroMQ sockets, measured in the same run.
//!
//! Cases, each over tcp (127.0.0.1), ipc and inproc:
//!
//! - `pubsub 64B` and `pubsub 1KiB`: throughput of a `pub` port into a `sub` port (raw bytes
//!   API) against a raw PUB into a raw SUB. Both publishers have `ZMQ_XPUB_NODROP` and the same
//!   high-water marks, so nothing is lost (the count is checked). msg/s is counted at the
//!   receiver from the first data message to an end marker, after a warm-up that lasts until
//!   the subscriber has seen a message. Target: Cohort ≥ 0.95× raw.
//! - `reqrep`: round trips of 64 B from a `req` port to a `rep` port that echoes them, against
//!   a raw REQ→REP echo. `qryans`: a `qry` port to an `ans` port (final answer), against a raw
//!   DEALER→ROUTER echo. 1,000 warm-up plus 20,000 timed round trips, each timed with
//!   `Instant`; median and p99 in µs. Target: Cohort median ≤ 1.1× raw median + 5 µs.
//! - Lines marked `info` send a small struct as CBOR through the typed API (`send`/`recv`,
//!   `request`/`recv`); they show the codec's cost and have no target.
//!
//! The method is that of the raw baseline in `dependencies.md` §3: sender and receiver are two
//! threads of this process; for tcp and ipc each side has its own ZeroMQ context (on the Cohort
//! side its own `PortFactory`), as separate processes would; inproc shares one context (one
//! factory). Raw and Cohort runs of a case alternate (raw, cohort, cohort, raw, raw, cohort, …)
//! so that drift on a shared machine hits both alike, and each line reports the median over the
//! rounds (of the msg/s, or of each run's median and p99). The Cohort side waits the way an
//! application of ports does: `zmq::poll` on the port's socket, then the non-blocking receive
//! until it returns `None`; the raw side blocks in `recv`.
//!
//! Run: `cargo bench -p cohort-ports --bench ports_vs_raw` (about 1.5 minutes on 2 cores). Words
//! after `--` pick the cases whose name contains all of them (`-- reqrep tcp`). Environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COHORT_BENCH_QUICK=1` | off | 100,000 messages, 2,000 round trips, 1 round: a smoke run, numbers are rough |
//! | `COHORT_BENCH_MESSAGES` | 1000000 | messages per throughput run |
//! | `COHORT_BENCH_ROUND_TRIPS` | 20000 | timed round trips per latency run (warm-up: 1/20 of it) |
//! | `COHORT_BENCH_ROUNDS` | 5 | runs of each side per case |
//! | `COHORT_BENCH_VERBOSE=1` | off | print every run on stderr |
//! | `COHORT_BENCH_ONLY` | both | `raw` or `cohort`: run one side only (for profiling; no lines) |
//!
//! The exit status is 0 even when a target is missed: this is a report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cohort_ports::{
    Addressing, Interface, PortFactory, PortKind, PortSpec, QryPort, ReqPort, Request, RequestId, Response, Scope,
    Security, SocketOptions,
};
use serde::{Deserialize, Serialize};

/// First payload byte of a warm-up message, a data message and the end marker.
const WARM: u8 = 0;
const DATA: u8 = 1;
const END: u8 = 2;

/// Payload of the latency cases.
const ROUND_TRIP_BYTES: usize = 64;
/// Send and receive high-water mark of both sides (ZeroMQ's default).
const HWM: i32 = 1000;
/// Longest wait for anything; a case that stalls this long is broken, not slow.
const STALL_MS: i64 = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

impl Transport {
    const ALL: [Transport; 3] = [Transport::Tcp, Transport::Ipc, Transport::Inproc];

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }

    fn scope(self) -> Scope {
        match self {
            Transport::Tcp => Scope::Global,
            Transport::Ipc => Scope::Local,
            Transport::Inproc => Scope::Internal,
        }
    }
}

struct Config {
    messages: u64,
    warmup: usize,
    round_trips: usize,
    rounds: usize,
    filters: Vec<String>,
    verbose: bool,
    only: Option<String>,
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
        let messages = env_number("COHORT_BENCH_MESSAGES").unwrap_or(if quick { 100_000 } else { 1_000_000 });
        let round_trips =
            env_number("COHORT_BENCH_ROUND_TRIPS").map_or(if quick { 2_000 } else { 20_000 }, |n| n as usize);
        let rounds = env_number("COHORT_BENCH_ROUNDS").map_or(if quick { 1 } else { 5 }, |n| n as usize);
        // cargo bench passes `--bench`; every other word is a filter.
        let filters = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        Config {
            messages,
            warmup: (round_trips / 20).max(1),
            round_trips,
            rounds,
            filters,
            verbose: env_flag("COHORT_BENCH_VERBOSE"),
            only: std::env::var("COHORT_BENCH_ONLY").ok().filter(|s| !s.is_empty()).inspect(|s| {
                assert!(s == "raw" || s == "cohort", "COHORT_BENCH_ONLY={s:?}: expected raw or cohort");
            }),
            dir: std::env::temp_dir().join(format!("cohort-bench-{}", std::process::id())),
        }
    }

    fn wants(&self, case: &str) -> bool {
        self.filters.iter().all(|f| case.contains(f.as_str()))
    }
}

/// A number for names that must not repeat within the process (inproc endpoints, ipc paths).
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Waits until `socket` is readable.
fn wait(socket: &zmq::Socket) {
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    loop {
        match zmq::poll(&mut items, STALL_MS) {
            Ok(0) => panic!("nothing arrived within {STALL_MS} ms"),
            Ok(_) => return,
            Err(zmq::Error::EINTR) => {}
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// Sends warm-up messages, one a millisecond, until the receiver has seen one.
fn warm_up(seen: &AtomicBool, mut send: impl FnMut()) {
    let start = Instant::now();
    while !seen.load(Ordering::Acquire) {
        assert!(start.elapsed() < Duration::from_millis(STALL_MS as u64), "the subscriber never joined");
        send();
        thread::sleep(Duration::from_millis(1));
    }
}

/// A data payload of `size` bytes.
fn payload(size: usize) -> Vec<u8> {
    let mut data = vec![0xA5; size];
    data[0] = DATA;
    data
}

/// The receiving side of a throughput run.
#[derive(Default)]
struct Counter {
    count: u64,
    first: Option<Instant>,
    end: Option<Instant>,
}

impl Counter {
    /// Takes a message whose first payload byte is `mark`; true at the end marker.
    fn take(&mut self, mark: Option<u8>, seen: &AtomicBool) -> bool {
        match mark {
            Some(DATA) => {
                if self.count == 0 {
                    self.first = Some(Instant::now());
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
                true
            }
            other => panic!("unexpected message {other:?}"),
        }
    }

    /// Messages per second; panics if any was lost.
    fn rate(&self, expected: u64) -> f64 {
        assert_eq!(self.count, expected, "messages were lost");
        let span = self.end.unwrap() - self.first.unwrap();
        self.count as f64 / span.as_secs_f64().max(1e-9)
    }
}

// ---------------------------------------------------------------------------------------------
// Raw ZeroMQ.

/// The contexts of the two sides: one each for tcp and ipc, one shared for inproc.
fn raw_contexts(t: Transport) -> (zmq::Context, zmq::Context) {
    if t == Transport::Inproc {
        let ctx = zmq::Context::new();
        (ctx.clone(), ctx)
    } else {
        (zmq::Context::new(), zmq::Context::new())
    }
}

/// Binds `socket` on a fresh endpoint of `t` and returns the endpoint to connect to.
fn raw_bind(cfg: &Config, t: Transport, socket: &zmq::Socket) -> String {
    let n = unique();
    let address = match t {
        Transport::Tcp => "tcp://127.0.0.1:*".to_owned(),
        Transport::Ipc => format!("ipc://{}/zb-{}-{n}.ipc", cfg.dir.display(), std::process::id()),
        Transport::Inproc => format!("inproc://zb-{n}"),
    };
    socket.bind(&address).unwrap();
    socket.get_last_endpoint().unwrap().unwrap()
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

fn raw_pubsub(cfg: &Config, t: Transport, size: usize) -> f64 {
    let (pub_ctx, sub_ctx) = raw_contexts(t);
    let mut publisher = pub_ctx.socket(zmq::PUB).unwrap();
    publisher.set_sndhwm(HWM).unwrap();
    set_xpub_nodrop(&mut publisher);
    let endpoint = raw_bind(cfg, t, &publisher);
    let subscriber = sub_ctx.socket(zmq::SUB).unwrap();
    subscriber.set_rcvhwm(HWM).unwrap();
    subscriber.set_subscribe(b"").unwrap();
    subscriber.connect(&endpoint).unwrap();

    let seen = Arc::new(AtomicBool::new(false));
    let receiver = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            let mut msg = zmq::Message::new();
            let mut counter = Counter::default();
            loop {
                subscriber.recv(&mut msg, 0).unwrap();
                if counter.take(msg.first().copied(), &seen) {
                    return counter;
                }
            }
        })
    };
    warm_up(&seen, || publisher.send(&[WARM][..], 0).unwrap());
    let data = payload(size);
    for _ in 0..cfg.messages {
        publisher.send(&data[..], 0).unwrap();
    }
    publisher.send(&[END][..], 0).unwrap();
    receiver.join().unwrap().rate(cfg.messages)
}

/// Raw echo: REQ→REP, or DEALER→ROUTER when `routed`. Returns the timed round trips.
fn raw_echo(cfg: &Config, t: Transport, routed: bool) -> Vec<Duration> {
    let (client_ctx, server_ctx) = raw_contexts(t);
    let server = server_ctx.socket(if routed { zmq::ROUTER } else { zmq::REP }).unwrap();
    let endpoint = raw_bind(cfg, t, &server);
    let client = client_ctx.socket(if routed { zmq::DEALER } else { zmq::REQ }).unwrap();
    client.connect(&endpoint).unwrap();

    let total = cfg.warmup + cfg.round_trips;
    let echo = thread::spawn(move || {
        let mut identity = zmq::Message::new();
        let mut msg = zmq::Message::new();
        for _ in 0..total {
            if routed {
                server.recv(&mut identity, 0).unwrap();
                server.recv(&mut msg, 0).unwrap();
                server.send(&identity[..], zmq::SNDMORE).unwrap();
            } else {
                server.recv(&mut msg, 0).unwrap();
            }
            server.send(&msg[..], 0).unwrap();
        }
        server
    });
    let data = payload(ROUND_TRIP_BYTES);
    let mut reply = zmq::Message::new();
    let mut times = Vec::with_capacity(cfg.round_trips);
    for i in 0..total {
        let start = Instant::now();
        client.send(&data[..], 0).unwrap();
        client.recv(&mut reply, 0).unwrap();
        let took = start.elapsed();
        assert_eq!(reply.len(), ROUND_TRIP_BYTES);
        if i >= cfg.warmup {
            times.push(took);
        }
    }
    drop(echo.join().unwrap());
    times
}

// ---------------------------------------------------------------------------------------------
// Cohort ports.

/// A small struct for the typed (CBOR) lines.
#[derive(Debug, Serialize, Deserialize)]
struct Sample {
    kind: u8,
    seq: u64,
    value: f64,
    sensor: String,
    values: [f32; 4],
}

impl Sample {
    fn new(kind: u8) -> Sample {
        Sample {
            kind,
            seq: 12_345_678,
            value: 21.5,
            sensor: "bench-sensor-01".to_owned(),
            values: [1.0, 2.0, 3.0, 4.0],
        }
    }
}

fn factory(cfg: &Config, actor: &str) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), &cfg.dir, actor).unwrap();
    let options = SocketOptions {
        publish_no_drop: true,
        send_hwm: HWM,
        recv_hwm: HWM,
        // A blocked (no-drop) publisher waits for the subscriber rather than failing.
        send_timeout: Duration::from_millis(STALL_MS as u64),
        ..SocketOptions::default()
    };
    PortFactory::new(addressing, options, Security::None, slog::Logger::root(slog::Discard, slog::o!())).unwrap()
}

/// The factories of the two sides: one each for tcp and ipc (like two actor processes), one
/// shared for inproc (one actor).
struct Sides {
    first: PortFactory,
    second: Option<PortFactory>,
}

impl Sides {
    fn new(cfg: &Config, t: Transport) -> Sides {
        let first = factory(cfg, "A");
        let second = (t != Transport::Inproc).then(|| factory(cfg, "B"));
        Sides { first, second }
    }

    fn sender(&self) -> &PortFactory {
        &self.first
    }

    fn receiver(&self) -> &PortFactory {
        self.second.as_ref().unwrap_or(&self.first)
    }
}

fn cohort_pubsub(cfg: &Config, t: Transport, size: usize, typed: bool) -> f64 {
    let sides = Sides::new(cfg, t);
    let n = unique();
    let mut publisher =
        sides.sender().publisher(&PortSpec::new("p", &format!("pub{n}"), PortKind::Pub, t.scope(), "Data")).unwrap();
    let mut subscriber =
        sides.receiver().subscriber(&PortSpec::new("s", &format!("sub{n}"), PortKind::Sub, t.scope(), "Data")).unwrap();
    subscriber.add_endpoint(publisher.endpoint()).unwrap();

    let seen = Arc::new(AtomicBool::new(false));
    let receiver = {
        let seen = Arc::clone(&seen);
        thread::spawn(move || {
            let mut counter = Counter::default();
            loop {
                let mark = if typed {
                    subscriber.recv::<Sample>().unwrap().map(|r| r.value.kind)
                } else {
                    subscriber.recv_bytes().unwrap().map(|r| r.value.first().copied().unwrap_or(u8::MAX))
                };
                match mark {
                    Some(mark) => {
                        if counter.take(Some(mark), &seen) {
                            return counter;
                        }
                    }
                    None => wait(subscriber.socket()),
                }
            }
        })
    };
    if typed {
        let warm = Sample::new(WARM);
        warm_up(&seen, || publisher.send(&warm).unwrap());
        let data = Sample::new(DATA);
        for _ in 0..cfg.messages {
            publisher.send(&data).unwrap();
        }
        publisher.send(&Sample::new(END)).unwrap();
    } else {
        warm_up(&seen, || publisher.send_bytes(&[WARM]).unwrap());
        let data = payload(size);
        for _ in 0..cfg.messages {
            publisher.send_bytes(&data).unwrap();
        }
        publisher.send_bytes(&[END]).unwrap();
    }
    receiver.join().unwrap().rate(cfg.messages)
}

/// What the latency loop needs of a `req` or `qry` port.
trait Asker: Send {
    fn ask_bytes(&mut self, bytes: &[u8]) -> RequestId;
    fn ask(&mut self, value: &Sample) -> RequestId;
    /// The next reply: its request and whether it is the last; `None` if nothing is waiting.
    fn reply_bytes(&mut self) -> Option<(RequestId, usize, bool)>;
    fn reply(&mut self) -> Option<(RequestId, usize, bool)>;
    fn socket(&self) -> &zmq::Socket;
}

fn reply_of<T>(response: Option<Response<T>>, len: impl FnOnce(&T) -> usize) -> Option<(RequestId, usize, bool)> {
    match response? {
        Response::Reply { id, message, last } => Some((id, len(&message.value), last)),
        Response::Failed { id, error, .. } => panic!("request {id} failed: {error}"),
    }
}

impl Asker for ReqPort {
    fn ask_bytes(&mut self, bytes: &[u8]) -> RequestId {
        self.request_bytes(bytes).unwrap()
    }
    fn ask(&mut self, value: &Sample) -> RequestId {
        self.request(value).unwrap()
    }
    fn reply_bytes(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv_bytes().unwrap(), |b| b.len())
    }
    fn reply(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv::<Sample>().unwrap(), |s| s.sensor.len())
    }
    fn socket(&self) -> &zmq::Socket {
        self.sockets().next().unwrap()
    }
}

impl Asker for QryPort {
    fn ask_bytes(&mut self, bytes: &[u8]) -> RequestId {
        self.query_bytes(bytes).unwrap()
    }
    fn ask(&mut self, value: &Sample) -> RequestId {
        self.query(value).unwrap()
    }
    fn reply_bytes(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv_bytes().unwrap(), |b| b.len())
    }
    fn reply(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv::<Sample>().unwrap(), |s| s.sensor.len())
    }
    fn socket(&self) -> &zmq::Socket {
        self.sockets().next().unwrap()
    }
}

/// Cohort echo: `req`→`rep`, or `qry`→`ans` when `query`. Returns the timed round trips.
fn cohort_echo(cfg: &Config, t: Transport, query: bool, typed: bool) -> Vec<Duration> {
    let sides = Sides::new(cfg, t);
    let n = unique();
    let (ask_kind, answer_kind) = if query { (PortKind::Qry, PortKind::Ans) } else { (PortKind::Req, PortKind::Rep) };
    let spec = |owner: &str, kind| PortSpec::new(owner, &format!("p{n}"), kind, t.scope(), "Ping").with_reply("Pong");
    let mut server = sides.receiver().replier(&spec("s", answer_kind)).unwrap();
    let endpoint = server.endpoint().clone();
    let mut client: Box<dyn Asker> = if query {
        let mut port = sides.sender().query(&spec("c", ask_kind)).unwrap();
        port.add_endpoint(&endpoint).unwrap();
        Box::new(port)
    } else {
        let mut port = sides.sender().requester(&spec("c", ask_kind)).unwrap();
        port.add_endpoint(&endpoint).unwrap();
        Box::new(port)
    };

    let total = cfg.warmup + cfg.round_trips;
    let echo = thread::spawn(move || {
        let mut copy = Vec::with_capacity(ROUND_TRIP_BYTES);
        let mut served = 0;
        while served < total {
            wait(server.socket());
            if typed {
                while let Some(Request { token, message }) = server.recv::<Sample>().unwrap() {
                    server.reply(&token, &message.value).unwrap();
                    served += 1;
                }
            } else {
                // The payload borrows the port, so it is copied out before the reply is sent.
                let copy_out = |copy: &mut Vec<u8>, request: Request<&[u8]>| {
                    copy.clear();
                    copy.extend_from_slice(request.message.value);
                    request.token
                };
                while let Some(token) = server.recv_bytes().unwrap().map(|r| copy_out(&mut copy, r)) {
                    server.reply_bytes(&token, &copy).unwrap();
                    served += 1;
                }
            }
        }
        server
    });
    let data = payload(ROUND_TRIP_BYTES);
    let sample = Sample::new(DATA);
    let mut times = Vec::with_capacity(cfg.round_trips);
    for i in 0..total {
        let start = Instant::now();
        let id = if typed { client.ask(&sample) } else { client.ask_bytes(&data) };
        let (got, len, last) = loop {
            wait(client.socket());
            let reply = if typed { client.reply() } else { client.reply_bytes() };
            if let Some(reply) = reply {
                break reply;
            }
        };
        let took = start.elapsed();
        assert!(got == id && last && len == if typed { sample.sensor.len() } else { ROUND_TRIP_BYTES });
        if i >= cfg.warmup {
            times.push(took);
        }
    }
    drop(echo.join().unwrap());
    times
}

// ---------------------------------------------------------------------------------------------
// Cases and the report.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    Cohort,
    /// Cohort through the typed (CBOR) API.
    Typed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    PubSub(usize),
    ReqRep,
    QryAns,
}

struct Case {
    name: String,
    pattern: Pattern,
    transport: Transport,
    /// Whether an informational typed line goes with it.
    typed: bool,
}

/// Median and p99 of one latency run, in µs.
#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
}

impl Latency {
    fn of(mut times: Vec<Duration>) -> Latency {
        times.sort_unstable();
        let at = |q: f64| {
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times[i].as_secs_f64() * 1e6
        };
        Latency { p50: at(0.5), p99: at(0.99) }
    }
}

enum Outcome {
    Rate(f64),
    Latency(Latency),
}

fn run(cfg: &Config, case: &Case, side: Side) -> Outcome {
    let t = case.transport;
    match (case.pattern, side) {
        (Pattern::PubSub(size), Side::Raw) => Outcome::Rate(raw_pubsub(cfg, t, size)),
        (Pattern::PubSub(size), _) => Outcome::Rate(cohort_pubsub(cfg, t, size, side == Side::Typed)),
        (Pattern::ReqRep, Side::Raw) => Outcome::Latency(Latency::of(raw_echo(cfg, t, false))),
        (Pattern::QryAns, Side::Raw) => Outcome::Latency(Latency::of(raw_echo(cfg, t, true))),
        (Pattern::ReqRep, _) => Outcome::Latency(Latency::of(cohort_echo(cfg, t, false, side == Side::Typed))),
        (Pattern::QryAns, _) => Outcome::Latency(Latency::of(cohort_echo(cfg, t, true, side == Side::Typed))),
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

fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else {
        format!("{:.0}k", rate / 1e3)
    }
}

/// Results of one side over the rounds.
#[derive(Default)]
struct Runs {
    rates: Vec<f64>,
    p50s: Vec<f64>,
    p99s: Vec<f64>,
}

impl Runs {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Rate(r) => self.rates.push(*r),
            Outcome::Latency(l) => {
                self.p50s.push(l.p50);
                self.p99s.push(l.p99);
            }
        }
    }
}

/// Runs `case` for every round, alternating the order of the sides; prints its lines and
/// returns whether it met its target.
fn measure(cfg: &Config, case: &Case) -> bool {
    let mut sides = vec![Side::Raw, Side::Cohort];
    if case.typed {
        sides.push(Side::Typed);
    }
    let mut runs: Vec<Runs> = sides.iter().map(|_| Runs::default()).collect();
    for round in 0..cfg.rounds {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            if let Some(only) = &cfg.only {
                if (sides[i] == Side::Raw) != (only == "raw") {
                    continue;
                }
            }
            let outcome = run(cfg, case, sides[i]);
            if cfg.verbose {
                let text = match &outcome {
                    Outcome::Rate(r) => format!("{} msg/s", rate_text(*r)),
                    Outcome::Latency(l) => format!("p50 {:.1} p99 {:.1} µs", l.p50, l.p99),
                };
                eprintln!("  {} round {} {:?}: {text}", case.name, round + 1, sides[i]);
            }
            runs[i].add(&outcome);
        }
    }
    if cfg.only.is_some() {
        return false;
    }
    let raw = &runs[0];
    let mut met = false;
    for (i, side) in sides.iter().enumerate().skip(1) {
        let ours = &runs[i];
        let label = if *side == Side::Typed { format!("{} cbor", case.name) } else { case.name.clone() };
        let line = if case.pattern == Pattern::ReqRep || case.pattern == Pattern::QryAns {
            let (raw_p50, raw_p99) = (median(raw.p50s.clone()), median(raw.p99s.clone()));
            let (p50, p99) = (median(ours.p50s.clone()), median(ours.p99s.clone()));
            let ok = p50 <= 1.1 * raw_p50 + 5.0;
            let verdict = if *side == Side::Typed {
                "info"
            } else {
                met = ok;
                if ok {
                    "ok"
                } else {
                    "MISSED"
                }
            };
            format!(
                "{label:<20} raw p50 {raw_p50:.1} p99 {raw_p99:.1} µs  cohort p50 {p50:.1} p99 {p99:.1} µs  \
                 ratio {:.2}  target ≤1.1×raw+5µs  {verdict}",
                p50 / raw_p50
            )
        } else {
            let (raw_rate, rate) = (median(raw.rates.clone()), median(ours.rates.clone()));
            let ratio = rate / raw_rate;
            let verdict = if *side == Side::Typed {
                "info"
            } else {
                met = ratio >= 0.95;
                if met {
                    "ok"
                } else {
                    "MISSED"
                }
            };
            format!(
                "{label:<20} raw {} msg/s  cohort {} msg/s  ratio {ratio:.2}  target ≥0.95  {verdict}",
                rate_text(raw_rate),
                rate_text(rate)
            )
        };
        println!("{line}");
    }
    met
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (size, label) in [(64, "64B"), (1024, "1KiB")] {
        for t in Transport::ALL {
            cases.push(Case {
                name: format!("pubsub {label} {}", t.name()),
                pattern: Pattern::PubSub(size),
                transport: t,
                typed: size == 64 && t == Transport::Tcp,
            });
        }
    }
    for (pattern, label) in [(Pattern::ReqRep, "reqrep"), (Pattern::QryAns, "qryans")] {
        for t in Transport::ALL {
            cases.push(Case {
                name: format!("{label} {}", t.name()),
                pattern,
                transport: t,
                typed: pattern == Pattern::ReqRep && t == Transport::Tcp,
            });
        }
    }
    cases
}

/// One short unreported run of each kind, so that the first case does not pay for the
/// process's first sockets, threads and allocations.
fn warm_up_process(cfg: &Config) {
    let short = Config {
        messages: cfg.messages.min(50_000),
        warmup: 100,
        round_trips: cfg.round_trips.min(1_000),
        rounds: 1,
        filters: Vec::new(),
        verbose: false,
        only: None,
        dir: cfg.dir.clone(),
    };
    for t in Transport::ALL {
        raw_pubsub(&short, t, 64);
        cohort_pubsub(&short, t, 64, false);
        raw_echo(&short, t, true);
        cohort_echo(&short, t, true, false);
    }
}

fn main() {
    let cfg = Config::from_env();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let (major, minor, patch) = zmq::version();
    let typed_size = minicbor_serde::to_vec(Sample::new(DATA)).unwrap().len();
    println!(
        "ports_vs_raw: libzmq {major}.{minor}.{patch}, {} rounds per side (alternating), {} messages per throughput \
         run, {}+{} round trips of {ROUND_TRIP_BYTES} B per latency run; cbor lines send a {typed_size}-byte struct",
        cfg.rounds, cfg.messages, cfg.warmup, cfg.round_trips
    );
    let started = Instant::now();
    warm_up_process(&cfg);
    let mut total = 0;
    let mut met = 0;
    for case in cases().iter().filter(|c| cfg.wants(&c.name)) {
        total += 1;
        if measure(&cfg, case) {
            met += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    match &cfg.only {
        Some(only) => println!("{total} cases, {only} side only, no comparison ({seconds:.0} s)"),
        None => println!("{met} of {total} cases meet their target ({seconds:.0} s)"),
    }
    let _ = std::fs::remove_dir_all(&cfg.dir);
}
