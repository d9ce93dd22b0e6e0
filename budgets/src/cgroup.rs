//! The launcher's side of budgets: a cgroup for each actor process, with the kernel's CPU quota
//! and memory limit of its budget.
//!
//! The cgroups are made where the host's hierarchy allows:
//! - cgroup v2, when a unified hierarchy has the `cpu` and `memory` controllers: under
//!   `<mount>/cohort/<app>.<launcher pid>/<process>`, with `cpu.max`, `memory.max` at the budget
//!   and `memory.high` at the notice level;
//! - cgroup v1 otherwise, in the `cpu` and `memory` hierarchies: under the launcher's own cgroup
//!   of each, `<mount>/<own>/cohort/<app>.<launcher pid>/<process>`, with
//!   `cpu.cfs_period_us`/`cpu.cfs_quota_us` and `memory.limit_in_bytes` (and
//!   `memory.memsw.limit_in_bytes`, so that swap does not stretch it).
//!
//! The launcher's folder is removed when it stops; the folders of launchers that died are
//! removed by the next one ([`Cgroups::open`]).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use crate::budget::Budget;
use crate::detect::MEMORY_NOTICE_PERCENT;

/// Where the kernel's cgroup hierarchies are mounted, unless `COHORT_CGROUP_ROOT` says otherwise.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The environment variable that names another root of the cgroup hierarchies (a container
/// that mounts them elsewhere).
pub const ROOT_VARIABLE: &str = "COHORT_CGROUP_ROOT";

/// Why budgets cannot be enforced.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither a unified hierarchy with the `cpu` and `memory` controllers nor v1 `cpu` and
    /// `memory` hierarchies are mounted under the root.
    #[error("no cgroup hierarchy with the cpu and memory controllers under {0}")]
    NoHierarchy(PathBuf),
    /// A cgroup file or folder could not be made, written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CgroupError + '_ {
    move |source| CgroupError::Io { path: path.to_path_buf(), source }
}

/// Which cgroup hierarchy the host has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    /// cgroup v2: one hierarchy, mounted here.
    Unified(PathBuf),
    /// cgroup v1: the `cpu` and the `memory` hierarchies, each with the launcher's own cgroup
    /// in it.
    Legacy {
        /// The launcher's cgroup in the `cpu` hierarchy.
        cpu: PathBuf,
        /// The launcher's cgroup in the `memory` hierarchy.
        memory: PathBuf,
    },
}

impl Hierarchy {
    /// The hierarchy under `root` (normally [`DEFAULT_ROOT`]), with this process's own cgroups
    /// read from `/proc/self/cgroup`.
    pub fn detect(root: &Path) -> Result<Hierarchy, CgroupError> {
        for mount in [root.to_path_buf(), root.join("unified")] {
            let controllers = std::fs::read_to_string(mount.join("cgroup.controllers")).unwrap_or_default();
            let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
            if has("cpu") && has("memory") {
                return Ok(Hierarchy::Unified(mount));
            }
        }
        let legacy = |controller: &str, file: &str| {
            let mounts = [root.join(controller), root.join("cpu,cpuacct")];
            let mount = mounts.into_iter().find(|m| m.join(file).exists())?;
            Some(mount.join(own_cgroup(controller).unwrap_or_default()))
        };
        match (legacy("cpu", "cpu.cfs_quota_us"), legacy("memory", "memory.limit_in_bytes")) {
            (Some(cpu), Some(memory)) => Ok(Hierarchy::Legacy { cpu, memory }),
            _ => Err(CgroupError::NoHierarchy(root.to_path_buf())),
        }
    }

    /// The folders that hold every launcher's cgroups: one per hierarchy.
    fn parents(&self) -> Vec<PathBuf> {
        match self {
            Hierarchy::Unified(mount) => vec![mount.join("cohort")],
            Hierarchy::Legacy { cpu, memory } => vec![cpu.join("cohort"), memory.join("cohort")],
        }
    }
}

/// A launcher's cgroups: one folder per hierarchy, `cohort/<app>.<launcher pid>`, holding a
/// cgroup per actor process it runs.
#[derive(Debug)]
pub struct Cgroups {
    hierarchy: Hierarchy,
    /// The launcher's folders, one per hierarchy.
    folders: Vec<PathBuf>,
}

impl Cgroups {
    /// Makes the launcher's folders for app `app` in the host's hierarchy under `root`, after
    /// removing those of launchers that are gone.
    pub fn open(root: &Path, app: &str) -> Result<Cgroups, CgroupError> {
        let hierarchy = Hierarchy::detect(root)?;
        let mut folders = Vec::new();
        for parent in hierarchy.parents() {
            std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
            sweep(&parent);
            if matches!(hierarchy, Hierarchy::Unified(_)) {
                enable_controllers(&parent)?;
            }
            let folder = parent.join(format!("{app}.{}", std::process::id()));
            match std::fs::create_dir(&folder) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&folder)(e)),
            }
            if matches!(hierarchy, Hierarchy::Unified(_)) {
                enable_controllers(&folder)?;
            }
            folders.push(folder);
        }
        Ok(Cgroups { hierarchy, folders })
    }

    /// The hierarchy the cgroups are in.
    pub fn hierarchy(&self) -> &Hierarchy {
        &self.hierarchy
    }

    /// Makes (or takes again) the cgroup of process `name` (`ACTOR`, or `ACTOR.INSTANCE` for a
    /// device), with the CPU quota and the memory limit of `budget`.
    pub fn create(&self, name: &str, budget: &Budget) -> Result<ActorCgroup, CgroupError> {
        let mut dirs = Vec::new();
        for folder in &self.folders {
            let dir = folder.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error(&dir)(e)),
            }
            dirs.push(dir);
        }
        let cgroup = ActorCgroup::new(self.hierarchy.clone(), dirs)?;
        cgroup.apply(budget)?;
        Ok(cgroup)
    }

    /// Removes the launcher's folders (once its processes have exited: a cgroup with a process
    /// in it stays).
    pub fn remove(&self) {
        for folder in &self.folders {
            remove_tree(folder);
        }
    }
}

/// This process's cgroup in the v1 hierarchy of `controller`, relative to its mount, from
/// `/proc/self/cgroup` (`N:cpu,cpuacct:/path`).
pub(crate) fn own_cgroup(controller: &str) -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers.split(',').any(|c| c == controller).then(|| path.trim_start_matches('/').to_owned())
    })
}

/// Writes `+cpu +memory` into the `cgroup.subtree_control` of `dir`, so that its children get
/// the controllers.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let path = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&path).unwrap_or_default();
    if enabled.split_whitespace().any(|c| c == "cpu") && enabled.split_whitespace().any(|c| c == "memory") {
        return Ok(());
    }
    std::fs::write(&path, "+cpu +memory").map_err(io_error(&path))
}

/// Removes the folders of launchers that are gone (`<app>.<pid>` with no such process) under
/// `parent`.
pub(crate) fn sweep(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.rsplit_once('.')).and_then(|(_, pid)| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            remove_tree(&entry.path());
        }
    }
}

/// Removes cgroup `dir` and the cgroups in it, deepest first (a cgroup folder is removed with
/// rmdir, its files go with it). One that still has a process stays.
pub(crate) fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The cgroup of one actor process: one folder per hierarchy.
#[derive(Debug, Clone)]
pub struct ActorCgroup {
    hierarchy: Hierarchy,
    dirs: Vec<PathBuf>,
    /// The `cgroup.procs` files, ready for a forked child to write into.
    procs: Vec<CString>,
}

impl ActorCgroup {
    fn new(hierarchy: Hierarchy, dirs: Vec<PathBuf>) -> Result<ActorCgroup, CgroupError> {
        let procs = dirs
            .iter()
            .map(|d| {
                let path = d.join("cgroup.procs");
                CString::new(path.as_os_str().as_bytes()).map_err(|e| io_error(&path)(io::Error::other(e)))
            })
            .collect::<Result<_, _>>()?;
        Ok(ActorCgroup { hierarchy, dirs, procs })
    }

    /// The cgroup's folders, one per hierarchy: what the actor is given to read its use from
    /// ([`crate::CgroupUsage::open`]).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Writes the kernel's limits of `budget`; a part the budget does not have is lifted.
    fn apply(&self, budget: &Budget) -> Result<(), CgroupError> {
        let write = |dir: &Path, file: &str, value: String| {
            let path = dir.join(file);
            std::fs::write(&path, value).map_err(io_error(&path))
        };
        let cpu = budget.cpu.filter(|c| c.enforced);
        match &self.hierarchy {
            Hierarchy::Unified(_) => {
                let dir = self.dirs.first().map(PathBuf::as_path).unwrap_or(Path::new(""));
                let max = match cpu {
                    Some(c) => format!("{} {}", c.quota().as_micros(), c.interval.as_micros()),
                    None => "max 100000".to_owned(),
                };
                write(dir, "cpu.max", max)?;
                // memory.high before memory.max: never above it while both change.
                match budget.memory {
                    Some(bytes) => {
                        write(dir, "memory.high", (bytes / 100 * MEMORY_NOTICE_PERCENT).to_string())?;
                        write(dir, "memory.max", bytes.to_string())?;
                        let _ = write(dir, "memory.swap.max", "0".to_owned());
                    }
                    None => {
                        write(dir, "memory.max", "max".to_owned())?;
                        write(dir, "memory.high", "max".to_owned())?;
                    }
                }
            }
            Hierarchy::Legacy { .. } => {
                let (cpu_dir, memory_dir) = match self.dirs.as_slice() {
                    [cpu, memory] => (cpu, memory),
                    _ => return Ok(()),
                };
                match cpu {
                    Some(c) => {
                        // The period first: the quota is checked against it.
                        write(cpu_dir, "cpu.cfs_quota_us", "-1".to_owned())?;
                        write(cpu_dir, "cpu.cfs_period_us", c.interval.as_micros().to_string())?;
                        write(cpu_dir, "cpu.cfs_quota_us", c.quota().as_micros().to_string())?;
                    }
                    None => write(cpu_dir, "cpu.cfs_quota_us", "-1".to_owned())?,
                }
                let limit = budget.memory.map_or("-1".to_owned(), |b| b.to_string());
                // memsw (memory and swap) may not be below the memory limit: lifted first, set last.
                let _ = write(memory_dir, "memory.memsw.limit_in_bytes", "-1".to_owned());
                write(memory_dir, "memory.limit_in_bytes", limit.clone())?;
                let _ = write(memory_dir, "memory.memsw.limit_in_bytes", limit);
            }
        }
        Ok(())
    }

    /// Moves the calling process into the cgroup: for the forked child before it runs the actor
    /// (`CommandExt::pre_exec`), so that all it does is counted. It only opens and writes files
    /// whose names were made before the fork: it allocates nothing and takes no lock.
    pub fn join_self(&self) -> io::Result<()> {
        join(&self.procs)
    }

    /// How many times the kernel's OOM killer has killed a process of the cgroup so far.
    pub fn oom_kills(&self) -> Option<u64> {
        match &self.hierarchy {
            Hierarchy::Unified(_) => counter(&self.dirs.first()?.join("memory.events"), "oom_kill"),
            Hierarchy::Legacy { .. } => counter(&self.dirs.get(1)?.join("memory.oom_control"), "oom_kill"),
        }
    }

    /// The memory limit the kernel enforces, in bytes; none when unlimited.
    pub fn memory_limit(&self) -> Option<u64> {
        let (dir, file) = match &self.hierarchy {
            Hierarchy::Unified(_) => (self.dirs.first()?, "memory.max"),
            Hierarchy::Legacy { .. } => (self.dirs.get(1)?, "memory.limit_in_bytes"),
        };
        let limit: u64 = std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()?;
        // v1 writes "no limit" as the largest page-aligned i64.
        (limit < (1 << 62)).then_some(limit)
    }

    /// Removes the cgroup (once its process has exited).
    pub fn remove(&self) {
        for dir in &self.dirs {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Writes `0` (the writing process) into each of the `cgroup.procs` files `procs`. Only
/// async-signal-safe calls, no allocation: a forked child may call it before `exec`.
pub(crate) fn join(procs: &[CString]) -> io::Result<()> {
    for procs in procs {
        // SAFETY: procs is a valid C string; open, write and close are async-signal-safe.
        unsafe {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0".as_ptr().cast(), 1);
            let error = io::Error::last_os_error();
            libc::close(fd);
            if written != 1 {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The value of `key` in a flat keyed file (`key value` lines), such as `memory.events`.
pub(crate) fn counter(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_are_read_by_key() {
        let dir = std::env::temp_dir().join(format!("cohort-budgets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("memory.oom_control");
        std::fs::write(&file, "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n").expect("write");
        assert_eq!(counter(&file, "oom_kill"), Some(3));
        assert_eq!(counter(&file, "missing"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_root_without_hierarchies_is_refused() {
        let dir = std::env::temp_dir().join(format!("cohort-budgets-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(matches!(Hierarchy::detect(&dir), Err(CgroupError::NoHierarchy(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
