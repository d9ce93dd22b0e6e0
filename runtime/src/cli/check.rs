//! `cohort check`: check models and deployments, and each deployment against the model of the
//! app it deploys when that model is among the files given.

use super::load::{load_all, report, Counts, Loaded};
use super::{CheckArgs, Failure};
use cohort_model::ast::{App, Model};
use cohort_model::deployment::Deployment;
use cohort_model::{check_deployment_against, compile_app_model, compile_deployment, Compiled, FileKind};
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
    // Every app of every valid model, so each deployment can find the app it names.
    let apps: Vec<&App> = checked
        .iter()
        .filter_map(|c| match c {
            Checked::Model(compiled) => compiled.value.as_ref(),
            Checked::Deployment(_) => None,
        })
        .flat_map(|model| &model.apps)
        .collect();
    let mut totals = Counts::default();
    for (file, checked) in files.iter().zip(&checked) {
        let diagnostics = match checked {
            Checked::Model(compiled) => compiled.diagnostics.clone(),
            Checked::Deployment(compiled) => {
                let mut diagnostics = compiled.diagnostics.clone();
                let deployed = compiled
                    .value
                    .as_ref()
                    .and_then(|d| apps.iter().find(|app| app.name.name == d.app.name).map(|app| (d, *app)));
                if let Some((deployment, app)) = deployed {
                    diagnostics.extend(check_deployment_against(deployment, app));
                }
                diagnostics
            }
        };
        totals += report(&diagnostics, &file.source);
    }
    let _ = writeln!(io::stderr(), "{}", summary(files.len(), totals));
    if totals.errors > 0 {
        Err(Failure::Invalid)
    } else {
        Ok(())
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
