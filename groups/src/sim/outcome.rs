//! What a run reports (its counts and broken invariants) and the observer hook.

use std::fmt;
use std::time::Duration;

#[cfg(doc)]
use crate::core::Event;
use crate::core::{GroupCore, Output};

/// Which invariant a violation breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InvariantKind {
    /// Two members were Leader in the same term.
    TwoLeadersInTerm,
    /// Members in the same term follow different leaders.
    Disagreement,
    /// No single agreed leader within the bound after healing.
    NoLeaderAfterHeal,
    /// A minority side kept a leader past the step-down bound.
    MinorityLeader,
    /// Two members held a leader lease at the same instant, each by its own clock (invariant
    /// 11).
    TwoLeases,
    /// Time stopped advancing: a member keeps asking to be ticked at an instant that passed.
    Stuck,
    /// Members learned different outcomes (or subjects) for one vote (invariant 5).
    VoteDisagreement,
    /// A member was called to one vote twice, or learned its end twice, or the requester got
    /// both its end and its loss (invariant 6).
    VoteTwice,
    /// A [`Event::VoteLost`] to a member that did not ask for the vote (or to an incarnation
    /// that did not), or before the vote's timeout plus a heartbeat (invariant 6).
    StrayVoteLost,
    /// A requester that stayed up got neither the end nor the loss of its vote in time
    /// (invariant 7).
    VoteNeverEnded,
    /// A leader announced an outcome its voters' ballots do not support, or a vote it never
    /// called (invariant 8).
    UnjustifiedOutcome,
    /// A member could not cast its ballot in a vote it was called to, though it had not learned
    /// the vote's end and still followed the leader that called it, in the same term
    /// (invariant 10).
    ForgottenCall,
    /// A message to the leader reached a member that does not lead, or one from the leader came
    /// from a member that did not lead in the recipient's term, or under a false sender
    /// (invariant 9).
    LeaderMessage,
    /// Reported by an [`Observer`].
    Observer,
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// When (simulated time).
    pub at: Duration,
    /// Which invariant.
    pub kind: InvariantKind,
    /// What happened.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {:?}: {:?}: {}", self.at, self.kind, self.detail)
    }
}

/// What one run found.
#[derive(Debug, Clone, Default)]
pub struct SimOutcome {
    /// The run's seed.
    pub seed: u64,
    /// Steps (deliveries and ticks) simulated.
    pub steps: u64,
    /// Distinct (term, leader) pairs seen.
    pub elections: u64,
    /// Heals (calm phases) simulated.
    pub heals: u64,
    /// For each heal, how long until one agreed leader (None: never within the calm phase).
    pub time_to_leader: Vec<Option<Duration>>,
    /// Terms with two leaders in runs where that is allowed (no declared size).
    pub split_brain_terms: u64,
    /// Terms that had two leaders one after the other, where a member that may have voted in
    /// the term had crashed and restarted without memory of its vote (terms and votes are not
    /// persisted). Never two at the same time: that is a violation.
    pub amnesia_terms: u64,
    /// Crashes simulated.
    pub crashes: u64,
    /// Partitions simulated.
    pub partitions: u64,
    /// Pauses simulated.
    pub pauses: u64,
    /// Steps after which two members held a leader lease at once, in runs where that is
    /// allowed (no declared size: both sides of a partition elect).
    pub lease_overlaps: u64,
    /// Votes members asked for (and the core accepted).
    pub votes_requested: u64,
    /// Vote requests refused because the member knew no leader.
    pub votes_no_leader: u64,
    /// Votes whose requester learned they passed.
    pub votes_yes: u64,
    /// Votes whose requester learned they failed.
    pub votes_no: u64,
    /// Votes whose requester learned they timed out.
    pub votes_timeout: u64,
    /// Votes whose requester got [`Event::VoteLost`].
    pub votes_lost: u64,
    /// Votes whose requester crashed, or the run ended, before it learned anything.
    pub votes_unfinished: u64,
    /// Ballots cast (accepted by the members' cores).
    pub ballots: u64,
    /// Messages to the leader sent (accepted by the senders' cores).
    pub messages_to_leader_sent: u64,
    /// [`Event::MessageToLeader`]s given to leaders.
    pub messages_to_leader: u64,
    /// Messages from the leader sent (accepted by the leaders' cores).
    pub messages_from_leader_sent: u64,
    /// [`Event::MessageFromLeader`]s given to members.
    pub messages_from_leader: u64,
    /// Broken invariants (the first few; a run stops at the first step that breaks any).
    pub violations: Vec<Violation>,
    /// The last events before the first violation, for diagnosis.
    pub trace: Vec<String>,
}

impl SimOutcome {
    /// The longest time to an agreed leader after a heal, if every heal got one.
    pub fn max_time_to_leader(&self) -> Option<Duration> {
        self.time_to_leader.iter().copied().collect::<Option<Vec<_>>>().and_then(|v| v.into_iter().max())
    }
}

/// A member's state as an [`Observer`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct MemberView<'a> {
    /// The member's index.
    pub index: usize,
    /// Its core; None while crashed.
    pub core: Option<&'a GroupCore>,
    /// Its partition side.
    pub side: u8,
}

/// Extra checks plugged into a run (for what the built-in invariants do not cover): sees every
/// output and the state after every step, and reports violations of its own.
pub trait Observer {
    /// Member `index` produced `output` at `now`.
    fn on_output(&mut self, now: Duration, index: usize, output: &Output) {
        let _ = (now, index, output);
    }

    /// Member `index` (re)started at `now`, or crashed (`alive` false).
    fn on_lifecycle(&mut self, now: Duration, index: usize, alive: bool) {
        let _ = (now, index, alive);
    }

    /// After every step; push violations' details to `violations`.
    fn after_step(&mut self, now: Duration, members: &[MemberView<'_>], violations: &mut Vec<String>) {
        let _ = (now, members, violations);
    }
}

/// An observer that observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}
