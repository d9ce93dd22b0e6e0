//! A new app crate from a model, as files: what `cohort new` writes.
//!
//! [`Scaffold`] turns a checked model into a crate that builds and runs as it is: `Cargo.toml`,
//! a one-line `build.rs` that generates the typed layer, `src/main.rs`, `src/messages.rs` with a
//! serde struct per message, `src/components/` with a file per component type whose handlers
//! are stubs that log, a deployment that runs every actor on this host, a README and a test. It
//! writes nothing: [`Scaffold::generate`] returns the files as data, for the caller to write.
//!
//! ```
//! use cohort_build::scaffold::{CohortSource, Scaffold};
//!
//! // Without a model, the crate gets a small example one.
//! let app = Scaffold::new("hello", CohortSource::Version("0.1.0".into())).generate()?;
//! assert_eq!(app.model_file, "hello.riaps");
//! let paths: Vec<String> = app.files.iter().map(|(path, _)| path.display().to_string()).collect();
//! assert!(paths.contains(&"src/components/sensor.rs".to_owned()));
//! assert_eq!(app.instances, ["Main.sensor", "Main.logger"]);
//! # Ok::<(), cohort_build::Error>(())
//! ```
//!
//! The stubs use exactly the names the generated code has (the generator's own plan decides
//! them), so they implement its traits whatever the model names: keywords, collisions, a message
//! named like a component.

mod code;
mod imports;
mod project;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::{check, names, plan, user_path, Config};

use code::Root;

/// Where a new app crate gets Cohort from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CohortSource {
    /// A Cohort checkout, by its root (the folder holding `runtime/` and `build/`): the crate
    /// depends on `cohort-runtime = { path = "<root>/runtime" }` and
    /// `cohort-build = { path = "<root>/build" }`. Give an absolute path: the crate may be
    /// anywhere.
    Path(PathBuf),
    /// A published version of both crates, with a comment in `Cargo.toml` saying how to point
    /// them at a checkout instead.
    Version(String),
}

/// A new app crate, as files, with what the caller may want to tell about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCrate {
    /// The crate's (and its binary's) name.
    pub name: String,
    /// The model's app (its first, if it declares several).
    pub app: String,
    /// The model's file in the crate root (`build.rs` compiles it).
    pub model_file: String,
    /// The deployment's file in the crate root: `<name>.depl`.
    pub deployment_file: String,
    /// Every component instance, as its log lines name it (`Actor.instance`), model order.
    pub instances: Vec<String>,
    /// Every file: its path relative to the crate root, and its contents.
    pub files: Vec<(PathBuf, String)>,
    /// The model's warnings, rendered as `cohort check` prints them.
    pub warnings: Vec<String>,
}

/// The settings of a new app crate; a builder, as [`Config`] is.
#[derive(Debug, Clone)]
pub struct Scaffold {
    name: String,
    cohort: CohortSource,
    model: Option<(String, String)>,
    root: String,
}

impl Scaffold {
    /// A crate named `name` (a cargo package name: ASCII letters, digits, `-` and `_`, starting
    /// with a letter) on Cohort from `cohort`, with the example model unless
    /// [`model`](Scaffold::model) gives one.
    pub fn new(name: impl Into<String>, cohort: CohortSource) -> Scaffold {
        Scaffold { name: name.into(), cohort, model: None, root: "crate".to_owned() }
    }

    /// The app's model: `path` as the user gave it (it names the model in diagnostics; the
    /// crate gets a copy under the same file name when it ends with `.riaps`, else as
    /// `<name>.riaps`), and its text.
    pub fn model(&mut self, path: impl Into<String>, text: impl Into<String>) -> &mut Self {
        self.model = Some((path.into(), text.into()));
        self
    }

    /// The module that holds the app's `model`, `messages` and `components` modules (default
    /// `crate`). Another path, such as `crate::m001`, puts a whole app in one module of a larger
    /// crate; the stubs then name their modules from there.
    pub fn module_root(&mut self, path: impl Into<String>) -> &mut Self {
        self.root = path.into();
        self
    }

    /// The generator's settings the stubs are written for: messages in `<root>::messages`,
    /// component types in `<root>::components`.
    pub fn config(&self) -> Config {
        let mut config = Config::new();
        config
            .messages_path(&format!("{}::messages", self.root))
            .components_path(&format!("{}::components", self.root));
        config
    }

    /// The crate's files. Fails when the name is not a usable package name, the module root is
    /// not a path, or the model has errors ([`Error::Model`], rendered as `cohort check` prints
    /// them, with the path given to [`model`](Scaffold::model)).
    pub fn generate(&self) -> Result<AppCrate, Error> {
        let name = &self.name;
        check_name(name)?;
        user_path("module root", &self.root)?;
        let (path, text) = match &self.model {
            Some((path, text)) => (path.clone(), text.clone()),
            None => (format!("{name}.riaps"), project::example_model(name, &app_name(name))),
        };
        let checked = check(&path, &text)?;
        let model_file = crate_model_file(name, &path);
        // Quotes in the stubs point into the crate's copy of the model.
        let source = cohort_model::SourceFile::new(model_file.clone(), text.clone());
        let app = checked.app();
        let plan = plan::plan(app, &source);
        let generated_file = format!("{}.rs", names::snake_case(&plan.name));
        let depl = format!("{name}.depl");
        let instances = project::instances(app);
        let root = Root(&self.root);

        let mut files: Vec<(PathBuf, String)> = vec![
            ("Cargo.toml".into(), project::cargo_toml(name, &self.cohort)),
            ("build.rs".into(), project::build_rs(&model_file)),
            (model_file.clone().into(), text),
            (depl.clone().into(), project::deployment(app, &plan)),
            ("README.md".into(), project::readme(name, &plan.name, &model_file, &depl, &self.cohort)),
            ("src/main.rs".into(), code::main_rs(name, &plan.name, &model_file, &generated_file, &depl)),
            ("src/messages.rs".into(), code::messages_rs(&plan, &model_file)),
        ];
        let modules = code::file_modules(&plan);
        files.push(("src/components/mod.rs".into(), code::components_mod_rs(&plan, &modules)));
        for (component, module) in plan.components.iter().zip(&modules) {
            let file = format!("src/components/{}.rs", module.trim_start_matches("r#"));
            files.push((file.into(), code::component_rs(component, root)));
        }
        files.push(("tests/app.rs".into(), project::app_test(name, &depl, &instances)));

        Ok(AppCrate {
            name: name.clone(),
            app: plan.name,
            model_file,
            deployment_file: depl,
            instances,
            files,
            warnings: checked.warnings,
        })
    }
}

/// Names cargo refuses for a package, or that would clash with the crate's own dependencies.
const RESERVED: [&str; 11] =
    ["test", "core", "std", "alloc", "proc_macro", "cohort_runtime", "cohort_build", "serde", "slog", "build", "deps"];

/// Checks that `name` can name the crate, its binary and its folder.
fn check_name(name: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Err(Error::InvalidName { name: name.to_owned(), reason: reason.to_owned() });
    let Some(first) = name.chars().next() else { return invalid("it is empty") };
    if !first.is_ascii_alphabetic() {
        return invalid("it must start with an ASCII letter");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return invalid("it may hold only ASCII letters, digits, `-` and `_`");
    }
    if name.len() > 64 {
        return invalid("it is longer than 64 characters");
    }
    let snake = name.replace('-', "_");
    if names::escape(&snake).text() != snake || RESERVED.contains(&snake.as_str()) {
        return invalid("it is a Rust keyword or a name Cohort's crates use");
    }
    Ok(())
}

/// The example app's name: the crate's name in upper camel case (`tank-farm` → `TankFarm`).
fn app_name(crate_name: &str) -> String {
    crate_name
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The model's file name in the crate: the given file's, when it is a `.riaps` file name, else
/// `<name>.riaps`.
fn crate_model_file(name: &str, path: &str) -> String {
    match Path::new(path).file_name().and_then(|f| f.to_str()) {
        Some(file) if file.ends_with(".riaps") && file.len() > ".riaps".len() => file.to_owned(),
        _ => format!("{name}.riaps"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(scaffold: &Scaffold) -> AppCrate {
        scaffold.generate().unwrap_or_else(|e| panic!("{e}"))
    }

    fn file<'a>(app: &'a AppCrate, path: &str) -> &'a str {
        match app.files.iter().find(|(p, _)| p == Path::new(path)) {
            Some((_, text)) => text,
            None => panic!("no {path} in {:?}", app.files.iter().map(|(p, _)| p).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn names_must_be_package_names() {
        for good in ["tankfarm", "tank-farm", "tank_farm2", "A"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "2tank", "tank farm", "tänk", "-x", "self", "type", "test", "serde", "cohort-runtime"] {
            assert!(matches!(check_name(bad), Err(Error::InvalidName { .. })), "{bad}");
        }
    }

    #[test]
    fn the_example_app_is_named_after_the_crate() {
        assert_eq!(app_name("tank-farm"), "TankFarm");
        assert_eq!(app_name("hello"), "Hello");
        assert_eq!(app_name("my_app2"), "MyApp2");
        let app = files(&Scaffold::new("tank-farm", CohortSource::Version("0.1.0".into())));
        assert_eq!(app.app, "TankFarm");
        assert_eq!(app.model_file, "tank-farm.riaps");
        assert_eq!(app.deployment_file, "tank-farm.depl");
        assert!(app.warnings.is_empty(), "{:?}", app.warnings);
        assert!(file(&app, "src/main.rs").contains("include!(concat!(env!(\"OUT_DIR\"), \"/tank_farm.rs\"));"));
        assert!(file(&app, "build.rs").contains("cohort_build::compile_or_exit(\"tank-farm.riaps\");"));
        assert!(file(&app, "tests/app.rs").contains("env!(\"CARGO_BIN_EXE_tank-farm\")"));
        assert_eq!(file(&app, "tank-farm.depl").lines().filter(|l| l.starts_with("    on all")).count(), 1);
    }

    #[test]
    fn the_model_keeps_its_file_name() {
        assert_eq!(crate_model_file("x", "models/tankfarm.riaps"), "tankfarm.riaps");
        assert_eq!(crate_model_file("x", "model.txt"), "x.riaps");
        assert_eq!(crate_model_file("x", ".riaps"), "x.riaps");
    }

    #[test]
    fn cohort_comes_from_a_checkout_or_a_version() {
        let model = "app A { message M; component C { pub p : M; } actor X { { c : C; } } }";
        let path = files(Scaffold::new("a", CohortSource::Path("/opt/co\"hort".into())).model("a.riaps", model));
        let toml = file(&path, "Cargo.toml");
        assert!(toml.contains("cohort-runtime = { path = \"/opt/co\\\"hort/runtime\" }\n"), "{toml}");
        assert!(toml.contains("cohort-build = { path = \"/opt/co\\\"hort/build\" }\n"), "{toml}");
        assert!(toml.contains("[profile.dev.package.zmq-sys]\nopt-level = 3\n"), "{toml}");
        assert!(toml.contains("[patch.crates-io]\nzmq-sys = { path = \"/opt/co\\\"hort/zmq-sys\" }\n"), "{toml}");
        let version = files(Scaffold::new("a", CohortSource::Version("0.1.0".into())).model("a.riaps", model));
        let toml = file(&version, "Cargo.toml");
        assert!(toml.contains("cohort-runtime = \"0.1.0\"\n") && toml.contains("cohort-build = \"0.1.0\"\n"), "{toml}");
        assert!(toml.contains("# at it: cohort-runtime = { path = \"/path/to/cohort/runtime\" }"), "{toml}");
    }

    #[test]
    fn a_model_error_is_rendered_with_the_path_given() {
        let bad = "app A { message M; component C { pub p : N; } actor X { { c : C; } } }";
        let error = Scaffold::new("a", CohortSource::Version("0.1.0".into())).model("dir/a.riaps", bad).generate();
        match error {
            Err(Error::Model { rendered, .. }) => {
                assert!(rendered.starts_with("dir/a.riaps:1:42: error: unknown message type `N`"), "{rendered}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn required_actor_parameters_get_a_value_of_the_type_they_are_passed_on_as() {
        let model = "app A { message M;
            component C (i = 1, f = 1.5, s = \"x\", b = true, v) { pub p : M; }
            actor X (ai, af, as, ab, unused, given = 3) {
                { c : C(i = ai, f = af, s = as, b = ab, v = given); }
            }
            actor Y (n) { { c1 : C(v = 1); c2 : C(f = n, v = 2); } }
        }";
        let app = files(Scaffold::new("a", CohortSource::Version("0.1.0".into())).model("a.riaps", model));
        let depl = file(&app, "a.depl");
        assert!(depl.contains("    on all X(ai = 0, af = 0.0, as = \"\", ab = false, unused = 0);\n"), "{depl}");
        assert!(depl.contains("    on all Y(n = 0.0);\n"), "{depl}");
        let deployment = cohort_model::compile_deployment(depl);
        assert!(deployment.diagnostics.is_empty(), "{:?}", deployment.diagnostics);
        let (Some(deployment), Some(model)) = (deployment.value, cohort_model::compile_app_model(model).value) else {
            panic!("the deployment and the model compile");
        };
        assert_eq!(cohort_model::check_deployment_against(&deployment, &model.apps[0]), []);
    }

    #[test]
    fn stubs_name_colliding_items_by_their_full_path() {
        // A message named like its component, like a runtime type and like a prelude item.
        let model = "app A { message Sensor; message Tick; message Result; message Ok;
            component Sensor { timer clock 1000; pub out : Sensor; sub tick : Tick; rep r : (Result, Ok); }
            component sensor_ { sub s : Sensor; }
            actor X { { a : Sensor; b : sensor_; } }
        }";
        let app = files(Scaffold::new("a", CohortSource::Version("0.1.0".into())).model("a.riaps", model));
        let sensor = file(&app, "src/components/sensor.rs");
        for expected in [
            "use cohort_runtime::typed::Context;\nuse cohort_runtime::{HandlerError, HandlerResult, Received, Tick};\n\n\
             use crate::model::sensor;\n",
            "ctx.ports.out.publish(&crate::messages::Sensor::default())?;",
            "    fn on_tick(\n        &mut self,\n        ctx: &mut Context<sensor::Ports>,\n        \
             message: Received<crate::messages::Tick>,\n    ) -> HandlerResult {",
            "request: Received<crate::messages::Result>,\n    ) -> Result<crate::messages::Ok, HandlerError> {",
            "Ok(crate::messages::Ok::default())",
        ] {
            assert!(sensor.contains(expected), "no {expected:?} in\n{sensor}");
        }
        // `sensor_`'s type and the module `sensor_` of the generated code have one name.
        let other = file(&app, "src/components/sensor_2.rs");
        assert!(other.contains("impl crate::model::sensor_::Component for sensor_ {"), "{other}");
        assert!(other.contains("#[allow(non_camel_case_types)]\npub struct sensor_ {"), "{other}");
        let components = file(&app, "src/components/mod.rs");
        assert!(
            components.contains("mod sensor;\nmod sensor_2;\n\npub use sensor::Sensor;\npub use sensor_2::sensor_;\n")
        );
    }
}
