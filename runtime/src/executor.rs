//! A component instance's thread: builds its ports, runs its handlers as their ports become
//! ready or its timers fire, and obeys the actor's control messages.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use cohort_model::ast;
use cohort_ports::{Endpoint, Port, PortFactory, PortKind, PortSpec, Scope};
use slog::{debug, error, warn};

use crate::component::{Binding, HandlerResult, Input};
use crate::context::{Context, Identity, PortSlot};
use crate::control::{self, FromComponent, Provided, ToComponent, Wanted};
use crate::group::GroupName;
use crate::hosted::{Components, Hosted};
use crate::params::ComponentArgs;
use crate::timers::TimerSet;

/// Everything a component thread needs to start.
pub(crate) struct Plan {
    pub(crate) identity: Identity,
    pub(crate) component: ast::Component,
    /// The hosting actor's `local` and `internal` message lists.
    pub(crate) locals: Vec<String>,
    pub(crate) internals: Vec<String>,
    /// The model's group types.
    pub(crate) groups: Vec<ast::Group>,
    pub(crate) args: ComponentArgs,
    pub(crate) factory: PortFactory,
    pub(crate) components: Components,
    pub(crate) log: slog::Logger,
}

/// The order in which ready ports are served (the model's `scheduler` clause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheduler {
    /// Every ready port of one poll, in port order.
    Default,
    /// Only the first ready port in port order, then poll again.
    Priority,
    /// Every ready port, starting after the one served first last time.
    RoundRobin,
}

/// One input of the component: a bound handler and its port.
struct Input_ {
    port: String,
    handler: usize,
    deadline: Option<Duration>,
}

fn messages_of(port: &ast::Port) -> (Option<String>, Option<String>) {
    match &port.messages {
        ast::PortMessages::None => (None, None),
        ast::PortMessages::One(m) => (Some(m.name.clone()), None),
        ast::PortMessages::Pair { request, reply, .. } => {
            (request.as_ref().map(|m| m.name.clone()), reply.as_ref().map(|m| m.name.clone()))
        }
    }
}

/// The name discovery matches a port's messages by: `M`, or `Q#A` for duplex ports.
fn discovery_messages(port: &ast::Port) -> String {
    match messages_of(port) {
        (Some(q), Some(a)) => format!("{q}#{a}"),
        (Some(m), None) => m,
        _ => String::new(),
    }
}

/// Whether a handler binding fits a model port; the reason if not.
fn check_binding(binding: &Binding, port: &ast::Port) -> Result<(), String> {
    let keyword = port.kind.keyword();
    let kind_ok = binding.kind.split('|').any(|k| k == keyword);
    if !kind_ok {
        return Err(format!("port {:?} is a {keyword} port, but its handler is for {}", binding.port, binding.kind));
    }
    let (request, reply) = messages_of(port);
    let expected: Vec<String> = match port.kind {
        ast::PortKind::Sub | ast::PortKind::Ans => request.into_iter().collect(),
        ast::PortKind::Rep | ast::PortKind::Srv => request.into_iter().chain(reply).collect(),
        ast::PortKind::Req | ast::PortKind::Qry => reply.into_iter().collect(),
        _ => Vec::new(),
    };
    let given: Vec<String> = binding.messages.iter().map(|m| (*m).to_owned()).collect();
    if !binding.messages.is_empty() && given != expected {
        return Err(format!(
            "port {:?} carries {}, but its handler takes {}",
            binding.port,
            expected.join(" and "),
            given.join(" and ")
        ));
    }
    Ok(())
}

fn is_input(kind: ast::PortKind) -> bool {
    !matches!(kind, ast::PortKind::Pub | ast::PortKind::Clt)
}

/// A built component, ready to run.
pub(crate) struct Executor {
    ctx: Context,
    hosted: Box<dyn Hosted>,
    inputs: Vec<Input_>,
    timer_handlers: BTreeMap<String, usize>,
    scheduler: Scheduler,
    next_first: usize,
    active: bool,
}

/// Builds the component of `plan`: its ports, its value, its handler bindings checked against
/// the model. Returns the ports discovery must know about.
pub(crate) fn build(plan: Plan) -> Result<(Executor, Vec<Provided>, Vec<Wanted>), String> {
    let Plan { identity, component, locals, internals, groups, args, factory, components, log } = plan;
    let mut ports = BTreeMap::new();
    let mut timers = TimerSet::new();
    let mut timer_deadlines = BTreeMap::new();
    let mut provides = Vec::new();
    let mut wants = Vec::new();
    for port in &component.ports {
        let name = port.name.name.clone();
        let deadline =
            port.deadline.as_ref().map(|d| Duration::from_millis(d.millis(ast::TimeUnit::Msec).max(0) as u64));
        if port.kind == ast::PortKind::Timer {
            timers.add_port(port).map_err(|e| e.to_string())?;
            if let Some(d) = deadline {
                timer_deadlines.insert(name, d);
            }
            continue;
        }
        let (request, _) = messages_of(port);
        let scope = request.as_deref().map_or(Scope::Internal, |m| {
            Scope::of_message(m, locals.iter().map(String::as_str), internals.iter().map(String::as_str))
        });
        let Some(spec) = PortSpec::from_model(&identity.instance, port, scope) else {
            continue;
        };
        let opened = factory.open(&spec).map_err(|e| format!("cannot open port {name:?}: {e}"))?;
        let wire_scope = cohort_discovery::protocol::WireScope::from(scope);
        if let Some(endpoint) = opened.endpoint() {
            if spec.kind != PortKind::Ins {
                provides.push(Provided {
                    port: name.clone(),
                    kind: spec.kind.name().to_owned(),
                    messages: discovery_messages(port),
                    scope: wire_scope,
                    endpoint: endpoint.as_str().to_owned(),
                });
            }
        } else if spec.kind.provider().is_some() {
            wants.push(Wanted {
                port: name.clone(),
                kind: spec.kind.name().to_owned(),
                messages: discovery_messages(port),
                scope: wire_scope,
            });
        }
        ports.insert(name, PortSlot { port: opened, message: request, deadline });
    }
    let group_types = groups.into_iter().map(|g| (g.name.name.clone(), g)).collect();
    let mut ctx = Context {
        identity,
        log,
        ports,
        timers,
        timer_deadlines,
        factory,
        group_types,
        groups: BTreeMap::new(),
        outbox: Vec::new(),
    };
    let maker = components.maker(&component.name.name).ok_or_else(|| {
        let known: Vec<&str> = components.names().collect();
        format!(
            "no implementation of component type {} is registered (registered: {})",
            component.name.name,
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )
    })?;
    let hosted = catch_unwind(AssertUnwindSafe(|| maker(&args, &mut ctx)))
        .map_err(|_| format!("{}::new panicked", component.name.name))?
        .map_err(|e| format!("{}::new failed: {e}", component.name.name))?;

    let mut inputs = Vec::new();
    let mut timer_handlers = BTreeMap::new();
    let bindings = hosted.bindings();
    for (index, binding) in bindings.iter().enumerate() {
        let port = component.ports.iter().find(|p| p.name.name == binding.port).ok_or_else(|| {
            let names: Vec<&str> = component.ports.iter().map(|p| p.name.name.as_str()).collect();
            format!(
                "component {} binds a handler to port {:?}, which the model does not declare (ports: {})",
                component.name.name,
                binding.port,
                names.join(", ")
            )
        })?;
        check_binding(binding, port).map_err(|why| format!("component {}: {why}", component.name.name))?;
        if port.kind == ast::PortKind::Timer {
            timer_handlers.insert(binding.port.clone(), index);
        } else {
            let deadline = ctx.ports.get(&binding.port).and_then(|s| s.deadline);
            inputs.push(Input_ { port: binding.port.clone(), handler: index, deadline });
        }
    }
    for port in component.ports.iter().filter(|p| is_input(p.kind)) {
        if !bindings.iter().any(|b| b.port == port.name.name) {
            return Err(format!(
                "component {} has no handler for its {} port {:?}; bind one in Component::handlers",
                component.name.name,
                port.kind.keyword(),
                port.name.name
            ));
        }
    }
    // Serve inputs in the model's port order.
    let order: Vec<&str> = component.ports.iter().map(|p| p.name.name.as_str()).collect();
    inputs.sort_by_key(|i| order.iter().position(|n| *n == i.port));
    let scheduler = match component.scheduler {
        ast::ComponentScheduler::Priority => Scheduler::Priority,
        ast::ComponentScheduler::RoundRobin => Scheduler::RoundRobin,
        _ => Scheduler::Default,
    };
    let executor = Executor { ctx, hosted, inputs, timer_handlers, scheduler, next_first: 0, active: false };
    Ok((executor, provides, wants))
}

impl Executor {
    /// Runs a handler, catching panics and measuring it against its deadline.
    fn run_handler(&mut self, port: &str, index: usize, input: Input, deadline: Option<Duration>) {
        self.guarded(port, deadline, |hosted, ctx| hosted.dispatch(ctx, index, input));
    }

    /// Runs `handler` (labelled `port` in logs), catching panics and measuring it against its
    /// deadline.
    fn guarded(
        &mut self,
        port: &str,
        deadline: Option<Duration>,
        handler: impl FnOnce(&mut dyn Hosted, &mut Context) -> HandlerResult,
    ) {
        let started = Instant::now();
        let ctx = &mut self.ctx;
        let hosted = &mut *self.hosted;
        let outcome: Result<HandlerResult, _> = catch_unwind(AssertUnwindSafe(|| handler(hosted, ctx)));
        let took = started.elapsed();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(self.ctx.log, "handler failed"; "port" => port, "error" => %e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a non-text panic".to_owned());
                error!(self.ctx.log, "handler panicked; the component goes on"; "port" => port, "panic" => what);
            }
        }
        if let Some(deadline) = deadline {
            if took > deadline {
                warn!(self.ctx.log, "handler overran its deadline"; "port" => port,
                    "took_us" => took.as_micros() as u64, "deadline_us" => deadline.as_micros() as u64);
                let ctx = &mut self.ctx;
                let hosted = &mut self.hosted;
                let _ = catch_unwind(AssertUnwindSafe(|| hosted.deadline_missed(ctx, port, took, deadline)));
            }
        }
    }

    fn lifecycle(&mut self, what: &str, f: fn(&mut dyn Hosted, &mut Context) -> HandlerResult) {
        let ctx = &mut self.ctx;
        let hosted = &mut *self.hosted;
        match catch_unwind(AssertUnwindSafe(|| f(hosted, ctx))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(self.ctx.log, "lifecycle handler failed"; "handler" => what, "error" => %e),
            Err(_) => error!(self.ctx.log, "lifecycle handler panicked"; "handler" => what),
        }
    }

    /// When the component must be woken even if no socket is readable.
    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = if self.active { self.ctx.timers.next_deadline() } else { None };
        for group in self.ctx.groups.values() {
            let d = group.next_deadline();
            next = Some(next.map_or(d, |n| n.min(d)));
        }
        for slot in self.ctx.ports.values_mut() {
            let d = match &mut slot.port {
                Port::Req(p) => p.next_deadline(),
                Port::Qry(p) => p.next_deadline(),
                _ => None,
            };
            next = match (next, d) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    fn apply_update(&mut self, port: &str, added: &[String], removed: &[String]) {
        if port.starts_with("group:") {
            self.apply_group_update(port, added, removed);
            return;
        }
        let Some(slot) = self.ctx.ports.get_mut(port) else {
            return;
        };
        for (text, add) in added.iter().map(|e| (e, true)).chain(removed.iter().map(|e| (e, false))) {
            let Ok(endpoint) = Endpoint::parse(text) else {
                warn!(self.ctx.log, "ignored an invalid endpoint from discovery"; "endpoint" => text);
                continue;
            };
            let result = if add { slot.port.add_endpoint(&endpoint) } else { slot.port.remove_endpoint(&endpoint) };
            match result {
                Ok(_) => {
                    debug!(self.ctx.log, "discovery update applied"; "port" => port, "endpoint" => text, "added" => add)
                }
                Err(e) => warn!(self.ctx.log, "cannot apply a discovery update"; "port" => port, "error" => %e),
            }
        }
    }

    /// Connects (disconnects) a joined group's subscriber to (from) other members' publishers.
    fn apply_group_update(&mut self, port: &str, added: &[String], removed: &[String]) {
        let Some(group) = self.ctx.groups.values_mut().find(|g| g.name().port() == port) else {
            return; // left since
        };
        for (text, add) in added.iter().map(|e| (e, true)).chain(removed.iter().map(|e| (e, false))) {
            let Ok(endpoint) = Endpoint::parse(text) else {
                warn!(self.ctx.log, "ignored an invalid endpoint from discovery"; "endpoint" => text);
                continue;
            };
            let result = if add { group.member.add_peer(&endpoint) } else { group.member.remove_peer(&endpoint) };
            if let Err(e) = result {
                warn!(self.ctx.log, "cannot apply a group discovery update"; "group" => port, "error" => %e);
            }
        }
    }

    /// Serves every joined group and hands their events to the component.
    fn serve_groups(&mut self) {
        let names: Vec<GroupName> = self.ctx.groups.keys().cloned().collect();
        for name in names {
            let Some(group) = self.ctx.groups.get_mut(&name) else { continue };
            let events = group.poll(Instant::now());
            let label = name.port();
            for event in events {
                self.guarded(&label, None, |hosted, ctx| hosted.group(ctx, &name, event));
            }
        }
    }

    /// Sends what handlers asked of the actor.
    fn flush(&mut self, control: &zmq::Socket) {
        for message in self.ctx.outbox.drain(..) {
            control::send(control, &message);
        }
    }

    /// Serves the component until the actor says stop (or the actor's end of the channel goes).
    pub(crate) fn run(mut self, control: &zmq::Socket) {
        self.flush(control);
        loop {
            let now = Instant::now();
            let timeout = self
                .next_deadline()
                .map_or(-1, |d| i64::try_from(d.saturating_duration_since(now).as_millis() + 1).unwrap_or(i64::MAX));
            let (ready, control_ready) = {
                let mut owners = Vec::new();
                let mut items = vec![control.as_poll_item(zmq::POLLIN)];
                for group in self.ctx.groups.values() {
                    items.extend(group.member.sockets().into_iter().map(|s| s.as_poll_item(zmq::POLLIN)));
                }
                let group_items = items.len() - 1;
                if self.active {
                    for (i, input) in self.inputs.iter().enumerate() {
                        if let Some(slot) = self.ctx.ports.get(&input.port) {
                            for socket in sockets(&slot.port) {
                                items.push(socket.as_poll_item(zmq::POLLIN));
                                owners.push(i);
                            }
                        }
                    }
                }
                match zmq::poll(&mut items, timeout) {
                    Ok(_) | Err(zmq::Error::EINTR) => {}
                    Err(e) => {
                        error!(self.ctx.log, "poll failed; the component stops"; "error" => %e);
                        return;
                    }
                }
                let mut ready: Vec<usize> = items[1 + group_items..]
                    .iter()
                    .zip(&owners)
                    .filter(|(item, _)| item.is_readable())
                    .map(|(_, i)| *i)
                    .collect();
                ready.dedup();
                (ready, items[0].is_readable())
            };
            if control_ready {
                while let Some(message) = control::try_recv::<ToComponent>(control) {
                    match message {
                        ToComponent::Activate => {
                            if !self.active {
                                self.ctx.timers.launch_all_periodic(Instant::now());
                                self.active = true;
                                self.lifecycle("on_activate", |h, c| h.activate(c));
                            }
                        }
                        ToComponent::Passivate => {
                            self.active = false;
                            self.lifecycle("on_passivate", |h, c| h.passivate(c));
                        }
                        ToComponent::Stop => {
                            self.lifecycle("on_deactivate", |h, c| h.deactivate(c));
                            for (_, group) in std::mem::take(&mut self.ctx.groups) {
                                group.member.leave();
                            }
                            return;
                        }
                        ToComponent::Update { port, added, removed } => self.apply_update(&port, &added, &removed),
                    }
                }
            }
            // Groups keep their heartbeats and elections going while the component is passive.
            self.serve_groups();
            self.flush(control);
            if !self.active {
                continue;
            }
            for tick in self.ctx.timers.fire_due(Instant::now()) {
                let Some(&index) = self.timer_handlers.get(&*tick.name) else {
                    continue;
                };
                let deadline = self.ctx.timer_deadlines.get(&*tick.name).copied();
                let name = tick.name.to_string();
                self.run_handler(&name, index, Input::Tick(tick), deadline);
            }
            // Requests whose deadline passed end through their port's handler too.
            let due = Instant::now();
            let mut expired = Vec::new();
            for (i, input) in self.inputs.iter().enumerate() {
                if let Some(slot) = self.ctx.ports.get_mut(&input.port) {
                    let d = match &mut slot.port {
                        Port::Req(p) => p.next_deadline(),
                        Port::Qry(p) => p.next_deadline(),
                        _ => None,
                    };
                    if d.is_some_and(|d| d <= due) && !ready.contains(&i) {
                        expired.push(i);
                    }
                }
            }
            let mut order: Vec<usize> = ready.into_iter().chain(expired).collect();
            order.sort_unstable();
            match self.scheduler {
                Scheduler::Default => {}
                Scheduler::Priority => order.truncate(1),
                Scheduler::RoundRobin => {
                    let split = order.iter().position(|&i| i >= self.next_first).unwrap_or(0);
                    order.rotate_left(split);
                    if let Some(&first) = order.first() {
                        self.next_first = first + 1;
                    }
                }
            }
            for i in order {
                let (port, handler, deadline) = {
                    let input = &self.inputs[i];
                    (input.port.clone(), input.handler, input.deadline)
                };
                self.run_handler(&port, handler, Input::Readable, deadline);
            }
            self.flush(control);
        }
    }
}

/// The sockets of a port that carry its input.
fn sockets(port: &Port) -> Vec<&zmq::Socket> {
    match port {
        Port::Sub(p) => vec![p.socket()],
        Port::Reply(p) => vec![p.socket()],
        Port::Hub(p) => vec![p.socket()],
        Port::Req(p) => p.sockets().collect(),
        Port::Qry(p) => p.sockets().collect(),
        Port::Spoke(p) => vec![p.socket()],
        Port::Pub(_) | Port::Clt(_) => Vec::new(),
    }
}

/// Runs a component thread: builds the component, reports to the actor, serves it.
pub(crate) fn thread_main(plan: Plan, control: zmq::Socket) {
    let log = plan.log.clone();
    match build(plan) {
        Ok((executor, provides, wants)) => {
            control::send(&control, &FromComponent::Ready { provides, wants });
            executor.run(&control);
        }
        Err(why) => {
            error!(log, "the component cannot start"; "error" => &why);
            control::send(&control, &FromComponent::Failed(why));
        }
    }
    control::send(&control, &FromComponent::Stopped);
}
