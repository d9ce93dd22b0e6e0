//! A component instance's thread: builds its ports, runs its handlers as their ports become
//! ready or its timers fire, and obeys the actor's control messages.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohort_model::ast::{self, PortKind as ModelPortKind};
use cohort_model::PortDescriptor;
use cohort_ports::{Endpoint, Port, PortFactory, PortKind, PortSpec};
use slog::{debug, error, warn};

use crate::component::HandlerResult;
use crate::context::{Context, Identity};
use crate::control::{ComponentEnd, DiscoveredPort, FromComponent, ToComponent};
use crate::coordinator::GroupLink;
use crate::hosted::{Hosted, Maker};
use crate::metrics::{CallOutcome, HandlerProbe, HandlerStats, InstanceProbe, PortProbe};
use crate::params::ComponentArgs;
use crate::portset::{OpenedPorts, PortSet};
use crate::timers::TimerSet;

/// Everything a component thread needs to start.
pub(crate) struct Plan {
    pub(crate) identity: Identity,
    /// The instance's ports, in model order.
    pub(crate) ports: Vec<PortDescriptor>,
    /// The component's `scheduler` clause.
    pub(crate) scheduler: ast::ComponentScheduler,
    /// The model's group types.
    pub(crate) groups: Vec<ast::Group>,
    pub(crate) args: ComponentArgs,
    pub(crate) factory: PortFactory,
    /// The component's link to the actor's group coordination thread.
    pub(crate) group_link: GroupLink,
    /// Whether handlers' calls are counted: the actor reports them to a launcher.
    pub(crate) count_calls: bool,
    pub(crate) log: slog::Logger,
}

/// Group events handed to handlers in one turn at most, so a flood of group messages cannot
/// starve the component's ports (the rest come in the next turn, which does not wait).
const GROUP_EVENT_BATCH: usize = 256;

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

/// A port whose handler the executor calls: an input port, or a timer.
struct Handled {
    /// The port's model index.
    index: usize,
    /// Its name, for logs (shared, so a handler call does not copy it).
    name: Rc<str>,
    /// Its handler's `within` deadline.
    deadline: Option<Duration>,
    /// Its handler's counters.
    stats: Arc<HandlerStats>,
}

/// How a handler call went.
#[derive(Debug, Clone, Copy)]
struct Call {
    /// How long the handler took; zero when nothing needed it (no deadline, no metrics).
    took: Duration,
    outcome: CallOutcome,
    /// It overran its deadline.
    missed: bool,
}

impl Call {
    /// Counts the call in `stats` if `counting`.
    #[inline]
    fn count(self, counting: bool, stats: &HandlerStats) {
        if counting {
            stats.record(self.took, self.outcome, self.missed);
        }
    }
}

/// A built component, ready to run.
pub(crate) struct Executor<P> {
    ctx: Context<P>,
    hosted: Box<dyn Hosted<P>>,
    /// The input ports (not timers), in model order.
    inputs: Vec<Handled>,
    /// The timer ports, by [`crate::timers::TimerId`] index.
    timers: Vec<Handled>,
    scheduler: Scheduler,
    next_first: usize,
    active: bool,
    /// Group events are left over from the last turn's batch.
    groups_pending: bool,
    /// The counters of `on_group`.
    group_stats: Arc<HandlerStats>,
    /// Whether handlers' calls are counted.
    count_calls: bool,
}

/// Opens the ports of `plan`, makes the component with `make`. Returns the ports discovery
/// must know about, and the counters of the ports and handlers.
pub(crate) fn build<P: PortSet>(
    plan: Plan,
    make: Maker<P>,
) -> Result<(Executor<P>, Vec<DiscoveredPort>, InstanceProbe), String> {
    let Plan { identity, ports, scheduler, groups, args, factory, group_link, count_calls, log } = plan;
    let mut opened: Vec<Option<(PortDescriptor, Port)>> =
        (0..ports.iter().map(|p| p.index + 1).max().unwrap_or(0)).map(|_| None).collect();
    let mut timers = TimerSet::new();
    let mut timer_ports = Vec::new();
    let mut inputs = Vec::new();
    let mut discovered = Vec::new();
    let mut probe = InstanceProbe::default();
    for port in &ports {
        let stats = Arc::new(HandlerStats::default());
        let handled = Handled { index: port.index, name: Rc::from(port.name.as_str()), deadline: port.deadline, stats };
        if port.kind == ModelPortKind::Timer {
            timers.add_port(port).map_err(|e| e.to_string())?;
            timer_ports.push(handled);
            continue;
        }
        if port.is_input() {
            inputs.push(handled);
        }
        let Some(spec) = PortSpec::from_descriptor(&identity.instance, port) else { continue };
        let socket = factory.open(&spec).map_err(|e| format!("cannot open port {:?}: {e}", port.name))?;
        probe.ports.push(PortProbe { name: port.name.clone(), kind: port.kind, stats: Arc::clone(socket.stats()) });
        if spec.kind != PortKind::Ins {
            let endpoint = socket.endpoint().cloned();
            if endpoint.is_some() || spec.kind.provider().is_some() {
                discovered.push(DiscoveredPort { port: port.clone(), kind: spec.kind, endpoint });
            }
        }
        if let Some(slot) = opened.get_mut(port.index) {
            *slot = Some((port.clone(), socket));
        }
    }
    let typed_ports = P::from_opened(&mut OpenedPorts::new(&identity.component, opened)).map_err(|e| e.to_string())?;
    let mut ctx = Context {
        ports: typed_ports,
        identity,
        log,
        timers,
        group_link,
        group_types: groups.into_iter().map(|g| (g.name.name.clone(), g)).collect(),
        groups: BTreeMap::new(),
        outbox: Vec::new(),
    };
    let component = ctx.identity.component.clone();
    let hosted = catch_unwind(AssertUnwindSafe(|| make(&args, &mut ctx, &ports)))
        .map_err(|_| format!("{component}::new panicked"))??;
    let scheduler = match scheduler {
        ast::ComponentScheduler::Priority => Scheduler::Priority,
        ast::ComponentScheduler::RoundRobin => Scheduler::RoundRobin,
        ast::ComponentScheduler::Default => Scheduler::Default,
    };
    // Handlers in model order (inputs and timers), then `on_group`.
    let mut handled: Vec<&Handled> = inputs.iter().chain(&timer_ports).collect();
    handled.sort_by_key(|h| h.index);
    probe.handlers =
        handled.iter().map(|h| HandlerProbe { port: h.name.to_string(), stats: Arc::clone(&h.stats) }).collect();
    let group_stats = Arc::new(HandlerStats::default());
    if !ctx.group_types.is_empty() {
        probe.handlers.push(HandlerProbe { port: "on_group".to_owned(), stats: Arc::clone(&group_stats) });
    }
    let executor = Executor {
        ctx,
        hosted,
        inputs,
        timers: timer_ports,
        scheduler,
        next_first: 0,
        active: false,
        groups_pending: false,
        group_stats,
        count_calls,
    };
    Ok((executor, discovered, probe))
}

impl<P: PortSet> Executor<P> {
    /// Runs `handler` (labelled `port` in logs), catching panics and measuring it against its
    /// deadline; says how it went, for the handler's counters.
    fn guarded(
        &mut self,
        port: &str,
        deadline: Option<Duration>,
        handler: impl FnOnce(&mut dyn Hosted<P>, &mut Context<P>) -> HandlerResult,
    ) -> Call {
        // The clock is read only for a deadline or the metrics: twice per call, it is a
        // noticeable part of a short handler's cost.
        let started = (deadline.is_some() || self.count_calls).then(Instant::now);
        let ctx = &mut self.ctx;
        let hosted = &mut *self.hosted;
        let outcome: Result<HandlerResult, _> = catch_unwind(AssertUnwindSafe(|| handler(hosted, ctx)));
        let took = started.map_or(Duration::ZERO, |started| started.elapsed());
        let mut call = Call { took, outcome: CallOutcome::Done, missed: false };
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                call.outcome = CallOutcome::Failed;
                error!(self.ctx.log, "handler failed"; "port" => port, "error" => %e);
            }
            Err(panic) => {
                call.outcome = CallOutcome::Panicked;
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
                call.missed = true;
                warn!(self.ctx.log, "handler overran its deadline"; "port" => port,
                    "took_us" => took.as_micros() as u64, "deadline_us" => deadline.as_micros() as u64);
                let ctx = &mut self.ctx;
                let hosted = &mut self.hosted;
                let _ = catch_unwind(AssertUnwindSafe(|| hosted.deadline_missed(ctx, port, took, deadline)));
            }
        }
        call
    }

    fn lifecycle(&mut self, what: &str, f: fn(&mut dyn Hosted<P>, &mut Context<P>) -> HandlerResult) {
        let ctx = &mut self.ctx;
        let hosted = &mut *self.hosted;
        match catch_unwind(AssertUnwindSafe(|| f(hosted, ctx))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(self.ctx.log, "lifecycle handler failed"; "handler" => what, "error" => %e),
            Err(_) => error!(self.ctx.log, "lifecycle handler panicked"; "handler" => what),
        }
    }

    /// When the request or query port at `index` must be served even if nothing arrives (its
    /// oldest request times out).
    fn request_deadline(&mut self, index: usize) -> Option<Instant> {
        match self.ctx.ports.port_mut(index)? {
            Port::Req(p) => p.next_deadline(),
            Port::Qry(p) => p.next_deadline(),
            _ => None,
        }
    }

    /// When the component must be woken even if no socket is readable.
    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = if self.active { self.ctx.timers.next_deadline() } else { None };
        for i in 0..self.inputs.len() {
            let index = self.inputs[i].index;
            next = match (next, self.request_deadline(index)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    fn apply_update(&mut self, index: usize, added: &[Endpoint], removed: &[Endpoint]) {
        let changes = added.iter().map(|e| (e, true)).chain(removed.iter().map(|e| (e, false)));
        let Some(port) = self.ctx.ports.port_mut(index) else { return };
        for (endpoint, add) in changes {
            let result = if add { port.add_endpoint(endpoint) } else { port.remove_endpoint(endpoint) };
            match result {
                Ok(_) => debug!(self.ctx.log, "discovery update applied";
                    "port" => index, "endpoint" => %endpoint, "added" => add),
                Err(e) => warn!(self.ctx.log, "cannot apply a discovery update"; "port" => index, "error" => %e),
            }
        }
    }

    /// Hands the events the coordination thread sent to the component's `on_group`. Events of
    /// a group the component has left since (or left and joined again) are dropped.
    fn serve_groups(&mut self) {
        self.ctx.group_link.clear_wakeups();
        for _ in 0..GROUP_EVENT_BATCH {
            let Some(delivery) = self.ctx.group_link.try_next() else {
                self.groups_pending = false;
                return;
            };
            let Some(group) = self.ctx.groups.get(&*delivery.group) else { continue };
            if group.id() != delivery.member {
                continue;
            }
            let label = Arc::clone(group.label());
            let (name, event) = (delivery.group, delivery.event);
            self.guarded(&label, None, |hosted, ctx| hosted.group(ctx, &name, event))
                .count(self.count_calls, &self.group_stats);
        }
        self.groups_pending = true;
    }

    /// Sends what handlers asked of the actor.
    fn flush(&mut self, control: &ComponentEnd) {
        for message in self.ctx.outbox.drain(..) {
            control.send(message);
        }
    }

    /// Waits until a socket is readable or the next deadline; returns the ready inputs (by their
    /// position in `inputs`), or `None` if polling failed.
    fn wait(&mut self, control: &ComponentEnd) -> Option<Vec<usize>> {
        let now = Instant::now();
        let timeout = if self.groups_pending {
            // Group events are waiting: only look at what else is ready.
            0
        } else {
            self.next_deadline()
                .map_or(-1, |d| i64::try_from(d.saturating_duration_since(now).as_millis() + 1).unwrap_or(i64::MAX))
        };
        let mut owners = Vec::new();
        let group_events = self.ctx.group_link.socket();
        let mut items = vec![control.socket().as_poll_item(zmq::POLLIN), group_events.as_poll_item(zmq::POLLIN)];
        let first_input = items.len();
        if self.active {
            for (i, input) in self.inputs.iter().enumerate() {
                if let Some(port) = self.ctx.ports.port(input.index) {
                    for socket in sockets(port) {
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
                return None;
            }
        }
        let mut ready: Vec<usize> =
            items[first_input..].iter().zip(&owners).filter(|(item, _)| item.is_readable()).map(|(_, i)| *i).collect();
        ready.dedup();
        Some(ready)
    }

    /// Obeys the actor's control messages; false once told to stop.
    fn obey(&mut self, control: &ComponentEnd) -> bool {
        while let Some(message) = control.try_recv() {
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
                        group.leave();
                    }
                    return false;
                }
                ToComponent::Update { port, added, removed } => self.apply_update(port, &added, &removed),
                ToComponent::Nic(state) => {
                    self.guarded("on_nic_state", None, |h, c| h.nic_state(c, state));
                }
                ToComponent::Peer(peer, state) => {
                    self.guarded("on_peer_state", None, |h, c| h.peer_state(c, &peer, state));
                }
                ToComponent::Limit(limit) => {
                    self.guarded("on_limit", None, |h, c| h.limit(c, limit));
                }
            }
        }
        true
    }

    /// Calls the handlers of the timers that are due.
    fn fire_timers(&mut self) {
        for tick in self.ctx.timers.fire_due(Instant::now()) {
            let slot = tick.timer.index();
            let Some(timer) = self.timers.get(slot) else { continue };
            let (index, name, deadline) = (timer.index, Rc::clone(&timer.name), timer.deadline);
            let call = self.guarded(&name, deadline, |hosted, ctx| hosted.tick(ctx, index, tick));
            if let Some(timer) = self.timers.get(slot) {
                call.count(self.count_calls, &timer.stats);
            }
        }
    }

    /// Serves the ready inputs, and those whose oldest request timed out, in the scheduler's
    /// order.
    fn serve_inputs(&mut self, ready: Vec<usize>) {
        let due = Instant::now();
        let mut expired = Vec::new();
        for i in 0..self.inputs.len() {
            let index = self.inputs[i].index;
            if !ready.contains(&i) && self.request_deadline(index).is_some_and(|d| d <= due) {
                expired.push(i);
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
            let input = &self.inputs[i];
            let (index, name, deadline) = (input.index, Rc::clone(&input.name), input.deadline);
            self.guarded(&name, deadline, |hosted, ctx| hosted.serve(ctx, index))
                .count(self.count_calls, &self.inputs[i].stats);
        }
    }

    /// (Replay.) Calls `on_activate`, without starting the periodic timers: the replay fires them.
    pub(crate) fn activate_for_replay(&mut self) {
        self.active = true;
        self.lifecycle("on_activate", |h, c| h.activate(c));
    }

    /// (Replay.) Calls `on_deactivate`.
    pub(crate) fn deactivate_for_replay(&mut self) {
        self.lifecycle("on_deactivate", |h, c| h.deactivate(c));
    }

    /// (Replay.) Calls the handler of the input port of model index `index` (which drains it).
    pub(crate) fn serve_for_replay(&mut self, index: usize) {
        let Some(input) = self.inputs.iter().find(|i| i.index == index) else { return };
        let (name, deadline) = (Rc::clone(&input.name), input.deadline);
        self.guarded(&name, deadline, |hosted, ctx| hosted.serve(ctx, index));
    }

    /// (Replay.) Fires timer `name` as if it had been due and fired at `at`; false if the
    /// component has no such timer.
    pub(crate) fn fire_for_replay(&mut self, name: &str, at: Instant) -> bool {
        let Some(slot) = self.timers.iter().position(|t| &*t.name == name) else { return false };
        let (index, label, deadline) =
            (self.timers[slot].index, Rc::clone(&self.timers[slot].name), self.timers[slot].deadline);
        let tick = crate::timers::Tick {
            timer: crate::timers::TimerId::at(slot),
            name: Arc::from(name),
            scheduled: at,
            fired: at,
            missed: 0,
        };
        self.guarded(&label, deadline, |hosted, ctx| hosted.tick(ctx, index, tick));
        true
    }

    /// (Replay.) Connects the consuming port of model index `index` to `endpoint`.
    pub(crate) fn connect_for_replay(&mut self, index: usize, endpoint: &Endpoint) {
        self.apply_update(index, std::slice::from_ref(endpoint), &[]);
    }

    /// (Replay.) The sockets of the port of model index `index` (for a `pub` port, its PUB).
    pub(crate) fn sockets_for_replay(&self, index: usize) -> Vec<&zmq::Socket> {
        match self.ctx.ports.port(index) {
            Some(Port::Pub(p)) => vec![p.socket()],
            Some(port) => sockets(port),
            None => Vec::new(),
        }
    }

    /// Serves the component until the actor says stop (or the actor's end of the channel goes).
    pub(crate) fn run(mut self, control: &ComponentEnd) {
        self.flush(control);
        loop {
            let Some(ready) = self.wait(control) else { return };
            if !self.obey(control) {
                return;
            }
            // Group events reach a passive component too (its groups live on meanwhile).
            self.serve_groups();
            self.flush(control);
            if !self.active {
                continue;
            }
            self.fire_timers();
            self.serve_inputs(ready);
            self.flush(control);
        }
    }
}

/// The sockets of a port that carry its input, with the socket monitors of its connect-side
/// DEALERs (a closed connection ends a request port's requests at once). A `clt` port is not
/// polled: each call reads its monitors first.
fn sockets(port: &Port) -> Vec<&zmq::Socket> {
    match port {
        Port::Sub(p) => vec![p.socket()],
        Port::Reply(p) => vec![p.socket()],
        Port::Hub(p) => vec![p.socket()],
        Port::Req(p) => p.sockets().collect(),
        Port::Qry(p) => p.sockets().collect(),
        Port::Spoke(p) => p.sockets().collect(),
        Port::Pub(_) | Port::Clt(_) => Vec::new(),
    }
}

/// Runs a component thread: builds the component with `make`, reports to the actor, serves it.
pub(crate) fn thread_main<P: PortSet>(plan: Plan, control: ComponentEnd, make: Maker<P>) {
    let log = plan.log.clone();
    match build(plan, make) {
        Ok((executor, discovered, probe)) => {
            control.send(FromComponent::Ready(discovered, probe));
            executor.run(&control);
        }
        Err(why) => {
            error!(log, "the component cannot start"; "error" => &why);
            control.send(FromComponent::Failed(why));
        }
    }
    control.send(FromComponent::Stopped);
}
