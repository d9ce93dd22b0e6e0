//! Component types behind one object-safe trait, and the registry that makes them by name.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::component::{Binding, Component, HandlerError, HandlerResult, Handlers, Input};
use crate::context::Context;
use crate::group::{GroupEvent, GroupName};
use crate::params::ComponentArgs;

/// A component value with its handlers, whatever its type.
pub(crate) trait Hosted: Send {
    /// What each handler expects of its port, by handler index.
    fn bindings(&self) -> Vec<Binding>;
    /// Runs handler `index`.
    fn dispatch(&mut self, ctx: &mut Context, index: usize, input: Input) -> HandlerResult;
    fn activate(&mut self, ctx: &mut Context) -> HandlerResult;
    fn deactivate(&mut self, ctx: &mut Context) -> HandlerResult;
    fn passivate(&mut self, ctx: &mut Context) -> HandlerResult;
    fn deadline_missed(&mut self, ctx: &mut Context, port: &str, took: Duration, deadline: Duration);
    fn group(&mut self, ctx: &mut Context, group: &GroupName, event: GroupEvent) -> HandlerResult;
}

struct Instance<C: Component> {
    component: C,
    handlers: Handlers<C>,
}

impl<C: Component> Hosted for Instance<C> {
    fn bindings(&self) -> Vec<Binding> {
        self.handlers.bindings.iter().map(|(b, _)| b.clone()).collect()
    }

    fn dispatch(&mut self, ctx: &mut Context, index: usize, input: Input) -> HandlerResult {
        match self.handlers.bindings.get_mut(index) {
            Some((_, handler)) => handler(&mut self.component, ctx, input),
            None => Ok(()),
        }
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
}

type Maker = fn(&ComponentArgs, &mut Context) -> Result<Box<dyn Hosted>, HandlerError>;

fn make<C: Component>(args: &ComponentArgs, ctx: &mut Context) -> Result<Box<dyn Hosted>, HandlerError> {
    let component = C::new(args, ctx)?;
    let mut handlers = Handlers::new();
    C::handlers(&mut handlers);
    Ok(Box::new(Instance { component, handlers }))
}

/// The component types an app implements, by their model names.
#[derive(Default, Clone)]
pub struct Components {
    makers: BTreeMap<&'static str, Maker>,
}

impl Components {
    /// No component types yet.
    pub fn new() -> Components {
        Components::default()
    }

    /// Registers `C` under its model name [`Component::TYPE`].
    #[must_use]
    pub fn with<C: Component>(mut self) -> Components {
        self.makers.insert(C::TYPE, make::<C>);
        self
    }

    /// The names of the registered types.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.makers.keys().copied()
    }

    pub(crate) fn maker(&self, name: &str) -> Option<Maker> {
        self.makers.get(name).copied()
    }
}
