//! The ports of a component of the lower, string-keyed API ([`crate::Component`]): found by
//! name, their message types checked when used.

use cohort_model::PortDescriptor;
use cohort_ports::Port;

use crate::context::ContextError;
use crate::message::Message;
use crate::portset::{BindError, OpenedPorts, PortSet};

/// One port with what the model says about it.
pub(crate) struct NamedSlot {
    pub(crate) descriptor: PortDescriptor,
    pub(crate) port: Port,
}

/// A component's ports by name: the [`PortSet`] of the string-keyed API.
pub struct NamedPorts {
    component: String,
    slots: Vec<NamedSlot>,
}

impl PortSet for NamedPorts {
    fn from_opened(opened: &mut OpenedPorts) -> Result<Self, BindError> {
        let component = opened.component().to_owned();
        let slots = opened.take_all().into_iter().map(|(descriptor, port)| NamedSlot { descriptor, port }).collect();
        Ok(NamedPorts { component, slots })
    }

    fn port(&self, index: usize) -> Option<&Port> {
        self.slots.iter().find(|s| s.descriptor.index == index).map(|s| &s.port)
    }

    fn port_mut(&mut self, index: usize) -> Option<&mut Port> {
        self.slots.iter_mut().find(|s| s.descriptor.index == index).map(|s| &mut s.port)
    }
}

impl NamedPorts {
    /// The names of the ports.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.descriptor.name.as_str())
    }

    pub(crate) fn slot(&mut self, port: &str) -> Result<&mut NamedSlot, ContextError> {
        match self.slots.iter().position(|s| s.descriptor.name == port) {
            Some(i) => Ok(&mut self.slots[i]),
            None => {
                let known: Vec<&str> = self.names().collect();
                Err(ContextError::UnknownPort {
                    component: self.component.clone(),
                    port: port.to_owned(),
                    known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
                })
            }
        }
    }

    /// The port `port`, if it sends (or, for a duplex port, requests) messages of type `M`.
    pub(crate) fn typed<M: Message>(&mut self, port: &str) -> Result<&mut Port, ContextError> {
        let slot = self.slot(port)?;
        if let Some(expected) = slot.descriptor.messages.first() {
            if expected != M::NAME {
                return Err(ContextError::WrongMessage {
                    port: port.to_owned(),
                    expected: expected.to_owned(),
                    given: M::NAME,
                });
            }
        }
        Ok(&mut slot.port)
    }
}
