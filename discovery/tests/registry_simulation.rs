#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A seeded random walk of the registry: several clients provide, withdraw, look up, heartbeat,
//! crash (fall silent, as when their messages are lost), restart and send garbage, while other
//! hosts add and remove providers and time passes.
//!
//! An independent model of who provides what predicts every effect of every step, and each
//! consumer's view (the `Endpoints` of its lookup, then the pushes for its port) is checked after
//! every step against the providers in the registry's listing: a view never gets an endpoint
//! added twice or removed when absent, never misses a change, and a crashed client's providers
//! leave every view at the first tick after its liveness timeout. Garbage changes nothing.
//!
//! A failure names the seed and the step, with the operations before it; `COHORT_SIM_SEED=n`
//! replays seed `n` alone.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use cohort_discovery::protocol::{
    encode, ClientFrame, ClientRequest, DaemonFrame, DaemonMessage, ErrorCode, ErrorReply, ReplyBody, WireScope,
    PROTOCOL_VERSION,
};
use cohort_discovery::registry::ActorListing;
use cohort_discovery::{ClientId, Effect, Listing, Reach, Registry, RegistryConfig, Service};

const SEEDS: u64 = 300;
const STEPS: usize = 200;

const HOST: &str = "h1";
const HEARTBEAT: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_millis(2000);

/// A client: its identity, app and actor name (two share the actor name `A` in app `App`, one
/// is of another app).
struct Profile {
    id: &'static [u8],
    app: &'static str,
    actor: &'static str,
}

const CLIENTS: [Profile; 4] = [
    Profile { id: b"c0", app: "App", actor: "A" },
    Profile { id: b"c1", app: "App", actor: "B" },
    Profile { id: b"c2", app: "App", actor: "A" },
    Profile { id: b"c3", app: "Other", actor: "A" },
];

/// What clients provide: kind and message type (`pub` twice, to be more frequent).
const PROVIDED: [(&str, &str); 6] =
    [("pub", "M"), ("pub", "M"), ("rep", "Q#R"), ("srv", "Q#R"), ("ans", "Q#R"), ("gpub", "G@g.1")];
/// What clients look up, the same way (`clt` wants a `srv`, not the `rep`).
const LOOKED_UP: [(&str, &str); 6] =
    [("sub", "M"), ("sub", "M"), ("req", "Q#R"), ("clt", "Q#R"), ("qry", "Q#R"), ("gsub", "G@g.1")];
/// Kinds that are refused: consumers cannot provide, providers cannot look up, and unknown ones.
const BAD_KINDS: [&str; 4] = ["sub", "pub", "ins", "bogus"];
/// Message types that match nothing, or are refused.
const ODD_MESSAGES: [&str; 2] = ["N", ""];
/// Scopes, global and local more often.
const SCOPES: [WireScope; 5] =
    [WireScope::Global, WireScope::Global, WireScope::Local, WireScope::Local, WireScope::Internal];
const PROVIDE_PORTS: [&str; 2] = ["x.out", "y.out"];
const LOOKUP_PORTS: [&str; 3] = ["x.in", "y.in", "z.in"];
/// Endpoints of this host's clients: few, so that a restarted actor often gets an old one.
const LOCAL_ENDPOINTS: [&str; 6] = [
    "tcp://10.0.0.1:5000",
    "tcp://10.0.0.1:5001",
    "tcp://10.0.0.1:5002",
    "tcp://10.0.0.1:5003",
    "ipc:///tmp/cohort-a",
    "inproc://b",
];
const BAD_ENDPOINTS: [&str; 4] = ["", "nope", "tcp://:1", "tcp://10.0.0.1:70000"];
const REMOTE_ENDPOINTS: [&str; 4] =
    ["tcp://10.0.0.2:6000", "tcp://10.0.0.2:6001", "tcp://10.0.0.3:6000", "tcp://10.0.0.3:6001"];

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A duration from `from` to `to` ms in steps of 100 ms, so that clients often time out
    /// exactly at a tick.
    fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + 100 * (self.next() % ((to - from) / 100 + 1)))
    }
}

// ---------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Client(ClientId),
    Remote,
}

impl Owner {
    fn is(&self, id: &[u8]) -> bool {
        matches!(self, Owner::Client(c) if c == id)
    }
}

#[derive(Debug, Clone)]
struct ModelClient {
    app: String,
    actor: String,
    pid: u32,
    last_seen: Duration,
    lookups: BTreeMap<String, Service>,
}

/// What the registry should know, kept the simple way: a map from (service, endpoint) to its
/// owner and port.
#[derive(Debug, Default)]
struct Model {
    clients: BTreeMap<ClientId, ModelClient>,
    providers: BTreeMap<(Service, String), (Owner, String)>,
    /// Endpoints that changed owner so far.
    takeovers: usize,
}

fn provider_kind(kind: &str) -> Option<&'static str> {
    ["pub", "rep", "srv", "ans", "gpub"].into_iter().find(|k| *k == kind)
}

fn consumed_kind(kind: &str) -> Option<&'static str> {
    match kind {
        "sub" => Some("pub"),
        "req" => Some("rep"),
        "clt" => Some("srv"),
        "qry" => Some("ans"),
        "gsub" => Some("gpub"),
        _ => None,
    }
}

fn reach(scope: WireScope, actor: &str) -> Reach {
    match scope {
        WireScope::Global => Reach::Global,
        WireScope::Local => Reach::Host(HOST.into()),
        WireScope::Internal => Reach::Actor(HOST.into(), actor.into()),
    }
}

fn reply(to: &[u8], id: u64, body: ReplyBody) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Ok(body) }
}

/// An error reply; messages are not compared.
fn error(to: &[u8], id: u64, code: ErrorCode) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Err(ErrorReply { code, message: String::new() }) }
}

impl Model {
    fn watchers<'a>(&'a self, service: &'a Service) -> impl Iterator<Item = (&'a ClientId, &'a String)> + 'a {
        self.clients
            .iter()
            .flat_map(move |(id, c)| c.lookups.iter().filter(move |(_, s)| *s == service).map(move |(p, _)| (id, p)))
    }

    fn push(&self, service: &Service, endpoint: &str, added: bool, out: &mut Vec<Effect>) {
        for (to, port) in self.watchers(service) {
            let e = vec![endpoint.to_owned()];
            let (added, removed) = if added { (e, vec![]) } else { (vec![], e) };
            out.push(Effect::Push { to: to.clone(), port: port.clone(), added, removed });
        }
    }

    fn add(&mut self, service: Service, endpoint: String, owner: Owner, port: String, out: &mut Vec<Effect>) {
        if service.reach == Reach::Global && owner != Owner::Remote {
            out.push(Effect::Share(service.clone(), endpoint.clone()));
        }
        self.push(&service, &endpoint, true, out);
        self.providers.insert((service, endpoint), (owner, port));
    }

    fn remove(&mut self, key: &(Service, String), out: &mut Vec<Effect>) {
        let (owner, _) = self.providers.remove(key).unwrap();
        if key.0.reach == Reach::Global && owner != Owner::Remote {
            out.push(Effect::Unshare(key.0.clone(), key.1.clone()));
        }
        self.push(&key.0, &key.1, false, out);
    }

    fn owned_by(&self, id: &[u8]) -> Vec<(Service, String)> {
        self.providers.iter().filter(|(_, (o, _))| o.is(id)).map(|(k, _)| k.clone()).collect()
    }

    /// Removes the clients first (so nothing is pushed to them), then their providers.
    fn drop_clients(&mut self, ids: &[ClientId], out: &mut Vec<Effect>) {
        for id in ids {
            self.clients.remove(id);
        }
        for id in ids {
            for key in self.owned_by(id) {
                self.remove(&key, out);
            }
        }
    }

    fn request(&mut self, now: Duration, from: &[u8], id: u64, request: ClientRequest) -> Vec<Effect> {
        let mut out = Vec::new();
        if let ClientRequest::Hello { app, actor, pid } = request {
            self.drop_clients(&[from.to_vec()], &mut out);
            let client = ModelClient { app, actor, pid, last_seen: now, lookups: BTreeMap::new() };
            self.clients.insert(from.to_vec(), client);
            let welcome = ReplyBody::Welcome {
                heartbeat_ms: HEARTBEAT.as_millis() as u64,
                timeout_ms: TIMEOUT.as_millis() as u64,
            };
            out.push(reply(from, id, welcome));
            return out;
        }
        if request == ClientRequest::List {
            // Tools list without registering; it is no sign of life.
            return vec![reply(from, id, ReplyBody::Listing(self.listing()))];
        }
        let Some(client) = self.clients.get_mut(from) else {
            return vec![error(from, id, ErrorCode::UnknownClient)];
        };
        client.last_seen = now;
        let (app, actor) = (client.app.clone(), client.actor.clone());
        match request {
            ClientRequest::Hello { .. } | ClientRequest::List => unreachable!(),
            ClientRequest::Heartbeat => out.push(reply(from, id, ReplyBody::Done)),
            ClientRequest::Goodbye => {
                self.drop_clients(&[from.to_vec()], &mut out);
                out.push(reply(from, id, ReplyBody::Done));
            }
            ClientRequest::Provide { port, kind, messages, scope, endpoint } => {
                let (Some(kind), false, false) =
                    (provider_kind(&kind), messages.is_empty(), BAD_ENDPOINTS.contains(&endpoint.as_str()))
                else {
                    return vec![error(from, id, ErrorCode::Invalid)];
                };
                let service = Service { app, kind: kind.into(), messages, reach: reach(scope, &actor) };
                // One service per endpoint and client: another one is withdrawn first.
                let mine = self.owned_by(from).into_iter().find(|(s, e)| *e == endpoint && *s != service);
                if let Some(key) = mine {
                    self.remove(&key, &mut out);
                }
                let key = (service, endpoint);
                match self.providers.get_mut(&key) {
                    // Known already (a restarted actor got the old port, or a new port name):
                    // it changes owner, and consumers stay connected.
                    Some(entry) => {
                        self.takeovers += usize::from(!entry.0.is(from));
                        *entry = (Owner::Client(from.to_vec()), port);
                    }
                    None => self.add(key.0, key.1, Owner::Client(from.to_vec()), port, &mut out),
                }
                out.push(reply(from, id, ReplyBody::Done));
            }
            ClientRequest::Withdraw { endpoint } => {
                if let Some(key) = self.owned_by(from).into_iter().find(|(_, e)| *e == endpoint) {
                    self.remove(&key, &mut out);
                }
                out.push(reply(from, id, ReplyBody::Done));
            }
            ClientRequest::Lookup { port, kind, messages, scope } => {
                let (Some(kind), false) = (consumed_kind(&kind), messages.is_empty()) else {
                    return vec![error(from, id, ErrorCode::Invalid)];
                };
                let service = Service { app, kind: kind.into(), messages, reach: reach(scope, &actor) };
                let endpoints = self.providers.keys().filter(|(s, _)| *s == service).map(|(_, e)| e.clone()).collect();
                self.clients.get_mut(from).unwrap().lookups.insert(port, service);
                out.push(reply(from, id, ReplyBody::Endpoints(endpoints)));
            }
            ClientRequest::Unlookup { port } => {
                self.clients.get_mut(from).unwrap().lookups.remove(&port);
                out.push(reply(from, id, ReplyBody::Done));
            }
        }
        out
    }

    /// The clients that time out at `now`, and the effects of dropping them.
    fn tick(&mut self, now: Duration) -> (Vec<ClientId>, Vec<Effect>) {
        let dead: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| now.saturating_sub(c.last_seen) >= TIMEOUT)
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::new();
        self.drop_clients(&dead, &mut out);
        (dead, out)
    }

    fn remote_added(&mut self, service: Service, endpoint: String) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.providers.contains_key(&(service.clone(), endpoint.clone())) {
            self.add(service, endpoint, Owner::Remote, String::new(), &mut out);
        }
        out
    }

    fn remote_removed(&mut self, service: Service, endpoint: String) -> Vec<Effect> {
        let mut out = Vec::new();
        let key = (service, endpoint);
        if matches!(self.providers.get(&key), Some((Owner::Remote, _))) {
            self.remove(&key, &mut out);
        }
        out
    }

    /// What this host's clients provide globally, in order.
    fn shared_iter(&self) -> impl Iterator<Item = &(Service, String)> {
        self.providers.iter().filter(|((s, _), (o, _))| s.reach == Reach::Global && *o != Owner::Remote).map(|(k, _)| k)
    }

    fn shared(&self) -> Vec<(Service, String)> {
        self.shared_iter().cloned().collect()
    }

    /// Whether `listing` says what the model knows (without building the model's own listing).
    fn agrees_with(&self, listing: &Listing) -> bool {
        let owned = |id: &[u8]| {
            let mut mine: Vec<(&String, &Service, &String)> =
                self.providers.iter().filter(|(_, (o, _))| o.is(id)).map(|((s, e), (_, p))| (p, s, e)).collect();
            // The registry lists a client's providers by endpoint.
            mine.sort_by(|x, y| x.2.cmp(y.2));
            mine
        };
        let owners_known = self.providers.values().all(|(o, _)| match o {
            Owner::Client(id) => self.clients.contains_key(id),
            Owner::Remote => true,
        });
        let remote = self.providers.iter().filter(|(_, (o, _))| *o == Owner::Remote).map(|((s, e), _)| (s, e));
        owners_known
            && listing.actors.len() == self.clients.len()
            && listing.actors.iter().zip(&self.clients).all(|(a, (id, c))| {
                (&a.app, &a.actor, a.pid) == (&c.app, &c.actor, c.pid)
                    && a.provides.iter().map(|(p, s, e)| (p, s, e)).eq(owned(id))
                    && a.lookups.iter().map(|(p, s)| (p, s)).eq(c.lookups.iter())
            })
            && listing.remote.iter().map(|(s, e)| (s, e)).eq(remote)
    }

    fn listing(&self) -> Listing {
        let actors = self
            .clients
            .iter()
            .map(|(id, c)| ActorListing {
                app: c.app.clone(),
                actor: c.actor.clone(),
                pid: c.pid,
                provides: {
                    // The registry lists a client's providers by endpoint.
                    let mut p: Vec<(String, Service, String)> = self
                        .providers
                        .iter()
                        .filter(|(_, (o, _))| o.is(id))
                        .map(|((s, e), (_, port))| (port.clone(), s.clone(), e.clone()))
                        .collect();
                    p.sort_by(|a, b| a.2.cmp(&b.2));
                    p
                },
                lookups: c.lookups.iter().map(|(p, s)| (p.clone(), s.clone())).collect(),
            })
            .collect();
        let remote = self.providers.iter().filter(|(_, (o, _))| *o == Owner::Remote).map(|(k, _)| k.clone()).collect();
        Listing { actors, remote }
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.clients.values().map(|c| c.last_seen + TIMEOUT).min()
    }

    fn watches(&self) -> BTreeMap<(&[u8], &str), &Service> {
        let mut out = BTreeMap::new();
        for (id, c) in &self.clients {
            for (port, service) in &c.lookups {
                out.insert((id.as_slice(), port.as_str()), service);
            }
        }
        out
    }
}

/// Who provides `service` according to the registry's own listing.
fn providers_in(listing: &Listing, service: &Service) -> BTreeSet<String> {
    let local = listing.actors.iter().flat_map(|a| a.provides.iter()).filter(|(_, s, _)| s == service);
    let remote = listing.remote.iter().filter(|(s, _)| s == service);
    local.map(|(_, _, e)| e.clone()).chain(remote.map(|(_, e)| e.clone())).collect()
}

/// An effect in a canonical form: error message blanked, endpoint lists sorted.
fn canonical(effect: &Effect) -> Effect {
    let mut e = effect.clone();
    match &mut e {
        Effect::Reply { result: Err(err), .. } => err.message.clear(),
        Effect::Reply { result: Ok(ReplyBody::Endpoints(list)), .. } => list.sort(),
        Effect::Push { added, removed, .. } => {
            added.sort();
            removed.sort();
        }
        _ => {}
    }
    e
}

/// Whether two lists of effects are the same but for their order.
fn same_effects(actual: &[Effect], expected: &[Effect]) -> bool {
    let mut left: Vec<Effect> = expected.iter().map(canonical).collect();
    actual.len() == expected.len()
        && actual.iter().map(canonical).all(|a| match left.iter().position(|e| *e == a) {
            Some(i) => {
                left.swap_remove(i);
                true
            }
            None => false,
        })
}

// ---------------------------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------------------------

/// One step of the walk.
#[derive(Debug, Clone)]
enum Op {
    /// Client `c` sends a request.
    Request(usize, ClientRequest),
    /// Client `c` falls silent (crashed, or everything it sends is lost).
    Crash(usize),
    /// Time passes; clients that are due heartbeat.
    Advance(Duration),
    /// Time passes and nobody heartbeats (a stalled host).
    Stall(Duration),
    Tick,
    RemoteAdded(Service, String),
    RemoteRemoved(Service, String),
    /// Bytes that are no valid request, from `from`.
    Garbage(Vec<u8>, Vec<u8>),
}

#[derive(Debug, Default, Clone)]
struct SimClient {
    /// Silent until it restarts.
    crashed: bool,
    /// Restarts so far (each gets a new pid).
    generation: u32,
    /// When it last sent a request that decodes.
    last_sent: Duration,
    /// What it provided when it crashed.
    owned_at_crash: Vec<(Service, String)>,
    /// Whether its providers were seen gone after its crash.
    verified: bool,
}

struct Sim {
    seed: u64,
    step: usize,
    rng: Rng,
    now: Duration,
    registry: Registry,
    model: Model,
    clients: Vec<SimClient>,
    /// Each consumer's view of the providers of its looked-up port.
    views: BTreeMap<(ClientId, String), BTreeSet<String>>,
    /// What other hosts were told (Share minus Unshare).
    backend: BTreeSet<(Service, String)>,
    next_id: u64,
    recent: VecDeque<Op>,
    /// How often each interesting thing happened, to show the walk reaches it.
    seen: BTreeMap<&'static str, usize>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let config = RegistryConfig { host: HOST.into(), heartbeat_interval: HEARTBEAT, liveness_timeout: TIMEOUT };
        Sim {
            seed,
            step: 0,
            rng: Rng::new(seed),
            now: Duration::ZERO,
            registry: Registry::new(config),
            model: Model::default(),
            clients: vec![SimClient::default(); CLIENTS.len()],
            views: BTreeMap::new(),
            backend: BTreeSet::new(),
            next_id: 1,
            recent: VecDeque::new(),
            seen: BTreeMap::new(),
        }
    }

    /// Where we are, for failure messages.
    fn ctx(&self) -> String {
        let ops: Vec<String> = self.recent.iter().map(|op| format!("  {op:?}")).collect();
        format!("seed {} step {} at {:?}; last operations:\n{}", self.seed, self.step, self.now, ops.join("\n"))
    }

    fn note(&mut self, what: &'static str, times: usize) {
        *self.seen.entry(what).or_default() += times;
    }

    fn pid(&self, c: usize) -> u32 {
        1000 * self.clients[c].generation + c as u32
    }

    fn registered(&self, c: usize) -> bool {
        self.model.clients.contains_key(CLIENTS[c].id)
    }

    // --- Choosing operations ----------------------------------------------------------------

    fn random_op(&mut self) -> Op {
        let c = self.rng.below(CLIENTS.len());
        let p = &CLIENTS[c];
        let roll = self.rng.below(100);
        if self.clients[c].crashed && roll < 60 {
            // Only a restart brings a crashed client back.
            return if self.rng.percent(30) { self.hello(c) } else { Op::Advance(self.rng.millis(0, 600)) };
        }
        if !self.registered(c) && self.rng.percent(60) {
            return self.hello(c);
        }
        match roll {
            0..=17 => {
                let endpoint =
                    if self.rng.percent(4) { *self.rng.pick(&BAD_ENDPOINTS) } else { *self.rng.pick(&LOCAL_ENDPOINTS) };
                let (kind, messages) = self.kind_and_messages(&PROVIDED);
                let port = self.rng.pick(&PROVIDE_PORTS).to_string();
                let scope = *self.rng.pick(&SCOPES);
                Op::Request(c, ClientRequest::Provide { port, kind, messages, scope, endpoint: endpoint.into() })
            }
            18..=25 => {
                let owned = self.model.owned_by(p.id);
                let endpoint = if !owned.is_empty() && self.rng.percent(80) {
                    self.rng.pick(&owned).1.clone()
                } else {
                    self.rng.pick(&LOCAL_ENDPOINTS).to_string()
                };
                Op::Request(c, ClientRequest::Withdraw { endpoint })
            }
            26..=39 => {
                let (kind, messages) = self.kind_and_messages(&LOOKED_UP);
                let port = self.rng.pick(&LOOKUP_PORTS).to_string();
                let scope = *self.rng.pick(&SCOPES);
                Op::Request(c, ClientRequest::Lookup { port, kind, messages, scope })
            }
            40..=44 => Op::Request(c, ClientRequest::Unlookup { port: self.rng.pick(&LOOKUP_PORTS).to_string() }),
            45..=48 => Op::Request(c, ClientRequest::Heartbeat),
            49 => Op::Request(c, ClientRequest::List),
            50..=51 => Op::Request(c, ClientRequest::Goodbye),
            52..=53 => self.hello(c),
            54..=55 => Op::Crash(c),
            56..=68 => Op::Advance(self.rng.millis(0, 600)),
            69..=70 => Op::Stall(self.rng.millis(1000, 3000)),
            71..=80 => Op::Tick,
            81..=86 => {
                let (service, endpoint) = self.remote_provider();
                Op::RemoteAdded(service, endpoint)
            }
            87..=91 => {
                // Mostly a remote provider that is there; sometimes one of ours (to be ignored),
                // or one that is not there.
                let remote: Vec<&(Service, String)> =
                    self.model.providers.iter().filter(|(_, (o, _))| *o == Owner::Remote).map(|(k, _)| k).collect();
                let shared = self.model.shared();
                let roll = self.rng.below(100);
                let (service, endpoint) = if !remote.is_empty() && roll < 75 {
                    (*self.rng.pick(&remote)).clone()
                } else if !shared.is_empty() && roll < 90 {
                    self.rng.pick(&shared).clone()
                } else {
                    self.remote_provider()
                };
                Op::RemoteRemoved(service, endpoint)
            }
            92..=93 => {
                // The backend echoes one of our own shares back: it must be ignored.
                let shared = self.model.shared();
                if shared.is_empty() {
                    Op::Tick
                } else {
                    let (s, e) = self.rng.pick(&shared).clone();
                    Op::RemoteAdded(s, e)
                }
            }
            _ => {
                // From a client (a crashed one sends nothing), or from a stranger.
                let from = if !self.clients[c].crashed && self.rng.percent(80) { p.id } else { b"stranger" };
                Op::Garbage(from.to_vec(), self.garbage())
            }
        }
    }

    /// A provider on another host: mostly of a service this host's clients look up; sometimes
    /// of another app, or another host's local one (which must match nothing here).
    fn remote_provider(&mut self) -> (Service, String) {
        let (kind, messages) = *self.rng.pick(&[("pub", "M"), ("ans", "Q#R"), ("gpub", "G@g.1")]);
        let app = if self.rng.percent(85) { "App" } else { "Other" };
        let reach = if self.rng.percent(85) { Reach::Global } else { Reach::Host("h2".into()) };
        let service = Service { app: app.into(), kind: kind.into(), messages: messages.into(), reach };
        (service, self.rng.pick(&REMOTE_ENDPOINTS).to_string())
    }

    fn hello(&mut self, c: usize) -> Op {
        let p = &CLIENTS[c];
        let generation = self.clients[c].generation + u32::from(self.clients[c].crashed);
        let pid = 1000 * generation + c as u32;
        Op::Request(c, ClientRequest::Hello { app: p.app.into(), actor: p.actor.into(), pid })
    }

    /// A kind and message type from `catalog`, sometimes a refused kind or an odd message type.
    fn kind_and_messages(&mut self, catalog: &[(&'static str, &'static str)]) -> (String, String) {
        let (mut kind, mut messages) = *self.rng.pick(catalog);
        if self.rng.percent(4) {
            kind = *self.rng.pick(&BAD_KINDS);
        }
        if self.rng.percent(4) {
            messages = *self.rng.pick(&ODD_MESSAGES);
        }
        (kind.into(), messages.into())
    }

    fn garbage(&mut self) -> Vec<u8> {
        let request = ClientRequest::Withdraw { endpoint: LOCAL_ENDPOINTS[0].into() };
        match self.rng.below(5) {
            0 => (0..self.rng.below(24)).map(|_| self.rng.next() as u8).collect(),
            1 => encode(&ClientFrame { version: 99, id: 5, request: ClientRequest::Goodbye }),
            2 => {
                let valid = encode(&ClientFrame { version: PROTOCOL_VERSION, id: 6, request });
                valid[..self.rng.below(valid.len())].to_vec()
            }
            3 => {
                let message = DaemonMessage::Update { port: "x.in".into(), added: vec![], removed: vec![] };
                encode(&DaemonFrame { version: PROTOCOL_VERSION, message })
            }
            _ => encode(&ClientFrame { version: PROTOCOL_VERSION + 1, id: 7, request }),
        }
    }

    // --- Running operations -----------------------------------------------------------------

    fn run(&mut self, op: Op) {
        if self.recent.len() == 12 {
            self.recent.pop_front();
        }
        self.recent.push_back(op.clone());
        match op {
            Op::Request(c, request) => self.request(c, request),
            Op::Crash(c) => {
                if !self.clients[c].crashed {
                    self.clients[c].crashed = true;
                    self.clients[c].owned_at_crash = self.model.owned_by(CLIENTS[c].id);
                    self.clients[c].verified = false;
                }
            }
            Op::Advance(d) => {
                self.now += d;
                // Clients that think they are registered heartbeat when due.
                for c in 0..CLIENTS.len() {
                    let due = self.clients[c].last_sent + HEARTBEAT <= self.now;
                    if due && !self.clients[c].crashed && self.registered(c) {
                        self.request(c, ClientRequest::Heartbeat);
                    }
                }
            }
            Op::Stall(d) => self.now += d,
            Op::Tick => self.tick(),
            Op::RemoteAdded(service, endpoint) => {
                let actual = self.registry.on_remote_added(service.clone(), endpoint.clone());
                let expected = self.model.remote_added(service, endpoint);
                self.compare(&actual, &expected);
                self.apply(&actual, &[]);
            }
            Op::RemoteRemoved(service, endpoint) => {
                let actual = self.registry.on_remote_removed(&service, &endpoint);
                let expected = self.model.remote_removed(service, endpoint);
                self.compare(&actual, &expected);
                self.apply(&actual, &[]);
            }
            Op::Garbage(from, bytes) => self.garbage_frame(&from, &bytes),
        }
        self.check();
    }

    fn request(&mut self, c: usize, request: ClientRequest) {
        let from = CLIENTS[c].id;
        let id = self.next_id;
        self.next_id += 1;
        if let ClientRequest::Hello { pid, .. } = &request {
            if self.clients[c].crashed {
                self.clients[c].crashed = false;
                self.clients[c].generation += 1;
                self.clients[c].owned_at_crash.clear();
            }
            assert_eq!(*pid, self.pid(c), "{}", self.ctx());
        }
        assert!(!self.clients[c].crashed, "a crashed client sends nothing; {}", self.ctx());
        if request != ClientRequest::List {
            self.clients[c].last_sent = self.now;
        }
        let bytes = encode(&ClientFrame { version: PROTOCOL_VERSION, id, request: request.clone() });
        let actual = self.registry.on_frame(self.now, from, &bytes);
        let expected = self.model.request(self.now, from, id, request.clone());
        self.compare(&actual, &expected);

        // The client forgets its lookups when it says hello or goodbye (the registry does too).
        if matches!(request, ClientRequest::Hello { .. } | ClientRequest::Goodbye) {
            self.views.retain(|(to, _), _| to != from);
        }
        self.apply(&actual, &[]);
        match (&request, actual.last()) {
            (ClientRequest::Lookup { port, .. }, Some(Effect::Reply { result: Ok(ReplyBody::Endpoints(e)), .. })) => {
                let view: BTreeSet<String> = e.iter().cloned().collect();
                assert_eq!(view.len(), e.len(), "duplicate endpoints in a lookup reply; {}", self.ctx());
                self.views.insert((from.to_vec(), port.clone()), view);
            }
            (ClientRequest::Unlookup { port }, _) => {
                self.views.remove(&(from.to_vec(), port.clone()));
            }
            _ => {}
        }
    }

    fn tick(&mut self) {
        let actual = self.registry.on_tick(self.now);
        let (dead, expected) = self.model.tick(self.now);
        // Clients dropped in the same tick may be pushed their dying peers' removals before
        // they go themselves; nobody hears those.
        let heard: Vec<Effect> =
            actual.iter().filter(|e| !matches!(e, Effect::Push { to, .. } if dead.contains(to))).cloned().collect();
        self.compare(&heard, &expected);
        self.views.retain(|(to, _), _| !dead.contains(to));
        self.apply(&heard, &dead);
        self.note("timed out", dead.len());

        // A crashed client's providers are gone from every view once its timeout has passed.
        let due: Vec<usize> = (0..CLIENTS.len())
            .filter(|&c| {
                let client = &self.clients[c];
                client.crashed && !client.verified && self.now >= client.last_sent + TIMEOUT
            })
            .collect();
        if due.is_empty() {
            return;
        }
        let listing = self.registry.listing();
        let watches = self.model.watches();
        let mut gone = (0, 0);
        for c in due {
            let pid = self.pid(c);
            assert!(listing.actors.iter().all(|a| a.pid != pid), "crashed client {c} still listed; {}", self.ctx());
            for (service, endpoint) in &self.clients[c].owned_at_crash {
                if providers_in(&listing, service).contains(endpoint) {
                    continue; // Taken over by a live client.
                }
                for ((to, port), view) in &self.views {
                    assert!(
                        !view.contains(endpoint) || watches.get(&(to.as_slice(), port.as_str())) != Some(&service),
                        "{to:?} {port} still sees {endpoint} of crashed client {c}; {}",
                        self.ctx()
                    );
                }
            }
            gone.0 += 1;
            gone.1 += self.clients[c].owned_at_crash.len();
            self.clients[c].verified = true;
        }
        self.note("crashed clients gone", gone.0);
        self.note("crashed providers gone", gone.1);
    }

    fn garbage_frame(&mut self, from: &[u8], bytes: &[u8]) {
        let before = self.registry.listing();
        let deadline = self.registry.next_deadline();
        let actual = self.registry.on_frame(self.now, from, bytes);
        match actual.as_slice() {
            [Effect::Reply { to, id: 0, result: Err(e) }] if to == from && e.code == ErrorCode::Malformed => {
                self.note("refused malformed", 1);
            }
            [Effect::Reply { to, id: 0, result: Err(e) }] if to == from && e.code == ErrorCode::Version => {
                self.note("refused version", 1);
            }
            other => panic!("garbage {bytes:?} got {other:?}; {}", self.ctx()),
        }
        assert_eq!(self.registry.listing(), before, "garbage changed the listing; {}", self.ctx());
        assert_eq!(self.registry.next_deadline(), deadline, "garbage counted as a sign of life; {}", self.ctx());
    }

    /// The registry did exactly what the model says.
    fn compare(&self, actual: &[Effect], expected: &[Effect]) {
        let lines = |effects: &[Effect]| effects.iter().map(|e| format!("\n    {e:?}")).collect::<String>();
        assert!(
            same_effects(actual, expected),
            "effects differ\n  actual:{}\n  expected:{}\n{}",
            lines(actual),
            lines(expected),
            self.ctx()
        );
    }

    /// Applies pushes to the consumers' views and shares to the backend.
    fn apply(&mut self, effects: &[Effect], dead: &[ClientId]) {
        for effect in effects {
            match effect {
                Effect::Push { to, .. } if dead.contains(to) => {}
                Effect::Push { to, port, added, removed } => {
                    let Some(view) = self.views.get_mut(&(to.clone(), port.clone())) else {
                        panic!("push to {to:?} {port}, which has no lookup; {}", self.ctx());
                    };
                    for e in removed {
                        assert!(view.remove(e), "{to:?} {port}: {e} removed but not there; {}", self.ctx());
                    }
                    for e in added {
                        assert!(view.insert(e.clone()), "{to:?} {port}: {e} added twice; {}", self.ctx());
                    }
                    self.note("pushed added", added.len());
                    self.note("pushed removed", removed.len());
                }
                Effect::Share(s, e) => {
                    assert!(self.backend.insert((s.clone(), e.clone())), "{e} shared twice; {}", self.ctx());
                    self.note("shared", 1);
                }
                Effect::Unshare(s, e) => {
                    assert!(
                        self.backend.remove(&(s.clone(), e.clone())),
                        "{e} unshared but not shared; {}",
                        self.ctx()
                    );
                    self.note("unshared", 1);
                }
                Effect::Reply { result: Err(e), .. } => match e.code {
                    ErrorCode::Malformed | ErrorCode::Version => panic!("{e:?} for a good frame; {}", self.ctx()),
                    ErrorCode::UnknownClient => self.note("refused unknown client", 1),
                    ErrorCode::Invalid => self.note("refused invalid", 1),
                },
                Effect::Reply { result: Ok(ReplyBody::Endpoints(e)), .. } if !e.is_empty() => {
                    self.note("found providers", 1);
                }
                Effect::Reply { .. } => {}
            }
        }
    }

    /// The invariants that hold after every step.
    fn check(&self) {
        let listing = self.registry.listing();
        assert!(
            self.model.agrees_with(&listing),
            "listing\n  registry: {listing:#?}\n  model: {:#?}\n{}",
            self.model.listing(),
            self.ctx()
        );
        let shared = self.registry.shared();
        assert!(shared.iter().eq(self.model.shared_iter()), "shared: {shared:?}; {}", self.ctx());
        assert!(shared.iter().eq(self.backend.iter()), "other hosts were told {:?}; {}", self.backend, self.ctx());
        assert_eq!(self.registry.next_deadline(), self.model.next_deadline(), "deadline; {}", self.ctx());

        // Every live lookup has a view, and each view is exactly the current providers (as the
        // registry lists them).
        let local = listing.actors.iter().flat_map(|a| a.provides.iter().map(|(_, s, e)| (s, e)));
        let all: Vec<(&Service, &String)> = local.chain(listing.remote.iter().map(|(s, e)| (s, e))).collect();
        let mut views = self.views.iter();
        for (id, client) in &self.model.clients {
            for (port, service) in &client.lookups {
                let Some(((to, p), view)) = views.next().filter(|((to, p), _)| to == id && p == port) else {
                    panic!("no view of {id:?} {port}; {}", self.ctx());
                };
                let mut providers: Vec<&String> = all.iter().filter(|(s, _)| *s == service).map(|(_, e)| *e).collect();
                providers.sort();
                assert!(
                    view.iter().eq(providers.iter().copied()),
                    "{to:?} {p} sees {view:?}, but {service:?} is provided at {providers:?}; {}",
                    self.ctx()
                );
            }
        }
        if let Some((key, _)) = views.next() {
            panic!("a view of {key:?}, which has no lookup; {}", self.ctx());
        }
    }
}

#[test]
fn random_walks_keep_every_view_exact() {
    // COHORT_SIM_SEED=n replays seed n alone.
    let seeds = match std::env::var("COHORT_SIM_SEED") {
        Ok(seed) => {
            let seed: u64 = seed.parse().expect("COHORT_SIM_SEED is a number");
            seed..seed + 1
        }
        Err(_) => 0..SEEDS,
    };
    let all = seeds.end - seeds.start == SEEDS;
    let mut seen = BTreeMap::<&str, usize>::new();
    for seed in seeds {
        let mut sim = Sim::new(seed);
        for step in 0..STEPS {
            sim.step = step;
            let op = sim.random_op();
            sim.run(op);
        }
        sim.seen.insert("endpoints taken over", sim.model.takeovers);
        for (what, n) in sim.seen {
            *seen.entry(what).or_default() += n;
        }
    }
    // The walk does reach everything it is meant to check.
    eprintln!("{seen:#?}");
    for what in [
        "pushed added",
        "pushed removed",
        "shared",
        "unshared",
        "found providers",
        "refused malformed",
        "refused version",
        "refused unknown client",
        "refused invalid",
        "timed out",
        "crashed clients gone",
        "crashed providers gone",
        "endpoints taken over",
    ] {
        assert!(!all || seen.get(what).copied().unwrap_or(0) > 0, "never {what}: {seen:?}");
    }
}

/// The walk is deterministic: the same seed gives the same registry.
#[test]
fn the_same_seed_gives_the_same_walk() {
    let walk = |seed| {
        let mut sim = Sim::new(seed);
        for step in 0..STEPS {
            sim.step = step;
            let op = sim.random_op();
            sim.run(op);
        }
        (sim.registry.listing(), sim.now, sim.views)
    };
    assert_eq!(walk(7), walk(7));
}
