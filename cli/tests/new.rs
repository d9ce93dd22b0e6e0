//! `cohort new` as a user runs it, outside the repository: the crate it writes builds offline
//! against this checkout (through the shared external-crate helper, so the dependencies are
//! built once for every such test) and runs, every component instance logging; without a model
//! it writes an example that builds, runs and passes its own test; it never writes into a
//! folder that is not empty without `--force`; a model error gives `file:line:col` and writes
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/external_crate.rs"]
mod external_crate;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use external_crate::{cargo_in_crate, checkout, printed, shared_target};

/// A fresh folder under the system temp folder (outside the repository), removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("cohort-new-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Runs `cohort ARGS` in the folder.
    fn cohort(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cohort")).args(args).current_dir(&self.0).output().unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Every file in `dir`, relative to it, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// `rustfmt --check` of the crate's sources, when rustfmt is installed: the crate is written as
/// `cargo fmt` would leave it.
fn assert_rustfmt_clean(dir: &Path) {
    let check = Command::new("rustfmt")
        .args(["--check", "--edition", "2021", "src/main.rs", "tests/app.rs", "build.rs"])
        .current_dir(dir)
        .output();
    match check {
        Ok(out) => assert!(out.status.success(), "rustfmt would change the crate:\n{}", printed(&out)),
        Err(e) => eprintln!("SKIPPED rustfmt check: {e}"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs the app binary `name` built in the shared target folder, from its crate folder, for
/// `seconds`, with a discovery daemon of its own; returns the outcome and its log.
fn run_app(dir: &Path, name: &str, depl: &str, seconds: &str) -> (Output, String) {
    let output = Command::new(shared_target().join("debug").join(name))
        .args(["run", "--deployment", depl, "--duration", seconds])
        .args(["--daemon", &format!("tcp://127.0.0.1:{}", free_port())])
        .current_dir(dir)
        // Keys (made only when libzmq has CURVE) stay in the test's folder.
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .output()
        .unwrap();
    let log = stderr(&output);
    (output, log)
}

/// Whether `instance` (`Actor.instance`) logged a line with message `message` (any message when
/// `None`) that has `key: value` for every pair of `with`.
fn logged(log: &str, instance: &str, message: Option<&str>, with: &[(&str, &str)]) -> bool {
    log.lines().any(|line| {
        let fields: Vec<&str> = line.split(", ").collect();
        let names_instance = fields.iter().any(|f| *f == format!("component: {instance}"));
        let has_message = message.is_none_or(|m| line.contains(&format!(" INFO {m},")));
        let has_pairs = with.iter().all(|(k, v)| fields.iter().any(|f| *f == format!("{k}: {v}")));
        names_instance && has_message && has_pairs
    })
}

#[test]
fn tankfarm_from_a_model_builds_offline_and_every_instance_logs() {
    let dir = Dir::new("tankfarm");
    let model = fixture("tankfarm.riaps");
    let new = dir.cohort(&["new", "tankfarm", "--from", model.to_str().unwrap()]);
    assert!(new.status.success(), "{}", printed(&new));
    let out = stdout(&new);
    assert!(out.starts_with("wrote the app crate `tankfarm` for app `TankFarm` of tankfarm.riaps"), "{out}");
    assert!(out.ends_with("next:\n  cd tankfarm\n  cargo run -- run --deployment tankfarm.depl\n"), "{out}");
    let crate_dir = dir.0.join("tankfarm");
    assert_eq!(
        files_in(&crate_dir),
        [
            "Cargo.toml",
            "README.md",
            "build.rs",
            "src/components/level_sensor.rs",
            "src/components/logger.rs",
            "src/components/mod.rs",
            "src/components/pump_controller.rs",
            "src/components/valve.rs",
            "src/main.rs",
            "src/messages.rs",
            "tankfarm.depl",
            "tankfarm.riaps",
            "tests/app.rs",
        ]
    );
    for file in files_in(&crate_dir) {
        assert!(out.contains(&format!("  tankfarm/{file}\n")), "{file} is not listed:\n{out}");
    }
    // Outside the repository, Cohort is the checkout `cohort` was built from.
    let manifest = fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let runtime = fs::canonicalize(checkout()).unwrap().join("runtime");
    assert!(manifest.contains(&format!("cohort-runtime = {{ path = {:?} }}", runtime.display().to_string())));
    assert_eq!(
        fs::read_to_string(crate_dir.join("tankfarm.depl")).unwrap().lines().skip(2).collect::<Vec<_>>(),
        ["app TankFarm {", "    on all Field(site = \"\");", "    on all Control;", "}"]
    );
    assert_rustfmt_clean(&crate_dir);

    let built = cargo_in_crate(&crate_dir, &["build"]);
    let text = printed(&built);
    assert!(built.status.success(), "the new crate does not build:\n{text}");
    assert!(!text.contains("warning"), "the new crate builds with warnings:\n{text}");

    let (run, log) = run_app(&crate_dir, "tankfarm", "tankfarm.depl", "4");
    assert!(run.status.success(), "the app failed:\n{log}");
    for instance in ["Field.sensor", "Field.valve", "Control.controller", "Control.logger"] {
        assert!(logged(&log, instance, Some("active"), &[]), "{instance} did not log:\n{log}");
    }
    // The stubs' first ticks send a level, an alarm and a valve command, and each arrives.
    // (instance, message, port)
    let flows = [
        ("Control.logger", "message received", "level"),
        ("Control.logger", "message received", "alarm"),
        ("Control.controller", "message received", "level"),
        ("Field.valve", "request answered", "command"),
        ("Control.controller", "reply received", "valve"),
    ];
    for (instance, message, port) in flows {
        assert!(
            logged(&log, instance, Some(message), &[("port", port)]),
            "{instance} did not log {message} on {port}:\n{log}"
        );
    }
}

#[test]
fn without_a_model_the_example_builds_runs_and_passes_its_own_test() {
    let dir = Dir::new("example");
    let new = dir.cohort(&["new", "hello"]);
    assert!(new.status.success(), "{}", printed(&new));
    let crate_dir = dir.0.join("hello");
    let model = fs::read_to_string(crate_dir.join("hello.riaps")).unwrap();
    assert!(model.contains("app Hello {") && model.contains("pub reading : Reading;"), "{model}");
    assert_rustfmt_clean(&crate_dir);

    // `cargo test` builds the app and its test, which runs it for 3 s.
    let tested = cargo_in_crate(&crate_dir, &["test"]);
    let text = printed(&tested);
    assert!(tested.status.success(), "the example's test fails:\n{text}");
    assert!(text.contains("test every_component_instance_logs ... ok"), "{text}");
    assert!(!text.contains("warning"), "the example builds with warnings:\n{text}");

    let (run, log) = run_app(&crate_dir, "hello", "hello.depl", "2.5");
    assert!(run.status.success(), "the app failed:\n{log}");
    assert!(logged(&log, "Main.sensor", Some("published"), &[("port", "reading")]), "{log}");
    assert!(logged(&log, "Main.logger", Some("message received"), &[("port", "reading")]), "{log}");
}

#[test]
fn a_folder_that_is_not_empty_is_written_into_only_with_force() {
    let dir = Dir::new("force");
    fs::create_dir_all(dir.0.join("app")).unwrap();
    fs::write(dir.0.join("app/notes.txt"), "mine").unwrap();

    for args in [&["new", "app"][..], &["new", "other", "--dir", "app"]] {
        let refused = dir.cohort(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", printed(&refused));
        let err = stderr(&refused);
        assert!(err.contains("app exists and is not empty; give --force"), "{err}");
        assert_eq!(files_in(&dir.0.join("app")), ["notes.txt"]);
    }

    let forced = dir.cohort(&["new", "app", "--force"]);
    assert!(forced.status.success(), "{}", printed(&forced));
    let files = files_in(&dir.0.join("app"));
    assert!(files.contains(&"notes.txt".to_owned()) && files.contains(&"Cargo.toml".to_owned()), "{files:?}");
    assert_eq!(fs::read_to_string(dir.0.join("app/notes.txt")).unwrap(), "mine");

    // A name cargo refuses, and a checkout that is not one, are usage errors too.
    for args in [&["new", "2app"][..], &["new", "self"], &["new", "x", "--cohort-path", "/"]] {
        let refused = dir.cohort(args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {}", printed(&refused));
    }
    assert!(!dir.0.join("x").exists() && !dir.0.join("2app").exists());
}

#[test]
fn a_model_error_gives_its_location_exits_1_and_writes_nothing() {
    let dir = Dir::new("model-error");
    fs::write(
        dir.0.join("bad.riaps"),
        "app Bad {\n  message M;\n  component C { pub p : N; }\n  actor X { { c : C; } }\n}\n",
    )
    .unwrap();
    let failed = dir.cohort(&["new", "bad", "--from", "bad.riaps"]);
    assert_eq!(failed.status.code(), Some(1), "{}", printed(&failed));
    let err = stderr(&failed);
    assert!(err.starts_with("bad.riaps:3:25: error: unknown message type `N`\n"), "{err}");
    assert!(err.ends_with("no crate written: the model has 1 error\n"), "{err}");
    assert_eq!(stdout(&failed), "");
    assert_eq!(files_in(&dir.0), ["bad.riaps"]);

    let missing = dir.cohort(&["new", "bad", "--from", "missing.riaps"]);
    assert_eq!(missing.status.code(), Some(2), "{}", printed(&missing));
    assert!(stderr(&missing).contains("cannot read missing.riaps"));
}

#[test]
fn help_lists_the_files_written() {
    let help = Command::new(env!("CARGO_BIN_EXE_cohort")).args(["new", "--help"]).output().unwrap();
    assert!(help.status.success());
    let text = stdout(&help);
    for expected in ["--from <MODEL>", "--force", "--dir <DIR>", "--cohort-path <PATH>", "src/components/", "NAME.depl"]
    {
        assert!(text.contains(expected), "no {expected:?} in\n{text}");
    }
}
