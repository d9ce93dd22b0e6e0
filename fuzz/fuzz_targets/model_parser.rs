//! Feeds arbitrary bytes to both model compilers, the deployment check, the JSON writer and the
//! diagnostic renderer. Nothing may panic, and every diagnostic must point inside the text.
//!
//! The input is read as UTF-8 when it is valid and lossily otherwise (the command-line tool
//! rejects files that are not UTF-8, so only text reaches the compilers). Run with
//! `cargo +nightly fuzz run model_parser` (see `docs/fuzzing.md`).

#![no_main]

use cohort_model::{
    check_deployment_against, compile_app_model, compile_deployment, json, parse_app_model, parse_deployment,
    render_all, Diagnostic, SourceFile,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = SourceFile::new("fuzz.riaps", text.as_ref());

    let app = compile_app_model(&text);
    check(&app.diagnostics, &text);
    assert_eq!(app.value.is_some(), !app.has_errors());
    if let Some(model) = &app.value {
        for a in &model.apps {
            json::app_json(a);
        }
    }
    render_all(&app.diagnostics, &source);

    let deployment = compile_deployment(&text);
    check(&deployment.diagnostics, &text);
    assert_eq!(deployment.value.is_some(), !deployment.has_errors());
    if let Some(d) = &deployment.value {
        json::deployment_json(d);
    }
    render_all(&deployment.diagnostics, &source);

    // The partial trees the parsers return with their errors: both parsers accept the same
    // `app Name {` header, so one input often yields a model and a deployment to check together.
    let (model, _) = parse_app_model(&text);
    let (partial, _) = parse_deployment(&text);
    for a in &model.apps {
        json::app_json(a);
        if let Some(d) = &partial {
            let diagnostics = check_deployment_against(d, a);
            check(&diagnostics, &text);
            render_all(&diagnostics, &source);
        }
    }
    if let Some(d) = &partial {
        json::deployment_json(d);
    }
});

/// Every span and note span lies within the text, on character boundaries, and every message,
/// note and help is one line.
fn check(diagnostics: &[Diagnostic], text: &str) {
    let breaks_line = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    for d in diagnostics {
        for line in std::iter::once(&d.message).chain(d.notes.iter().map(|(_, n)| n)).chain(&d.help) {
            assert!(!line.contains(breaks_line), "not one line: {line:?}");
        }
        for span in std::iter::once(d.span).chain(d.notes.iter().map(|(span, _)| *span)) {
            assert!(span.start <= span.end && span.end <= text.len(), "span {span:?} out of bounds: {d:?}");
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "span {span:?} splits a character: {d:?}"
            );
        }
    }
}
