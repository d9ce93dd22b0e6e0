//! Where the RIAPS conformance corpus is, and its models: shared by the generator's tests.

use std::path::{Path, PathBuf};

/// The corpus: beside the repository in `shared/compat/riaps`, or `COHORT_RIAPS_CORPUS`.
pub(crate) fn corpus_dir() -> PathBuf {
    match std::env::var_os("COHORT_RIAPS_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/riaps"),
    }
}

/// Every `.riaps` model of the corpus (probes in `synthetic/` included), sorted.
pub(crate) fn corpus_models() -> Vec<PathBuf> {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "the RIAPS corpus is not at {} (it ships beside the repository in shared/; set COHORT_RIAPS_CORPUS to its path)",
        root.display()
    );
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "synthetic") {
            dirs.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.is_dir() {
            dirs.push(path);
        }
    }
    let mut models: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "riaps"))
        .collect();
    models.sort();
    models
}
