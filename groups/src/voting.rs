//! Vote bookkeeping for [`crate::GroupCore`]: the leader's open polls and the tally rule, and
//! what a member remembers of the votes it was asked about, asked for and learned the end of.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::wire::{MemberId, Outcome, Subject, Term, VoteId, VoteKind};

/// A vote the leader runs: the voters are the members it knew when the vote was called.
#[derive(Debug, Clone)]
pub(crate) struct Poll {
    /// The leader's term when it called the vote.
    pub(crate) term: Term,
    pub(crate) subject: Subject,
    pub(crate) kind: VoteKind,
    pub(crate) voters: BTreeSet<MemberId>,
    /// One ballot per voter: the first one counts.
    pub(crate) ballots: BTreeMap<MemberId, bool>,
    /// Yes-votes needed to pass under `Majority`.
    pub(crate) majority: usize,
    pub(crate) deadline: Duration,
}

impl Poll {
    /// Counts `voter`'s ballot unless it is not a voter or already voted; true if it counted.
    pub(crate) fn record(&mut self, voter: MemberId, yes: bool) -> bool {
        if !self.voters.contains(&voter) || self.ballots.contains_key(&voter) {
            return false;
        }
        self.ballots.insert(voter, yes);
        true
    }

    /// The outcome once the ballots decide it: `Yes` when enough said yes, `No` as soon as the
    /// voters still to vote could not make it pass.
    pub(crate) fn decision(&self) -> Option<Outcome> {
        let voters = self.voters.len();
        let yes = self.ballots.values().filter(|v| **v).count();
        let no = self.ballots.len() - yes;
        let needed = match self.kind {
            VoteKind::Majority => self.majority,
            VoteKind::Consensus => voters,
        };
        let outstanding = voters - yes - no;
        if yes >= needed {
            Some(Outcome::Yes)
        } else if yes + outstanding < needed {
            Some(Outcome::No)
        } else {
            None
        }
    }
}

/// A vote this member was asked to cast.
#[derive(Debug, Clone)]
pub(crate) struct Called {
    /// The leader that called it (ballots go there).
    pub(crate) leader: MemberId,
    /// The term it was called in.
    pub(crate) term: Term,
    pub(crate) voted: bool,
    /// Forgotten after this, unless the member is still in `term`: members are not told a
    /// vote's timeout, which may be longer than this.
    pub(crate) expires: Duration,
}

/// What one member remembers about votes.
#[derive(Debug, Clone, Default)]
pub(crate) struct VoteBook {
    /// Open polls, when this member leads.
    pub(crate) polls: BTreeMap<VoteId, Poll>,
    /// Votes this member was asked to cast.
    pub(crate) called: BTreeMap<VoteId, Called>,
    /// Votes this member asked for and has no result of yet, with when it gives up.
    pub(crate) pending: BTreeMap<VoteId, Duration>,
    /// Votes whose end this member knows, kept until the given time so that duplicates and
    /// late copies do not end a vote twice.
    pub(crate) ended: BTreeMap<VoteId, Duration>,
    /// The number of this member's next vote.
    pub(crate) next_number: u64,
}

impl VoteBook {
    /// The earliest time something here must happen (a poll's or a pending vote's deadline).
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        let polls = self.polls.values().map(|p| p.deadline);
        polls.chain(self.pending.values().copied()).min()
    }

    /// Forgets what has expired by `now`; calls made in the current `term` are kept, since the
    /// leader that made them may still lead and their votes may still be open.
    pub(crate) fn forget(&mut self, now: Duration, term: Term) {
        self.called.retain(|_, c| c.expires > now || c.term == term);
        self.ended.retain(|_, until| *until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> MemberId {
        [n; 16]
    }

    fn poll(kind: VoteKind, voters: u8, majority: usize) -> Poll {
        Poll {
            term: 1,
            subject: Subject::Value(vec![]),
            kind,
            voters: (0..voters).map(id).collect(),
            ballots: BTreeMap::new(),
            majority,
            deadline: Duration::from_secs(1),
        }
    }

    #[test]
    fn majority_passes_at_quorum_and_fails_when_out_of_reach() {
        let mut p = poll(VoteKind::Majority, 5, 3);
        assert!(p.record(id(0), true));
        assert!(p.record(id(1), true));
        assert_eq!(p.decision(), None);
        assert!(p.record(id(2), true));
        assert_eq!(p.decision(), Some(Outcome::Yes));

        let mut p = poll(VoteKind::Majority, 5, 3);
        for i in 0..2 {
            p.record(id(i), false);
        }
        assert_eq!(p.decision(), None);
        p.record(id(2), false);
        assert_eq!(p.decision(), Some(Outcome::No));
    }

    #[test]
    fn duplicates_and_strangers_are_not_counted() {
        let mut p = poll(VoteKind::Majority, 3, 2);
        assert!(p.record(id(0), true));
        assert!(!p.record(id(0), true));
        assert!(!p.record(id(9), true));
        assert_eq!(p.decision(), None);
        assert!(!p.record(id(0), false), "a voter cannot change its ballot");
    }

    #[test]
    fn consensus_needs_everyone_and_fails_at_the_first_no() {
        let mut p = poll(VoteKind::Consensus, 3, 2);
        p.record(id(0), true);
        p.record(id(1), true);
        assert_eq!(p.decision(), None);
        p.record(id(2), true);
        assert_eq!(p.decision(), Some(Outcome::Yes));

        let mut p = poll(VoteKind::Consensus, 3, 2);
        p.record(id(1), false);
        assert_eq!(p.decision(), Some(Outcome::No));
    }

    #[test]
    fn a_declared_size_larger_than_the_voters_cannot_pass_without_enough_yes() {
        // Expected size 5 (majority 3) with only two voters known: it can never pass.
        let mut p = poll(VoteKind::Majority, 2, 3);
        assert_eq!(p.decision(), Some(Outcome::No));
        p.record(id(0), true);
        assert_eq!(p.decision(), Some(Outcome::No));
    }
}
