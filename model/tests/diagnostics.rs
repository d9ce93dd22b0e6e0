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
    let depl = "app A {\n  on (h1) X(opt = \"s\");\n  on all Y;\n  on (h2) X(need = 1, op = 2);\n}\n";
    let deployment = compile_deployment(depl).value.unwrap();
    assert_eq!(
        lines(depl, &check_deployment_against(&deployment, app)),
        [
            "2:11: error: actor `X` needs a value for `need`, which has no default",
            "2:19: error: `opt` expects a float, found a string",
            "3:10: error: app `A` has no actor `Y`",
            // With the deployment, the warning is an error: this placement leaves `opt` at 2.5.
            "4:11: error: `x` of component `C` (instance `c`) expects an integer, found a float (2.5), the default of actor parameter `opt`",
            "4:23: error: actor `X` has no parameter `op`",
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

/// Three actors without formals, for placement tests.
fn three_actors() -> cohort_model::ast::App {
    let text =
        app_with("component C { timer t 1; }", "actor X { { c : C; } } actor Y { { c : C; } } actor Z { { c : C; } }");
    compile_app_model(&text).value.unwrap().apps.remove(0)
}

#[test]
fn an_actor_runs_at_most_once_on_a_host() {
    let app = three_actors();
    let depl = "app A {
  on all X;
  on (10.0.0.1) X;
  on (h1, h2) Y;
  on (h2, h3) Y, Z;
  on (h4) Z;
  on all Z;
  on (h5, h5) X;
  on all Y;
}
";
    // RIAPS accepts this (its corpus has such deployments), so compiling it alone still does.
    let compiled = compile_deployment(depl);
    assert_eq!(compiled.diagnostics, vec![]);
    let deployment = compiled.value.unwrap();
    let diagnostics = check_deployment_against(&deployment, &app);
    assert_eq!(
        lines(depl, &diagnostics),
        [
            "3:17: error: actor `X` is placed on host `10.0.0.1` more than once",
            "5:15: error: actor `Y` is placed on host `h2` more than once",
            "7:10: error: actor `Z` is placed on hosts `h2`, `h3`, `h4` more than once",
            "8:11: error: host `h5` is listed twice on this line",
            "8:15: error: actor `X` is placed on host `h5` more than once",
            "9:10: error: actor `Y` is placed on hosts `h1`, `h2`, `h3` more than once",
        ]
    );
    // The second placement is the error; a note points at the first, and at any other.
    let source = SourceFile::new("app.depl", depl);
    let rendered = render_all(&diagnostics, &source);
    assert!(
        rendered.starts_with(
            "app.depl:3:17: error: actor `X` is placed on host `10.0.0.1` more than once
  |
3 |   on (10.0.0.1) X;
  |                 ^
app.depl:2:10: note: first placed on every host here
  |
2 |   on all X;
  |          ^
  = help: an actor runs at most once on a host; keep one of these placements
"
        ),
        "{rendered}"
    );
    assert!(
        rendered.contains(
            "app.depl:9:10: error: actor `Y` is placed on hosts `h1`, `h2`, `h3` more than once
  |
9 |   on all Y;
  |          ^
app.depl:4:15: note: first placed on hosts `h1`, `h2` here
  |
4 |   on (h1, h2) Y;
  |               ^
app.depl:5:15: note: also placed on hosts `h2`, `h3` here
"
        ),
        "{rendered}"
    );

    // `on all` twice: every host. Distinct hosts, or an actor twice on one line (reported by
    // the deployment's own checks), are not this error.
    let depl = "app A {\n  on all X;\n  on all X;\n  on (a) Y;\n  on (b) Y;\n}\n";
    let deployment = compile_deployment(depl).value.unwrap();
    assert_eq!(
        lines(depl, &check_deployment_against(&deployment, &app)),
        ["3:10: error: actor `X` is placed on every host more than once"]
    );
    let depl = "app A { on all X, X; }";
    let compiled = compile_deployment(depl);
    assert_eq!(lines(depl, &compiled.diagnostics), ["1:19: error: actor `X` is declared twice on this line"]);
    assert_eq!(check_deployment_against(&compiled.value.unwrap_or_else(|| parse(depl)), &app), vec![]);
}

fn parse(depl: &str) -> cohort_model::deployment::Deployment {
    cohort_model::parse_deployment(depl).0.unwrap()
}

#[test]
fn values_passed_on_to_components_are_checked_for_every_placement() {
    let app_text = app_with(
        "component C (x = 1, f = 1.5) { timer t 1; }",
        "actor X (size, speed = 2.5) { { c : C(x = size); d : C(f = speed); } }\nactor Y (opt = 2.5) { { c : C(x = opt); } }",
    );
    let model = compile_app_model(&app_text);
    // The model alone can only warn about `opt`: its default is a float, `x` wants an integer.
    assert_eq!(
        app_diagnostics(&app_text),
        ["6:35: warning: `opt` is a float by default, but `x` expects an integer (its default is 1)"]
    );
    let app = &model.value.unwrap().apps[0];
    let depl = "app A {
  on (a) X(size = 4);
  on (b) X(size = \"big\");
  on (c) X(size = 2.0, speed = 3);
  on (d) X(size = 4, speed = \"fast\");
  on all Y;
  on (e) Z;
}
";
    let deployment = compile_deployment(depl).value.unwrap();
    let diagnostics = check_deployment_against(&deployment, app);
    assert_eq!(
        lines(depl, &diagnostics),
        [
            "3:19: error: `x` of component `C` (instance `c`) expects an integer, found a string (\"big\"), the value of actor parameter `size`",
            "4:19: error: `x` of component `C` (instance `c`) expects an integer, found a float (2.0), the value of actor parameter `size`",
            // `speed = "fast"` is wrong for `speed` itself: reported once, not again at `f`.
            "5:30: error: `speed` expects a float, found a string",
            "6:10: error: `x` of component `C` (instance `c`) expects an integer, found a float (2.5), the default of actor parameter `opt`",
            "7:10: error: app `A` has no actor `Z`",
        ]
    );
    let help = |at: &str| diagnostics.iter().find(|d| d.message.starts_with(at)).unwrap().help.clone().unwrap();
    assert_eq!(
        help("`x` of component `C` (instance `c`) expects an integer, found a string"),
        "actor `X` passes `size` to `x` of instance `c`, and `x` of component `C` defaults to 1"
    );
    assert_eq!(
        help("`x` of component `C` (instance `c`) expects an integer, found a float (2.5)"),
        "`x` of component `C` defaults to 1; give `opt` of actor `Y` a default of that type in the model"
    );
    // An integer for a float actor formal becomes a float, as `run` resolves it.
    let depl = "app A { on (a) X(size = 1, speed = 3); on (b) Y(opt = 3); }";
    let deployment = compile_deployment(depl).value.unwrap();
    assert_eq!(
        lines(depl, &check_deployment_against(&deployment, app)),
        ["1:55: error: `x` of component `C` (instance `c`) expects an integer, found a float (3.0), the value of actor parameter `opt`"]
    );
}
