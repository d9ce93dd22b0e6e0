//! `cohort new`: writes a new app crate that builds and runs as it is, from a model or from a
//! small example model. The files come from `cohort_build::scaffold`; this command finds
//! Cohort, checks the target folder, writes them and says what to do next.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use cohort_build::scaffold::{AppCrate, CohortSource, Scaffold};

use super::{Failure, NewArgs};

/// Writes the crate and prints what was written and the next commands.
pub(crate) fn run(args: &NewArgs) -> Result<(), Failure> {
    let cohort = cohort_source(args.cohort_path.as_deref())?;
    let mut scaffold = Scaffold::new(args.name.clone(), cohort.clone());
    if let Some(path) = &args.from {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        scaffold.model(path.display().to_string(), text);
    }
    let app = match scaffold.generate() {
        Ok(app) => app,
        Err(cohort_build::Error::Model { rendered, diagnostics }) => {
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            let plural = if errors == 1 { "" } else { "s" };
            // Nothing useful can be done when standard error itself cannot be written.
            let _ = writeln!(io::stderr().lock(), "{rendered}no crate written: the model has {errors} error{plural}");
            return Err(Failure::Invalid);
        }
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    for warning in &app.warnings {
        let _ = writeln!(io::stderr().lock(), "{}", warning.trim_end());
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    check_target(&dir, args.force)?;
    for (path, text) in &app.files {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot make the folder {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    }
    io::stdout()
        .lock()
        .write_all(summary(&app, &dir, &cohort).as_bytes())
        .context("cannot write to standard output")?;
    Ok(())
}

/// Whether `root` is a Cohort checkout: it holds the runtime and the generator.
fn is_checkout(root: &Path) -> bool {
    root.join("runtime/Cargo.toml").is_file() && root.join("build/Cargo.toml").is_file()
}

/// Where the crate gets Cohort: the checkout given, else the one this binary was built from if
/// it is still there, else the published version of this binary.
fn cohort_source(given: Option<&Path>) -> anyhow::Result<CohortSource> {
    if let Some(path) = given {
        let root = std::fs::canonicalize(path)
            .with_context(|| format!("cannot find the Cohort checkout {}", path.display()))?;
        if !is_checkout(&root) {
            bail!("{} is not a Cohort checkout: it has no runtime/Cargo.toml and build/Cargo.toml", path.display());
        }
        return Ok(CohortSource::Path(root));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::fs::canonicalize(built_from) {
        Ok(root) if is_checkout(&root) => Ok(CohortSource::Path(root)),
        _ => Ok(CohortSource::Version(env!("CARGO_PKG_VERSION").to_owned())),
    }
}

/// Refuses a target that is a file, or a folder with something in it unless `force`.
fn check_target(dir: &Path, force: bool) -> anyhow::Result<()> {
    let metadata = match std::fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow!(e).context(format!("cannot read {}", dir.display()))),
    };
    if !metadata.is_dir() {
        bail!("{} exists and is not a folder", dir.display());
    }
    let mut entries = std::fs::read_dir(dir).with_context(|| format!("cannot read the folder {}", dir.display()))?;
    if entries.next().is_some() && !force {
        bail!(
            "{} exists and is not empty; give --force to write the crate into it anyway (files of the same \
             names are replaced, others are kept), or --dir to write it elsewhere",
            dir.display()
        );
    }
    Ok(())
}

/// What was written, and how to run it.
fn summary(app: &AppCrate, dir: &Path, cohort: &CohortSource) -> String {
    let from = match cohort {
        CohortSource::Path(root) => format!("on the Cohort checkout {}", root.display()),
        CohortSource::Version(version) => format!(
            "on Cohort {version} (no checkout found: point the two Cohort dependencies in Cargo.toml at one, \
             or give --cohort-path)"
        ),
    };
    let mut out = format!("wrote the app crate `{}` for app `{}` of {}, {from}:\n", app.name, app.app, app.model_file);
    for (path, _) in &app.files {
        out.push_str(&format!("  {}\n", dir.join(path).display()));
    }
    out.push_str(&format!(
        "next:\n  cd {}\n  cargo run -- run --deployment {}\n",
        shell_word(&dir.display().to_string()),
        app.deployment_file
    ));
    out
}

/// `word` quoted for a POSIX shell when it holds anything but plain characters.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./+,:@".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_spaces_or_quotes_are_quoted() {
        assert_eq!(shell_word("tankfarm"), "tankfarm");
        assert_eq!(shell_word("../apps/tank-farm"), "../apps/tank-farm");
        assert_eq!(shell_word("my apps/x"), "'my apps/x'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn this_checkout_is_found() {
        match cohort_source(None) {
            Ok(CohortSource::Path(root)) => assert!(is_checkout(&root), "{}", root.display()),
            other => panic!("{other:?}"),
        }
        assert!(cohort_source(Some(Path::new("/"))).is_err());
    }
}
