//! A registry shared between the daemons of several hosts through a Redis server.
//!
//! Each daemon writes one key per provider its host shares globally,
//! `<prefix>/p/<host>/<app>/<kind>/<messages>/<endpoint>` (every part percent-encoded), whose
//! value is JSON `{"host", "service", "endpoint"}`. Keys carry a TTL ([`RedisConfig::ttl`]) that
//! the daemon refreshes about every third of it, so the entries of a host whose daemon died (or
//! lost its network) vanish within the TTL, and every other daemon is told.
//!
//! Daemons learn of other hosts' changes through keyspace notifications: the backend enables
//! `set`, `del`, `expired` and `evicted` events on the server (adding to what is configured,
//! never removing), and a thread of its own with its own connection subscribes to the
//! notifications of the prefix and wakes the daemon through [`Backend::poll_fd`]. Missed
//! notifications (a dropped subscription, a server without `CONFIG`) are repaired by a full
//! scan of the prefix at every (re)connection and about once per TTL.
//!
//! When the server cannot be reached, calls fail fast (200 ms connect and read timeouts) and
//! connections are retried with a back-off of up to 2 s; on reconnection everything this host
//! shares is written again and the prefix is scanned again. Other hosts' providers learned
//! before stay known until the server tells otherwise: a registry outage alone does not
//! disconnect consumers from live providers.
//!
//! A server that requires a password gets it from [`RedisConfig::auth`] (never from the URL,
//! which is logged); a `rediss://` URL connects with TLS (rustls), trusting
//! [`RedisConfig::tls_ca`] or else the system's roots. A wrong password, a missing one or an
//! untrusted certificate met by the first connection makes [`RedisBackend::connect`] fail, before
//! anything is written: retrying cannot cure them. Met later (the server's password changed),
//! they are logged and retried like an outage.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use slog::{debug, info, warn};

use crate::backend::{Backend, BackendError, RemoteChange};
use crate::service::{Reach, Service};

mod access;
mod options;

use access::{redact, refusal};
pub use access::{RedisAuth, RedisConnectError};
pub use options::{RedisOptions, RedisOptionsError, PASSWORD_ENV};

/// Connect, read and write timeout of every Redis connection.
const IO_TIMEOUT: Duration = Duration::from_millis(200);
/// Timeout of the first connection, which [`RedisBackend::connect`] waits for: longer, so that a
/// slow TLS handshake or a busy server does not hide a refused password or certificate.
const FIRST_TIMEOUT: Duration = Duration::from_secs(2);
/// First delay before retrying a failed connection; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The subscriber pings the server after this long without a notification.
const PING_AFTER: Duration = Duration::from_secs(1);
/// Keys fetched per `MGET`, and asked for per `SCAN` step.
const BATCH: usize = 500;
/// The shortest TTL accepted: refreshes happen in [`Backend::changes`], which the daemon calls
/// at least every 100 ms.
const MIN_TTL: Duration = Duration::from_millis(50);

/// Where the shared registry is and how this host appears in it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server, `redis://host[:port][/db]` (`redis://127.0.0.1:6379/`), or
    /// `rediss://host[:port][/db]` for TLS. A user or password in it is refused: they go in
    /// [`RedisConfig::auth`].
    pub url: String,
    /// The user and password to log in with, for a server that requires them (none).
    pub auth: Option<RedisAuth>,
    /// PEM certificates of the authorities to trust for a `rediss://` server, instead of the
    /// system's roots (none: the system's roots). Refused with a `redis://` URL.
    pub tls_ca: Option<Vec<u8>>,
    /// This daemon's host id; entries of this host are never reported back to it.
    pub host: String,
    /// How long an entry outlives its last refresh (3 s); a dead host's providers vanish
    /// within it. Entries are refreshed about every third of it.
    pub ttl: Duration,
    /// The prefix of every key (`cohort/1`); daemons with different prefixes do not meet.
    pub key_prefix: String,
}

impl RedisConfig {
    /// Defaults for `host`: `redis://127.0.0.1:6379/` without password or TLS, a TTL of 3 s, the
    /// prefix `cohort/1`.
    pub fn new(host: &str) -> RedisConfig {
        RedisConfig {
            url: "redis://127.0.0.1:6379/".to_owned(),
            auth: None,
            tls_ca: None,
            host: host.to_owned(),
            ttl: Duration::from_secs(3),
            key_prefix: "cohort/1".to_owned(),
        }
    }
}

impl RedisConfig {
    /// Checks what can be checked without the server, as [`RedisBackend::connect`] does first:
    /// the host id, the prefix, the TTL, the URL (no credentials in it), the credentials and
    /// the CA certificates.
    pub fn check(&self) -> Result<(), RedisConnectError> {
        self.client().map(drop)
    }

    /// The client of [`RedisConfig::check`].
    fn client(&self) -> Result<redis::Client, RedisConnectError> {
        let invalid = |why: String| RedisConnectError::Invalid { why };
        if self.host.is_empty() {
            return Err(invalid("the host id is empty".into()));
        }
        if self.key_prefix.is_empty() {
            return Err(invalid("the key prefix is empty".into()));
        }
        if self.ttl < MIN_TTL {
            return Err(invalid(format!("the TTL {:?} is shorter than {MIN_TTL:?}", self.ttl)));
        }
        access::client(&self.url, &redact(&self.url), self.auth.as_ref(), self.tls_ca.as_deref())
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact(&self.url))
            .field("auth", &self.auth)
            .field("tls_ca", &self.tls_ca.as_ref().map(|pem| format!("{} bytes of PEM", pem.len())))
            .field("host", &self.host)
            .field("ttl", &self.ttl)
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// The value of a provider's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    host: String,
    service: Service,
    endpoint: String,
}

/// What the subscriber thread reports.
#[derive(Debug)]
enum Event {
    /// A key was written (`gone` false) or deleted, expired or evicted (`gone` true).
    Key { key: String, gone: bool },
    /// The subscription was (re)established: notifications may have been missed.
    Resync,
}

/// The Redis registry backend of one daemon (see the module documentation).
pub struct RedisBackend {
    config: RedisConfig,
    /// The URL without its password, for logs and errors.
    server: String,
    client: redis::Client,
    log: slog::Logger,
    /// `<prefix>/p/`.
    providers: String,
    /// `<prefix>/p/<host>/`: this host's keys.
    own_prefix: String,
    conn: Option<redis::Connection>,
    /// When the next connection attempt is allowed.
    retry_at: Instant,
    /// Consecutive failed connection attempts.
    failures: u32,
    /// This host's shared keys and their values, written again on every reconnection.
    own: BTreeMap<String, Vec<u8>>,
    /// This host's keys withdrawn while the server could not be told.
    withdrawn: BTreeSet<String>,
    /// Other hosts' keys → what they announce.
    remote: BTreeMap<String, (Service, String)>,
    /// How many remote keys announce each (service, endpoint): added at the first, removed
    /// after the last.
    counts: BTreeMap<(Service, String), usize>,
    /// Keys whose value is unreadable, not fetched again until deleted.
    rejected: BTreeSet<String>,
    /// Changes not returned yet (kept when a call fails half-way).
    outbox: Vec<RemoteChange>,
    /// A full scan is needed before trusting notifications again.
    resync: bool,
    next_scan: Instant,
    next_refresh: Instant,
    /// Until then (one TTL after a reconnection) scans add but do not remove: a restarted
    /// server lost every entry, and their hosts get one TTL to write them again.
    grace_until: Instant,
    events: Receiver<Event>,
    wake: UnixStream,
    stop: Arc<AtomicBool>,
    subscriber: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("server", &self.server)
            .field("host", &self.config.host)
            .field("connected", &self.conn.is_some())
            .field("own", &self.own.len())
            .field("remote", &self.remote.len())
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Starts sharing through the server at `config.url`, connecting once first. Fails on a
    /// configuration that cannot work (a malformed URL, a user or password in the URL, an
    /// unusable CA certificate, an empty host id or prefix, a TTL under 50 ms) and when the
    /// server refuses the credentials or the TLS handshake fails (see [`RedisConnectError`]):
    /// nothing is written to the server then. An unreachable server is logged and retried, so
    /// that daemons and the server may start in any order. Other hosts' entries are reported by
    /// the first calls of [`Backend::changes`].
    pub fn connect(config: RedisConfig, log: slog::Logger) -> Result<RedisBackend, RedisConnectError> {
        let client = config.client()?;
        let server = redact(&config.url);
        let log = log.new(slog::o!("redis" => server.clone()));
        let providers = format!("{}/p/", config.key_prefix);
        let own_prefix = format!("{providers}{}/", escape(&config.host));
        let db = client.get_connection_info().redis_settings().db();
        let channel_prefix = format!("__keyspace@{db}__:");
        let pattern = format!("{channel_prefix}{}*", glob_escape(&providers));
        let local = |what| move |source| RedisConnectError::Local { what, source };
        let (wake, waker) = UnixStream::pair().map_err(local("creating a wake-up socket"))?;
        for s in [&wake, &waker] {
            s.set_nonblocking(true).map_err(local("setting a socket non-blocking"))?;
        }
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let subscriber = Subscriber {
            client: client.clone(),
            pattern,
            channel_prefix,
            own_prefix: own_prefix.clone(),
            tx,
            waker,
            stop: stop.clone(),
            log: log.clone(),
        };
        let now = Instant::now();
        let mut backend = RedisBackend {
            config,
            server,
            client,
            log,
            providers,
            own_prefix,
            conn: None,
            retry_at: now,
            failures: 0,
            own: BTreeMap::new(),
            withdrawn: BTreeSet::new(),
            remote: BTreeMap::new(),
            counts: BTreeMap::new(),
            rejected: BTreeSet::new(),
            outbox: Vec::new(),
            resync: true,
            next_scan: now,
            next_refresh: now,
            grace_until: now,
            events,
            wake,
            stop,
            subscriber: None,
        };
        // Before the subscriber's connection: a refusal ends here, and nothing was written.
        if let Err(e) = backend.attempt(now, FIRST_TIMEOUT) {
            if let Some(refused) = refusal(&e, &backend.server) {
                return Err(refused);
            }
            warn!(backend.log, "the shared registry is unreachable; retrying"; "error" => %e);
        }
        let thread = std::thread::Builder::new()
            .name("cohort-redis-sub".into())
            .spawn(move || subscriber.run())
            .map_err(local("starting the subscriber thread"))?;
        backend.subscriber = Some(thread);
        Ok(backend)
    }

    /// Whether the command connection is up (it may still be found broken by the next call).
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The key of `service` at `endpoint` provided by `host`.
    fn key_of(&self, host: &str, service: &Service, endpoint: &str) -> String {
        format!(
            "{}{}/{}/{}/{}/{}",
            self.providers,
            escape(host),
            escape(&service.app),
            escape(&service.kind),
            escape(&service.messages),
            escape(endpoint)
        )
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.config.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Makes sure the command connection is up, trying to connect when due. `Ok(false)` when
    /// down and not due for a retry; `Err` when a retry failed.
    fn connected(&mut self, now: Instant) -> Result<bool, BackendError> {
        if self.conn.is_some() {
            return Ok(true);
        }
        if now < self.retry_at {
            return Ok(false);
        }
        match self.attempt(now, IO_TIMEOUT) {
            Ok(()) => Ok(true),
            Err(e) => Err(match refusal(&e, &self.server) {
                Some(refused) => BackendError(refused.to_string()),
                None => BackendError(format!("cannot connect to Redis at {}: {e}", self.server)),
            }),
        }
    }

    /// Tries to connect ([`RedisBackend::open`]) within `timeout`; on a failure, puts the next
    /// attempt off by the back-off.
    fn attempt(&mut self, now: Instant, timeout: Duration) -> redis::RedisResult<()> {
        match self.open(now, timeout) {
            Ok(()) => {
                if self.failures > 0 {
                    info!(self.log, "reconnected to the shared registry");
                } else {
                    debug!(self.log, "connected to the shared registry");
                }
                self.failures = 0;
                Ok(())
            }
            Err(e) => {
                let backoff = MIN_BACKOFF.saturating_mul(1 << self.failures.min(8)).min(MAX_BACKOFF);
                self.failures = self.failures.saturating_add(1);
                self.retry_at = now + backoff;
                Err(e)
            }
        }
    }

    /// Connects (logging in and shaking hands within `timeout`), enables notifications, writes
    /// everything this host shares again and deletes what it withdrew meanwhile.
    fn open(&mut self, now: Instant, timeout: Duration) -> redis::RedisResult<()> {
        let mut conn = self.client.get_connection_with_timeout(timeout)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        enable_notifications(&mut conn, &self.log)?;
        let mut pipe = redis::pipe();
        for (key, value) in &self.own {
            pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(self.ttl_ms()).ignore();
        }
        for key in &self.withdrawn {
            pipe.cmd("DEL").arg(key).ignore();
        }
        if !self.own.is_empty() || !self.withdrawn.is_empty() {
            pipe.query::<()>(&mut conn)?;
        }
        self.withdrawn.clear();
        self.conn = Some(conn);
        self.resync = true;
        self.next_refresh = now + self.config.ttl / 3;
        self.grace_until = now + self.config.ttl;
        Ok(())
    }

    /// Runs `f` on the connection; on an error drops the connection (retried at once by the
    /// next call).
    fn with_conn<T>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Self, &mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, BackendError> {
        let Some(mut conn) = self.conn.take() else {
            return Err(BackendError(format!("not connected to Redis at {}", self.server)));
        };
        match f(self, &mut conn) {
            Ok(v) => {
                self.conn = Some(conn);
                Ok(v)
            }
            Err(e) => {
                warn!(self.log, "lost the connection to the shared registry"; "while" => what, "error" => %e);
                self.retry_at = Instant::now();
                Err(BackendError(format!("{what}: {e}")))
            }
        }
    }

    /// Learns the value of another host's key.
    fn learn(&mut self, key: String, bytes: &[u8]) {
        let entry = match serde_json::from_slice::<Entry>(bytes) {
            Ok(entry) => entry,
            Err(e) => {
                warn!(self.log, "ignoring an unreadable entry of the shared registry"; "key" => &key, "error" => %e);
                self.rejected.insert(key);
                return;
            }
        };
        if entry.service.reach != Reach::Global
            || entry.host == self.config.host
            || self.key_of(&entry.host, &entry.service, &entry.endpoint) != key
        {
            warn!(self.log, "ignoring an entry of the shared registry that does not match its key"; "key" => &key);
            self.rejected.insert(key);
            return;
        }
        let pair = (entry.service, entry.endpoint);
        match self.remote.get(&key) {
            Some(known) if *known == pair => return,
            Some(_) => self.forget(&key),
            None => {}
        }
        self.remote.insert(key, pair.clone());
        let count = self.counts.entry(pair.clone()).or_insert(0);
        *count += 1;
        if *count == 1 {
            debug!(self.log, "another host provides"; "service" => ?pair.0, "endpoint" => &pair.1);
            self.outbox.push(RemoteChange::Added(pair.0, pair.1));
        }
    }

    /// Forgets another host's key.
    fn forget(&mut self, key: &str) {
        let Some(pair) = self.remote.remove(key) else {
            return;
        };
        let last = match self.counts.get_mut(&pair) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => true,
        };
        if last {
            self.counts.remove(&pair);
            debug!(self.log, "another host no longer provides"; "service" => ?pair.0, "endpoint" => &pair.1);
            self.outbox.push(RemoteChange::Removed(pair.0, pair.1));
        }
    }

    /// Fetches and learns `keys`.
    fn fetch(&mut self, keys: Vec<String>) -> Result<(), BackendError> {
        for chunk in keys.chunks(BATCH) {
            let values: Vec<Option<Vec<u8>>> =
                self.with_conn("reading entries", |_, conn| redis::cmd("MGET").arg(chunk).query(conn))?;
            for (key, value) in chunk.iter().zip(values) {
                if let Some(value) = value {
                    self.learn(key.clone(), &value);
                }
            }
        }
        Ok(())
    }

    /// Lists every provider key and reconciles what is known with it.
    fn rescan(&mut self, now: Instant) -> Result<(), BackendError> {
        let pattern = format!("{}*", glob_escape(&self.providers));
        let mut seen = BTreeSet::new();
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self.with_conn("scanning entries", |_, conn| {
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(BATCH).query(conn)
            })?;
            for key in keys {
                match String::from_utf8(key) {
                    Ok(key) if !key.starts_with(&self.own_prefix) => {
                        seen.insert(key);
                    }
                    _ => {}
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        if now >= self.grace_until {
            let gone: Vec<String> = self.remote.keys().filter(|k| !seen.contains(*k)).cloned().collect();
            for key in gone {
                self.forget(&key);
            }
        }
        self.rejected.retain(|k| seen.contains(k));
        let new: Vec<String> =
            seen.into_iter().filter(|k| !self.remote.contains_key(k) && !self.rejected.contains(k)).collect();
        self.fetch(new)
    }

    /// Writes this host's keys again with a fresh TTL (recreating any the server lost).
    fn refresh(&mut self) -> Result<(), BackendError> {
        if self.own.is_empty() {
            return Ok(());
        }
        let ttl = self.ttl_ms();
        self.with_conn("refreshing entries", |this, conn| {
            let mut pipe = redis::pipe();
            for (key, value) in &this.own {
                pipe.cmd("SET").arg(key).arg(value).arg("PX").arg(ttl).ignore();
            }
            pipe.query::<()>(conn)
        })
    }

    fn drain_wake(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            match self.wake.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Applies notifications, fetches new keys, rescans and refreshes when due.
    fn sync(&mut self, now: Instant) -> Result<(), BackendError> {
        let mut written = BTreeSet::new();
        loop {
            match self.events.try_recv() {
                Ok(Event::Resync) => self.resync = true,
                Ok(Event::Key { key, gone: true }) => {
                    self.rejected.remove(&key);
                    written.remove(&key);
                    self.forget(&key);
                }
                Ok(Event::Key { key, gone: false }) => {
                    if !self.remote.contains_key(&key) && !self.rejected.contains(&key) {
                        written.insert(key);
                    }
                }
                // The subscriber thread only ends when stopped; scans still run.
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if !self.connected(now)? {
            // Written keys are found by the scan that follows the reconnection.
            return Ok(());
        }
        self.fetch(written.into_iter().collect())?;
        if self.resync || now >= self.next_scan {
            self.rescan(now)?;
            self.resync = false;
            // After a reconnection, the next scan ends the grace period.
            self.next_scan = (now + self.config.ttl).max(self.grace_until);
        }
        if now >= self.next_refresh {
            self.refresh()?;
            self.next_refresh = now + self.config.ttl / 3;
        }
        Ok(())
    }
}

impl Backend for RedisBackend {
    fn share(&mut self, service: &Service, endpoint: &str) -> Result<(), BackendError> {
        if service.reach != Reach::Global {
            debug!(self.log, "not sharing a service that is not global"; "service" => ?service);
            return Ok(());
        }
        let key = self.key_of(&self.config.host, service, endpoint);
        let entry = Entry { host: self.config.host.clone(), service: service.clone(), endpoint: endpoint.to_owned() };
        let value = serde_json::to_vec(&entry).map_err(|e| BackendError(format!("encoding an entry: {e}")))?;
        self.withdrawn.remove(&key);
        self.own.insert(key.clone(), value.clone());
        if !self.connected(Instant::now())? {
            return Err(BackendError(format!("not connected to Redis at {}; shared when reconnected", self.server)));
        }
        let ttl = self.ttl_ms();
        self.with_conn("sharing a provider", |_, conn| {
            redis::cmd("SET").arg(&key).arg(&value).arg("PX").arg(ttl).query::<()>(conn)
        })
    }

    fn unshare(&mut self, service: &Service, endpoint: &str) -> Result<(), BackendError> {
        if service.reach != Reach::Global {
            return Ok(());
        }
        let key = self.key_of(&self.config.host, service, endpoint);
        if self.own.remove(&key).is_none() {
            return Ok(());
        }
        self.withdrawn.insert(key.clone());
        if !self.connected(Instant::now())? {
            return Err(BackendError(format!("not connected to Redis at {}; withdrawn when reconnected", self.server)));
        }
        self.with_conn("withdrawing a provider", |_, conn| redis::cmd("DEL").arg(&key).query::<()>(conn))?;
        self.withdrawn.remove(&key);
        Ok(())
    }

    fn changes(&mut self) -> Result<Vec<RemoteChange>, BackendError> {
        self.drain_wake();
        self.sync(Instant::now())?;
        Ok(std::mem::take(&mut self.outbox))
    }

    fn poll_fd(&self) -> Option<RawFd> {
        Some(self.wake.as_raw_fd())
    }
}

impl Drop for RedisBackend {
    /// Stops the subscriber thread. This host's entries are left to expire, so that a daemon
    /// restarting within the TTL does not make other hosts drop and re-add its providers.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.subscriber.take() {
            // The thread wakes at least every IO_TIMEOUT to check the flag.
            let _ = thread.join();
        }
    }
}

/// The subscriber thread: follows keyspace notifications of the provider keys on a
/// connection of its own, reconnecting as needed.
struct Subscriber {
    client: redis::Client,
    pattern: String,
    channel_prefix: String,
    own_prefix: String,
    tx: Sender<Event>,
    waker: UnixStream,
    stop: Arc<AtomicBool>,
    log: slog::Logger,
}

impl Subscriber {
    fn run(self) {
        let mut failures = 0u32;
        while !self.stop.load(Ordering::Relaxed) {
            match self.follow(&mut failures) {
                Ok(()) => return,
                Err(e) => {
                    if failures == 0 {
                        warn!(self.log, "lost the notifications of the shared registry"; "error" => %e);
                    } else {
                        debug!(self.log, "cannot subscribe to the shared registry"; "error" => %e);
                    }
                    let backoff = MIN_BACKOFF.saturating_mul(1 << failures.min(8)).min(MAX_BACKOFF);
                    failures = failures.saturating_add(1);
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !self.stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        }
    }

    /// Subscribes and forwards notifications until stopped (`Ok`) or the connection fails.
    fn follow(&self, failures: &mut u32) -> redis::RedisResult<()> {
        let mut conn = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        // A restarted server forgets its configuration: whoever reconnects first restores it.
        enable_notifications(&mut conn, &self.log)?;
        let mut pubsub = conn.as_pubsub();
        pubsub.psubscribe(&self.pattern)?;
        if *failures > 0 {
            info!(self.log, "following the shared registry again");
        }
        *failures = 0;
        if !self.send(Event::Resync) {
            return Ok(());
        }
        let mut last = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            let message = match pubsub.get_message() {
                Ok(message) => message,
                Err(e) if e.is_timeout() => {
                    if last.elapsed() >= PING_AFTER {
                        pubsub.ping::<redis::Value>()?;
                        last = Instant::now();
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            last = Instant::now();
            let (Ok(channel), Ok(event)) = (message.get_channel::<Vec<u8>>(), message.get_payload::<String>()) else {
                continue;
            };
            let Some(key) = channel.strip_prefix(self.channel_prefix.as_bytes()) else {
                continue;
            };
            let Ok(key) = String::from_utf8(key.to_vec()) else {
                continue;
            };
            if key.starts_with(&self.own_prefix) {
                continue;
            }
            let gone = match event.as_str() {
                "set" | "rename_to" => false,
                "del" | "expired" | "evicted" | "rename_from" => true,
                _ => continue,
            };
            if !self.send(Event::Key { key, gone }) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Forwards `event` and wakes the daemon; false when the backend is gone.
    fn send(&self, event: Event) -> bool {
        if self.tx.send(event).is_err() {
            return false;
        }
        // A full socket is readable already, which is all the daemon needs.
        let _ = (&self.waker).write(&[1]);
        true
    }
}

/// The keyspace event classes the backend needs: keyspace channel, generic (`del`), string
/// (`set`), expired and evicted.
const NEEDED_EVENTS: &str = "Kg$xe";

/// Adds the events the backend needs to the server's `notify-keyspace-events`. A server that
/// refuses `CONFIG` (a managed service, an ACL user without it) is logged: it must be
/// configured by its operator, and until then the periodic scans alone find changes.
/// Connection errors and a demand for a password are returned.
fn enable_notifications(conn: &mut redis::Connection, log: &slog::Logger) -> redis::RedisResult<()> {
    let current: redis::RedisResult<Vec<String>> =
        redis::cmd("CONFIG").arg("GET").arg("notify-keyspace-events").query(conn);
    let current = match current {
        Ok(pair) => pair.into_iter().nth(1).unwrap_or_default(),
        Err(e) if breaks_connection(&e) => return Err(e),
        Err(e) => {
            warn!(log, "cannot read notify-keyspace-events; changes are found by periodic scans"; "error" => %e);
            return Ok(());
        }
    };
    let merged = merge_flags(&current);
    if merged == current {
        return Ok(());
    }
    match redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg(&merged).query::<()>(conn) {
        Ok(()) => {
            debug!(log, "enabled keyspace notifications"; "was" => &current, "now" => &merged);
            Ok(())
        }
        Err(e) if breaks_connection(&e) => Err(e),
        Err(e) => {
            warn!(log, "cannot enable keyspace notifications; changes are found by periodic scans"; "error" => %e);
            Ok(())
        }
    }
}

/// Whether `e` ends the use of a connection: it broke, or the server wants a password first.
fn breaks_connection(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.code() == Some("NOAUTH")
}

/// `current` with the [`NEEDED_EVENTS`] added (`A` stands for every class but `K`, `E`, `m`
/// and `n`).
fn merge_flags(current: &str) -> String {
    let mut merged = current.to_owned();
    for flag in NEEDED_EVENTS.chars() {
        let implied = flag != 'K' && current.contains('A');
        if !implied && !merged.contains(flag) {
            merged.push(flag);
        }
    }
    merged
}

/// Percent-encodes everything but ASCII letters, digits and `-._~:@`, so that `/` separates
/// the parts of a key unambiguously and no part contains glob characters.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes the glob characters of a `SCAN MATCH` or `PSUBSCRIBE` pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_added_never_removed() {
        assert_eq!(merge_flags(""), "Kg$xe");
        assert_eq!(merge_flags("AKE"), "AKE");
        assert_eq!(merge_flags("AE"), "AEK");
        assert_eq!(merge_flags("Elm"), "ElmKg$xe");
        assert_eq!(merge_flags("gxK"), "gxK$e");
    }

    #[test]
    fn passwords_stay_out_of_logs() {
        let config = RedisConfig {
            url: "redis://u:pw@h/".into(),
            auth: Some(RedisAuth { user: Some("cohort".into()), password: "s3cret".into() }),
            ..RedisConfig::new("h1")
        };
        let text = format!("{config:?}");
        assert!(!text.contains("pw") && !text.contains("s3cret") && text.contains("cohort"), "{text}");
    }

    #[test]
    fn key_parts_are_escaped() {
        assert_eq!(escape("tcp://10.0.0.1:4000"), "tcp:%2F%2F10.0.0.1:4000");
        assert_eq!(escape("Q#A"), "Q%23A");
        assert_eq!(escape("a*b?[c]%"), "a%2Ab%3F%5Bc%5D%25");
        assert_eq!(escape("Temp@G.i"), "Temp@G.i");
        assert_eq!(glob_escape("a*b/[x]\\"), "a\\*b/\\[x\\]\\\\");
    }
}
