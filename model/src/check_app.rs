//! Semantic checks of an application model: every reference resolves, names are unique, scopes
//! are consistent, group timings are ordered and instance arguments match component parameters.
//!
//! These are RIAPS's own checks plus the ones RIAPS leaves to run time (or never makes); see
//! `docs/model.md` for the list and where Cohort is stricter than RIAPS.

use crate::ast::{
    Actor, ActualValue, App, Component, Formal, Group, Ident, Model, PortMessages, Usage, GROUP_PARAM_DEFAULTS,
};
use crate::descriptor::Scope;
use crate::diagnostic::Diagnostic;
use crate::literal::Value;
use crate::names::{report_duplicates, with_suggestion};
use crate::source::Span;
use std::collections::HashSet;

/// Checks a parsed model; returns every error and warning found.
pub fn check_app_model(model: &Model, end_of_file: usize) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if model.apps.is_empty() {
        diagnostics.push(
            Diagnostic::error(Span::at(end_of_file), "this file declares no application")
                .with_help("a model file holds at least one `app Name { ... }`"),
        );
    }
    report_duplicates(model.apps.iter().map(|a| &a.name), "app", " in this file", &mut diagnostics);
    for app in &model.apps {
        check_app(app, &mut diagnostics);
    }
    diagnostics
}

fn check_app(app: &App, d: &mut Vec<Diagnostic>) {
    report_duplicates(&app.messages, "message", "", d);
    report_duplicates(app.groups.iter().map(|g| &g.name), "group", "", d);
    report_duplicates(&app.libraries, "library", "", d);
    report_duplicates(app.components.iter().map(|c| &c.name), "component", "", d);
    report_duplicates(app.actors.iter().map(|a| &a.name), "actor", "", d);
    let messages = MessageNames(app.messages.iter().map(|m| m.name.as_str()).collect());
    for group in &app.groups {
        messages.resolve(&group.message, d);
        check_group(group, d);
    }
    for component in &app.components {
        check_component(component, &messages, d);
    }
    for actor in &app.actors {
        check_actor(app, actor, &messages, d);
    }
}

struct MessageNames<'a>(HashSet<&'a str>);

impl MessageNames<'_> {
    fn resolve(&self, name: &Ident, d: &mut Vec<Diagnostic>) {
        if !self.0.contains(name.name.as_str()) {
            let error = Diagnostic::error(name.span, format!("unknown message type `{}`", name.name));
            d.push(
                with_suggestion(error, &name.name, self.0.iter().copied())
                    .with_help_if_none(format!("declare it in the app with `message {};`", name.name)),
            );
        }
    }
}

fn check_group(group: &Group, d: &mut Vec<Diagnostic>) {
    report_duplicates(
        group.params.iter().map(|p| &p.name),
        "parameter",
        &format!(" in group `{}`", group.name.name),
        d,
    );
    for param in &group.params {
        if param.value <= 0 {
            d.push(Diagnostic::error(
                param.value_span,
                format!("`{}` must be a positive number of milliseconds", param.name.name),
            ));
        }
    }
    // The value in force for each parameter, and where it was written (None: the default).
    let value = |name: &str| -> (i64, Option<Span>) {
        match group.params.iter().rev().find(|p| p.name.name == name) {
            Some(p) => (p.value, Some(p.value_span)),
            None => (GROUP_PARAM_DEFAULTS.iter().find(|(n, _)| *n == name).map_or(0, |(_, v)| *v), None),
        }
    };
    let order = [
        ("heartbeat", "electionMin"),
        ("electionMin", "electionMax"),
        ("electionMax", "peerTimeout"),
        ("consensusTimeout", "electionMax"),
    ];
    for (smaller, larger) in order {
        let (small, small_at) = value(smaller);
        let (large, large_at) = value(larger);
        if small < large {
            continue;
        }
        let at = small_at.or(large_at).unwrap_or(group.name.span);
        let shown = |name: &str, v: i64, at: Option<Span>| {
            if at.is_some() {
                format!("{name} = {v}")
            } else {
                format!("{name} = {v} (the default)")
            }
        };
        d.push(
            Diagnostic::error(
                at,
                format!(
                    "group `{}`: {smaller} must be less than {larger}, but {} and {}",
                    group.name.name,
                    shown(smaller, small, small_at),
                    shown(larger, large, large_at)
                ),
            )
            .with_help("group timings must satisfy heartbeat < electionMin < electionMax < peerTimeout and consensusTimeout < electionMax"),
        );
    }
}

fn check_component(component: &Component, messages: &MessageNames<'_>, d: &mut Vec<Diagnostic>) {
    let scope = format!(" in `{}`", component.name.name);
    report_duplicates(component.formals.iter().map(|f| &f.name), "parameter", &scope, d);
    report_duplicates(component.ports.iter().map(|p| &p.name), "port", &scope, d);
    for port in &component.ports {
        if let PortMessages::Pair { request, reply, span } = &port.messages {
            for (slot, which) in [(request, "request"), (reply, "reply")] {
                if slot.is_none() {
                    d.push(
                        Diagnostic::error(*span, format!("port `{}` has no {which} message type", port.name.name))
                            .with_help(format!(
                                "write both types: `{} {} : (Request, Reply);`",
                                port.kind.keyword(),
                                port.name.name
                            )),
                    );
                }
            }
        }
        for message in port.message_names() {
            messages.resolve(message, d);
        }
        for time in [&port.period, &port.deadline].into_iter().flatten() {
            if time.amount < 0 {
                d.push(Diagnostic::error(time.span, "a time may not be negative"));
            }
        }
    }
}

fn check_actor(app: &App, actor: &Actor, messages: &MessageNames<'_>, d: &mut Vec<Diagnostic>) {
    let scope = format!(" in actor `{}`", actor.name.name);
    report_duplicates(actor.formals.iter().map(|f| &f.name), "parameter", &scope, d);
    report_duplicates(actor.instances.iter().map(|i| &i.name), "instance", &scope, d);
    report_duplicates(&actor.locals, "local message", &scope, d);
    report_duplicates(&actor.internals, "internal message", &scope, d);
    for name in actor.locals.iter().chain(&actor.internals) {
        messages.resolve(name, d);
    }
    for internal in &actor.internals {
        if let Some(local) = actor.locals.iter().find(|l| l.name == internal.name) {
            d.push(
                Diagnostic::error(
                    internal.span,
                    format!("message `{}` is both local and internal in actor `{}`", internal.name, actor.name.name),
                )
                .with_note(local.span, "declared local here")
                .with_help(
                    "a message type is either local (stays on the host) or internal (stays in the actor), not both",
                ),
            );
        }
    }
    check_usage(actor, d);
    let scope_of = |m: &str| Scope::of_message(m, &actor.locals, &actor.internals);
    for instance in &actor.instances {
        let Some(component) = app.component(&instance.component.name) else {
            let error =
                Diagnostic::error(instance.component.span, format!("unknown component `{}`", instance.component.name));
            d.push(with_suggestion(
                error,
                &instance.component.name,
                app.components.iter().map(|c| c.name.name.as_str()),
            ));
            continue;
        };
        check_actuals(actor, instance, component, d);
        for port in &component.ports {
            let names = port.message_names();
            if component.is_device {
                for message in names.iter().filter(|m| scope_of(&m.name) == Scope::Global) {
                    d.push(
                        Diagnostic::error(
                            instance.name.span,
                            format!(
                                "device instance `{}` uses message `{}` (port `{}`), which is not local or internal in actor `{}`",
                                instance.name.name, message.name, port.name.name, actor.name.name
                            ),
                        )
                        .with_note(message.span, "used here")
                        .with_help(format!("add `{}` to the actor's `local` (or `internal`) list", message.name)),
                    );
                }
            }
            if let [request, reply] = names.as_slice() {
                let (rq, rp) = (scope_of(&request.name), scope_of(&reply.name));
                if rq != rp {
                    d.push(
                        Diagnostic::error(
                            instance.name.span,
                            format!(
                                "port `{}` of `{}` pairs {} request `{}` with {} reply `{}` in actor `{}`",
                                port.name.name,
                                instance.name.name,
                                article(rq.name()),
                                request.name,
                                article(rp.name()),
                                reply.name,
                                actor.name.name
                            ),
                        )
                        .with_note(port.name.span, "port declared here")
                        .with_help("both message types of a port must have the same scope in the actor"),
                    );
                }
            }
        }
    }
}

fn check_usage(actor: &Actor, d: &mut Vec<Diagnostic>) {
    let mut seen: Vec<&Usage> = Vec::new();
    for usage in &actor.usage {
        if let Some(first) = seen.iter().find(|u| u.keyword() == usage.keyword()) {
            d.push(
                Diagnostic::error(
                    usage.span(),
                    format!("`{}` is given twice in actor `{}`", usage.keyword(), actor.name.name),
                )
                .with_note(first.span(), "first given here"),
            );
        }
        seen.push(usage);
        let negative = match usage {
            Usage::Cpu { percent, interval, .. } => *percent < 0 || interval.is_some_and(|i| i.amount < 0),
            Usage::Mem { amount, .. } | Usage::Space { amount, .. } => *amount < 0,
            Usage::Net { rate, ceil, burst, .. } => {
                rate.0 < 0.0 || ceil.is_some_and(|c| c.0 < 0.0) || burst.is_some_and(|b| b < 0.0)
            }
        };
        if negative {
            d.push(Diagnostic::error(usage.span(), format!("`{}` limits may not be negative", usage.keyword())));
        }
    }
}

fn check_actuals(actor: &Actor, instance: &crate::ast::Instance, component: &Component, d: &mut Vec<Diagnostic>) {
    report_duplicates(
        instance.actuals.iter().map(|a| &a.name),
        "argument",
        &format!(" for `{}`", instance.name.name),
        d,
    );
    for actual in &instance.actuals {
        let Some(formal) = component.formals.iter().find(|f| f.name.name == actual.name.name) else {
            let error = Diagnostic::error(
                actual.name.span,
                format!("`{}` has no parameter `{}`", component.name.name, actual.name.name),
            );
            d.push(
                with_suggestion(error, &actual.name.name, component.formals.iter().map(|f| f.name.name.as_str()))
                    .with_help_if_none(format!(
                        "`{}` takes {}",
                        component.name.name,
                        describe_formals(&component.formals)
                    )),
            );
            continue;
        };
        match &actual.value {
            ActualValue::Literal(lit) => {
                if let Some(default) = &formal.default {
                    if !lit.value.fits(&default.value) {
                        d.push(type_mismatch(lit.span, &actual.name.name, &lit.value, formal, &default.value));
                    }
                }
            }
            ActualValue::Param(param) => match actor.formals.iter().find(|f| f.name.name == param.name) {
                None => {
                    let error = Diagnostic::error(
                        param.span,
                        format!("actor `{}` has no parameter `{}`", actor.name.name, param.name),
                    );
                    d.push(
                        with_suggestion(error, &param.name, actor.formals.iter().map(|f| f.name.name.as_str()))
                            .with_help_if_none(
                                "a bare name as a value refers to a parameter of the actor; quote it to pass a string"
                                    .to_string(),
                            ),
                    );
                }
                Some(actor_formal) => {
                    if let (Some(given), Some(default)) = (&actor_formal.default, &formal.default) {
                        if !given.value.fits(&default.value) {
                            d.push(Diagnostic::warning(
                                param.span,
                                format!(
                                    "`{}` is {} by default, but `{}` expects {} (its default is {})",
                                    param.name,
                                    article(given.value.type_name()),
                                    actual.name.name,
                                    article(default.value.type_name()),
                                    render_value(&default.value)
                                ),
                            ));
                        }
                    }
                }
            },
        }
    }
    for formal in component.formals.iter().filter(|f| f.default.is_none()) {
        if !instance.actuals.iter().any(|a| a.name.name == formal.name.name) {
            d.push(
                Diagnostic::error(
                    instance.name.span,
                    format!(
                        "instance `{}` does not set `{}`, a parameter of `{}` without a default",
                        instance.name.name, formal.name.name, component.name.name
                    ),
                )
                .with_note(formal.name.span, "parameter declared here"),
            );
        }
    }
}

/// An error for a value whose type does not match the default of the formal it sets.
fn type_mismatch(at: Span, name: &str, value: &Value, formal: &Formal, default: &Value) -> Diagnostic {
    Diagnostic::error(at, mismatch_message(name, value, default))
        .with_note(formal.name.span, format!("its default is {}", render_value(default)))
}

/// "`name` expects a float, found a string".
pub(crate) fn mismatch_message(name: &str, value: &Value, default: &Value) -> String {
    format!("`{name}` expects {}, found {}", article(default.type_name()), article(value.type_name()))
}

fn article(word: &str) -> String {
    match word {
        "integer" | "internal" => format!("an {word}"),
        other => format!("a {other}"),
    }
}

/// A value as it would be written in a model.
pub(crate) fn render_value(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
    }
}

/// "parameters `a`, `b`" or "no parameters".
pub(crate) fn describe_formals(formals: &[Formal]) -> String {
    if formals.is_empty() {
        return "no parameters".to_string();
    }
    let names: Vec<String> = formals.iter().map(|f| format!("`{}`", f.name.name)).collect();
    format!("parameters {}", names.join(", "))
}
