//! What is generated for an app, with every Rust name decided: derived once from the checked
//! model, then turned into code by [`crate::emit`].

use std::collections::HashMap;

use cohort_model::ast::{App, Component, PortKind};
use cohort_model::SourceFile;

use crate::decl::{self, End, Quote};
use crate::names::{escape, snake_case, Names, RustName};
use crate::params::{param_type, ParamType};

/// The provided methods of every generated `Component` trait, which no port handler may take.
pub(crate) const PROVIDED_METHODS: [&str; 9] = [
    "new",
    "on_activate",
    "on_deactivate",
    "on_passivate",
    "on_deadline_missed",
    "on_group",
    "on_nic_state",
    "on_peer_state",
    "on_limit",
];

/// Top-level modules of the generated file, which no component module may take.
pub(crate) const TOP_MODULES: [&str; 2] = ["messages", "groups"];

/// An app, ready to be written out.
#[derive(Debug, Clone)]
pub(crate) struct AppPlan {
    /// The model's name of the app.
    pub(crate) name: String,
    /// `app Name { ... }`.
    pub(crate) quote: Quote,
    /// Every `message`, model order.
    pub(crate) messages: Vec<MessagePlan>,
    /// Every `group`, model order.
    pub(crate) groups: Vec<GroupPlan>,
    /// Every component and device type, model order.
    pub(crate) components: Vec<ComponentPlan>,
}

/// One message type.
#[derive(Debug, Clone)]
pub(crate) struct MessagePlan {
    /// The model's name, the message's `NAME`.
    pub(crate) model_name: String,
    /// The user's type name (the model's spelling, escaped).
    pub(crate) rust: RustName,
    /// `message M;`.
    pub(crate) quote: Quote,
}

/// One group type.
#[derive(Debug, Clone)]
pub(crate) struct GroupPlan {
    /// The model's name, the group's `NAME`.
    pub(crate) model_name: String,
    /// The generated unit struct's name (the model's spelling, escaped).
    pub(crate) rust: RustName,
    /// The message type members exchange.
    pub(crate) message: RustName,
    /// `group G ... using M;`.
    pub(crate) quote: Quote,
}

/// One component or device type.
#[derive(Debug, Clone)]
pub(crate) struct ComponentPlan {
    /// The model's type name, `Generated::TYPE`.
    pub(crate) model_name: String,
    /// Declared with `device`.
    pub(crate) is_device: bool,
    /// The user's type name under the components path (the model's spelling, escaped).
    pub(crate) type_name: RustName,
    /// The generated module (snake case).
    pub(crate) module: RustName,
    /// `component Name (...) { ... }`.
    pub(crate) quote: Quote,
    /// Every port, model order (so a port's position is its model index).
    pub(crate) ports: Vec<PortPlan>,
    /// Every formal, model order.
    pub(crate) params: Vec<ParamPlan>,
}

/// One port of a component.
#[derive(Debug, Clone)]
pub(crate) struct PortPlan {
    /// The port's model index: its position among the component's ports, timers included.
    pub(crate) index: usize,
    /// The model's name of the port.
    pub(crate) model_name: String,
    /// The port's kind.
    pub(crate) kind: PortKind,
    /// Its field in `Ports`; none for timers, which have no handle.
    pub(crate) field: Option<RustName>,
    /// Its handler in `Component`; none for ports that only send (`pub`, `clt`).
    pub(crate) handler: Option<RustName>,
    /// The model's names of its message types, request first.
    pub(crate) message_names: Vec<String>,
    /// The Rust names of its message types, request first.
    pub(crate) message_types: Vec<RustName>,
    /// The port's declaration.
    pub(crate) quote: Quote,
    /// A timer with a period (a sporadic timer ticks only when the component starts it).
    pub(crate) periodic: bool,
}

/// One component parameter.
#[derive(Debug, Clone)]
pub(crate) struct ParamPlan {
    /// The formal's name in the model, which `from_args` asks the arguments for.
    pub(crate) model_name: String,
    /// The field of `Params`.
    pub(crate) field: RustName,
    /// Its type.
    pub(crate) ty: ParamType,
    /// Whether the formal has a default (which then gave the type).
    pub(crate) has_default: bool,
    /// `name` or `name = default`.
    pub(crate) quote: Quote,
}

/// Whether a port of this kind has a handler in the `Component` trait.
pub(crate) fn has_handler(kind: PortKind) -> bool {
    !matches!(kind, PortKind::Pub | PortKind::Clt)
}

/// Decides every name of the code for `app`.
pub(crate) fn plan(app: &App, source: &SourceFile) -> AppPlan {
    let mut message_names = Names::default();
    let messages: Vec<MessagePlan> = app
        .messages
        .iter()
        .map(|m| MessagePlan {
            model_name: m.name.clone(),
            rust: message_names.claim(&m.name),
            quote: decl::declaration(source, m.span, End::Semicolon),
        })
        .collect();
    let message_types: HashMap<&str, &RustName> = messages.iter().map(|m| (m.model_name.as_str(), &m.rust)).collect();
    // The checks guarantee every message a port or group names is declared; if one were not, its
    // escaped name still makes code that names the problem when compiled.
    let message_type = |name: &str| message_types.get(name).map_or_else(|| escape(name), |r| (*r).clone());

    let mut group_names = Names::default();
    let groups = app
        .groups
        .iter()
        .map(|g| GroupPlan {
            model_name: g.name.name.clone(),
            rust: group_names.claim(&g.name.name),
            message: message_type(&g.message.name),
            quote: decl::declaration(source, g.name.span, End::Semicolon),
        })
        .collect();

    let mut modules = Names::with_reserved(&TOP_MODULES);
    let mut type_names = Names::default();
    let components = app
        .components
        .iter()
        .map(|c| ComponentPlan {
            model_name: c.name.name.clone(),
            is_device: c.is_device,
            type_name: type_names.claim(&c.name.name),
            module: modules.claim(&snake_case(&c.name.name)),
            quote: decl::declaration(source, c.name.span, End::Body),
            ports: plan_ports(c, source, &message_type),
            params: plan_params(app, c, source),
        })
        .collect();

    AppPlan {
        name: app.name.name.clone(),
        quote: decl::declaration(source, app.name.span, End::Body),
        messages,
        groups,
        components,
    }
}

/// The ports of a component. Port names are given out over all ports, timers included, so a
/// field and its handler always carry the same number (`clock_2`, `on_clock_2`).
fn plan_ports(c: &Component, source: &SourceFile, message_type: &dyn Fn(&str) -> RustName) -> Vec<PortPlan> {
    let mut port_names = Names::default();
    let mut methods = Names::with_reserved(&PROVIDED_METHODS);
    c.ports
        .iter()
        .enumerate()
        .map(|(index, port)| {
            let snake = snake_case(&port.name.name);
            let name = port_names.claim(&snake);
            let handler = has_handler(port.kind).then(|| {
                // `on_crate` for port `crate` (field `crate_`), `on_my_port_2` for field
                // `my_port_2`, `on_incoming` for port `_incoming` (`on__incoming` is not snake case).
                let stem = if name.bare == escape(&snake).bare { snake.as_str() } else { name.bare.as_str() };
                let wanted = format!("on_{}", stem.trim_start_matches('_'));
                if PROVIDED_METHODS.contains(&wanted.as_str()) {
                    methods.claim(&format!("{wanted}_port"))
                } else {
                    methods.claim(&wanted)
                }
            });
            let names = port.message_names();
            PortPlan {
                index,
                model_name: port.name.name.clone(),
                kind: port.kind,
                field: (port.kind != PortKind::Timer).then_some(name),
                handler,
                message_names: names.iter().map(|m| m.name.clone()).collect(),
                message_types: names.iter().map(|m| message_type(&m.name)).collect(),
                quote: decl::declaration(source, port.name.span, End::Semicolon),
                periodic: port.kind == PortKind::Timer && port.period.is_some(),
            }
        })
        .collect()
}

/// The parameters of a component.
fn plan_params(app: &App, c: &Component, source: &SourceFile) -> Vec<ParamPlan> {
    let mut fields = Names::default();
    c.formals
        .iter()
        .map(|formal| {
            let end = formal.default.as_ref().map_or(formal.name.span.end, |d| d.span.end);
            ParamPlan {
                model_name: formal.name.name.clone(),
                field: fields.claim(&snake_case(&formal.name.name)),
                ty: param_type(app, c, formal),
                has_default: formal.default.is_some(),
                quote: decl::text_of(source, cohort_model::Span::new(formal.name.span.start, end)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::compile_app_model;

    fn plan_of(text: &str) -> AppPlan {
        let compiled = compile_app_model(text);
        let model = match compiled.value {
            Some(model) => model,
            None => panic!("bad test model: {:?}", compiled.diagnostics),
        };
        plan(&model.apps[0], &SourceFile::new("m.riaps", text))
    }

    #[test]
    fn ports_get_fields_and_handlers_by_kind() {
        let p = plan_of(
            "app A { message M; message Q; message R;
               component C { timer clock 1000; pub out : M; sub inp : M; clt c : (Q, R); srv s : (Q, R);
                             req rq : (Q, R); rep rp : (Q, R); qry qy : (Q, R); ans an : (Q, R); inside i; }
               actor X { { c : C; } } }",
        );
        let ports = &p.components[0].ports;
        let summary: Vec<(usize, Option<String>, Option<String>)> = ports
            .iter()
            .map(|p| (p.index, p.field.as_ref().map(RustName::text), p.handler.as_ref().map(RustName::text)))
            .collect();
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            summary,
            [
                (0, None, s("on_clock")),
                (1, s("out"), None),
                (2, s("inp"), s("on_inp")),
                (3, s("c"), None),
                (4, s("s"), s("on_s")),
                (5, s("rq"), s("on_rq")),
                (6, s("rp"), s("on_rp")),
                (7, s("qy"), s("on_qy")),
                (8, s("an"), s("on_an")),
                (9, s("i"), s("on_i")),
            ]
        );
        assert_eq!(ports[3].message_names, ["Q", "R"]);
    }

    #[test]
    fn a_handler_named_like_a_provided_method_gets_port_appended() {
        let p = plan_of(
            "app A { message M;
               component C { sub activate : M; sub activatePort : M; timer group; sub deadlineMissed : M;
                 timer nicState; sub peer_state : M; }
               actor X { { c : C; } } }",
        );
        let handlers: Vec<String> =
            p.components[0].ports.iter().filter_map(|p| p.handler.as_ref().map(RustName::text)).collect();
        assert_eq!(
            handlers,
            [
                "on_activate_port",
                "on_activate_port_2",
                "on_group_port",
                "on_deadline_missed_port",
                "on_nic_state_port",
                "on_peer_state_port"
            ]
        );
    }

    #[test]
    fn names_that_collide_after_snake_case_are_numbered_in_model_order() {
        let p = plan_of(
            "app A { message M;
               component Messages (myArg = 1, my_arg = 2, type = 3) { sub myPort : M; timer my_port; pub MyPort : M; }
               component messages_ { pub p : M; }
               device Groups { pub p : M; }
               actor X { local M; { c : Messages; d : messages_; e : Groups; } } }",
        );
        let c = &p.components[0];
        assert_eq!(c.module.text(), "messages_2");
        assert_eq!(p.components[1].module.text(), "messages_");
        assert_eq!(p.components[2].module.text(), "groups_2");
        assert!(p.components[2].is_device);
        let fields: Vec<Option<String>> = c.ports.iter().map(|p| p.field.as_ref().map(RustName::text)).collect();
        assert_eq!(fields, [Some("my_port".to_owned()), None, Some("my_port_3".to_owned())]);
        let handlers: Vec<Option<String>> = c.ports.iter().map(|p| p.handler.as_ref().map(RustName::text)).collect();
        assert_eq!(handlers, [Some("on_my_port".to_owned()), Some("on_my_port_2".to_owned()), None]);
        let params: Vec<String> = c.params.iter().map(|p| p.field.text()).collect();
        assert_eq!(params, ["my_arg", "my_arg_2", "r#type"]);
    }

    #[test]
    fn quotes_point_at_the_declared_names() {
        let p = plan_of("app A {\n  message M;\n  component C (a = \"x\") {\n    pub p : M; // out\n  }\n  actor X { { c : C; } }\n}");
        assert_eq!(p.quote.text, "app A { ... }");
        assert_eq!(p.messages[0].quote.doc(), "`message M;` (m.riaps:2:11)");
        assert_eq!(p.components[0].quote.doc(), "`component C (a = \"x\") { ... }` (m.riaps:3:13)");
        assert_eq!(p.components[0].ports[0].quote.doc(), "`pub p : M;` (m.riaps:4:9)");
        assert_eq!(p.components[0].params[0].quote.doc(), "`a = \"x\"` (m.riaps:3:16)");
    }
}
