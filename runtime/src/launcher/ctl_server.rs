//! The launcher's side of `cohort ctl` ([`crate::ctl`]): a ROUTER socket for `cohort ctl` at
//! `<app runtime dir>/<launcher pid>-control.sock`, and a ROUTER socket for the launcher's
//! actors at `<pid>-actors.sock`, to which each actor connects a DEALER named `<actor>:<pid>`
//! (given to actors with the hidden `--control` option). Both live in the app's runtime
//! directory, whose mode 0700 keeps every other user out.
//!
//! The supervisor polls both in place of sleeping between its turns ([`CtlServer::serve`]).
//! Passivation and activation are relayed to the actor and answered when it confirms (or after
//! [`ACTOR_ANSWER`]); restart, stop and status are handed to the supervisor as [`Order`]s, which
//! it answers with [`CtlServer::reply`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cohort_monitor::Board;
use serde::Deserialize;
use slog::{info, warn};

use crate::ctl::{ActorMessage, Command, CtlError, Done, LauncherMessage, Reply, Request, Target, PROTOCOL_VERSION};

/// How long an actor may take to confirm a passivation or activation.
const ACTOR_ANSWER: Duration = Duration::from_secs(2);

/// The routing envelope of a `cohort ctl` request: where its reply goes.
#[derive(Debug, Clone)]
pub(crate) struct Client(Vec<Vec<u8>>);

/// What the supervisor must do for `cohort ctl`, and answer with [`CtlServer::reply`].
#[derive(Debug)]
pub(crate) enum Order {
    /// Say how the actors are ([`Done::Status`]).
    Status(Client),
    /// Restart this actor; answer once its new process runs.
    Restart(Client, String),
    /// Stop the app.
    Stop(Client),
}

/// A relayed passivation or activation waiting for the actor's confirmation.
struct Relay {
    id: u64,
    client: Client,
    actor: String,
    pid: u32,
    passivate: bool,
    deadline: Instant,
}

/// The launcher's control sockets.
pub(crate) struct CtlServer {
    clients: zmq::Socket,
    actors: zmq::Socket,
    /// The ipc files behind the two sockets, which ZeroMQ leaves behind.
    files: [PathBuf; 2],
    actor_endpoint: String,
    /// The instances of each of the launcher's actors, in start order.
    instances: Vec<(String, Vec<String>)>,
    relays: Vec<Relay>,
    next_id: u64,
    /// The passivated instances of each actor's current process.
    passive: BTreeMap<String, (u32, BTreeSet<String>)>,
    log: slog::Logger,
}

/// Only the version of a request, to tell one of another version from a malformed one.
#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

impl CtlServer {
    /// Binds the control sockets of app `app`'s launcher for `instances` (each actor's
    /// instances).
    pub(crate) fn bind(
        app: &str,
        instances: Vec<(String, Vec<String>)>,
        log: &slog::Logger,
    ) -> Result<CtlServer, String> {
        let dir = cohort_ports::default_runtime_dir(app);
        cohort_ports::create_private_dir(&dir).map_err(|e| e.to_string())?;
        private(&dir)?;
        let pid = std::process::id();
        let (client_file, client_endpoint) = crate::ctl::control_endpoint(&dir, pid);
        let actor_file = dir.join(format!("{pid}-actors.sock"));
        let actor_endpoint = format!("ipc://{}", actor_file.display());
        let ctx = zmq::Context::new();
        let router = |endpoint: &str, mandatory: bool| {
            let s = ctx.socket(zmq::ROUTER)?;
            s.set_linger(0)?;
            s.set_router_mandatory(mandatory)?;
            s.bind(endpoint)?;
            Ok::<_, zmq::Error>(s)
        };
        let clients = router(&client_endpoint, false)
            .map_err(|e| format!("cannot take control requests on {client_endpoint}: {e}"))?;
        let actors = router(&actor_endpoint, true).map_err(|e| format!("cannot bind {actor_endpoint}: {e}"))?;
        info!(log, "taking control requests"; "endpoint" => &client_endpoint);
        Ok(CtlServer {
            clients,
            actors,
            files: [client_file, actor_file],
            actor_endpoint,
            instances,
            relays: Vec::new(),
            next_id: 1,
            passive: BTreeMap::new(),
            log: log.new(slog::o!("part" => "ctl")),
        })
    }

    /// The endpoint the actors connect to.
    pub(crate) fn actor_endpoint(&self) -> &str {
        &self.actor_endpoint
    }

    /// The passivated instances of `actor` while its process is `pid`.
    pub(crate) fn passive(&self, actor: &str, pid: Option<u32>) -> Vec<String> {
        match (self.passive.get(actor), pid) {
            (Some((p, set)), Some(pid)) if *p == pid => set.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Waits up to `wait` for requests and actors' answers; relays passivations and
    /// activations to the actor whose process `pid_of` gives, answers those the actors
    /// confirmed (and marks them on `board`) or did not confirm in time, and returns what the
    /// supervisor must do.
    pub(crate) fn serve(&mut self, wait: Duration, pid_of: &dyn Fn(&str) -> Option<u32>, board: &Board) -> Vec<Order> {
        let now = Instant::now();
        let wait = self.relays.iter().map(|r| r.deadline.saturating_duration_since(now)).fold(wait, Duration::min);
        let mut items = [self.clients.as_poll_item(zmq::POLLIN), self.actors.as_poll_item(zmq::POLLIN)];
        if let Err(e) = zmq::poll(&mut items, i64::try_from(wait.as_millis()).unwrap_or(i64::MAX)) {
            if e != zmq::Error::EINTR {
                warn!(self.log, "cannot poll the control sockets"; "error" => %e);
                std::thread::sleep(wait);
            }
        }
        let mut orders = Vec::new();
        while let Ok(frames) = self.clients.recv_multipart(zmq::DONTWAIT) {
            if let Some(order) = self.request(frames, pid_of) {
                orders.push(order);
            }
        }
        while let Ok(frames) = self.actors.recv_multipart(zmq::DONTWAIT) {
            self.answer(&frames, board);
        }
        let now = Instant::now();
        let (late, waiting): (Vec<Relay>, Vec<Relay>) =
            std::mem::take(&mut self.relays).into_iter().partition(|r| r.deadline <= now);
        self.relays = waiting;
        for relay in late {
            warn!(self.log, "an actor did not confirm a control request"; "actor" => &relay.actor);
            self.reply(&relay.client, Reply::Err(CtlError::ActorDidNotAnswer(relay.actor)));
        }
        orders
    }

    /// Answers the requests still waiting for an actor: the app is stopping.
    pub(crate) fn finish(&mut self) {
        for relay in std::mem::take(&mut self.relays) {
            self.reply(&relay.client, Reply::Err(CtlError::Stopping));
        }
    }

    /// Sends `reply` to `client`.
    pub(crate) fn reply(&self, client: &Client, reply: Reply) {
        let body = match minicbor_serde::to_vec(&reply) {
            Ok(b) => b,
            Err(e) => {
                warn!(self.log, "cannot encode a control reply"; "error" => %e);
                return;
            }
        };
        let mut frames: Vec<&[u8]> = client.0.iter().map(Vec::as_slice).collect();
        frames.push(&body);
        if let Err(e) = self.clients.send_multipart(frames, zmq::DONTWAIT) {
            warn!(self.log, "cannot send a control reply"; "error" => %e);
        }
    }

    /// Takes one request: answers it, relays it, or returns it as an order.
    fn request(&mut self, mut frames: Vec<Vec<u8>>, pid_of: &dyn Fn(&str) -> Option<u32>) -> Option<Order> {
        let body = frames.pop()?;
        let client = Client(frames);
        let request = match minicbor_serde::from_slice::<Request>(&body) {
            Ok(r) if r.version == PROTOCOL_VERSION => r,
            Ok(r) => return self.refuse(&client, CtlError::Version { ours: PROTOCOL_VERSION, theirs: r.version }),
            Err(e) => {
                let error = match minicbor_serde::from_slice::<VersionOnly>(&body) {
                    Ok(v) if v.version != PROTOCOL_VERSION => {
                        CtlError::Version { ours: PROTOCOL_VERSION, theirs: v.version }
                    }
                    _ => CtlError::Malformed(e.to_string()),
                };
                return self.refuse(&client, error);
            }
        };
        info!(self.log, "control request"; "command" => ?request.command);
        match request.command {
            Command::Status => Some(Order::Status(client)),
            Command::Stop => Some(Order::Stop(client)),
            Command::Restart { actor } => match self.known(&actor, None) {
                Ok(()) => Some(Order::Restart(client, actor)),
                Err(e) => self.refuse(&client, e),
            },
            Command::Passivate(target) => self.relay(client, target, true, pid_of),
            Command::Activate(target) => self.relay(client, target, false, pid_of),
        }
    }

    /// Answers `client` with `error`; no order.
    fn refuse(&self, client: &Client, error: CtlError) -> Option<Order> {
        self.reply(client, Reply::Err(error));
        None
    }

    /// Whether the launcher runs `actor`, with `instance` if given.
    fn known(&self, actor: &str, instance: Option<&str>) -> Result<(), CtlError> {
        let Some((_, instances)) = self.instances.iter().find(|(a, _)| a == actor) else {
            return Err(CtlError::UnknownActor {
                actor: actor.to_owned(),
                known: self.instances.iter().map(|(a, _)| a.clone()).collect(),
            });
        };
        match instance {
            Some(i) if !instances.iter().any(|n| n == i) => Err(CtlError::UnknownInstance {
                actor: actor.to_owned(),
                instance: i.to_owned(),
                known: instances.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Relays a passivation or activation to the actor's process.
    fn relay(
        &mut self,
        client: Client,
        target: Target,
        passivate: bool,
        pid_of: &dyn Fn(&str) -> Option<u32>,
    ) -> Option<Order> {
        if let Err(e) = self.known(&target.actor, target.instance.as_deref()) {
            return self.refuse(&client, e);
        }
        let Target { actor, instance } = target;
        let Some(pid) = pid_of(&actor) else {
            return self.refuse(&client, CtlError::NotRunning(actor));
        };
        let id = self.next_id;
        self.next_id += 1;
        let message = LauncherMessage { id, passivate, instance };
        let sent = minicbor_serde::to_vec(&message).map_err(|e| e.to_string()).and_then(|body| {
            let identity = format!("{actor}:{pid}");
            self.actors.send_multipart([identity.as_bytes(), &body], zmq::DONTWAIT).map_err(|e| e.to_string())
        });
        if let Err(e) = sent {
            // EHOSTUNREACH: the actor's process has not connected yet (or has gone).
            info!(self.log, "cannot reach an actor"; "actor" => &actor, "error" => e);
            return self.refuse(&client, CtlError::NotRunning(actor));
        }
        self.relays.push(Relay { id, client, actor, pid, passivate, deadline: Instant::now() + ACTOR_ANSWER });
        None
    }

    /// Takes an actor's answer and replies to the client waiting for it.
    fn answer(&mut self, frames: &[Vec<u8>], board: &Board) {
        let Some(body) = frames.last() else { return };
        let message = match minicbor_serde::from_slice::<ActorMessage>(body) {
            Ok(m) => m,
            Err(e) => {
                warn!(self.log, "an actor's control answer does not decode; dropped"; "error" => %e);
                return;
            }
        };
        let Some(at) = self.relays.iter().position(|r| r.id == message.id) else { return };
        let relay = self.relays.swap_remove(at);
        let reply = match message.result {
            Ok(instances) => {
                let entry = self.passive.entry(relay.actor.clone()).or_insert_with(|| (relay.pid, BTreeSet::new()));
                if entry.0 != relay.pid {
                    *entry = (relay.pid, BTreeSet::new());
                }
                for i in &instances {
                    if relay.passivate {
                        entry.1.insert(i.clone());
                    } else {
                        entry.1.remove(i);
                    }
                }
                board.passivated(&relay.actor, &instances, relay.passivate);
                let instances = instances.into_iter().map(|i| format!("{}.{i}", relay.actor)).collect();
                let what = if relay.passivate { "instances passivated" } else { "instances activated" };
                info!(self.log, "{}", what;
                    "actor" => &relay.actor, "instances" => ?instances);
                Reply::Ok(if relay.passivate { Done::Passivated { instances } } else { Done::Activated { instances } })
            }
            Err(e) => Reply::Err(e),
        };
        self.reply(&relay.client, reply);
    }
}

/// Whether only this user can reach into `dir`: it is ours, with no access for group or others.
/// The control sockets rely on it.
fn private(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let me = unsafe { libc::getuid() };
    if meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the app's runtime directory {} is open to other users (owner uid {}, mode {:o}), who could control \
             the app through it; make it yours with mode 0700 (chmod 700), or remove it",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}
