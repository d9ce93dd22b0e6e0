//! What can go wrong when generating code for a model.

use std::path::PathBuf;

use cohort_model::Diagnostic;

/// Why no code was generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model has errors (or declares no app). Displayed exactly as `cohort check` prints
    /// them, `FILE:LINE:COL: error: MESSAGE` with the source line and a caret, warnings
    /// included, in file order; without the final line break, so that `eprintln!("{e}")` prints
    /// the same bytes as `cohort check`. Fix the model.
    #[error("{}", rendered.strip_suffix('\n').unwrap_or(rendered))]
    Model {
        /// Every diagnostic, rendered.
        rendered: String,
        /// Every diagnostic (errors and warnings), for tools that show them their own way.
        diagnostics: Vec<Diagnostic>,
    },
    /// The model file could not be read. Check the path given (relative paths are relative to
    /// the build script's package directory).
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// The generated file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file that was to be written.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// No output directory: `OUT_DIR` is unset, which means the generator does not run from a
    /// build script. Set one with [`Config::out_dir`](crate::Config::out_dir).
    #[error("OUT_DIR is not set (cohort-build runs from a build script); set one with Config::out_dir")]
    NoOutDir,
    /// [`Config::messages_path`](crate::Config::messages_path) or
    /// [`Config::components_path`](crate::Config::components_path) is not a plain absolute
    /// Rust path such as `crate::messages`, or the model's path for `include_str!` is not UTF-8.
    #[error("the {what} path `{path}` is not usable: {reason}")]
    InvalidPath {
        /// `messages`, `components` or `model`.
        what: &'static str,
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A new app crate's name ([`Scaffold::new`](crate::scaffold::Scaffold::new)) is not one
    /// cargo accepts for a package, or clashes with a crate the app depends on.
    #[error("`{name}` cannot name an app crate: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The generator produced code that is not valid Rust: a bug in cohort-build, to be reported
    /// with the model that caused it.
    #[error("cohort-build generated invalid Rust (a bug in cohort-build): {0}")]
    Internal(String),
}
