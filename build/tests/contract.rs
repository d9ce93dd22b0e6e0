#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The generated code type-checks against the typed runtime API of `typed-api-spec.md`, without
//! a warning (missing docs included), for the estimator and every model of the RIAPS corpus that
//! the checker accepts.
//!
//! `cohort_runtime::typed` is being written in parallel, so the code is checked against
//! `tests/contract/cohort_runtime.rs`, a stand-in with exactly the items the spec promises. For
//! each model the test writes what a user would: a unit struct per message and per component
//! type, and an implementation of each generated `Component` trait whose methods are the
//! trait's required ones (taken from the generated code, bodies `unimplemented!()`). Then `rustc`
//! checks it all as one crate with `-D warnings -W missing_docs`.

use cohort_build::Config;
use quote::ToTokens;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("COHORT_RIAPS_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir().join("../../shared/compat/riaps"),
    }
}

fn corpus_models() -> Vec<PathBuf> {
    let root = corpus_dir();
    assert!(root.is_dir(), "the RIAPS corpus is not at {} (set COHORT_RIAPS_CORPUS)", root.display());
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

fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

fn run(mut command: Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A user's side of one generated file: message and component types, and stub implementations.
fn user_code(case: &str, generated: &Path, code: &str) -> String {
    let file = syn::parse_file(code).unwrap();
    let mut messages = Vec::new();
    let mut components: Vec<(String, String)> = Vec::new();
    let mut traits: Vec<(String, Vec<String>)> = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Mod(m) if m.ident == "messages" => {
                for item in &m.content.as_ref().unwrap().1 {
                    if let syn::Item::Use(u) = item {
                        let mut tree = &u.tree;
                        while let syn::UseTree::Path(p) = tree {
                            tree = &p.tree;
                        }
                        if let syn::UseTree::Name(n) = tree {
                            messages.push(n.ident.to_string());
                        }
                    }
                }
            }
            syn::Item::Fn(f) if f.sig.ident == "components" => {
                let body = f.block.to_token_stream().to_string();
                for registration in body.split(". with_generated :: < ").skip(1) {
                    let module = registration.split(' ').next().unwrap().to_owned();
                    let ty = registration.split("components :: ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
                    components.push((module, ty));
                }
            }
            syn::Item::Mod(m) => {
                for item in &m.content.as_ref().unwrap().1 {
                    if let syn::Item::Trait(t) = item {
                        let required = t
                            .items
                            .iter()
                            .filter_map(|item| match item {
                                syn::TraitItem::Fn(f) if f.default.is_none() => {
                                    let mut sig = f.sig.clone();
                                    for input in &mut sig.inputs {
                                        if let syn::FnArg::Typed(arg) = input {
                                            *arg.pat = syn::parse_quote!(_);
                                        }
                                    }
                                    Some(format!("{} {{ unimplemented!() }}", sig.to_token_stream()))
                                }
                                _ => None,
                            })
                            .collect();
                        traits.push((m.ident.to_string(), required));
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    writeln!(out, "/// {case}\npub mod {case} {{").unwrap();
    writeln!(out, "/// The generated code.\npub mod model {{ include!({:?}); }}", generated.display().to_string())
        .unwrap();
    writeln!(out, "#[allow(missing_docs, non_camel_case_types)] pub mod messages {{").unwrap();
    for m in &messages {
        writeln!(out, "    pub struct {m};").unwrap();
    }
    writeln!(out, "}}\n#[allow(missing_docs, non_camel_case_types)] pub mod components {{").unwrap();
    for (_, ty) in &components {
        writeln!(out, "    pub struct {ty};").unwrap();
    }
    writeln!(out, "}}\n#[allow(missing_docs)] pub mod stubs {{\n    pub use super::model::messages;").unwrap();
    for (module, required) in &traits {
        let ty = &components.iter().find(|(m, _)| m == module).unwrap().1;
        writeln!(out, "    pub mod {module} {{").unwrap();
        writeln!(out, "        use super::super::model::{module}::{{Component, Params, Ports}};").unwrap();
        writeln!(out, "        impl Component for super::super::components::{ty} {{").unwrap();
        for f in required {
            writeln!(out, "            {f}").unwrap();
        }
        writeln!(out, "        }}\n    }}").unwrap();
    }
    writeln!(out, "}}\n}}").unwrap();
    out
}

#[test]
fn generated_code_type_checks_against_the_typed_api() {
    let dir = std::env::temp_dir().join(format!("cohort-build-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut runtime = rustc();
    runtime
        .args(["--edition", "2021", "--crate-type", "rlib", "--crate-name", "cohort_runtime", "-o"])
        .arg(dir.join("libcohort_runtime.rlib"))
        .arg(manifest_dir().join("tests/contract/cohort_runtime.rs"));
    run(runtime);

    let mut models = vec![manifest_dir().join("../apps/estimator/estimator.riaps")];
    models.extend(corpus_models());
    let mut lib = String::from("//! Generated code and stub user code for every model.\n");
    let mut cases = 0;
    for (n, model) in models.iter().enumerate() {
        let text = std::fs::read_to_string(model).unwrap();
        if cohort_model::compile_app_model(&text).has_errors() {
            continue;
        }
        let case = format!("case_{n}");
        let generated = Config::new()
            .messages_path(&format!("crate::{case}::messages"))
            .components_path(&format!("crate::{case}::components"))
            .generate(&model.display().to_string(), &text, model)
            .unwrap_or_else(|e| panic!("{}: {e}", model.display()));
        let path = dir.join(format!("{case}.rs"));
        std::fs::write(&path, &generated.code).unwrap();
        lib.push_str(&user_code(&case, &path, &generated.code));
        cases += 1;
    }
    assert!(cases > 100, "only {cases} models");
    std::fs::write(dir.join("user.rs"), &lib).unwrap();

    let mut user = rustc();
    user.args(["--edition", "2021", "--crate-type", "lib", "--crate-name", "user", "--emit=metadata"])
        .args(["-D", "warnings", "-W", "missing_docs", "-W", "unreachable_pub", "--out-dir"])
        .arg(&dir)
        .arg("--extern")
        .arg(format!("cohort_runtime={}", dir.join("libcohort_runtime.rlib").display()))
        .arg(dir.join("user.rs"));
    run(user);
    std::fs::remove_dir_all(&dir).unwrap();
}
