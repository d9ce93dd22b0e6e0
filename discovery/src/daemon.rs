//! The per-host discovery daemon: a ROUTER socket that moves bytes between clients and the
//! [`Registry`], and a [`Backend`] shared with other hosts. All decisions are the registry's,
//! except who may ask: a daemon secured with [`DaemonSecurity::Curve`] admits only this host's
//! clients holding a known app's key ([`crate::zap`]), and refuses any request made for
//! another app than the key's.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_ports::keyfile::{daemon_key_path, KeyFile, KeyFileError};
use cohort_ports::PortError;
use slog::{debug, info, warn};

use crate::backend::{Backend, RemoteChange};
use crate::protocol::{
    decode_client, encode, ClientRequest, DaemonFrame, DaemonMessage, ErrorCode, ErrorReply, PROTOCOL_VERSION,
};
use crate::registry::{Effect, Registry, RegistryConfig, RegistryStats};
use crate::zap::{Authority, DISCOVERY_ZAP_DOMAIN, TOOL_USER_ID};

/// A wait that ends later than this past its deadline means the daemon was not running.
const PAUSE_THRESHOLD: Duration = Duration::from_millis(250);

/// Who a daemon admits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DaemonSecurity {
    /// Anyone who can reach the endpoint (the only choice when libzmq has no CURVE).
    #[default]
    None,
    /// CURVE: this host's clients with the key of an app in the key directory.
    Curve(KeysDir),
}

/// The keys a secured daemon knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysDir {
    /// The key directory: the apps' key files (`<app>.key`) and the daemon's own keypair
    /// (`daemon.key`, made on first use).
    pub dir: PathBuf,
    /// Apps admitted besides those of the directory: (app, public key).
    pub extra: Vec<(String, [u8; 32])>,
}

impl DaemonSecurity {
    /// CURVE with the keys of directory `dir`.
    pub fn keys_dir(dir: impl Into<PathBuf>) -> DaemonSecurity {
        DaemonSecurity::Curve(KeysDir { dir: dir.into(), extra: Vec::new() })
    }
}

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
    /// Security was asked for and cannot be had (no CURVE in libzmq, the authenticator).
    #[error("cannot secure the discovery daemon: {0}")]
    Security(#[from] PortError),
    /// The daemon's key file cannot be read or made.
    #[error("cannot secure the discovery daemon: {0}")]
    Keys(#[from] KeyFileError),
}

fn zmq_err(op: impl Into<String>) -> impl FnOnce(zmq::Error) -> DaemonError {
    let op = op.into();
    move |source| DaemonError::Zmq { op, source }
}

/// What a daemon did since it started, and what its registry holds now: a copy, for
/// monitoring (`cohort disco --metrics`). The counts only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaemonStats {
    /// The registry's counts: requests by kind, refusals, actors, providers, lookups.
    pub registry: RegistryStats,
    /// Requests a secured daemon refused because the connection's key does not allow them.
    pub forbidden: u64,
    /// Updates pushed to consuming ports.
    pub pushes: u64,
    /// Replies and pushes that could not be sent: the client was gone or not reading.
    pub send_failures: u64,
    /// Provider changes of other hosts read from the shared registry.
    pub remote_changes: u64,
    /// Failed operations of the shared registry (Redis): sharing or withdrawing a provider, or
    /// reading other hosts' changes.
    pub backend_errors: u64,
}

/// The latest [`DaemonStats`] of a daemon, readable from any thread: see
/// [`Daemon::stats_handle`].
#[derive(Debug, Clone, Default)]
pub struct DaemonStatsHandle(Arc<Mutex<DaemonStats>>);

impl DaemonStatsHandle {
    /// The stats as of the daemon's latest step: at most about 100 ms old while it serves.
    pub fn latest(&self) -> DaemonStats {
        // The daemon writes whole values; a panic elsewhere cannot leave one half made.
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, stats: DaemonStats) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = stats;
    }
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
    /// Secured: clients are told apart by routing id and user (see [`registry_id`]).
    secured: bool,
    /// The daemon's own counts ([`DaemonStats::registry`] stays empty here).
    counts: DaemonStats,
    /// Where the stats go after every step, once someone asked ([`Daemon::stats_handle`]).
    published: Option<DaemonStatsHandle>,
}

/// The registry's id of a secured client: its routing id and the user its key authenticated,
/// so that a connection of another app that reuses a routing id is another client.
fn registry_id(routing_id: &[u8], user: &str) -> Option<Vec<u8>> {
    let len = u8::try_from(routing_id.len()).ok()?;
    let mut id = Vec::with_capacity(1 + routing_id.len() + user.len());
    id.push(len);
    id.extend_from_slice(routing_id);
    id.extend_from_slice(user.as_bytes());
    Some(id)
}

/// The routing id in a [`registry_id`].
fn routing_id(registry_id: &[u8]) -> Option<&[u8]> {
    let (&len, rest) = registry_id.split_first()?;
    rest.get(..usize::from(len))
}

impl Daemon {
    /// Binds the daemon at `endpoint` (`tcp://127.0.0.1:9700` by default; `tcp://127.0.0.1:*`
    /// picks a free port, see [`Daemon::endpoint`]), unsecured; see [`Daemon::bind_with`].
    pub fn bind(
        ctx: &zmq::Context,
        endpoint: &str,
        config: RegistryConfig,
        backend: Box<dyn Backend + Send>,
        log: slog::Logger,
    ) -> Result<Daemon, DaemonError> {
        Daemon::bind_with(ctx, endpoint, config, backend, &DaemonSecurity::None, log)
    }

    /// Binds the daemon at `endpoint` with `security`. A secured daemon makes its keypair in
    /// the key directory if there is none (`daemon.key`), and uses a ZeroMQ context of its own
    /// rather than `ctx`, as its ZAP handler answers for every CURVE server of its context.
    pub fn bind_with(
        ctx: &zmq::Context,
        endpoint: &str,
        config: RegistryConfig,
        backend: Box<dyn Backend + Send>,
        security: &DaemonSecurity,
        log: slog::Logger,
    ) -> Result<Daemon, DaemonError> {
        let socket = match security {
            DaemonSecurity::None => ctx.socket(zmq::ROUTER).map_err(zmq_err("creating the daemon socket"))?,
            DaemonSecurity::Curve(keys) => secured_socket(keys, &log)?,
        };
        socket.set_router_mandatory(true).map_err(zmq_err("setting ZMQ_ROUTER_MANDATORY"))?;
        socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER"))?;
        socket.set_sndtimeo(0).map_err(zmq_err("setting ZMQ_SNDTIMEO"))?;
        socket.bind(endpoint).map_err(zmq_err(format!("binding {endpoint}")))?;
        let bound = socket
            .get_last_endpoint()
            .map_err(zmq_err("reading the bound endpoint"))?
            .unwrap_or_else(|_| endpoint.to_owned());
        match security {
            DaemonSecurity::None => {
                info!(log, "discovery daemon listening"; "endpoint" => &bound, "host" => &config.host);
            }
            DaemonSecurity::Curve(keys) => info!(log, "discovery daemon listening";
                "endpoint" => &bound, "host" => &config.host,
                "security" => format!("CURVE: this host's clients with an app key of {}", keys.dir.display())),
        }
        Ok(Daemon {
            socket,
            endpoint: bound,
            registry: Registry::new(config),
            backend,
            start: Instant::now(),
            log,
            identity: zmq::Message::new(),
            body: zmq::Message::new(),
            secured: *security != DaemonSecurity::None,
            counts: DaemonStats::default(),
            published: None,
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

    /// What the daemon did since it started, and what its registry holds now.
    pub fn stats(&self) -> DaemonStats {
        DaemonStats { registry: self.registry.stats(), ..self.counts }
    }

    /// A handle on the daemon's stats for another thread (an HTTP server's), updated after every
    /// [`Daemon::step`]. A daemon whose stats nobody asked for does not copy them.
    pub fn stats_handle(&mut self) -> DaemonStatsHandle {
        let handle = self.published.get_or_insert_with(DaemonStatsHandle::default).clone();
        handle.publish(self.stats());
        handle
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
        // Woken far later than asked: the daemon was not running (SIGSTOP, a stalled VM). The
        // heartbeats sent meanwhile may not even have reached the socket yet, so that time must
        // not count against the clients.
        let overshoot = self.now().saturating_sub(now + wait);
        if overshoot > PAUSE_THRESHOLD {
            warn!(self.log, "the daemon did not run for a while; clients' liveness is extended";
                "paused_ms" => u64::try_from(overshoot.as_millis()).unwrap_or(u64::MAX));
            self.registry.on_pause(overshoot);
        }
        while self.receive_one()? {}
        let effects = self.registry.on_tick(self.now());
        self.apply(effects);
        match self.backend.changes() {
            Ok(changes) => {
                for change in changes {
                    self.counts.remote_changes += 1;
                    let effects = match change {
                        RemoteChange::Added(s, e) => self.registry.on_remote_added(s, e),
                        RemoteChange::Removed(s, e) => self.registry.on_remote_removed(&s, &e),
                    };
                    self.apply(effects);
                }
            }
            Err(e) => {
                self.counts.backend_errors += 1;
                warn!(self.log, "cannot read the shared registry"; "error" => %e);
            }
        }
        if let Some(handle) = &self.published {
            handle.publish(self.stats());
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
        let mut from = self.identity.to_vec();
        if self.secured {
            let user = self.body.gets("User-Id").map(str::to_owned);
            let body = if extra { Vec::new() } else { self.body.to_vec() };
            match self.admit(&from, user.as_deref(), &body) {
                Ok(id) => from = id,
                Err((id, why)) => {
                    self.counts.forbidden += 1;
                    info!(self.log, "refused a request"; "user" => user.as_deref().unwrap_or(""), "why" => &why);
                    let result = Err(ErrorReply { code: ErrorCode::Invalid, message: format!("forbidden: {why}") });
                    self.send_to(&from, DaemonMessage::Reply { id, result });
                    return Ok(true);
                }
            }
        }
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
                    self.counts.pushes += 1;
                    debug!(self.log, "pushing an update"; "port" => &port, "added" => ?added, "removed" => ?removed);
                    self.send(&to, DaemonMessage::Update { port, added, removed });
                }
                Effect::Share(service, endpoint) => {
                    if let Err(e) = self.backend.share(&service, &endpoint) {
                        self.counts.backend_errors += 1;
                        warn!(self.log, "cannot share a provider"; "endpoint" => endpoint, "error" => %e);
                    }
                }
                Effect::Unshare(service, endpoint) => {
                    if let Err(e) = self.backend.unshare(&service, &endpoint) {
                        self.counts.backend_errors += 1;
                        warn!(self.log, "cannot withdraw a provider"; "endpoint" => endpoint, "error" => %e);
                    }
                }
            }
        }
    }

    /// The registry id of a secured client's request, or the request id and why the request is
    /// refused: an actor may register only for the app of its key, and a tool's key (the
    /// daemon's own) may only list.
    fn admit(&self, routing: &[u8], user: Option<&str>, body: &[u8]) -> Result<Vec<u8>, (u64, String)> {
        let Some(user) = user else {
            return Err((0, "the connection has no authenticated user".to_owned()));
        };
        if let Ok(frame) = decode_client(body) {
            let refuse = |why: String| Err((frame.id, why));
            match &frame.request {
                ClientRequest::List => {}
                ClientRequest::Hello { .. } if user == TOOL_USER_ID => {
                    return refuse("a tool's key cannot register an actor".to_owned());
                }
                ClientRequest::Hello { app, .. } if app != user => {
                    return refuse(format!("this connection holds the key of app {user}, not of app {app}"));
                }
                _ if user == TOOL_USER_ID => return refuse("a tool's key may only list".to_owned()),
                _ => {}
            }
        }
        registry_id(routing, user).ok_or_else(|| (0, "the routing id is longer than 255 bytes".to_owned()))
    }

    fn send(&mut self, to: &[u8], message: DaemonMessage) {
        if !self.secured {
            return self.send_to(to, message);
        }
        match routing_id(to) {
            Some(routing) => self.send_to(routing, message),
            None => debug!(self.log, "dropped a message to a malformed client id"),
        }
    }

    fn send_to(&mut self, to: &[u8], message: DaemonMessage) {
        let bytes = encode(&DaemonFrame { version: PROTOCOL_VERSION, message });
        let sent =
            self.socket.send(to, zmq::SNDMORE | zmq::DONTWAIT).and_then(|()| self.socket.send(bytes, zmq::DONTWAIT));
        if let Err(e) = sent {
            // The client is gone or not reading; it will time out or re-register.
            self.counts.send_failures += 1;
            debug!(self.log, "cannot reach a client"; "error" => %e);
        }
    }
}

/// The CURVE server socket of a secured daemon, in a context of its own with the daemon's ZAP
/// handler.
fn secured_socket(keys: &KeysDir, log: &slog::Logger) -> Result<zmq::Socket, DaemonError> {
    cohort_ports::security::require_curve()?;
    let path = daemon_key_path(&keys.dir);
    let (file, made) = KeyFile::read_or_create(&path, None)?;
    if made {
        info!(log, "made the discovery daemon's keys"; "file" => %path.display());
    }
    let ctx = zmq::Context::new();
    let mut authority = Authority::new(keys.dir.clone(), file.keys.public_key(), &keys.extra, log.clone());
    cohort_ports::zap::serve(&ctx, "discovery-zap", Box::new(move |request| authority.decide(request)))?;
    let socket = ctx.socket(zmq::ROUTER).map_err(zmq_err("creating the daemon socket"))?;
    file.keys.secure_server(&socket)?;
    socket.set_zap_domain(DISCOVERY_ZAP_DOMAIN).map_err(zmq_err("setting ZMQ_ZAP_DOMAIN"))?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_carry_the_routing_id_and_the_user() {
        let id = registry_id(b"\x00abc", "App").unwrap();
        assert_eq!(routing_id(&id), Some(&b"\x00abc"[..]));
        assert_ne!(registry_id(b"\x00abc", "Other"), Some(id));
        assert_eq!(registry_id(&[1; 256], "App"), None);
        assert_eq!(routing_id(&[5, 1, 2]), None);
        assert_eq!(routing_id(&[]), None);
    }
}
