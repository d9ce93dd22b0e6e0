//! An actor's budget, from the `uses { ... }` clause of its model.

use std::fmt;
use std::time::Duration;

use cohort_model::ast::{Actor, SizeUnit, TimeUnit, Usage};

use crate::limit::Bytes;

/// The shortest and the longest CPU interval: the bounds of the kernel's CFS period (RIAPS
/// clamps `over T` to them too).
const CPU_INTERVAL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_secs(1));

/// What an actor may use. Each part is optional: an actor without `uses` has an empty budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budget {
    /// CPU time.
    pub cpu: Option<CpuBudget>,
    /// Memory, in bytes.
    pub memory: Option<u64>,
    /// Disk space under the actor's working directory, in bytes.
    pub space: Option<u64>,
    /// Network traffic.
    pub net: Option<NetBudget>,
}

/// A CPU budget: a share of one core over an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuBudget {
    /// Percent of one core (above 100 for more than one).
    pub percent: u32,
    /// The interval over which the share is measured (`over T`; 1 s when not written), between
    /// 1 ms and 1 s.
    pub interval: Duration,
    /// `cpu N % over T` is enforced: the kernel throttles the actor to its quota. `cpu max N %`
    /// is not: the actor's use is measured, and its components told when it goes over.
    pub enforced: bool,
}

impl CpuBudget {
    /// The kernel's quota per `interval`: `percent` of it (at least 1 ms, the kernel's least).
    pub fn quota(&self) -> Duration {
        let quota = self.interval.saturating_mul(self.percent) / 100;
        quota.max(Duration::from_millis(1))
    }
}

/// A network budget, in bytes per second, as RIAPS counts them (`kbps` is 1024 bytes a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetBudget {
    /// The rate the actor is guaranteed.
    pub rate: u64,
    /// The most it may send (`ceil`); the rate when not written.
    pub ceil: u64,
    /// How many bytes it may send at once above the rate (`burst`), if written.
    pub burst: Option<u64>,
}

impl Budget {
    /// The budget the `uses` clause of `actor` gives (a clause of a kind given twice, which the
    /// model's checks refuse, counts once: the last).
    pub fn of(actor: &Actor) -> Budget {
        let mut budget = Budget::default();
        for usage in &actor.usage {
            match usage {
                Usage::Cpu { max, percent, interval, .. } => {
                    let millis = interval.map_or(1000, |i| i.millis(TimeUnit::Sec));
                    let interval =
                        Duration::from_millis(u64::try_from(millis).unwrap_or(0)).clamp(CPU_INTERVAL.0, CPU_INTERVAL.1);
                    let percent = u32::try_from(*percent).unwrap_or(0);
                    budget.cpu = Some(CpuBudget { percent, interval, enforced: !max });
                }
                Usage::Mem { amount, unit, .. } => budget.memory = Some(bytes(*amount, *unit)),
                Usage::Space { amount, unit, .. } => budget.space = Some(bytes(*amount, *unit)),
                Usage::Net { rate, ceil, burst, .. } => {
                    let per_second = |(amount, unit): (f64, cohort_model::ast::RateUnit)| {
                        unit.bytes_per_second(amount).max(0.0) as u64
                    };
                    let rate = per_second(*rate);
                    budget.net = Some(NetBudget {
                        rate,
                        ceil: ceil.map_or(rate, per_second).max(rate),
                        burst: burst.map(|kb| (kb * 1024.0).max(0.0) as u64),
                    });
                }
            }
        }
        budget
    }

    /// Whether the budget limits nothing.
    pub fn is_empty(&self) -> bool {
        *self == Budget::default()
    }

    /// Whether the kernel must enforce part of it: a CPU quota or a memory limit, which take a
    /// cgroup.
    pub fn needs_cgroup(&self) -> bool {
        self.cpu.is_some_and(|c| c.enforced) || self.memory.is_some()
    }
}

impl fmt::Display for Budget {
    /// The parts of the budget, `; ` between them: `cpu 20 % over 100ms; mem 64 MiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = self.cpu {
            let max = if c.enforced { "" } else { "max " };
            parts.push(format!("cpu {max}{} % over {:?}", c.percent, c.interval));
        }
        if let Some(b) = self.memory {
            parts.push(format!("mem {}", Bytes(b)));
        }
        if let Some(b) = self.space {
            parts.push(format!("space {}", Bytes(b)));
        }
        if let Some(n) = self.net {
            let burst = n.burst.map(|b| format!(" burst {}", Bytes(b))).unwrap_or_default();
            parts.push(format!("net rate {}/s ceil {}/s{burst}", Bytes(n.rate), Bytes(n.ceil)));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Bytes in `amount` of `unit`.
fn bytes(amount: i64, unit: Option<SizeUnit>) -> u64 {
    u64::try_from(SizeUnit::kilobytes(amount, unit)).unwrap_or(0).saturating_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget_of(uses: &str) -> Budget {
        let source = format!("app A {{ component C {{ }} actor X {{ uses {{ {uses} }} {{ c : C; }} }} }}");
        let compiled = cohort_model::compile_app_model(&source);
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let model = compiled.value.expect("the model compiles");
        Budget::of(model.apps[0].actor("X").expect("actor X"))
    }

    #[test]
    fn clauses_become_a_budget_in_bytes_and_durations() {
        let b = budget_of("cpu 20 % over 100 msec; mem 64 mb; space 1 gb; net rate 80 kbps ceil 100 kbps burst 1 k;");
        assert_eq!(b.cpu, Some(CpuBudget { percent: 20, interval: Duration::from_millis(100), enforced: true }));
        assert_eq!(b.cpu.map(|c| c.quota()), Some(Duration::from_millis(20)));
        assert_eq!(b.memory, Some(64 << 20));
        assert_eq!(b.space, Some(1 << 30));
        assert_eq!(b.net, Some(NetBudget { rate: 80 * 1024, ceil: 100 * 1024, burst: Some(1024) }));
        assert!(b.needs_cgroup());
        assert_eq!(
            b.to_string(),
            "cpu 20 % over 100ms; mem 64 MiB; space 1 GiB; net rate 80 KiB/s ceil 100 KiB/s burst 1 KiB"
        );
    }

    #[test]
    fn cpu_max_is_monitored_and_intervals_are_clamped() {
        let b = budget_of("cpu max 50 % over 5;");
        assert_eq!(b.cpu, Some(CpuBudget { percent: 50, interval: Duration::from_secs(1), enforced: false }));
        assert!(!b.needs_cgroup());
        let b = budget_of("cpu 10 %;");
        assert_eq!(b.cpu.map(|c| (c.interval, c.quota())), Some((Duration::from_secs(1), Duration::from_millis(100))));
        assert!(budget_of("space 10;").space == Some(10 << 20));
        assert!(Budget::default().is_empty());
    }
}
