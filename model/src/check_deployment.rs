//! Checks of a deployment: on its own (unique host blocks and arguments), and against the app
//! model it deploys (known actors, known parameters, required parameters set, matching types).

use crate::ast::App;
use crate::check_app::{describe_formals, mismatch_message, render_value};
use crate::deployment::{Deployment, DeploymentValue, HostTarget};
use crate::diagnostic::Diagnostic;
use crate::literal::Value;
use crate::names::{report_duplicates, with_suggestion};

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

/// Checks a deployment against the app model it deploys.
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
        for actual in &placed.actuals {
            let Some(formal) = actor.formals.iter().find(|f| f.name.name == actual.name.name) else {
                let error = Diagnostic::error(
                    actual.name.span,
                    format!("actor `{}` has no parameter `{}`", actor.name.name, actual.name.name),
                );
                let error =
                    with_suggestion(error, &actual.name.name, actor.formals.iter().map(|f| f.name.name.as_str()));
                d.push(error.with_help_if_none(format!(
                    "`{}` takes {}",
                    actor.name.name,
                    describe_formals(&actor.formals)
                )));
                continue;
            };
            let (value, span) = match &actual.value {
                DeploymentValue::Literal(lit) => (lit.value.clone(), lit.span),
                DeploymentValue::Name(name) => (Value::Str(name.name.clone()), name.span),
            };
            if let Some(default) = &formal.default {
                if !value.fits(&default.value) {
                    // The formal is in the app model, another file, so its default goes in the
                    // help rather than in a note pointing into this one.
                    d.push(
                        Diagnostic::error(span, mismatch_message(&actual.name.name, &value, &default.value)).with_help(
                            format!(
                                "`{}` of actor `{}` defaults to {}",
                                formal.name.name,
                                actor.name.name,
                                render_value(&default.value)
                            ),
                        ),
                    );
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
    }
    d
}
