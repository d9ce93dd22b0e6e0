//! What a component's handlers get: its ports, its timers, its groups, its logger and identity.
//!
//! [`Context`] is generic over how the component holds its ports: the `Ports` struct generated
//! for a typed component (`ctx.ports.ready.publish(&m)`), or [`NamedPorts`] for the lower,
//! string-keyed API (`ctx.publish("ready", &m)`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cohort_groups::GroupKey;
use cohort_model::ast;
use cohort_ports::{
    CltPort, Hub, InsPlug, PeerId, Port, PortError, PubPort, QryPort, Received, ReplyPort, ReplyToken, ReqPort,
    RequestId, Response, SubPort,
};

use crate::control::FromComponent;
use crate::coordinator::GroupLink;
use crate::group::{config_of, Group, GroupName, GroupOpError, JoinOptions};
use crate::message::Message;
use crate::named::NamedPorts;
use crate::timers::TimerSet;

/// Who a component instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The app.
    pub app: String,
    /// The actor hosting the instance.
    pub actor: String,
    /// The instance's name in the actor.
    pub instance: String,
    /// The component type.
    pub component: String,
}

/// A misuse of the context, reported to the handler as an error.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// No port of that name.
    #[error("component {component} has no port {port:?}; its ports are: {known}")]
    UnknownPort {
        /// The component type.
        component: String,
        /// The name asked for.
        port: String,
        /// The names it has.
        known: String,
    },
    /// The port is of another kind than the operation needs.
    #[error("port {port:?} is a {kind} port; {operation} needs a {wanted} port")]
    WrongKind {
        /// The port.
        port: String,
        /// Its kind.
        kind: &'static str,
        /// What was attempted.
        operation: &'static str,
        /// The kind that would do.
        wanted: &'static str,
    },
    /// The message's type is not the port's.
    #[error("port {port:?} carries {expected}, not {given}")]
    WrongMessage {
        /// The port.
        port: String,
        /// The port's message type.
        expected: String,
        /// The type given.
        given: &'static str,
    },
    /// No timer of that name.
    #[error("component {component} has no timer {timer:?}")]
    UnknownTimer {
        /// The component type.
        component: String,
        /// The name asked for.
        timer: String,
    },
    /// A timer operation does not apply (a period on a sporadic timer, …).
    #[error(transparent)]
    Timer(#[from] crate::timers::TimerError),
    /// The port failed.
    #[error("port {port:?}: {source}")]
    Port {
        /// The port.
        port: String,
        /// The error.
        source: PortError,
    },
}

impl ContextError {
    /// Whether the port has no provider yet: normal while discovery is still connecting it.
    pub fn is_no_provider(&self) -> bool {
        matches!(self, ContextError::Port { source: PortError::NoProvider, .. })
    }
}

/// The handlers' view of their component instance: its ports (`P`), timers, groups, logger
/// and identity.
pub struct Context<P = NamedPorts> {
    /// The component's ports: typed handles of a generated component, or [`NamedPorts`].
    pub ports: P,
    pub(crate) identity: Identity,
    pub(crate) log: slog::Logger,
    pub(crate) timers: TimerSet,
    /// The link to the actor's group coordination thread, which holds the group members.
    pub(crate) group_link: GroupLink,
    /// The model's group types, by name.
    pub(crate) group_types: BTreeMap<String, ast::Group>,
    /// The group instances joined.
    pub(crate) groups: BTreeMap<GroupName, Group>,
    /// What the actor must do for this component (discovery of joined groups).
    pub(crate) outbox: Vec<FromComponent>,
}

impl<P> Context<P> {
    /// Who this instance is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The instance's logger, named `<actor>.<instance>`.
    pub fn log(&self) -> &slog::Logger {
        &self.log
    }

    fn timer_id(&self, timer: &str) -> Result<crate::timers::TimerId, ContextError> {
        self.timers.id(timer).ok_or_else(|| ContextError::UnknownTimer {
            component: self.identity.component.clone(),
            timer: timer.to_owned(),
        })
    }

    /// Starts the timer `timer`: a periodic timer ticks from now on; a sporadic one fires once
    /// after its delay.
    pub fn launch(&mut self, timer: &str) -> Result<(), ContextError> {
        let id = self.timer_id(timer)?;
        Ok(self.timers.launch(id, Instant::now())?)
    }

    /// Stops the periodic timer `timer`, keeping its period.
    pub fn halt(&mut self, timer: &str) -> Result<(), ContextError> {
        let id = self.timer_id(timer)?;
        Ok(self.timers.halt(id)?)
    }

    /// Disarms the sporadic timer `timer`, or makes the periodic timer `timer` skip its next
    /// tick (staying phase-locked).
    pub fn cancel(&mut self, timer: &str) -> Result<(), ContextError> {
        let id = self.timer_id(timer)?;
        Ok(self.timers.cancel(id)?)
    }

    /// Sets the period of the periodic timer `timer`, from its next tick on.
    pub fn set_period(&mut self, timer: &str, period: Duration) -> Result<(), ContextError> {
        let id = self.timer_id(timer)?;
        Ok(self.timers.set_period(id, period)?)
    }

    /// Sets the delay of the sporadic timer `timer`: for its next launch, or, if it is armed,
    /// moving its pending firing to launch time + `delay`.
    pub fn set_delay(&mut self, timer: &str, delay: Duration) -> Result<(), ContextError> {
        let id = self.timer_id(timer)?;
        Ok(self.timers.set_delay(id, delay)?)
    }

    /// Joins the group instance `instance` of the model's group type `group_type`, with the
    /// model's timing. Members find each other through discovery; events arrive at
    /// [`crate::Component::on_group`]. A component may join any number of instances.
    ///
    /// The member lives on the actor's group coordination thread, which keeps its heartbeats
    /// and elections going while this component's handlers run, however long they take.
    pub fn join_group(&mut self, group_type: &str, instance: &str) -> Result<GroupName, GroupOpError> {
        self.join_group_with(group_type, instance, JoinOptions::default())
    }

    /// [`Context::join_group`] with options (the group's declared size).
    pub fn join_group_with(
        &mut self,
        group_type: &str,
        instance: &str,
        options: JoinOptions,
    ) -> Result<GroupName, GroupOpError> {
        let name = GroupName::new(group_type, instance);
        if self.groups.contains_key(&name) {
            return Err(GroupOpError::AlreadyJoined(name));
        }
        let model = self.group_types.get(group_type).ok_or_else(|| GroupOpError::UnknownType(group_type.to_owned()))?;
        let config = config_of(model, options).map_err(GroupOpError::Config)?;
        let key = GroupKey {
            app: self.identity.app.clone(),
            group_type: group_type.to_owned(),
            instance: instance.to_owned(),
            message: model.message.name.clone(),
        };
        let joined = match self.group_link.join(name.clone(), key.clone(), config) {
            Ok(result) => result.map_err(|source| GroupOpError::Group { group: name.clone(), source })?,
            Err(_) => return Err(GroupOpError::CoordinatorGone(name)),
        };
        self.outbox.push(FromComponent::Join {
            group: name.clone(),
            key,
            member: joined.id,
            endpoint: joined.publisher.clone(),
        });
        let commands = self.group_link.commands().clone();
        self.groups.insert(name.clone(), Group::new(name.clone(), model.message.name.clone(), joined, commands));
        Ok(name)
    }

    /// Leaves a group instance: the other members hear it at once. Events of the group that
    /// were on their way to the component are dropped.
    pub fn leave_group(&mut self, group: &GroupName) -> Result<(), GroupOpError> {
        let joined = self.groups.remove(group).ok_or_else(|| GroupOpError::NotJoined(group.clone()))?;
        let endpoint = joined.publisher().clone();
        joined.leave();
        self.outbox.push(FromComponent::Leave { group: group.clone(), endpoint });
        Ok(())
    }

    /// A group instance this component joined.
    pub fn group(&mut self, group: &GroupName) -> Result<&mut Group, GroupOpError> {
        self.groups.get_mut(group).ok_or_else(|| GroupOpError::NotJoined(group.clone()))
    }

    /// The group instances this component joined.
    pub fn joined_groups(&self) -> impl Iterator<Item = &GroupName> {
        self.groups.keys()
    }
}

/// The lower, string-keyed API: ports named by text, their message types checked when used.
impl Context<NamedPorts> {
    /// Publishes `message` on the `pub` port `port`.
    pub fn publish<M: Message>(&mut self, port: &str, message: &M) -> Result<(), ContextError> {
        let p = self.ports.typed::<M>(port)?;
        let p: &mut PubPort = match p {
            Port::Pub(p) => p,
            other => return Err(wrong(port, other, "publish", "pub")),
        };
        p.send(message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Sends `message` as a request on the `req` port `port`; its reply (or its failure) comes
    /// to the port's response handler.
    pub fn request<M: Message>(&mut self, port: &str, message: &M) -> Result<RequestId, ContextError> {
        let p = self.ports.typed::<M>(port)?;
        let p: &mut ReqPort = match p {
            Port::Req(p) => p,
            other => return Err(wrong(port, other, "request", "req")),
        };
        p.request(message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Sends `message` as a query on the `qry` port `port`; answers come to its response handler.
    pub fn query<M: Message>(&mut self, port: &str, message: &M) -> Result<RequestId, ContextError> {
        let p = self.ports.typed::<M>(port)?;
        let p: &mut QryPort = match p {
            Port::Qry(p) => p,
            other => return Err(wrong(port, other, "query", "qry")),
        };
        p.query(message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Calls through the `clt` port `port` and waits for the reply, up to the request timeout.
    pub fn call<Q: Message, A: Message>(&mut self, port: &str, message: &Q) -> Result<Received<A>, ContextError> {
        let p = self.ports.typed::<Q>(port)?;
        let p: &mut CltPort = match p {
            Port::Clt(p) => p,
            other => return Err(wrong(port, other, "call", "clt")),
        };
        p.call(message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Sends one answer of several to a query received on the `ans` port `port`.
    pub fn answer<A: Message>(&mut self, port: &str, token: &ReplyToken, message: &A) -> Result<(), ContextError> {
        let p = self.reply_port(port)?;
        p.answer(token, message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Sends the (final) reply to a request received on `port` (`rep`, `srv` or `ans`).
    pub fn reply_to<A: Message>(&mut self, port: &str, token: &ReplyToken, message: &A) -> Result<(), ContextError> {
        let p = self.reply_port(port)?;
        p.reply(token, message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// Sends `message` to the worker thread `to` through the inside port `port`.
    pub fn send_inside<M: Message>(&mut self, port: &str, to: &PeerId, message: &M) -> Result<(), ContextError> {
        let p = self.inside_port(port)?;
        p.send_to(to, message).map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    /// A plug for a worker thread of this component into the inside port `port`.
    pub fn plug(&mut self, port: &str) -> Result<InsPlug, ContextError> {
        let p = self.inside_port(port)?;
        p.plug().map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }

    pub(crate) fn sub_port(&mut self, port: &str) -> Result<&mut SubPort, ContextError> {
        match &mut self.ports.slot(port)?.port {
            Port::Sub(p) => Ok(p),
            other => Err(wrong(port, other, "receive", "sub")),
        }
    }

    pub(crate) fn reply_port(&mut self, port: &str) -> Result<&mut ReplyPort, ContextError> {
        match &mut self.ports.slot(port)?.port {
            Port::Reply(p) => Ok(p),
            other => Err(wrong(port, other, "reply", "rep, srv or ans")),
        }
    }

    pub(crate) fn inside_port(&mut self, port: &str) -> Result<&mut Hub, ContextError> {
        match &mut self.ports.slot(port)?.port {
            Port::Hub(p) => Ok(p),
            other => Err(wrong(port, other, "use an inside port", "inside")),
        }
    }

    pub(crate) fn recv_response<A: Message>(&mut self, port: &str) -> Result<Option<Response<A>>, ContextError> {
        let result = match &mut self.ports.slot(port)?.port {
            Port::Req(p) => p.recv::<A>(),
            Port::Qry(p) => p.recv::<A>(),
            other => return Err(wrong(port, other, "receive responses", "req or qry")),
        };
        result.map_err(|source| ContextError::Port { port: port.to_owned(), source })
    }
}

/// A member id as a UUID's text, for logs.
pub fn uuid_text(id: &cohort_groups::MemberId) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

fn wrong(port: &str, actual: &Port, operation: &'static str, wanted: &'static str) -> ContextError {
    ContextError::WrongKind { port: port.to_owned(), kind: actual.kind().name(), operation, wanted }
}
