#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The generator on real models: the golden file for the DistributedEstimator example, every
//! model of the RIAPS corpus, model errors, and files written by `compile`.

#[path = "support/corpus.rs"]
mod corpus;

use cohort_build::{Config, Error};
use cohort_model::{compile_app_model, render_all, SourceFile};
use corpus::corpus_models;
use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn generate(text: &str) -> Result<cohort_build::Generated, Error> {
    Config::new().generate("m.riaps", text, Path::new("m.riaps"))
}

/// The generated code for `apps/estimator/estimator.riaps` is `tests/golden/distributed_estimator.rs`.
/// `COHORT_BLESS=1` rewrites the golden file from the generator's output.
#[test]
fn estimator_matches_the_golden_file() {
    let model = manifest_dir().join("../apps/estimator/estimator.riaps");
    let text = std::fs::read_to_string(&model).unwrap();
    // A fixed, relative include path, so the golden file does not depend on the checkout.
    let generated = Config::new().generate("estimator.riaps", &text, Path::new("estimator.riaps")).unwrap();
    assert_eq!(generated.file_name, "distributed_estimator.rs");
    assert_eq!(generated.app, "DistributedEstimator");
    assert!(generated.warnings.is_empty(), "{:?}", generated.warnings);
    let golden = manifest_dir().join("tests/golden/distributed_estimator.rs");
    if std::env::var_os("COHORT_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &generated.code).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        generated.code == expected,
        "the generated code differs from {} (run with COHORT_BLESS=1 to accept it):\n{}",
        golden.display(),
        first_difference(&expected, &generated.code)
    );
    syn::parse_file(&generated.code).unwrap();
}

fn first_difference(expected: &str, got: &str) -> String {
    let (mut e, mut g) = (expected.lines(), got.lines());
    for n in 1.. {
        match (e.next(), g.next()) {
            (None, None) => break,
            (a, b) if a == b => continue,
            (a, b) => return format!("line {n}:\n  expected: {a:?}\n  got:      {b:?}"),
        }
    }
    String::new()
}

/// Every model our checker accepts generates code that parses as a Rust file; the ones it
/// rejects are refused with their diagnostics.
#[test]
fn every_accepted_corpus_model_generates_code_that_parses() {
    let models = corpus_models();
    let (mut generated, mut rejected, mut failures) = (0, 0, Vec::new());
    for path in &models {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if compile_app_model(&text).has_errors() {
            rejected += 1;
            match Config::new().generate(&name, &text, path) {
                Err(Error::Model { .. }) => {}
                other => {
                    failures.push(format!("{}: rejected by the checker, but generate gave {other:?}", path.display()))
                }
            }
            continue;
        }
        match Config::new().generate(&name, &text, path) {
            Ok(out) => match syn::parse_file(&out.code) {
                Ok(_) => generated += 1,
                Err(e) => failures.push(format!("{}: the code does not parse: {e}\n{}", path.display(), out.code)),
            },
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{} corpus models: {generated} generated, {rejected} rejected by the checker", models.len());
    // The accepted corpus models (those with an expected.json) are well over a hundred.
    let accepted = models.iter().filter(|p| p.with_file_name("expected.json").is_file()).count();
    assert!(accepted >= 100, "only {accepted} accepted corpus models found");
    assert!(generated >= accepted - 5, "generated {generated} of {accepted} accepted models ({rejected} rejected)");
}

/// A model error displays as `cohort check` prints it: `FILE:LINE:COL: error: MESSAGE`, the
/// source line and a caret (without the final line break, which `eprintln!` adds back).
#[test]
fn a_model_error_gives_the_check_diagnostic() {
    let text = "app A {\n  message M;\n  component C { pub p : N; }\n  actor X { { c : C; } }\n}\n";
    let error = Config::new().generate("bad/app.riaps", text, Path::new("bad/app.riaps")).unwrap_err();
    let rendered = render_all(&compile_app_model(text).diagnostics, &SourceFile::new("bad/app.riaps", text));
    assert_eq!(format!("{error}\n"), rendered);
    assert!(
        error.to_string().starts_with(
            "bad/app.riaps:3:25: error: unknown message type `N`\n  |\n3 |   component C { pub p : N; }\n  |                         ^"
        ),
        "{error}"
    );
    match error {
        Error::Model { diagnostics, .. } => assert!(diagnostics.iter().any(|d| d.is_error())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_model_without_an_app_is_an_error() {
    let error = generate("// nothing here\n").unwrap_err();
    assert_eq!(error.to_string().lines().next(), Some("m.riaps:2:1: error: this file declares no application"));
}

#[test]
fn only_the_first_app_is_generated_with_a_warning() {
    let text = "app First { message M; component C { pub p : M; } actor X { { c : C; } } }
                app Second { message M; component D { pub p : M; } actor X { { d : D; } } }";
    let out = generate(text).unwrap();
    assert_eq!((out.app.as_str(), out.file_name.as_str()), ("First", "first.rs"));
    assert!(out.code.contains("pub mod c {") && !out.code.contains("pub mod d {"));
    assert_eq!(
        out.warnings,
        ["m.riaps: declares 2 apps (`First`, `Second`); cohort-build generates code for the first, `First`, only"]
    );
}

#[test]
fn model_warnings_are_rendered_as_check_prints_them() {
    // A keyword glued to the name is accepted with a warning.
    let text = "app A { message M; component C { timerclock 1000; pub p : M; } actor X { { c : C; } } }";
    let compiled = compile_app_model(text);
    let source = SourceFile::new("m.riaps", text);
    let expected: Vec<String> = compiled.diagnostics.iter().map(|d| d.render(&source)).collect();
    assert_eq!(expected.len(), 1);
    assert!(expected[0].starts_with("m.riaps:1:34: warning: `timerclock` is read as `timer clock`"), "{}", expected[0]);
    let out = generate(text).unwrap();
    assert_eq!(out.warnings, expected);
    assert!(out.code.contains("fn on_clock("));
}

#[test]
fn the_user_paths_are_configurable() {
    let text = "app A { message M; component C { pub p : M; } actor X { { c : C; } } }";
    let out = Config::new()
        .messages_path("crate::app::msgs")
        .components_path("::other::comps")
        .generate("m.riaps", text, Path::new("/abs/m.riaps"))
        .unwrap();
    assert!(out.code.contains("pub use crate::app::msgs::M; // m.riaps:1:17: message M;\n"), "{}", out.code);
    assert!(out.code.contains(".with_generated::<c::Adapter<::other::comps::C>>()"), "{}", out.code);
    assert!(out.code.contains("::core::include_str!(\"/abs/m.riaps\")"), "{}", out.code);
    let bad = Config::new().messages_path("super::msgs").generate("m.riaps", text, Path::new("m.riaps"));
    assert!(matches!(bad, Err(Error::InvalidPath { what: "messages", .. })), "{bad:?}");
}

#[test]
fn keywords_and_collisions_become_valid_rust() {
    let text = "app Keywords {
        message type;
        message Self;
        group match using type;
        component self (type = 1, typeArg = 2.5, type_arg = \"x\") { sub gen : type; pub loop : Self; timer activate; }
        device Messages { inside crate; ans super : (type, Self); }
        actor X { local type, Self; { a : self; b : Messages; } }
    }";
    let out = generate(text).unwrap();
    syn::parse_file(&out.code).unwrap_or_else(|e| panic!("{e}\n{}", out.code));
    for expected in [
        "pub use crate::messages::r#type;",
        "pub use crate::messages::Self_;",
        "pub struct r#match;",
        "pub mod self_ {",
        "pub r#type: i64,",
        "pub type_arg: f64,",
        "pub type_arg_2: ::std::string::String,",
        "pub r#gen: ::cohort_runtime::typed::Subscriber<super::messages::r#type>,",
        "fn on_gen(",
        "fn on_activate_port(",
        "pub mod messages_2 {",
        "pub crate_: ::cohort_runtime::typed::Inside,",
        "pub super_: ::cohort_runtime::typed::Answerer<",
        "fn on_crate(",
        "fn on_super(",
        ".with_generated::<self_::Adapter<crate::components::self_>>()",
    ] {
        assert!(out.code.contains(expected), "no `{expected}` in\n{}", out.code);
    }
}

#[test]
fn compile_writes_the_file_and_reports_its_path() {
    let dir = std::env::temp_dir().join(format!("cohort-build-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("hello.riaps");
    std::fs::write(&model, "app HelloWorld { message M; component C { pub p : M; } actor X { { c : C; } } }").unwrap();
    let out_dir = dir.join("out");
    let written = Config::new().out_dir(&out_dir).compile(&model).unwrap();
    assert_eq!(written, out_dir.join("hello_world.rs"));
    let code = std::fs::read_to_string(&written).unwrap();
    assert!(code.contains(&format!("::core::include_str!({:?})", model.display().to_string())), "{code}");
    let missing = Config::new().out_dir(&out_dir).compile(dir.join("missing.riaps"));
    assert!(matches!(missing, Err(Error::Read { .. })), "{missing:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
