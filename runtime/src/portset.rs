//! A component instance's ports as the runtime opens them and as a component type holds them.
//!
//! The runtime opens every port of an instance from its [`PortDescriptor`] into
//! [`OpenedPorts`], by model index; the component type's [`PortSet`] takes them out: the
//! generated `Ports` struct of a typed component into typed handles, [`crate::NamedPorts`] into
//! a name-keyed map for the lower, string-keyed API. The executor reaches each port again by its
//! model index, to poll it and to apply discovery's updates.

use cohort_model::ast::PortKind as ModelPortKind;
use cohort_model::PortDescriptor;
use cohort_ports::Port;

/// The ports the runtime opened for one component instance, by their index in the model.
pub struct OpenedPorts {
    component: String,
    ports: Vec<Option<(PortDescriptor, Port)>>,
}

impl OpenedPorts {
    /// Ports of component type `component`: `ports` in model order (timers have no socket, so
    /// their slot is empty).
    pub(crate) fn new(component: &str, ports: Vec<Option<(PortDescriptor, Port)>>) -> OpenedPorts {
        OpenedPorts { component: component.to_owned(), ports }
    }

    /// The component type.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Takes the port at model index `index`.
    pub fn take(&mut self, index: usize) -> Result<(PortDescriptor, Port), BindError> {
        self.ports.get_mut(index).and_then(Option::take).ok_or_else(|| BindError {
            component: self.component.clone(),
            why: format!("the model has no port with a socket at index {index}"),
        })
    }

    /// Takes every port left, in model order.
    pub fn take_all(&mut self) -> Vec<(PortDescriptor, Port)> {
        self.ports.iter_mut().filter_map(Option::take).collect()
    }
}

/// A port of the model is not what a component type's code expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("component {component}: {why}")]
pub struct BindError {
    /// The component type.
    pub component: String,
    /// What differs.
    pub why: String,
}

impl BindError {
    /// A mismatch in component type `component`.
    pub fn new(component: &str, why: impl Into<String>) -> BindError {
        BindError { component: component.to_owned(), why: why.into() }
    }
}

/// How a component type holds its ports: implemented by each generated `Ports` struct and by
/// [`crate::NamedPorts`].
pub trait PortSet: Sized + Send + 'static {
    /// Takes the ports the runtime opened.
    fn from_opened(opened: &mut OpenedPorts) -> Result<Self, BindError>;

    /// The port at model index `index`, if it has a socket (timers have none).
    fn port(&self, index: usize) -> Option<&Port>;

    /// The port at model index `index`, to change.
    fn port_mut(&mut self, index: usize) -> Option<&mut Port>;
}

/// One port as generated code expects it: checked against the model the app runs with before
/// any actor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortShape {
    /// The port's name.
    pub name: &'static str,
    /// Its kind.
    pub kind: ModelPortKind,
    /// Its message types, request first; none for timers and inside ports.
    pub messages: &'static [&'static str],
}

impl PortShape {
    /// Whether `port` is this shape.
    pub fn fits(&self, port: &PortDescriptor) -> bool {
        port.name == self.name && port.kind == self.kind && port.messages.names() == self.messages
    }

    /// The shape as the model would write it (`rep request : (SensorQuery, SensorValue)`).
    pub fn render(&self) -> String {
        render(self.kind, self.name, self.messages)
    }
}

/// A port as the model would write it.
pub(crate) fn render(kind: ModelPortKind, name: &str, messages: &[&str]) -> String {
    match messages {
        [] => format!("{} {name}", kind.keyword()),
        [one] => format!("{} {name} : {one}", kind.keyword()),
        several => format!("{} {name} : ({})", kind.keyword(), several.join(", ")),
    }
}

/// Whether the ports of a component type in the model are the `shapes` its code was generated
/// for; the differences if not.
pub(crate) fn compare_shapes(component: &str, shapes: &[PortShape], ports: &[PortDescriptor]) -> Result<(), String> {
    let mut differences = Vec::new();
    for (i, shape) in shapes.iter().enumerate() {
        match ports.get(i) {
            Some(port) if shape.fits(port) => {}
            Some(port) => differences.push(format!(
                "port {} is `{}` in the model but `{}` in the generated code",
                i + 1,
                render(port.kind, &port.name, &port.messages.names()),
                shape.render()
            )),
            None => differences.push(format!("the model lacks port `{}`", shape.render())),
        }
    }
    for port in ports.iter().skip(shapes.len()) {
        differences
            .push(format!("the generated code lacks port `{}`", render(port.kind, &port.name, &port.messages.names())));
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the code of component {component} was generated from another model ({}); rebuild the app",
            differences.join("; ")
        ))
    }
}
