//! Reading model files, printing their diagnostics, and picking an app out of a model: the
//! steps every subcommand shares.

use super::Failure;
use anyhow::{anyhow, Context as _};
use cohort_model::ast::{App, Model};
use cohort_model::{render_all, Compiled, Diagnostic, FileKind, SourceFile};
use std::io::{self, Write as _};
use std::path::Path;

/// A model file read into memory, with its kind.
#[derive(Debug)]
pub(crate) struct Loaded {
    /// Model or deployment, from the extension.
    pub(crate) kind: FileKind,
    /// The text, named by the path exactly as the user typed it.
    pub(crate) source: SourceFile,
}

/// Reads one file; its extension must be `.riaps` or `.depl`.
pub(crate) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let name = path.display().to_string();
    let kind = FileKind::of_path(path).ok_or_else(|| anyhow!("{name}: not a .riaps or .depl file"))?;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    Ok(Loaded { kind, source: SourceFile::new(name, text) })
}

/// Reads every file, or reports every file that could not be read.
pub(crate) fn load_all(paths: &[impl AsRef<Path>]) -> Result<Vec<Loaded>, Failure> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match load(path.as_ref()) {
            Ok(file) => loaded.push(file),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(Failure::Fatal(errors))
    }
}

/// How many errors and warnings were printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Diagnostics that reject a file.
    pub(crate) errors: usize,
    /// Diagnostics that do not.
    pub(crate) warnings: usize,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Self) {
        self.errors += other.errors;
        self.warnings += other.warnings;
    }
}

/// Prints a file's diagnostics to standard error, in file order, and counts them.
pub(crate) fn report(diagnostics: &[Diagnostic], source: &SourceFile) -> Counts {
    if !diagnostics.is_empty() {
        // Nothing useful can be done when standard error itself cannot be written.
        let _ = io::stderr().lock().write_all(render_all(diagnostics, source).as_bytes());
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    Counts { errors, warnings: diagnostics.len() - errors }
}

/// Prints the diagnostics of a compiled file and gives its value, or [`Failure::Invalid`] when
/// it has errors.
pub(crate) fn accept<T>(compiled: Compiled<T>, source: &SourceFile) -> Result<T, Failure> {
    report(&compiled.diagnostics, source);
    compiled.value.ok_or(Failure::Invalid)
}

/// The app named `name`, or an error that lists the apps the model declares.
pub(crate) fn find_app<'m>(model: &'m Model, name: &str, source: &SourceFile) -> anyhow::Result<&'m App> {
    model
        .apps
        .iter()
        .find(|app| app.name.name == name)
        .ok_or_else(|| anyhow!("{} declares no app `{name}`; it declares {}", source.name, app_list(model)))
}

/// The names of a model's apps, as `` `A`, `B` ``.
pub(crate) fn app_list(model: &Model) -> String {
    model.apps.iter().map(|app| format!("`{}`", app.name.name)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::compile_app_model;

    #[test]
    fn unknown_extension_is_refused_before_reading() {
        let error = load(Path::new("no/such/dir/app.txt")).map(|_| ()).unwrap_err();
        assert_eq!(format!("{error:#}"), "no/such/dir/app.txt: not a .riaps or .depl file");
    }

    #[test]
    fn missing_file_names_the_path() {
        let error = load(Path::new("no/such/dir/app.riaps")).map(|_| ()).unwrap_err();
        assert!(format!("{error:#}").starts_with("cannot read no/such/dir/app.riaps: "), "{error:#}");
    }

    #[test]
    fn load_all_reports_every_bad_file() {
        match load_all(&["a.txt", "missing/b.riaps"]) {
            Err(Failure::Fatal(errors)) => assert_eq!(errors.len(), 2),
            other => panic!("expected two errors, got {other:?}"),
        }
    }

    #[test]
    fn find_app_lists_the_declared_apps() {
        let text = "app A { message M; component C { pub p : M; } actor X { { c : C; } } }
                    app B { message M; component C { pub p : M; } actor X { { c : C; } } }";
        let model = compile_app_model(text).value.unwrap();
        let source = SourceFile::new("two.riaps", text);
        assert_eq!(find_app(&model, "B", &source).unwrap().name.name, "B");
        let error = find_app(&model, "Z", &source).unwrap_err();
        assert_eq!(error.to_string(), "two.riaps declares no app `Z`; it declares `A`, `B`");
    }
}
