//! What the factory needs to know about a port.

use cohort_model::{MessageTypes, PortDescriptor};

use crate::kind::PortKind;
use crate::scope::Scope;
use crate::wire::MessageType;

/// A port to make: who owns it, its kind, scope and message types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The component instance (or group member) that owns the port.
    pub owner: String,
    /// The port's name in its component.
    pub name: String,
    /// The kind of port.
    pub kind: PortKind,
    /// The scope, which picks the transport.
    pub scope: Scope,
    /// The message type it sends or receives (the request type of a duplex port).
    pub message: MessageType,
    /// The reply (answer) type of a duplex port; `None` for one-way ports.
    pub reply: Option<MessageType>,
    /// Whether sends carry a send time and receives record a receive time.
    pub timed: bool,
}

impl PortSpec {
    /// A spec for a one-way port (or a duplex port whose request and reply types are the same).
    pub fn new(owner: &str, name: &str, kind: PortKind, scope: Scope, message: &str) -> PortSpec {
        PortSpec {
            owner: owner.to_owned(),
            name: name.to_owned(),
            kind,
            scope,
            message: MessageType::new(message),
            reply: None,
            timed: false,
        }
    }

    /// The same spec with `reply` as the reply type.
    #[must_use]
    pub fn with_reply(mut self, reply: &str) -> PortSpec {
        self.reply = Some(MessageType::new(reply));
        self
    }

    /// The same spec, timed or not.
    #[must_use]
    pub fn timed(mut self, timed: bool) -> PortSpec {
        self.timed = timed;
        self
    }

    /// The spec of the port `port` describes, owned by instance `owner`; `None` for timers, which
    /// have no socket. An inside port's messages are typed by its name (`inside:<port>`).
    pub fn from_descriptor(owner: &str, port: &PortDescriptor) -> Option<PortSpec> {
        let kind = PortKind::of_model(port.kind)?;
        let message = match &port.messages {
            MessageTypes::None => format!("inside:{}", port.name),
            other => other.first().unwrap_or_default().to_owned(),
        };
        let mut spec = PortSpec::new(owner, &port.name, kind, port.scope, &message).timed(port.timed);
        if let Some(reply) = port.messages.reply() {
            spec = spec.with_reply(reply);
        }
        Some(spec)
    }

    /// The type of replies (answers): the reply type, or the message type when there is none.
    pub fn reply_type(&self) -> &MessageType {
        self.reply.as_ref().unwrap_or(&self.message)
    }

    /// `owner.name`, as logs show it.
    pub fn label(&self) -> String {
        format!("{}.{}", self.owner, self.name)
    }
}
