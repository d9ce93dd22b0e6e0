//! `cohort compile`: a model or deployment as RIAPS's JSON.

use super::load::{accept, find_app, load};
use super::output::{pretty_json, write_output};
use super::{CompileArgs, Failure};
use anyhow::anyhow;
use cohort_model::ast::Model;
use cohort_model::json::{app_json, deployment_json};
use cohort_model::{compile_app_model, compile_deployment, FileKind, SourceFile};
use serde_json::{Map, Value};

/// Compiles the file and writes its JSON; nothing is written when the file has errors.
pub(crate) fn run(args: &CompileArgs) -> Result<(), Failure> {
    let file = load(&args.file)?;
    let source = &file.source;
    let json = match file.kind {
        FileKind::AppModel => {
            let model = accept(compile_app_model(&source.text), source)?;
            model_json(&model, args.app.as_deref(), source)?
        }
        FileKind::Deployment => {
            let deployment = accept(compile_deployment(&source.text), source)?;
            if let Some(name) = args.app.as_deref().filter(|name| *name != deployment.app.name) {
                let deployed = &deployment.app.name;
                return Err(anyhow!("{} deploys app `{deployed}`, not `{name}`", source.name).into());
            }
            deployment_json(&deployment)
        }
    };
    write_output(&pretty_json(&json)?, args.output.as_deref())?;
    Ok(())
}

/// The JSON of the app `app`, of the only app, or a map from `<App>.json` to each app's JSON.
fn model_json(model: &Model, app: Option<&str>, source: &SourceFile) -> anyhow::Result<Value> {
    if let Some(name) = app {
        return Ok(app_json(find_app(model, name, source)?));
    }
    match model.apps.as_slice() {
        [only] => Ok(app_json(only)),
        apps => {
            let files: Map<String, Value> =
                apps.iter().map(|app| (format!("{}.json", app.name.name), app_json(app))).collect();
            Ok(Value::Object(files))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_APPS: &str = "app A { message M; component C { pub p : M; } actor X { { c : C; } } }
                            app B { message M; component C { sub p : M; } actor Y { { c : C; } } }";

    fn model() -> Model {
        compile_app_model(TWO_APPS).value.unwrap()
    }

    #[test]
    fn several_apps_map_file_names_to_json() {
        let json = model_json(&model(), None, &SourceFile::new("two.riaps", TWO_APPS)).unwrap();
        assert_eq!(json["A.json"]["name"], "A");
        assert_eq!(json["B.json"]["actors"]["Y"]["instances"]["c"]["type"], "C");
    }

    #[test]
    fn app_option_picks_one_app() {
        let json = model_json(&model(), Some("B"), &SourceFile::new("two.riaps", TWO_APPS)).unwrap();
        assert_eq!(json["name"], "B");
    }
}
