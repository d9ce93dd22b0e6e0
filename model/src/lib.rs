//! Reading RIAPS application models (`.riaps`) and deployments (`.depl`).
//!
//! `cohort-model` parses both languages exactly as RIAPS's own compiler does, checks them more
//! thoroughly, and writes the same JSON. Every problem is a [`Diagnostic`] with a position, and
//! one run reports all independent problems.
//!
//! ```
//! use cohort_model::{compile_app_model, json::app_json, SourceFile};
//!
//! let source = SourceFile::new("hello.riaps", r#"
//!     app Hello {
//!         message Greeting;
//!         component Talker { timer tick 1 sec; pub out : Greeting; }
//!         actor Speaker { { talker : Talker; } }
//!     }
//! "#);
//! let compiled = compile_app_model(&source.text);
//! let model = compiled.value.expect("the model is valid");
//! let json = app_json(&model.apps[0]);
//! assert_eq!(json["components"]["Talker"]["ports"]["tims"]["tick"]["period"], 1000);
//! ```
//!
//! A model with errors yields no value, only diagnostics, which print as
//! `FILE:LINE:COL: error: MESSAGE` followed by the source line and a caret:
//!
//! ```
//! use cohort_model::{compile_app_model, render_all, SourceFile};
//!
//! let source = SourceFile::new("bad.riaps", "app A { message M; component C { pub p : N; } actor X { { c : C; } } }");
//! let compiled = compile_app_model(&source.text);
//! assert!(compiled.value.is_none());
//! assert!(render_all(&compiled.diagnostics, &source).starts_with("bad.riaps:1:42: error: unknown message type `N`"));
//! ```

pub mod ast;
mod check_app;
mod check_deployment;
mod cursor;
pub mod deployment;
pub mod descriptor;
mod diagnostic;
pub mod flows;
pub mod json;
mod literal;
mod names;
mod parse_app;
mod parse_deployment;
mod source;

pub use check_app::check_app_model;
pub use check_deployment::{check_deployment, check_deployment_against};
pub use descriptor::{describe_ports, MessageTypes, PortDescriptor, Scope};
pub use diagnostic::{render_all, Diagnostic, Severity};
pub use literal::{Literal, Value};
pub use parse_app::parse_app_model;
pub use parse_deployment::parse_deployment;
pub use source::{LineCol, SourceFile, Span};

/// The outcome of compiling a file: the result when there were no errors, and every diagnostic
/// (errors and warnings) found.
#[derive(Debug, Clone)]
pub struct Compiled<T> {
    /// The checked result; `None` when any diagnostic is an error.
    pub value: Option<T>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Compiled<T> {
    fn new(value: Option<T>, diagnostics: Vec<Diagnostic>) -> Self {
        let value = if diagnostics.iter().any(Diagnostic::is_error) { None } else { value };
        Self { value, diagnostics }
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks a `.riaps` application model.
pub fn compile_app_model(text: &str) -> Compiled<ast::Model> {
    let (model, mut diagnostics) = parse_app_model(text);
    diagnostics.extend(check_app_model(&model, text.len()));
    Compiled::new(Some(model), diagnostics)
}

/// Parses and checks a `.depl` deployment on its own (without the app model).
pub fn compile_deployment(text: &str) -> Compiled<deployment::Deployment> {
    let (deployment, mut diagnostics) = parse_deployment(text);
    if let Some(d) = &deployment {
        diagnostics.extend(check_deployment(d));
    }
    Compiled::new(deployment, diagnostics)
}

/// The two kinds of model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A `.riaps` application model.
    AppModel,
    /// A `.depl` deployment.
    Deployment,
}

impl FileKind {
    /// The kind of a file, from its extension (`.riaps` or `.depl`).
    pub fn of_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "riaps" => Some(Self::AppModel),
            "depl" => Some(Self::Deployment),
            _ => None,
        }
    }
}
