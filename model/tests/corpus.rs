#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Conformance with RIAPS's own compiler: every model of the RIAPS corpus
//! (`shared/compat/riaps/`, real models from RIAPS repositories plus probes) must compile to the
//! JSON RIAPS produced, or be rejected where RIAPS rejected it.
//!
//! Where RIAPS's compiler is wrong, Cohort does the right thing instead; each such case is listed
//! in `DEVIATIONS` with the reason, and `docs/model.md` lists the same deviations for users.

use cohort_model::{compile_app_model, compile_deployment, json, render_all, SourceFile};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How Cohort's result for a corpus case differs from RIAPS's, on purpose.
enum Deviation {
    /// RIAPS accepts the model; Cohort rejects it with an error containing this text.
    Rejected(&'static str),
    /// RIAPS's JSON has a wrong value at a JSON pointer; Cohort writes the given one instead.
    Value(&'static [(&'static str, &'static str)]),
    /// Both reject the model, but Cohort's first error is at another position, which it gives.
    Position(&'static str),
}

/// Each deviation from RIAPS's compiler, and why.
const DEVIATIONS: &[(&str, Deviation, &str)] = &[
    (
        "riaps-pycom-tests-lang-lang-riaps",
        Deviation::Rejected("consensusTimeout must be less than electionMax"),
        "`consensusTimeout = 2000` is not below the default electionMax of 2000; RIAPS accepts the \
         model and its group thread then fails its timing assertion at run time",
    ),
    (
        "synthetic/device-details",
        Deviation::Rejected("uses message `Rep` (port `cmd`), which is not local or internal"),
        "RIAPS checks only the request type of a device's two-message port (quirk 11); every message \
         of a device must be local or internal. The same port also mixes a local request with a global \
         reply, which RIAPS asserts against only at run time",
    ),
    (
        "synthetic/usage-units",
        Deviation::Value(&[("/actors/NoUnits/usage/mem/use", "102400"), ("/actors/NoUnits/usage/spc/use", "2048")]),
        "`mem 100;` and `space 2;` have no unit; megabytes is the documented default, but RIAPS writes \
         `null` because it compares the default `MB` with `mb` (quirk 2)",
    ),
    (
        "synthetic/error-duplicate-message",
        Deviation::Position("4:13"),
        "RIAPS reports a duplicate message where it is first used (5:27); Cohort reports the second \
         declaration and points at the first",
    ),
    (
        "synthetic/error-local-internal-overlap",
        Deviation::Position("7:18"),
        "RIAPS reports the actor (5:5); Cohort reports the message named in both lists",
    ),
];

fn corpus_dir() -> PathBuf {
    match std::env::var_os("COHORT_RIAPS_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/riaps"),
    }
}

struct Case {
    name: String,
    model: PathBuf,
    dir: PathBuf,
}

fn cases() -> Vec<Case> {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "the RIAPS corpus is not at {} (it ships beside the repository in shared/; set COHORT_RIAPS_CORPUS to its path)",
        root.display()
    );
    let mut dirs: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "synthetic") {
            for probe in std::fs::read_dir(&path).unwrap() {
                dirs.push(probe.unwrap().path());
            }
        } else if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let model = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("riaps" | "depl")))
                .unwrap_or_else(|| panic!("no model file in {}", dir.display()));
            let name = dir.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            Case { name, model, dir }
        })
        .collect()
}

enum Outcome {
    /// File name → JSON.
    Accepted(Vec<(String, Value)>),
    /// First error position and the rendered diagnostics.
    Rejected(String, String),
}

fn compile(case: &Case) -> Outcome {
    let text = std::fs::read_to_string(&case.model).unwrap();
    let source = SourceFile::new(case.model.file_name().unwrap().to_string_lossy(), text.clone());
    let is_depl = case.model.extension().is_some_and(|e| e == "depl");
    let (files, diagnostics) = if is_depl {
        let compiled = compile_deployment(&text);
        let files = compiled.value.map(|d| vec![(format!("{}-deplo.json", d.app.name), json::deployment_json(&d))]);
        (files, compiled.diagnostics)
    } else {
        let compiled = compile_app_model(&text);
        let files = compiled
            .value
            .map(|m| m.apps.iter().map(|a| (format!("{}.json", a.name.name), json::app_json(a))).collect());
        (files, compiled.diagnostics)
    };
    match files {
        Some(files) => Outcome::Accepted(files),
        None => {
            let first = diagnostics.iter().filter(|d| d.is_error()).min_by_key(|d| d.span.start).unwrap();
            let at = source.line_col(first.span.start);
            Outcome::Rejected(format!("{}:{}", at.line, at.column), render_all(&diagnostics, &source))
        }
    }
}

#[test]
fn every_corpus_case_matches_riaps_or_a_listed_deviation() {
    let cases = cases();
    assert!(cases.len() >= 250, "only {} corpus cases found", cases.len());
    let mut failures = Vec::new();
    let mut used_deviations = std::collections::HashSet::new();
    for case in &cases {
        let deviation = DEVIATIONS.iter().find(|(name, _, _)| *name == case.name);
        if deviation.is_some() {
            used_deviations.insert(case.name.clone());
        }
        let expected_json = std::fs::read_to_string(case.dir.join("expected.json")).ok();
        let expected_files = std::fs::read_to_string(case.dir.join("expected-files.json")).ok();
        let expected_error = std::fs::read_to_string(case.dir.join("expected-error.txt")).ok();
        let outcome = compile(case);
        let problem = match (&outcome, deviation.map(|d| &d.1)) {
            (Outcome::Rejected(_, text), Some(Deviation::Rejected(needle))) => {
                (!text.contains(needle)).then(|| format!("rejected, but without `{needle}`:\n{text}"))
            }
            (Outcome::Accepted(_), Some(Deviation::Rejected(needle))) => {
                Some(format!("accepted, but should be rejected with `{needle}`"))
            }
            (Outcome::Accepted(files), deviation) => {
                let mut expected: Vec<(String, Value)> = if let Some(text) = &expected_files {
                    let map: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
                    map.into_iter().collect()
                } else if let Some(text) = &expected_json {
                    vec![(files.first().map(|f| f.0.clone()).unwrap_or_default(), serde_json::from_str(text).unwrap())]
                } else {
                    failures.push(format!(
                        "{}: accepted, but RIAPS rejects it: {}",
                        case.name,
                        expected_error.unwrap_or_default()
                    ));
                    continue;
                };
                if let Some(Deviation::Value(patches)) = deviation {
                    for (pointer, value) in *patches {
                        let slot =
                            expected[0].1.pointer_mut(pointer).unwrap_or_else(|| panic!("{}: no {pointer}", case.name));
                        *slot = serde_json::from_str(value).unwrap();
                    }
                }
                expected.sort_by(|a, b| a.0.cmp(&b.0));
                let mut got = files.clone();
                got.sort_by(|a, b| a.0.cmp(&b.0));
                (got != expected).then(|| {
                    format!(
                        "JSON differs\n--- expected\n{}\n--- got\n{}",
                        serde_json::to_string_pretty(&expected).unwrap(),
                        serde_json::to_string_pretty(&got).unwrap()
                    )
                })
            }
            (Outcome::Rejected(at, text), deviation) => match &expected_error {
                None => Some(format!("rejected, but RIAPS accepts it:\n{text}")),
                Some(riaps) => {
                    let riaps_at = riaps.split(':').take(2).collect::<Vec<_>>().join(":");
                    let positioned = riaps.chars().next().is_some_and(|c| c.is_ascii_digit());
                    let want = match deviation {
                        Some(Deviation::Position(p)) => Some(p.to_string()),
                        _ if positioned => Some(riaps_at),
                        _ => None,
                    };
                    match want {
                        Some(want) if &want != at => {
                            Some(format!("first error at {at}, expected {want} ({riaps}):\n{text}"))
                        }
                        _ => None,
                    }
                }
            },
        };
        if let Some(problem) = problem {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    for (name, _, _) in DEVIATIONS {
        if !used_deviations.contains(*name) {
            failures.push(format!("deviation listed for `{name}`, which is not in the corpus"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
