//! `cohort check`: check models and deployments, and each deployment against the model of the
//! app it deploys when that model is among the files given.
//!
//! A deployment checked against its app gets every check of the model and the deployment that
//! an app's `run` makes before it starts an actor, for every placement on every host: the
//! model's deployment checks ([`check_deployment_against`]: actors, arguments, the values passed
//! on to components, each actor at most once on a host) and then, when those pass, the parameter
//! resolution `run` itself does ([`Resolver::check`]). So `run` rejects nothing here accepted,
//! except what only the app's binary knows: whether it implements each component type.

use super::load::{load_all, report, Counts, Loaded};
use super::{CheckArgs, Failure};
use cohort_model::ast::{App, Model};
use cohort_model::deployment::Deployment;
use cohort_model::{check_deployment_against, compile_app_model, compile_deployment, Compiled, Diagnostic, FileKind};
use cohort_runtime::params::{ParamError, Resolver};
use std::io::{self, Write as _};

/// A file after its own checks.
enum Checked {
    /// A `.riaps` model.
    Model(Compiled<Model>),
    /// A `.depl` deployment.
    Deployment(Compiled<Deployment>),
}

/// Checks every file, prints all diagnostics and a summary to standard error.
pub(crate) fn run(args: &CheckArgs) -> Result<(), Failure> {
    let files = load_all(&args.files)?;
    let checked: Vec<Checked> = files.iter().map(check_alone).collect();
    // Every diagnostic of each file, in file order: its own, then those of the checks against
    // other files, which may point into it.
    let mut diagnostics: Vec<Vec<Diagnostic>> = checked
        .iter()
        .map(|c| match c {
            Checked::Model(compiled) => compiled.diagnostics.clone(),
            Checked::Deployment(compiled) => compiled.diagnostics.clone(),
        })
        .collect();
    // Every app of every valid model, with the index of its file, so each deployment can find
    // the app it names.
    let apps: Vec<(usize, &App)> = checked
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Checked::Model(compiled) => compiled.value.as_ref().map(|model| (i, model)),
            Checked::Deployment(_) => None,
        })
        .flat_map(|(i, model)| model.apps.iter().map(move |app| (i, app)))
        .collect();
    for (index, checked) in checked.iter().enumerate() {
        let Checked::Deployment(compiled) = checked else { continue };
        let Some(deployment) = &compiled.value else { continue };
        let Some(&(model_index, app)) = apps.iter().find(|(_, app)| app.name.name == deployment.app.name) else {
            continue;
        };
        let against = check_deployment_against(deployment, app);
        let clean = !against.iter().any(Diagnostic::is_error);
        diagnostics[index].extend(against);
        if clean {
            // What `run` resolves, for every placement; the model's checks above should have
            // found all of it, so this adds nothing unless they miss a case.
            let resolver =
                Resolver::new(app, &files[model_index].source).with_deployment(deployment, &files[index].source);
            for error in resolver.check() {
                let file = match error.location().kind {
                    FileKind::AppModel => model_index,
                    FileKind::Deployment => index,
                };
                add_once(&mut diagnostics[file], &error);
            }
        }
    }
    let mut totals = Counts::default();
    for (file, diagnostics) in files.iter().zip(&diagnostics) {
        totals += report(diagnostics, &file.source);
    }
    let _ = writeln!(io::stderr(), "{}", summary(files.len(), totals));
    if totals.errors > 0 {
        Err(Failure::Invalid)
    } else {
        Ok(())
    }
}

/// Adds a resolution error as a diagnostic of its file, unless the same one is there already
/// (several placements can resolve to the same error in the model).
fn add_once(diagnostics: &mut Vec<Diagnostic>, error: &ParamError) {
    let diagnostic = error.to_diagnostic();
    if !diagnostics.contains(&diagnostic) {
        diagnostics.push(diagnostic);
    }
}

fn check_alone(file: &Loaded) -> Checked {
    match file.kind {
        FileKind::AppModel => Checked::Model(compile_app_model(&file.source.text)),
        FileKind::Deployment => Checked::Deployment(compile_deployment(&file.source.text)),
    }
}

/// `checked 2 files: no errors`, `checked 1 file: 3 errors, 1 warning`.
fn summary(files: usize, counts: Counts) -> String {
    let errors = match counts.errors {
        0 => "no errors".to_string(),
        n => plural(n, "error"),
    };
    let warnings = match counts.warnings {
        0 => String::new(),
        n => format!(", {}", plural(n, "warning")),
    };
    format!("checked {}: {errors}{warnings}", plural(files, "file"))
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_files_errors_and_warnings() {
        assert_eq!(summary(2, Counts::default()), "checked 2 files: no errors");
        assert_eq!(summary(1, Counts { errors: 0, warnings: 1 }), "checked 1 file: no errors, 1 warning");
        assert_eq!(summary(3, Counts { errors: 1, warnings: 2 }), "checked 3 files: 1 error, 2 warnings");
    }
}
