#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The examples in `docs/model.md` are valid: each fenced model in it compiles without a
//! diagnostic, so the documentation cannot drift from the compiler.

use cohort_model::{check_deployment_against, compile_app_model, compile_deployment};

fn fenced_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(String::new()),
            (Some(block), true) => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), false) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

#[test]
fn the_model_and_deployment_examples_in_the_docs_compile_cleanly() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/model.md")).unwrap();
    let blocks = fenced_blocks(&doc);
    let app_text = blocks.iter().find(|b| b.contains("component Sensor")).expect("a .riaps example");
    let depl_text = blocks.iter().find(|b| b.contains("host all {")).expect("a .depl example");
    let app = compile_app_model(app_text);
    assert_eq!(app.diagnostics, vec![], "{app_text}");
    let deployment = compile_deployment(depl_text);
    assert_eq!(deployment.diagnostics, vec![], "{depl_text}");
    let (app, deployment) = (app.value.unwrap(), deployment.value.unwrap());
    assert_eq!(check_deployment_against(&deployment, &app.apps[0]), vec![]);
}
