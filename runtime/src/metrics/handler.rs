//! A handler's counters: calls, errors, panics, deadline misses and a latency histogram.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cohort_monitor::{HandlerReport, Histogram, LATENCY_BOUNDS_SECONDS};

/// Buckets of the histogram: one per bound, and one above the last.
const BUCKETS: usize = LATENCY_BOUNDS_SECONDS.len() + 1;

/// The bounds in nanoseconds, so that a call is placed without floating point.
const BOUNDS_NANOS: [u64; LATENCY_BOUNDS_SECONDS.len()] = {
    let mut nanos = [0; LATENCY_BOUNDS_SECONDS.len()];
    let mut i = 0;
    while i < nanos.len() {
        nanos[i] = (LATENCY_BOUNDS_SECONDS[i] * 1e9) as u64;
        i += 1;
    }
    nanos
};

/// How a handler call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// It returned `Ok`.
    Done,
    /// It returned an error.
    Failed,
    /// It panicked.
    Panicked,
}

/// The counters of one handler. Only the component's thread writes them (see
/// [`HandlerStats::record`]); the actor's main thread reads them for its reports.
#[derive(Debug, Default)]
pub(crate) struct HandlerStats {
    calls: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
    deadline_misses: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
}

/// Adds `n` to a counter only one thread writes: a plain load and store, no locked
/// read-modify-write (readers still see it grow).
#[inline]
fn add_own(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl HandlerStats {
    /// Counts a call that took `took` and ended with `outcome`; `missed` when it overran its
    /// deadline. Called by the component's own thread only.
    #[inline]
    pub(crate) fn record(&self, took: Duration, outcome: CallOutcome, missed: bool) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        add_own(&self.calls, 1);
        match outcome {
            CallOutcome::Done => {}
            CallOutcome::Failed => add_own(&self.errors, 1),
            CallOutcome::Panicked => add_own(&self.panics, 1),
        }
        if missed {
            add_own(&self.deadline_misses, 1);
        }
        let bucket = BOUNDS_NANOS.iter().position(|&bound| nanos <= bound).unwrap_or(BOUNDS_NANOS.len());
        add_own(&self.buckets[bucket], 1);
        add_own(&self.sum_nanos, nanos);
    }

    /// The counters now, as the handler of port `port`.
    pub(crate) fn report(&self, port: &str) -> HandlerReport {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HandlerReport {
            port: port.to_owned(),
            calls: get(&self.calls),
            errors: get(&self.errors),
            panics: get(&self.panics),
            deadline_misses: get(&self.deadline_misses),
            latency: Histogram {
                counts: self.buckets.iter().map(get).collect(),
                sum_seconds: get(&self.sum_nanos) as f64 / 1e9,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_their_buckets() {
        let stats = HandlerStats::default();
        stats.record(Duration::from_micros(5), CallOutcome::Done, false);
        stats.record(Duration::from_micros(10), CallOutcome::Failed, false);
        stats.record(Duration::from_millis(3), CallOutcome::Panicked, true);
        stats.record(Duration::from_secs(9), CallOutcome::Done, true);
        let report = stats.report("p");
        assert_eq!((report.calls, report.errors, report.panics, report.deadline_misses), (4, 1, 1, 2));
        // 5 µs and 10 µs both in the first bucket (≤ 10 µs), 3 ms in (2.5 ms, 5 ms], 9 s above all.
        assert_eq!(report.latency.counts[0], 2);
        assert_eq!(report.latency.counts[7], 1);
        assert_eq!(report.latency.counts[BUCKETS - 1], 1);
        assert_eq!(report.latency.count(), 4);
        assert!((report.latency.sum_seconds - 9.003_015).abs() < 1e-9);
    }
}
