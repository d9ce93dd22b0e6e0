//! The app's model and deployment, loaded and checked, and the actors this host runs.

use std::path::Path;

use cohort_model::ast::App;
use cohort_model::deployment::Deployment;
use cohort_model::{render_all, Diagnostic, FileKind, SourceFile};

use crate::params::{ComponentArgs, Resolver};

/// An app's model: embedded in the app's binary, or read from a file.
#[derive(Debug, Clone)]
pub struct AppModel {
    name: String,
    text: String,
}

impl AppModel {
    /// The model `text`, named `name` in error messages (`estimator.riaps`).
    pub fn embedded(name: &str, text: &str) -> AppModel {
        AppModel { name: name.to_owned(), text: text.to_owned() }
    }

    /// The model in the file at `path`.
    pub fn from_file(path: &Path) -> Result<AppModel, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(AppModel { name: path.display().to_string(), text })
    }
}

/// The app as this host runs it.
pub(crate) struct Loaded {
    pub(crate) app: App,
    pub(crate) model: SourceFile,
    pub(crate) deployment: Option<(Deployment, SourceFile)>,
}

/// Compiles the model (and the deployment), or returns the rendered diagnostics.
pub(crate) fn load(model: &AppModel, deployment: Option<&Path>) -> Result<Loaded, String> {
    let source = SourceFile::new(model.name.clone(), model.text.clone());
    let compiled = cohort_model::compile_app_model(&model.text);
    if compiled.has_errors() {
        return Err(render_all(&compiled.diagnostics, &source));
    }
    let Some(parsed) = compiled.value else {
        return Err(format!("{}: the model could not be read", model.name));
    };
    let deployment = match deployment {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let depl_source = SourceFile::new(path.display().to_string(), text);
            let compiled = cohort_model::compile_deployment(&depl_source.text);
            if compiled.has_errors() {
                return Err(render_all(&compiled.diagnostics, &depl_source));
            }
            let Some(depl) = compiled.value else {
                return Err(format!("{}: the deployment could not be read", path.display()));
            };
            Some((depl, depl_source))
        }
    };
    let app = match &deployment {
        Some((depl, depl_source)) => {
            let declared: Vec<String> = parsed.apps.iter().map(|a| format!("`{}`", a.name.name)).collect();
            let Some(app) = parsed.apps.into_iter().find(|a| a.name.name == depl.app.name) else {
                let declares = match declared.as_slice() {
                    [] => "no app".to_owned(),
                    [one] => format!("app {one}"),
                    many => format!("apps {}", many.join(", ")),
                };
                let message =
                    format!("this deployment is for app `{}`, but {} declares {declares}", depl.app.name, model.name);
                return Err(Diagnostic::error(depl.app.span, message).render(depl_source));
            };
            app
        }
        None => {
            let mut apps = parsed.apps.into_iter();
            let first = apps.next().ok_or_else(|| format!("{} declares no app", model.name))?;
            if apps.next().is_some() {
                return Err(format!("{} declares several apps; give a deployment to pick one", model.name));
            }
            first
        }
    };
    Ok(Loaded { app, model: source, deployment })
}

impl Loaded {
    fn resolver(&self) -> Resolver<'_> {
        let resolver = Resolver::new(&self.app, &self.model);
        match &self.deployment {
            Some((d, s)) => resolver.with_deployment(d, s),
            None => resolver,
        }
    }

    /// The actors this host runs: those the deployment places on `host`, or every actor of the
    /// app without a deployment.
    pub(crate) fn actors_here(&self, host: &str) -> Vec<String> {
        let resolver = self.resolver();
        self.app
            .actors
            .iter()
            .map(|a| a.name.name.clone())
            .filter(|a| self.deployment.is_none() || !resolver.placements_on(a, host).is_empty())
            .collect()
    }

    /// Every problem that the model and the deployment give the actors, rendered, all at once:
    /// the deployment's checks against the app and the parameters of every placement on every
    /// host ([`Resolver::check`], what `cohort check app.riaps app.depl` reports), then the
    /// parameters of each actor this host runs (without a deployment, from the defaults).
    pub(crate) fn check(&self, host: &str) -> Result<(), String> {
        let resolver = self.resolver();
        let mut errors = resolver.check();
        if errors.is_empty() {
            for actor in self.actors_here(host) {
                let resolved = resolver.actor_args(&actor, host).and_then(|args| resolver.all_component_args(&args));
                if let Err(error) = resolved {
                    errors.push(error);
                }
            }
        }
        // In file order, the model first, as `cohort check` prints them; each error once.
        errors.sort_by_key(|e| (e.location().kind == FileKind::Deployment, e.location().span.start));
        let mut rendered: Vec<String> = Vec::new();
        for error in &errors {
            let text = resolver.render(error);
            if !rendered.contains(&text) {
                rendered.push(text);
            }
        }
        if rendered.is_empty() {
            Ok(())
        } else {
            Err(rendered.concat())
        }
    }

    /// The resolved arguments of each instance of `actor` on `host`.
    pub(crate) fn component_args(&self, actor: &str, host: &str) -> Result<Vec<ComponentArgs>, String> {
        let resolver = self.resolver();
        let args = resolver.actor_args(actor, host).map_err(|e| resolver.render(&e))?;
        resolver.all_component_args(&args).map_err(|e| resolver.render(&e))
    }
}
