//! A leader's lease: from the heartbeats it sent and the acknowledgements its followers sent
//! back, until when no other member can have been elected.
//!
//! A member that acknowledges heartbeat `seq` of leader `L` promises to acknowledge no other
//! leader and to vote for no one for the shortest election timeout `E` from the moment it heard
//! the heartbeat, which is after `L` sent it. A member just started promises nothing for `E`: it may have made a
//! promise before a restart and forgotten it.
//!
//! `L`'s lease runs from the send time `t` of the latest heartbeat that a quorum acknowledged, the leader counting itself, until `t + GroupConfig::lease()`, which is
//! shorter than `E` by the clock drift bound ([`crate::config::MAX_CLOCK_DRIFT`]). Two leases
//! never overlap: two quorums share a member `m`; `m` acknowledged one leader last at `r` and
//! the other only from `r + E` on (by its clock), while the first leader's lease from `m`'s
//! acknowledgement ended by `t + lease < r + E` (by true time, whatever the clocks' rates within
//! the bound), and the second's began only when that later acknowledgement reached it.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::wire::MemberId;

/// Heartbeats kept for matching acknowledgements: beyond these, an acknowledgement is too old
/// to extend the lease anyway.
const REMEMBERED: usize = 64;

/// A leader's record of its heartbeats and its followers' acknowledgements, for one term.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lease {
    /// The next heartbeat's number.
    next_seq: u64,
    /// The heartbeats sent in this term, oldest first: number and when.
    sent: VecDeque<(u64, Duration)>,
    /// For each follower, when the latest heartbeat it acknowledged was sent.
    acked: BTreeMap<MemberId, Duration>,
    /// When the latest heartbeat a quorum acknowledged was sent: the lease runs from there.
    start: Option<Duration>,
}

impl Lease {
    /// Records a heartbeat sent at `now`; returns its number.
    pub(crate) fn send(&mut self, now: Duration) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.sent.push_back((seq, now));
        while self.sent.len() > REMEMBERED {
            self.sent.pop_front();
        }
        seq
    }

    /// Records that `from` acknowledged heartbeat `seq`. Unknown or forgotten numbers do
    /// nothing.
    pub(crate) fn acknowledge(&mut self, from: MemberId, seq: u64) {
        let Ok(at) = self.sent.binary_search_by_key(&seq, |(s, _)| *s) else { return };
        let Some(&(_, sent)) = self.sent.get(at) else { return };
        let latest = self.acked.entry(from).or_insert(sent);
        *latest = (*latest).max(sent);
    }

    /// Moves the lease's start to the latest heartbeat that `others` followers for whom
    /// `counts` holds have acknowledged (with the leader itself, a quorum). With `others == 0`
    /// the leader alone is a quorum: the lease runs from its latest heartbeat.
    pub(crate) fn renew(&mut self, others: usize, counts: impl Fn(&MemberId) -> bool) {
        let candidate = if others == 0 {
            self.sent.back().map(|(_, at)| *at)
        } else {
            let mut times: Vec<Duration> = self.acked.iter().filter(|(id, _)| counts(id)).map(|(_, at)| *at).collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            times.get(others - 1).copied()
        };
        if let Some(at) = candidate {
            self.start = Some(self.start.map_or(at, |s| s.max(at)));
        }
    }

    /// Forgets the acknowledgements of members for whom `keep` does not hold.
    pub(crate) fn retain(&mut self, keep: impl Fn(&MemberId) -> bool) {
        self.acked.retain(|id, _| keep(id));
    }

    /// When the lease started (the latest heartbeat a quorum acknowledged), if it ever did.
    pub(crate) fn start(&self) -> Option<Duration> {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_lease_starts_at_the_heartbeat_a_quorum_acknowledged() {
        let mut lease = Lease::default();
        let first = lease.send(ms(0));
        let second = lease.send(ms(100));
        lease.acknowledge([1; 16], second);
        lease.renew(2, |_| true);
        assert_eq!(lease.start(), None, "one of two needed");
        lease.acknowledge([2; 16], first);
        lease.renew(2, |_| true);
        assert_eq!(lease.start(), Some(ms(0)), "the older of the two");
        lease.acknowledge([2; 16], second);
        lease.renew(2, |_| true);
        assert_eq!(lease.start(), Some(ms(100)));
        // A late acknowledgement of an older heartbeat never moves the lease back.
        lease.acknowledge([2; 16], first);
        lease.renew(2, |_| true);
        assert_eq!(lease.start(), Some(ms(100)));
    }

    #[test]
    fn members_that_do_not_count_are_left_out() {
        let mut lease = Lease::default();
        let seq = lease.send(ms(5));
        lease.acknowledge([1; 16], seq);
        lease.acknowledge([2; 16], seq);
        lease.renew(2, |id| *id != [2; 16]);
        assert_eq!(lease.start(), None);
        lease.retain(|id| *id != [2; 16]);
        lease.renew(1, |_| true);
        assert_eq!(lease.start(), Some(ms(5)));
    }

    #[test]
    fn alone_the_leader_is_its_own_quorum_and_unknown_numbers_do_nothing() {
        let mut lease = Lease::default();
        lease.acknowledge([1; 16], 7);
        lease.renew(1, |_| true);
        assert_eq!(lease.start(), None);
        lease.send(ms(3));
        lease.renew(0, |_| true);
        assert_eq!(lease.start(), Some(ms(3)));
    }
}
