//! Any RIAPS app can be brought to Cohort by filling in its handlers: for every model of the
//! RIAPS corpus that the checker accepts (and the two example apps), the code generated from it
//! and what `cohort new` writes for it (a message type per message, a component type per
//! component with every handler stubbed) compile against the real runtime, without a warning.
//!
//! All the models are modules of one crate, `m000`, `m001`, ..., each with the layout of an app
//! crate (`model`, `messages`, `components`), built outside the workspace as a user's crate is,
//! through the shared external-crate helper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/corpus.rs"]
mod corpus;
#[path = "../../tests/support/external_crate.rs"]
mod external_crate;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cohort_build::scaffold::{AppCrate, CohortSource, Scaffold};
use cohort_model::{check_deployment_against, compile_app_model, compile_deployment, Diagnostic};
use external_crate::{cargo, checkout, printed, write_manifest};

/// The example apps, then every corpus model the checker accepts, with their texts.
fn accepted_models() -> Vec<(PathBuf, String)> {
    let apps = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps");
    let mut models = vec![apps.join("estimator/estimator.riaps"), apps.join("microgrid/microgrid.riaps")];
    models.extend(corpus::corpus_models());
    models
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, text)
        })
        .filter(|(_, text)| !compile_app_model(text).has_errors())
        .collect()
}

/// What `cohort new` writes for `model`, its modules under `root`.
fn scaffold(path: &Path, text: &str, root: &str) -> (Scaffold, AppCrate) {
    let mut scaffold = Scaffold::new("corpus", CohortSource::Path(checkout()));
    scaffold.model(path.display().to_string(), text).module_root(root);
    let app = scaffold.generate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (scaffold, app)
}

/// Makes `dir` hold exactly `files` (relative paths), writing only those that changed, so that
/// cargo rebuilds nothing when nothing changed.
fn sync(dir: &Path, files: &[(PathBuf, String)]) {
    let mut stale = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !files.iter().any(|(f, _)| dir.join(f) == path) {
                stale.push(path);
            }
        }
    }
    for path in stale {
        std::fs::remove_file(path).unwrap();
    }
    for (file, contents) in files {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(contents.as_str()) {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, contents).unwrap();
        }
    }
}

#[test]
fn every_accepted_model_compiles_with_stub_components() {
    let models = accepted_models();
    assert!(models.len() > 100, "only {} accepted models", models.len());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus-crate");
    write_manifest(&dir, "cohort-corpus", "");
    let mut lib = String::from(
        "//! The code generated for every accepted model, with what `cohort new` writes for it.\n\n\
         #![deny(warnings, missing_docs, unreachable_pub)]\n",
    );
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (n, (path, text)) in models.iter().enumerate() {
        let module = format!("m{n:03}");
        let (scaffold, app) = scaffold(path, text, &format!("crate::{module}"));
        let generated = scaffold
            .config()
            .generate(&app.model_file, text, path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (file, contents) in app.files {
            let Ok(relative) = file.strip_prefix("src") else { continue };
            if relative != Path::new("main.rs") {
                files.push((Path::new(&module).join(relative), contents));
            }
        }
        files.push((Path::new(&module).join("generated.rs"), generated.code));
        writeln!(
            lib,
            "\n/// `{}` (app `{}`).\npub mod {module} {{\n    \
             /// The generated code.\n    \
             pub mod model {{\n        include!(\"{module}/generated.rs\");\n    }}\n    \
             pub mod components;\n    \
             pub mod messages;\n}}",
            path.display(),
            app.app
        )
        .unwrap();
    }
    files.push(("lib.rs".into(), lib));
    sync(&dir.join("src"), &files);

    let built = cargo(&dir, &["build", "--lib"]);
    let text = printed(&built);
    assert!(built.status.success(), "the corpus crate does not build:\n{text}");
    assert!(!text.contains("warning"), "the corpus crate builds with warnings:\n{text}");
    eprintln!("{} models built as one crate", models.len());
}

/// The deployment `cohort new` writes checks cleanly against its model, as `run` checks it:
/// every actor on every host, a value of the right type for each required actor parameter. (A
/// model can make this impossible; see below.)
#[test]
fn every_scaffolded_deployment_checks_against_its_model() {
    let mut failures = Vec::new();
    for (path, text) in accepted_models() {
        let (_, app) = scaffold(&path, &text, "crate");
        let (_, depl) = app.files.iter().find(|(p, _)| *p == Path::new(&app.deployment_file)).unwrap();
        let deployment = compile_deployment(depl);
        let model = compile_app_model(&text).value.unwrap();
        let diagnostics = match deployment.value {
            Some(d) => check_deployment_against(&d, &model.apps[0]),
            None => deployment.diagnostics,
        };
        // An actor parameter whose default does not fit the component parameter it is passed to
        // cannot be deployed at all (its value must fit both); the model's checks warn of it.
        let wrong = |d: &&Diagnostic| d.is_error() && !d.message.contains("the default of actor parameter");
        if diagnostics.iter().any(|d| wrong(&d)) {
            failures.push(format!("{}:\n{depl}\n{diagnostics:?}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
