//! The memory and CPU of this process, from the kernel.

use cohort_monitor::ProcessStats;

/// This process's resident memory, CPU time and threads now. A value the kernel does not give
/// reads 0.
pub(crate) fn process_stats() -> ProcessStats {
    ProcessStats {
        rss_bytes: resident_bytes().unwrap_or(0),
        cpu_seconds: cpu_seconds(),
        threads: threads(),
        limits: Default::default(),
    }
}

/// Resident memory: the second field of `/proc/self/statm`, in pages.
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// User and system CPU time of the whole process, in seconds.
pub(crate) fn cpu_seconds() -> f64 {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer; it cannot fail so.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0.0;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Threads of the process: the entries of `/proc/self/task`.
fn threads() -> u32 {
    std::fs::read_dir("/proc/self/task").map_or(0, |tasks| u32::try_from(tasks.count()).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_cpu_and_a_thread() {
        let stats = process_stats();
        assert!(stats.rss_bytes > 0);
        assert!(stats.threads >= 1);
        assert!(stats.cpu_seconds >= 0.0);
    }
}
