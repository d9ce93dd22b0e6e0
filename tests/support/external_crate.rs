//! Builds crates outside the workspace the way a user's app crate is built: with Cohort as a
//! path dependency, a `build.rs` that runs `cohort-build`, and cargo. Included with `#[path]` by
//! the compile-fail suite (`build/tests/compile_fail.rs`), the corpus test
//! (`build/tests/corpus_compiles.rs`) and the `cohort new` test (`cli/tests/new.rs`).
//!
//! Every such crate builds into one target directory of its own under the workspace's
//! `target/tmp` (cargo holds the workspace's target directory while tests run), so the
//! dependencies are built once for all of them. The workspace's `Cargo.lock` is copied in, so
//! the same versions resolve offline. Each has the workspace's `[patch.crates-io]` line for
//! Cohort's `zmq-sys`. Where Debian's libzmq is installed, it is linked instead of compiling
//! libzmq once more (the `links` override of zmq-sys/README.md), which saves minutes on a fresh
//! machine.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The root of this Cohort checkout.
pub(crate) fn checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The target directory every external crate of the test suite builds into.
pub(crate) fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("external-crates")
}

/// The `[dependencies]` lines of an app crate on this checkout.
pub(crate) fn cohort_dependencies() -> String {
    let root = checkout();
    format!(
        "cohort-runtime = {{ path = {:?} }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\nslog = \"2.8\"\n",
        root.join("runtime")
    )
}

/// The `[build-dependencies]` lines of an app crate on this checkout.
pub(crate) fn cohort_build_dependencies() -> String {
    format!("cohort-build = {{ path = {:?} }}\n", checkout().join("build"))
}

/// Writes `Cargo.toml` (its own workspace) and the workspace's `Cargo.lock` into `dir`.
pub(crate) fn write_manifest(dir: &Path, name: &str, extra: &str) {
    std::fs::create_dir_all(dir).expect("the crate directory can be made");
    let manifest = format!(
        "[package]\nname = {name:?}\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{}\n[build-dependencies]\n{}\n{extra}\n[workspace]\n\n\
         [patch.crates-io]\nzmq-sys = {{ path = {:?} }}\n\n\
         [profile.dev.package.zmq-sys]\nopt-level = 3\n",
        cohort_dependencies(),
        cohort_build_dependencies(),
        checkout().join("zmq-sys")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("Cargo.toml can be written");
    copy_lock(dir);
}

/// Copies the workspace's `Cargo.lock` into `dir`, so the crate resolves the same versions
/// offline.
pub(crate) fn copy_lock(dir: &Path) {
    std::fs::copy(checkout().join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock can be copied");
}

/// `cargo ARGS` in a crate that has its own `Cargo.toml` (one `cohort new` wrote, say): copies
/// the workspace's `Cargo.lock` in, then runs [`cargo`].
pub(crate) fn cargo_in_crate(dir: &Path, args: &[&str]) -> Output {
    copy_lock(dir);
    cargo(dir, args)
}

/// The triple cargo builds for.
fn host_triple() -> Option<String> {
    let out = Command::new(env!("CARGO")).args(["-vV"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("host: ")).map(str::to_owned)
}

/// `cargo ARGS` in `dir`, offline, into the shared target directory, linking Debian's libzmq
/// where it is installed.
pub(crate) fn cargo(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(dir).args(args).arg("--offline").env("CARGO_TARGET_DIR", shared_target());
    // Tests run with the workspace's own cargo variables set; the external crate has its own.
    for var in ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "CARGO_TARGET_DIR", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        command.env_remove(var);
    }
    command.env("CARGO_TARGET_DIR", shared_target());
    // The workspace's own debug-info settings (its Cargo.toml says why), for every crate built
    // here, `cohort new`'s included: the same settings share one build of the dependencies.
    command.args([
        "--config",
        "profile.dev.debug=\"line-tables-only\"",
        "--config",
        "profile.dev.package.\"*\".debug=false",
    ]);
    if Path::new("/usr/include/zmq.h").exists() {
        if let Some(triple) = host_triple() {
            command.args(["--config", &format!("target.{triple}.zmq.rustc-link-lib=[\"zmq\"]")]);
        }
    }
    command.output().expect("cargo runs")
}

/// Everything cargo printed, for assertions and failure messages.
pub(crate) fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
