//! One description of a component's port, derived once from the model: its kind, message types,
//! scope in the hosting actor, whether it is timed, and its handler's deadline.
//!
//! The port factory opens sockets from it, the runtime registers it with discovery and routes to
//! it by its index, `cohort graph` draws it, and generated code is checked against it. Nothing
//! downstream parses a kind, scope or message pair back out of text.

use std::time::Duration;

use crate::ast::{Actor, App, Component, Ident, Port, PortKind, PortMessages, TimeUnit};

/// How far a port's messages travel: the scope of its message types in the hosting actor.
/// Serialized in lower case (`"global"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every host of the app (tcp).
    Global,
    /// Actors on the same host (`local` in the actor; ipc).
    Local,
    /// Only the hosting actor (`internal` in the actor; inproc).
    Internal,
}

impl Scope {
    /// The scope of message `message` in an actor with these `local` and `internal` lists.
    pub fn of_message(message: &str, locals: &[Ident], internals: &[Ident]) -> Scope {
        if internals.iter().any(|m| m.name == message) {
            Scope::Internal
        } else if locals.iter().any(|m| m.name == message) {
            Scope::Local
        } else {
            Scope::Global
        }
    }

    /// The scope of `port` in `actor`: the narrowest scope of its message types (the checks
    /// require both types of a duplex port to have the same scope). Timers and inside ports,
    /// which never leave the actor, are internal.
    pub fn of_port(port: &Port, actor: &Actor) -> Scope {
        let names = port.message_names();
        if names.is_empty() {
            return Scope::Internal;
        }
        names.iter().map(|m| Scope::of_message(&m.name, &actor.locals, &actor.internals)).max().unwrap_or(Scope::Global)
    }

    /// The scope's name as the model writes it (`global`, `local`, `internal`).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Local => "local",
            Scope::Internal => "internal",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The message types a port carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageTypes {
    /// Timers and inside ports carry no model message.
    None,
    /// `pub` and `sub` carry one type.
    One(String),
    /// Duplex ports carry a request (query) type and a reply (answer) type.
    Pair {
        /// The request or query type.
        request: String,
        /// The reply or answer type.
        reply: String,
    },
}

impl MessageTypes {
    /// The message types of `port`; `None` for a duplex port with an empty slot (which the
    /// model's checks reject).
    pub fn of_port(port: &Port) -> Option<MessageTypes> {
        Some(match &port.messages {
            PortMessages::None => MessageTypes::None,
            PortMessages::One(m) => MessageTypes::One(m.name.clone()),
            PortMessages::Pair { request, reply, .. } => {
                MessageTypes::Pair { request: request.as_ref()?.name.clone(), reply: reply.as_ref()?.name.clone() }
            }
        })
    }

    /// The type the port sends or receives first: the message of a one-way port, the request
    /// type of a duplex port.
    pub fn first(&self) -> Option<&str> {
        match self {
            MessageTypes::None => None,
            MessageTypes::One(m) => Some(m),
            MessageTypes::Pair { request, .. } => Some(request),
        }
    }

    /// The reply (answer) type of a duplex port.
    pub fn reply(&self) -> Option<&str> {
        match self {
            MessageTypes::Pair { reply, .. } => Some(reply),
            _ => None,
        }
    }

    /// Every type, request first.
    pub fn names(&self) -> Vec<&str> {
        match self {
            MessageTypes::None => Vec::new(),
            MessageTypes::One(m) => vec![m],
            MessageTypes::Pair { request, reply } => vec![request, reply],
        }
    }
}

/// One port of a component instance as everything downstream of the model sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDescriptor {
    /// The port's position in its component's port list (timers included).
    pub index: usize,
    /// The port's name in its component.
    pub name: String,
    /// The kind of port.
    pub kind: PortKind,
    /// The message types it carries.
    pub messages: MessageTypes,
    /// Its scope in the hosting actor.
    pub scope: Scope,
    /// `timed`: sends carry a send time, receives record a receive time.
    pub timed: bool,
    /// `within N`: how long its handler may take.
    pub deadline: Option<Duration>,
    /// A timer's period (`timer t 1000`); none for a sporadic timer and for other ports.
    pub period: Option<Duration>,
}

impl PortDescriptor {
    /// The descriptor of `port`, the `index`-th port of its component, hosted by `actor` (none:
    /// outside any actor, where every message is global). `None` for a duplex port with an empty
    /// message slot, which the model's checks reject.
    pub fn of_port(index: usize, port: &Port, actor: Option<&Actor>) -> Option<PortDescriptor> {
        let scope = match actor {
            Some(actor) => Scope::of_port(port, actor),
            None if port.message_names().is_empty() => Scope::Internal,
            None => Scope::Global,
        };
        Some(PortDescriptor {
            index,
            name: port.name.name.clone(),
            kind: port.kind,
            messages: MessageTypes::of_port(port)?,
            scope,
            timed: port.timed,
            deadline: port.deadline.as_ref().map(|d| millis(d.millis(TimeUnit::Msec))),
            period: port
                .period
                .as_ref()
                .filter(|_| port.kind == PortKind::Timer)
                .map(|p| millis(p.millis(TimeUnit::Msec))),
        })
    }

    /// Whether the component handles what arrives on the port (every kind but `pub` and `clt`).
    pub fn is_input(&self) -> bool {
        !matches!(self.kind, PortKind::Pub | PortKind::Clt)
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The descriptors of every port of `component` as hosted by `actor`, in model order. Ports with
/// an empty message slot (rejected by the checks) are left out.
pub fn describe_ports(component: &Component, actor: Option<&Actor>) -> Vec<PortDescriptor> {
    component.ports.iter().enumerate().filter_map(|(i, p)| PortDescriptor::of_port(i, p, actor)).collect()
}

impl App {
    /// The descriptors of the ports of instance `instance` of actor `actor`; `None` if the app
    /// has no such actor, instance or component type.
    pub fn instance_ports(&self, actor: &str, instance: &str) -> Option<Vec<PortDescriptor>> {
        let actor = self.actor(actor)?;
        let instance = actor.instances.iter().find(|i| i.name.name == instance)?;
        let component = self.component(&instance.component.name)?;
        Some(describe_ports(component, Some(actor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_app_model;

    const MODEL: &str = r#"
        app A {
            message Q; message R; message G; message L;
            component C {
                timer tick 1 sec within 5;
                pub out : G;
                rep ask : (Q, R) timed;
                sub near : L;
                inside work;
            }
            actor X { local L; internal Q, R; { c : C; } }
        }
    "#;

    #[test]
    fn a_descriptor_carries_kind_types_scope_and_timing() {
        let compiled = compile_app_model(MODEL);
        let app = &compiled.value.as_ref().expect("the model is valid").apps[0];
        let ports = app.instance_ports("X", "c").expect("the instance exists");
        let by_name = |n: &str| ports.iter().find(|p| p.name == n).expect("the port exists");
        let tick = by_name("tick");
        assert_eq!((tick.index, tick.kind, tick.scope), (0, PortKind::Timer, Scope::Internal));
        assert_eq!((tick.period, tick.deadline), (Some(Duration::from_secs(1)), Some(Duration::from_millis(5))));
        assert_eq!(by_name("out").scope, Scope::Global);
        let ask = by_name("ask");
        assert_eq!(ask.messages, MessageTypes::Pair { request: "Q".into(), reply: "R".into() });
        assert_eq!((ask.scope, ask.timed, ask.messages.reply()), (Scope::Internal, true, Some("R")));
        assert_eq!(by_name("near").scope, Scope::Local);
        assert_eq!((by_name("work").messages.clone(), by_name("work").scope), (MessageTypes::None, Scope::Internal));
        assert!(!by_name("out").is_input() && by_name("near").is_input());
        assert_eq!(app.instance_ports("X", "nobody"), None);
    }

    #[test]
    fn scopes_order_from_widest_to_narrowest() {
        assert!(Scope::Global < Scope::Local && Scope::Local < Scope::Internal);
        assert_eq!(Scope::Local.to_string(), "local");
    }
}
