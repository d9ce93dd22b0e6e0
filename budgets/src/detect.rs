//! When an actor is over its budget: a pure state machine that takes samples of what the actor
//! uses, with the time they were taken, and returns the [`Limit`]s its components must hear of.

use std::time::{Duration, Instant};

use crate::budget::Budget;
use crate::limit::Limit;

/// The window over which CPU use and network rates are measured, and the least time between
/// two notices of one kind.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Memory use, in percent of the budget, at which components are told (before the kernel acts
/// at 100 %).
pub const MEMORY_NOTICE_PERCENT: u64 = 90;

/// What the actor used, as read at one moment. A part that cannot be read is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// The process's CPU time so far (user and system), in seconds.
    pub cpu_seconds: f64,
    /// How many times the kernel throttled the actor's cgroup so far, when it has a CPU quota.
    pub throttled: Option<u64>,
    /// Bytes of memory in use: the cgroup's, else the process's resident set.
    pub memory: Option<u64>,
    /// Bytes the files under the working directory take, as last measured.
    pub space: Option<u64>,
    /// Bytes the actor's ports sent so far.
    pub net_sent: u64,
}

/// Where a measurement window started.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    cpu_seconds: f64,
    throttled: Option<u64>,
    net_sent: u64,
}

/// Follows an actor's samples against its budget.
#[derive(Debug, Clone)]
pub struct Detector {
    budget: Budget,
    mark: Option<Mark>,
    /// When each kind (cpu, mem, space, net) was last told.
    told: [Option<Instant>; 4],
}

impl Detector {
    /// A detector of `budget`.
    pub fn new(budget: Budget) -> Detector {
        Detector { budget, mark: None, told: [None; 4] }
    }

    /// The budget followed.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The memory use, in bytes, at which components are told: 90 % of the budget.
    pub fn memory_notice(&self) -> Option<u64> {
        self.budget.memory.map(|b| b / 100 * MEMORY_NOTICE_PERCENT)
    }

    /// The limits that `sample`, taken at `now`, shows the actor over, each kind at most once
    /// per [`WINDOW`].
    pub fn sample(&mut self, now: Instant, sample: Sample) -> Vec<Limit> {
        let mut over = Vec::new();
        if let (Some(budget), Some(notice), Some(used)) = (self.budget.memory, self.memory_notice(), sample.memory) {
            if used >= notice {
                over.push(Limit::Mem { used, budget });
            }
        }
        if let (Some(budget), Some(used)) = (self.budget.space, sample.space) {
            if used > budget {
                over.push(Limit::Space { used, budget });
            }
        }
        let mark = *self.mark.get_or_insert(Mark {
            at: now,
            cpu_seconds: sample.cpu_seconds,
            throttled: sample.throttled,
            net_sent: sample.net_sent,
        });
        let elapsed = now.saturating_duration_since(mark.at);
        if elapsed >= WINDOW {
            let seconds = elapsed.as_secs_f64();
            if let Some(cpu) = self.budget.cpu {
                let used_percent = ((sample.cpu_seconds - mark.cpu_seconds).max(0.0) / seconds * 100.0).round() as u32;
                let throttled = match (mark.throttled, sample.throttled) {
                    (Some(before), Some(after)) if cpu.enforced => Some(after > before),
                    _ => None,
                };
                // With a quota, the kernel's throttling tells; without one, the measured share.
                if throttled.unwrap_or(used_percent > cpu.percent) {
                    over.push(Limit::Cpu { used_percent, budget_percent: cpu.percent });
                }
            }
            if let Some(net) = self.budget.net {
                let rate = (sample.net_sent.saturating_sub(mark.net_sent) as f64 / seconds) as u64;
                if rate > net.ceil {
                    over.push(Limit::Net { rate, ceil: net.ceil });
                }
            }
            self.mark = Some(Mark {
                at: now,
                cpu_seconds: sample.cpu_seconds,
                throttled: sample.throttled,
                net_sent: sample.net_sent,
            });
        }
        over.retain(|limit| {
            let slot = &mut self.told[kind_index(limit)];
            let due = slot.is_none_or(|at| now.saturating_duration_since(at) >= WINDOW);
            if due {
                *slot = Some(now);
            }
            due
        });
        over
    }
}

fn kind_index(limit: &Limit) -> usize {
    match limit {
        Limit::Cpu { .. } => 0,
        Limit::Mem { .. } => 1,
        Limit::Space { .. } => 2,
        Limit::Net { .. } => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{CpuBudget, NetBudget};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_throttled_quota_is_told_once_a_window() {
        let cpu = CpuBudget { percent: 20, interval: ms(100), enforced: true };
        let mut d = Detector::new(Budget { cpu: Some(cpu), ..Budget::default() });
        let t0 = Instant::now();
        let at = |s: f64, throttled: u64| Sample { cpu_seconds: s, throttled: Some(throttled), ..Sample::default() };
        assert!(d.sample(t0, at(0.0, 0)).is_empty());
        assert!(d.sample(t0 + ms(500), at(0.1, 3)).is_empty(), "not before a whole window");
        assert_eq!(d.sample(t0 + ms(1000), at(0.2, 6)), [Limit::Cpu { used_percent: 20, budget_percent: 20 }]);
        // Throttled no more: nothing, whatever the share.
        assert!(d.sample(t0 + ms(2000), at(0.3, 6)).is_empty());
    }

    #[test]
    fn cpu_max_is_told_when_the_measured_share_is_over() {
        let cpu = CpuBudget { percent: 50, interval: ms(1000), enforced: false };
        let mut d = Detector::new(Budget { cpu: Some(cpu), ..Budget::default() });
        let t0 = Instant::now();
        let at = |s: f64| Sample { cpu_seconds: s, ..Sample::default() };
        d.sample(t0, at(0.0));
        assert!(d.sample(t0 + ms(1000), at(0.4)).is_empty());
        assert_eq!(d.sample(t0 + ms(2000), at(1.3)), [Limit::Cpu { used_percent: 90, budget_percent: 50 }]);
    }

    #[test]
    fn memory_is_told_at_the_notice_level_at_most_once_a_window() {
        let mut d = Detector::new(Budget { memory: Some(100 << 20), ..Budget::default() });
        let t0 = Instant::now();
        let at = |m: u64| Sample { memory: Some(m << 20), ..Sample::default() };
        assert!(d.sample(t0, at(80)).is_empty());
        assert_eq!(d.sample(t0 + ms(10), at(95)), [Limit::Mem { used: 95 << 20, budget: 100 << 20 }]);
        assert!(d.sample(t0 + ms(500), at(96)).is_empty(), "told already in this window");
        assert_eq!(d.sample(t0 + ms(1010), at(97)).len(), 1);
    }

    #[test]
    fn space_and_net_are_told_when_over() {
        let net = NetBudget { rate: 1000, ceil: 2000, burst: None };
        let mut d = Detector::new(Budget { space: Some(10), net: Some(net), ..Budget::default() });
        let t0 = Instant::now();
        let at = |space: u64, sent: u64| Sample { space: Some(space), net_sent: sent, ..Sample::default() };
        assert!(d.sample(t0, at(5, 0)).is_empty());
        assert_eq!(
            d.sample(t0 + ms(1000), at(11, 5000)),
            [Limit::Space { used: 11, budget: 10 }, Limit::Net { rate: 5000, ceil: 2000 }]
        );
        assert!(d.sample(t0 + ms(2000), at(9, 6000)).is_empty());
    }
}
