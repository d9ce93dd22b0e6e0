//! Component types behind one object-safe trait, and the registry of an app's component types.

use std::collections::BTreeMap;
use std::time::Duration;

use cohort_model::ast::PortKind as ModelPortKind;
use cohort_model::PortDescriptor;

use crate::component::{Binding, Component, HandlerResult, Handlers, Input};
use crate::context::Context;
use crate::control::ComponentEnd;
use cohort_budgets::Limit;

use crate::events::{NicState, Peer, PeerState};
use crate::executor::{thread_main, Plan};
use crate::group::{GroupEvent, GroupName};
use crate::named::NamedPorts;
use crate::params::{ArgError, ComponentArgs};
use crate::portset::PortShape;
use crate::replay::{Input as ReplayInput, Output as ReplayOutput};
use crate::timers::Tick;
use crate::typed::Generated;

/// A component value with its handlers, whatever its type; `P` is how it holds its ports.
pub(crate) trait Hosted<P>: Send {
    /// Drains input port `index` (model index).
    fn serve(&mut self, ctx: &mut Context<P>, index: usize) -> HandlerResult;
    /// Timer port `index` (model index) ticked.
    fn tick(&mut self, ctx: &mut Context<P>, index: usize, tick: Tick) -> HandlerResult;
    fn activate(&mut self, ctx: &mut Context<P>) -> HandlerResult;
    fn deactivate(&mut self, ctx: &mut Context<P>) -> HandlerResult;
    fn passivate(&mut self, ctx: &mut Context<P>) -> HandlerResult;
    fn deadline_missed(&mut self, ctx: &mut Context<P>, port: &str, took: Duration, deadline: Duration);
    fn group(&mut self, ctx: &mut Context<P>, group: &GroupName, event: GroupEvent) -> HandlerResult;
    fn nic_state(&mut self, ctx: &mut Context<P>, state: NicState) -> HandlerResult;
    fn peer_state(&mut self, ctx: &mut Context<P>, peer: &Peer, state: PeerState) -> HandlerResult;
    fn limit(&mut self, ctx: &mut Context<P>, limit: Limit) -> HandlerResult;
}

/// Makes a component value for an instance, given its arguments, context and ports.
pub(crate) type Maker<P> = fn(&ComponentArgs, &mut Context<P>, &[PortDescriptor]) -> Result<Box<dyn Hosted<P>>, String>;

/// A component of the string-keyed API with its handler bindings, by port index.
struct Instance<C: Component> {
    component: C,
    handlers: Handlers<C>,
    /// For each model port index, the index of its binding.
    by_port: Vec<Option<usize>>,
}

impl<C: Component> Instance<C> {
    fn dispatch(&mut self, ctx: &mut Context, index: usize, input: Input) -> HandlerResult {
        let Some(Some(binding)) = self.by_port.get(index) else { return Ok(()) };
        match self.handlers.bindings.get_mut(*binding) {
            Some((_, handler)) => handler(&mut self.component, ctx, input),
            None => Ok(()),
        }
    }
}

impl<C: Component> Hosted<NamedPorts> for Instance<C> {
    fn serve(&mut self, ctx: &mut Context, index: usize) -> HandlerResult {
        self.dispatch(ctx, index, Input::Readable)
    }

    fn tick(&mut self, ctx: &mut Context, index: usize, tick: Tick) -> HandlerResult {
        self.dispatch(ctx, index, Input::Tick(tick))
    }

    fn activate(&mut self, ctx: &mut Context) -> HandlerResult {
        self.component.on_activate(ctx)
    }

    fn deactivate(&mut self, ctx: &mut Context) -> HandlerResult {
        self.component.on_deactivate(ctx)
    }

    fn passivate(&mut self, ctx: &mut Context) -> HandlerResult {
        self.component.on_passivate(ctx)
    }

    fn deadline_missed(&mut self, ctx: &mut Context, port: &str, took: Duration, deadline: Duration) {
        self.component.on_deadline_missed(ctx, port, took, deadline);
    }

    fn group(&mut self, ctx: &mut Context, group: &GroupName, event: GroupEvent) -> HandlerResult {
        self.component.on_group(ctx, group, event)
    }

    fn nic_state(&mut self, ctx: &mut Context, state: NicState) -> HandlerResult {
        self.component.on_nic_state(ctx, state)
    }

    fn peer_state(&mut self, ctx: &mut Context, peer: &Peer, state: PeerState) -> HandlerResult {
        self.component.on_peer_state(ctx, peer, state)
    }

    fn limit(&mut self, ctx: &mut Context, limit: Limit) -> HandlerResult {
        self.component.on_limit(ctx, limit)
    }
}

/// Whether a handler binding fits a port; the reason if not.
fn check_binding(binding: &Binding, port: &PortDescriptor) -> Result<(), String> {
    if !binding.kinds.contains(&port.kind) {
        let wanted: Vec<&str> = binding.kinds.iter().map(|k| k.keyword()).collect();
        return Err(format!(
            "port {:?} is a {} port, but its handler is for {}",
            binding.port,
            port.kind.keyword(),
            wanted.join(" or ")
        ));
    }
    let expected: Vec<&str> = match (port.kind, port.messages.first(), port.messages.reply()) {
        (ModelPortKind::Sub | ModelPortKind::Ans, Some(first), _) => vec![first],
        (ModelPortKind::Rep | ModelPortKind::Srv, Some(first), Some(reply)) => vec![first, reply],
        (ModelPortKind::Req | ModelPortKind::Qry, _, Some(reply)) => vec![reply],
        _ => Vec::new(),
    };
    if !binding.messages.is_empty() && binding.messages != expected {
        return Err(format!(
            "port {:?} carries {}, but its handler takes {}",
            binding.port,
            expected.join(" and "),
            binding.messages.join(" and ")
        ));
    }
    Ok(())
}

/// The handlers of `C` bound to `ports`: for each port index, the index of its binding.
/// Fails when a binding names a port the model lacks or does not fit its port, or an input port
/// has no handler.
fn bind<C: Component>(ports: &[PortDescriptor]) -> Result<(Handlers<C>, Vec<Option<usize>>), String> {
    let mut handlers = Handlers::new();
    C::handlers(&mut handlers);
    let mut by_port = vec![None; ports.iter().map(|p| p.index + 1).max().unwrap_or(0)];
    for (i, (binding, _)) in handlers.bindings.iter().enumerate() {
        let port = ports.iter().find(|p| p.name == binding.port).ok_or_else(|| {
            let names: Vec<&str> = ports.iter().map(|p| p.name.as_str()).collect();
            format!(
                "component {} binds a handler to port {:?}, which the model does not declare (ports: {})",
                C::TYPE,
                binding.port,
                names.join(", ")
            )
        })?;
        check_binding(binding, port).map_err(|why| format!("component {}: {why}", C::TYPE))?;
        if let Some(slot) = by_port.get_mut(port.index) {
            *slot = Some(i);
        }
    }
    if let Some(port) = ports.iter().find(|p| p.is_input() && by_port.get(p.index).is_none_or(Option::is_none)) {
        return Err(format!(
            "component {} has no handler for its {} port {:?}; bind one in Component::handlers",
            C::TYPE,
            port.kind.keyword(),
            port.name
        ));
    }
    Ok((handlers, by_port))
}

/// Whether the handlers of `C` fit `ports` (checked before any actor starts).
fn check_untyped<C: Component>(ports: &[PortDescriptor]) -> Result<(), String> {
    bind::<C>(ports).map(|_| ())
}

fn make_untyped<C: Component>(
    args: &ComponentArgs,
    ctx: &mut Context,
    ports: &[PortDescriptor],
) -> Result<Box<dyn Hosted<NamedPorts>>, String> {
    let (handlers, by_port) = bind::<C>(ports)?;
    let component = C::new(args, ctx).map_err(|e| format!("{}::new failed: {e}", C::TYPE))?;
    Ok(Box::new(Instance { component, handlers, by_port }))
}

fn run_untyped<C: Component>(plan: Plan, control: ComponentEnd) {
    thread_main::<NamedPorts>(plan, control, make_untyped::<C>);
}

fn replay_untyped<C: Component>(plan: Plan, inputs: &[ReplayInput]) -> Result<Vec<ReplayOutput>, String> {
    crate::replay::drive::<NamedPorts>(plan, make_untyped::<C>, inputs)
}

impl<G: Generated> Hosted<G::Ports> for G {
    fn serve(&mut self, ctx: &mut Context<G::Ports>, index: usize) -> HandlerResult {
        Generated::serve(self, ctx, index)
    }

    fn tick(&mut self, ctx: &mut Context<G::Ports>, index: usize, tick: Tick) -> HandlerResult {
        Generated::tick(self, ctx, index, tick)
    }

    fn activate(&mut self, ctx: &mut Context<G::Ports>) -> HandlerResult {
        Generated::activate(self, ctx)
    }

    fn deactivate(&mut self, ctx: &mut Context<G::Ports>) -> HandlerResult {
        Generated::deactivate(self, ctx)
    }

    fn passivate(&mut self, ctx: &mut Context<G::Ports>) -> HandlerResult {
        Generated::passivate(self, ctx)
    }

    fn deadline_missed(&mut self, ctx: &mut Context<G::Ports>, port: &str, took: Duration, deadline: Duration) {
        Generated::deadline_missed(self, ctx, port, took, deadline);
    }

    fn group(&mut self, ctx: &mut Context<G::Ports>, group: &GroupName, event: GroupEvent) -> HandlerResult {
        Generated::group(self, ctx, group, event)
    }

    fn nic_state(&mut self, ctx: &mut Context<G::Ports>, state: NicState) -> HandlerResult {
        Generated::nic_state(self, ctx, state)
    }

    fn peer_state(&mut self, ctx: &mut Context<G::Ports>, peer: &Peer, state: PeerState) -> HandlerResult {
        Generated::peer_state(self, ctx, peer, state)
    }

    fn limit(&mut self, ctx: &mut Context<G::Ports>, limit: Limit) -> HandlerResult {
        Generated::limit(self, ctx, limit)
    }
}

fn make_generated<G: Generated>(
    args: &ComponentArgs,
    ctx: &mut Context<G::Ports>,
    _ports: &[PortDescriptor],
) -> Result<Box<dyn Hosted<G::Ports>>, String> {
    let component = G::make(args, ctx).map_err(|e| format!("{}::new failed: {e}", G::TYPE))?;
    Ok(Box::new(component))
}

fn run_generated<G: Generated>(plan: Plan, control: ComponentEnd) {
    thread_main::<G::Ports>(plan, control, make_generated::<G>);
}

fn replay_generated<G: Generated>(plan: Plan, inputs: &[ReplayInput]) -> Result<Vec<ReplayOutput>, String> {
    crate::replay::drive::<G::Ports>(plan, make_generated::<G>, inputs)
}

/// Checks a string-keyed component type's handler bindings against an instance's ports.
pub(crate) type BindingsCheck = fn(&[PortDescriptor]) -> Result<(), String>;

/// Checks an instance's arguments against a component type's parameters.
pub(crate) type ArgsCheck = fn(&ComponentArgs) -> Result<(), ArgError>;

/// How to run one component type, and what its code expects of the model.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// Runs an instance's thread.
    pub(crate) run: fn(Plan, ComponentEnd),
    /// Replays inputs into an instance, on the calling thread ([`crate::replay`]).
    pub(crate) replay: fn(Plan, &[ReplayInput]) -> Result<Vec<ReplayOutput>, String>,
    /// The ports generated code expects (none for the string-keyed API).
    pub(crate) shapes: Option<&'static [PortShape]>,
    /// Whether the string-keyed API's handler bindings fit the ports.
    pub(crate) check_bindings: Option<BindingsCheck>,
    /// Checks an instance's arguments against the generated parameters.
    pub(crate) check_args: Option<ArgsCheck>,
}

/// The component types an app implements, by their model names.
#[derive(Default, Clone)]
pub struct Components {
    entries: BTreeMap<&'static str, Entry>,
}

impl Components {
    /// No component types yet.
    pub fn new() -> Components {
        Components::default()
    }

    /// Registers `C`, a component of the string-keyed API, under its model name
    /// [`Component::TYPE`].
    #[must_use]
    pub fn with<C: Component>(mut self) -> Components {
        let entry = Entry {
            run: run_untyped::<C>,
            replay: replay_untyped::<C>,
            shapes: None,
            check_bindings: Some(check_untyped::<C>),
            check_args: None,
        };
        self.entries.insert(C::TYPE, entry);
        self
    }

    /// Registers a component type generated from the model (what `cohort-build`'s generated
    /// `components()` calls for every type).
    #[must_use]
    pub fn with_generated<G: Generated>(mut self) -> Components {
        let entry = Entry {
            run: run_generated::<G>,
            replay: replay_generated::<G>,
            shapes: Some(G::PORTS),
            check_bindings: None,
            check_args: Some(G::check_args),
        };
        self.entries.insert(G::TYPE, entry);
        self
    }

    /// The names of the registered types.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }

    /// Whether an instance of component type `name`, with these ports and arguments, fits the
    /// registered code: the ports it was generated for and its parameters, or the handler
    /// bindings of the string-keyed API. The reason if not.
    pub(crate) fn check_instance(
        &self,
        name: &str,
        ports: &[PortDescriptor],
        args: &ComponentArgs,
    ) -> Result<(), String> {
        let Some(entry) = self.entry(name) else { return Ok(()) };
        if let Some(shapes) = entry.shapes {
            crate::portset::compare_shapes(name, shapes, ports)?;
        }
        if let Some(check) = entry.check_bindings {
            check(ports)?;
        }
        if let Some(check) = entry.check_args {
            check(args).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub(crate) fn entry(&self, name: &str) -> Option<Entry> {
        self.entries.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::HandlerResult;
    use crate::timers::Tick;

    struct Clock;

    impl Component for Clock {
        const TYPE: &'static str = "Clock";

        fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, crate::HandlerError> {
            Ok(Clock)
        }

        fn handlers(h: &mut Handlers<Self>) {
            h.timer("tick", |_: &mut Clock, _: &mut Context, _: Tick| -> HandlerResult { Ok(()) });
        }
    }

    fn ports(component: &str) -> Vec<PortDescriptor> {
        let text = format!("app A {{ message M; {component} actor X {{ {{ c : Clock; }} }} }}");
        let compiled = cohort_model::compile_app_model(&text);
        let app = &compiled.value.as_ref().expect("the model is valid").apps[0];
        app.instance_ports("X", "c").expect("the instance exists")
    }

    #[test]
    fn string_keyed_bindings_are_checked_before_any_actor_starts() {
        let components = Components::new().with::<Clock>();
        let args = ComponentArgs::new("c", "Clock", Vec::<(String, cohort_model::Value)>::new());
        assert_eq!(components.check_instance("Clock", &ports("component Clock { timer tick 10; }"), &args), Ok(()));
        let renamed = components.check_instance("Clock", &ports("component Clock { timer tock 10; }"), &args);
        assert_eq!(
            renamed,
            Err("component Clock binds a handler to port \"tick\", which the model does not declare (ports: tock)"
                .to_owned())
        );
        let unbound =
            components.check_instance("Clock", &ports("component Clock { timer tick 10; sub inp : M; }"), &args);
        assert_eq!(
            unbound,
            Err("component Clock has no handler for its sub port \"inp\"; bind one in Component::handlers".to_owned())
        );
    }
}
