//! The component API: what a user implements for each component type of the model.

use std::time::Duration;

use cohort_budgets::Limit;
use cohort_model::ast::PortKind as ModelPortKind;
use cohort_ports::{FromPeer, Received, Request, Response};

use crate::context::Context;
use crate::events::{NicState, Peer, PeerState};
use crate::group::{GroupEvent, GroupName};
use crate::message::Message;
use crate::params::ComponentArgs;
use crate::timers::Tick;

/// What a handler returns. An error is logged and reported; the component keeps running.
pub type HandlerResult = Result<(), HandlerError>;

/// An error from a component's code.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// A component type of the model, implemented in Rust on the string-keyed API: the layer below
/// the typed one that `cohort-build` generates from the model (which apps use; see
/// [`crate::typed`]). Here ports are named by text and checked when the component starts.
///
/// The runtime makes one value per component instance with [`Component::new`], on the
/// instance's own thread, and calls its handlers there, one at a time. [`Component::handlers`]
/// binds a handler to each input port; the bindings are checked against the model at start-up
/// (port names, kinds and message types), so a wrong name is a start-up error, not a surprise.
///
/// ```
/// use cohort_runtime::{Component, ComponentArgs, Context, HandlerResult, Handlers, Message, Tick};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct SensorValue {
///     reading: f64,
/// }
///
/// impl Message for SensorValue {
///     const NAME: &'static str = "SensorValue";
/// }
///
/// /// `component Sensor(value=1.0) { timer clock 1000; pub ready : SensorValue; }`
/// struct Sensor {
///     value: f64,
/// }
///
/// impl Component for Sensor {
///     const TYPE: &'static str = "Sensor";
///
///     fn new(args: &ComponentArgs, _ctx: &mut Context) -> Result<Self, cohort_runtime::HandlerError> {
///         Ok(Sensor { value: args.float("value")? })
///     }
///
///     fn handlers(h: &mut Handlers<Self>) {
///         h.timer("clock", Sensor::on_clock);
///     }
/// }
///
/// impl Sensor {
///     fn on_clock(&mut self, ctx: &mut Context, _tick: Tick) -> HandlerResult {
///         ctx.publish("ready", &SensorValue { reading: self.value })?;
///         Ok(())
///     }
/// }
/// ```
pub trait Component: Sized + Send + 'static {
    /// The component type's name in the model.
    const TYPE: &'static str;

    /// Makes the component from its resolved parameters. Ports exist but are not connected yet.
    fn new(args: &ComponentArgs, ctx: &mut Context) -> Result<Self, HandlerError>;

    /// Binds handlers to input ports.
    fn handlers(handlers: &mut Handlers<Self>);

    /// Called once ports are set up and periodic timers run.
    fn on_activate(&mut self, _ctx: &mut Context) -> HandlerResult {
        Ok(())
    }

    /// Called when the actor stops, before ports close.
    fn on_deactivate(&mut self, _ctx: &mut Context) -> HandlerResult {
        Ok(())
    }

    /// Called when the actor asks the component to pause (it then gets no messages until
    /// activated again).
    fn on_passivate(&mut self, _ctx: &mut Context) -> HandlerResult {
        Ok(())
    }

    /// Called after a handler of `port` took `took`, longer than its `within` deadline.
    fn on_deadline_missed(&mut self, _ctx: &mut Context, _port: &str, _took: Duration, _deadline: Duration) {}

    /// Called for every event of a group instance the component joined
    /// ([`Context::join_group`]): group messages, members joining and leaving, leaders elected
    /// and gone, messages to and from the leader, votes requested and ended, actions due.
    fn on_group(&mut self, _ctx: &mut Context, _group: &GroupName, _event: GroupEvent) -> HandlerResult {
        Ok(())
    }

    /// Called when the interface the actor's global ports bind to goes up or down (not for
    /// its state at start-up).
    fn on_nic_state(&mut self, _ctx: &mut Context, _state: NicState) -> HandlerResult {
        Ok(())
    }

    /// Called when another actor of the app, on any host, appears in discovery's view or
    /// leaves it; at start-up, once for each one already there.
    fn on_peer_state(&mut self, _ctx: &mut Context, _peer: &Peer, _state: PeerState) -> HandlerResult {
        Ok(())
    }

    /// Called when the actor goes over a part of its budget (the model's `uses`): each kind at
    /// most once a second while it stays over. A memory notice comes at 90 % of the budget;
    /// past it the kernel kills the actor, and the launcher restarts it.
    fn on_limit(&mut self, _ctx: &mut Context, _limit: Limit) -> HandlerResult {
        Ok(())
    }
}

/// What a handler binding expects of its port, checked against the model at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    /// The port's name.
    pub(crate) port: String,
    /// The kinds of port the handler is for.
    pub(crate) kinds: &'static [ModelPortKind],
    /// The message types the handler reads, request first.
    pub(crate) messages: Vec<&'static str>,
}

type Dispatch<C> = Box<dyn FnMut(&mut C, &mut Context, Input) -> HandlerResult + Send>;

/// What woke a handler.
pub(crate) enum Input {
    /// A port may have messages (the handler drains it).
    Readable,
    /// A timer fired.
    Tick(Tick),
}

/// The handlers of a component type, one per input port.
pub struct Handlers<C> {
    pub(crate) bindings: Vec<(Binding, Dispatch<C>)>,
}

impl<C: Component> Handlers<C> {
    pub(crate) fn new() -> Handlers<C> {
        Handlers { bindings: Vec::new() }
    }

    fn bind(
        &mut self,
        port: &str,
        kinds: &'static [ModelPortKind],
        messages: Vec<&'static str>,
        dispatch: Dispatch<C>,
    ) {
        self.bindings.push((Binding { port: port.to_owned(), kinds, messages }, dispatch));
    }

    /// `timer port`: called on every tick.
    pub fn timer(&mut self, port: &str, handler: fn(&mut C, &mut Context, Tick) -> HandlerResult) {
        self.bind(
            port,
            &[ModelPortKind::Timer],
            Vec::new(),
            Box::new(move |c, ctx, input| match input {
                Input::Tick(tick) => handler(c, ctx, tick),
                Input::Readable => Ok(()),
            }),
        );
    }

    /// `sub port : M`: called for each message.
    pub fn sub<M: Message>(&mut self, port: &str, handler: fn(&mut C, &mut Context, Received<M>) -> HandlerResult) {
        let name = port.to_owned();
        self.bind(
            port,
            &[ModelPortKind::Sub],
            vec![M::NAME],
            Box::new(move |c, ctx, _| {
                while let Some(m) = ctx.sub_port(&name)?.recv::<M>()? {
                    handler(c, ctx, m)?;
                }
                Ok(())
            }),
        );
    }

    /// `rep port : (Q, A)` or `srv port : (Q, A)`: called for each request; the answer it
    /// returns is sent back at once (an error sends nothing; the requester's deadline ends it).
    pub fn reply<Q: Message, A: Message>(
        &mut self,
        port: &str,
        handler: fn(&mut C, &mut Context, Received<Q>) -> Result<A, HandlerError>,
    ) {
        let name = port.to_owned();
        self.bind(
            port,
            &[ModelPortKind::Rep, ModelPortKind::Srv],
            vec![Q::NAME, A::NAME],
            Box::new(move |c, ctx, _| {
                while let Some(request) = ctx.reply_port(&name)?.recv::<Q>()? {
                    let answer = handler(c, ctx, request.message)?;
                    ctx.reply_port(&name)?.reply(&request.token, &answer)?;
                }
                Ok(())
            }),
        );
    }

    /// `ans port : (Q, A)`: called for each query with its token; answer now or later with
    /// [`Context::answer`] / [`Context::reply_to`].
    pub fn answer<Q: Message>(&mut self, port: &str, handler: fn(&mut C, &mut Context, Request<Q>) -> HandlerResult) {
        let name = port.to_owned();
        self.bind(
            port,
            &[ModelPortKind::Ans],
            vec![Q::NAME],
            Box::new(move |c, ctx, _| {
                while let Some(request) = ctx.reply_port(&name)?.recv::<Q>()? {
                    handler(c, ctx, request)?;
                }
                Ok(())
            }),
        );
    }

    /// `req port : (Q, A)` or `qry port : (Q, A)`: called for each reply (answer) or ended
    /// request.
    pub fn response<A: Message>(
        &mut self,
        port: &str,
        handler: fn(&mut C, &mut Context, Response<A>) -> HandlerResult,
    ) {
        let name = port.to_owned();
        self.bind(
            port,
            &[ModelPortKind::Req, ModelPortKind::Qry],
            vec![A::NAME],
            Box::new(move |c, ctx, _| {
                while let Some(response) = ctx.recv_response::<A>(&name)? {
                    handler(c, ctx, response)?;
                }
                Ok(())
            }),
        );
    }

    /// `inside port`: called for each message from the component's worker threads.
    pub fn inside<M: Message>(&mut self, port: &str, handler: fn(&mut C, &mut Context, FromPeer<M>) -> HandlerResult) {
        let name = port.to_owned();
        self.bind(
            port,
            &[ModelPortKind::Inside],
            Vec::new(),
            Box::new(move |c, ctx, _| {
                while let Some(m) = ctx.inside_port(&name)?.recv::<M>()? {
                    handler(c, ctx, m)?;
                }
                Ok(())
            }),
        );
    }
}
