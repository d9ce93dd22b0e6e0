//! The app's graph as the web page draws it: actors, their component instances with their
//! ports, and the message flows between ports, by the same rules as `cohort graph`
//! ([`cohort_model::flows`]).

use cohort_model::ast::{App, PortKind};
use cohort_model::flows::{flows, End};
use cohort_model::{describe_ports, Scope};
use serde::{Deserialize, Serialize};

/// An app's actors and flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppGraph {
    /// The actors, in model order.
    pub actors: Vec<GraphActor>,
    /// Every flow, in the order of the sending ports.
    pub flows: Vec<GraphFlow>,
}

/// An actor of the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphActor {
    /// Its name.
    pub name: String,
    /// Its component instances, in model order.
    pub instances: Vec<GraphInstance>,
}

/// A component instance of an actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphInstance {
    /// Its name.
    pub name: String,
    /// Its component type.
    pub component: String,
    /// Its ports, in model order.
    pub ports: Vec<GraphPort>,
}

/// A port of a component instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphPort {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: PortKind,
    /// How far its messages travel.
    pub scope: Scope,
}

/// One port of one instance of one actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRef {
    /// The actor.
    pub actor: String,
    /// The instance.
    pub instance: String,
    /// The port.
    pub port: String,
}

/// Messages going from a `pub`, `req`, `clt` or `qry` port to a matching `sub`, `rep`, `srv`
/// or `ans` port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphFlow {
    /// The sending port.
    pub from: PortRef,
    /// The receiving port.
    pub to: PortRef,
    /// The scope both ends share.
    pub scope: Scope,
}

impl AppGraph {
    /// The graph of `app`.
    pub fn of(app: &App) -> AppGraph {
        let actors = app
            .actors
            .iter()
            .map(|actor| GraphActor {
                name: actor.name.name.clone(),
                instances: actor
                    .instances
                    .iter()
                    .map(|instance| GraphInstance {
                        name: instance.name.name.clone(),
                        component: instance.component.name.clone(),
                        ports: app
                            .component(&instance.component.name)
                            .map(|c| describe_ports(c, Some(actor)))
                            .unwrap_or_default()
                            .into_iter()
                            .map(|p| GraphPort { name: p.name, kind: p.kind, scope: p.scope })
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let at = |end: &End<'_>| PortRef {
            actor: end.actor.name.name.clone(),
            instance: end.instance.name.name.clone(),
            port: end.port.name.clone(),
        };
        let flows =
            flows(app).iter().map(|f| GraphFlow { from: at(&f.from), to: at(&f.to), scope: f.scope() }).collect();
        AppGraph { actors, flows }
    }
}
