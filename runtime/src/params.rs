//! Parameters: the values of actor and component formals, resolved from the app model and the
//! deployment, type-checked, with errors that name the place in the model.
//!
//! The order is RIAPS's: the actor's arguments in its deployment placement, else the actor
//! formals' defaults; then, for each component instance of the actor, the instance's argument (a
//! literal, or the name of an actor formal, which stands for that formal's resolved value), else
//! the component formal's default. A formal without a default that gets no value is an error.
//!
//! Types: a formal with a default takes only values of its default's type, except that an integer
//! is accepted where a float is expected (and becomes a float). A formal without a default takes
//! a value of any type. Booleans are boolean literals (`true`, `True`, `false`, `False`), never
//! strings: `"False"` given for a boolean formal is an error (RIAPS reads it as true).
//!
//! A [`Resolver`] holds the app and, optionally, its deployment, with their source files;
//! [`Resolver::actor_args`] resolves one actor on one host and
//! [`Resolver::all_component_args`] its instances. Components read their [`ComponentArgs`] with
//! typed accessors. Every resolution error is a [`ParamError`], displayed as
//! `FILE:LINE:COL: MESSAGE`; [`Resolver::render`] adds the source lines, as `cohort check` does.
//! Resolution never panics, even on a model that was not checked.
//!
//! ```
//! use cohort_model::{compile_app_model, compile_deployment, SourceFile};
//! use cohort_runtime::params::Resolver;
//!
//! let model = SourceFile::new("hello.riaps", r#"
//!     app Hello {
//!         message Greeting;
//!         component Talker (rate = 1.0, name = "talker") { timer tick 1000; pub out : Greeting; }
//!         actor Speaker (speed) { { talker : Talker(rate = speed); } }
//!     }
//! "#);
//! let deployment = SourceFile::new("hello.depl", "app Hello { on all Speaker(speed = 2); }");
//! let app = &compile_app_model(&model.text).value.unwrap().apps[0];
//! let depl = compile_deployment(&deployment.text).value.unwrap();
//! let resolver = Resolver::new(app, &model).with_deployment(&depl, &deployment);
//!
//! let actor = resolver.actor_args("Speaker", "10.0.0.1")?;
//! let talker = resolver.component_args(&actor, "talker")?;
//! assert_eq!(talker.float("rate")?, 2.0); // the integer 2 became a float
//! assert_eq!(talker.string("name")?, "talker");
//! assert_eq!(
//!     talker.int("name").unwrap_err().to_string(),
//!     "parameter `name` of component `Talker` (instance `talker`) is a string, not an integer"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::ops::Deref;

use cohort_model::ast::{Actor, ActualValue, App, Formal, Ident, Instance};
use cohort_model::deployment::{ActorPlacement, Deployment, DeploymentValue, Location};
use cohort_model::{check_deployment, check_deployment_against, Diagnostic, FileKind, SourceFile, Span};

/// A parameter's value: a string, an integer, a float or a boolean. Generated `Params` hold one
/// for a formal whose type the model leaves open.
pub use cohort_model::Value;

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

/// A place in a model or deployment file, displayed as `FILE:LINE:COL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLocation {
    /// The file's name, as its [`SourceFile`] gives it.
    pub file: String,
    /// Whether the file is the app model or the deployment.
    pub kind: FileKind,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
    /// The bytes of the file it covers.
    pub span: Span,
}

impl fmt::Display for ModelLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A source file with its kind, to turn spans into [`ModelLocation`]s.
#[derive(Debug, Clone, Copy)]
struct File<'m> {
    source: &'m SourceFile,
    kind: FileKind,
}

impl File<'_> {
    fn at(&self, span: Span) -> ModelLocation {
        let at = self.source.line_col(span.start);
        ModelLocation { file: self.source.name.clone(), kind: self.kind, line: at.line, column: at.column, span }
    }
}

// ---------------------------------------------------------------------------------------------
// Resolved parameters and their accessors
// ---------------------------------------------------------------------------------------------

/// Where a resolved value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An argument of the actor's placement in the deployment (possibly passed on to an instance
    /// through an actor formal).
    Deployment,
    /// The default of an actor formal (possibly passed on to an instance).
    ActorDefault,
    /// A literal argument of the instance in its actor.
    Instance,
    /// The default of a component formal.
    ComponentDefault,
    /// Given by code through [`ComponentArgs::new`], not read from a model.
    Code,
}

/// One resolved parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The formal's name.
    pub name: String,
    /// Its value, of the formal's type (an integer given for a float formal is a float here).
    pub value: Value,
    /// Where the value comes from.
    pub origin: Origin,
    /// Where the value is written; none for [`Origin::Code`].
    pub at: Option<ModelLocation>,
}

/// Whose parameters these are, as errors name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// An actor's formals; displayed as ``actor `Name` ``.
    Actor(String),
    /// A component instance's formals; displayed as ``component `Type` (instance `name`)``.
    Instance {
        /// The instance's name in its actor.
        instance: String,
        /// The component type.
        component: String,
    },
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Actor(actor) => write!(f, "actor `{actor}`"),
            Self::Instance { instance, component } => write!(f, "component `{component}` (instance `{instance}`)"),
        }
    }
}

/// The resolved parameters of one actor or one component instance, in the order the formals are
/// declared, with typed accessors. [`ActorArgs`] and [`ComponentArgs`] dereference to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    owner: Owner,
    list: Vec<Param>,
}

impl Params {
    /// Whose parameters these are.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The parameter `name`, if there is one.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.list.iter().find(|p| p.name == name)
    }

    /// Whether there is a parameter `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// The value of parameter `name`, or an error that lists the parameters there are.
    pub fn value(&self, name: &str) -> Result<&Value, ArgError> {
        self.param(name).map(|p| &p.value).ok_or_else(|| ArgError::Unknown {
            owner: self.owner.clone(),
            name: name.to_owned(),
            known: self.names().map(str::to_owned).collect(),
        })
    }

    /// The value of parameter `name` as a `T`: `i64` (and the other integer types, range-checked),
    /// `f64` (which also takes an integer), `bool`, `String` or [`Value`].
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T, ArgError> {
        let value = self.value(name)?;
        T::from_param(value).map_err(|mismatch| match mismatch {
            Mismatch::WrongType => ArgError::WrongType {
                owner: self.owner.clone(),
                name: name.to_owned(),
                found: value.type_name(),
                wanted: T::TYPE,
            },
            Mismatch::OutOfRange => ArgError::OutOfRange {
                owner: self.owner.clone(),
                name: name.to_owned(),
                value: render_value(value),
                wanted: std::any::type_name::<T>(),
            },
        })
    }

    /// The integer parameter `name`.
    pub fn int(&self, name: &str) -> Result<i64, ArgError> {
        self.get(name)
    }

    /// The float parameter `name`; an integer is accepted and converted.
    pub fn float(&self, name: &str) -> Result<f64, ArgError> {
        self.get(name)
    }

    /// The boolean parameter `name`.
    pub fn bool(&self, name: &str) -> Result<bool, ArgError> {
        self.get(name)
    }

    /// The string parameter `name`.
    pub fn string(&self, name: &str) -> Result<&str, ArgError> {
        match self.value(name)? {
            Value::Str(s) => Ok(s),
            other => Err(ArgError::WrongType {
                owner: self.owner.clone(),
                name: name.to_owned(),
                found: other.type_name(),
                wanted: String::TYPE,
            }),
        }
    }

    /// The parameters' names, in declaration order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.list.iter().map(|p| p.name.as_str())
    }

    /// The parameters, in declaration order.
    pub fn iter(&self) -> std::slice::Iter<'_, Param> {
        self.list.iter()
    }

    /// How many parameters there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = &'a Param;
    type IntoIter = std::slice::Iter<'a, Param>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The resolved formals of one actor, for one placement (or from the defaults alone). The
/// accessors are those of [`Params`].
#[derive(Debug, Clone, PartialEq)]
pub struct ActorArgs {
    actor: String,
    params: Params,
}

impl ActorArgs {
    /// The actor's name.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// The resolved formals of one component instance, which its component reads with the accessors
/// of [`Params`]: `args.float("rate")?`, `args.get::<u16>("port")?`.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentArgs {
    instance: String,
    component: String,
    params: Params,
}

impl ComponentArgs {
    /// Arguments given by code rather than resolved from a model (for a component's own tests,
    /// say); each has [`Origin::Code`].
    pub fn new<N: Into<String>>(
        instance: impl Into<String>,
        component: impl Into<String>,
        values: impl IntoIterator<Item = (N, Value)>,
    ) -> Self {
        let (instance, component) = (instance.into(), component.into());
        let list = values
            .into_iter()
            .map(|(name, value)| Param { name: name.into(), value, origin: Origin::Code, at: None })
            .collect();
        let owner = Owner::Instance { instance: instance.clone(), component: component.clone() };
        Self { instance, component, params: Params { owner, list } }
    }

    /// The instance's name in its actor.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The instance's component type.
    pub fn component(&self) -> &str {
        &self.component
    }
}

/// `Deref` to the [`Params`] in field `params`, and iteration over them by reference.
macro_rules! params_access {
    ($($t:ty),*) => {$(
        impl Deref for $t {
            type Target = Params;

            fn deref(&self) -> &Params {
                &self.params
            }
        }

        impl<'a> IntoIterator for &'a $t {
            type Item = &'a Param;
            type IntoIter = std::slice::Iter<'a, Param>;

            fn into_iter(self) -> Self::IntoIter {
                self.params.iter()
            }
        }
    )*};
}

params_access!(ActorArgs, ComponentArgs);

/// Why a value could not be read as the type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The value has another type.
    WrongType,
    /// The value is an integer outside the range of the integer type asked for.
    OutOfRange,
}

/// A Rust type a parameter can be read as, with [`Params::get`].
pub trait FromParam: Sized {
    /// The model type it reads, as errors name it: `integer`, `float`, `boolean` or `string`.
    const TYPE: &'static str;

    /// The value as this type.
    fn from_param(value: &Value) -> Result<Self, Mismatch>;
}

/// Types that read one kind of value as it is.
macro_rules! from_param_exact {
    ($($t:ty, $name:literal, $variant:ident($v:ident) => $out:expr;)*) => {$(
        impl FromParam for $t {
            const TYPE: &'static str = $name;

            fn from_param(value: &Value) -> Result<Self, Mismatch> {
                match value {
                    Value::$variant($v) => Ok($out),
                    _ => Err(Mismatch::WrongType),
                }
            }
        }
    )*};
}

from_param_exact! {
    i64, "integer", Int(i) => *i;
    bool, "boolean", Bool(b) => *b;
    String, "string", Str(s) => s.clone();
}

/// Integer types narrower than `i64` (or unsigned), read with a range check.
macro_rules! from_param_int {
    ($($t:ty),*) => {$(
        impl FromParam for $t {
            const TYPE: &'static str = "integer";

            fn from_param(value: &Value) -> Result<Self, Mismatch> {
                match value {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| Mismatch::OutOfRange),
                    _ => Err(Mismatch::WrongType),
                }
            }
        }
    )*};
}

from_param_int!(i8, i16, i32, u8, u16, u32, u64, usize);

impl FromParam for f64 {
    const TYPE: &'static str = "float";

    fn from_param(value: &Value) -> Result<Self, Mismatch> {
        match value {
            Value::Float(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            _ => Err(Mismatch::WrongType),
        }
    }
}

impl FromParam for Value {
    const TYPE: &'static str = "value";

    fn from_param(value: &Value) -> Result<Self, Mismatch> {
        Ok(value.clone())
    }
}

/// A component (or actor) asked for a parameter it does not have, or as the wrong type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// No parameter of that name.
    #[error("{owner} has no parameter `{name}`; {}", listing("its parameters are", "it has no parameters", .known))]
    Unknown {
        /// Whose parameters.
        owner: Owner,
        /// The name asked for.
        name: String,
        /// The parameters there are.
        known: Vec<String>,
    },
    /// The parameter has another type.
    #[error("parameter `{name}` of {owner} is {}, not {}", article(.found), article(.wanted))]
    WrongType {
        /// Whose parameter.
        owner: Owner,
        /// Its name.
        name: String,
        /// The type it has.
        found: &'static str,
        /// The type asked for.
        wanted: &'static str,
    },
    /// An integer that does not fit the integer type asked for.
    #[error("parameter `{name}` of {owner} is {value}, out of range for {wanted}")]
    OutOfRange {
        /// Whose parameter.
        owner: Owner,
        /// Its name.
        name: String,
        /// The value, as written in a model.
        value: String,
        /// The Rust type asked for.
        wanted: &'static str,
    },
}

// ---------------------------------------------------------------------------------------------
// Resolution errors
// ---------------------------------------------------------------------------------------------

/// Why parameters could not be resolved, and where in the model: displayed as
/// `FILE:LINE:COL: MESSAGE`. [`Resolver::render`] (or [`ParamError::render`]) adds the source
/// line, notes pointing at related places, and help, as `cohort check` prints diagnostics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {}", .0.at, .0.kind)]
pub struct ParamError(Box<ErrorParts>);

#[derive(Debug, Clone, PartialEq)]
struct ErrorParts {
    at: ModelLocation,
    kind: ParamErrorKind,
    notes: Vec<(ModelLocation, String)>,
    help: Option<String>,
}

/// What is wrong, for [`ParamError`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamErrorKind {
    /// The deployment deploys another app.
    #[error("this deployment is for app `{deployment}`, but the model declares app `{model}`")]
    WrongApp {
        /// The app the deployment names.
        deployment: String,
        /// The app of the model.
        model: String,
    },
    /// The app has no actor of that name.
    #[error("app `{app}` has no actor `{actor}`; {}", listing("its actors are", "it has no actors", .known))]
    UnknownActor {
        /// The app.
        app: String,
        /// The actor asked for.
        actor: String,
        /// The actors the app declares.
        known: Vec<String>,
    },
    /// The deployment does not place the actor on the host.
    #[error("the deployment does not place actor `{actor}` on host `{host}`; {}", listing("it places it on", "it does not place it anywhere", .hosts))]
    NotPlaced {
        /// The actor.
        actor: String,
        /// The host asked for.
        host: String,
        /// The hosts it is placed on.
        hosts: Vec<String>,
    },
    /// The deployment places the actor on the host more than once (possibly with different
    /// arguments); pick one with [`Resolver::placements_on`] and [`Resolver::actor_args_for`].
    #[error("the deployment places actor `{actor}` on host `{host}` {count} times")]
    PlacedTwice {
        /// The actor.
        actor: String,
        /// The host.
        host: String,
        /// How many placements there are.
        count: usize,
    },
    /// The actor has no instance of that name.
    #[error("actor `{actor}` has no instance `{instance}`; {}", listing("its instances are", "it has no instances", .known))]
    UnknownInstance {
        /// The actor.
        actor: String,
        /// The instance asked for.
        instance: String,
        /// The instances the actor declares.
        known: Vec<String>,
    },
    /// An instance's component type is not declared.
    #[error("instance `{instance}` is of component `{component}`, which the app does not declare")]
    UnknownComponent {
        /// The instance.
        instance: String,
        /// Its component type.
        component: String,
    },
    /// An argument names no formal.
    #[error("{owner} has no parameter `{name}`; {}", listing("its parameters are", "it has no parameters", .known))]
    UnknownParameter {
        /// The actor or instance given the argument.
        owner: Owner,
        /// The argument's name.
        name: String,
        /// The formals there are.
        known: Vec<String>,
    },
    /// An instance argument's value is a bare name that is not a formal of the actor.
    #[error("`{name}` is not a parameter of actor `{actor}`; {}", listing("its parameters are", "it has no parameters", .known))]
    UnknownReference {
        /// The actor.
        actor: String,
        /// The name used as a value.
        name: String,
        /// The actor's formals.
        known: Vec<String>,
    },
    /// A formal is declared twice, or an argument given twice.
    #[error("`{name}` appears twice among the {what} of {owner}")]
    Duplicate {
        /// `parameters` or `arguments`.
        what: &'static str,
        /// The name.
        name: String,
        /// The actor or instance.
        owner: Owner,
    },
    /// A formal without a default gets no value.
    #[error("{owner} needs a value for `{name}`, which has no default")]
    Missing {
        /// The actor or instance.
        owner: Owner,
        /// The formal.
        name: String,
    },
    /// A value does not have the type of the formal's default.
    #[error(
        "`{name}` of {owner} expects {}, found {} ({}){}",
        article(.expected),
        article(.found.type_name()),
        render_value(.found),
        .via.as_ref().map(|v| format!(", the value of actor parameter `{v}`")).unwrap_or_default()
    )]
    TypeMismatch {
        /// The actor or instance.
        owner: Owner,
        /// The formal.
        name: String,
        /// The type of its default.
        expected: &'static str,
        /// The value given.
        found: Value,
        /// The actor formal the value was passed on from, for an instance argument that names one.
        via: Option<String>,
    },
    /// An error of the model's own deployment checks, from [`Resolver::check`].
    #[error("{}", .0.message)]
    Checked(Diagnostic),
}

impl ParamError {
    fn new(at: ModelLocation, kind: ParamErrorKind) -> Self {
        Self(Box::new(ErrorParts { at, kind, notes: Vec::new(), help: None }))
    }

    fn with_note(mut self, at: ModelLocation, note: impl Into<String>) -> Self {
        self.0.notes.push((at, note.into()));
        self
    }

    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = Some(help.into());
        self
    }

    /// Where the problem is.
    pub fn location(&self) -> &ModelLocation {
        &self.0.at
    }

    /// What the problem is.
    pub fn kind(&self) -> &ParamErrorKind {
        &self.0.kind
    }

    /// Other places that explain it (where a formal and its default are declared, say); they may
    /// be in the other file.
    pub fn notes(&self) -> &[(ModelLocation, String)] {
        &self.0.notes
    }

    /// A suggestion for fixing it.
    pub fn help(&self) -> Option<&str> {
        self.0.help.as_deref()
    }

    /// The error as a model diagnostic of the file it is in, with the notes that point into that
    /// file (the others are left out; [`ParamError::render`] prints them too).
    pub fn to_diagnostic(&self) -> Diagnostic {
        if let ParamErrorKind::Checked(diagnostic) = &self.0.kind {
            return diagnostic.clone();
        }
        let mut diagnostic = Diagnostic::error(self.0.at.span, self.0.kind.to_string());
        for (at, note) in self.0.notes.iter().filter(|(at, _)| same_file(at, &self.0.at)) {
            diagnostic = diagnostic.with_note(at.span, note.clone());
        }
        match &self.0.help {
            Some(help) => diagnostic.with_help(help.clone()),
            None => diagnostic,
        }
    }

    /// Prints the error as `cohort check` prints diagnostics: `FILE:LINE:COL: error: MESSAGE`,
    /// the source line with a caret, then notes (with their source lines, from whichever of
    /// `sources` they point into) and help. `sources` are matched by name; without the error's
    /// file among them, the result is the one-line [`Display`](fmt::Display) form.
    pub fn render(&self, sources: &[&SourceFile]) -> String {
        let find = |at: &ModelLocation| sources.iter().find(|s| s.name == at.file);
        let Some(source) = find(&self.0.at) else {
            return format!("{}: error: {}\n", self.0.at, self.0.kind);
        };
        let mut out = self.to_diagnostic().render(source);
        if matches!(self.0.kind, ParamErrorKind::Checked(_)) {
            return out;
        }
        // Diagnostics only point into their own file; a note about the other file is rendered
        // as a diagnostic of that file, relabelled.
        let help_at = match &self.0.help {
            Some(_) => out.rfind("  = help: ").unwrap_or(out.len()),
            None => out.len(),
        };
        let mut others = String::new();
        for (at, note) in self.0.notes.iter().filter(|(at, _)| !same_file(at, &self.0.at)) {
            match find(at) {
                Some(other) => {
                    let text = Diagnostic::error(at.span, note.clone()).render(other);
                    let head = format!("{at}: error: ");
                    match text.strip_prefix(&head) {
                        Some(rest) => others.push_str(&format!("{at}: note: {rest}")),
                        None => others.push_str(&text),
                    }
                }
                None => others.push_str(&format!("{at}: note: {note}\n")),
            }
        }
        out.insert_str(help_at, &others);
        out
    }
}

fn same_file(a: &ModelLocation, b: &ModelLocation) -> bool {
    a.file == b.file && a.kind == b.kind
}

/// "its actors are `A`, `B`", or `none` when there are none.
fn listing(some: &str, none: &str, names: &[String]) -> String {
    if names.is_empty() {
        return none.to_owned();
    }
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("{some} {}", names.join(", "))
}

/// "an integer", "a string".
fn article(type_name: &str) -> String {
    match type_name {
        "integer" => "an integer".to_owned(),
        other => format!("a {other}"),
    }
}

/// A value as it would be written in a model.
fn render_value(value: &Value) -> String {
    match value {
        Value::Str(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Bool(b) => b.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

/// One placement of an actor in the deployment: an actor of an `on ...` line, with its
/// arguments. From [`Resolver::placements`] or [`Resolver::placements_on`].
#[derive(Debug, Clone, Copy)]
pub struct PlacementRef<'m> {
    /// The actor with its arguments.
    pub actor: &'m ActorPlacement,
    /// Where the line puts it.
    pub location: &'m Location,
    file: File<'m>,
}

impl PlacementRef<'_> {
    /// Whether the placement puts the actor on `host` (a host name or address, compared as
    /// written in the deployment; `on all` is on every host).
    pub fn is_on(&self, host: &str) -> bool {
        match self.location {
            Location::All => true,
            Location::Hosts(hosts) => hosts.iter().any(|h| h.name == host),
        }
    }

    /// Where the actor's name stands in the deployment.
    pub fn at(&self) -> ModelLocation {
        self.file.at(self.actor.name.span)
    }
}

/// Resolves parameters of one app, with or without its deployment.
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'m> {
    app: &'m App,
    model: File<'m>,
    deployment: Option<(&'m Deployment, File<'m>)>,
}

impl<'m> Resolver<'m> {
    /// A resolver of `app`, read from `model`, without a deployment: actor formals take their
    /// defaults.
    pub fn new(app: &'m App, model: &'m SourceFile) -> Self {
        Self { app, model: File { source: model, kind: FileKind::AppModel }, deployment: None }
    }

    /// The same resolver with the deployment `deployment`, read from `source`: actor formals take
    /// the arguments of the actor's placement.
    #[must_use]
    pub fn with_deployment(self, deployment: &'m Deployment, source: &'m SourceFile) -> Self {
        Self { deployment: Some((deployment, File { source, kind: FileKind::Deployment })), ..self }
    }

    /// Checks everything about parameters at once and returns every error found: the model's own
    /// checks of the deployment ([`check_deployment`] and [`check_deployment_against`]) and, when
    /// those pass, the resolution of every placement and each of its instances (which finds what
    /// only resolution can: an actor argument passed on to a component formal of another type).
    /// Without a deployment there is nothing to check.
    pub fn check(&self) -> Vec<ParamError> {
        let Some((deployment, file)) = self.deployment else {
            return Vec::new();
        };
        let mut diagnostics = check_deployment(deployment);
        diagnostics.extend(check_deployment_against(deployment, self.app));
        let checked: Vec<ParamError> = diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .map(|d| ParamError::new(file.at(d.span), ParamErrorKind::Checked(d)))
            .collect();
        if !checked.is_empty() {
            return checked;
        }
        let mut errors = Vec::new();
        for line in &deployment.placements {
            for actor in &line.actors {
                let placement = PlacementRef { actor, location: &line.location, file };
                if let Err(error) = self.actor_args_for(placement).and_then(|args| self.all_component_args(&args)) {
                    errors.push(error);
                }
            }
        }
        errors
    }

    /// Prints `error` with the source lines of this resolver's files (see [`ParamError::render`]).
    pub fn render(&self, error: &ParamError) -> String {
        let mut sources = vec![self.model.source];
        sources.extend(self.deployment.map(|(_, file)| file.source));
        error.render(&sources)
    }

    /// Every placement of `actor` in the deployment, in file order (none without a deployment).
    pub fn placements(&self, actor: &str) -> Vec<PlacementRef<'m>> {
        let Some((deployment, file)) = self.deployment else {
            return Vec::new();
        };
        deployment
            .placements
            .iter()
            .flat_map(|line| line.actors.iter().map(move |a| PlacementRef { actor: a, location: &line.location, file }))
            .filter(|p| p.actor.name.name == actor)
            .collect()
    }

    /// The placements of `actor` that put it on `host`.
    pub fn placements_on(&self, actor: &str, host: &str) -> Vec<PlacementRef<'m>> {
        self.placements(actor).into_iter().filter(|p| p.is_on(host)).collect()
    }

    /// The formals of `actor` on `host`: from its placement on that host when there is a
    /// deployment (an error when there is none, or more than one), else from their defaults.
    pub fn actor_args(&self, actor: &str, host: &str) -> Result<ActorArgs, ParamError> {
        let Some((deployment, file)) = self.deployment else {
            return self.actor_defaults(actor);
        };
        if deployment.app.name != self.app.name.name {
            return Err(ParamError::new(
                file.at(deployment.app.span),
                ParamErrorKind::WrongApp { deployment: deployment.app.name.clone(), model: self.app.name.name.clone() },
            ));
        }
        self.actor(actor)?;
        let placements = self.placements(actor);
        let on_host: Vec<&PlacementRef<'m>> = placements.iter().filter(|p| p.is_on(host)).collect();
        match on_host.as_slice() {
            [] => {
                let mut hosts: Vec<String> = Vec::new();
                for placement in &placements {
                    if let Location::Hosts(names) = placement.location {
                        for name in names {
                            if !hosts.contains(&name.name) {
                                hosts.push(name.name.clone());
                            }
                        }
                    }
                }
                let kind = ParamErrorKind::NotPlaced { actor: actor.to_owned(), host: host.to_owned(), hosts };
                Err(ParamError::new(file.at(deployment.app.span), kind))
            }
            [one] => self.actor_args_for(**one),
            [.., last] => {
                let kind = ParamErrorKind::PlacedTwice {
                    actor: actor.to_owned(),
                    host: host.to_owned(),
                    count: on_host.len(),
                };
                let error = on_host[..on_host.len() - 1]
                    .iter()
                    .fold(ParamError::new(last.at(), kind), |e, p| e.with_note(p.at(), "also placed here"));
                Err(error.with_help("an actor runs at most once on a host; keep one of these placements"))
            }
        }
    }

    /// The formals of the actor of `placement`, from the placement's arguments and the defaults.
    pub fn actor_args_for(&self, placement: PlacementRef<'_>) -> Result<ActorArgs, ParamError> {
        let actor = self.actor(&placement.actor.name.name)?;
        self.resolve_actor(actor, Some((placement.actor, placement.file)))
    }

    /// The formals of `actor` from their defaults alone (no deployment).
    pub fn actor_defaults(&self, actor: &str) -> Result<ActorArgs, ParamError> {
        self.resolve_actor(self.actor(actor)?, None)
    }

    /// The formals of `instance` of the actor of `actor_args`.
    pub fn component_args(&self, actor_args: &ActorArgs, instance: &str) -> Result<ComponentArgs, ParamError> {
        let actor = self.actor(&actor_args.actor)?;
        let Some(found) = actor.instances.iter().find(|i| i.name.name == instance) else {
            let known = actor.instances.iter().map(|i| i.name.name.clone()).collect();
            let kind = ParamErrorKind::UnknownInstance {
                actor: actor.name.name.clone(),
                instance: instance.to_owned(),
                known,
            };
            return Err(ParamError::new(self.model.at(actor.name.span), kind));
        };
        self.resolve_instance(actor, actor_args, found)
    }

    /// The formals of every instance of the actor of `actor_args`, in the actor's instance order.
    pub fn all_component_args(&self, actor_args: &ActorArgs) -> Result<Vec<ComponentArgs>, ParamError> {
        let actor = self.actor(&actor_args.actor)?;
        actor.instances.iter().map(|instance| self.resolve_instance(actor, actor_args, instance)).collect()
    }

    fn actor(&self, name: &str) -> Result<&'m Actor, ParamError> {
        self.app.actor(name).ok_or_else(|| {
            let known = self.app.actors.iter().map(|a| a.name.name.clone()).collect();
            let kind = ParamErrorKind::UnknownActor { app: self.app.name.name.clone(), actor: name.to_owned(), known };
            ParamError::new(self.model.at(self.app.name.span), kind)
        })
    }

    fn resolve_actor(
        &self,
        actor: &Actor,
        placement: Option<(&ActorPlacement, File<'_>)>,
    ) -> Result<ActorArgs, ParamError> {
        let owner = Owner::Actor(actor.name.name.clone());
        let formals = Formals { list: &actor.formals, file: self.model, owner: &owner };
        formals.no_duplicates()?;
        let mut given = Vec::new();
        if let Some((placement, file)) = placement {
            for actual in &placement.actuals {
                let (value, span) = match &actual.value {
                    DeploymentValue::Literal(lit) => (lit.value.clone(), lit.span),
                    DeploymentValue::Name(name) => (Value::Str(name.name.clone()), name.span),
                };
                given.push(Given {
                    name: &actual.name,
                    name_at: file.at(actual.name.span),
                    value,
                    origin: Origin::Deployment,
                    at: Some(file.at(span)),
                    via: None,
                });
            }
        }
        let missing_at = placement.map(|(placement, file)| file.at(placement.name.span));
        let list = formals.resolve(given, missing_at, |formal| {
            formal.default.as_ref().map(|d| (d.value.clone(), Origin::ActorDefault, self.model.at(d.span)))
        })?;
        Ok(ActorArgs { actor: actor.name.name.clone(), params: Params { owner, list } })
    }

    fn resolve_instance(
        &self,
        actor: &Actor,
        actor_args: &ActorArgs,
        instance: &Instance,
    ) -> Result<ComponentArgs, ParamError> {
        let Some(component) = self.app.component(&instance.component.name) else {
            let kind = ParamErrorKind::UnknownComponent {
                instance: instance.name.name.clone(),
                component: instance.component.name.clone(),
            };
            return Err(ParamError::new(self.model.at(instance.component.span), kind));
        };
        let owner = Owner::Instance { instance: instance.name.name.clone(), component: component.name.name.clone() };
        let formals = Formals { list: &component.formals, file: self.model, owner: &owner };
        formals.no_duplicates()?;
        let mut given = Vec::new();
        for actual in &instance.actuals {
            let name_at = self.model.at(actual.name.span);
            given.push(match &actual.value {
                ActualValue::Literal(lit) => Given {
                    name: &actual.name,
                    name_at,
                    value: lit.value.clone(),
                    origin: Origin::Instance,
                    at: Some(self.model.at(lit.span)),
                    via: None,
                },
                ActualValue::Param(param) => {
                    let Some(passed) = actor_args.param(&param.name) else {
                        let known = actor.formals.iter().map(|f| f.name.name.clone()).collect();
                        let kind = ParamErrorKind::UnknownReference {
                            actor: actor.name.name.clone(),
                            name: param.name.clone(),
                            known,
                        };
                        return Err(ParamError::new(self.model.at(param.span), kind).with_help(
                            "a bare name as a value refers to a parameter of the actor; quote it to pass a string",
                        ));
                    };
                    Given {
                        name: &actual.name,
                        name_at,
                        value: passed.value.clone(),
                        origin: passed.origin,
                        at: passed.at.clone(),
                        via: Some((param, self.model.at(param.span))),
                    }
                }
            });
        }
        let list = formals.resolve(given, Some(self.model.at(instance.name.span)), |formal| {
            formal.default.as_ref().map(|d| (d.value.clone(), Origin::ComponentDefault, self.model.at(d.span)))
        })?;
        let (instance, component) = (instance.name.name.clone(), component.name.name.clone());
        Ok(ComponentArgs { instance, component, params: Params { owner, list } })
    }
}

/// An argument given for a formal, before it is matched and type-checked.
struct Given<'a> {
    /// The formal it names.
    name: &'a Ident,
    /// Where that name stands.
    name_at: ModelLocation,
    value: Value,
    origin: Origin,
    /// Where the value is written.
    at: Option<ModelLocation>,
    /// The actor formal an instance argument names, and where it names it.
    via: Option<(&'a Ident, ModelLocation)>,
}

/// The formals of one actor or component, being given values.
struct Formals<'a> {
    list: &'a [Formal],
    /// The model file they are declared in.
    file: File<'a>,
    owner: &'a Owner,
}

impl Formals<'_> {
    fn no_duplicates(&self) -> Result<(), ParamError> {
        first_duplicate(self.list.iter().map(|f| (&f.name, self.file.at(f.name.span))), "parameters", self.owner)
    }

    /// Matches `given` arguments to the formals and gives every formal a value: its argument, else
    /// what `default` makes of it. A formal without either is missing, reported at `missing_at`
    /// (or at the formal, when that is none).
    fn resolve(
        &self,
        given: Vec<Given<'_>>,
        missing_at: Option<ModelLocation>,
        default: impl Fn(&Formal) -> Option<(Value, Origin, ModelLocation)>,
    ) -> Result<Vec<Param>, ParamError> {
        first_duplicate(given.iter().map(|g| (g.name, g.name_at.clone())), "arguments", self.owner)?;
        let known = || self.list.iter().map(|f| f.name.name.clone()).collect();
        if let Some(unknown) = given.iter().find(|g| !self.list.iter().any(|f| f.name.name == g.name.name)) {
            let kind = ParamErrorKind::UnknownParameter {
                owner: self.owner.clone(),
                name: unknown.name.name.clone(),
                known: known(),
            };
            return Err(ParamError::new(unknown.name_at.clone(), kind));
        }
        let mut params = Vec::with_capacity(self.list.len());
        for formal in self.list {
            let declared = self.file.at(formal.name.span);
            let (value, origin, at, via) = match given.iter().find(|g| g.name.name == formal.name.name) {
                Some(g) => (g.value.clone(), g.origin, g.at.clone(), g.via.clone()),
                None => match default(formal) {
                    Some((value, origin, at)) => (value, origin, Some(at), None),
                    None => {
                        let kind =
                            ParamErrorKind::Missing { owner: self.owner.clone(), name: formal.name.name.clone() };
                        return Err(match &missing_at {
                            Some(at) => ParamError::new(at.clone(), kind)
                                .with_note(declared, format!("`{}` is declared here", formal.name.name)),
                            None => ParamError::new(declared, kind)
                                .with_help("give it a value in the deployment, or a default in the model"),
                        });
                    }
                },
            };
            let value = match &formal.default {
                None => value,
                Some(d) if value.fits(&d.value) => match (value, &d.value) {
                    (Value::Int(i), Value::Float(_)) => Value::Float(i as f64),
                    (value, _) => value,
                },
                Some(d) => {
                    let kind = ParamErrorKind::TypeMismatch {
                        owner: self.owner.clone(),
                        name: formal.name.name.clone(),
                        expected: d.value.type_name(),
                        found: value,
                        via: via.as_ref().map(|(name, _)| name.name.clone()),
                    };
                    // A value without a place (given by code) cannot reach here: only instance
                    // arguments pass values on, and those come from a model.
                    let at = at.clone().unwrap_or_else(|| declared.clone());
                    let mut error = ParamError::new(at, kind).with_note(
                        self.file.at(d.span),
                        format!(
                            "the default, {}, makes `{}` {}",
                            render_value(&d.value),
                            formal.name.name,
                            article(d.value.type_name())
                        ),
                    );
                    if let Some((name, at)) = via {
                        error =
                            error.with_note(at, format!("`{}` is passed to `{}` here", name.name, formal.name.name));
                    }
                    return Err(error);
                }
            };
            params.push(Param { name: formal.name.name.clone(), value, origin, at });
        }
        Ok(params)
    }
}

/// An error for the first name that appears a second time.
fn first_duplicate<'a>(
    names: impl Iterator<Item = (&'a Ident, ModelLocation)>,
    what: &'static str,
    owner: &Owner,
) -> Result<(), ParamError> {
    let mut seen: Vec<(&Ident, ModelLocation)> = Vec::new();
    for (name, at) in names {
        if let Some((_, first)) = seen.iter().find(|(n, _)| n.name == name.name) {
            let kind = ParamErrorKind::Duplicate { what, name: name.name.clone(), owner: owner.clone() };
            return Err(ParamError::new(at, kind).with_note(first.clone(), "first here"));
        }
        seen.push((name, at));
    }
    Ok(())
}
