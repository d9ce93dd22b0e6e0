//! Cohort ports against raw ZeroMQ sockets, measured in the same run.
//!
//! Cases, each over tcp (127.0.0.1), ipc and inproc:
//!
//! - `pubsub 64B` and `pubsub 1KiB`: a `pub` port into a `sub` port (raw bytes API) against a
//!   raw PUB into a raw SUB. Nothing may be lost (the count is checked). Two numbers per run:
//!   - **throughput**, msg/s counted at the receiver from the first data message to an end
//!     marker, after a warm-up that lasts until the subscriber has seen a message;
//!   - **CPU per message**: the process's user+sys time (`getrusage(RUSAGE_SELF)`) from just
//!     before the first data message is sent until the receiver takes the end marker, divided
//!     by the message count. It covers the whole process: sender, receiver and the ZeroMQ I/O
//!     threads, which are all threads of this process (nothing else runs meanwhile). The CPU
//!     line also shows how often each side's subscriber waited in `poll` (having emptied its
//!     socket), per 1000 messages, the median over the runs: each wait is a wake-up that costs
//!     CPU, and a side that waits more often (the faster subscriber) can end up the slower,
//!     which is how a Cohort line can read above 1 (`docs/ports.md`).
//! - `pubsub 64B tcp paced` and `pubsub 1KiB tcp paced`: the same, with both senders keeping a
//!   pace both subscribers keep up with (500 messages, or 250 of 1 KiB, every millisecond), and
//!   both subscribers sleeping a millisecond after each drain rather than polling, so that each
//!   wakes once per burst however fast it drains it: the CPU per message then shows the work
//!   per message, not who slept more often. 200,000 messages per run at most. No targets.
//! - `reqrep`: round trips of 64 B from a `req` port to a `rep` port that echoes them, against
//!   a raw REQ→REP echo. `qryans`: a `qry` port to an `ans` port (final answer), against a raw
//!   DEALER→ROUTER echo. Warm-up round trips (1/20 of the timed ones), then the timed ones, each
//!   timed with `Instant`: the run's median (and p99) in µs, and the CPU per round trip as
//!   above, from just before the first timed request to the last timed reply.
//! - `cbor` lines go with `pubsub 64B tcp` and `reqrep tcp`: Cohort's typed API (`send`/`recv`,
//!   `request`/`recv`) sends a struct whose CBOR encoding is 64 bytes (printed in the header),
//!   so it compares with raw ZeroMQ's 64 B.
//! - `curve` lines go with the tcp and ipc cases of `pubsub 64B`, `pubsub 1KiB` and `reqrep`:
//!   the same Cohort bytes-API run with CURVE (both factories secured with one app keypair, as
//!   an app's actors are), compared with Cohort without it: what encryption costs. They have no
//!   target; docs/security.md quotes them.
//!
//! Both sides wait the same way, the fastest libzmq allows: `zmq::poll` until the socket is
//! readable, then non-blocking receives (`ZMQ_DONTWAIT`; a port's `recv`) until nothing is
//! waiting (`EAGAIN`; `None`), then poll again. This holds for the subscribers, the echo servers
//! and the clients waiting for their reply. Senders send blocking, with the same send timeout.
//! Raw sockets get the same options as Cohort's (`socket_options`: high-water marks of 1000
//! both ways, `ZMQ_XPUB_NODROP` on publishers, send timeout, heartbeats on tcp and ipc, linger,
//! reconnect interval, maximum message size; `ZMQ_ROUTER_MANDATORY` and `ZMQ_ROUTER_HANDOVER`
//! on ROUTERs). Sender and receiver are two threads of this process; for tcp and ipc each side
//! has its own ZeroMQ context (on the Cohort side its own `PortFactory`), as separate processes
//! would; inproc shares one context (one factory).
//!
//! Each case runs in pairs: raw then Cohort, then Cohort then raw, and so on (the `cbor` and
//! `curve` sides, where there are any, run after Cohort and before it in the reversed order), so
//! that drift on a shared machine hits every side alike. Each pair gives a ratio (Cohort's
//! number over raw's; a `curve` line's over plain Cohort's);
//! a line reports the median of the pairs' ratios and their spread `[min–max]`, next to the
//! median of each side's numbers. Targets, each judged on the median over the pairs:
//!
//! | line | target |
//! |---|---|
//! | pubsub 64B/1KiB × tcp/ipc/inproc, `msg/s` | throughput ratio ≥ 0.95 |
//! | pubsub 64B/1KiB × tcp/ipc/inproc, `cpu/msg` | CPU-per-message ratio ≤ 1.10 |
//! | reqrep, qryans × tcp/ipc/inproc, `p50/p99` | Cohort median ≤ 1.1 × raw median + 5 µs |
//! | pubsub 64B tcp cbor, `msg/s` | typed throughput ≥ 0.8 × raw (bytes) throughput |
//! | reqrep tcp cbor, `p50/p99` | typed median ≤ raw median + 8 µs |
//!
//! For a round-trip line the per-pair quantity judged is the slack, Cohort's median minus the
//! allowed one; the target is met when the median slack is ≤ 0. The line also shows the
//! per-pair extra µs (Cohort's median minus raw's). CPU per round trip and the `cbor` CPU lines
//! have no target. The report ends with how many targets were met (`N of M targets met`) and
//! the names of the missed ones.
//!
//! Run: `cargo bench -p cohort-ports --bench ports_vs_raw` (about 5 minutes on 2 cores). Words
//! after `--` pick the cases whose name contains all of them (`-- reqrep tcp`). Environment:
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `COHORT_BENCH_QUICK=1` | off | 3 pairs, 20,000 messages, 1,000 round trips: a smoke run, numbers are rough |
//! | `COHORT_BENCH_MESSAGES` | 400000 | messages per throughput run |
//! | `COHORT_BENCH_ROUND_TRIPS` | 5000 | timed round trips per latency run (warm-up: 1/20 of it) |
//! | `COHORT_BENCH_PAIRS` | 10 | raw/Cohort pairs per latency case (and `curve` pairs of every case) |
//! | `COHORT_BENCH_STREAM_PAIRS` | 20 | raw/Cohort pairs per throughput case (quick: 3) |
//! | `COHORT_BENCH_VERBOSE=1` | off | print every run on stderr |
//! | `COHORT_BENCH_SPIN` | 0 | yields before each `poll`, both sides (see [`wait`]): the loop without most sleeps |
//! | `COHORT_BENCH_RAW_PAD` | 0 | bytes added to the raw side's pub/sub payloads: 14 makes its messages as long as Cohort's frames |
//! | `COHORT_BENCH_ONLY` | all | `raw`, `cohort`, `cbor` or `curve`: run that side only (for profiling; no lines) |
//!
//! The exit status is 0 even when a target is missed: this is a report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use cohort_ports::{
    Addressing, AppKeys, Interface, PortFactory, PortKind, PortSpec, QryPort, ReqPort, Request, RequestId, Response,
    Scope, Security, SocketOptions,
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
    /// Pairs per latency case, and how many pairs of any case include the `curve` side.
    pairs: usize,
    /// Pairs per throughput case: runs are short and their ratios spread widely on a shared
    /// machine, so more of them settle the median.
    stream_pairs: usize,
    filters: Vec<String>,
    /// Bytes added to the raw side's pub/sub payloads (Cohort's header is 14).
    raw_pad: usize,
    verbose: bool,
    only: Option<String>,
    dir: PathBuf,
    /// The app keypair of the `curve` sides.
    keys: AppKeys,
}

fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().replace('_', "").parse() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{name}={text:?} is not a positive number"),
    }
}

/// A count from the environment that may be 0; unset is 0.
fn env_count(name: &str) -> u64 {
    let Ok(text) = std::env::var(name) else { return 0 };
    match text.trim().replace('_', "").parse() {
        Ok(n) => n,
        Err(_) => panic!("{name}={text:?} is not a number"),
    }
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

impl Config {
    fn from_env() -> Config {
        let quick = env_flag("COHORT_BENCH_QUICK");
        let messages = env_number("COHORT_BENCH_MESSAGES").unwrap_or(if quick { 20_000 } else { 400_000 });
        let round_trips =
            env_number("COHORT_BENCH_ROUND_TRIPS").map_or(if quick { 1_000 } else { 5_000 }, |n| n as usize);
        let pairs = env_number("COHORT_BENCH_PAIRS").map_or(if quick { 3 } else { 10 }, |n| n as usize);
        let stream_pairs = env_number("COHORT_BENCH_STREAM_PAIRS").map_or(if quick { 3 } else { 20 }, |n| n as usize);
        // cargo bench passes `--bench`; every other word is a filter.
        let filters = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
        Config {
            messages,
            warmup: (round_trips / 20).max(1),
            round_trips,
            pairs,
            stream_pairs,
            filters,
            raw_pad: usize::try_from(env_count("COHORT_BENCH_RAW_PAD")).expect("COHORT_BENCH_RAW_PAD fits in memory"),
            verbose: env_flag("COHORT_BENCH_VERBOSE"),
            only: std::env::var("COHORT_BENCH_ONLY").ok().filter(|s| !s.is_empty()).inspect(|s| {
                let sides = ["raw", "cohort", "cbor", "curve"];
                assert!(sides.contains(&s.as_str()), "COHORT_BENCH_ONLY={s:?}: expected one of {sides:?}");
            }),
            dir: std::env::temp_dir().join(format!("cohort-bench-{}", std::process::id())),
            keys: AppKeys::generate().expect("the linked libzmq has CURVE (zmq-sys/README.md)"),
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

/// User plus system CPU time this process has used so far, all threads together.
fn process_cpu() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the struct it is given, which lives until the call returns.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap()) + Duration::from_micros(u64::try_from(t.tv_usec).unwrap())
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The socket options of both sides: Cohort's factories get them, and raw sockets get the same
/// through [`raw_socket`].
fn socket_options() -> SocketOptions {
    SocketOptions {
        publish_no_drop: true,
        send_hwm: HWM,
        recv_hwm: HWM,
        // A blocked (no-drop) publisher waits for the subscriber rather than failing.
        send_timeout: Duration::from_millis(STALL_MS as u64),
        ..SocketOptions::default()
    }
}

/// Waits until `socket` is readable. With `COHORT_BENCH_SPIN=N`, first yields the CPU up to N
/// times, asking libzmq after each whether the socket has become readable (`ZMQ_EVENTS`), and
/// polls only if it has not: a loop that seldom sleeps, for both sides alike.
fn wait(socket: &zmq::Socket) {
    static SPINS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let spins = *SPINS.get_or_init(|| env_count("COHORT_BENCH_SPIN"));
    for _ in 0..spins {
        if socket.get_events().is_ok_and(|e| e.contains(zmq::POLLIN)) {
            return;
        }
        thread::yield_now();
    }
    POLLS.fetch_add(1, Ordering::Relaxed);
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

/// How many times [`wait`] was called: a throughput run's receiver waits in `poll` only when it
/// has emptied its socket, so the count over a run is how often it slept.
static POLLS: AtomicU64 = AtomicU64::new(0);

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
    /// The process's CPU time when the end marker was taken.
    cpu_at_end: Duration,
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
                self.cpu_at_end = process_cpu();
                true
            }
            other => panic!("unexpected message {other:?}"),
        }
    }

    /// The run, given the CPU time just before the first data message was sent; panics if any
    /// message was lost.
    fn stream(&self, expected: u64, cpu_at_start: Duration) -> Stream {
        assert_eq!(self.count, expected, "messages were lost");
        let span = self.end.unwrap() - self.first.unwrap();
        let cpu = self.cpu_at_end.saturating_sub(cpu_at_start);
        Stream {
            rate: self.count as f64 / span.as_secs_f64().max(1e-9),
            cpu: cpu.as_secs_f64() * 1e6 / self.count as f64,
        }
    }
}

/// One throughput run.
#[derive(Debug, Clone, Copy)]
struct Stream {
    /// Messages per second at the receiver.
    rate: f64,
    /// Process CPU µs per message.
    cpu: f64,
}

/// One latency run: the timed round trips and the CPU time they took.
struct Trips {
    times: Vec<Duration>,
    cpu: Duration,
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

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap()
}

/// A raw socket of `kind` for `t`, with the options a Cohort port's socket gets.
fn raw_socket(ctx: &zmq::Context, kind: zmq::SocketType, t: Transport) -> zmq::Socket {
    let o = socket_options();
    let mut socket = ctx.socket(kind).unwrap();
    socket.set_sndtimeo(millis(o.send_timeout)).unwrap();
    socket.set_sndhwm(o.send_hwm).unwrap();
    socket.set_rcvhwm(o.recv_hwm).unwrap();
    socket.set_maxmsgsize(o.max_message_size).unwrap();
    socket.set_linger(millis(o.linger)).unwrap();
    socket.set_reconnect_ivl(millis(o.reconnect_interval)).unwrap();
    if t != Transport::Inproc && !o.heartbeat_interval.is_zero() {
        socket.set_heartbeat_ivl(millis(o.heartbeat_interval)).unwrap();
        socket.set_heartbeat_timeout(millis(o.heartbeat_timeout)).unwrap();
        socket.set_heartbeat_ttl(millis(o.heartbeat_ttl) / 100 * 100).unwrap();
    }
    match kind {
        zmq::ROUTER => {
            socket.set_router_mandatory(true).unwrap();
            socket.set_router_handover(true).unwrap();
        }
        zmq::SUB => socket.set_subscribe(b"").unwrap(),
        zmq::PUB if o.publish_no_drop => set_xpub_nodrop(&mut socket),
        _ => {}
    }
    socket
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

/// Receives the next message into `msg` without blocking (`ZMQ_DONTWAIT`); false when none
/// is waiting (`EAGAIN`).
fn raw_try_recv(socket: &zmq::Socket, msg: &mut zmq::Message) -> bool {
    loop {
        match socket.recv(msg, zmq::DONTWAIT) {
            Ok(()) => return true,
            Err(zmq::Error::EAGAIN) => return false,
            Err(zmq::Error::EINTR) => {}
            Err(e) => panic!("recv: {e}"),
        }
    }
}

/// A sender's pace: `burst` messages at once, one burst per `period`.
#[derive(Debug, Clone, Copy)]
struct Pace {
    burst: u64,
    period: Duration,
}

/// A throughput subscriber's wait: until `socket` is readable ([`wait`]) or, in a paced case,
/// for one period, whatever has arrived: each side then wakes once per burst, however fast it
/// drains it.
fn wait_or_tick(socket: &zmq::Socket, pace: Option<Pace>) {
    match pace {
        Some(pace) => {
            POLLS.fetch_add(1, Ordering::Relaxed);
            thread::sleep(pace.period);
        }
        None => wait(socket),
    }
}

/// Messages per paced run at most: at its pace a run takes 0.4 s (64 B) or 0.8 s (1 KiB).
const PACED_MESSAGES: u64 = 200_000;

/// How many messages a throughput run sends.
fn stream_messages(cfg: &Config, pace: Option<Pace>) -> u64 {
    match pace {
        Some(_) => cfg.messages.min(PACED_MESSAGES),
        None => cfg.messages,
    }
}

/// Calls `send` `n` times: at once, or at `pace`, sleeping until each burst is due.
fn send_all(n: u64, pace: Option<Pace>, mut send: impl FnMut()) {
    let Some(pace) = pace else {
        (0..n).for_each(|_| send());
        return;
    };
    let start = Instant::now();
    let mut sent = 0;
    while sent < n {
        let burst = pace.burst.min(n - sent);
        (0..burst).for_each(|_| send());
        sent += burst;
        let due = start + pace.period * u32::try_from(sent / pace.burst).unwrap();
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
}

fn raw_pubsub(cfg: &Config, t: Transport, size: usize, pace: Option<Pace>) -> Stream {
    let (pub_ctx, sub_ctx) = raw_contexts(t);
    let publisher = raw_socket(&pub_ctx, zmq::PUB, t);
    let endpoint = raw_bind(cfg, t, &publisher);
    let subscriber = raw_socket(&sub_ctx, zmq::SUB, t);
    subscriber.connect(&endpoint).unwrap();

    let seen = Arc::new(AtomicBool::new(false));
    let receiver = {
        let seen = Arc::clone(&seen);
        thread::Builder::new().name("raw-receiver".to_owned()).spawn(move || {
            let mut msg = zmq::Message::new();
            let mut counter = Counter::default();
            loop {
                wait_or_tick(&subscriber, pace);
                while raw_try_recv(&subscriber, &mut msg) {
                    if counter.take(msg.first().copied(), &seen) {
                        return counter;
                    }
                }
            }
        })
    };
    warm_up(&seen, || publisher.send(&[WARM][..], 0).unwrap());
    let data = payload(size + cfg.raw_pad);
    let cpu_at_start = process_cpu();
    send_all(stream_messages(cfg, pace), pace, || publisher.send(&data[..], 0).unwrap());
    publisher.send(&[END][..], 0).unwrap();
    receiver.unwrap().join().unwrap().stream(stream_messages(cfg, pace), cpu_at_start)
}

/// Raw echo: REQ→REP, or DEALER→ROUTER when `routed`.
fn raw_echo(cfg: &Config, t: Transport, routed: bool) -> Trips {
    let (client_ctx, server_ctx) = raw_contexts(t);
    let server = raw_socket(&server_ctx, if routed { zmq::ROUTER } else { zmq::REP }, t);
    let endpoint = raw_bind(cfg, t, &server);
    let client = raw_socket(&client_ctx, if routed { zmq::DEALER } else { zmq::REQ }, t);
    client.connect(&endpoint).unwrap();

    let total = cfg.warmup + cfg.round_trips;
    let echo = thread::Builder::new().name("raw-echo".to_owned()).spawn(move || {
        let mut identity = zmq::Message::new();
        let mut msg = zmq::Message::new();
        let mut served = 0;
        while served < total {
            wait(&server);
            loop {
                if routed {
                    if !raw_try_recv(&server, &mut identity) {
                        break;
                    }
                    // The parts of a message arrive together: the body is there.
                    assert!(raw_try_recv(&server, &mut msg), "a request without a body");
                    server.send(&identity[..], zmq::SNDMORE).unwrap();
                } else if !raw_try_recv(&server, &mut msg) {
                    break;
                }
                server.send(&msg[..], 0).unwrap();
                served += 1;
            }
        }
        server
    });
    let data = payload(ROUND_TRIP_BYTES);
    let mut reply = zmq::Message::new();
    let mut times = Vec::with_capacity(cfg.round_trips);
    let mut cpu_at_start = Duration::ZERO;
    for i in 0..total {
        if i == cfg.warmup {
            cpu_at_start = process_cpu();
        }
        let start = Instant::now();
        client.send(&data[..], 0).unwrap();
        loop {
            wait(&client);
            if raw_try_recv(&client, &mut reply) {
                break;
            }
        }
        let took = start.elapsed();
        assert_eq!(reply.len(), ROUND_TRIP_BYTES);
        if i >= cfg.warmup {
            times.push(took);
        }
    }
    let cpu = process_cpu().saturating_sub(cpu_at_start);
    drop(echo.unwrap().join().unwrap());
    Trips { times, cpu }
}

// ---------------------------------------------------------------------------------------------
// Cohort ports.

/// The struct of the `cbor` lines; its CBOR encoding is 64 bytes (a map with five text keys:
/// 1 + 6 + 9 + 15 + 23 + 10), like the raw lines' 64-byte payload.
#[derive(Debug, Serialize, Deserialize)]
struct Reading {
    kind: u8,
    seq: u64,
    value: f64,
    sensor: String,
    unit: String,
}

impl Reading {
    fn new(kind: u8) -> Reading {
        Reading { kind, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".to_owned(), unit: "degC".to_owned() }
    }
}

fn factory(cfg: &Config, actor: &str, security: &Security) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), &cfg.dir, actor).unwrap();
    PortFactory::new(addressing, socket_options(), security.clone(), slog::Logger::root(slog::Discard, slog::o!()))
        .unwrap()
}

/// The factories of the two sides: one each for tcp and ipc (like two actor processes), one
/// shared for inproc (one actor).
struct Sides {
    first: PortFactory,
    second: Option<PortFactory>,
}

impl Sides {
    /// Plain, or secured with CURVE (`curve`: the app's keypair, on both sides).
    fn new(cfg: &Config, t: Transport, curve: bool) -> Sides {
        let security = if curve { Security::Curve(cfg.keys.clone()) } else { Security::None };
        let first = factory(cfg, "A", &security);
        let second = (t != Transport::Inproc).then(|| factory(cfg, "B", &security));
        Sides { first, second }
    }

    fn sender(&self) -> &PortFactory {
        &self.first
    }

    fn receiver(&self) -> &PortFactory {
        self.second.as_ref().unwrap_or(&self.first)
    }
}

fn cohort_pubsub(cfg: &Config, t: Transport, size: usize, typed: bool, curve: bool, pace: Option<Pace>) -> Stream {
    let sides = Sides::new(cfg, t, curve);
    let n = unique();
    let mut publisher =
        sides.sender().publisher(&PortSpec::new("p", &format!("pub{n}"), PortKind::Pub, t.scope(), "Data")).unwrap();
    let mut subscriber =
        sides.receiver().subscriber(&PortSpec::new("s", &format!("sub{n}"), PortKind::Sub, t.scope(), "Data")).unwrap();
    subscriber.add_endpoint(publisher.endpoint()).unwrap();

    let seen = Arc::new(AtomicBool::new(false));
    let receiver = {
        let seen = Arc::clone(&seen);
        thread::Builder::new().name("cohort-receiver".to_owned()).spawn(move || {
            let mut counter = Counter::default();
            loop {
                wait_or_tick(subscriber.socket(), pace);
                loop {
                    let mark = if typed {
                        subscriber.recv::<Reading>().unwrap().map(|r| r.value.kind)
                    } else {
                        subscriber.recv_bytes().unwrap().map(|r| r.value.first().copied().unwrap_or(u8::MAX))
                    };
                    let Some(mark) = mark else { break };
                    if counter.take(Some(mark), &seen) {
                        return counter;
                    }
                }
            }
        })
    };
    let cpu_at_start;
    if typed {
        let warm = Reading::new(WARM);
        warm_up(&seen, || publisher.send(&warm).unwrap());
        let data = Reading::new(DATA);
        cpu_at_start = process_cpu();
        send_all(stream_messages(cfg, pace), pace, || publisher.send(&data).unwrap());
        publisher.send(&Reading::new(END)).unwrap();
    } else {
        warm_up(&seen, || publisher.send_bytes(&[WARM]).unwrap());
        let data = payload(size);
        cpu_at_start = process_cpu();
        send_all(stream_messages(cfg, pace), pace, || publisher.send_bytes(&data).unwrap());
        publisher.send_bytes(&[END]).unwrap();
    }
    receiver.unwrap().join().unwrap().stream(stream_messages(cfg, pace), cpu_at_start)
}

/// What the latency loop needs of a `req` or `qry` port.
trait Asker: Send {
    fn ask_bytes(&mut self, bytes: &[u8]) -> RequestId;
    fn ask(&mut self, value: &Reading) -> RequestId;
    /// The next reply: its request, its length and whether it is the last; `None` if nothing
    /// is waiting.
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
    fn ask(&mut self, value: &Reading) -> RequestId {
        self.request(value).unwrap()
    }
    fn reply_bytes(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv_bytes().unwrap(), |b| b.len())
    }
    fn reply(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv::<Reading>().unwrap(), |s| s.sensor.len())
    }
    fn socket(&self) -> &zmq::Socket {
        self.sockets().next().unwrap()
    }
}

impl Asker for QryPort {
    fn ask_bytes(&mut self, bytes: &[u8]) -> RequestId {
        self.query_bytes(bytes).unwrap()
    }
    fn ask(&mut self, value: &Reading) -> RequestId {
        self.query(value).unwrap()
    }
    fn reply_bytes(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv_bytes().unwrap(), |b| b.len())
    }
    fn reply(&mut self) -> Option<(RequestId, usize, bool)> {
        reply_of(self.recv::<Reading>().unwrap(), |s| s.sensor.len())
    }
    fn socket(&self) -> &zmq::Socket {
        self.sockets().next().unwrap()
    }
}

/// Cohort echo: `req`→`rep`, or `qry`→`ans` when `query`.
fn cohort_echo(cfg: &Config, t: Transport, query: bool, typed: bool, curve: bool) -> Trips {
    let sides = Sides::new(cfg, t, curve);
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
    let echo = thread::Builder::new().name("cohort-echo".to_owned()).spawn(move || {
        let mut copy = Vec::with_capacity(ROUND_TRIP_BYTES);
        let mut served = 0;
        while served < total {
            wait(server.socket());
            if typed {
                while let Some(Request { token, message }) = server.recv::<Reading>().unwrap() {
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
    let reading = Reading::new(DATA);
    let mut times = Vec::with_capacity(cfg.round_trips);
    let mut cpu_at_start = Duration::ZERO;
    for i in 0..total {
        if i == cfg.warmup {
            cpu_at_start = process_cpu();
        }
        let start = Instant::now();
        let id = if typed { client.ask(&reading) } else { client.ask_bytes(&data) };
        let (got, len, last) = loop {
            wait(client.socket());
            let reply = if typed { client.reply() } else { client.reply_bytes() };
            if let Some(reply) = reply {
                break reply;
            }
        };
        let took = start.elapsed();
        assert!(got == id && last && len == if typed { reading.sensor.len() } else { ROUND_TRIP_BYTES });
        if i >= cfg.warmup {
            times.push(took);
        }
    }
    let cpu = process_cpu().saturating_sub(cpu_at_start);
    drop(echo.unwrap().join().unwrap());
    Trips { times, cpu }
}

// ---------------------------------------------------------------------------------------------
// Cases and the report.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    Cohort,
    /// Cohort through the typed (CBOR) API.
    Typed,
    /// Cohort's bytes API with CURVE, compared with `Cohort`.
    Curve,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Raw => "raw",
            Side::Cohort => "cohort",
            Side::Typed => "cbor",
            Side::Curve => "curve",
        }
    }
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
    /// Whether a typed (`cbor`) side goes with it.
    typed: bool,
    /// Whether a `curve` side goes with it.
    curve: bool,
    /// Pub/sub only: the senders' pace, for a `paced` case (no targets), or as fast as they can.
    pace: Option<Pace>,
}

/// The numbers of one run: a throughput run fills `rate`, a latency run `p50` and `p99` (µs);
/// `cpu` is the process's CPU µs per message or per round trip.
#[derive(Debug, Clone, Copy, Default)]
struct Outcome {
    rate: f64,
    p50: f64,
    p99: f64,
    cpu: f64,
    /// Throughput runs: how often the receiver waited in `poll`, per 1000 messages.
    polls: f64,
}

impl Outcome {
    fn of_stream(stream: Stream) -> Outcome {
        Outcome { rate: stream.rate, cpu: stream.cpu, ..Outcome::default() }
    }

    fn of_trips(trips: Trips) -> Outcome {
        let Trips { mut times, cpu } = trips;
        times.sort_unstable();
        let at = |q: f64| {
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times[i].as_secs_f64() * 1e6
        };
        Outcome { p50: at(0.5), p99: at(0.99), cpu: cpu.as_secs_f64() * 1e6 / times.len() as f64, ..Outcome::default() }
    }
}

fn run(cfg: &Config, case: &Case, side: Side) -> Outcome {
    let t = case.transport;
    let (typed, curve) = (side == Side::Typed, side == Side::Curve);
    let polls_before = POLLS.load(Ordering::Relaxed);
    let per_thousand = |outcome: Outcome| Outcome {
        polls: (POLLS.load(Ordering::Relaxed) - polls_before) as f64 * 1000.0 / stream_messages(cfg, case.pace) as f64,
        ..outcome
    };
    match (case.pattern, side) {
        (Pattern::PubSub(size), Side::Raw) => per_thousand(Outcome::of_stream(raw_pubsub(cfg, t, size, case.pace))),
        (Pattern::PubSub(size), _) => {
            per_thousand(Outcome::of_stream(cohort_pubsub(cfg, t, size, typed, curve, case.pace)))
        }
        (Pattern::ReqRep, Side::Raw) => Outcome::of_trips(raw_echo(cfg, t, false)),
        (Pattern::QryAns, Side::Raw) => Outcome::of_trips(raw_echo(cfg, t, true)),
        (Pattern::ReqRep, _) => Outcome::of_trips(cohort_echo(cfg, t, false, typed, curve)),
        (Pattern::QryAns, _) => Outcome::of_trips(cohort_echo(cfg, t, true, typed, curve)),
    }
}

/// The median, the least and the greatest of some numbers.
#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(values: impl IntoIterator<Item = f64>) -> Spread {
        let mut values: Vec<f64> = values.into_iter().collect();
        assert!(!values.is_empty(), "no runs");
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        Spread { median, min: values[0], max: values[n - 1] }
    }
}

/// A ratio spread: `median [min–max]`.
impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} [{:.2}–{:.2}]", self.median, self.min, self.max)
    }
}

fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else {
        format!("{:.0}k", rate / 1e3)
    }
}

/// One printed line: a quantity of `side` against its base (raw; plain Cohort for `curve`), as
/// the medians of both sides' runs and the median [min–max] of the per-pair ratios, then
/// `extra`, the target and the verdict (`met` is `None` for a line without a target).
struct Line<'a> {
    label: &'a str,
    what: &'a str,
    side: Side,
    /// The base's name and its median.
    base: &'a str,
    raw: String,
    ours: String,
    ratio: Spread,
    extra: String,
    target: &'a str,
    met: Option<bool>,
}

impl Line<'_> {
    fn print(&self) {
        let verdict = match self.met {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "(no target)",
        };
        println!(
            "{:<20} {:<7}  {:<6} {:>12}  {:<6} {:>12}  ratio {}  {}target {}  {verdict}",
            self.label,
            self.what,
            self.base,
            self.raw,
            self.side.name(),
            self.ours,
            self.ratio,
            self.extra,
            self.target,
        );
    }
}

/// Runs `case` in alternating pairs, prints its lines and returns each target's name and
/// whether it was met.
fn measure(cfg: &Config, case: &Case) -> Vec<(String, bool)> {
    let mut sides = vec![Side::Raw, Side::Cohort];
    if case.typed {
        sides.push(Side::Typed);
    }
    if case.curve {
        sides.push(Side::Curve);
    }
    let mut runs: Vec<Vec<Outcome>> = vec![Vec::new(); sides.len()];
    let pairs = match case.pattern {
        Pattern::PubSub(_) => cfg.stream_pairs,
        Pattern::ReqRep | Pattern::QryAns => cfg.pairs,
    };
    for pair in 0..pairs {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if pair % 2 == 1 {
            order.reverse();
        }
        for i in order {
            if cfg.only.as_ref().is_some_and(|only| only != sides[i].name()) {
                continue;
            }
            // `curve` lines have no target: their first `pairs` pairs tell what encryption
            // costs (they pair with the plain Cohort runs of the same pairs).
            if sides[i] == Side::Curve && pair >= cfg.pairs {
                continue;
            }
            let o = run(cfg, case, sides[i]);
            if cfg.verbose {
                let text = match case.pattern {
                    Pattern::PubSub(_) => format!("{} msg/s, cpu {:.3} µs/msg", rate_text(o.rate), o.cpu),
                    _ => format!("p50 {:.1} p99 {:.1} µs, cpu {:.2} µs/rt", o.p50, o.p99, o.cpu),
                };
                eprintln!("  {} pair {} {}: {text}", case.name, pair + 1, sides[i].name());
            }
            runs[i].push(o);
        }
    }
    if cfg.only.is_some() {
        return Vec::new();
    }
    let mut verdicts = Vec::new();
    for (i, &side) in sides.iter().enumerate().skip(1) {
        let ours = &runs[i];
        let (typed, curve) = (side == Side::Typed, side == Side::Curve);
        // A `curve` line compares with plain Cohort (what encryption costs), the others with raw.
        let (raw, base) = if curve { (&runs[1], "plain") } else { (&runs[0], "raw") };
        let label = match side {
            Side::Typed => format!("{} cbor", case.name),
            Side::Curve => format!("{} curve", case.name),
            _ => case.name.clone(),
        };
        let median = |runs: &[Outcome], f: fn(&Outcome) -> f64| Spread::of(runs.iter().map(f)).median;
        let ratio = |f: fn(&Outcome) -> f64| Spread::of(raw.iter().zip(ours).map(|(r, o)| f(o) / f(r)));
        let cpu = |o: &Outcome| o.cpu;
        let mut lines = Vec::new();
        // A paced case's lines have no target: they show the work per message.
        let judged = !curve && case.pace.is_none();
        if let Pattern::PubSub(_) = case.pattern {
            let rate = |o: &Outcome| o.rate;
            let (target, floor) = if typed { ("≥ 0.80×raw", 0.80) } else { ("≥ 0.95×raw", 0.95) };
            let r = ratio(rate);
            lines.push(Line {
                label: &label,
                what: "msg/s",
                side,
                base,
                raw: rate_text(median(raw, rate)),
                ours: rate_text(median(ours, rate)),
                ratio: r,
                extra: String::new(),
                target: if judged { target } else { "—" },
                met: judged.then_some(r.median >= floor),
            });
            let r = ratio(cpu);
            let polls = |o: &Outcome| o.polls;
            lines.push(Line {
                label: &label,
                what: "cpu/msg",
                side,
                base,
                raw: format!("{:.3} µs", median(raw, cpu)),
                ours: format!("{:.3} µs", median(ours, cpu)),
                ratio: r,
                extra: format!("polls/1k {:.1} vs {:.1}  ", median(raw, polls), median(ours, polls)),
                target: if judged && !typed { "≤ 1.10×raw" } else { "—" },
                met: (judged && !typed).then_some(r.median <= 1.10),
            });
        } else {
            let (p50, p99) = (|o: &Outcome| o.p50, |o: &Outcome| o.p99);
            // Per pair: how far over raw, and how far over the allowed median (≤ 0 is in).
            let over = Spread::of(raw.iter().zip(ours).map(|(r, o)| o.p50 - r.p50));
            let (target, slack) = if typed {
                ("≤ raw+8µs", Spread::of(raw.iter().zip(ours).map(|(r, o)| o.p50 - r.p50 - 8.0)))
            } else {
                ("≤ 1.1×raw+5µs", Spread::of(raw.iter().zip(ours).map(|(r, o)| o.p50 - 1.1 * r.p50 - 5.0)))
            };
            lines.push(Line {
                label: &label,
                what: "p50/p99",
                side,
                base,
                raw: format!("{:.1}/{:.1} µs", median(raw, p50), median(raw, p99)),
                ours: format!("{:.1}/{:.1} µs", median(ours, p50), median(ours, p99)),
                ratio: ratio(p50),
                extra: format!("{:+.1} µs [{:+.1}–{:+.1}]  ", over.median, over.min, over.max),
                target: if curve { "—" } else { target },
                met: (!curve).then_some(slack.median <= 0.0),
            });
            lines.push(Line {
                label: &label,
                what: "cpu/rt",
                side,
                base,
                raw: format!("{:.2} µs", median(raw, cpu)),
                ours: format!("{:.2} µs", median(ours, cpu)),
                ratio: ratio(cpu),
                extra: String::new(),
                target: "—",
                met: None,
            });
        }
        for line in &lines {
            line.print();
            if let Some(met) = line.met {
                verdicts.push((format!("{} {}", line.label, line.what), met));
            }
        }
    }
    verdicts
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
                curve: t != Transport::Inproc,
                pace: None,
            });
        }
    }
    // The same at a pace both sides keep up with, so that both subscribers wait about once per
    // burst: the CPU per message then tells the work per message apart from the sleeps.
    for (size, label, burst) in [(64, "64B", 500), (1024, "1KiB", 250)] {
        cases.push(Case {
            name: format!("pubsub {label} tcp paced"),
            pattern: Pattern::PubSub(size),
            transport: Transport::Tcp,
            typed: size == 64,
            curve: false,
            pace: Some(Pace { burst, period: Duration::from_millis(1) }),
        });
    }
    for (pattern, label) in [(Pattern::ReqRep, "reqrep"), (Pattern::QryAns, "qryans")] {
        for t in Transport::ALL {
            cases.push(Case {
                name: format!("{label} {}", t.name()),
                pattern,
                transport: t,
                typed: pattern == Pattern::ReqRep && t == Transport::Tcp,
                curve: pattern == Pattern::ReqRep && t != Transport::Inproc,
                pace: None,
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
        pairs: 1,
        stream_pairs: 1,
        filters: Vec::new(),
        raw_pad: cfg.raw_pad,
        verbose: false,
        only: None,
        dir: cfg.dir.clone(),
        keys: cfg.keys.clone(),
    };
    for t in Transport::ALL {
        raw_pubsub(&short, t, 64, None);
        cohort_pubsub(&short, t, 64, false, false, None);
        raw_echo(&short, t, true);
        cohort_echo(&short, t, true, false, false);
    }
}

fn main() {
    // As an actor process does; process-wide, so the raw sides run with it too.
    cohort_ports::allocator::tune_for_messages();
    let cfg = Config::from_env();
    std::fs::create_dir_all(&cfg.dir).unwrap();
    let (major, minor, patch) = zmq::version();
    let typed_size = minicbor_serde::to_vec(Reading::new(DATA)).unwrap().len();
    println!(
        "ports_vs_raw: libzmq {major}.{minor}.{patch}, raw/cohort pairs per case (order alternating): {} per \
         throughput case, {} per latency case, curve sides in the first {}; {} messages per throughput run, {}+{} \
         round trips of {ROUND_TRIP_BYTES} B per latency run; cbor lines send a {typed_size}-byte struct; curve lines \
         compare CURVE with plain Cohort",
        cfg.stream_pairs, cfg.pairs, cfg.pairs, cfg.messages, cfg.warmup, cfg.round_trips
    );
    println!(
        "columns: median of each side's runs; ratio = median [min–max] of the per-pair ratios (side/raw, curve/plain); cpu = \
         process user+sys per message (msg) or round trip (rt)"
    );
    let spins = env_count("COHORT_BENCH_SPIN");
    if spins > 0 || cfg.raw_pad > 0 {
        println!(
            "not the default loop: {spins} yields before each poll (COHORT_BENCH_SPIN), raw pub/sub payloads {} bytes \
             longer (COHORT_BENCH_RAW_PAD)",
            cfg.raw_pad
        );
    }
    let started = Instant::now();
    warm_up_process(&cfg);
    let mut verdicts = Vec::new();
    let mut cases_run = 0;
    for case in cases().iter().filter(|c| cfg.wants(&c.name)) {
        cases_run += 1;
        verdicts.extend(measure(&cfg, case));
    }
    let seconds = started.elapsed().as_secs_f64();
    match &cfg.only {
        Some(only) => println!("{cases_run} cases, {only} side only, no comparison ({seconds:.0} s)"),
        None => {
            let met = verdicts.iter().filter(|(_, met)| *met).count();
            println!("{met} of {} targets met ({seconds:.0} s)", verdicts.len());
            let missed: Vec<&str> = verdicts.iter().filter(|(_, met)| !met).map(|(name, _)| name.as_str()).collect();
            if !missed.is_empty() {
                println!("missed: {}", missed.join("; "));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&cfg.dir);
}
