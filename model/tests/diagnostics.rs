#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the compiler says about bad models: the position and the words of each diagnostic,
//! that independent errors are all reported in one run, and that warnings do not reject a model.

use cohort_model::{
    check_deployment_against, compile_app_model, compile_deployment, render_all, Diagnostic, Severity, SourceFile,
};

/// Each diagnostic as `LINE:COL: severity: message`, in file order.
fn lines(text: &str, diagnostics: &[Diagnostic]) -> Vec<String> {
    let source = SourceFile::new("m", text);
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by_key(|d| d.span.start);
    sorted
        .iter()
        .map(|d| {
            let at = source.line_col(d.span.start);
            let severity = if d.severity == Severity::Error { "error" } else { "warning" };
            format!("{}:{}: {severity}: {}", at.line, at.column, d.message)
        })
        .collect()
}

fn app_diagnostics(text: &str) -> Vec<String> {
    lines(text, &compile_app_model(text).diagnostics)
}

fn depl_diagnostics(text: &str) -> Vec<String> {
    lines(text, &compile_deployment(text).diagnostics)
}

/// A valid app with room for one more component and actor.
fn app_with(components: &str, actors: &str) -> String {
    format!("app A {{\nmessage M;\nmessage N;\n{components}\n{actors}\n}}\n")
}

#[test]
fn a_valid_model_has_no_diagnostics_and_a_value() {
    let text = app_with("component C { pub p : M; sub s : N; }", "actor X { { c : C; } }");
    let compiled = compile_app_model(&text);
    assert_eq!(compiled.diagnostics, vec![]);
    assert!(compiled.value.is_some());
}

#[test]
fn syntax_errors_say_what_was_expected_and_what_was_found() {
    let text = "app A {\n  message M;\n  component C {\n    pub p : M\n  }\n  actor X { { c : C; } }\n}\n";
    assert_eq!(app_diagnostics(text), ["5:3: error: expected `timed` or `;`, found `}`"]);
}

#[test]
fn independent_syntax_errors_are_all_reported() {
    let text = "app A {\n  message M\n  component C {\n    pub p M;\n    sub s : M;\n    tmer t 100;\n  }\n  actor X { { c : C; } }\n}\n";
    assert_eq!(
        app_diagnostics(text),
        [
            "3:3: error: expected `;`, found `component`",
            "4:11: error: expected `:`, found `M`",
            "6:5: error: expected `pub`, `sub`, `clt`, `srv`, `req`, `rep`, `timer`, `inside`, `qry`, `ans` or `}`, found `tmer`",
        ]
    );
}

#[test]
fn syntax_and_semantic_errors_are_reported_together() {
    let text = "app A {\n  message M;\n  component C { pub p : Nope; sub s M; }\n  actor X { { c : D; } }\n}\n";
    assert_eq!(
        app_diagnostics(text),
        [
            "3:25: error: unknown message type `Nope`",
            "3:37: error: expected `:`, found `M`",
            "4:19: error: unknown component `D`",
        ]
    );
}

#[test]
fn rendered_errors_name_file_line_and_column_with_a_caret() {
    let text = "app A {\n  message SensorReady;\n  component C { sub s : SensorRedy; }\n  actor X { { c : C; } }\n}\n";
    let source = SourceFile::new("app.riaps", text);
    let rendered = render_all(&compile_app_model(text).diagnostics, &source);
    assert_eq!(
        rendered,
        "app.riaps:3:25: error: unknown message type `SensorRedy`\n  |\n3 |   component C { sub s : SensorRedy; }\n  |                         ^^^^^^^^^^\n  = help: did you mean `SensorReady`?\n"
    );
}

#[test]
fn members_out_of_order_are_reported_with_the_order_to_use() {
    let text = "app A {\n  component C { timer t 1; }\n  message M;\n  actor X { { c : C; } }\n}\n";
    let compiled = compile_app_model(text);
    assert_eq!(
        lines(text, &compiled.diagnostics),
        ["3:3: error: expected `component`, `device`, `real-time` or `actor`, found `message`"]
    );
    assert!(compiled.diagnostics[0].help.as_deref().unwrap().contains("messages first"));
}

#[test]
fn an_app_needs_a_component_and_an_actor() {
    let text = "app A {\n  message M;\n  component C { timer t 1; }\n}\n";
    assert_eq!(
        app_diagnostics(text),
        ["4:1: error: expected `component`, `device`, `real-time` or `actor`, found `}`"]
    );
}

#[test]
fn a_file_without_an_app_is_an_error() {
    assert_eq!(app_diagnostics("// nothing here\n"), ["2:1: error: this file declares no application"]);
}

#[test]
fn unterminated_comment_and_string_are_errors() {
    let text = app_with("component C (s = \"open) { timer t 1; }", "actor X { { c : C; } }");
    assert!(app_diagnostics(&text).iter().any(|d| d.starts_with("4:18: error: unterminated string")));
    let text = "app A { /* never closed";
    assert!(app_diagnostics(text).iter().any(|d| d == "1:9: error: unterminated block comment"));
}

#[test]
fn duplicate_names_are_reported_at_every_level() {
    let text = "app A {
message M;
message M;
group G using M;
group G using M;
component C (a, a) { timer t 1; timer t 2; }
component C { timer u 1; }
actor X (f, f) { { c : C(a = 1, a = 2); c : C(a = 1); } }
actor X { { c : C(a = 1); } }
}
";
    assert_eq!(
        app_diagnostics(text),
        [
            "3:9: error: message `M` is declared twice",
            "5:7: error: group `G` is declared twice",
            "6:17: error: parameter `a` is declared twice in `C`",
            "6:39: error: port `t` is declared twice in `C`",
            "7:11: error: component `C` is declared twice",
            "8:13: error: parameter `f` is declared twice in actor `X`",
            "8:33: error: argument `a` is declared twice for `c`",
            "8:41: error: instance `c` is declared twice in actor `X`",
            "9:7: error: actor `X` is declared twice",
        ]
    );
}

#[test]
fn local_and_internal_must_be_disjoint_and_known() {
    let text = app_with("component C { pub p : M; }", "actor X { local M, Q; internal M; { c : C; } }");
    assert_eq!(
        app_diagnostics(&text),
        ["5:20: error: unknown message type `Q`", "5:32: error: message `M` is both local and internal in actor `X`",]
    );
}

#[test]
fn device_ports_must_use_local_or_internal_messages() {
    let text = app_with("device D { pub p : M; req r : (N, M); timer t 1; }", "actor X { local N; { d : D; } }");
    let got = app_diagnostics(&text);
    assert_eq!(
        got,
        [
            "5:22: error: device instance `d` uses message `M` (port `p`), which is not local or internal in actor `X`",
            "5:22: error: device instance `d` uses message `M` (port `r`), which is not local or internal in actor `X`",
            "5:22: error: port `r` of `d` pairs a local request `N` with a global reply `M` in actor `X`",
        ]
    );
    let ok = app_with("device D { pub p : M; req r : (N, M); timer t 1; }", "actor X { local N, M; { d : D; } }");
    assert!(app_diagnostics(&ok).iter().all(|d| !d.contains("error")), "{:?}", app_diagnostics(&ok));
}

#[test]
fn empty_message_slots_are_errors_not_crashes() {
    let text = app_with("component C { req r : ( , M); }", "actor X { { c : C; } }");
    assert_eq!(app_diagnostics(&text), ["4:23: error: port `r` has no request message type"]);
}

#[test]
fn group_timings_must_be_ordered() {
    let text = app_with(
        "group G with leader using M heartbeat = 1600;\ngroup H using M electionMin = 900;\ngroup I using M consensusTimeout = 0;\ncomponent C { timer t 1; }",
        "actor X { { c : C; } }",
    );
    assert_eq!(
        app_diagnostics(&text),
        [
            "4:41: error: group `G`: heartbeat must be less than electionMin, but heartbeat = 1600 and electionMin = 1500 (the default)",
            "5:31: error: group `H`: heartbeat must be less than electionMin, but heartbeat = 1000 (the default) and electionMin = 900",
            "6:36: error: `consensusTimeout` must be a positive number of milliseconds",
        ]
    );
}

#[test]
fn group_parameters_must_be_known_names() {
    let text = app_with("group G using M heartbeet = 10;\ncomponent C { timer t 1; }", "actor X { { c : C; } }");
    let got = app_diagnostics(&text);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("4:17: error: expected `timed`, `heartbeat`, `electionMin`"), "{got:?}");
    assert!(got[0].ends_with("found `heartbeet`"), "{got:?}");
}

#[test]
fn instance_arguments_must_match_component_parameters() {
    let text = app_with(
        "component C (count, rate = 1.5, name = \"n\", on = true) { timer t 1; }",
        "actor X (p, q = \"s\") { { a : C(count = 1, rate = 2); b : C(count = 2, rate = \"fast\", nme = \"x\"); c : C(rate = 1.0, on = 1); d : C(count = r, on = q); } }",
    );
    assert_eq!(
        app_diagnostics(&text),
        [
            "5:78: error: `rate` expects a float, found a string",
            "5:86: error: `C` has no parameter `nme`",
            "5:98: error: instance `c` does not set `count`, a parameter of `C` without a default",
            "5:121: error: `on` expects a boolean, found an integer",
            "5:139: error: actor `X` has no parameter `r`",
            "5:147: warning: `q` is a string by default, but `on` expects a boolean (its default is true)",
        ]
    );
}

#[test]
fn unknown_parameter_suggests_the_close_name() {
    let text = app_with("component C (count = 1) { timer t 1; }", "actor X { { a : C(cout = 1); } }");
    let compiled = compile_app_model(&text);
    let error = compiled.diagnostics.iter().find(|d| d.message.contains("no parameter")).unwrap();
    assert_eq!(error.help.as_deref(), Some("did you mean `count`?"));
}

#[test]
fn negative_times_and_limits_are_rejected() {
    let text =
        app_with("component C { timer t -5; sub s : M within -1; }", "actor X { uses { mem -3 mb; } { c : C; } }");
    assert_eq!(
        app_diagnostics(&text),
        [
            "4:23: error: a time may not be negative",
            "4:44: error: a time may not be negative",
            "5:18: error: `mem` limits may not be negative",
        ]
    );
}

#[test]
fn glued_keywords_are_accepted_with_a_warning() {
    let text = app_with("component C { timerclock 1000; }", "actor X { { c : C; } }");
    let compiled = compile_app_model(&text);
    assert!(compiled.value.is_some());
    assert_eq!(lines(&text, &compiled.diagnostics), ["4:15: warning: `timerclock` is read as `timer clock`"]);
}

#[test]
fn numbers_out_of_range_are_errors() {
    let text = app_with("component C (a = 99999999999999999999, b = 1e999) { timer t 1; }", "actor X { { c : C(); } }");
    assert_eq!(
        app_diagnostics(&text),
        ["4:18: error: integer `99999999999999999999` is out of range", "4:44: error: number `1e999` is out of range"]
    );
}

#[test]
fn deployment_syntax_errors_are_reported_per_line() {
    let text = "app D {\n  host all { network dns; }\n  on (a, ) X;\n  on all Y(x = );\n  on all Z;\n}\n";
    assert_eq!(
        depl_diagnostics(text),
        [
            "3:10: error: expected a host name or address, found `)`",
            "4:16: error: expected a string, a number, `true` or `false` or a value, found `)`"
        ]
    );
}

#[test]
fn deployment_block_comments_are_explained() {
    let compiled = compile_deployment("/* no */ app D { on all X; }");
    assert_eq!(compiled.diagnostics[0].help.as_deref(), Some("deployment files only allow `//` comments"));
}

#[test]
fn deployment_host_blocks_need_a_network_and_are_unique() {
    let text = "app D {\n  host all { }\n  host h1 { network any; }\n  host h1 { network dns, any; }\n  on all X;\n}\n";
    assert_eq!(
        depl_diagnostics(text),
        [
            "2:14: error: expected `network`, found `}`",
            "4:3: error: host `h1` has two `host` blocks",
            "4:26: error: `any` cannot be combined with other network entries",
        ]
    );
}

#[test]
fn deployment_is_checked_against_its_app() {
    let app_text = app_with("component C (x = 1) { timer t 1; }", "actor X (need, opt = 2.5) { { c : C(x = opt); } }");
    let model = compile_app_model(&app_text);
    // `opt` (a float by default) passed to an integer parameter is worth a warning only.
    assert!(model.value.is_some(), "{:?}", app_diagnostics(&app_text));
    let app = &model.value.unwrap().apps[0];
    let depl = "app A {\n  on all X(opt = \"s\");\n  on all Y;\n  on all X(need = 1, op = 2);\n}\n";
    let deployment = compile_deployment(depl).value.unwrap();
    assert_eq!(
        lines(depl, &check_deployment_against(&deployment, app)),
        [
            "2:10: error: actor `X` needs a value for `need`, which has no default",
            "2:18: error: `opt` expects a float, found a string",
            "3:10: error: app `A` has no actor `Y`",
            "4:22: error: actor `X` has no parameter `op`",
        ]
    );
    // The parameter is declared in the model, another file: the help says its default, and no
    // note points into the deployment at the model's offsets.
    let mismatch =
        check_deployment_against(&deployment, app).into_iter().find(|d| d.message.contains("expects")).unwrap();
    assert_eq!(mismatch.notes, vec![]);
    assert_eq!(mismatch.help.as_deref(), Some("`opt` of actor `X` defaults to 2.5"));
    let other = compile_deployment("app B { on all X; }").value.unwrap();
    assert_eq!(
        lines("app B { on all X; }", &check_deployment_against(&other, app)),
        ["1:5: error: this deployment is for app `B`, but the model declares app `A`"]
    );
}
