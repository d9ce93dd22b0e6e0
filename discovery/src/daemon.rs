//! The per-host discovery daemon: a ROUTER socket that moves bytes between clients and the
//! [`Registry`], and a [`Backend`] shared with other hosts. All decisions are the registry's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use slog::{debug, info, warn};

use crate::backend::{Backend, RemoteChange};
use crate::protocol::{encode, DaemonFrame, DaemonMessage, PROTOCOL_VERSION};
use crate::registry::{Effect, Registry, RegistryConfig};

/// An error of the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A ZeroMQ call failed.
    #[error("{op}: {source}")]
    Zmq {
        /// What was being done.
        op: String,
        /// The error.
        source: zmq::Error,
    },
    /// The daemon's thread could not start.
    #[error("cannot start the discovery thread: {0}")]
    Thread(String),
}

fn zmq_err(op: impl Into<String>) -> impl FnOnce(zmq::Error) -> DaemonError {
    let op = op.into();
    move |source| DaemonError::Zmq { op, source }
}

/// A daemon serving on its own thread; dropping it stops the daemon and waits for the thread.
pub struct DaemonThread {
    endpoint: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DaemonThread {
    /// The endpoint the daemon is bound at.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl Drop for DaemonThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The discovery daemon of one host.
pub struct Daemon {
    socket: zmq::Socket,
    endpoint: String,
    registry: Registry,
    backend: Box<dyn Backend + Send>,
    start: Instant,
    log: slog::Logger,
    identity: zmq::Message,
    body: zmq::Message,
}

impl Daemon {
    /// Binds the daemon at `endpoint` (`tcp://127.0.0.1:9700` by default; `tcp://127.0.0.1:*`
    /// picks a free port, see [`Daemon::endpoint`]).
    pub fn bind(
        ctx: &zmq::Context,
        endpoint: &str,
        config: RegistryConfig,
        backend: Box<dyn Backend + Send>,
        log: slog::Logger,
    ) -> Result<Daemon, DaemonError> {
        let socket = ctx.socket(zmq::ROUTER).map_err(zmq_err("creating the daemon socket"))?;
        socket.set_router_mandatory(true).map_err(zmq_err("setting ZMQ_ROUTER_MANDATORY"))?;
        socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER"))?;
        socket.set_sndtimeo(0).map_err(zmq_err("setting ZMQ_SNDTIMEO"))?;
        socket.bind(endpoint).map_err(zmq_err(format!("binding {endpoint}")))?;
        let bound = socket
            .get_last_endpoint()
            .map_err(zmq_err("reading the bound endpoint"))?
            .unwrap_or_else(|_| endpoint.to_owned());
        info!(log, "discovery daemon listening"; "endpoint" => &bound, "host" => &config.host);
        Ok(Daemon {
            socket,
            endpoint: bound,
            registry: Registry::new(config),
            backend,
            start: Instant::now(),
            log,
            identity: zmq::Message::new(),
            body: zmq::Message::new(),
        })
    }

    /// The endpoint the daemon is bound at.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The registry, for listings.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Serves on a thread of its own until the returned handle is dropped. `ctx` is the context
    /// the daemon was bound with; the thread keeps it alive.
    pub fn spawn(mut self, ctx: zmq::Context) -> Result<DaemonThread, DaemonError> {
        let endpoint = self.endpoint.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("discovery".into())
            .spawn(move || {
                let _ctx = ctx;
                if let Err(e) = self.run(&flag) {
                    warn!(self.log, "the discovery daemon failed"; "error" => %e);
                }
            })
            .map_err(|e| DaemonError::Thread(e.to_string()))?;
        Ok(DaemonThread { endpoint, stop, thread: Some(thread) })
    }

    /// Serves until `stop` is set; checks it at least every 100 ms.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), DaemonError> {
        while !stop.load(Ordering::Relaxed) {
            self.step(Duration::from_millis(100))?;
        }
        Ok(())
    }

    /// Waits up to `max_wait` for messages (less when a client is due to time out), handles
    /// everything that is waiting, expires silent clients and applies remote changes.
    pub fn step(&mut self, max_wait: Duration) -> Result<(), DaemonError> {
        let now = self.now();
        let wait = self.registry.next_deadline().map_or(max_wait, |d| d.saturating_sub(now).min(max_wait));
        let timeout = i64::try_from(wait.as_millis() + 1).unwrap_or(i64::MAX);
        // The backend's descriptor (if any) wakes the daemon as soon as another host changes.
        let fd = self.backend.poll_fd();
        let mut items = [self.socket.as_poll_item(zmq::POLLIN), zmq::PollItem::from_fd(fd.unwrap_or(-1), zmq::POLLIN)];
        let polled = if fd.is_some() { &mut items[..] } else { &mut items[..1] };
        match zmq::poll(polled, timeout) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(zmq_err("poll")(e)),
        }
        while self.receive_one()? {}
        let effects = self.registry.on_tick(self.now());
        self.apply(effects);
        match self.backend.changes() {
            Ok(changes) => {
                for change in changes {
                    let effects = match change {
                        RemoteChange::Added(s, e) => self.registry.on_remote_added(s, e),
                        RemoteChange::Removed(s, e) => self.registry.on_remote_removed(&s, &e),
                    };
                    self.apply(effects);
                }
            }
            Err(e) => warn!(self.log, "cannot read the shared registry"; "error" => %e),
        }
        Ok(())
    }

    /// Handles one waiting message; false when none is waiting.
    fn receive_one(&mut self) -> Result<bool, DaemonError> {
        match self.socket.recv(&mut self.identity, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => return Ok(false),
            Err(zmq::Error::EINTR) => return Ok(true),
            Err(e) => return Err(zmq_err("receive")(e)),
        }
        if !self.identity.get_more() {
            return Ok(true);
        }
        self.socket.recv(&mut self.body, 0).map_err(zmq_err("receive"))?;
        let mut extra = false;
        while self.body.get_more() {
            extra = true;
            self.socket.recv(&mut self.body, 0).map_err(zmq_err("receive"))?;
        }
        let from = self.identity.to_vec();
        let effects = if extra {
            // A multipart body is not ours: answer as for any undecodable message.
            self.registry.on_frame(self.now(), &from, &[])
        } else {
            let body = self.body.to_vec();
            self.registry.on_frame(self.now(), &from, &body)
        };
        self.apply(effects);
        Ok(true)
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply { to, id, result } => {
                    if let Err(e) = &result {
                        debug!(self.log, "request refused"; "id" => id, "code" => ?e.code, "why" => &e.message);
                    }
                    self.send(&to, DaemonMessage::Reply { id, result });
                }
                Effect::Push { to, port, added, removed } => {
                    debug!(self.log, "pushing an update"; "port" => &port, "added" => ?added, "removed" => ?removed);
                    self.send(&to, DaemonMessage::Update { port, added, removed });
                }
                Effect::Share(service, endpoint) => {
                    if let Err(e) = self.backend.share(&service, &endpoint) {
                        warn!(self.log, "cannot share a provider"; "endpoint" => endpoint, "error" => %e);
                    }
                }
                Effect::Unshare(service, endpoint) => {
                    if let Err(e) = self.backend.unshare(&service, &endpoint) {
                        warn!(self.log, "cannot withdraw a provider"; "endpoint" => endpoint, "error" => %e);
                    }
                }
            }
        }
    }

    fn send(&self, to: &[u8], message: DaemonMessage) {
        let bytes = encode(&DaemonFrame { version: PROTOCOL_VERSION, message });
        let sent =
            self.socket.send(to, zmq::SNDMORE | zmq::DONTWAIT).and_then(|()| self.socket.send(bytes, zmq::DONTWAIT));
        if let Err(e) = sent {
            // The client is gone or not reading; it will time out or re-register.
            debug!(self.log, "cannot reach a client"; "error" => %e);
        }
    }
}
