//! The actor's side of budgets: what its cgroup says it uses, read from the cgroup folders its
//! launcher made ([`crate::ActorCgroup::dirs`]), and the kernel's notice that its memory reached
//! the notice level.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::cgroup::{counter, CgroupError};

/// Reads an actor's use from its cgroups.
#[derive(Debug)]
pub struct CgroupUsage {
    /// `cpu.stat`, whose `nr_throttled` counts the periods the quota throttled.
    cpu_stat: Option<PathBuf>,
    /// The file of the memory in use: `memory.current` (v2) or `memory.usage_in_bytes` (v1).
    memory: Option<PathBuf>,
    /// A v1 eventfd the kernel signals when memory use crosses the notice level.
    notice: Option<Notice>,
}

/// An eventfd registered with a v1 memory cgroup, and the file it watches.
#[derive(Debug)]
struct Notice {
    event: OwnedFd,
    _usage: File,
}

impl CgroupUsage {
    /// Reads from the cgroup folders `dirs`, telling each kind by its files; with a v1 memory
    /// cgroup, asks the kernel to signal when use crosses `memory_notice` bytes.
    pub fn open(dirs: &[PathBuf], memory_notice: Option<u64>) -> Result<CgroupUsage, CgroupError> {
        let mut usage = CgroupUsage { cpu_stat: None, memory: None, notice: None };
        for dir in dirs {
            if dir.join("cgroup.controllers").exists() {
                usage.cpu_stat = Some(dir.join("cpu.stat"));
                usage.memory = Some(dir.join("memory.current"));
            } else if dir.join("cpu.cfs_quota_us").exists() {
                usage.cpu_stat = Some(dir.join("cpu.stat"));
            } else if dir.join("memory.usage_in_bytes").exists() {
                usage.memory = Some(dir.join("memory.usage_in_bytes"));
                if let Some(level) = memory_notice {
                    usage.notice = Some(register_threshold(dir, level)?);
                }
            } else {
                return Err(CgroupError::Io {
                    path: dir.clone(),
                    source: io::Error::new(io::ErrorKind::NotFound, "not a cpu or memory cgroup"),
                });
            }
        }
        Ok(usage)
    }

    /// How many periods the kernel throttled the cgroup so far, if it has a CPU controller.
    pub fn throttled(&self) -> Option<u64> {
        counter(self.cpu_stat.as_deref()?, "nr_throttled")
    }

    /// Bytes of memory the cgroup uses now, if it has a memory controller.
    pub fn memory(&self) -> Option<u64> {
        std::fs::read_to_string(self.memory.as_deref()?).ok()?.trim().parse().ok()
    }

    /// The descriptor that becomes readable when memory use crosses the notice level, if the
    /// kernel signals it (v1); poll it beside the actor's sockets.
    pub fn notice_fd(&self) -> Option<RawFd> {
        self.notice.as_ref().map(|n| n.event.as_raw_fd())
    }

    /// Reads the kernel's signals, so that the descriptor waits for the next one.
    pub fn clear_notice(&self) {
        if let Some(notice) = &self.notice {
            let mut count = [0u8; 8];
            // SAFETY: count is writable for its 8 bytes; the eventfd is non-blocking.
            unsafe { libc::read(notice.event.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        }
    }
}

/// Registers an eventfd with the v1 memory cgroup `dir` for use crossing `level` bytes
/// (`cgroup.event_control`: "<eventfd> <fd of memory.usage_in_bytes> <level>").
fn register_threshold(dir: &Path, level: u64) -> Result<Notice, CgroupError> {
    let usage_path = dir.join("memory.usage_in_bytes");
    let usage = File::open(&usage_path).map_err(|source| CgroupError::Io { path: usage_path.clone(), source })?;
    // SAFETY: eventfd with constant flags; the descriptor is owned below.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if fd < 0 {
        return Err(CgroupError::Io { path: usage_path, source: io::Error::last_os_error() });
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let event = unsafe { OwnedFd::from_raw_fd(fd) };
    let control = dir.join("cgroup.event_control");
    std::fs::write(&control, format!("{} {} {level}", event.as_raw_fd(), usage.as_raw_fd()))
        .map_err(|source| CgroupError::Io { path: control, source })?;
    Ok(Notice { event, _usage: usage })
}
