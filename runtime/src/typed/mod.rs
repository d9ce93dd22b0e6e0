//! The typed layer that code generated from the model (`cohort-build`) builds on.
//!
//! For each component type of the model, `cohort-build` generates a `Ports` struct of typed
//! handles ([`Publisher`], [`Replier`], …), a `Params` struct, a trait with one handler per input
//! port, and an adapter implementing [`Generated`], which plugs the user's type into the runtime.
//! A wrong port, message type, handler or parameter is then a compile error in the user's code.
//! The string-keyed [`crate::Component`] API below it stays for tools and tests.

mod handles;
pub mod serve;

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

pub use cohort_model::ast::PortKind as ModelPortKind;
pub use cohort_ports::Port;
pub use handles::{Answerer, Client, Inside, InsideMessage, Publisher, Querier, Replier, Requester, Subscriber};

pub use crate::context::Context;
pub use crate::portset::{BindError, OpenedPorts, PortSet, PortShape};

use crate::component::{HandlerError, HandlerResult};
use cohort_budgets::Limit;

use crate::events::{NicState, Peer, PeerState};
use crate::group::{Group, GroupEvent, GroupName, GroupOpError, JoinOptions};
use crate::message::Message;
use crate::params::{ArgError, ComponentArgs};
use crate::timers::Tick;

/// A component type generated from the model: implemented by generated code (on its
/// `Adapter<T>`), registered with [`crate::Components::with_generated`].
pub trait Generated: Sized + Send + 'static {
    /// The component's ports.
    type Ports: PortSet;
    /// The component type's name in the model.
    const TYPE: &'static str;
    /// The ports the code was generated for, in model order, timers included. The runtime
    /// checks them against the model the app runs with before any actor starts.
    const PORTS: &'static [PortShape];

    /// Checks that an instance's arguments fit the generated parameters (before any actor
    /// starts).
    fn check_args(args: &ComponentArgs) -> Result<(), ArgError>;

    /// Makes the component of an instance.
    fn make(args: &ComponentArgs, ctx: &mut Context<Self::Ports>) -> Result<Self, HandlerError>;

    /// Drains input port `index` (its model index), calling the handler for each message.
    fn serve(&mut self, ctx: &mut Context<Self::Ports>, index: usize) -> HandlerResult;

    /// Timer port `index` (its model index) ticked.
    fn tick(&mut self, ctx: &mut Context<Self::Ports>, index: usize, tick: Tick) -> HandlerResult;

    /// The ports are set up and periodic timers run.
    fn activate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;

    /// The actor stops; ports close next.
    fn deactivate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;

    /// The actor pauses the component.
    fn passivate(&mut self, ctx: &mut Context<Self::Ports>) -> HandlerResult;

    /// A handler of `port` took `took`, longer than its `within` deadline.
    fn deadline_missed(&mut self, ctx: &mut Context<Self::Ports>, port: &str, took: Duration, deadline: Duration);

    /// Something happened in a joined group instance.
    fn group(&mut self, ctx: &mut Context<Self::Ports>, group: &GroupName, event: GroupEvent) -> HandlerResult;

    /// The interface the actor's global ports bind to went up or down.
    fn nic_state(&mut self, ctx: &mut Context<Self::Ports>, state: NicState) -> HandlerResult {
        let _ = (ctx, state);
        Ok(())
    }

    /// Another actor of the app appeared or disappeared.
    fn peer_state(&mut self, ctx: &mut Context<Self::Ports>, peer: &Peer, state: PeerState) -> HandlerResult {
        let _ = (ctx, peer, state);
        Ok(())
    }

    /// The actor went over a part of its budget.
    fn limit(&mut self, ctx: &mut Context<Self::Ports>, limit: Limit) -> HandlerResult {
        let _ = (ctx, limit);
        Ok(())
    }
}

/// A group type of the model (`group Sync using Reading;`): generated as a unit struct, used to
/// join its instances with [`Context::join`].
pub trait ModelGroup: Copy + Send + 'static {
    /// The group type's name in the model.
    const NAME: &'static str;
    /// The message type its members exchange.
    type Message: Message;
}

/// A group instance joined through its model group type `G`.
pub struct GroupHandle<G> {
    name: GroupName,
    _group: PhantomData<fn() -> G>,
}

impl<G> GroupHandle<G> {
    /// The group instance.
    pub fn name(&self) -> &GroupName {
        &self.name
    }
}

impl<G> Clone for GroupHandle<G> {
    fn clone(&self) -> Self {
        GroupHandle { name: self.name.clone(), _group: PhantomData }
    }
}

impl<G> std::fmt::Debug for GroupHandle<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("GroupHandle").field(&self.name).finish()
    }
}

/// A joined group instance whose messages are typed: [`TypedGroup::send`] takes only the
/// group's message type. Everything else of [`Group`] is there too.
pub struct TypedGroup<'a, G: ModelGroup> {
    group: &'a mut Group,
    _group: PhantomData<fn() -> G>,
}

impl<G: ModelGroup> TypedGroup<'_, G> {
    /// Sends `message` to every other member.
    pub fn send(&mut self, message: &G::Message) -> Result<(), GroupOpError> {
        self.group.send(message)
    }
}

impl<G: ModelGroup> Deref for TypedGroup<'_, G> {
    type Target = Group;

    fn deref(&self) -> &Group {
        self.group
    }
}

impl<G: ModelGroup> DerefMut for TypedGroup<'_, G> {
    fn deref_mut(&mut self) -> &mut Group {
        self.group
    }
}

impl<P> Context<P> {
    /// Joins instance `instance` of the model's group type `group` (a type generated from the
    /// model, so a misspelt group is a compile error), with the model's timing. Events arrive at
    /// the component's `on_group`.
    pub fn join<G: ModelGroup>(&mut self, group: G, instance: &str) -> Result<GroupHandle<G>, GroupOpError> {
        self.join_with(group, instance, JoinOptions::default())
    }

    /// [`Context::join`] with options (the group's declared size).
    pub fn join_with<G: ModelGroup>(
        &mut self,
        _group: G,
        instance: &str,
        options: JoinOptions,
    ) -> Result<GroupHandle<G>, GroupOpError> {
        let name = self.join_group_with(G::NAME, instance, options)?;
        Ok(GroupHandle { name, _group: PhantomData })
    }

    /// A group instance joined with [`Context::join`], with typed messages.
    pub fn group_of<G: ModelGroup>(&mut self, handle: &GroupHandle<G>) -> Result<TypedGroup<'_, G>, GroupOpError> {
        let group = self.group(&handle.name)?;
        Ok(TypedGroup { group, _group: PhantomData })
    }
}
