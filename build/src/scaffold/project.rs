//! The files of a new app crate around its Rust sources: `Cargo.toml`, `build.rs`, the
//! deployment, the README, the test, and the example model used when none is given.

use std::fmt::Write as _;

use cohort_model::ast::{Actor, ActualValue, App};

use super::CohortSource;
use crate::params::ParamType;
use crate::plan::AppPlan;

/// A TOML basic string of `text`.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Cargo.toml`: the package, Cohort, serde and slog, cohort-build for `build.rs`, libzmq
/// optimised, and a workspace of its own.
pub(super) fn cargo_toml(name: &str, cohort: &CohortSource) -> String {
    let (runtime, build, note, zmq_sys) = match cohort {
        CohortSource::Path(root) => (
            format!("{{ path = {} }}", toml_string(&root.join("runtime").display().to_string())),
            format!("{{ path = {} }}", toml_string(&root.join("build").display().to_string())),
            "# Cohort, from the checkout `cohort new` was built from.\n".to_owned(),
            format!("zmq-sys = {{ path = {} }}\n", toml_string(&root.join("zmq-sys").display().to_string())),
        ),
        CohortSource::Version(version) => (
            toml_string(version),
            toml_string(version),
            format!(
                "# Cohort {version}. To build against a Cohort checkout instead, point both Cohort dependencies\n\
                 # at it: cohort-runtime = {{ path = \"/path/to/cohort/runtime\" }}, and cohort-build (below)\n\
                 # = {{ path = \"/path/to/cohort/build\" }}.\n"
            ),
            "# zmq-sys = { path = \"/path/to/cohort/zmq-sys\" }\n".to_owned(),
        ),
    };
    format!(
        "[package]\n\
         name = {name}\n\
         version = \"0.1.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [dependencies]\n\
         {note}\
         cohort-runtime = {runtime}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         slog = \"2.8\"\n\
         \n\
         [build-dependencies]\n\
         # Generates the app's typed layer from its model in build.rs.\n\
         cohort-build = {build}\n\
         \n\
         # libzmq with CURVE: Cohort's zmq-sys, in place of the crates.io one under the zmq crate (which\n\
         # builds libzmq without libsodium, hence without encryption). Without it, the app refuses to\n\
         # start unless run with --insecure.\n\
         [patch.crates-io]\n\
         {zmq_sys}\
         \n\
         # libsodium and libzmq are compiled from source (by zmq-sys) in the first build, which takes a\n\
         # few minutes; optimise libzmq even in debug builds.\n\
         [profile.dev.package.zmq-sys]\n\
         opt-level = 3\n\
         \n\
         # The app is a workspace of its own wherever it is written; remove this to add it to another.\n\
         [workspace]\n",
        name = toml_string(name),
    )
}

/// `build.rs`: generate the typed layer from the model.
pub(super) fn build_rs(model_file: &str) -> String {
    format!(
        "// Generates the app's typed layer from its model, into OUT_DIR; `src/main.rs` includes it.\n\
         fn main() {{\n    \
             cohort_build::compile_or_exit({model_file:?});\n\
         }}\n"
    )
}

/// The type a deployment value for actor parameter `formal` must have: that of the component
/// parameters it is passed to, where they say (`None` when none does).
fn actor_param_type(plan: &AppPlan, actor: &Actor, formal: &str) -> Option<ParamType> {
    let mut found = None;
    for instance in &actor.instances {
        let Some(component) = plan.components.iter().find(|c| c.model_name == instance.component.name) else {
            continue;
        };
        for actual in &instance.actuals {
            let ActualValue::Param(param) = &actual.value else { continue };
            if param.name != formal {
                continue;
            }
            let Some(p) = component.params.iter().find(|p| p.model_name == actual.name.name) else { continue };
            found = match (found, p.ty) {
                (_, ParamType::Value) => found,
                (None, ty) => Some(ty),
                (Some(ParamType::Int), ParamType::Float) => Some(ParamType::Float),
                (so_far, _) => so_far,
            };
        }
    }
    found
}

/// A deployment value of type `ty`.
fn placeholder(ty: Option<ParamType>) -> &'static str {
    match ty {
        Some(ParamType::Float) => "0.0",
        Some(ParamType::Bool) => "false",
        Some(ParamType::Str) => "\"\"",
        Some(ParamType::Int | ParamType::Value) | None => "0",
    }
}

/// The deployment: every actor on every host, so that `run` starts them all on this one, with a
/// value of the right type for each actor parameter that has no default.
pub(super) fn deployment(app: &App, plan: &AppPlan) -> String {
    let mut out = format!(
        "// Where the actors of `{}` run: every actor on every host (so `run` starts them all on this\n\
         // one), with a placeholder value for each actor parameter the model gives no default.\n\
         app {} {{\n",
        app.name.name, app.name.name
    );
    for actor in &app.actors {
        let args: Vec<String> = actor
            .formals
            .iter()
            .filter(|f| f.default.is_none())
            .map(|f| format!("{} = {}", f.name.name, placeholder(actor_param_type(plan, actor, &f.name.name))))
            .collect();
        if args.is_empty() {
            let _ = writeln!(out, "    on all {};", actor.name.name);
        } else {
            let _ = writeln!(out, "    on all {}({});", actor.name.name, args.join(", "));
        }
    }
    out.push_str("}\n");
    out
}

/// Every component instance, as its log lines name it: `Actor.instance`.
pub(super) fn instances(app: &App) -> Vec<String> {
    app.actors
        .iter()
        .flat_map(|a| a.instances.iter().map(move |i| format!("{}.{}", a.name.name, i.name.name)))
        .collect()
}

/// `tests/app.rs`: runs the app for 3 s and checks that every instance logged.
pub(super) fn app_test(name: &str, depl: &str, instances: &[String]) -> String {
    let list: String = instances.iter().map(|i| format!("{i}\n")).collect();
    format!(
        "//! Runs the app on this host for 3 s, as `cargo run -- run --deployment {depl}` does, and\n\
         //! checks that it stops cleanly and that every component instance logged.\n\
         \n\
         use std::process::Command;\n\
         \n\
         /// Every component instance of the model, one a line, as its log lines name it:\n\
         /// `Actor.instance`.\n\
         const INSTANCES: &str = \"\\\n{list}\";\n\
         \n\
         /// Whether `line` names `instance` as the component that logged it.\n\
         fn logged_by(line: &str, instance: &str) -> bool {{\n    \
             let key = format!(\"component: {{instance}}\");\n    \
             line.match_indices(&key)\n        \
                 .any(|(at, _)| matches!(line[at + key.len()..].chars().next(), None | Some(',')))\n\
         }}\n\
         \n\
         #[test]\n\
         fn every_component_instance_logs() {{\n    \
             // A discovery daemon of the app's own, on a free port, away from any running app's.\n    \
             let port = std::net::TcpListener::bind(\"127.0.0.1:0\")\n        \
                 .and_then(|listener| listener.local_addr())\n        \
                 .expect(\"a free port\")\n        \
                 .port();\n    \
             let output = Command::new(env!(\"CARGO_BIN_EXE_{name}\"))\n        \
                 .args([\"run\", \"--deployment\", {depl:?}, \"--duration\", \"3\"])\n        \
                 .args([\"--daemon\", &format!(\"tcp://127.0.0.1:{{port}}\")])\n        \
                 .current_dir(env!(\"CARGO_MANIFEST_DIR\"))\n        \
                 .output()\n        \
                 .expect(\"the app starts\");\n    \
             let log = String::from_utf8_lossy(&output.stderr);\n    \
             assert!(output.status.success(), \"the app failed:\\n{{log}}\");\n    \
             for instance in INSTANCES.lines() {{\n        \
                 assert!(\n            \
                     log.lines().any(|line| logged_by(line, instance)),\n            \
                     \"{{instance}} logged nothing:\\n{{log}}\"\n        \
                 );\n    \
             }}\n\
         }}\n"
    )
}

/// `README.md`.
pub(super) fn readme(name: &str, app: &str, model_file: &str, depl: &str, cohort: &CohortSource) -> String {
    let docs = match cohort {
        CohortSource::Path(root) => format!("[{0}]({0})", root.join("docs").join("runtime.md").display()),
        CohortSource::Version(_) => "`docs/runtime.md` in Cohort's repository".to_owned(),
    };
    let commands = [
        (format!("cargo run -- run --deployment {depl}"), "every actor on this host; Ctrl-C stops it"),
        (format!("cargo run -- run --deployment {depl} --duration 10"), "stop after 10 s"),
        ("cargo test".to_owned(), "run it for 3 s: every instance must log"),
    ];
    let width = commands.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let commands: String = commands.iter().map(|(c, what)| format!("{c:width$}   # {what}\n")).collect();
    format!(
        "# {name}\n\
         \n\
         A Cohort app: the RIAPS app `{app}` of [`{model_file}`]({model_file}), as a Rust\n\
         crate. `cohort new` wrote it with every handler stubbed, so it builds and runs as it is.\n\
         \n\
         ## Build and run\n\
         \n\
         ```sh\n\
         {commands}\
         ```\n\
         \n\
         The first build compiles libzmq from source and takes a few minutes. Each component instance\n\
         logs as it starts, and each handler logs what it got; a component with a timer and sending\n\
         ports sends one default message on each at its first tick, so the log shows messages flowing.\n\
         \n\
         ## Where to write code\n\
         \n\
         | file | what it holds |\n\
         |---|---|\n\
         | `{model_file}` | the model: messages, components with their ports, actors |\n\
         | `src/messages.rs` | a struct per message: add the fields it carries |\n\
         | `src/components/` | a file per component type, a stub per handler: your code goes here |\n\
         | `{depl}` | where the actors run: all of them on every host, to start with |\n\
         | `build.rs` | generates the typed layer from the model when the crate builds |\n\
         | `tests/app.rs` | runs the app for 3 s and checks that every instance logged |\n\
         \n\
         `build.rs` turns the model into Rust at each build: a trait per component type with a handler\n\
         per input port, typed port handles (`ctx.ports.<port>`), a `Params` struct per component, and\n\
         group types. Change the model and rebuild, and the compiler points at each handler to add or\n\
         change; a model error fails the build at its `file:line:col`.\n\
         \n\
         ## Docs\n\
         \n\
         Cohort's guide to writing an app, the handler of each port kind and the launcher's options:\n\
         {docs} (\"Write your own app\").\n"
    )
}

/// The example model of `cohort new` without `--from`: a sensor publishes a reading on a timer,
/// a logger logs each one, both in one actor.
pub(super) fn example_model(crate_name: &str, app: &str) -> String {
    format!(
        "// {crate_name}: an example app written by `cohort new`. A sensor with a clock publishes readings\n\
         // and a logger subscribes to them. Change the model and rebuild: the compiler asks for handlers.\n\
         app {app} {{\n    \
             message Reading;\n\
         \n    \
             // Ticks every second (1000 ms) and publishes Readings.\n    \
             component Sensor (rate = 1.0) {{\n        \
                 timer clock 1000;\n        \
                 pub reading : Reading;\n    \
             }}\n\
         \n    \
             // Gets every Reading published.\n    \
             component Logger {{\n        \
                 sub reading : Reading;\n    \
             }}\n\
         \n    \
             actor Main {{\n        \
                 {{\n            \
                     sensor : Sensor;\n            \
                     logger : Logger;\n        \
                 }}\n    \
             }}\n\
         }}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(toml_string("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
    }
}
