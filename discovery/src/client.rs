//! An actor's discovery client: registers the actor's providers and lookups with the host's
//! daemon, heartbeats, and turns the daemon's pushes into endpoint updates for the ports.
//!
//! When the daemon restarts it forgets the actor; the client notices (its next heartbeat is
//! refused as unknown), says hello again, re-registers every provider, re-issues every lookup,
//! and reports the difference as updates. Applications do nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use cohort_ports::keyfile::{daemon_key_path, KeyFile, KeyFileError};
use cohort_ports::{AppKeys, Endpoint, PortError, PortKind, Scope};
use slog::{info, warn};

use crate::protocol::{
    decode_daemon, encode, ClientFrame, ClientRequest, DaemonMessage, DecodeError, ErrorCode, ErrorReply, ReplyBody,
    WireScope, PROTOCOL_VERSION,
};

/// An error of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A ZeroMQ call failed.
    #[error("{op}: {source}")]
    Zmq {
        /// What was being done.
        op: String,
        /// The error.
        source: zmq::Error,
    },
    /// The daemon did not answer in time (an unsecured client: it is not running, or it is
    /// secured with CURVE).
    #[error(
        "the discovery daemon at {daemon} did not answer within {timeout:?}: it is not running, or it is secured \
         with CURVE and this client is not (--insecure); see docs/security.md"
    )]
    Timeout {
        /// The daemon's endpoint.
        daemon: String,
        /// How long the client waited.
        timeout: Duration,
    },
    /// A secured client's daemon did not answer in time: it is not running, it does not admit
    /// this client's key, or it runs without CURVE.
    #[error(
        "the discovery daemon at {daemon} did not answer within {timeout:?}: it is not running, or it does not \
         admit this client's CURVE key (a daemon admits the apps whose key files are in its key directory, and \
         its clients must use that directory's daemon.key), or it runs with --insecure (then so must its clients); \
         see docs/security.md"
    )]
    SecuredTimeout {
        /// The daemon's endpoint.
        daemon: String,
        /// How long the client waited.
        timeout: Duration,
    },
    /// The client's socket could not be secured.
    #[error("cannot secure the discovery client: {0}")]
    Security(#[from] PortError),
    /// A key file the client needs cannot be read.
    #[error("cannot secure the discovery client: {0}")]
    Keys(#[from] KeyFileError),
    /// The daemon refused the request.
    #[error("the discovery daemon refused the request ({:?}): {}", .0.code, .0.message)]
    Refused(ErrorReply),
    /// The daemon sent something unreadable.
    #[error(transparent)]
    Protocol(#[from] DecodeError),
}

fn zmq_err(op: impl Into<String>) -> impl FnOnce(zmq::Error) -> ClientError {
    let op = op.into();
    move |source| ClientError::Zmq { op, source }
}

/// Providers of a consuming port were added or removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The consuming port (`instance.port`).
    pub port: String,
    /// Endpoints to connect to.
    pub added: Vec<Endpoint>,
    /// Endpoints to disconnect from.
    pub removed: Vec<Endpoint>,
}

/// How a client authenticates itself to its daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ClientSecurity {
    /// Not at all (a daemon without security).
    #[default]
    None,
    /// CURVE with `keys`, to a daemon whose public key is `daemon_key`.
    Curve {
        /// The client's keypair: the app's, or the daemon's own for tools.
        keys: AppKeys,
        /// The daemon's public key.
        daemon_key: [u8; 32],
    },
}

impl ClientSecurity {
    /// An actor of the app whose keys are `keys`, to the daemon of key directory `dir` (whose
    /// public key is read from `daemon.key` there).
    pub fn app(keys: AppKeys, dir: &Path) -> Result<ClientSecurity, KeyFileError> {
        let daemon = KeyFile::read(&daemon_key_path(dir))?;
        Ok(ClientSecurity::Curve { keys, daemon_key: daemon.keys.public_key() })
    }

    /// A tool (`cohort ls`) of this host's user, holding the daemon's own key in `dir`.
    pub fn tool(dir: &Path) -> Result<ClientSecurity, KeyFileError> {
        let daemon = KeyFile::read(&daemon_key_path(dir))?;
        let daemon_key = daemon.keys.public_key();
        Ok(ClientSecurity::Curve { keys: daemon.keys, daemon_key })
    }

    /// Secures `socket` (not yet connected).
    fn apply(&self, socket: &zmq::Socket) -> Result<(), ClientError> {
        match self {
            ClientSecurity::None => Ok(()),
            ClientSecurity::Curve { keys, daemon_key } => Ok(keys.secure_client(socket, daemon_key)?),
        }
    }

    fn timeout(&self, daemon: &str, timeout: Duration) -> ClientError {
        let daemon = daemon.to_owned();
        match self {
            ClientSecurity::None => ClientError::Timeout { daemon, timeout },
            ClientSecurity::Curve { .. } => ClientError::SecuredTimeout { daemon, timeout },
        }
    }
}

/// The longest a goodbye waits for the daemon's answer.
pub const GOODBYE_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the client finds its daemon and who it is.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The daemon's endpoint.
    pub daemon: String,
    /// The app.
    pub app: String,
    /// The actor.
    pub actor: String,
    /// How long a request to the daemon may take.
    pub request_timeout: Duration,
    /// How the client authenticates itself.
    pub security: ClientSecurity,
}

impl ClientConfig {
    /// A config for `actor` of `app`, with the default daemon endpoint and a 2 s request timeout.
    pub fn new(app: &str, actor: &str) -> ClientConfig {
        ClientConfig {
            daemon: crate::protocol::DEFAULT_DAEMON_ENDPOINT.to_owned(),
            app: app.to_owned(),
            actor: actor.to_owned(),
            request_timeout: Duration::from_secs(2),
            security: ClientSecurity::None,
        }
    }
}

#[derive(Debug, Clone)]
struct Provided {
    port: String,
    kind: PortKind,
    messages: String,
    scope: Scope,
}

#[derive(Debug, Clone)]
struct Lookup {
    kind: PortKind,
    messages: String,
    scope: Scope,
    known: BTreeSet<String>,
}

/// An actor's connection to its host's discovery daemon.
pub struct DiscoveryClient {
    socket: zmq::Socket,
    config: ClientConfig,
    next_id: u64,
    heartbeat_interval: Duration,
    next_heartbeat: Instant,
    provides: BTreeMap<String, Provided>,
    lookups: BTreeMap<String, Lookup>,
    updates: VecDeque<Update>,
    forgotten: bool,
    /// While it registers again (so a refusal then is not answered by registering again).
    reregistering: bool,
    /// After a re-registration: endpoints of a lookup the new daemon did not know yet. Their
    /// providers may not have re-registered yet, so they are removed only if still unknown
    /// when `suspects_deadline` passes.
    suspects: BTreeMap<String, BTreeSet<String>>,
    suspects_deadline: Option<Instant>,
    liveness_timeout: Duration,
    sessions: u32,
    /// The request id of the latest hello: an "unknown client" reply to an earlier request
    /// (a heartbeat queued while the daemon was down) says nothing about the current session.
    hello_id: u64,
    log: slog::Logger,
}

impl DiscoveryClient {
    /// Connects to the daemon and registers the actor.
    pub fn connect(
        ctx: &zmq::Context,
        config: ClientConfig,
        log: slog::Logger,
    ) -> Result<DiscoveryClient, ClientError> {
        let socket = ctx.socket(zmq::DEALER).map_err(zmq_err("creating the discovery socket"))?;
        let id = uuid::Uuid::new_v4();
        socket.set_identity(id.as_bytes()).map_err(zmq_err("setting ZMQ_ROUTING_ID"))?;
        socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER"))?;
        socket.set_sndtimeo(0).map_err(zmq_err("setting ZMQ_SNDTIMEO"))?;
        socket.set_reconnect_ivl(50).map_err(zmq_err("setting ZMQ_RECONNECT_IVL"))?;
        config.security.apply(&socket)?;
        socket.connect(&config.daemon).map_err(zmq_err(format!("connecting to {}", config.daemon)))?;
        let mut client = DiscoveryClient {
            socket,
            config,
            next_id: 0,
            heartbeat_interval: Duration::from_millis(500),
            next_heartbeat: Instant::now(),
            provides: BTreeMap::new(),
            lookups: BTreeMap::new(),
            updates: VecDeque::new(),
            forgotten: false,
            reregistering: false,
            suspects: BTreeMap::new(),
            suspects_deadline: None,
            liveness_timeout: Duration::from_secs(2),
            sessions: 0,
            hello_id: 0,
            log,
        };
        client.hello()?;
        Ok(client)
    }

    /// The socket to poll: readable means [`DiscoveryClient::poll`] has something to do.
    pub fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// When [`DiscoveryClient::poll`] must next be called (to heartbeat, or to settle
    /// endpoints left in doubt by a daemon restart), even if the socket stays quiet.
    pub fn next_deadline(&self) -> Instant {
        self.suspects_deadline.map_or(self.next_heartbeat, |d| d.min(self.next_heartbeat))
    }

    /// How many times the client has registered the actor: 1, plus one per daemon restart it
    /// recovered from.
    pub fn sessions(&self) -> u32 {
        self.sessions
    }

    /// Registers a providing port's bound endpoint.
    pub fn provide(
        &mut self,
        port: &str,
        kind: PortKind,
        messages: &str,
        scope: Scope,
        endpoint: &Endpoint,
    ) -> Result<(), ClientError> {
        let p = Provided { port: port.to_owned(), kind, messages: messages.to_owned(), scope };
        self.call(provide_request(&p, endpoint.as_str()))?;
        self.provides.insert(endpoint.as_str().to_owned(), p);
        Ok(())
    }

    /// Unregisters a providing port's endpoint.
    pub fn withdraw(&mut self, endpoint: &Endpoint) -> Result<(), ClientError> {
        self.provides.remove(endpoint.as_str());
        self.call(ClientRequest::Withdraw { endpoint: endpoint.as_str().to_owned() }).map(|_| ())
    }

    /// Looks up the providers of a consuming port; later changes arrive from
    /// [`DiscoveryClient::poll`].
    pub fn lookup(
        &mut self,
        port: &str,
        kind: PortKind,
        messages: &str,
        scope: Scope,
    ) -> Result<Vec<Endpoint>, ClientError> {
        let mut lookup = Lookup { kind, messages: messages.to_owned(), scope, known: BTreeSet::new() };
        let endpoints = self.lookup_call(port, &lookup)?;
        lookup.known = endpoints.iter().cloned().collect();
        self.lookups.insert(port.to_owned(), lookup);
        Ok(parse_all(&endpoints, &self.log))
    }

    /// Stops the updates of a lookup.
    pub fn unlookup(&mut self, port: &str) -> Result<(), ClientError> {
        self.lookups.remove(port);
        self.call(ClientRequest::Unlookup { port: port.to_owned() }).map(|_| ())
    }

    /// Unregisters the actor. Waits at most [`GOODBYE_TIMEOUT`] (less if the request timeout is
    /// shorter): an actor that is stopping must not hang on a daemon that is gone; if the
    /// goodbye is lost, the daemon drops the actor after its liveness timeout anyway.
    pub fn goodbye(mut self) -> Result<(), ClientError> {
        self.config.request_timeout = self.config.request_timeout.min(GOODBYE_TIMEOUT);
        self.call(ClientRequest::Goodbye).map(|_| ())
    }

    /// Heartbeats if due, reads what the daemon pushed, re-registers if the daemon forgot the
    /// actor, and returns the endpoint updates for the ports. Never waits long: only a
    /// re-registration makes requests.
    pub fn poll(&mut self) -> Result<Vec<Update>, ClientError> {
        self.drain()?;
        if self.forgotten {
            self.reregister()?;
        }
        if self.suspects_deadline.is_some_and(|d| Instant::now() >= d) {
            self.settle_suspects()?;
        }
        if Instant::now() >= self.next_heartbeat {
            self.next_id += 1;
            self.send(self.next_id, ClientRequest::Heartbeat);
            self.next_heartbeat = Instant::now() + self.heartbeat_interval;
        }
        Ok(self.updates.drain(..).collect())
    }

    fn hello(&mut self) -> Result<(), ClientError> {
        let hello = ClientRequest::Hello {
            app: self.config.app.clone(),
            actor: self.config.actor.clone(),
            pid: std::process::id(),
        };
        self.hello_id = self.next_id + 1;
        if let ReplyBody::Welcome { heartbeat_ms, timeout_ms } = self.call(hello)? {
            self.heartbeat_interval = Duration::from_millis(heartbeat_ms.max(10));
            self.liveness_timeout = Duration::from_millis(timeout_ms);
        }
        self.sessions += 1;
        self.next_heartbeat = Instant::now() + self.heartbeat_interval;
        Ok(())
    }

    /// Says hello again and replays every provider and lookup; lookups that changed meanwhile
    /// become updates.
    fn reregister(&mut self) -> Result<(), ClientError> {
        self.forgotten = false;
        info!(self.log, "the discovery daemon forgot this actor; registering again"; "daemon" => &self.config.daemon);
        self.hello()?;
        let provides: Vec<(String, Provided)> = self.provides.iter().map(|(e, p)| (e.clone(), p.clone())).collect();
        for (endpoint, p) in provides {
            self.call(provide_request(&p, &endpoint))?;
        }
        let lookups: Vec<(String, Lookup)> = self.lookups.iter().map(|(p, l)| (p.clone(), l.clone())).collect();
        for (port, lookup) in lookups {
            let now: BTreeSet<String> = self.lookup_call(&port, &lookup)?.into_iter().collect();
            let added: Vec<String> = now.difference(&lookup.known).cloned().collect();
            let missing: BTreeSet<String> = lookup.known.difference(&now).cloned().collect();
            if let Some(l) = self.lookups.get_mut(&port) {
                l.known.extend(added.iter().cloned());
            }
            if !missing.is_empty() {
                self.suspects.insert(port.clone(), missing);
            }
            if !added.is_empty() {
                let update = Update { port, added: parse_all(&added, &self.log), removed: Vec::new() };
                self.updates.push_back(update);
            }
        }
        if !self.suspects.is_empty() {
            // Providers have one liveness timeout to re-register with the new daemon.
            self.suspects_deadline = Some(Instant::now() + self.liveness_timeout);
        }
        Ok(())
    }

    /// Looks the suspect endpoints up again; those still unknown are reported removed.
    fn settle_suspects(&mut self) -> Result<(), ClientError> {
        self.suspects_deadline = None;
        let suspects = std::mem::take(&mut self.suspects);
        for (port, missing) in suspects {
            let Some(lookup) = self.lookups.get(&port).cloned() else {
                continue;
            };
            let now: BTreeSet<String> = self.lookup_call(&port, &lookup)?.into_iter().collect();
            let removed: Vec<String> = missing.difference(&now).cloned().collect();
            if let Some(l) = self.lookups.get_mut(&port) {
                for e in &removed {
                    l.known.remove(e);
                }
            }
            if !removed.is_empty() {
                let update = Update { port, added: Vec::new(), removed: parse_all(&removed, &self.log) };
                self.updates.push_back(update);
            }
        }
        Ok(())
    }

    fn lookup_call(&mut self, port: &str, lookup: &Lookup) -> Result<Vec<String>, ClientError> {
        let request = ClientRequest::Lookup {
            port: port.to_owned(),
            kind: lookup.kind.name().to_owned(),
            messages: lookup.messages.clone(),
            scope: WireScope::from(lookup.scope),
        };
        match self.call(request)? {
            ReplyBody::Endpoints(endpoints) => Ok(endpoints),
            _ => Ok(Vec::new()),
        }
    }

    fn send(&self, id: u64, request: ClientRequest) {
        let bytes = encode(&ClientFrame { version: PROTOCOL_VERSION, id, request });
        if let Err(e) = self.socket.send(bytes, zmq::DONTWAIT) {
            // The daemon is unreachable and the queue is full; the heartbeat or call times out.
            warn!(self.log, "cannot send to the discovery daemon"; "error" => %e);
        }
    }

    /// Sends a request and waits for its reply, handling pushes that arrive meanwhile.
    /// Sends `request` and waits for its reply. If the daemon answers that it does not know this
    /// actor (it dropped it as silent, as on a starved machine, or it restarted), the client
    /// registers again, replaying every provider and lookup, and asks once more.
    fn call(&mut self, request: ClientRequest) -> Result<ReplyBody, ClientError> {
        let retry = (!self.reregistering && !matches!(request, ClientRequest::Hello { .. } | ClientRequest::Goodbye))
            .then(|| request.clone());
        match self.call_once(request) {
            Err(ClientError::Refused(e)) if e.code == ErrorCode::UnknownClient => match retry {
                Some(request) => {
                    self.reregistering = true;
                    let registered = self.reregister();
                    self.reregistering = false;
                    registered?;
                    self.call_once(request)
                }
                None => Err(ClientError::Refused(e)),
            },
            other => other,
        }
    }

    fn call_once(&mut self, request: ClientRequest) -> Result<ReplyBody, ClientError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(id, request);
        let deadline = Instant::now() + self.config.request_timeout;
        loop {
            if let Some(result) = self.read_until(id, deadline)? {
                return result.map_err(ClientError::Refused);
            }
            if Instant::now() >= deadline {
                return Err(self.config.security.timeout(&self.config.daemon, self.config.request_timeout));
            }
        }
    }

    /// Reads messages until the reply to `id` or the deadline.
    fn read_until(&mut self, id: u64, deadline: Instant) -> Result<Option<Result<ReplyBody, ErrorReply>>, ClientError> {
        loop {
            match self.socket.recv_bytes(zmq::DONTWAIT) {
                Ok(bytes) => {
                    if let Some(reply) = self.handle(&bytes, Some(id)) {
                        return Ok(Some(reply));
                    }
                }
                Err(zmq::Error::EAGAIN) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    let mut items = [self.socket.as_poll_item(zmq::POLLIN)];
                    match zmq::poll(&mut items, i64::try_from(left.as_millis() + 1).unwrap_or(i64::MAX)) {
                        Ok(_) | Err(zmq::Error::EINTR) => {}
                        Err(e) => return Err(zmq_err("poll")(e)),
                    }
                }
                Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(zmq_err("receive")(e)),
            }
        }
    }

    /// Reads everything waiting without blocking.
    fn drain(&mut self) -> Result<(), ClientError> {
        loop {
            match self.socket.recv_bytes(zmq::DONTWAIT) {
                Ok(bytes) => {
                    self.handle(&bytes, None);
                }
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(zmq_err("receive")(e)),
            }
        }
    }

    /// Handles one message from the daemon; returns the reply to `waiting` if it is that.
    fn handle(&mut self, bytes: &[u8], waiting: Option<u64>) -> Option<Result<ReplyBody, ErrorReply>> {
        let frame = match decode_daemon(bytes) {
            Ok(frame) => frame,
            Err(e) => {
                warn!(self.log, "dropped an unreadable message from the discovery daemon"; "error" => %e);
                return None;
            }
        };
        match frame.message {
            DaemonMessage::Reply { id, result } => {
                if let Err(e) = &result {
                    if e.code == ErrorCode::UnknownClient && id > self.hello_id {
                        self.forgotten = true;
                    }
                }
                (Some(id) == waiting).then_some(result)
            }
            DaemonMessage::Update { port, added, removed } => {
                let lookup = self.lookups.get_mut(&port)?;
                if let Some(suspects) = self.suspects.get_mut(&port) {
                    // Confirmed again (added) or gone for good (removed): no longer in doubt.
                    for e in added.iter().chain(removed.iter()) {
                        suspects.remove(e);
                    }
                }
                let added: Vec<String> = added.into_iter().filter(|e| lookup.known.insert(e.clone())).collect();
                let removed: Vec<String> = removed.into_iter().filter(|e| lookup.known.remove(e)).collect();
                if !added.is_empty() || !removed.is_empty() {
                    let update =
                        Update { port, added: parse_all(&added, &self.log), removed: parse_all(&removed, &self.log) };
                    self.updates.push_back(update);
                }
                None
            }
        }
    }
}

fn provide_request(p: &Provided, endpoint: &str) -> ClientRequest {
    ClientRequest::Provide {
        port: p.port.clone(),
        kind: p.kind.name().to_owned(),
        messages: p.messages.clone(),
        scope: WireScope::from(p.scope),
        endpoint: endpoint.to_owned(),
    }
}

fn parse_all(endpoints: &[String], log: &slog::Logger) -> Vec<Endpoint> {
    endpoints
        .iter()
        .filter_map(|e| match Endpoint::parse(e) {
            Ok(endpoint) => Some(endpoint),
            Err(err) => {
                warn!(log, "the discovery daemon sent an invalid endpoint"; "error" => %err);
                None
            }
        })
        .collect()
}

/// Asks the (unsecured) daemon at `daemon` what it knows (for `cohort ls`), waiting up to
/// `timeout`; see [`list_with`] for a secured one.
pub fn list(ctx: &zmq::Context, daemon: &str, timeout: Duration) -> Result<crate::protocol::Listing, ClientError> {
    list_with(ctx, daemon, timeout, &ClientSecurity::None)
}

/// Asks the daemon at `daemon` what it knows, authenticated by `security`, waiting up to
/// `timeout`.
pub fn list_with(
    ctx: &zmq::Context,
    daemon: &str,
    timeout: Duration,
    security: &ClientSecurity,
) -> Result<crate::protocol::Listing, ClientError> {
    let socket = ctx.socket(zmq::DEALER).map_err(zmq_err("creating the discovery socket"))?;
    socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER"))?;
    security.apply(&socket)?;
    socket.connect(daemon).map_err(zmq_err(format!("connecting to {daemon}")))?;
    let request = ClientFrame { version: PROTOCOL_VERSION, id: 1, request: ClientRequest::List };
    socket.send(encode(&request), 0).map_err(zmq_err("sending to the daemon"))?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut items = [socket.as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(zmq_err("poll")(e)),
        }
        if !items[0].is_readable() {
            if left.is_zero() {
                return Err(security.timeout(daemon, timeout));
            }
            continue;
        }
        let bytes = socket.recv_bytes(0).map_err(zmq_err("receiving from the daemon"))?;
        if let DaemonMessage::Reply { id: 1, result } = decode_daemon(&bytes)?.message {
            return match result.map_err(ClientError::Refused)? {
                ReplyBody::Listing(listing) => Ok(listing),
                other => {
                    Err(ClientError::Protocol(DecodeError::Malformed(format!("expected a listing, got {other:?}"))))
                }
            };
        }
    }
}
