//! Watching the connection of a connect-side socket with a ZeroMQ socket monitor.
//!
//! libzmq reports a socket's connection events on an inproc PAIR socket that it binds
//! (`zmq_socket_monitor`). A watched socket owns the socket and a PAIR connected to that
//! address, and turns the events into the [`LinkState`] of its connection:
//!
//! | what happened | state | [`LinkEvent`] |
//! |---|---|---|
//! | the socket was made (or connected to a new endpoint) | `Connecting` | |
//! | `ZMQ_EVENT_HANDSHAKE_SUCCEEDED` | `Up` | `Connected` |
//! | `ZMQ_EVENT_DISCONNECTED` | `Down` (ZeroMQ reconnects by itself) | `Disconnected` |
//!
//! Only those two events are asked for, so a connection attempt that fails (refused, retried)
//! reports nothing. Each monitor message is two frames:
//!
//! ```text
//! frame 1: | event: u16 (native endian) | value: u32 (native endian) |   6 bytes
//! frame 2: | endpoint (UTF-8, not terminated) |
//! ```
//!
//! Inproc connections report no events, so a socket that connects only over inproc is not
//! watched: it has no monitor and stays `Connecting`, which counts as usable.
//!
//! libzmq sends each event with a blocking send from its I/O thread: with no PAIR connected, or
//! a full queue, that thread would hang. So the PAIR connects, with no receive limit, before
//! the socket connects anywhere, and the monitor is stopped before either socket closes.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::endpoint::Transport;
use crate::error::PortError;
use crate::stats::worth_logging;

/// The state of a connect-side socket's connection, as its monitor last reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet since the socket was told where to connect; also the state of inproc
    /// connections, which report nothing. Messages sent now wait for the connection.
    Connecting,
    /// The ZeroMQ handshake with the peer succeeded.
    Up,
    /// The connection closed (the peer died, closed its socket or stopped answering
    /// heartbeats); ZeroMQ keeps reconnecting at the reconnect interval.
    Down,
}

/// A change of a connection, as the socket monitor reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkEvent {
    /// The connection is up: the ZeroMQ handshake succeeded.
    Connected,
    /// The connection closed.
    Disconnected,
}

/// Names the inproc endpoints of the monitors (one namespace per ZeroMQ context, and a context
/// never spans processes).
static NEXT_MONITOR: AtomicU64 = AtomicU64::new(0);

/// A connect-side socket, its monitor (none on inproc) and the state of its connection.
pub(crate) struct Watched {
    socket: zmq::Socket,
    monitor: Option<zmq::Socket>,
    state: LinkState,
    /// How many times the connection went down: a request sent while this was `n` was lost
    /// with the connection if it is now above `n`.
    downs: u64,
    /// Monitor messages that were not well-formed events (skipped, logged thinly).
    malformed: u64,
}

impl Watched {
    /// Watches `socket`, which must not be connected yet; it will connect over `transport`.
    pub(crate) fn new(ctx: &zmq::Context, socket: zmq::Socket, transport: Transport) -> Result<Watched, PortError> {
        let mut watched = Watched { socket, monitor: None, state: LinkState::Connecting, downs: 0, malformed: 0 };
        if transport == Transport::Inproc {
            return Ok(watched);
        }
        let address = format!("inproc://cohort-monitor-{}", NEXT_MONITOR.fetch_add(1, Ordering::Relaxed));
        let pair = ctx.socket(zmq::PAIR).map_err(|e| PortError::zmq("creating a monitor socket", e))?;
        pair.set_linger(0).map_err(|e| PortError::zmq("setting ZMQ_LINGER on a monitor socket", e))?;
        // No limit on the queue of events, so libzmq's blocking send of an event never waits.
        pair.set_rcvhwm(0).map_err(|e| PortError::zmq("setting ZMQ_RCVHWM on a monitor socket", e))?;
        let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() | zmq::SocketEvent::DISCONNECTED.to_raw();
        watched
            .socket
            .monitor(&address, i32::from(events))
            .map_err(|e| PortError::zmq(format!("monitoring a socket on {address}"), e))?;
        // From here on, dropping `watched` stops the monitor first, even if the connect fails.
        let pair = watched.monitor.insert(pair);
        pair.connect(&address).map_err(|e| PortError::zmq(format!("connecting to the monitor {address}"), e))?;
        Ok(watched)
    }

    /// The watched socket.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// The watched socket, to send on.
    pub(crate) fn socket_mut(&mut self) -> &mut zmq::Socket {
        &mut self.socket
    }

    /// The PAIR the events arrive on, to poll (none on inproc).
    pub(crate) fn monitor(&self) -> Option<&zmq::Socket> {
        self.monitor.as_ref()
    }

    /// The state of the connection after the events read so far.
    pub(crate) fn state(&self) -> LinkState {
        self.state
    }

    /// How many times the connection went down, after the events read so far.
    pub(crate) fn downs(&self) -> u64 {
        self.downs
    }

    /// The socket is about to connect somewhere new: forget the old connection's state.
    pub(crate) fn restart(&mut self) {
        self.state = LinkState::Connecting;
    }

    /// How many monitor messages were not well-formed events.
    #[cfg(test)]
    fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Reads every event waiting, without blocking, and returns the changes in order. A
    /// message that is not a well-formed event is skipped, counted and logged (thinly) on `log`.
    pub(crate) fn read_events(&mut self, log: &slog::Logger) -> Result<Vec<LinkEvent>, PortError> {
        let mut changes = Vec::new();
        let Some(monitor) = &self.monitor else {
            return Ok(changes);
        };
        loop {
            let frames = match monitor.recv_multipart(zmq::DONTWAIT) {
                Ok(frames) => frames,
                Err(zmq::Error::EAGAIN) => return Ok(changes),
                Err(e) => return Err(PortError::zmq("receiving a socket monitor event", e)),
            };
            let Some(event) = parse_event(&frames) else {
                self.malformed += 1;
                if worth_logging(self.malformed) {
                    slog::warn!(log, "dropped a socket monitor message that is not an event"; "malformed" => self.malformed);
                }
                continue;
            };
            if event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() {
                self.state = LinkState::Up;
                changes.push(LinkEvent::Connected);
            } else if event == zmq::SocketEvent::DISCONNECTED.to_raw() {
                self.state = LinkState::Down;
                self.downs += 1;
                changes.push(LinkEvent::Disconnected);
            }
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.monitor.is_some() {
            // Stop the monitor before its PAIR closes: an event sent to a PAIR with no peer
            // would block libzmq's I/O thread (see the module doc).
            // SAFETY: the socket pointer is valid for the life of `self.socket`; a null
            // endpoint is how libzmq's API stops a monitor.
            let _ = unsafe { zmq_sys::zmq_socket_monitor(self.socket.as_mut_ptr(), std::ptr::null(), 0) };
        }
    }
}

/// The event number of a monitor message (see the module doc), if it is well formed.
fn parse_event(frames: &[Vec<u8>]) -> Option<u16> {
    match frames {
        [head, _endpoint] if head.len() == 6 => Some(u16::from_ne_bytes([head[0], head[1]])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discard() -> slog::Logger {
        slog::Logger::root(slog::Discard, slog::o!())
    }

    #[test]
    fn events_parse_from_their_two_frames() {
        let mut head = zmq::SocketEvent::DISCONNECTED.to_raw().to_ne_bytes().to_vec();
        head.extend_from_slice(&7_u32.to_ne_bytes());
        assert_eq!(parse_event(&[head.clone(), b"tcp://127.0.0.1:1".to_vec()]), Some(0x0200));
        assert_eq!(parse_event(&[head.clone()]), None);
        assert_eq!(parse_event(&[head[..5].to_vec(), Vec::new()]), None);
        assert_eq!(parse_event(&[]), None);
    }

    #[test]
    fn inproc_sockets_are_not_watched() {
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER).unwrap();
        let mut watched = Watched::new(&ctx, socket, Transport::Inproc).unwrap();
        assert!(watched.monitor().is_none());
        assert_eq!(watched.read_events(&discard()).unwrap(), Vec::new());
        assert_eq!(watched.state(), LinkState::Connecting);
    }

    #[test]
    fn a_closed_peer_is_reported_and_a_new_one_on_the_same_endpoint_too() {
        let ctx = zmq::Context::new();
        let peer_ctx = zmq::Context::new();
        let peer = peer_ctx.socket(zmq::ROUTER).unwrap();
        peer.bind("tcp://127.0.0.1:*").unwrap();
        let endpoint = peer.get_last_endpoint().unwrap().unwrap();
        let mut watched = Watched::new(&ctx, ctx.socket(zmq::DEALER).unwrap(), Transport::Tcp).unwrap();
        watched.socket().connect(&endpoint).unwrap();
        let log = discard();
        let wait_for = |watched: &mut Watched, want: LinkEvent| {
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(5);
            loop {
                if watched.read_events(&log).unwrap().contains(&want) {
                    return;
                }
                assert!(std::time::Instant::now() < give_up, "no {want:?} within 5 s");
                let mut items = [watched.monitor().unwrap().as_poll_item(zmq::POLLIN)];
                zmq::poll(&mut items, 100).unwrap();
            }
        };
        wait_for(&mut watched, LinkEvent::Connected);
        assert_eq!((watched.state(), watched.downs()), (LinkState::Up, 0));
        drop(peer);
        // Terminating the context waits until the listener is closed, so the port is free.
        drop(peer_ctx);
        wait_for(&mut watched, LinkEvent::Disconnected);
        assert_eq!((watched.state(), watched.downs()), (LinkState::Down, 1));
        let peer_ctx = zmq::Context::new();
        let peer = peer_ctx.socket(zmq::ROUTER).unwrap();
        peer.bind(&endpoint).unwrap();
        wait_for(&mut watched, LinkEvent::Connected);
        assert_eq!((watched.state(), watched.downs(), watched.malformed()), (LinkState::Up, 1, 0));
    }
}
