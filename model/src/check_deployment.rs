//! Checks of a deployment: on its own (unique host blocks and arguments), and against the app
//! model it deploys (known actors, known parameters, required parameters set, matching types,
//! the types of actor arguments passed on to components, and each actor at most once on a host).

use crate::ast::{Actor, ActualValue, App};
use crate::check_app::{describe_formals, mismatch_message, render_value};
use crate::deployment::{ActorPlacement, Deployment, DeploymentValue, HostTarget, Location};
use crate::diagnostic::Diagnostic;
use crate::literal::Value;
use crate::names::{report_duplicates, with_suggestion};
use crate::source::Span;

/// Checks a deployment on its own.
pub fn check_deployment(deployment: &Deployment) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let mut seen: Vec<(&HostTarget, crate::source::Span)> = Vec::new();
    for block in &deployment.hosts {
        let key = |t: &HostTarget| match t {
            HostTarget::All => "all".to_string(),
            HostTarget::Host(h) => h.name.clone(),
        };
        if let Some((_, first)) = seen.iter().find(|(t, _)| key(t) == key(&block.target)) {
            d.push(
                Diagnostic::error(block.span, format!("host `{}` has two `host` blocks", key(&block.target)))
                    .with_note(*first, "first block here")
                    .with_help("merge the network entries into one block"),
            );
        }
        seen.push((&block.target, block.span));
    }
    for placement in &deployment.placements {
        report_duplicates(placement.actors.iter().map(|a| &a.name), "actor", " on this line", &mut d);
        for actor in &placement.actors {
            report_duplicates(
                actor.actuals.iter().map(|a| &a.name),
                "argument",
                &format!(" for `{}`", actor.name.name),
                &mut d,
            );
        }
    }
    d
}

/// Checks a deployment against the app model it deploys: everything an app's `run` would find
/// about it before starting an actor, for every placement on every host.
///
/// Beyond known actors and parameters, required parameters and their types, this checks the
/// values actor parameters pass on to component instances (`c : C(x = param)`) against the
/// component's formals, and that no actor is placed twice on one host. RIAPS accepts a
/// deployment that places an actor twice on a host and starts it there only once, silently
/// dropping a placement; Cohort rejects it here. [`check_deployment`], and so
/// [`compile_deployment`](crate::compile_deployment), accept it, so that the JSON stays
/// RIAPS's. Hosts are compared as written: `10.0.0.1` and the name of the same machine are two
/// hosts to this check.
pub fn check_deployment_against(deployment: &Deployment, app: &App) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    if deployment.app.name != app.name.name {
        d.push(Diagnostic::error(
            deployment.app.span,
            format!(
                "this deployment is for app `{}`, but the model declares app `{}`",
                deployment.app.name, app.name.name
            ),
        ));
        return d;
    }
    for placed in deployment.placements.iter().flat_map(|p| &p.actors) {
        let Some(actor) = app.actor(&placed.name.name) else {
            let error = Diagnostic::error(
                placed.name.span,
                format!("app `{}` has no actor `{}`", app.name.name, placed.name.name),
            );
            d.push(with_suggestion(error, &placed.name.name, app.actors.iter().map(|a| a.name.name.as_str())));
            continue;
        };
        check_arguments(placed, actor, app, &mut d);
    }
    check_placed_once(deployment, app, &mut d);
    d
}

/// The arguments of one placement of `actor`: each names a formal and fits its type, every
/// formal without a default is set, and the values passed on to component instances fit the
/// components' formals.
fn check_arguments(placed: &ActorPlacement, actor: &Actor, app: &App, d: &mut Vec<Diagnostic>) {
    for actual in &placed.actuals {
        let Some(formal) = actor.formals.iter().find(|f| f.name.name == actual.name.name) else {
            let error = Diagnostic::error(
                actual.name.span,
                format!("actor `{}` has no parameter `{}`", actor.name.name, actual.name.name),
            );
            let error = with_suggestion(error, &actual.name.name, actor.formals.iter().map(|f| f.name.name.as_str()));
            d.push(error.with_help_if_none(format!(
                "`{}` takes {}",
                actor.name.name,
                describe_formals(&actor.formals)
            )));
            continue;
        };
        let (value, span) = deployment_value(&actual.value);
        if let Some(default) = &formal.default {
            if !value.fits(&default.value) {
                // The formal is in the app model, another file, so its default goes in the
                // help rather than in a note pointing into this one.
                d.push(Diagnostic::error(span, mismatch_message(&actual.name.name, &value, &default.value)).with_help(
                    format!(
                        "`{}` of actor `{}` defaults to {}",
                        formal.name.name,
                        actor.name.name,
                        render_value(&default.value)
                    ),
                ));
            }
        }
    }
    for formal in actor.formals.iter().filter(|f| f.default.is_none()) {
        if !placed.actuals.iter().any(|a| a.name.name == formal.name.name) {
            d.push(
                Diagnostic::error(
                    placed.name.span,
                    format!(
                        "actor `{}` needs a value for `{}`, which has no default",
                        actor.name.name, formal.name.name
                    ),
                )
                .with_help(format!("write `{}({} = ...)`", actor.name.name, formal.name.name)),
            );
        }
    }
    check_passed_on(placed, actor, app, d);
}

/// Where the value of an actor formal comes from, for one placement.
enum Source {
    /// The placement's argument, written at this span.
    Deployment(Span),
    /// The formal's default, in the model.
    Default,
}

/// The values that the actor's instances receive from actor formals (`c : C(x = param)`) must
/// fit the component formals they set. The model checks see only the actor formal's default (a
/// mismatch there is a warning); the placement decides the value, as `run` resolves it: the
/// placement's argument (an integer given for a float formal becomes a float), else the
/// default. Arguments that are wrong themselves are reported above, not again here.
fn check_passed_on(placed: &ActorPlacement, actor: &Actor, app: &App, d: &mut Vec<Diagnostic>) {
    let value_of = |name: &str| -> Option<(Value, Source)> {
        let formal = actor.formals.iter().find(|f| f.name.name == name)?;
        match placed.actuals.iter().find(|a| a.name.name == name) {
            Some(actual) => {
                let (value, span) = deployment_value(&actual.value);
                match formal.default.as_ref().map(|d| &d.value) {
                    None => Some((value, Source::Deployment(span))),
                    Some(default) if !value.fits(default) => None,
                    Some(Value::Float(_)) => match value {
                        Value::Int(i) => Some((Value::Float(i as f64), Source::Deployment(span))),
                        value => Some((value, Source::Deployment(span))),
                    },
                    Some(_) => Some((value, Source::Deployment(span))),
                }
            }
            None => formal.default.as_ref().map(|d| (d.value.clone(), Source::Default)),
        }
    };
    for instance in &actor.instances {
        let Some(component) = app.component(&instance.component.name) else { continue };
        for actual in &instance.actuals {
            let ActualValue::Param(param) = &actual.value else { continue };
            let Some(formal) = component.formals.iter().find(|f| f.name.name == actual.name.name) else { continue };
            let Some(default) = &formal.default else { continue };
            let Some((value, source)) = value_of(&param.name) else { continue };
            if value.fits(&default.value) {
                continue;
            }
            let expects = format!(
                "`{}` of component `{}` (instance `{}`) expects {}, found {} ({})",
                formal.name.name,
                component.name.name,
                instance.name.name,
                article(default.value.type_name()),
                article(value.type_name()),
                render_value(&value)
            );
            let defaults = format!(
                "`{}` of component `{}` defaults to {}",
                formal.name.name,
                component.name.name,
                render_value(&default.value)
            );
            d.push(match source {
                Source::Deployment(span) => {
                    Diagnostic::error(span, format!("{expects}, the value of actor parameter `{}`", param.name))
                        .with_help(format!(
                            "actor `{}` passes `{}` to `{}` of instance `{}`, and {defaults}",
                            actor.name.name, param.name, formal.name.name, instance.name.name
                        ))
                }
                Source::Default => Diagnostic::error(
                    placed.name.span,
                    format!("{expects}, the default of actor parameter `{}`", param.name),
                )
                .with_help(format!(
                    "{defaults}; give `{}` of actor `{}` a default of that type in the model",
                    param.name, actor.name.name
                )),
            });
        }
    }
}

/// Where an earlier placement of an actor put it.
struct Earlier<'a> {
    /// The placement line's index.
    line: usize,
    location: &'a Location,
    /// The actor's name in that placement.
    span: Span,
}

/// An actor runs at most once on a host: no host is listed twice on one line, and no two
/// placements of one actor share a host (`on all` shares every host with any placement).
fn check_placed_once(deployment: &Deployment, app: &App, d: &mut Vec<Diagnostic>) {
    const HELP: &str = "an actor runs at most once on a host; keep one of these placements";
    let mut earlier: Vec<(&str, Earlier<'_>)> = Vec::new();
    for (line, placement) in deployment.placements.iter().enumerate() {
        if let Location::Hosts(hosts) = &placement.location {
            for (i, host) in hosts.iter().enumerate() {
                if let Some(first) = hosts[..i].iter().find(|h| h.name == host.name) {
                    d.push(
                        Diagnostic::error(host.span, format!("host `{}` is listed twice on this line", host.name))
                            .with_note(first.span, "first listed here")
                            .with_help("an actor runs at most once on a host; list each host once"),
                    );
                }
            }
        }
        for placed in &placement.actors {
            let name = placed.name.name.as_str();
            if app.actor(name).is_none() {
                continue;
            }
            // Placements on the same line are duplicates that `check_deployment` reports.
            let before: Vec<&Earlier<'_>> =
                earlier.iter().filter(|(n, e)| *n == name && e.line != line).map(|(_, e)| e).collect();
            let mut shared = Shared::None;
            let mut notes = Vec::new();
            for e in &before {
                let here = overlap(e.location, &placement.location);
                if here == Shared::None {
                    continue;
                }
                let what = if notes.is_empty() { "first placed" } else { "also placed" };
                let there = match e.location {
                    Location::All => Shared::Every,
                    Location::Hosts(_) => here.clone(),
                };
                notes.push((e.span, format!("{what} {} here", there.describe())));
                shared = shared.union(here);
            }
            if !notes.is_empty() {
                let mut error = Diagnostic::error(
                    placed.name.span,
                    format!("actor `{name}` is placed {} more than once", shared.describe()),
                );
                for (span, note) in notes {
                    error = error.with_note(span, note);
                }
                d.push(error.with_help(HELP));
            }
            earlier.push((name, Earlier { line, location: &placement.location, span: placed.name.span }));
        }
    }
}

/// The hosts two placements share.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shared {
    /// None.
    None,
    /// Every host: both are `on all`.
    Every,
    /// These hosts, each once, in the order first found.
    Hosts(Vec<String>),
}

impl Shared {
    /// These hosts, each once; none when the list is empty.
    fn hosts<'a>(names: impl IntoIterator<Item = &'a str>) -> Shared {
        let mut list: Vec<String> = Vec::new();
        for name in names {
            if !list.iter().any(|h| h == name) {
                list.push(name.to_owned());
            }
        }
        if list.is_empty() {
            Shared::None
        } else {
            Shared::Hosts(list)
        }
    }

    fn union(self, other: Shared) -> Shared {
        match (self, other) {
            (Shared::Every, _) | (_, Shared::Every) => Shared::Every,
            (Shared::None, other) | (other, Shared::None) => other,
            (Shared::Hosts(a), Shared::Hosts(b)) => Shared::hosts(a.iter().chain(&b).map(String::as_str)),
        }
    }

    /// "on host `h`", "on hosts `a`, `b`", "on every host".
    fn describe(&self) -> String {
        match self {
            Shared::Every => "on every host".to_owned(),
            Shared::Hosts(hosts) if hosts.len() == 1 => format!("on host `{}`", hosts[0]),
            Shared::Hosts(hosts) => {
                let names: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
                format!("on hosts {}", names.join(", "))
            }
            Shared::None => "nowhere".to_owned(),
        }
    }
}

/// The hosts an earlier placement at `a` and a later one at `b` both put an actor on.
fn overlap(a: &Location, b: &Location) -> Shared {
    match (a, b) {
        (Location::All, Location::All) => Shared::Every,
        (Location::All, Location::Hosts(hosts)) | (Location::Hosts(hosts), Location::All) => {
            Shared::hosts(hosts.iter().map(|h| h.name.as_str()))
        }
        (Location::Hosts(a), Location::Hosts(b)) => {
            Shared::hosts(b.iter().filter(|h| a.iter().any(|g| g.name == h.name)).map(|h| h.name.as_str()))
        }
    }
}

/// A deployment argument's value and where it is written; a bare name is a string, as in RIAPS.
fn deployment_value(value: &DeploymentValue) -> (Value, Span) {
    match value {
        DeploymentValue::Literal(lit) => (lit.value.clone(), lit.span),
        DeploymentValue::Name(name) => (Value::Str(name.name.clone()), name.span),
    }
}

/// "an integer", "a float".
fn article(type_name: &str) -> String {
    match type_name {
        "integer" => "an integer".to_owned(),
        other => format!("a {other}"),
    }
}
