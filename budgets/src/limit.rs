//! What a component hears when its actor goes over its budget.

use std::fmt;

/// An actor went over a part of its budget: what the runtime calls `on_limit` with. Each kind
/// comes again at most once a second while the actor stays over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// The actor used more CPU than its budget over the last interval: the kernel throttled it
    /// (`cpu N % over T`), or it went over `cpu max N %`.
    Cpu {
        /// Percent of one core it used over the last measurement.
        used_percent: u32,
        /// Its budget, in percent of one core.
        budget_percent: u32,
    },
    /// The actor's memory reached the notice level (90 % of its budget): past the budget the
    /// kernel kills it, and the launcher restarts it.
    Mem {
        /// Bytes in use.
        used: u64,
        /// The budget in bytes.
        budget: u64,
    },
    /// The files under the actor's working directory take more than its budget.
    Space {
        /// Bytes the files take.
        used: u64,
        /// The budget in bytes.
        budget: u64,
    },
    /// The actor's ports sent faster than its network budget's ceiling over the last second.
    Net {
        /// Bytes a second sent over the last measurement.
        rate: u64,
        /// The ceiling, in bytes a second.
        ceil: u64,
    },
}

impl Limit {
    /// The budget's clause keyword: `cpu`, `mem`, `space` or `net`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Limit::Cpu { .. } => "cpu",
            Limit::Mem { .. } => "mem",
            Limit::Space { .. } => "space",
            Limit::Net { .. } => "net",
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Cpu { used_percent, budget_percent } => {
                write!(f, "cpu: used {used_percent} % of a core, budget {budget_percent} %")
            }
            Limit::Mem { used, budget } => write!(f, "mem: {} in use, budget {}", Bytes(*used), Bytes(*budget)),
            Limit::Space { used, budget } => write!(f, "space: {} used, budget {}", Bytes(*used), Bytes(*budget)),
            Limit::Net { rate, ceil } => write!(f, "net: sent {}/s, ceiling {}/s", Bytes(*rate), Bytes(*ceil)),
        }
    }
}

/// A number of bytes, shown in the largest binary unit that keeps it at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 || value.fract() == 0.0 {
            write!(f, "{value:.0} {}", UNITS[unit])
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_as_what_was_used_against_the_budget() {
        assert_eq!(Limit::Mem { used: 60 << 20, budget: 64 << 20 }.to_string(), "mem: 60 MiB in use, budget 64 MiB");
        assert_eq!(Limit::Cpu { used_percent: 21, budget_percent: 20 }.keyword(), "cpu");
        assert_eq!(Bytes(1536).to_string(), "1.5 KiB");
        assert_eq!(Bytes(10).to_string(), "10 B");
    }
}
