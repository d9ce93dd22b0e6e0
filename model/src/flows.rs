//! The message flows of an app: which ports reach which, by RIAPS's discovery rules.
//!
//! A port's scope is the scope of its message types in the actor hosting it: `internal` when
//! listed there as internal, `local` when listed as local, else global. Discovery keys carry
//! the scope, so two ports only meet when their scopes are equal; internal ports also only
//! meet inside the same actor, and local ones only on the same host (which a model alone does
//! not tell, so local flows are drawn as possible ones).

use crate::ast::{Actor, App, Instance, PortKind};
use crate::{describe_ports, PortDescriptor, Scope};

/// One port of one component instance in one actor.
#[derive(Debug, Clone)]
pub struct End<'a> {
    /// The actor hosting the instance.
    pub actor: &'a Actor,
    /// The component instance.
    pub instance: &'a Instance,
    /// The port, as the instance in this actor has it.
    pub port: PortDescriptor,
}

/// Messages going from a publisher or client port to a subscriber or server port.
#[derive(Debug, Clone)]
pub struct Flow<'a> {
    /// The `pub`, `req`, `clt` or `qry` port.
    pub from: End<'a>,
    /// The matching `sub`, `rep`, `srv` or `ans` port.
    pub to: End<'a>,
}

impl Flow<'_> {
    /// The scope both ends share.
    pub fn scope(&self) -> Scope {
        self.from.port.scope
    }
}

/// Every port of every instance of the app, actor by actor.
pub fn ends(app: &App) -> Vec<End<'_>> {
    let mut ends = Vec::new();
    for actor in &app.actors {
        for instance in &actor.instances {
            // A valid model names only declared components; anything else simply has no ports.
            let ports = app.component(&instance.component.name).map(|c| describe_ports(c, Some(actor)));
            ends.extend(ports.unwrap_or_default().into_iter().map(|port| End { actor, instance, port }));
        }
    }
    ends
}

/// Every flow between the app's ports, in the order of the sending ports.
pub fn flows(app: &App) -> Vec<Flow<'_>> {
    let ends = ends(app);
    let mut flows = Vec::new();
    for from in ends.iter().filter(|e| is_sender(e.port.kind)) {
        for to in ends.iter().filter(|e| Some(e.port.kind) == from.port.kind.peer()) {
            let scope = from.port.scope;
            let same_actor = from.actor.name.name == to.actor.name.name;
            if from.port.messages == to.port.messages
                && scope == to.port.scope
                && (scope != Scope::Internal || same_actor)
            {
                flows.push(Flow { from: from.clone(), to: to.clone() });
            }
        }
    }
    flows
}

/// Whether a flow starts at this kind of port: publishers, and clients of a server.
fn is_sender(kind: PortKind) -> bool {
    matches!(kind, PortKind::Pub | PortKind::Req | PortKind::Clt | PortKind::Qry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile_app_model;

    /// `(from instance.port, to instance.port, scope)` of every flow.
    fn flow_list(text: &str) -> Vec<(String, String, Scope)> {
        let model = compile_app_model(text).value.unwrap();
        let at = |e: &End<'_>| format!("{}.{}.{}", e.actor.name.name, e.instance.name.name, e.port.name);
        flows(&model.apps[0]).iter().map(|f| (at(&f.from), at(&f.to), f.scope())).collect()
    }

    #[test]
    fn pub_sub_and_req_rep_connect_on_equal_types() {
        let flows = flow_list(
            "app A { message M; message N; message Q; message R;
               component P { pub out : M; req ask : (Q, R); timer t 100; }
               component S { sub inp : M; sub other : N; rep answer : (Q, R); rep wrong : (R, Q); }
               actor X { { p : P; } }
               actor Y { { s : S; } } }",
        );
        assert_eq!(
            flows,
            vec![
                ("X.p.out".to_string(), "Y.s.inp".to_string(), Scope::Global),
                ("X.p.ask".to_string(), "Y.s.answer".to_string(), Scope::Global),
            ]
        );
    }

    #[test]
    fn internal_flows_stay_inside_their_actor() {
        let flows = flow_list(
            "app A { message M;
               component P { pub out : M; }
               component S { sub inp : M; }
               actor X { internal M; { p : P; s : S; } }
               actor Y { internal M; { s : S; } } }",
        );
        assert_eq!(flows, vec![("X.p.out".to_string(), "X.s.inp".to_string(), Scope::Internal)]);
    }

    #[test]
    fn local_and_global_ends_do_not_meet() {
        let flows = flow_list(
            "app A { message M;
               component P { pub out : M; }
               component S { sub inp : M; }
               actor X { local M; { p : P; } }
               actor Y { { s : S; } }
               actor Z { local M; { s : S; } } }",
        );
        assert_eq!(flows, vec![("X.p.out".to_string(), "Z.s.inp".to_string(), Scope::Local)]);
    }
}
