//! The `cohort` binary, run as a user runs it: exit codes, diagnostics on standard error, JSON
//! and dot on standard output or in the `-o` file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder under the system temp folder, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    /// A folder named after the test, so parallel tests never share one.
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("cohort-cli-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Writes `text` to `name` inside the folder.
    fn write(&self, name: &str, text: &str) -> &Self {
        fs::write(self.0.join(name), text).unwrap();
        self
    }

    /// Runs `cohort` with this folder as the working directory.
    fn cohort(&self, args: &[&str]) -> Run {
        Run::new(Command::new(env!("CARGO_BIN_EXE_cohort")).args(args).current_dir(&self.0).output().unwrap())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The outcome of one run of `cohort`.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn new(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Checks the exit code, showing both streams when it is not the one expected.
    fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    fn json(&self) -> Value {
        assert!(self.stdout.ends_with("}\n"), "{}", self.stdout);
        serde_json::from_str(&self.stdout).unwrap()
    }
}

/// Runs `cohort` in the current directory, for arguments that need no files.
fn cohort(args: &[&str]) -> Run {
    Run::new(Command::new(env!("CARGO_BIN_EXE_cohort")).args(args).output().unwrap())
}

/// The example app shipped in `apps/estimator`.
fn estimator(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/estimator").join(file).display().to_string()
}

/// A model with three independent errors: lines 4, 8 and 10.
const BAD_MODEL: &str = "\
app Bad {
    message Ping;
    component A {
        pub out : Pong;
        sub inp : Ping;
    }
    component B {
        sub inp : Missing;
    }
    actor X { { a : A; b : Nope; } }
}
";

/// A deployment of the estimator: `Aggregator` lacks `posArg`, and `Estimatr` is misspelt.
const BAD_DEPLOYMENT: &str = "\
app DistributedEstimator {
\ton all Estimator;
\ton all Aggregator(optArg=\"x\");
\ton all Estimatr;
}
";

const TWO_APPS: &str = "\
app A { message M; component C { pub p : M; } actor X { { c : C; } } }
app B { message M; component C { pub p : M; sub s : M; } actor Y { { c : C; } } }
";

// ---- help and usage ----

#[test]
fn help_says_what_cohort_is_and_shows_examples() {
    let run = cohort(&["--help"]).expect_code(0);
    assert!(run.stdout.contains("Cohort runs RIAPS-style distributed component applications"), "{}", run.stdout);
    for text in ["check", "compile", "graph", "Examples:", "cohort check app.riaps app.depl"] {
        assert!(run.stdout.contains(text), "missing {text:?} in\n{}", run.stdout);
    }
    for (sub, flags) in
        [("check", &["<FILE>..."][..]), ("compile", &["--output", "--app"]), ("graph", &["--output", "--app"])]
    {
        let run = cohort(&[sub, "--help"]).expect_code(0);
        assert!(run.stdout.contains("Examples:"), "{}", run.stdout);
        for flag in flags {
            assert!(run.stdout.contains(flag), "missing {flag} in\n{}", run.stdout);
        }
    }
}

#[test]
fn version_prints_the_package_version() {
    let run = cohort(&["--version"]).expect_code(0);
    assert_eq!(run.stdout, format!("cohort {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_with_2() {
    cohort(&[]).expect_code(2);
    cohort(&["check"]).expect_code(2);
    cohort(&["compile"]).expect_code(2);
    cohort(&["frobnicate"]).expect_code(2);
    cohort(&["graph", "--no-such-flag", "x.riaps"]).expect_code(2);
}

// ---- check ----

#[test]
fn check_accepts_the_estimator_app_and_its_deployment() {
    let run = cohort(&["check", &estimator("estimator.riaps"), &estimator("estimator.depl")]).expect_code(0);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "checked 2 files: no errors\n");
}

#[test]
fn check_reports_the_error_position_as_typed() {
    let dir = Dir::new("check_position");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["check", "./bad.riaps"]).expect_code(1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.starts_with(
            "./bad.riaps:4:19: error: unknown message type `Pong`\n  |\n4 |         pub out : Pong;\n  |                   ^^^^\n"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn check_reports_every_independent_error() {
    let dir = Dir::new("check_every_error");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["check", "bad.riaps"]).expect_code(1);
    for line in [
        "bad.riaps:4:19: error: unknown message type `Pong`",
        "bad.riaps:8:19: error: unknown message type `Missing`",
        "bad.riaps:10:28: error: unknown component `Nope`",
    ] {
        assert!(run.stderr.contains(line), "missing {line:?} in\n{}", run.stderr);
    }
    assert!(run.stderr.ends_with("checked 1 file: 3 errors\n"), "{}", run.stderr);
}

#[test]
fn check_fails_when_any_of_several_files_has_errors() {
    let dir = Dir::new("check_several");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["check", &estimator("estimator.riaps"), "bad.riaps"]).expect_code(1);
    assert!(run.stderr.ends_with("checked 2 files: 3 errors\n"), "{}", run.stderr);
}

#[test]
fn check_prints_warnings_but_passes() {
    let dir = Dir::new("check_warning");
    // The actor's `s` is a string by default, but the component's `n` expects a number.
    dir.write(
        "warn.riaps",
        "app W {\n  message M;\n  component C (n = 1) { pub p : M; }\n  actor X (s = \"t\") { { c : C(n = s); } }\n}\n",
    );
    let run = dir.cohort(&["check", "warn.riaps"]).expect_code(0);
    assert!(run.stderr.starts_with("warn.riaps:4:35: warning: `s` is a string by default"), "{}", run.stderr);
    assert!(run.stderr.ends_with("checked 1 file: no errors, 1 warning\n"), "{}", run.stderr);
}

#[test]
fn check_refuses_an_unknown_extension_with_2() {
    let dir = Dir::new("check_extension");
    dir.write("model.txt", "app A {}");
    let run = dir.cohort(&["check", "model.txt"]).expect_code(2);
    assert_eq!(run.stderr, "cohort: error: model.txt: not a .riaps or .depl file\n");
}

#[test]
fn check_refuses_a_missing_file_with_2() {
    let dir = Dir::new("check_missing");
    let run = dir.cohort(&["check", "missing.riaps"]).expect_code(2);
    assert!(run.stderr.starts_with("cohort: error: cannot read missing.riaps: "), "{}", run.stderr);
}

#[test]
fn check_names_every_unusable_file() {
    let dir = Dir::new("check_unusable");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["check", "a.txt", "bad.riaps", "gone.depl"]).expect_code(2);
    assert!(run.stderr.contains("cohort: error: a.txt: not a .riaps or .depl file\n"), "{}", run.stderr);
    assert!(run.stderr.contains("cohort: error: cannot read gone.depl: "), "{}", run.stderr);
}

#[test]
fn check_deployment_against_its_model_reports_missing_parameter_and_unknown_actor() {
    let dir = Dir::new("check_against");
    dir.write("agg.depl", BAD_DEPLOYMENT);
    let run = dir.cohort(&["check", &estimator("estimator.riaps"), "agg.depl"]).expect_code(1);
    assert!(
        run.stderr
            .contains("agg.depl:3:9: error: actor `Aggregator` needs a value for `posArg`, which has no default\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("agg.depl:4:9: error: app `DistributedEstimator` has no actor `Estimatr`\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with("checked 2 files: 2 errors\n"), "{}", run.stderr);
}

/// A deployment of the estimator that places `Estimator` twice on 10.0.0.1: once by `on all`,
/// once by name.
const TWICE: &str = "\
app DistributedEstimator {
\ton all Estimator;
\ton (10.0.0.1) Estimator;
\ton all Aggregator(posArg=12);
}
";

#[test]
fn issue_12_check_reports_an_actor_placed_twice_on_a_host() {
    let dir = Dir::new("check_twice");
    dir.write("twice.depl", TWICE);
    let run = dir.cohort(&["check", &estimator("estimator.riaps"), "twice.depl"]).expect_code(1);
    assert!(
        run.stderr.contains(
            "twice.depl:3:16: error: actor `Estimator` is placed on host `10.0.0.1` more than once
  |
3 | \ton (10.0.0.1) Estimator;
  | \t              ^^^^^^^^^
twice.depl:2:9: note: first placed on every host here
  |
2 | \ton all Estimator;
  | \t       ^^^^^^^^^
  = help: an actor runs at most once on a host; keep one of these placements
"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with("checked 2 files: 1 error\n"), "{}", run.stderr);
    // RIAPS accepts such a deployment, so on its own (and for `compile`) it is still valid.
    dir.cohort(&["check", "twice.depl"]).expect_code(0);
    dir.cohort(&["compile", "twice.depl"]).expect_code(0);
}

/// Argument errors on three hosts, none of them `h1`.
const BAD_ARGUMENTS: &str = "\
app DistributedEstimator {
\ton (h1) Estimator;
\ton (h2) Aggregator(posArg=\"two\", optArg=3);
\ton (h3) Aggregator(optArg=\"x\", extra=1);
\ton (h4) Aggregator(posArg=4.5);
}
";

#[test]
fn issue_12_check_reports_argument_errors_of_every_placement_at_once() {
    let dir = Dir::new("check_arguments");
    dir.write("args.depl", BAD_ARGUMENTS);
    let run = dir.cohort(&["check", &estimator("estimator.riaps"), "args.depl"]).expect_code(1);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(
        errors,
        [
            // `posArg` has no default, so a string suits it, but the instance `aggr` passes it on
            // to `iArg`, an integer.
            "args.depl:3:28: error: `iArg` of component `GlobalEstimator` (instance `aggr`) expects an integer, found a string (\"two\"), the value of actor parameter `posArg`",
            "args.depl:3:42: error: `optArg` expects a string, found an integer",
            "args.depl:4:10: error: actor `Aggregator` needs a value for `posArg`, which has no default",
            "args.depl:4:33: error: actor `Aggregator` has no parameter `extra`",
            "args.depl:5:28: error: `iArg` of component `GlobalEstimator` (instance `aggr`) expects an integer, found a float (4.5), the value of actor parameter `posArg`",
        ],
        "{}",
        run.stderr
    );
    assert!(run.stderr.ends_with("checked 2 files: 5 errors\n"), "{}", run.stderr);
}

#[test]
fn check_deployment_alone_only_checks_the_deployment() {
    let dir = Dir::new("check_alone");
    dir.write("agg.depl", BAD_DEPLOYMENT);
    let run = dir.cohort(&["check", "agg.depl"]).expect_code(0);
    assert_eq!(run.stderr, "checked 1 file: no errors\n");
}

#[test]
fn check_deployment_of_another_app_is_not_matched_with_the_model() {
    let dir = Dir::new("check_other_app");
    dir.write("other.depl", "app Other { on all Anything; }\n");
    dir.cohort(&["check", &estimator("estimator.riaps"), "other.depl"]).expect_code(0);
}

#[test]
fn check_reports_deployment_syntax_errors() {
    let dir = Dir::new("check_depl_syntax");
    dir.write("broken.depl", "app A {\n  on all X(\n}\n");
    let run = dir.cohort(&["check", "broken.depl"]).expect_code(1);
    assert!(run.stderr.starts_with("broken.depl:"), "{}", run.stderr);
    assert!(run.stderr.contains(": error: "), "{}", run.stderr);
}

// ---- compile ----

#[test]
fn compile_model_prints_the_app_json() {
    let run = cohort(&["compile", &estimator("estimator.riaps")]).expect_code(0);
    assert_eq!(run.stderr, "");
    let json = run.json();
    assert_eq!(json["name"], "DistributedEstimator");
    assert_eq!(json["components"]["Sensor"]["ports"]["tims"]["clock"]["period"], 1000);
    assert_eq!(json["components"]["Sensor"]["ports"]["reps"]["request"]["req_type"], "SensorQuery");
    assert_eq!(json["actors"]["Estimator"]["locals"][0]["type"], "SensorReady");
    assert_eq!(json["actors"]["Aggregator"]["instances"]["aggr"]["type"], "GlobalEstimator");
}

#[test]
fn compile_deployment_prints_the_deployment_json() {
    let run = cohort(&["compile", &estimator("estimator.depl")]).expect_code(0);
    let json = run.json();
    let placements = &json["DistributedEstimator"]["deployment"];
    assert_eq!(placements[0]["actors"][0]["name"], "Estimator");
    assert_eq!(placements[1]["actors"][0]["actuals"][0], serde_json::json!({"name": "posArg", "value": 12}));
}

#[test]
fn compile_output_option_writes_the_file() {
    let dir = Dir::new("compile_output");
    let run = dir.cohort(&["compile", &estimator("estimator.riaps"), "-o", "App.json"]).expect_code(0);
    assert_eq!(run.stdout, "");
    let text = fs::read_to_string(dir.0.join("App.json")).unwrap();
    assert!(text.ends_with("}\n"));
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["components"]["Sensor"]["ports"]["tims"]["clock"]["period"], 1000);
}

#[test]
fn compile_errors_exit_with_1_and_write_nothing() {
    let dir = Dir::new("compile_errors");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["compile", "bad.riaps", "-o", "out.json"]).expect_code(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("bad.riaps:4:19: error: "), "{}", run.stderr);
    assert!(!dir.0.join("out.json").exists());
}

#[test]
fn compile_output_that_cannot_be_written_exits_with_2() {
    let dir = Dir::new("compile_unwritable");
    let run = dir.cohort(&["compile", &estimator("estimator.riaps"), "-o", "no/such/dir/App.json"]).expect_code(2);
    assert!(run.stderr.starts_with("cohort: error: cannot write no/such/dir/App.json: "), "{}", run.stderr);
}

#[test]
fn compile_several_apps_maps_file_names_and_app_picks_one() {
    let dir = Dir::new("compile_several");
    dir.write("two.riaps", TWO_APPS);
    let json = dir.cohort(&["compile", "two.riaps"]).expect_code(0).json();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["A.json", "B.json"]);
    assert_eq!(json["B.json"]["actors"]["Y"]["instances"]["c"]["type"], "C");
    let json = dir.cohort(&["compile", "two.riaps", "--app", "B"]).expect_code(0).json();
    assert_eq!(json["name"], "B");
    let run = dir.cohort(&["compile", "two.riaps", "--app", "Z"]).expect_code(2);
    assert_eq!(run.stderr, "cohort: error: two.riaps declares no app `Z`; it declares `A`, `B`\n");
}

#[test]
fn compile_refuses_unknown_extension_and_missing_file_with_2() {
    let dir = Dir::new("compile_usage");
    dir.write("app.json", "{}");
    dir.cohort(&["compile", "app.json"]).expect_code(2);
    dir.cohort(&["compile", "missing.depl"]).expect_code(2);
}

// ---- graph ----

#[test]
fn graph_draws_a_cluster_per_actor_and_the_estimator_flows() {
    let run = cohort(&["graph", &estimator("estimator.riaps")]).expect_code(0);
    let dot = &run.stdout;
    assert!(dot.starts_with("digraph \"DistributedEstimator\" {\n"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_Estimator\" {"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_Aggregator\" {"), "{dot}");
    assert!(dot.contains("\"Estimator.sensor\" [label=\"sensor : Sensor|"), "{dot}");
    assert!(dot.contains("<p_request> rep request : (SensorQuery, SensorValue)"), "{dot}");
    // Local messages of Estimator: dashed edges.
    assert!(dot.contains("\"Estimator.sensor\":\"p_ready\" -> \"Estimator.filter\":\"p_ready\" [label=\"SensorReady\\n(local)\", style=dashed];"), "{dot}");
    assert!(dot.contains("\"Estimator.filter\":\"p_query\" -> \"Estimator.sensor\":\"p_request\" ["), "{dot}");
    assert!(
        dot.contains("\"Estimator.filter\":\"p_estimate\" -> \"Aggregator.aggr\":\"p_estimate\" [label=\"Estimate\"];"),
        "{dot}"
    );
    // Timers have no edges; these three are all.
    assert_eq!(dot.matches(" -> ").count(), 3, "{dot}");
    assert!(dot.ends_with("}\n"));
}

#[test]
fn graph_keeps_internal_flows_inside_their_actor() {
    let dir = Dir::new("graph_internal");
    dir.write(
        "int.riaps",
        "app I { message M;
           component P { pub out : M; }
           component S { sub inp : M; }
           actor X { internal M; { p : P; s : S; } }
           actor Y { internal M; { s : S; } } }",
    );
    let run = dir.cohort(&["graph", "int.riaps"]).expect_code(0);
    assert!(run.stdout.contains("\"X.p\":\"p_out\" -> \"X.s\":\"p_inp\" [label=\"M\\n(internal)\", style=dotted];"));
    assert_eq!(run.stdout.matches(" -> ").count(), 1, "{}", run.stdout);
}

#[test]
fn graph_of_several_apps_needs_app() {
    let dir = Dir::new("graph_several");
    dir.write("two.riaps", TWO_APPS);
    let run = dir.cohort(&["graph", "two.riaps"]).expect_code(2);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "cohort: error: two.riaps declares several apps (`A`, `B`); pick one with --app NAME\n");
    let run = dir.cohort(&["graph", "two.riaps", "--app", "B", "-o", "b.dot"]).expect_code(0);
    assert_eq!(run.stdout, "");
    let dot = fs::read_to_string(dir.0.join("b.dot")).unwrap();
    assert!(dot.starts_with("digraph \"B\" {"), "{dot}");
    assert!(dot.contains("\"Y.c\":\"p_p\" -> \"Y.c\":\"p_s\""), "{dot}");
}

#[test]
fn graph_refuses_a_deployment_and_reports_model_errors() {
    let dir = Dir::new("graph_inputs");
    dir.write("bad.riaps", BAD_MODEL);
    let run = dir.cohort(&["graph", &estimator("estimator.depl")]).expect_code(2);
    assert!(run.stderr.contains("give it a .riaps file"), "{}", run.stderr);
    let run = dir.cohort(&["graph", "bad.riaps"]).expect_code(1);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.starts_with("bad.riaps:4:19: error: "), "{}", run.stderr);
}
