//! Helpers shared by the integration tests of the ports crate: a factory with its own runtime
//! directory, waiting on sockets with `zmq::poll` (never a blind sleep), pub/sub joining, and
//! hand-made frames.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cohort_ports::wire::{self, Flags};
use cohort_ports::*;
use serde::{Deserialize, Serialize};

/// How long any test waits for something it expects to happen before failing.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// The three scopes, one per transport.
pub(crate) const SCOPES: [Scope; 3] = [Scope::Internal, Scope::Local, Scope::Global];

/// A test's factory and its private runtime directory, removed when the test ends.
pub(crate) struct Env {
    pub(crate) factory: PortFactory,
    pub(crate) dir: PathBuf,
}

impl Env {
    /// A factory with default options and no security, ipc endpoints under a directory of its own.
    pub(crate) fn new(test: &str) -> Env {
        Env::with(test, SocketOptions::default(), Security::None).expect("making the test factory")
    }

    /// A factory with these options and security.
    pub(crate) fn with(test: &str, options: SocketOptions, security: Security) -> Result<Env, PortError> {
        let dir = std::env::temp_dir().join(format!("cohort-pt-{}-{test}", std::process::id()));
        let result = factory_in(&dir, "A", options, security);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(Env { factory: result?, dir })
    }

    /// Another factory (another ZeroMQ context, as another actor process would have) whose ipc
    /// endpoints go in the same directory.
    pub(crate) fn other_factory(&self, options: SocketOptions, security: Security) -> Result<PortFactory, PortError> {
        factory_in(&self.dir, "B", options, security)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn factory_in(
    dir: &std::path::Path,
    actor: &str,
    options: SocketOptions,
    security: Security,
) -> Result<PortFactory, PortError> {
    let addressing = Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), dir, actor)?;
    PortFactory::new(addressing, options, security, slog::Logger::root(slog::Discard, slog::o!()))
}

/// The transport a scope must give.
pub(crate) fn transport_of(scope: Scope) -> Transport {
    match scope {
        Scope::Global => Transport::Tcp,
        Scope::Local => Transport::Ipc,
        Scope::Internal => Transport::Inproc,
    }
}

/// Something with sockets to poll, and perhaps a deadline to wake up for.
pub(crate) trait Pollable {
    /// The sockets whose readability means a receive may return something.
    fn poll_sockets(&self) -> Vec<&zmq::Socket>;
    /// When the port needs a receive call even if no socket is readable.
    fn wake_at(&mut self) -> Option<Instant> {
        None
    }
}

impl Pollable for zmq::Socket {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        vec![self]
    }
}

impl Pollable for SubPort {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        vec![self.socket()]
    }
}

impl Pollable for ReplyPort {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        vec![self.socket()]
    }
}

impl Pollable for Hub {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        vec![self.socket()]
    }
}

impl Pollable for Spoke {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        vec![self.socket()]
    }
}

impl Pollable for ReqPort {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        self.sockets().collect()
    }
    fn wake_at(&mut self) -> Option<Instant> {
        self.next_deadline()
    }
}

impl Pollable for QryPort {
    fn poll_sockets(&self) -> Vec<&zmq::Socket> {
        self.sockets().collect()
    }
    fn wake_at(&mut self) -> Option<Instant> {
        self.next_deadline()
    }
}

/// Polls `port` until `attempt` returns something, waking when a socket is readable or the
/// port's own deadline passes; fails the test after [`WAIT`].
pub(crate) fn until<P: Pollable + ?Sized, T>(
    port: &mut P,
    what: &str,
    mut attempt: impl FnMut(&mut P) -> Option<T>,
) -> T {
    let give_up = Instant::now() + WAIT;
    loop {
        if let Some(value) = attempt(port) {
            return value;
        }
        let now = Instant::now();
        assert!(now < give_up, "{what}: nothing within {WAIT:?}");
        let wake = port.wake_at().map_or(give_up, |at| at.min(give_up));
        let wait = i64::try_from(wake.saturating_duration_since(now).as_millis() + 1).unwrap_or(i64::MAX);
        let sockets = port.poll_sockets();
        let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        match zmq::poll(&mut items, wait) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => panic!("{what}: poll failed: {e}"),
        }
    }
}

/// Waits until `socket` is readable; fails the test after [`WAIT`].
pub(crate) fn wait_readable(socket: &zmq::Socket, what: &str) {
    let give_up = Instant::now() + WAIT;
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{what}: nothing arrived within {WAIT:?}");
        let mut items = [socket.as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX) + 1) {
            Ok(_) if items[0].is_readable() => return,
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => panic!("{what}: poll failed: {e}"),
        }
    }
}

/// Whether `socket` becomes readable within `within` (for checking that nothing arrives).
pub(crate) fn readable_within(socket: &zmq::Socket, within: Duration) -> bool {
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    zmq::poll(&mut items, i64::try_from(within.as_millis()).unwrap_or(i64::MAX)).expect("poll");
    items[0].is_readable()
}

/// Gets past the slow-joiner problem: publishes numbered raw warm-up messages until the
/// subscriber receives one, then drains the subscriber up to the last one published, so that
/// nothing of the warm-up is left in flight.
pub(crate) fn join(publisher: &mut PubPort, subscriber: &mut SubPort) {
    let give_up = Instant::now() + WAIT;
    let mut sent: u64 = 0;
    let mut seen: Option<u64> = None;
    while seen.is_none() {
        assert!(Instant::now() < give_up, "subscriber {:?} never got a warm-up message", subscriber.kind());
        sent += 1;
        publisher.send_bytes(&sent.to_le_bytes()).expect("publishing a warm-up message");
        if readable_within(subscriber.socket(), Duration::from_millis(10)) {
            seen = next_warm_up(subscriber);
        }
    }
    while seen != Some(sent) {
        seen = Some(until(subscriber, "draining the warm-up messages", next_warm_up));
    }
}

fn next_warm_up(subscriber: &mut SubPort) -> Option<u64> {
    let got = subscriber.recv_bytes().expect("receiving a warm-up message")?;
    let bytes: [u8; 8] = got.value.try_into().expect("a warm-up message is 8 bytes");
    Some(u64::from_le_bytes(bytes))
}

/// Checks the timestamps of a received message: both present (and in order) on timed ports,
/// both absent on untimed ones.
pub(crate) fn check_times<T>(got: &Received<T>, timed: bool) {
    if timed {
        let sent = got.send_time.expect("a timed port's message has a send time");
        let received = got.recv_time.expect("a timed port records the receive time");
        assert!(sent <= received, "sent at {sent:?}, received earlier at {received:?}");
        assert!(received <= SystemTime::now());
        let age = SystemTime::now().duration_since(sent).expect("send time is in the past");
        assert!(age < Duration::from_secs(60), "send time {sent:?} is not now");
    } else {
        assert_eq!((got.send_time, got.recv_time), (None, None), "untimed ports carry no times");
    }
}

/// A message with a bit of everything serde has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Reading {
    pub(crate) id: u32,
    pub(crate) sensor: String,
    pub(crate) values: Vec<f64>,
    #[serde(with = "serde_bytes")]
    pub(crate) blob: Vec<u8>,
    pub(crate) note: Option<String>,
}

impl Reading {
    pub(crate) fn new(id: u32) -> Reading {
        Reading {
            id,
            sensor: format!("sensor-{id}"),
            values: vec![f64::from(id), -0.5, 1e300],
            blob: vec![0, 255, 7, u8::try_from(id % 256).unwrap_or(0)],
            note: id.is_multiple_of(2).then(|| "even".to_owned()),
        }
    }
}

/// A frame as a Cohort port would send it: header, then `payload` as it is.
pub(crate) fn frame(flags: Flags, type_name: &str, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_header(&mut out, flags, wire::type_id(type_name), seq);
    out.extend_from_slice(payload);
    out
}

/// The CBOR encoding of `value`, as the ports encode payloads.
pub(crate) fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    minicbor_serde::to_vec(value).expect("encoding CBOR")
}

/// A well-formed CBOR frame of `value`.
pub(crate) fn good_frame<T: Serialize>(type_name: &str, seq: u64, value: &T) -> Vec<u8> {
    frame(Flags::empty(), type_name, seq, &cbor(value))
}

/// Sends a multipart message on a raw socket.
pub(crate) fn send_parts(socket: &zmq::Socket, parts: &[Vec<u8>]) {
    socket.send_multipart(parts.iter(), 0).expect("sending on a raw socket");
}

/// The endpoint a raw socket is bound at.
pub(crate) fn bound_endpoint(socket: &zmq::Socket) -> Endpoint {
    let text = socket.get_last_endpoint().expect("last endpoint").expect("UTF-8 endpoint");
    Endpoint::parse(&text).expect("a valid endpoint")
}
