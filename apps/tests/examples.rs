#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every example app's model compiles without a diagnostic, and its deployment checks cleanly
//! against it: what users copy must be valid.

use cohort_model::{check_deployment_against, compile_app_model, compile_deployment};
use std::path::{Path, PathBuf};

fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_model_and_deployment_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut apps = 0;
    for entry in std::fs::read_dir(root).unwrap() {
        let dir = entry.unwrap().path();
        let models = if dir.is_dir() { files_with_extension(&dir, "riaps") } else { Vec::new() };
        for model_path in &models {
            apps += 1;
            let model = compile_app_model(&std::fs::read_to_string(model_path).unwrap());
            assert_eq!(model.diagnostics, vec![], "{}", model_path.display());
            let model = model.value.unwrap();
            for depl_path in files_with_extension(&dir, "depl") {
                let deployment = compile_deployment(&std::fs::read_to_string(&depl_path).unwrap());
                assert_eq!(deployment.diagnostics, vec![], "{}", depl_path.display());
                let deployment = deployment.value.unwrap();
                let app = model.apps.iter().find(|a| a.name.name == deployment.app.name).expect("the app it deploys");
                assert_eq!(check_deployment_against(&deployment, app), vec![], "{}", depl_path.display());
            }
        }
    }
    assert!(apps >= 1, "no example app found under {}", root.display());
}
