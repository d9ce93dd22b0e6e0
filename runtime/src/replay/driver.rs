//! How a replay runs: the component's ports on inproc sockets, the replay's own sockets at their
//! other ends ([`Peers`]), and the inputs fed one at a time.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use cohort_model::ast::{self, PortKind as ModelPortKind};
use cohort_model::{describe_ports, PortDescriptor, Scope};
use cohort_ports::wire::{read_header, write_header, Flags, MessageType};
use cohort_ports::{Addressing, Endpoint, Interface, PortFactory, SocketOptions};

use super::{Input, InputEvent, Output, OutputKind, ReplayError};
use crate::context::Identity;
use crate::coordinator::Coordinator;
use crate::executor::{build, Plan};
use crate::hosted::{Components, Maker};
use crate::params::ComponentArgs;
use crate::portset::PortSet;

/// How long a reply may take to reach the component's socket (inproc: at once, unless the
/// machine is very busy).
const DELIVERY: Duration = Duration::from_secs(5);

/// Builds the plan of instance `instance` and replays `inputs` into it.
pub(super) fn run(
    app: &ast::App,
    actor: &str,
    instance: &str,
    args: ComponentArgs,
    components: &Components,
    inputs: &[Input],
    log: &slog::Logger,
) -> Result<Vec<Output>, ReplayError> {
    let unknown = || ReplayError::UnknownInstance { actor: actor.to_owned(), instance: instance.to_owned() };
    let model = app.actor(actor).ok_or_else(unknown)?;
    let found = model.instances.iter().find(|i| i.name.name == instance).ok_or_else(unknown)?;
    let component = app.component(&found.component.name).ok_or_else(unknown)?;
    let entry =
        components.entry(&component.name.name).ok_or_else(|| ReplayError::Unregistered(component.name.name.clone()))?;
    // Every port on inproc: the replay's sockets share the component's ZeroMQ context.
    let mut ports = describe_ports(component, Some(model));
    for port in &mut ports {
        port.scope = Scope::Internal;
    }
    let failed = |e: &dyn std::fmt::Display| ReplayError::Component(e.to_string());
    let ctx = zmq::Context::new();
    let addressing = Addressing::new(&app.name.name, actor, &Interface::Named("lo".into())).map_err(|e| failed(&e))?;
    let factory =
        PortFactory::with_context(ctx.clone(), addressing, SocketOptions::default(), Default::default(), log.clone())
            .map_err(|e| failed(&e))?;
    let mut coordinator =
        Coordinator::start(factory.with_options(SocketOptions::default()), actor, log).map_err(|e| failed(&e))?;
    let group_link = coordinator.attach(instance, log).map_err(|e| failed(&e))?;
    let plan = Plan {
        identity: Identity {
            app: app.name.name.clone(),
            actor: actor.to_owned(),
            instance: instance.to_owned(),
            component: component.name.name.clone(),
        },
        ports,
        scheduler: component.scheduler,
        groups: app.groups.clone(),
        args,
        factory,
        group_link,
        count_calls: false,
        log: log.clone(),
    };
    let outputs = (entry.replay)(plan, inputs);
    coordinator.stop();
    outputs.map_err(ReplayError::Component)
}

/// Replays `inputs` into the component `plan` describes, made by `make`.
pub(crate) fn drive<P: PortSet>(plan: Plan, make: Maker<P>, inputs: &[Input]) -> Result<Vec<Output>, String> {
    let ports = plan.ports.clone();
    let ctx = plan.factory.context().clone();
    let (mut executor, discovered, _) = build(plan, make)?;
    let mut peers = Peers { ctx, feeds: BTreeMap::new(), listeners: Vec::new(), answerers: BTreeMap::new(), seq: 0 };
    for port in &ports {
        match port.kind {
            ModelPortKind::Timer => {}
            ModelPortKind::Sub => {
                let endpoint = peers.feed(port)?;
                executor.connect_for_replay(port.index, &endpoint);
                peers.settle_feed(port.index);
            }
            ModelPortKind::Req | ModelPortKind::Qry => {
                let endpoint = peers.answer(port)?;
                executor.connect_for_replay(port.index, &endpoint);
            }
            ModelPortKind::Pub => {
                let endpoint = discovered
                    .iter()
                    .find(|d| d.port.index == port.index)
                    .and_then(|d| d.endpoint.clone())
                    .ok_or_else(|| format!("pub port {} has no endpoint", port.name))?;
                peers.listen(port, &endpoint)?;
                // The component's PUB takes the new subscription in before it publishes.
                for socket in executor.sockets_for_replay(port.index) {
                    let _ = socket.get_events();
                }
            }
            other => {
                return Err(format!(
                    "port {} is a {} port: a replay feeds sub ports, answers req and qry ports, listens to pub \
                     ports and fires timers",
                    port.name,
                    other.keyword()
                ))
            }
        }
    }
    let by_name: BTreeMap<&str, &PortDescriptor> = ports.iter().map(|p| (p.name.as_str(), p)).collect();
    let start = Instant::now();
    let mut outputs = Vec::new();
    executor.activate_for_replay();
    peers.collect(None, &mut outputs)?;
    for (n, input) in inputs.iter().enumerate() {
        match &input.event {
            InputEvent::Message { port, payload } => {
                let p = by_name.get(port.as_str()).filter(|p| p.kind == ModelPortKind::Sub);
                let p = p.ok_or_else(|| format!("input {n}: {port:?} is not a sub port of the component"))?;
                peers.send_message(p.index, payload)?;
                executor.serve_for_replay(p.index);
            }
            InputEvent::Tick { timer } => {
                if !executor.fire_for_replay(timer, start + input.at) {
                    return Err(format!("input {n}: {timer:?} is not a timer of the component"));
                }
            }
            InputEvent::Reply { port, payload } => {
                let p =
                    by_name.get(port.as_str()).filter(|p| matches!(p.kind, ModelPortKind::Req | ModelPortKind::Qry));
                let p = p.ok_or_else(|| format!("input {n}: {port:?} is not a req or qry port of the component"))?;
                peers.send_reply(p, payload).map_err(|e| format!("input {n}: {e}"))?;
                let sockets = executor.sockets_for_replay(p.index);
                let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
                let waited = zmq::poll(&mut items, i64::try_from(DELIVERY.as_millis()).unwrap_or(i64::MAX));
                if !matches!(waited, Ok(n) if n > 0) {
                    return Err(format!("input {n}: the reply did not reach the component within {DELIVERY:?}"));
                }
                executor.serve_for_replay(p.index);
            }
        }
        peers.collect(Some(n), &mut outputs)?;
    }
    executor.deactivate_for_replay();
    peers.collect(None, &mut outputs)?;
    Ok(outputs)
}

/// The replay's ends of the component's ports.
struct Peers {
    ctx: zmq::Context,
    /// A PUB per `sub` port, by model index, with the message type it carries.
    feeds: BTreeMap<usize, (zmq::Socket, MessageType)>,
    /// A SUB per `pub` port, with the port's name, in model order.
    listeners: Vec<(String, zmq::Socket)>,
    /// A ROUTER per `req` and `qry` port, by model index, with the port's name and the requests
    /// it has not answered (the requester's identity and the request id), oldest first.
    answerers: BTreeMap<usize, Answerer>,
    /// The sequence number of the messages fed.
    seq: u64,
}

struct Answerer {
    name: String,
    socket: zmq::Socket,
    reply: MessageType,
    open: VecDeque<(Vec<u8>, u64)>,
}

fn zmq_error(what: &str) -> impl Fn(zmq::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A unique inproc endpoint of the replay's for port `port`.
fn endpoint_for(port: &PortDescriptor) -> String {
    format!("inproc://cohort-replay/{}/{}", port.index, port.name)
}

impl Peers {
    /// Binds a PUB that feeds `sub` port `port`.
    fn feed(&mut self, port: &PortDescriptor) -> Result<Endpoint, String> {
        let socket = self.ctx.socket(zmq::PUB).map_err(zmq_error("a feed socket"))?;
        let address = endpoint_for(port);
        socket.bind(&address).map_err(zmq_error("binding a feed"))?;
        let message = MessageType::new(port.messages.first().unwrap_or_default());
        self.feeds.insert(port.index, (socket, message));
        Endpoint::parse(&address).map_err(|e| e.to_string())
    }

    /// Has the feed of port `index` take in its subscriber's subscription.
    fn settle_feed(&self, index: usize) {
        if let Some((socket, _)) = self.feeds.get(&index) {
            let _ = socket.get_events();
        }
    }

    /// Binds a ROUTER that answers `req` or `qry` port `port`.
    fn answer(&mut self, port: &PortDescriptor) -> Result<Endpoint, String> {
        let socket = self.ctx.socket(zmq::ROUTER).map_err(zmq_error("an answering socket"))?;
        let address = endpoint_for(port);
        socket.bind(&address).map_err(zmq_error("binding an answerer"))?;
        let reply = MessageType::new(port.messages.reply().unwrap_or_default());
        self.answerers.insert(port.index, Answerer { name: port.name.clone(), socket, reply, open: VecDeque::new() });
        Endpoint::parse(&address).map_err(|e| e.to_string())
    }

    /// Connects a SUB to `pub` port `port`, bound at `endpoint`.
    fn listen(&mut self, port: &PortDescriptor, endpoint: &Endpoint) -> Result<(), String> {
        let socket = self.ctx.socket(zmq::SUB).map_err(zmq_error("a listening socket"))?;
        socket.set_subscribe(b"").map_err(zmq_error("subscribing"))?;
        socket.connect(endpoint.as_str()).map_err(zmq_error("connecting a listener"))?;
        self.listeners.push((port.name.clone(), socket));
        Ok(())
    }

    /// Publishes `payload` to `sub` port `index`.
    fn send_message(&mut self, index: usize, payload: &[u8]) -> Result<(), String> {
        let (socket, message) = self.feeds.get(&index).ok_or("no feed for the port")?;
        self.seq += 1;
        let mut frame = Vec::with_capacity(payload.len() + 32);
        write_header(&mut frame, Flags::empty(), message.id(), self.seq);
        frame.extend_from_slice(payload);
        socket.send(frame, 0).map_err(zmq_error("feeding a message"))
    }

    /// Answers the oldest open request of `req` or `qry` port `port` with `payload`.
    fn send_reply(&mut self, port: &PortDescriptor, payload: &[u8]) -> Result<(), String> {
        let answerer = self.answerers.get_mut(&port.index).ok_or("no answerer for the port")?;
        let (identity, id) =
            answerer.open.pop_front().ok_or_else(|| format!("no request on port {} waits for a reply", port.name))?;
        let mut frame = Vec::with_capacity(payload.len() + 32);
        write_header(&mut frame, Flags::FINAL, answerer.reply.id(), id);
        frame.extend_from_slice(payload);
        answerer.socket.send_multipart([identity, frame], 0).map_err(zmq_error("replying"))
    }

    /// Takes in what the component sent since the last time, as outputs of input `after`:
    /// publications in port order, then requests in port order.
    fn collect(&mut self, after: Option<usize>, outputs: &mut Vec<Output>) -> Result<(), String> {
        for (port, socket) in &self.listeners {
            while let Ok(frame) = socket.recv_bytes(zmq::DONTWAIT) {
                let (_, payload) = read_header(&frame).map_err(|e| format!("a frame from {port}: {e}"))?;
                outputs.push(Output {
                    after,
                    port: port.clone(),
                    kind: OutputKind::Published,
                    payload: payload.to_vec(),
                });
            }
        }
        for answerer in self.answerers.values_mut() {
            while let Ok(frames) = answerer.socket.recv_multipart(zmq::DONTWAIT) {
                let [identity, frame] = <[Vec<u8>; 2]>::try_from(frames).map_err(|f| format!("{} frames", f.len()))?;
                let (header, payload) =
                    read_header(&frame).map_err(|e| format!("a request on {}: {e}", answerer.name))?;
                outputs.push(Output {
                    after,
                    port: answerer.name.clone(),
                    kind: OutputKind::Request,
                    payload: payload.to_vec(),
                });
                answerer.open.push_back((identity, header.seq));
            }
        }
        Ok(())
    }
}
