//! Typed Rust bindings for a RIAPS app model, generated from a build script.
//!
//! `cohort-build` reads an app's `.riaps` model, checks it as `cohort check` does, and writes one
//! Rust file that binds the model to your code through `cohort_runtime::typed`: a `Ports` struct
//! of typed port handles, a `Params` struct and a `Component` trait with one handler per input
//! port for each component type, a `Message` implementation for each of your message types, a
//! unit struct per group type, and `components()` to register everything with the runtime. A
//! port or message that changes in the model becomes a compile error in your code, pointing at
//! the model line.
//!
//! # Use
//!
//! In `Cargo.toml`, `cohort-build` is a build dependency. The whole `build.rs`:
//!
//! ```no_run
//! fn main() {
//!     cohort_build::compile_or_exit("estimator.riaps");
//! }
//! ```
//!
//! Then include the file in a module of its own, named after the app in snake case
//! (`DistributedEstimator` → `distributed_estimator.rs`). Your message types are expected in
//! `crate::messages`, your component types in `crate::components` (see [`Config`] to change
//! both):
//!
//! ```ignore
//! // The generated items are `pub`; allow them to be unused or unreachable in a binary.
//! #[allow(dead_code, unreachable_pub)]
//! mod model {
//!     include!(concat!(env!("OUT_DIR"), "/distributed_estimator.rs"));
//! }
//!
//! impl model::sensor::Component for components::Sensor {
//!     fn new(params: model::sensor::Params, ctx: &mut Context<model::sensor::Ports>) -> Result<Self, HandlerError> { .. }
//!     fn on_clock(&mut self, ctx: &mut Context<model::sensor::Ports>, tick: Tick) -> HandlerResult {
//!         ctx.ports.ready.publish(&messages::SensorReady { .. })?;
//!         Ok(())
//!     }
//!     ..
//! }
//! ```
//!
//! # What is generated
//!
//! For a model with several `app`s, code is generated for the first one only (with a warning).
//! Every component and device type gets a module named after it in snake case; fields and
//! methods are the snake case of the model's names, with Rust keywords escaped and collisions
//! numbered, as described under *Names* below. Every generated item's doc quotes the model
//! declaration it comes from, with its `file:line:col`. [`Config::generate`] gives the code
//! without touching files:
//!
//! ```
//! use std::path::Path;
//!
//! let model = r#"
//!     app Hello {
//!         message Greeting;
//!         component Talker (rate = 1.5) { timer tick 1000; pub out : Greeting; }
//!         actor Speaker { { talker : Talker; } }
//!     }
//! "#;
//! let generated = cohort_build::Config::new().generate("hello.riaps", model, Path::new("hello.riaps"))?;
//! assert_eq!(generated.file_name, "hello.rs");
//! assert!(generated.code.contains("pub mod talker {"));
//! assert!(generated.code.contains("pub rate: f64,"));
//! assert!(generated.code.contains("fn on_tick("));
//! # Ok::<(), cohort_build::Error>(())
//! ```
//!
//! A model with errors generates nothing: the error displays the diagnostics exactly as
//! `cohort check` prints them, so the build fails with the same message.
//!
//! [`scaffold`] writes, from a model, a whole new app crate around this code (what `cohort new`
//! writes): `Cargo.toml`, `build.rs`, message types, and component types whose handlers are
//! stubs that log, with a deployment, a README and a test.
//!
//! # Names
//!
//! - Modules, fields and methods: snake case of the model's name (`iArg` → `i_arg`,
//!   `LocalEstimator` → `local_estimator`, `HTTPServer` → `http_server`). Message, group and
//!   component types keep the model's spelling.
//! - A port's handler is `on_<port>`, or `on_<port>_port` where that is a provided method
//!   (`on_activate`, `on_deactivate`, `on_passivate`, `on_deadline_missed`, `on_group`,
//!   `on_nic_state`, `on_peer_state`, `on_limit`).
//! - Rust keywords are raw (`type` → `r#type`); `self`, `Self`, `super`, `crate` and `_`, which
//!   cannot be, get a trailing underscore (`self_`). A character Rust refuses in a name becomes
//!   `_`.
//! - Collisions: in each scope (the file's modules, which include `messages` and `groups`; a
//!   component's ports; its handlers; its parameters), names are given out in model order, and a
//!   name already taken gets `_2`, `_3`, ... appended. Ports and timers share one scope, so a
//!   field and its handler carry the same number (`my_port_2`, `on_my_port_2`).
//!
//! # Parameter types
//!
//! A formal with a default has the default's type (`i64`, `f64`, `bool` or `String`). Without a
//! default, it has the one type that every literal argument given for it in the model agrees on
//! (an integer and a float together make `f64`; an argument naming an actor parameter does not
//! count); with none, or when they disagree, it is a `::cohort_runtime::params::Value`.

// The examples show a whole `build.rs`, whose `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

mod decl;
mod emit;
mod error;
mod names;
mod params;
mod plan;
mod render;
pub mod scaffold;

use std::path::{Path, PathBuf};

use cohort_model::ast::{App, Model};
use cohort_model::{compile_app_model, render_all, Diagnostic, SourceFile, Span};

pub use error::Error;

/// Settings of the generator; a builder, as `prost_build::Config` is.
///
/// ```no_run
/// cohort_build::Config::new()
///     .messages_path("crate::estimator::messages")
///     .components_path("crate::estimator")
///     .compile("estimator.riaps")
///     .unwrap_or_else(|e| panic!("{e}"));
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    messages_path: String,
    components_path: String,
    out_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            messages_path: "crate::messages".to_owned(),
            components_path: "crate::components".to_owned(),
            out_dir: None,
        }
    }
}

/// The generated code for a model, not yet written anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The name of the app the code is for (the model's first app).
    pub app: String,
    /// The file to write it to: the app's name in snake case, then `.rs`.
    pub file_name: String,
    /// The Rust source.
    pub code: String,
    /// The model's warnings, each rendered as `cohort check` prints it, then the generator's own
    /// (more than one app, say).
    pub warnings: Vec<String>,
}

impl Config {
    /// The default settings: message types in `crate::messages`, component types in
    /// `crate::components`, output to `$OUT_DIR`.
    pub fn new() -> Config {
        Config::default()
    }

    /// The module that holds your message types, one per model message with the model's name
    /// (default `crate::messages`). An absolute path: `crate::...` or `::other_crate::...`. The
    /// generated code implements `::cohort_runtime::Message` for each type, so the types must
    /// belong to the crate that includes it.
    pub fn messages_path(&mut self, path: &str) -> &mut Self {
        path.clone_into(&mut self.messages_path);
        self
    }

    /// The module that holds your component types, one per component or device type of the
    /// model with its name (default `crate::components`). An absolute path, as for
    /// [`messages_path`](Config::messages_path).
    pub fn components_path(&mut self, path: &str) -> &mut Self {
        path.clone_into(&mut self.components_path);
        self
    }

    /// Where [`compile`](Config::compile) writes the file (default: `$OUT_DIR`, which cargo sets
    /// for build scripts).
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Reads, checks and generates; prints cargo:rerun-if-changed for the model; returns the written path.
    ///
    /// The model's path is used as given in diagnostics and in the generated `app_model()`; the
    /// generated code embeds the model with `include_str!` of its absolute path. The model's
    /// warnings are printed as `cargo:warning=` lines. The file is rewritten only when its
    /// content changes.
    pub fn compile(&self, model: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = model.as_ref();
        println!("cargo:rerun-if-changed={}", path.display());
        let read_error = |source| Error::Read { path: path.to_owned(), source };
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        let absolute = std::path::absolute(path).map_err(read_error)?;
        let generated = self.generate(&path.display().to_string(), &text, &absolute)?;
        for warning in &generated.warnings {
            for line in warning.lines().filter(|l| !l.trim().is_empty()) {
                println!("cargo:warning={line}");
            }
        }
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or(Error::NoOutDir)?,
        };
        let out = out_dir.join(&generated.file_name);
        let write_error = |source| Error::Write { path: out.clone(), source };
        std::fs::create_dir_all(&out_dir).map_err(write_error)?;
        if std::fs::read_to_string(&out).ok().as_deref() != Some(generated.code.as_str()) {
            std::fs::write(&out, &generated.code).map_err(write_error)?;
        }
        Ok(out)
    }

    /// The generated source for a model text (no I/O), for tests and tools.
    ///
    /// `file_name` names the model in diagnostics, in the comments of the generated code and in
    /// its `app_model()`; `model_path_for_include` is the path the generated code passes to
    /// `include_str!` to embed the model (absolute, for a file in `OUT_DIR`).
    pub fn generate(&self, file_name: &str, text: &str, model_path_for_include: &Path) -> Result<Generated, Error> {
        let checked = check(file_name, text)?;
        let (app, source) = (checked.app(), &checked.source);

        let messages = user_path("messages", &self.messages_path)?;
        let components = user_path("components", &self.components_path)?;
        let paths = emit::Paths { messages: &messages, components: &components };
        let include = model_path_for_include.to_str().ok_or_else(|| Error::InvalidPath {
            what: "model",
            path: model_path_for_include.display().to_string(),
            reason: "include_str! needs a path that is valid UTF-8".to_owned(),
        })?;

        let plan = plan::plan(app, source);
        let tokens = emit::app(&plan, &paths, file_name, include)?;
        let messages_text = emit::path_text(&messages);
        let comments: Vec<render::TrailingComment> = plan
            .messages
            .iter()
            .map(|m| render::TrailingComment {
                path: format!("{messages_text}::{}", m.rust.text()),
                text: m.quote.comment(),
            })
            .collect();
        let out_name = format!("{}.rs", names::snake_case(&plan.name));
        let header = [
            format!("Generated by cohort-build from {file_name} (app `{}`). Do not edit: change the", plan.name),
            "model and rebuild. Include it in a module of its own:".to_owned(),
            format!("    mod model {{ include!(concat!(env!(\"OUT_DIR\"), \"/{out_name}\")); }}"),
        ];
        let code = render::file(&header, tokens, &comments)?;
        Ok(Generated { app: plan.name, file_name: out_name, code, warnings: checked.warnings })
    }
}

/// A model that passed the checks: the whole model (with at least one app), its source, and
/// its warnings rendered as `cohort check` prints them (then the generator's own).
pub(crate) struct Checked {
    /// The model; `apps` is never empty.
    pub(crate) model: Model,
    /// The model's text, named as given.
    pub(crate) source: SourceFile,
    /// Rendered warnings.
    pub(crate) warnings: Vec<String>,
}

impl Checked {
    /// The app code is generated for: the model's first.
    pub(crate) fn app(&self) -> &App {
        &self.model.apps[0]
    }
}

/// Checks a model as `cohort check` does: its errors (or the lack of any app) are an
/// [`Error::Model`] rendered with `file_name`.
pub(crate) fn check(file_name: &str, text: &str) -> Result<Checked, Error> {
    let source = SourceFile::new(file_name, text);
    let compiled = compile_app_model(text);
    let model_error =
        |diagnostics: Vec<Diagnostic>| Error::Model { rendered: render_all(&diagnostics, &source), diagnostics };
    if compiled.has_errors() {
        return Err(model_error(compiled.diagnostics));
    }
    let mut warnings: Vec<String> =
        compiled.diagnostics.iter().filter(|d| !d.is_error()).map(|d| d.render(&source)).collect();
    let model = match compiled.value {
        Some(model) if !model.apps.is_empty() => model,
        // The checks report a file without an app; this covers a model that somehow passed.
        _ => {
            let mut diagnostics = compiled.diagnostics;
            diagnostics.push(Diagnostic::error(Span::at(text.len()), "this file declares no application"));
            return Err(model_error(diagnostics));
        }
    };
    if model.apps.len() > 1 {
        let names: Vec<String> = model.apps.iter().map(|a| format!("`{}`", a.name.name)).collect();
        warnings.push(format!(
            "{file_name}: declares {} apps ({}); cohort-build generates code for the first, `{}`, only",
            model.apps.len(),
            names.join(", "),
            model.apps[0].name.name
        ));
    }
    Ok(Checked { model, source, warnings })
}

/// A user path of the config, checked: a plain path (no generics) that does not start with
/// `self` or `super`, which would mean something else inside the generated modules.
fn user_path(what: &'static str, text: &str) -> Result<syn::Path, Error> {
    let invalid = |reason: String| Error::InvalidPath { what, path: text.to_owned(), reason };
    let path: syn::Path = syn::parse_str(text).map_err(|e| invalid(format!("not a Rust path ({e})")))?;
    if path.segments.iter().any(|s| !s.arguments.is_none()) {
        return Err(invalid("a module path has no generic arguments".to_owned()));
    }
    let first = path.segments.first().map(|s| s.ident.to_string()).unwrap_or_default();
    if path.leading_colon.is_none() && matches!(first.as_str(), "self" | "super" | "Self") {
        return Err(invalid("the path must be absolute (`crate::...` or `::other_crate::...`)".to_owned()));
    }
    Ok(path)
}

/// Generates the code for `model` with the default [`Config`]: `Config::new().compile(model)`.
pub fn compile(model: impl AsRef<Path>) -> Result<PathBuf, Error> {
    Config::new().compile(model)
}

/// The one-line `build.rs`: [`compile`]s `model` with the default [`Config`], and on an error
/// prints it (a model's diagnostics exactly as `cohort check` prints them) and exits with status
/// 1, which fails the build. Returns the path of the written file.
///
/// ```no_run
/// fn main() {
///     cohort_build::compile_or_exit("app.riaps");
/// }
/// ```
pub fn compile_or_exit(model: impl AsRef<Path>) -> PathBuf {
    compile(model).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths_must_be_plain_and_absolute() {
        assert!(user_path("messages", "crate::messages").is_ok());
        assert!(user_path("messages", "::shared::messages").is_ok());
        assert!(user_path("messages", "my_crate::messages").is_ok());
        for bad in ["super::messages", "self::m", "crate::m<T>", "crate::", "not a path"] {
            assert!(matches!(user_path("messages", bad), Err(Error::InvalidPath { what: "messages", .. })), "{bad}");
        }
    }
}
