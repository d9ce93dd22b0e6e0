#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The quick, in-suite version of the `model_parser` fuzz target (`fuzz/`, see
//! `docs/fuzzing.md`): the example apps' models and deployments, mutated at the byte level (bit
//! flips, truncation, inserted and deleted bytes, splices of two files, overwritten bytes) and
//! read back as UTF-8 lossily, as a fuzzer's input is. Every mutated file is compiled as a
//! `.riaps` model and as a `.depl` deployment: nothing panics, a compile yields a value exactly
//! when it reports no error, every diagnostic points inside the text and renders, and a file cut
//! before its closing brace is an error.
//!
//! Runs are reproducible (fixed seed unless `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES`
//! replaces the case counts).

#[path = "../../tests/support/mutation.rs"]
mod mutation;

use mutation::{apply_all, config, mutations};

use cohort_model::ast::App;
use cohort_model::{
    check_deployment_against, compile_app_model, compile_deployment, json, render_all, Diagnostic, SourceFile,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::sync::OnceLock;

/// The valid inputs that are mutated: every model and deployment of the example apps.
const VALID: &[(&str, &str)] = &[
    ("estimator.riaps", include_str!("../../apps/estimator/estimator.riaps")),
    ("estimator.depl", include_str!("../../apps/estimator/estimator.depl")),
    ("microgrid.riaps", include_str!("../../apps/microgrid/microgrid.riaps")),
    ("microgrid.depl", include_str!("../../apps/microgrid/microgrid.depl")),
    ("partition.depl", include_str!("../../apps/microgrid/partition.depl")),
];

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Bytes that mean something to the model languages, or to UTF-8.
const INTERESTING: &[u8] = b"{}();:,=\"'/*\n\r\t -.0123456789eE%#@\x00\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\xa6\x80\xff\xfe";

/// A valid input's name and its text after one to four mutations, read back lossily.
fn mutated() -> impl Strategy<Value = (&'static str, String)> {
    (any::<Index>(), mutations(INTERESTING, 24)).prop_map(|(which, mutations)| {
        let (name, text) = *which.get(VALID);
        let bytes = apply_all(text.as_bytes().to_vec(), &mutations, &|i: &Index| i.get(VALID).1.as_bytes());
        (name, String::from_utf8_lossy(&bytes).into_owned())
    })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Compiles `text` both ways and checks the results (see the module documentation). Returns
/// whether each compile reported an error.
fn check_text(text: &str) -> Result<(bool, bool), TestCaseError> {
    let source = SourceFile::new("mutated", text);
    let app = compile_app_model(text);
    prop_assert_eq!(app.value.is_some(), !app.has_errors());
    check_diagnostics(&app.diagnostics, text)?;
    render_all(&app.diagnostics, &source);
    let deployment = compile_deployment(text);
    prop_assert_eq!(deployment.value.is_some(), !deployment.has_errors());
    check_diagnostics(&deployment.diagnostics, text)?;
    render_all(&deployment.diagnostics, &source);
    if let Some(model) = &app.value {
        for a in &model.apps {
            json::app_json(a);
        }
    }
    if let Some(d) = &deployment.value {
        json::deployment_json(d);
        // Checked against the example apps' models, as `cohort check MODEL DEPL` does.
        for a in example_apps().iter().filter(|a| a.name.name == d.app.name) {
            for diagnostic in check_deployment_against(d, a) {
                check_span(diagnostic.span.start, diagnostic.span.end, text)?;
            }
        }
    }
    Ok((app.has_errors(), deployment.has_errors()))
}

/// The apps of the example models, compiled once.
fn example_apps() -> &'static [App] {
    static APPS: OnceLock<Vec<App>> = OnceLock::new();
    APPS.get_or_init(|| {
        VALID
            .iter()
            .filter(|(name, _)| name.ends_with(".riaps"))
            .flat_map(|(name, text)| compile_app_model(text).value.unwrap_or_else(|| panic!("{name} compiles")).apps)
            .collect()
    })
}

fn check_diagnostics(diagnostics: &[Diagnostic], text: &str) -> Result<(), TestCaseError> {
    for d in diagnostics {
        check_span(d.span.start, d.span.end, text)?;
        for (span, _) in &d.notes {
            check_span(span.start, span.end, text)?;
        }
        prop_assert!(!d.message.is_empty() && !d.message.contains('\n'), "message {:?}", d.message);
    }
    Ok(())
}

fn check_span(start: usize, end: usize, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(start <= end && end <= text.len(), "span {}..{} outside 0..{}", start, end, text.len());
    prop_assert!(
        text.is_char_boundary(start) && text.is_char_boundary(end),
        "span {}..{} splits a character",
        start,
        end
    );
    Ok(())
}

#[test]
fn the_valid_inputs_compile() {
    for (name, text) in VALID {
        if name.ends_with(".riaps") {
            let compiled = compile_app_model(text);
            assert!(compiled.value.is_some(), "{name}: {:?}", compiled.diagnostics);
        } else {
            let compiled = compile_deployment(text);
            assert!(compiled.value.is_some(), "{name}: {:?}", compiled.diagnostics);
        }
    }
}

proptest! {
    #![proptest_config(config(400, 0x00c0_4047_f022))]

    /// Mutated models and deployments never panic, and every diagnostic has a real position.
    #[test]
    fn mutated_models_never_panic(
        // The name is there for the report of a failing case.
        (_name, text) in mutated()
    ) {
        check_text(&text)?;
    }

    /// A model or deployment cut anywhere before its last closing brace is an error of its kind.
    #[test]
    fn truncated_models_are_errors(which in any::<Index>(), at in any::<Index>()) {
        let (name, text) = *which.get(VALID);
        let last_brace = text.rfind('}').unwrap();
        let cut = &text.as_bytes()[..at.index(last_brace + 1)];
        let cut = String::from_utf8_lossy(cut);
        let (app_error, deployment_error) = check_text(&cut)?;
        let error = if name.ends_with(".riaps") { app_error } else { deployment_error };
        prop_assert!(error, "{} cut to {} bytes compiles", name, cut.len());
    }
}
