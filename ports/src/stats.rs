//! Counters every port keeps: what it sent, received and refused.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::FrameError;

/// Counters of one port. Shared (`Arc`) so a monitor can read them while the port works.
#[derive(Debug, Default)]
pub struct PortStats {
    sent: AtomicU64,
    received: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    malformed: AtomicU64,
    foreign_version: AtomicU64,
    wrong_type: AtomicU64,
    undecodable: AtomicU64,
    stale: AtomicU64,
    timed_out: AtomicU64,
    provider_gone: AtomicU64,
    unroutable: AtomicU64,
}

/// A copy of a port's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Messages sent.
    pub sent: u64,
    /// Messages received and delivered.
    pub received: u64,
    /// Bytes of the messages sent: Cohort's frames, header and payload.
    pub bytes_sent: u64,
    /// Bytes of the messages received and delivered: Cohort's frames, header and payload.
    pub bytes_received: u64,
    /// Frames dropped as too short, with unknown flags, or with the wrong number of ZeroMQ frames.
    pub malformed: u64,
    /// Frames dropped because they are of another format version.
    pub foreign_version: u64,
    /// Frames dropped because they carry another message type (a group's bare data frames
    /// included, anywhere but on a group subscriber).
    pub wrong_type: u64,
    /// Frames dropped because the payload does not decode (or is raw where CBOR was asked for).
    pub undecodable: u64,
    /// Replies or answers dropped because their request had already ended.
    pub stale: u64,
    /// Requests ended by their deadline.
    pub timed_out: u64,
    /// Requests ended because their provider was removed.
    pub provider_gone: u64,
    /// Replies that could not be routed because the requester is gone.
    pub unroutable: u64,
}

impl StatsSnapshot {
    /// Frames dropped for any reason of form or type.
    pub fn dropped(&self) -> u64 {
        self.malformed + self.foreign_version + self.wrong_type + self.undecodable
    }
}

fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Adds one to a per-message counter. Only the port that owns the counters writes them, and a
/// port is never used by two threads at once (its socket makes it `!Sync`, and sending or
/// receiving takes `&mut self`), so a plain load and store do: the per-message path needs no
/// locked read-modify-write. Readers on other threads still see the counts grow in order.
#[inline]
fn bump_own(counter: &AtomicU64) {
    add_own(counter, 1);
}

/// Adds `n` to a counter only its port writes (see [`bump_own`]).
#[inline]
fn add_own(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl PortStats {
    /// Reads all counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            sent: get(&self.sent),
            received: get(&self.received),
            bytes_sent: get(&self.bytes_sent),
            bytes_received: get(&self.bytes_received),
            malformed: get(&self.malformed),
            foreign_version: get(&self.foreign_version),
            wrong_type: get(&self.wrong_type),
            undecodable: get(&self.undecodable),
            stale: get(&self.stale),
            timed_out: get(&self.timed_out),
            provider_gone: get(&self.provider_gone),
            unroutable: get(&self.unroutable),
        }
    }

    /// Counts a message of `bytes` (its whole frame) sent.
    #[inline]
    pub(crate) fn sent(&self, bytes: usize) {
        bump_own(&self.sent);
        add_own(&self.bytes_sent, bytes as u64);
    }

    /// Counts a message of `bytes` (its whole frame) received and delivered.
    #[inline]
    pub(crate) fn received(&self, bytes: usize) {
        bump_own(&self.received);
        add_own(&self.bytes_received, bytes as u64);
    }

    pub(crate) fn stale(&self) -> u64 {
        bump(&self.stale)
    }

    pub(crate) fn timed_out(&self) {
        bump(&self.timed_out);
    }

    pub(crate) fn provider_gone(&self) {
        bump(&self.provider_gone);
    }

    pub(crate) fn unroutable(&self) -> u64 {
        bump(&self.unroutable)
    }

    /// Counts a refused frame under its reason and returns the new count of that reason.
    pub(crate) fn refused(&self, error: &FrameError) -> u64 {
        match error {
            FrameError::TooShort { .. } | FrameError::UnknownFlags { .. } | FrameError::FrameCount { .. } => {
                bump(&self.malformed)
            }
            FrameError::Version { .. } => bump(&self.foreign_version),
            FrameError::WrongType { .. } | FrameError::Bare => bump(&self.wrong_type),
            FrameError::Encoding { .. } | FrameError::Payload(_) => bump(&self.undecodable),
        }
    }
}

/// Whether the `count`-th occurrence of a problem should be logged: the 1st, 2nd, 4th, 8th, …,
/// so a flood of bad frames cannot flood the log, yet the count keeps showing up.
pub(crate) fn worth_logging(count: u64) -> bool {
    count.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_by_reason() {
        let s = PortStats::default();
        s.refused(&FrameError::Version { found: 9 });
        s.refused(&FrameError::TooShort { len: 1, needed: 14 });
        s.refused(&FrameError::Payload("x".into()));
        let snap = s.snapshot();
        assert_eq!((snap.foreign_version, snap.malformed, snap.undecodable, snap.dropped()), (1, 1, 1, 3));
    }

    #[test]
    fn logging_thins_out_exponentially() {
        let logged: Vec<u64> = (1..=100).filter(|&n| worth_logging(n)).collect();
        assert_eq!(logged, vec![1, 2, 4, 8, 16, 32, 64]);
    }
}
