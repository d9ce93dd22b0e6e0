//! Agreed actions waiting for their wall-clock time: a passed action vote is due at a time in
//! microseconds since the Unix epoch; the schedule wakes its member by the monotonic clock and
//! checks the wall clock before it delivers, so an action is never delivered before its time.
//!
//! [`GroupMember`](crate::GroupMember) keeps one [`Schedule`]. The schedule reads no clock: every
//! call takes the moment on both clocks, so tests can jump the wall clock. How it behaves when the
//! wall clock jumps (NTP stepping it, an operator setting it):
//!
//! - **Backwards** before the action is due: the wake-up comes by the monotonic clock, the wall
//!   clock says "not yet", and the schedule waits the rest by the wall clock. The action is never
//!   delivered before its agreed wall-clock time, and once delivered it is gone, so a later jump
//!   back cannot deliver it again.
//! - **Forwards**: the action is delivered at its monotonic wake-up (when the agreed time comes
//!   on the clock it was scheduled by, so members whose clocks did not jump deliver at the same
//!   real moment), with [`Due::late`] telling by how much the wall clock is past the agreed time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::wire::VoteId;

/// An action that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The action vote that agreed on it.
    pub vote: VoteId,
    /// The action, as the vote carried it.
    pub action: Vec<u8>,
    /// How far past its time (by the wall clock) it is delivered.
    pub late: Duration,
}

#[derive(Debug, Clone)]
struct Waiting {
    vote: VoteId,
    action: Vec<u8>,
    /// The agreed time.
    at: SystemTime,
    /// When to look again, by the monotonic clock.
    wake: Instant,
}

/// The actions a member waits to deliver.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    waiting: Vec<Waiting>,
}

/// Why an action could not be scheduled: its time cannot be represented on one of the clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFar;

/// The wall-clock time `at_us` microseconds after the Unix epoch, if the platform can hold it.
pub fn wall_time(at_us: u64) -> Option<SystemTime> {
    UNIX_EPOCH.checked_add(Duration::from_micros(at_us))
}

/// `at` in microseconds since the Unix epoch (`None` before the epoch; saturated far after).
pub fn micros_since_epoch(at: SystemTime) -> Option<u64> {
    let since = at.duration_since(UNIX_EPOCH).ok()?;
    Some(u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}

impl Schedule {
    /// Schedules `action` of `vote` for `at_us`; `now` and `wall_now` are the same moment on
    /// the two clocks. A time already past is due at once.
    pub fn add(
        &mut self,
        vote: VoteId,
        action: Vec<u8>,
        at_us: u64,
        now: Instant,
        wall_now: SystemTime,
    ) -> Result<(), TooFar> {
        let at = wall_time(at_us).ok_or(TooFar)?;
        let wait = at.duration_since(wall_now).unwrap_or(Duration::ZERO);
        let wake = now.checked_add(wait).ok_or(TooFar)?;
        self.waiting.push(Waiting { vote, action, at, wake });
        Ok(())
    }

    /// When the next action may be due.
    pub fn next_wake(&self) -> Option<Instant> {
        self.waiting.iter().map(|w| w.wake).min()
    }

    /// Takes the actions due at `now` / `wall_now`, earliest agreed time first. One whose wake-up
    /// came but whose wall-clock time has not (the clocks drifted apart) waits for the rest.
    pub fn take_due(&mut self, now: Instant, wall_now: SystemTime) -> Vec<Due> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            if self.waiting[i].wake > now {
                i += 1;
                continue;
            }
            match self.waiting[i].at.duration_since(wall_now) {
                Ok(left) if !left.is_zero() => {
                    self.waiting[i].wake = now.checked_add(left).unwrap_or(now);
                    i += 1;
                }
                _ => due.push(self.waiting.swap_remove(i)),
            }
        }
        due.sort_by_key(|w| (w.at, w.vote));
        due.into_iter()
            .map(|w| Due {
                vote: w.vote,
                action: w.action,
                late: wall_now.duration_since(w.at).unwrap_or(Duration::ZERO),
            })
            .collect()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn vote(n: u64) -> VoteId {
        VoteId { requester: [1; 16], number: n }
    }

    #[test]
    fn actions_are_due_at_their_time_and_never_before() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at_us = micros_since_epoch(wall + Duration::from_millis(300)).unwrap();
        let mut s = Schedule::default();
        s.add(vote(1), b"go".to_vec(), at_us, now, wall).unwrap();
        assert_eq!(s.next_wake(), Some(now + Duration::from_millis(300)));
        assert!(s.take_due(now + Duration::from_millis(299), wall + Duration::from_millis(299)).is_empty());
        // The monotonic clock says due, the wall clock not yet: wait the rest.
        let early = s.take_due(now + Duration::from_millis(300), wall + Duration::from_millis(298));
        assert!(early.is_empty());
        assert_eq!(s.next_wake(), Some(now + Duration::from_millis(302)));
        let due = s.take_due(now + Duration::from_millis(305), wall + Duration::from_millis(303));
        assert_eq!(due, vec![Due { vote: vote(1), action: b"go".to_vec(), late: Duration::from_millis(3) }]);
        assert!(s.is_empty());
    }

    #[test]
    fn past_times_are_due_at_once_in_order() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut s = Schedule::default();
        s.add(vote(2), vec![2], micros_since_epoch(wall - Duration::from_millis(10)).unwrap(), now, wall).unwrap();
        s.add(vote(1), vec![1], micros_since_epoch(wall - Duration::from_millis(50)).unwrap(), now, wall).unwrap();
        assert_eq!(s.next_wake(), Some(now));
        let due = s.take_due(now, wall);
        assert_eq!(
            due.iter().map(|d| (d.vote, d.late)).collect::<Vec<_>>(),
            vec![(vote(1), Duration::from_millis(50)), (vote(2), Duration::from_millis(10))]
        );
    }

    #[test]
    fn absurd_times_are_refused() {
        let mut s = Schedule::default();
        let r = s.add(vote(1), vec![], u64::MAX, Instant::now(), SystemTime::now());
        // Either the wall time or the wake-up cannot be represented; nothing panics.
        if r.is_ok() {
            assert!(s.next_wake().is_some());
        }
        assert_eq!(micros_since_epoch(UNIX_EPOCH - Duration::from_secs(1)), None);
    }
}
