//! How much disk the files under a folder take, measured on a thread of its own (a large tree
//! takes time to walk, which the actor's main thread must not spend).

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the folder is measured again.
pub(crate) const SPACE_INTERVAL: Duration = Duration::from_secs(2);

/// No measurement yet.
const NONE: u64 = u64::MAX;

/// Measures the space under a folder every [`SPACE_INTERVAL`] until dropped.
#[derive(Debug)]
pub struct SpaceMeter {
    used: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl SpaceMeter {
    /// Starts measuring `dir` on a thread named `name`.
    pub fn start(dir: PathBuf, name: String) -> std::io::Result<SpaceMeter> {
        let used = Arc::new(AtomicU64::new(NONE));
        let stop = Arc::new(AtomicBool::new(false));
        let (u, s) = (Arc::clone(&used), Arc::clone(&stop));
        std::thread::Builder::new().name(name).spawn(move || {
            while !s.load(Ordering::Relaxed) {
                u.store(disk_usage(&dir).min(NONE - 1), Ordering::Relaxed);
                let mut slept = Duration::ZERO;
                while slept < SPACE_INTERVAL && !s.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    slept += Duration::from_millis(100);
                }
            }
        })?;
        Ok(SpaceMeter { used, stop })
    }

    /// Bytes the files took when last measured; none before the first measurement ends.
    pub fn used(&self) -> Option<u64> {
        let used = self.used.load(Ordering::Relaxed);
        (used != NONE).then_some(used)
    }
}

impl Drop for SpaceMeter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The disk blocks the files and folders under `dir` take, in bytes, without following symbolic
/// links or crossing into other file systems (as `du -x`). What cannot be read counts nothing.
pub(crate) fn disk_usage(dir: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(dir) else { return 0 };
    let device = top.dev();
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != device {
                continue;
            }
            total = total.saturating_add(meta.blocks().saturating_mul(512));
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_under_a_folder_are_counted() {
        let dir = std::env::temp_dir().join(format!("cohort-space-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("inner")).expect("temp dir");
        let before = disk_usage(&dir);
        std::fs::write(dir.join("inner/data"), vec![7u8; 1 << 20]).expect("write");
        let after = disk_usage(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(after >= before + (1 << 20) - 4096, "{before} then {after}");
    }
}
