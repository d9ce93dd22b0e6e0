//! The actor's budget watch: what the actor uses, sampled against the budget of its model's
//! `uses` clause ([`cohort_budgets::Detector`]), becomes `on_limit` events for its components.
//!
//! What is read: the process's CPU time; the kernel's throttling and the memory in use from the
//! cgroups its launcher put it in (without them, the process's resident memory); the space under
//! its working directory (measured on a thread of its own); the bytes its ports sent. With a v1
//! memory cgroup the kernel signals the memory notice level at once through an eventfd, polled
//! beside the actor's sockets; everything else is sampled every [`SAMPLE_EVERY`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cohort_budgets::{Budget, CgroupUsage, Detector, Limit, Sample, SpaceMeter};
use cohort_monitor::LimitCounts;
use cohort_ports::stats::PortStats;
use slog::{info, warn};

use crate::control::ToComponent;
use crate::metrics::{cpu_seconds, resident_bytes};

/// How often use is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// How many limit events of each kind the actor told its components: kept by the watch, read by
/// the reporter.
#[derive(Debug, Default)]
pub(crate) struct LimitTally([AtomicU64; 4]);

impl LimitTally {
    fn count(&self, limit: &Limit) {
        let slot = match limit {
            Limit::Cpu { .. } => 0,
            Limit::Mem { .. } => 1,
            Limit::Space { .. } => 2,
            Limit::Net { .. } => 3,
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> LimitCounts {
        let [cpu, mem, space, net] = self.0.each_ref().map(|c| c.load(Ordering::Relaxed));
        LimitCounts { cpu, mem, space, net }
    }
}

/// Follows an actor's use against its budget.
pub(crate) struct LimitWatch {
    detector: Detector,
    cgroup: Option<CgroupUsage>,
    space: Option<SpaceMeter>,
    ports: Vec<Arc<PortStats>>,
    tally: Arc<LimitTally>,
    next: Instant,
    log: slog::Logger,
}

impl LimitWatch {
    /// Starts following actor `actor`'s use against `budget`, reading the cgroup folders
    /// `cgroup` (none: the launcher enforces nothing) and the counters of `ports`, and counting
    /// the events it tells in `tally`; none when the budget limits nothing.
    pub(crate) fn start(
        actor: &str,
        budget: Budget,
        cgroup: &[PathBuf],
        ports: Vec<Arc<PortStats>>,
        tally: Arc<LimitTally>,
        log: &slog::Logger,
    ) -> Option<LimitWatch> {
        if budget.is_empty() {
            return None;
        }
        let detector = Detector::new(budget);
        let cgroup = match cgroup {
            [] => None,
            dirs => match CgroupUsage::open(dirs, detector.memory_notice()) {
                Ok(usage) => Some(usage),
                Err(e) => {
                    warn!(log, "cannot read the actor's cgroup; its use is measured from the process"; "error" => %e);
                    None
                }
            },
        };
        let budget = detector.budget();
        let space = budget.space.and_then(|_| {
            let dir = std::env::current_dir().ok()?;
            SpaceMeter::start(dir, format!("{actor}.space"))
                .map_err(|e| warn!(log, "cannot measure the working directory's space"; "error" => %e))
                .ok()
        });
        info!(log, "following the actor's budget"; "budget" => %budget, "cgroup" => cgroup.is_some());
        Some(LimitWatch { detector, cgroup, space, ports, tally, next: Instant::now(), log: log.clone() })
    }

    /// The descriptor to poll beside the actor's sockets, if the kernel signals the memory
    /// notice level.
    pub(crate) fn poll_item(&self) -> Option<zmq::PollItem<'static>> {
        let fd = self.cgroup.as_ref()?.notice_fd()?;
        Some(zmq::PollItem::from_fd(fd, zmq::POLLIN))
    }

    /// When the next sample is due.
    pub(crate) fn next_due(&self) -> Instant {
        self.next
    }

    /// The limits the actor is over, if a sample is due at `now` (or the kernel signalled).
    pub(crate) fn events(&mut self, now: Instant) -> Vec<ToComponent> {
        let signalled = self.cgroup.as_ref().and_then(CgroupUsage::notice_fd).is_some_and(readable);
        if now < self.next && !signalled {
            return Vec::new();
        }
        if let Some(cgroup) = &self.cgroup {
            cgroup.clear_notice();
        }
        self.next = now + SAMPLE_EVERY;
        let cgroup = self.cgroup.as_ref();
        let sample = Sample {
            cpu_seconds: cpu_seconds(),
            throttled: cgroup.and_then(CgroupUsage::throttled),
            memory: cgroup.and_then(CgroupUsage::memory).or_else(resident_bytes),
            space: self.space.as_ref().and_then(SpaceMeter::used),
            net_sent: self.ports.iter().map(|p| p.snapshot().bytes_sent).sum(),
        };
        let over = self.detector.sample(now, sample);
        for limit in &over {
            self.tally.count(limit);
            warn!(self.log, "the actor is over its budget"; "limit" => limit.keyword(), "detail" => %limit);
        }
        over.into_iter().map(ToComponent::Limit).collect()
    }
}

/// Whether `fd` can be read without waiting.
fn readable(fd: std::os::fd::RawFd) -> bool {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, no wait.
    unsafe { libc::poll(&mut poll, 1, 0) == 1 && poll.revents & libc::POLLIN != 0 }
}
