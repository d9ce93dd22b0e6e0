//! The registry core: a state machine with no sockets and no clock inside.
//!
//! It takes client frames (with the client's identity), changes reported by other hosts
//! (through a shared backend), and the current time, and returns [`Effect`]s: replies and pushes
//! to send to clients, and changes to share with other hosts. The daemon only moves bytes
//! between it and the sockets, so everything here is tested with simulated time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cohort_ports::Endpoint;

use crate::protocol::{decode_client, ClientRequest, DecodeError, ErrorCode, ErrorReply, ReplyBody, PROTOCOL_VERSION};
pub use crate::protocol::{ActorListing, Listing};
use crate::service::{provided, wanted, Reach, Service};

/// A client's identity: the routing id of its DEALER, unique per actor process.
pub type ClientId = Vec<u8>;

/// Timing of liveness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// This host's id (local and internal services are keyed by it).
    pub host: String,
    /// How often clients are asked to heartbeat.
    pub heartbeat_interval: Duration,
    /// A client silent this long is dropped with all its providers.
    pub liveness_timeout: Duration,
}

impl RegistryConfig {
    /// Defaults for `host`: heartbeat every 500 ms, dropped after 2 s of silence.
    pub fn new(host: &str) -> RegistryConfig {
        RegistryConfig {
            host: host.to_owned(),
            heartbeat_interval: Duration::from_millis(500),
            liveness_timeout: Duration::from_secs(2),
        }
    }
}

/// Something the daemon must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Reply to request `id` of client `to`.
    Reply {
        /// The client.
        to: ClientId,
        /// The request id (0 when the request did not decode).
        id: u64,
        /// The outcome.
        result: Result<ReplyBody, ErrorReply>,
    },
    /// Push a change of providers to a consuming port of client `to`.
    Push {
        /// The client.
        to: ClientId,
        /// The consuming port.
        port: String,
        /// New endpoints.
        added: Vec<String>,
        /// Endpoints that are gone.
        removed: Vec<String>,
    },
    /// Tell other hosts that this host provides `service` at `endpoint`.
    Share(Service, String),
    /// Tell other hosts that this host no longer provides `service` at `endpoint`.
    Unshare(Service, String),
}

/// Requests a registry handled, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `Hello`: an actor registered (or registered again).
    pub hello: u64,
    /// `Goodbye`: an actor unregistered.
    pub goodbye: u64,
    /// `Provide`: a providing port's endpoint.
    pub provide: u64,
    /// `Withdraw`: a providing port's endpoint withdrawn.
    pub withdraw: u64,
    /// `Lookup`: a consuming port asked for its providers.
    pub lookup: u64,
    /// `Unlookup`: a consuming port stopped watching.
    pub unlookup: u64,
    /// `Heartbeat`.
    pub heartbeat: u64,
    /// `List`: a tool (`cohort ls`) asked what the registry knows.
    pub list: u64,
}

impl RequestCounts {
    /// Each kind, named as in the protocol but in lower case, with its count.
    pub fn by_kind(&self) -> [(&'static str, u64); 8] {
        [
            ("hello", self.hello),
            ("goodbye", self.goodbye),
            ("provide", self.provide),
            ("withdraw", self.withdraw),
            ("lookup", self.lookup),
            ("unlookup", self.unlookup),
            ("heartbeat", self.heartbeat),
            ("list", self.list),
        ]
    }

    fn count(&mut self, request: &ClientRequest) {
        let n = match request {
            ClientRequest::Hello { .. } => &mut self.hello,
            ClientRequest::Goodbye => &mut self.goodbye,
            ClientRequest::Provide { .. } => &mut self.provide,
            ClientRequest::Withdraw { .. } => &mut self.withdraw,
            ClientRequest::Lookup { .. } => &mut self.lookup,
            ClientRequest::Unlookup { .. } => &mut self.unlookup,
            ClientRequest::Heartbeat => &mut self.heartbeat,
            ClientRequest::List => &mut self.list,
        };
        *n += 1;
    }
}

/// What a registry did since it was made (counts that only grow) and what it holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryStats {
    /// Requests that decoded, by kind (refused ones too).
    pub requests: RequestCounts,
    /// Frames that did not decode (answered [`ErrorCode::Malformed`]).
    pub malformed: u64,
    /// Frames of another protocol version ([`ErrorCode::Version`]).
    pub foreign_version: u64,
    /// Requests of a client that had not said hello ([`ErrorCode::UnknownClient`]).
    pub unknown_client: u64,
    /// Requests refused as invalid: empty names, a bad service or endpoint
    /// ([`ErrorCode::Invalid`]).
    pub invalid: u64,
    /// Actors dropped because they went silent for the liveness timeout.
    pub expired: u64,
    /// Actors registered now.
    pub actors: u64,
    /// Endpoints that this host's actors provide now.
    pub local_providers: u64,
    /// Endpoints that other hosts provide, known now (through the shared registry).
    pub remote_providers: u64,
    /// Consuming ports whose providers are watched now.
    pub lookups: u64,
}

/// Who registered a provider.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// A client of this daemon.
    Client(ClientId),
    /// Another host, through the backend.
    Remote,
}

#[derive(Debug, Clone)]
struct Client {
    app: String,
    actor: String,
    pid: u32,
    last_seen: Duration,
    /// Endpoint → (port, service).
    provides: BTreeMap<String, (String, Service)>,
    /// Port → service.
    lookups: BTreeMap<String, Service>,
}

/// The registry of one host's daemon.
#[derive(Debug, Clone)]
pub struct Registry {
    config: RegistryConfig,
    clients: BTreeMap<ClientId, Client>,
    providers: BTreeMap<Service, BTreeMap<String, Origin>>,
    watchers: BTreeMap<Service, BTreeSet<(ClientId, String)>>,
    /// The counts of [`RegistryStats`] (its other fields are worked out when asked).
    counts: RegistryStats,
}

impl Registry {
    /// An empty registry.
    pub fn new(config: RegistryConfig) -> Registry {
        Registry {
            config,
            clients: BTreeMap::new(),
            providers: BTreeMap::new(),
            watchers: BTreeMap::new(),
            counts: RegistryStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Handles one frame from client `from` at time `now`.
    pub fn on_frame(&mut self, now: Duration, from: &[u8], bytes: &[u8]) -> Vec<Effect> {
        match decode_client(bytes) {
            Ok(frame) => self.on_request(now, from, frame.id, frame.request),
            Err(e) => {
                let code = match e {
                    DecodeError::Version { .. } => ErrorCode::Version,
                    DecodeError::Malformed(_) => ErrorCode::Malformed,
                };
                self.count_refusal(code);
                vec![error(from, 0, code, e.to_string())]
            }
        }
    }

    /// Handles one decoded request.
    pub fn on_request(&mut self, now: Duration, from: &[u8], id: u64, request: ClientRequest) -> Vec<Effect> {
        self.counts.requests.count(&request);
        let effects = self.handle_request(now, from, id, request);
        for effect in &effects {
            if let Effect::Reply { result: Err(e), .. } = effect {
                self.count_refusal(e.code);
            }
        }
        effects
    }

    fn count_refusal(&mut self, code: ErrorCode) {
        let n = match code {
            ErrorCode::Malformed => &mut self.counts.malformed,
            ErrorCode::Version => &mut self.counts.foreign_version,
            ErrorCode::UnknownClient => &mut self.counts.unknown_client,
            ErrorCode::Invalid => &mut self.counts.invalid,
        };
        *n += 1;
    }

    /// What the registry did since it was made, and what it holds now.
    pub fn stats(&self) -> RegistryStats {
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let (mut local, mut remote) = (0, 0);
        for origin in self.providers.values().flat_map(BTreeMap::values) {
            match origin {
                Origin::Remote => remote += 1,
                Origin::Client(_) => local += 1,
            }
        }
        RegistryStats {
            actors: count(self.clients.len()),
            local_providers: local,
            remote_providers: remote,
            lookups: count(self.watchers.values().map(BTreeSet::len).sum()),
            ..self.counts
        }
    }

    fn handle_request(&mut self, now: Duration, from: &[u8], id: u64, request: ClientRequest) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let ClientRequest::Hello { app, actor, pid } = request {
            if app.is_empty() || actor.is_empty() {
                effects.push(error(from, id, ErrorCode::Invalid, "the app and actor names must not be empty".into()));
                return effects;
            }
            // A second hello (the client reconnected) starts the actor afresh.
            self.drop_client(from, &mut effects);
            let client =
                Client { app, actor, pid, last_seen: now, provides: BTreeMap::new(), lookups: BTreeMap::new() };
            self.clients.insert(from.to_vec(), client);
            effects.push(reply(
                from,
                id,
                ReplyBody::Welcome {
                    heartbeat_ms: millis(self.config.heartbeat_interval),
                    timeout_ms: millis(self.config.liveness_timeout),
                },
            ));
            return effects;
        }
        if request == ClientRequest::List {
            // Tools ask without registering an actor.
            return vec![reply(from, id, ReplyBody::Listing(self.listing()))];
        }
        let Some(client) = self.clients.get_mut(from) else {
            let message = format!("unknown client: send Hello (protocol version {PROTOCOL_VERSION}) first");
            return vec![error(from, id, ErrorCode::UnknownClient, message)];
        };
        client.last_seen = now;
        let (app, actor) = (client.app.clone(), client.actor.clone());
        match request {
            ClientRequest::Hello { .. } | ClientRequest::List => {}
            ClientRequest::Heartbeat => effects.push(reply(from, id, ReplyBody::Done)),
            ClientRequest::Goodbye => {
                self.drop_client(from, &mut effects);
                effects.push(reply(from, id, ReplyBody::Done));
            }
            ClientRequest::Provide { port, kind, messages, scope, endpoint } => {
                let reach = Reach::of(scope.into(), &self.config.host, &actor);
                match (provided(&app, &kind, &messages, reach), Endpoint::parse(&endpoint)) {
                    (Ok(service), Ok(_)) => {
                        self.add_local(from, port, service, endpoint, &mut effects);
                        effects.push(reply(from, id, ReplyBody::Done));
                    }
                    (Err(e), _) => effects.push(error(from, id, ErrorCode::Invalid, e.to_string())),
                    (_, Err(e)) => effects.push(error(from, id, ErrorCode::Invalid, e.to_string())),
                }
            }
            ClientRequest::Withdraw { endpoint } => {
                let removed = self.clients.get_mut(from).and_then(|c| c.provides.remove(&endpoint));
                if let Some((_, service)) = removed {
                    self.remove_provider(&service, &endpoint, &mut effects);
                }
                effects.push(reply(from, id, ReplyBody::Done));
            }
            ClientRequest::Lookup { port, kind, messages, scope } => {
                let reach = Reach::of(scope.into(), &self.config.host, &actor);
                match wanted(&app, &kind, &messages, reach) {
                    Ok(service) => {
                        self.unwatch(from, &port);
                        let endpoints: Vec<String> =
                            self.providers.get(&service).map(|m| m.keys().cloned().collect()).unwrap_or_default();
                        self.watchers.entry(service.clone()).or_default().insert((from.to_vec(), port.clone()));
                        if let Some(c) = self.clients.get_mut(from) {
                            c.lookups.insert(port, service);
                        }
                        effects.push(reply(from, id, ReplyBody::Endpoints(endpoints)));
                    }
                    Err(e) => effects.push(error(from, id, ErrorCode::Invalid, e.to_string())),
                }
            }
            ClientRequest::Unlookup { port } => {
                self.unwatch(from, &port);
                effects.push(reply(from, id, ReplyBody::Done));
            }
        }
        effects
    }

    /// Drops every client silent for longer than the liveness timeout.
    pub fn on_tick(&mut self, now: Duration) -> Vec<Effect> {
        let timeout = self.config.liveness_timeout;
        let dead: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| now.saturating_sub(c.last_seen) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        let mut effects = Vec::new();
        for id in dead {
            self.counts.expired += 1;
            self.drop_client(&id, &mut effects);
        }
        effects
    }

    /// The daemon itself did not run for `gap` (it was stopped, or its machine stalled): its
    /// clients' heartbeats of that time are still on their way, so the time does not count
    /// against them. Every client's silence is shortened by `gap`.
    pub fn on_pause(&mut self, gap: Duration) {
        for client in self.clients.values_mut() {
            client.last_seen += gap;
        }
    }

    /// When the next client would time out, for the daemon's poll timeout.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.clients.values().map(|c| c.last_seen + self.config.liveness_timeout).min()
    }

    /// Another host started providing `service` at `endpoint`.
    pub fn on_remote_added(&mut self, service: Service, endpoint: String) -> Vec<Effect> {
        let mut effects = Vec::new();
        let entry = self.providers.entry(service.clone()).or_default();
        if entry.contains_key(&endpoint) {
            return effects;
        }
        entry.insert(endpoint.clone(), Origin::Remote);
        self.push(&service, vec![endpoint], Vec::new(), &mut effects);
        effects
    }

    /// Another host stopped providing `service` at `endpoint`.
    pub fn on_remote_removed(&mut self, service: &Service, endpoint: &str) -> Vec<Effect> {
        let mut effects = Vec::new();
        let remote = self.providers.get(service).and_then(|m| m.get(endpoint)) == Some(&Origin::Remote);
        if remote {
            self.remove_provider(service, endpoint, &mut effects);
        }
        effects
    }

    /// Everything this host's clients provide globally, for re-sharing after a backend restart.
    pub fn shared(&self) -> Vec<(Service, String)> {
        let mut out = Vec::new();
        for (service, endpoints) in &self.providers {
            if service.reach == Reach::Global {
                for (endpoint, origin) in endpoints {
                    if *origin != Origin::Remote {
                        out.push((service.clone(), endpoint.clone()));
                    }
                }
            }
        }
        out
    }

    /// What the registry knows.
    pub fn listing(&self) -> Listing {
        let actors = self
            .clients
            .values()
            .map(|c| ActorListing {
                app: c.app.clone(),
                actor: c.actor.clone(),
                pid: c.pid,
                provides: c.provides.iter().map(|(e, (p, s))| (p.clone(), s.clone(), e.clone())).collect(),
                lookups: c.lookups.iter().map(|(p, s)| (p.clone(), s.clone())).collect(),
            })
            .collect();
        let mut remote = Vec::new();
        for (service, endpoints) in &self.providers {
            for (endpoint, origin) in endpoints {
                if *origin == Origin::Remote {
                    remote.push((service.clone(), endpoint.clone()));
                }
            }
        }
        Listing { actors, remote }
    }

    fn add_local(&mut self, from: &[u8], port: String, service: Service, endpoint: String, effects: &mut Vec<Effect>) {
        // An endpoint registered before by another client (a crashed actor whose port number
        // was reused) changes owner; consumers stay connected to it.
        let previous = self.providers.get(&service).and_then(|m| m.get(&endpoint)).cloned();
        if let Some(Origin::Client(owner)) = &previous {
            if owner.as_slice() != from {
                if let Some(c) = self.clients.get_mut(owner) {
                    c.provides.remove(&endpoint);
                }
            }
        }
        // The same endpoint under another service of this client is withdrawn first.
        let old = self.clients.get(from).and_then(|c| c.provides.get(&endpoint)).map(|(_, s)| s.clone());
        if let Some(old) = old.filter(|s| *s != service) {
            self.remove_provider(&old, &endpoint, effects);
        }
        if let Some(c) = self.clients.get_mut(from) {
            c.provides.insert(endpoint.clone(), (port, service.clone()));
        }
        self.providers.entry(service.clone()).or_default().insert(endpoint.clone(), Origin::Client(from.to_vec()));
        if previous.is_none() {
            if service.reach == Reach::Global {
                effects.push(Effect::Share(service.clone(), endpoint.clone()));
            }
            self.push(&service, vec![endpoint], Vec::new(), effects);
        }
    }

    fn remove_provider(&mut self, service: &Service, endpoint: &str, effects: &mut Vec<Effect>) {
        let Some(endpoints) = self.providers.get_mut(service) else {
            return;
        };
        let Some(origin) = endpoints.remove(endpoint) else {
            return;
        };
        if endpoints.is_empty() {
            self.providers.remove(service);
        }
        if origin != Origin::Remote && service.reach == Reach::Global {
            effects.push(Effect::Unshare(service.clone(), endpoint.to_owned()));
        }
        self.push(service, Vec::new(), vec![endpoint.to_owned()], effects);
    }

    fn push(&self, service: &Service, added: Vec<String>, removed: Vec<String>, effects: &mut Vec<Effect>) {
        for (client, port) in self.watchers.get(service).into_iter().flatten() {
            effects.push(Effect::Push {
                to: client.clone(),
                port: port.clone(),
                added: added.clone(),
                removed: removed.clone(),
            });
        }
    }

    fn unwatch(&mut self, from: &[u8], port: &str) {
        let Some(service) = self.clients.get_mut(from).and_then(|c| c.lookups.remove(port)) else {
            return;
        };
        if let Some(set) = self.watchers.get_mut(&service) {
            set.remove(&(from.to_vec(), port.to_owned()));
            if set.is_empty() {
                self.watchers.remove(&service);
            }
        }
    }

    /// Removes a client with its lookups and providers (pushing the removals).
    fn drop_client(&mut self, id: &[u8], effects: &mut Vec<Effect>) {
        let Some(client) = self.clients.get(id) else {
            return;
        };
        let ports: Vec<String> = client.lookups.keys().cloned().collect();
        for port in ports {
            self.unwatch(id, &port);
        }
        let Some(client) = self.clients.remove(id) else {
            return;
        };
        for (endpoint, (_, service)) in client.provides {
            let owned =
                self.providers.get(&service).and_then(|m| m.get(&endpoint)) == Some(&Origin::Client(id.to_vec()));
            if owned {
                self.remove_provider(&service, &endpoint, effects);
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn reply(to: &[u8], id: u64, body: ReplyBody) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Ok(body) }
}

fn error(to: &[u8], id: u64, code: ErrorCode, message: String) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Err(ErrorReply { code, message }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::WireScope;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn stats_count_requests_refusals_and_expiries_and_show_what_is_held() {
        let mut r = Registry::new(RegistryConfig::new("h1"));
        let hello = ClientRequest::Hello { app: "App".into(), actor: "A".into(), pid: 1 };
        r.on_request(ms(0), b"a", 1, hello);
        let provide = ClientRequest::Provide {
            port: "s.out".into(),
            kind: "pub".into(),
            messages: "Reading".into(),
            scope: WireScope::Global,
            endpoint: "tcp://10.0.0.1:4000".into(),
        };
        r.on_request(ms(1), b"a", 2, provide);
        let lookup = |port: &str| ClientRequest::Lookup {
            port: port.into(),
            kind: "sub".into(),
            messages: "Reading".into(),
            scope: WireScope::Global,
        };
        r.on_request(ms(2), b"a", 3, lookup("s.in"));
        r.on_request(ms(3), b"a", 4, lookup("s.in2"));
        r.on_request(ms(4), b"b", 5, ClientRequest::Heartbeat); // b never said hello
        r.on_request(ms(5), b"c", 6, ClientRequest::Hello { app: String::new(), actor: "C".into(), pid: 3 });
        r.on_frame(ms(6), b"d", b"\x01\x02");
        r.on_remote_added(
            Service { app: "App".into(), kind: "pub".into(), messages: "Reading".into(), reach: Reach::Global },
            "tcp://10.0.0.2:4000".into(),
        );

        let stats = r.stats();
        let requests = RequestCounts { hello: 2, provide: 1, lookup: 2, heartbeat: 1, ..RequestCounts::default() };
        assert_eq!(stats.requests, requests);
        assert_eq!((stats.malformed, stats.foreign_version, stats.unknown_client, stats.invalid), (1, 0, 1, 1));
        assert_eq!((stats.actors, stats.local_providers, stats.remote_providers, stats.lookups), (1, 1, 1, 2));

        r.on_tick(ms(5000));
        let stats = r.stats();
        assert_eq!(
            (stats.expired, stats.actors, stats.local_providers, stats.remote_providers, stats.lookups),
            (1, 0, 0, 1, 0)
        );
        assert_eq!(stats.requests.by_kind()[0], ("hello", 2));
    }
}
