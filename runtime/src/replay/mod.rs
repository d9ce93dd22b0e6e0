//! Deterministic replay of one component: [`ComponentReplay`] builds a component instance as its
//! actor would, with its ports on inproc sockets whose other ends the replay holds, and feeds it
//! [`Input`]s one at a time in order: messages on its `sub` ports, ticks of its timers at times on
//! a simulated clock, and the replies to the requests it sent on its `req` and `qry` ports. After
//! each input it collects what the component sent ([`Output`]): what it published and the
//! requests it made. The same inputs give the same outputs, whatever the machine is doing, as
//! long as the component's code itself depends only on its inputs (not on the wall clock or on
//! chance): a field recording becomes a regression test.
//!
//! ```no_run
//! # fn inputs() -> Vec<cohort_runtime::replay::Input> { Vec::new() }
//! # fn demo(app: &cohort_model::ast::App, args: cohort_runtime::ComponentArgs, components: &cohort_runtime::Components)
//! # -> Result<(), cohort_runtime::replay::ReplayError> {
//! use cohort_runtime::replay::ComponentReplay;
//!
//! let replay = ComponentReplay::new(app, "Estimator", "filter", args, components)?;
//! let first = replay.run(&inputs())?;
//! assert_eq!(first, replay.run(&inputs())?);
//! # Ok(()) }
//! ```

mod driver;

use std::time::Duration;

use cohort_model::ast;
use serde::de::DeserializeOwned;

use crate::hosted::Components;
use crate::params::ComponentArgs;

pub(crate) use driver::drive;

/// One input of the component, at a time on the replay's simulated clock (from the start of the
/// replay; inputs are fed in the order given, whatever their times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// When it happens.
    pub at: Duration,
    /// What happens.
    pub event: InputEvent,
}

/// What an [`Input`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// A message arrives on `sub` port `port`: `payload` is its CBOR encoding (as a recording
    /// holds it).
    Message {
        /// The port.
        port: String,
        /// The message, as CBOR.
        payload: Vec<u8>,
    },
    /// Timer `timer` fires.
    Tick {
        /// The timer's port.
        timer: String,
    },
    /// The reply to the oldest request the component sent on `req` or `qry` port `port` that has
    /// no reply yet arrives: `payload` is its CBOR encoding.
    Reply {
        /// The port.
        port: String,
        /// The reply, as CBOR.
        payload: Vec<u8>,
    },
}

impl Input {
    /// A message on `port`, encoded as CBOR from `value`.
    pub fn message<T: serde::Serialize>(at: Duration, port: &str, value: &T) -> Result<Input, ReplayError> {
        let payload = cohort_ports::cbor::to_vec(value).map_err(|e| ReplayError::Encode(e.to_string()))?;
        Ok(Input { at, event: InputEvent::Message { port: port.to_owned(), payload } })
    }

    /// A tick of timer `timer`.
    pub fn tick(at: Duration, timer: &str) -> Input {
        Input { at, event: InputEvent::Tick { timer: timer.to_owned() } }
    }

    /// The reply `value` to the oldest open request on `port`.
    pub fn reply<T: serde::Serialize>(at: Duration, port: &str, value: &T) -> Result<Input, ReplayError> {
        let payload = cohort_ports::cbor::to_vec(value).map_err(|e| ReplayError::Encode(e.to_string()))?;
        Ok(Input { at, event: InputEvent::Reply { port: port.to_owned(), payload } })
    }
}

/// What the component sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The input it answered, by its position in the inputs; `None` for what it sent in
    /// `on_activate` or `on_deactivate`.
    pub after: Option<usize>,
    /// The port it sent on.
    pub port: String,
    /// Published, or a request.
    pub kind: OutputKind,
    /// The message, as CBOR.
    pub payload: Vec<u8>,
}

/// How an [`Output`] was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// Published on a `pub` port.
    Published,
    /// A request on a `req` or `qry` port.
    Request,
}

impl Output {
    /// The message, decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ReplayError> {
        cohort_ports::cbor::from_slice(&self.payload).map_err(|e| ReplayError::Decode(e.to_string()))
    }
}

/// Why a replay could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The model has no such actor or instance.
    #[error("the model has no instance {instance:?} in actor {actor:?}")]
    UnknownInstance {
        /// The actor.
        actor: String,
        /// The instance.
        instance: String,
    },
    /// No implementation of the instance's component type is registered.
    #[error("no implementation of component type {0} is registered")]
    Unregistered(String),
    /// The component could not be built, or an input does not fit it.
    #[error("{0}")]
    Component(String),
    /// A value could not be encoded as CBOR.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// An output could not be decoded.
    #[error("cannot decode: {0}")]
    Decode(String),
}

/// Replays inputs into one component instance of an app.
pub struct ComponentReplay<'a> {
    app: &'a ast::App,
    actor: String,
    instance: String,
    args: ComponentArgs,
    components: &'a Components,
    log: slog::Logger,
}

impl<'a> ComponentReplay<'a> {
    /// A replay of instance `instance` of actor `actor` of `app`, with arguments `args` and the
    /// implementation `components` registers for its type.
    pub fn new(
        app: &'a ast::App,
        actor: &str,
        instance: &str,
        args: ComponentArgs,
        components: &'a Components,
    ) -> Result<ComponentReplay<'a>, ReplayError> {
        let unknown = || ReplayError::UnknownInstance { actor: actor.to_owned(), instance: instance.to_owned() };
        let model = app.actor(actor).ok_or_else(unknown)?;
        let found = model.instances.iter().find(|i| i.name.name == instance).ok_or_else(unknown)?;
        if components.entry(&found.component.name).is_none() {
            return Err(ReplayError::Unregistered(found.component.name.clone()));
        }
        Ok(ComponentReplay {
            app,
            actor: actor.to_owned(),
            instance: instance.to_owned(),
            args,
            components,
            log: slog::Logger::root(slog::Discard, slog::o!()),
        })
    }

    /// The same replay, logging the component's records to `log` (else they are dropped).
    #[must_use]
    pub fn with_log(mut self, log: slog::Logger) -> ComponentReplay<'a> {
        self.log = log;
        self
    }

    /// Builds the component, calls `on_activate`, feeds it `inputs` in order, calls
    /// `on_deactivate`, and returns what it sent.
    pub fn run(&self, inputs: &[Input]) -> Result<Vec<Output>, ReplayError> {
        driver::run(self.app, &self.actor, &self.instance, self.args.clone(), self.components, inputs, &self.log)
    }
}
