//! Memory over time: the resident set (VmRSS) of every process, one series per process (a
//! restarted actor starts a new one), and whether a series grew.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// A series must have this many samples after its warm-up to be judged.
pub(crate) const MIN_JUDGED: usize = 8;
/// Growth beyond this fraction of the first quarter's median…
pub(crate) const GROWTH_FRACTION: f64 = 0.20;
/// …plus this many kB is flagged.
pub(crate) const GROWTH_SLACK_KB: u64 = 2048;

/// The VmRSS of process `pid` in kB; `None` if it is gone or has no memory (a zombie).
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The parent of process `pid`, from `/proc/<pid>/stat`; `None` if it is gone.
pub(crate) fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (2nd field) is in parentheses and may hold spaces: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Then: state, ppid.
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The samples of one process.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// `App/Actor` or `App/launcher`.
    pub(crate) name: String,
    /// The process.
    pub(crate) pid: u32,
    /// `(seconds since the soak started, kB)`.
    pub(crate) samples: Vec<(f64, u64)>,
    /// When the process started, in seconds since the soak started (its first record, else its
    /// first sample).
    pub(crate) born: f64,
}

/// The verdict on one series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Too few samples after the warm-up to judge.
    TooShort,
    /// No sustained growth: the medians of the first and last quarter after the warm-up.
    Flat {
        /// Median of the first quarter, kB.
        first: u64,
        /// Median of the last quarter, kB.
        last: u64,
    },
    /// It grew more than the allowance.
    Grew {
        /// Median of the first quarter, kB.
        first: u64,
        /// Median of the last quarter, kB.
        last: u64,
    },
}

impl Series {
    /// Judges the samples taken `warmup` or more after the process started: the median of their
    /// last quarter against the median of their first quarter.
    pub(crate) fn verdict(&self, warmup: Duration) -> Verdict {
        let after: Vec<u64> =
            self.samples.iter().filter(|(t, _)| *t - self.born >= warmup.as_secs_f64()).map(|(_, kb)| *kb).collect();
        if after.len() < MIN_JUDGED {
            return Verdict::TooShort;
        }
        let quarter = after.len() / 4;
        let first = median(&after[..quarter]);
        let last = median(&after[after.len() - quarter..]);
        if last as f64 > first as f64 * (1.0 + GROWTH_FRACTION) + GROWTH_SLACK_KB as f64 {
            Verdict::Grew { first, last }
        } else {
            Verdict::Flat { first, last }
        }
    }

    /// The series as a row of the report's memory table.
    pub(crate) fn to_row(&self, warmup: Duration) -> MemoryRow {
        let (verdict, q1, q4) = match self.verdict(warmup) {
            Verdict::TooShort => ("too short to judge", None, None),
            Verdict::Flat { first, last } => ("flat", Some(first), Some(last)),
            Verdict::Grew { first, last } => ("GREW", Some(first), Some(last)),
        };
        MemoryRow {
            process: self.name.clone(),
            pid: self.pid,
            samples: self.samples.len(),
            from_s: self.samples.first().map(|(t, _)| round1(*t)),
            to_s: self.samples.last().map(|(t, _)| round1(*t)),
            first_kb: self.samples.first().map(|(_, kb)| *kb),
            last_kb: self.samples.last().map(|(_, kb)| *kb),
            max_kb: self.samples.iter().map(|(_, kb)| *kb).max(),
            median_first_quarter_kb: q1,
            median_last_quarter_kb: q4,
            verdict,
            series: self.samples.iter().map(|(t, kb)| (round1(*t), *kb)).collect(),
        }
    }
}

/// One process's series, a row of the report's `memory` (`null` where there is nothing).
#[derive(Debug, Serialize)]
pub(crate) struct MemoryRow {
    /// `App/Actor` or `App/launcher`.
    pub(crate) process: String,
    /// The process.
    pub(crate) pid: u32,
    /// How many samples.
    pub(crate) samples: usize,
    /// The first sample's time, in seconds since the start.
    pub(crate) from_s: Option<f64>,
    /// The last sample's time, in seconds since the start.
    pub(crate) to_s: Option<f64>,
    /// The first sample, kB.
    pub(crate) first_kb: Option<u64>,
    /// The last sample, kB.
    pub(crate) last_kb: Option<u64>,
    /// The largest sample, kB.
    pub(crate) max_kb: Option<u64>,
    /// The verdict's median of the first quarter after the warm-up, kB.
    pub(crate) median_first_quarter_kb: Option<u64>,
    /// The verdict's median of the last quarter after the warm-up, kB.
    pub(crate) median_last_quarter_kb: Option<u64>,
    /// `flat`, `GREW` or `too short to judge`.
    pub(crate) verdict: &'static str,
    /// The samples, as `[seconds since the start, kB]`.
    pub(crate) series: Vec<(f64, u64)>,
}

/// Every process's series, by `(name, pid)`.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    series: BTreeMap<(String, u32), Series>,
}

impl Memory {
    /// Adds a sample of `name`'s process `pid`, born at `born` (seconds since the start).
    pub(crate) fn add(&mut self, name: &str, pid: u32, born: f64, at: f64, kb: u64) {
        self.series
            .entry((name.to_owned(), pid))
            .or_insert_with(|| Series { name: name.to_owned(), pid, samples: Vec::new(), born: born.min(at) })
            .samples
            .push((at, kb));
    }

    /// Every series, by name and then pid.
    pub(crate) fn series(&self) -> impl Iterator<Item = &Series> {
        self.series.values()
    }
}

fn median(xs: &[u64]) -> u64 {
    let mut v = xs.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

/// `x` to one decimal.
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::{parent_of, rss_kb, Memory, Series, Verdict};
    use std::time::Duration;

    fn series(kbs: &[u64]) -> Series {
        Series {
            name: "App/A".to_owned(),
            pid: 1,
            samples: kbs.iter().enumerate().map(|(i, kb)| (i as f64 * 5.0, *kb)).collect(),
            born: 0.0,
        }
    }

    #[test]
    fn growth_is_judged_after_the_warmup_by_quarter_medians() {
        let warm = Duration::from_secs(10);
        // The first two samples (0 s, 5 s) are warm-up; their jump does not count.
        let flat = series(&[1000, 5000, 8000, 8100, 7900, 8000, 8200, 8000, 8100, 8300]);
        assert_eq!(flat.verdict(warm), Verdict::Flat { first: 8050, last: 8200 });
        let grew = series(&[8000, 8000, 8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000, 15_000]);
        assert_eq!(grew.verdict(warm), Verdict::Grew { first: 8500, last: 14_500 });
        // 20 % + 2 MB of 8000 kB is 11648 kB: 11500 is within.
        let within = series(&[8000, 8000, 8000, 8000, 9000, 10_000, 11_000, 11_500, 11_500, 11_500]);
        assert!(matches!(within.verdict(warm), Verdict::Flat { .. }));
        assert_eq!(series(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).verdict(warm), Verdict::TooShort);
    }

    #[test]
    fn this_process_has_memory_and_a_parent() {
        let me = std::process::id();
        assert!(rss_kb(me).is_some_and(|kb| kb > 0));
        assert_eq!(parent_of(me), Some(std::os::unix::process::parent_id()));
        let mut m = Memory::default();
        m.add("App/A", 7, 1.0, 2.0, 100);
        m.add("App/A", 7, 1.0, 3.0, 110);
        m.add("App/A", 8, 4.0, 5.0, 90);
        assert_eq!(m.series().count(), 2);
    }
}
