//! `cohort graph`: an app as a Graphviz dot graph of actors, component instances and the
//! message flows between their ports.

use super::load::{accept, app_list, find_app, load};
use super::output::write_output;
use super::{Failure, GraphArgs};
use anyhow::anyhow;
use cohort_model::ast::{Actor, App, Instance, PortKind};
use cohort_model::flows::{flows, End, Flow};
use cohort_model::{compile_app_model, describe_ports, FileKind, MessageTypes, PortDescriptor, Scope};
use std::fmt::Write as _;

/// Draws the app of a model and writes the dot text.
pub(crate) fn run(args: &GraphArgs) -> Result<(), Failure> {
    let file = load(&args.file)?;
    let source = &file.source;
    if file.kind != FileKind::AppModel {
        return Err(anyhow!("{}: `cohort graph` draws an app model, give it a .riaps file", source.name).into());
    }
    let model = accept(compile_app_model(&source.text), source)?;
    let app = match (args.app.as_deref(), model.apps.as_slice()) {
        (Some(name), _) => find_app(&model, name, source)?,
        (None, [only]) => only,
        (None, _) => {
            let apps = app_list(&model);
            return Err(anyhow!("{} declares several apps ({apps}); pick one with --app NAME", source.name).into());
        }
    };
    write_output(&dot(app), args.output.as_deref())?;
    Ok(())
}

/// The dot text of an app: a cluster per actor, a record per instance with a field per port,
/// and an edge per message flow, attached to the ports it joins.
pub(crate) fn dot(app: &App) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "digraph {} {{", quote(&app.name.name));
    let _ = writeln!(out, "  label={};", quote(&format!("app {}", app.name.name)));
    out.push_str("  labelloc=t;\n  rankdir=LR;\n  node [shape=record];\n");
    for actor in &app.actors {
        let _ = writeln!(out, "\n  subgraph {} {{", quote(&format!("cluster_{}", actor.name.name)));
        let kind = if actor.real_time { "real-time actor" } else { "actor" };
        let _ = writeln!(out, "    label={};", quote(&format!("{kind} {}", actor.name.name)));
        for instance in &actor.instances {
            let id = node_id(&actor.name.name, &instance.name.name);
            let _ = writeln!(out, "    {id} [label=\"{}\"];", record_label(app, actor, instance));
        }
        out.push_str("  }\n");
    }
    let flows = flows(app);
    if !flows.is_empty() {
        out.push('\n');
    }
    for flow in &flows {
        let _ = writeln!(out, "  {}", edge(flow));
    }
    out.push_str("}\n");
    out
}

/// `instance : Component|<p_port> kind port : Type|...`, escaped for a record label.
fn record_label(app: &App, actor: &Actor, instance: &Instance) -> String {
    let component = app.component(&instance.component.name);
    let device = if component.is_some_and(|c| c.is_device) { " (device)" } else { "" };
    let mut fields = vec![record_text(&format!("{} : {}{device}", instance.name.name, instance.component.name))];
    for port in component.map(|c| describe_ports(c, Some(actor))).unwrap_or_default() {
        fields.push(format!("<{}> {}", record_text(&port_field(&port)), record_text(&port_text(&port))));
    }
    fields.join("|")
}

/// How a port is listed: kind, name and message types.
fn port_text(port: &PortDescriptor) -> String {
    let kind = port.kind.keyword();
    let name = &port.name;
    let timed = if port.timed { " timed" } else { "" };
    match (&port.messages, port.kind) {
        (_, PortKind::Timer) => match port.period {
            Some(period) => format!("timer {name} {} ms", period.as_millis()),
            None => format!("timer {name} (sporadic)"),
        },
        (MessageTypes::None, _) => format!("{kind} {name}"),
        (messages, _) => format!("{kind} {name} : {}{timed}", messages_text(messages)),
    }
}

/// `M` for one message type, `(Q, R)` for a request and reply pair.
fn messages_text(messages: &MessageTypes) -> String {
    match messages {
        MessageTypes::None => String::new(),
        MessageTypes::One(m) => m.clone(),
        MessageTypes::Pair { request, reply } => format!("({request}, {reply})"),
    }
}

/// `"Actor.instance":"p_port" -> ... [label=...]`, dashed when local, dotted when internal.
fn edge(flow: &Flow<'_>) -> String {
    let end =
        |e: &End<'_>| format!("{}:{}", node_id(&e.actor.name.name, &e.instance.name.name), quote(&port_field(&e.port)));
    let types = escape(&messages_text(&flow.from.port.messages));
    let (label, style) = match flow.scope() {
        Scope::Global => (types, ""),
        Scope::Local => (format!("{types}\\n(local)"), ", style=dashed"),
        Scope::Internal => (format!("{types}\\n(internal)"), ", style=dotted"),
    };
    format!("{} -> {} [label=\"{label}\"{style}];", end(&flow.from), end(&flow.to))
}

/// The node of an instance: `"Actor.instance"`.
fn node_id(actor: &str, instance: &str) -> String {
    quote(&format!("{actor}.{instance}"))
}

/// The record field of a port: `p_<name>`, kept apart from dot's compass points (`n`, `se`, ...).
fn port_field(port: &PortDescriptor) -> String {
    format!("p_{}", port.name)
}

/// A dot string literal.
fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// Text inside a dot string literal, shown as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text of a record field inside a dot string literal: record syntax characters are escaped too.
fn record_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '{' | '}' | '|' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::compile_app_model;

    const APP: &str = "app Demo { message Tick; message Q; message R;
        component Clock { timer t 2 sec; pub tick : Tick timed; qry ask : (Q, R); }
        component Show { sub tick : Tick; ans reply : (Q, R); inside worker; timer poke; }
        actor Source { { clock : Clock; } }
        actor Sink { local Q, R; { show : Show; } } }";

    fn demo() -> String {
        let model = compile_app_model(APP).value.unwrap();
        dot(&model.apps[0])
    }

    #[test]
    fn instances_are_records_with_a_field_per_port() {
        let dot = demo();
        assert!(dot.starts_with("digraph \"Demo\" {\n"), "{dot}");
        assert!(dot.contains("subgraph \"cluster_Source\" {"), "{dot}");
        assert!(dot.contains(
            "\"Source.clock\" [label=\"clock : Clock|<p_t> timer t 2000 ms|<p_tick> pub tick : Tick timed|<p_ask> qry ask : (Q, R)\"];"
        ), "{dot}");
        assert!(dot.contains("<p_worker> inside worker|<p_poke> timer poke (sporadic)"), "{dot}");
        assert!(dot.ends_with("}\n"));
    }

    #[test]
    fn edges_join_ports_and_skip_mismatched_scopes() {
        let dot = demo();
        assert!(dot.contains("\"Source.clock\":\"p_tick\" -> \"Sink.show\":\"p_tick\" [label=\"Tick\"];"), "{dot}");
        // (Q, R) is local in Sink but global in Source: the two ports never meet.
        assert!(!dot.contains("p_ask\" ->"), "{dot}");
    }

    #[test]
    fn record_syntax_and_quotes_are_escaped() {
        assert_eq!(record_text("a|b{c}<d> \"e\\"), "a\\|b\\{c\\}\\<d\\> \\\"e\\\\");
        assert_eq!(quote("say \"hi\""), "\"say \\\"hi\\\"\"");
    }
}
