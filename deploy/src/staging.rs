//! The local folder where `deploy up` writes each host's generated files (control script, unit,
//! note) and the copies of files that get another name on the hosts, before scp sends them.

use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A private folder under the temporary directory, removed with what it holds when dropped.
#[derive(Debug)]
pub(crate) struct Staging(PathBuf);

impl Staging {
    /// Creates `<temp>/cohort-deploy-<pid>-<n>`, mode 0700.
    pub(crate) fn new() -> std::io::Result<Staging> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("cohort-deploy-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(Staging(path))
    }

    /// The folder itself.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` as `<sub>/<name>` with mode `mode`; its path.
    pub(crate) fn write(&self, sub: &str, name: &str, text: &str, mode: u32) -> std::io::Result<PathBuf> {
        let dir = self.0.join(sub);
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }

    /// Copies `local` as `<sub>/<name>` with mode `mode`; its path.
    pub(crate) fn copy(&self, sub: &str, name: &str, local: &Path, mode: u32) -> std::io::Result<PathBuf> {
        let dir = self.0.join(sub);
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let path = dir.join(name);
        std::fs::copy(local, &path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        Ok(path)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
