//! The compile-fail suite: one case per mistake a user can make against an app model, each of
//! which the generated typed API turns into a compile (or build-script) error.
//!
//! An app crate is written outside the workspace, as a user's would be: a `build.rs` that runs
//! `cohort-build` on `typed/checks.riaps` (timers, pub/sub, req/rep, qry/ans and a group), and
//! `typed/base.rs`, five components written against the generated code. The base builds; each
//! case is the base with one snippet replaced, built as a binary of its own, and must fail with
//! the compiler's message for that mistake, pointing at the user's file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../tests/support/external_crate.rs"]
mod external_crate;

use std::path::{Path, PathBuf};

use external_crate::{cargo, printed, write_manifest};

/// One mistake: what replaces what in the base program, and what the compiler must say.
struct Case {
    /// The binary's name, and the mistake in a few words.
    name: &'static str,
    /// Each `(snippet, replacement)`; every snippet occurs exactly once in the base.
    edits: &'static [(&'static str, &'static str)],
    /// Texts the compiler's output must contain.
    expect: &'static [&'static str],
}

/// A message type of the model that the user's code lacks: the error is in the generated
/// binding, whose line quotes the model's declaration and its place.
const MISSING_MESSAGE: Case = Case {
    name: "message_type_missing",
    edits: &[(
        "    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Ballot {
        pub yes: bool,
    }
",
        "",
    )],
    expect: &[
        "error[E0432]: unresolved import `crate::messages::Ballot`",
        "pub use crate::messages::Ballot; // checks.riaps:9:13: message Ballot;",
    ],
};

const LOGGER_HANDLER: &str =
    "        fn on_reading(&mut self, ctx: &mut Context<logger::Ports>, reading: Received<Reading>) -> HandlerResult {
            slog::info!(ctx.log(), \"reading\"; \"value\" => reading.value.value);
            Ok(())
        }
";

const ORACLE_IMPL: &str = "    impl oracle::Component for Oracle {";

/// One case per row of issue 12's table (the last row, a model syntax error, is
/// [`a_model_error_fails_the_build_at_its_line_and_column`]).
const CASES: &[Case] = &[
    Case {
        name: "wrong_port_name_in_a_binding",
        edits: &[("fn on_clock(", "fn on_clokc(")],
        expect: &["error[E0407]: method `on_clokc` is not a member of trait `sensor::Component`"],
    },
    Case {
        name: "handler_for_a_port_the_model_lacks",
        edits: &[(
            "        fn on_reading(",
            "        fn on_nothing(&mut self, _ctx: &mut Context<logger::Ports>, _tick: Tick) -> HandlerResult {
            Ok(())
        }

        fn on_reading(",
        )],
        expect: &["error[E0407]: method `on_nothing` is not a member of trait `logger::Component`"],
    },
    Case {
        name: "handler_with_the_wrong_message_type",
        edits: &[("reading: Received<Reading>) -> HandlerResult {", "reading: Received<Value>) -> HandlerResult {")],
        expect: &["error[E0053]: method `on_reading` has an incompatible type for trait", "Received<Reading>"],
    },
    Case {
        name: "binding_of_the_wrong_kind",
        edits: &[("_response: Response<Value>)", "_response: Received<Value>)")],
        expect: &["error[E0053]: method `on_query` has an incompatible type for trait", "Response<"],
    },
    Case {
        name: "input_port_without_a_handler",
        edits: &[(LOGGER_HANDLER, "")],
        expect: &["error[E0046]: not all trait items implemented, missing: `on_reading`"],
    },
    Case {
        name: "misspelt_parameter",
        edits: &[("params.rate", "params.rat")],
        expect: &["error[E0609]: no field `rat` on type `sensor::Params`"],
    },
    Case {
        name: "message_name_not_in_the_model",
        edits: &[(
            "    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Ballot {",
            "    impl cohort_runtime::Message for Reading {
        const NAME: &'static str = \"Readng\";
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    pub struct Ballot {",
        )],
        expect: &["error[E0119]: conflicting implementations of trait", "Message` for type `", "Reading`"],
    },
    Case {
        name: "publish_on_a_wrong_port_name",
        edits: &[("ctx.ports.reading.publish", "ctx.ports.readings.publish")],
        expect: &["error[E0609]: no field `readings` on type `sensor::Ports`"],
    },
    Case {
        name: "publish_with_the_wrong_message_type",
        edits: &[("publish(&Reading { value: self.last })", "publish(&Value { value: self.last })")],
        expect: &["error[E0308]: mismatched types", "expected `&Reading`, found `&Value`"],
    },
    Case {
        name: "reply_with_the_wrong_type",
        edits: &[("Ok(Value { value: self.last })", "Ok(Reading { value: self.last })")],
        expect: &["error[E0308]: mismatched types", "expected `Value`, found `Reading`"],
    },
    Case {
        name: "answer_with_the_wrong_type",
        edits: &[("&Answer { answer: ask.message.value.question }", "&Ask { question: ask.message.value.question }")],
        expect: &["error[E0308]: mismatched types", "expected `&Answer`, found `&Ask`"],
    },
    Case {
        name: "misspelt_group_type",
        edits: &[("ctx.join(groups::Council, ", "ctx.join(groups::Councel, ")],
        expect: &["error[E0425]: cannot find value `Councel` in module `groups`"],
    },
    Case {
        name: "group_message_of_the_wrong_type",
        edits: &[("send(&Ballot { yes: true })", "send(&Reading { value: 1.0 })")],
        expect: &["error[E0308]: mismatched types", "expected `&Ballot`, found `&Reading`"],
    },
    Case {
        name: "unregistered_component_type",
        edits: &[(ORACLE_IMPL, "    #[allow(dead_code)]\n    impl Oracle {")],
        expect: &["error[E0277]", "oracle::Component", "Oracle"],
    },
];

/// Where the suite's app crates are written.
fn work_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("compile-fail").join(name)
}

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/typed").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes an app crate with the model `model` and one binary per `(name, source)`.
fn write_app(dir: &Path, name: &str, model: &str, binaries: &[(String, String)]) {
    let _ = std::fs::remove_dir_all(dir.join("src"));
    write_manifest(dir, name, "");
    std::fs::write(dir.join("checks.riaps"), model).expect("the model can be written");
    std::fs::write(dir.join("build.rs"), "fn main() {\n    cohort_build::compile_or_exit(\"checks.riaps\");\n}\n")
        .expect("build.rs can be written");
    std::fs::create_dir_all(dir.join("src/bin")).expect("src/bin can be made");
    for (name, source) in binaries {
        std::fs::write(dir.join(format!("src/bin/{name}.rs")), source).expect("a binary can be written");
    }
}

/// The base with a case's edits applied.
fn edited(base: &str, case: &Case) -> String {
    let mut source = base.to_owned();
    for (snippet, replacement) in case.edits {
        assert_eq!(source.matches(snippet).count(), 1, "{}: {snippet:?} must occur once in base.rs", case.name);
        source = source.replacen(snippet, replacement, 1);
    }
    source
}

#[test]
fn the_base_builds_and_every_mistake_is_a_compile_error_in_the_users_file() {
    let base = fixture("base.rs");
    let dir = work_dir("app");
    let mut binaries = vec![("base".to_owned(), base.clone())];
    binaries.extend(CASES.iter().chain([&MISSING_MESSAGE]).map(|case| (case.name.to_owned(), edited(&base, case))));
    write_app(&dir, "typed-checks", &fixture("checks.riaps"), &binaries);

    let built = cargo(&dir, &["build", "--bin", "base"]);
    assert!(built.status.success(), "the base app must build:\n{}", printed(&built));

    let mut failures = Vec::new();
    for case in CASES {
        let output = cargo(&dir, &["build", "--bin", case.name]);
        let text = printed(&output);
        let user_file = format!("src/bin/{}.rs", case.name);
        let missing: Vec<&&str> = case.expect.iter().filter(|e| !text.contains(**e)).collect();
        if output.status.success() {
            failures.push(format!("{}: compiled", case.name));
        } else if !missing.is_empty() {
            failures.push(format!("{}: the compiler did not say {missing:?}:\n{text}", case.name));
        } else if !text.contains(&user_file) {
            failures.push(format!("{}: no error points at {user_file}:\n{text}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n\n"));

    let output = cargo(&dir, &["build", "--bin", MISSING_MESSAGE.name]);
    let text = printed(&output);
    assert!(!output.status.success(), "{}: compiled", MISSING_MESSAGE.name);
    for expected in MISSING_MESSAGE.expect {
        assert!(text.contains(expected), "{}: the compiler did not say {expected:?}:\n{text}", MISSING_MESSAGE.name);
    }
}

#[test]
fn a_model_error_fails_the_build_at_its_line_and_column() {
    let model = fixture("checks.riaps").replacen("pub reading : Reading;", "pub reading : Readings;", 1);
    let dir = work_dir("bad-model");
    write_app(&dir, "typed-bad-model", &model, &[("base".to_owned(), fixture("base.rs"))]);
    let output = cargo(&dir, &["build", "--bin", "base"]);
    let text = printed(&output);
    assert!(!output.status.success(), "a bad model must fail the build:\n{text}");
    let line = model.lines().position(|l| l.contains("Readings")).map_or(0, |i| i + 1);
    let column = model.lines().nth(line - 1).and_then(|l| l.find("Readings")).map_or(0, |c| c + 1);
    let expected = format!("checks.riaps:{line}:{column}: error: unknown message type `Readings`");
    assert!(text.contains(&expected), "expected {expected:?} in:\n{text}");
}
