//! A deterministic simulator for [`GroupCore`]: test tooling, public so the test suite
//! (`groups/tests/simulation.rs`) and the dedicated command (`groups/examples/simulate.rs`) share
//! it. Not for production use.
//!
//! One run ([`run`]) drives `members` cores with simulated time over a seeded random network:
//! every broadcast is fanned out into one message per recipient, each independently lost,
//! duplicated and delayed (reordering follows from the delays). Faults come in rounds: a chaos
//! phase (loss, crashes, restarts, a partition at a time) then a calm phase (the partition
//! healed, crashed members restarted, no loss) long enough to elect. Everything (the network,
//! the faults, the cores' own seeds) comes from the run's seed, so a seed replays exactly.
//!
//! Semantics:
//! - A crashed member stops; messages it sent before crashing may still arrive. A restart is a
//!   new [`GroupCore`] with the same id, starting in term 0 with no vote (terms are not
//!   persisted in this design).
//! - A partition splits the members into two non-empty sides; a message is dropped when sender
//!   and recipient are on different sides *when it is delivered*.
//! - Members tick exactly at their [`GroupCore::next_deadline`]. Messages due at the same instant
//!   are delivered before workload actions, and those come before ticks, each in the order they
//!   were sent or scheduled; ticks at the same instant go by member index.
//!
//! Invariants, checked after every step (a delivery, a workload action or a tick); the first
//! step that breaks one ends the run, which reports it with the last events (the trace):
//! 1. **One leader per term**: no two live members are Leader in the same term at the same
//!    time; and once a member is Leader in term `t`, no other member is ever Leader in `t`,
//!    except in a term some crashed member had already reached when it crashed: terms and votes
//!    are not persisted, so after the whole group (or the voters of `t`) restarted, `t` can come
//!    round again. Those reuses are counted in [`SimOutcome::amnesia_terms`], not failed.
//! 2. **Agreement**: live members in the same term whose [`GroupCore::leader`] is set agree on it.
//! 3. **Liveness after healing**: from `heal + bound` (see [`SimConfig::heal_bound`]) to the end
//!    of the calm phase, exactly one live member is Leader and every live member is in its
//!    term and follows it.
//! 4. **No minority leader** (declared size only): a member on a side smaller than the quorum
//!    of the declared size is not Leader at any time later than `split + peer_timeout`. The
//!    bound comes from the step-down rule in [`GroupCore::tick`]: no message crosses the cut
//!    after the split, so every peer across it was last heard at or before the split, the
//!    leader's deadline is `last heard + peer_timeout`, and in that tick it drops those peers
//!    and, short of a quorum, steps down. Nobody on that side can be elected afterwards, since
//!    the quorum of a declared size needs voters from the other side.
//!
//! Invariants 1 and 2 are properties of a *declared* group size: without one, the quorum is a
//! majority of the members each one currently knows, so both sides of a partition elect, and
//! members whose views differ (heavy loss) may too, possibly in the same term. Runs without a
//! declared size check them only when [`SimConfig::strict_safety`] is set (by default: no
//! partitions and no loss) and otherwise count same-term leaders in
//! [`SimOutcome::split_brain_terms`].
//!
//! **Workload** (see [`Workload`], on by default): at random moments drawn from the run's seed,
//! live members ask for votes (on a value or an action, majority or consensus, with a timeout
//! around the consensus timeout, sometimes much shorter, now and then longer than members
//! remember a vote by default), answer the votes they are called to after a random delay
//! (mostly yes; some late, some never), send messages to the leader, and a leader sends
//! messages to random members. The simulator keeps its own ledger of what was
//! asked, cast, called and announced, and checks after every step:
//!
//! 5. **One outcome per vote**: every [`Event::VoteEnded`] for a vote id, on any member and in
//!    any incarnation of it, carries the same outcome, and the subject that was asked for.
//! 6. **Once per member**: a member (incarnation) is called to a vote at most once, learns its
//!    end at most once, and the requester gets at most one of [`Event::VoteEnded`] and
//!    [`Event::VoteLost`]; [`Event::VoteLost`] goes only to the requester (the incarnation that
//!    asked), and not before the vote's timeout plus a heartbeat.
//! 7. **A request always ends**: a requester that stays up gets one of them no later than
//!    `asked + timeout + heartbeat + delay_max`.
//! 8. **Justified outcomes**: a leader announces `Yes` only if at least the needed number of
//!    distinct voters of its snapshot (the members it knew when it called the vote) cast yes
//!    (for majority, the quorum of the snapshot, or of the declared size when there is one; for
//!    consensus, all of them), and `No` only if enough of them cast no that it could not pass.
//!    Ballots count from any incarnation of a voter (a restarted member may be called again).
//! 9. **Leader messages**: [`Event::MessageToLeader`] is given only to a member that is Leader,
//!    with the true sender; [`Event::MessageFromLeader`] only from the true sender, which was
//!    Leader in the term the recipient is in when it gets it.
//! 10. **Calls are remembered**: a member can cast its ballot in a vote it was called to (the
//!     first time) as long as it has not learned the vote's end and still follows the leader
//!     that called it in the term of the call, however long the vote's timeout.
//!
//! Further checks plug in through an [`Observer`]: it sees every output of every member and the
//! state after every step, and can report its own violations.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::Duration;

use crate::config::GroupConfig;
use crate::core::{CommandError, Event, GroupCore, Output, Role};
use crate::wire::{GroupMessage, MemberId, Outcome, Subject, Term, VoteId, VoteKind};

/// A small, fast, seedable random number generator (SplitMix64), so runs replay anywhere.
#[derive(Debug, Clone)]
pub struct SimRng(u64);

impl SimRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        // 53 random bits; the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64;
        x / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A duration uniformly in `[min, max]` (microsecond resolution).
    pub fn between(&mut self, min: Duration, max: Duration) -> Duration {
        let span = u64::try_from(max.saturating_sub(min).as_micros()).unwrap_or(u64::MAX);
        min + Duration::from_micros(self.below(span.saturating_add(1)))
    }
}

/// The id of simulated member `index` (0-based): 8 zero bytes then `index + 1`, big-endian.
pub fn member_id(index: usize) -> MemberId {
    let mut id = [0u8; 16];
    id[8..].copy_from_slice(&(index as u64 + 1).to_be_bytes());
    id
}

/// The application's load on the group in a run (see the module's documentation). Everything
/// it does is drawn from the run's seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Mean time between one live member's vote requests (each gap uniform in `[0, 2 × mean]`).
    pub vote_interval: Duration,
    /// Mean time between one live member's messages to the leader; a member that leads also
    /// sends one to a random member (possibly itself, possibly one it does not know) each time.
    pub message_interval: Duration,
    /// Probability that a ballot says yes.
    pub yes: f64,
    /// Probability that a member never answers a vote it is called to.
    pub silent: f64,
    /// Most answers come uniformly within this long of the call.
    pub answer_quick: Duration,
    /// Probability that an answer is slow instead: uniformly within `answer_slow`.
    pub slow: f64,
    /// The longest a slow answer takes (longer than a vote's timeout: some votes time out).
    pub answer_slow: Duration,
    /// Probability that a vote is long: its timeout is longer than members remember a vote
    /// by default (2 × consensus timeout + peer timeout), and its answers come at any time
    /// within it.
    pub long: f64,
}

impl Workload {
    /// For `group`: a vote request and a message per member every 2 heartbeats on average,
    /// 85 % yes, 5 % of calls never answered, answers within a quarter of the consensus timeout
    /// or (10 %) up to 1.25 × it; 3 % of the votes long.
    pub fn new(group: &GroupConfig) -> Workload {
        Workload {
            vote_interval: group.heartbeat * 2,
            message_interval: group.heartbeat * 2,
            yes: 0.85,
            silent: 0.05,
            answer_quick: group.consensus_timeout / 4,
            slow: 0.1,
            answer_slow: group.consensus_timeout.mul_f64(1.25),
            long: 0.03,
        }
    }

    /// A vote's timeout: the group's default (None) a quarter of the time, around the consensus
    /// timeout (half to one and a half times it) most of the time, and one to three heartbeats
    /// (often too short to finish) a fifth of the time; or, with probability `long`, one to one
    /// and a half times the members' default memory of a vote.
    fn timeout(&self, rng: &mut SimRng, group: &GroupConfig) -> Option<Duration> {
        if rng.chance(self.long) {
            let memory = group.consensus_timeout * 2 + group.peer_timeout;
            return Some(rng.between(memory, memory.mul_f64(1.5)));
        }
        let roll = rng.unit();
        if roll < 0.25 {
            None
        } else if roll < 0.8 {
            Some(rng.between(group.consensus_timeout / 2, group.consensus_timeout.mul_f64(1.5)))
        } else {
            Some(rng.between(group.heartbeat, group.heartbeat * 3))
        }
    }
}

/// What one run simulates. [`SimConfig::new`] gives sensible defaults scaled to the group's
/// heartbeat.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many members.
    pub members: usize,
    /// The members' group configuration (timing, declared size).
    pub group: GroupConfig,
    /// Shortest one-way delay.
    pub delay_min: Duration,
    /// Longest one-way delay.
    pub delay_max: Duration,
    /// Each run draws its chaos-phase loss probability uniformly from `[0, max_loss]`.
    pub max_loss: f64,
    /// Probability that a message is delivered twice (independent delays), in every phase.
    pub duplicate: f64,
    /// Whether members crash and restart in chaos phases.
    pub crashes: bool,
    /// Whether partitions happen in chaos phases.
    pub partitions: bool,
    /// How many chaos + calm rounds.
    pub rounds: usize,
    /// Shortest chaos phase.
    pub chaos_min: Duration,
    /// Longest chaos phase.
    pub chaos_max: Duration,
    /// Mean time between faults in a chaos phase.
    pub fault_interval: Duration,
    /// Invariant 3's bound: after healing, one agreed leader within this long.
    pub heal_bound: Duration,
    /// How long a calm phase lasts (at least `heal_bound`).
    pub calm: Duration,
    /// Check invariants 1 and 2 even without a declared size.
    pub strict_safety: bool,
    /// The votes and messages members exchange (None: elections only).
    pub workload: Option<Workload>,
}

impl SimConfig {
    /// `members` members with `group`'s configuration, a network whose delays are 0.5–20 ms
    /// scaled to the heartbeat (as with a 1 s heartbeat), up to 20 % loss, 5 % duplication,
    /// crashes and partitions, 3 rounds, and the default [`Workload`].
    ///
    /// The healing bound is `peer_timeout + 2 × election_max + heartbeat`: learning the highest
    /// term and the members takes at most a heartbeat (plus a delay), a stale leader steps
    /// down then, and an election takes one election timeout; the rest is room for split votes.
    pub fn new(members: usize, group: GroupConfig) -> SimConfig {
        let scale = |ms: f64| Duration::from_secs_f64(ms / 1000.0 * group.heartbeat.as_secs_f64());
        let heal_bound = group.peer_timeout + group.election_max * 2 + group.heartbeat;
        let partitions = true;
        let max_loss = 0.2;
        SimConfig {
            members,
            group,
            delay_min: scale(0.5),
            delay_max: scale(20.0),
            max_loss,
            duplicate: 0.05,
            crashes: true,
            partitions,
            rounds: 3,
            chaos_min: group.heartbeat * 3,
            chaos_max: group.heartbeat * 15,
            fault_interval: group.heartbeat * 2,
            heal_bound,
            calm: heal_bound + group.heartbeat * 3,
            strict_safety: group.expected_size.is_some(),
            workload: Some(Workload::new(&group)),
        }
    }

    /// A short description that, with the seed, identifies a run.
    pub fn describe(&self) -> String {
        format!(
            "members={} expected_size={} heartbeat={:?} workload={}",
            self.members,
            self.group.expected_size.map_or_else(|| "none".to_owned(), |n| n.to_string()),
            self.group.heartbeat,
            if self.workload.is_some() { "on" } else { "off" }
        )
    }
}

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

#[derive(Debug, Clone)]
struct InFlight {
    from: usize,
    to: usize,
    message: GroupMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Chaos,
    Calm,
}

/// Something the workload does at a given moment.
#[derive(Debug, Clone)]
enum Action {
    /// Member `index` asks for a vote (if up), then schedules its next request.
    Request(usize),
    /// Member `index` sends a message to the leader, and to a random member if it leads (if up),
    /// then schedules its next message.
    Message(usize),
    /// Member `index`, in its incarnation `incarnation`, answers `vote`.
    Cast { index: usize, incarnation: u64, vote: VoteId, yes: bool },
}

/// A vote a member asked for.
#[derive(Debug, Clone)]
struct Request {
    index: usize,
    incarnation: u64,
    asked: Duration,
    timeout: Duration,
    subject: Subject,
    /// What the requester got ("VoteEnded(..)" or "VoteLost"), once it got it.
    end: Option<String>,
}

/// The voters of a vote as its leader called it, and how many yes it needs.
#[derive(Debug, Clone)]
struct Snapshot {
    voters: Vec<MemberId>,
    kind: VoteKind,
    needed: usize,
}

/// The simulator's own record of the votes and messages, for invariants 5–9.
#[derive(Debug, Default)]
struct Ledger {
    /// Every vote requested in the run.
    requests: BTreeMap<VoteId, Request>,
    /// Requests whose requester is up and has got nothing yet, by when it must (invariant 7).
    open: BTreeSet<(Duration, VoteId)>,
    /// The first end learned of each vote, and by whom.
    ends: BTreeMap<VoteId, (Outcome, Subject, usize)>,
    /// (member, incarnation, vote): called to it, by which leader in which term.
    called: BTreeMap<(usize, u64, VoteId), (MemberId, Term)>,
    /// (member, incarnation, vote): learned its end.
    learned: BTreeSet<(usize, u64, VoteId)>,
    /// (vote, leader, leader's incarnation): the poll it called.
    polls: BTreeMap<(VoteId, usize, u64), Snapshot>,
    /// The ballots members cast: (some yes, some no) per voter.
    ballots: BTreeMap<VoteId, BTreeMap<MemberId, (bool, bool)>>,
    /// (term, member) pairs seen leading (after a step).
    led: BTreeSet<(Term, usize)>,
    /// Numbers the application messages.
    messages: u64,
}

struct World<'o> {
    config: SimConfig,
    rng: SimRng,
    now: Duration,
    members: Vec<Option<GroupCore>>,
    side: Vec<u8>,
    split_at: Option<Duration>,
    queue: BTreeMap<(Duration, u64), InFlight>,
    seq: u64,
    loss: f64,
    phase: Phase,
    heal_at: Duration,
    agreed_since_heal: Option<Duration>,
    leaders: BTreeMap<Term, MemberId>,
    split_terms: BTreeSet<Term>,
    max_crashed_term: Term,
    last_step_at: Duration,
    same_instant: u64,
    amnesia: BTreeSet<Term>,
    /// How many times each member started.
    incarnation: Vec<u64>,
    /// While a delivered `CallVote`'s outputs are absorbed: its sender and term.
    calling: Option<(usize, Term)>,
    /// Each live member's [`GroupCore::next_deadline`], refreshed whenever its core is used
    /// (every use ends in [`World::absorb`]).
    deadlines: Vec<Option<Duration>>,
    /// The workload's actions, by when and order of scheduling.
    actions: BTreeMap<(Duration, u64), Action>,
    /// The workload's random numbers (apart from the network's and the faults').
    wrng: SimRng,
    ledger: Ledger,
    outcome: SimOutcome,
    /// Whether to keep the trace (see [`run`]).
    tracing: bool,
    trace: VecDeque<String>,
    observer: &'o mut dyn Observer,
}

/// Adds a line to the trace, formatting it only when the run keeps one.
macro_rules! note {
    ($world:expr, $($line:tt)*) => {
        if $world.tracing {
            let line = format!($($line)*);
            $world.push_trace(line);
        }
    };
}

const TRACE_LEN: usize = 300;

fn short(id: &MemberId) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&id[8..]);
    format!("m{}", u64::from_be_bytes(bytes).wrapping_sub(1))
}

fn vote_name(vote: &VoteId) -> String {
    format!("{}#{}", short(&vote.requester), vote.number)
}

fn subject_text(subject: &Subject) -> String {
    match subject {
        Subject::Value(value) => format!("Value{value:?}"),
        Subject::Action { action, at_us } => format!("Action{action:?}@{at_us}us"),
    }
}

fn payload_text(payload: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(payload))
}

/// A message as the trace shows it: member ids as `m<index>`, votes as `m<index>#<number>`.
fn message_text(message: &GroupMessage) -> String {
    match message {
        GroupMessage::Vote { term, candidate, granted } => {
            format!("Vote {{ term: {term}, candidate: {}, granted: {granted} }}", short(candidate))
        }
        GroupMessage::ToLeader { payload } => format!("ToLeader {}", payload_text(payload)),
        GroupMessage::FromLeader { term, payload } => {
            format!("FromLeader {{ term: {term}, {} }}", payload_text(payload))
        }
        GroupMessage::ProposeVote { vote, subject, kind, timeout_us } => format!(
            "ProposeVote {{ {}, {}, {kind:?}, timeout {timeout_us}us }}",
            vote_name(vote),
            subject_text(subject)
        ),
        GroupMessage::CallVote { term, vote, subject, kind } => {
            format!("CallVote {{ term: {term}, {}, {}, {kind:?} }}", vote_name(vote), subject_text(subject))
        }
        GroupMessage::Ballot { vote, yes } => format!("Ballot {{ {}, yes: {yes} }}", vote_name(vote)),
        GroupMessage::Announce { term, vote, subject, outcome } => {
            format!("Announce {{ term: {term}, {}, {}, {outcome:?} }}", vote_name(vote), subject_text(subject))
        }
        other => format!("{other:?}"),
    }
}

fn event_text(event: &Event) -> String {
    match event {
        Event::MemberJoined(id) => format!("MemberJoined({})", short(id)),
        Event::MemberLeft(id) => format!("MemberLeft({})", short(id)),
        Event::LeaderElected(id) => format!("LeaderElected({})", short(id)),
        Event::LeaderExited(id) => format!("LeaderExited({})", short(id)),
        Event::MessageToLeader { from, payload } => {
            format!("MessageToLeader({} {})", short(from), payload_text(payload))
        }
        Event::MessageFromLeader { leader, payload } => {
            format!("MessageFromLeader({} {})", short(leader), payload_text(payload))
        }
        Event::VoteCalled { vote, subject, kind } => {
            format!("VoteCalled({} {} {kind:?})", vote_name(vote), subject_text(subject))
        }
        Event::VoteEnded { vote, subject, outcome } => {
            format!("VoteEnded({} {} {outcome:?})", vote_name(vote), subject_text(subject))
        }
        Event::VoteLost { vote } => format!("VoteLost({})", vote_name(vote)),
    }
}

/// The sender (and, from a leader, the term) an application payload names (see
/// [`World::message`]): `to:m<index>:<n>` or `from:m<index>:t<term>:<n>`.
fn parse_payload(payload: &[u8]) -> Option<(usize, Option<Term>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.split(':');
    let direction = parts.next()?;
    let sender = parts.next()?.strip_prefix('m')?.parse().ok()?;
    match direction {
        "to" => Some((sender, None)),
        "from" => Some((sender, Some(parts.next()?.strip_prefix('t')?.parse().ok()?))),
        _ => None,
    }
}

impl World<'_> {
    fn push_trace(&mut self, line: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }

    fn start(&mut self, index: usize) {
        let seed = self.rng.next_u64();
        let (core, out) =
            GroupCore::new(member_id(index), self.config.group, &format!("sim://m{index}"), seed, self.now);
        self.members[index] = Some(core);
        self.incarnation[index] += 1;
        self.observer.on_lifecycle(self.now, index, true);
        note!(self, "{:?} m{index} starts", self.now);
        self.absorb(index, out);
    }

    fn crash(&mut self, index: usize) {
        if let Some(core) = self.members[index].take() {
            self.max_crashed_term = self.max_crashed_term.max(core.term());
        }
        self.deadlines[index] = None;
        // Its requests are nobody's business any more (invariant 7 is about requesters that
        // stay up).
        let incarnation = self.incarnation[index];
        let ledger = &mut self.ledger;
        let orphans: Vec<(Duration, VoteId)> = ledger
            .open
            .iter()
            .filter(|(_, vote)| {
                ledger.requests.get(vote).is_some_and(|r| r.index == index && r.incarnation == incarnation)
            })
            .copied()
            .collect();
        for orphan in orphans {
            ledger.open.remove(&orphan);
            self.outcome.votes_unfinished += 1;
        }
        self.outcome.crashes += 1;
        self.observer.on_lifecycle(self.now, index, false);
        note!(self, "{:?} m{index} crashes", self.now);
    }

    fn send(&mut self, from: usize, to: usize, message: GroupMessage) {
        let delay = self.rng.between(self.config.delay_min, self.config.delay_max);
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), InFlight { from, to, message });
    }

    fn schedule(&mut self, at: Duration, action: Action) {
        self.seq += 1;
        self.actions.insert((at, self.seq), action);
    }

    fn absorb(&mut self, from: usize, out: Vec<Output>) {
        self.deadlines[from] = self.members[from].as_ref().map(GroupCore::next_deadline);
        for output in out {
            self.observer.on_output(self.now, from, &output);
            match output {
                Output::Broadcast(message) => {
                    note!(self, "{:?} m{from} sends {}", self.now, message_text(&message));
                    self.watch_broadcast(from, &message);
                    for to in 0..self.members.len() {
                        if to == from || self.rng.chance(self.loss) {
                            continue;
                        }
                        self.send(from, to, message.clone());
                        if self.rng.chance(self.config.duplicate) {
                            self.send(from, to, message.clone());
                        }
                    }
                }
                Output::ToLeader { leader: to, message } | Output::ToMember { member: to, message } => {
                    note!(self, "{:?} m{from} sends {} to {}", self.now, message_text(&message), short(&to));
                    let Some(to) = (0..self.members.len()).find(|i| member_id(*i) == to) else { continue };
                    if !self.rng.chance(self.loss) {
                        self.send(from, to, message.clone());
                        if self.rng.chance(self.config.duplicate) {
                            self.send(from, to, message);
                        }
                    }
                }
                Output::Event(event) => {
                    note!(self, "{:?} m{from} event {}", self.now, event_text(&event));
                    self.watch_event(from, event);
                }
            }
        }
    }

    /// Runs the next step if it is due by `until`; false when there is none.
    fn step(&mut self, until: Duration) -> bool {
        // The earliest of: a delivery, a workload action, a tick; at one instant in that order.
        let next_message = self.queue.keys().next().map(|k| (k.0, 0u8));
        let next_action = self.actions.keys().next().map(|k| (k.0, 1u8));
        let next_tick = self.deadlines.iter().enumerate().filter_map(|(i, d)| d.map(|d| (d.max(self.now), i))).min();
        let Some((at, what)) =
            [next_message, next_action, next_tick.map(|(t, _)| (t, 2u8))].into_iter().flatten().min()
        else {
            return false;
        };
        if at > until {
            return false;
        }
        match what {
            0 => {
                let Some((_, flight)) = self.queue.pop_first() else { return false };
                self.now = at;
                if self.side[flight.from] != self.side[flight.to] {
                    return true;
                }
                let from = member_id(flight.from);
                let now = self.now;
                let Some(core) = self.members[flight.to].as_mut() else { return true };
                let out = core.handle(now, from, flight.message.clone());
                note!(self, "{now:?} m{} gets {} from m{}", flight.to, message_text(&flight.message), flight.from);
                if let GroupMessage::CallVote { term, .. } = flight.message {
                    self.calling = Some((flight.from, term));
                }
                self.absorb(flight.to, out);
                self.calling = None;
            }
            1 => {
                let Some((_, action)) = self.actions.pop_first() else { return false };
                self.now = at;
                if !self.act(action) {
                    return true;
                }
            }
            _ => {
                let Some((_, index)) = next_tick else { return false };
                self.now = at;
                let now = self.now;
                let Some(core) = self.members[index].as_mut() else { return true };
                let out = core.tick(now);
                self.absorb(index, out);
            }
        }
        self.outcome.steps += 1;
        if self.now == self.last_step_at {
            self.same_instant += 1;
            if self.same_instant > 10_000 {
                self.violate(InvariantKind::Stuck, format!("10000 steps at one instant: {}", self.roles()));
            }
        } else {
            self.last_step_at = self.now;
            self.same_instant = 0;
        }
        self.check();
        true
    }

    /// Carries out a workload action; false if it did nothing (its member is down).
    fn act(&mut self, action: Action) -> bool {
        let Some(workload) = self.config.workload else { return false };
        match action {
            Action::Request(index) => {
                let gap = self.wrng.between(Duration::ZERO, workload.vote_interval * 2);
                self.schedule(self.now + gap, Action::Request(index));
                self.request(index)
            }
            Action::Message(index) => {
                let gap = self.wrng.between(Duration::ZERO, workload.message_interval * 2);
                self.schedule(self.now + gap, Action::Message(index));
                self.message(index)
            }
            Action::Cast { index, incarnation, vote, yes } => {
                if self.incarnation[index] != incarnation {
                    return false;
                }
                let now = self.now;
                let Some(core) = self.members[index].as_mut() else { return false };
                match core.cast_vote(now, vote, yes) {
                    Ok(out) => {
                        note!(
                            self,
                            "{now:?} m{index} votes {} in {}",
                            if yes { "yes" } else { "no" },
                            vote_name(&vote)
                        );
                        self.outcome.ballots += 1;
                        let said = self.ledger.ballots.entry(vote).or_default().entry(member_id(index)).or_default();
                        if yes {
                            said.0 = true;
                        } else {
                            said.1 = true;
                        }
                        self.absorb(index, out);
                    }
                    Err(CommandError::AlreadyVoted) => {
                        let detail =
                            format!("m{index} was refused its only ballot in {}: already voted", vote_name(&vote));
                        self.violate(InvariantKind::VoteTwice, detail);
                    }
                    Err(error) => {
                        // The vote ended (or, with its caller gone, was forgotten) before this
                        // member answered.
                        note!(self, "{now:?} m{index} votes in {}: {error}", vote_name(&vote));
                        let key = (index, incarnation, vote);
                        let caller = self.ledger.called.get(&key).copied();
                        let following = self.members[index].as_ref().map(|c| (c.leader(), c.term()));
                        if let (Some((leader, term)), Some((Some(now_following), now_term))) = (caller, following) {
                            if !self.ledger.learned.contains(&key) && leader == now_following && term == now_term {
                                let detail = format!(
                                    "m{index} cannot vote in {} ({error}): it has not learned its end and still \
                                     follows {}, which called it in term {term}",
                                    vote_name(&vote),
                                    short(&leader)
                                );
                                self.violate(InvariantKind::ForgottenCall, detail);
                            }
                        }
                    }
                }
                true
            }
        }
    }

    /// Member `index` asks for a vote, if it is up.
    fn request(&mut self, index: usize) -> bool {
        let now = self.now;
        let group = self.config.group;
        let subject = if self.wrng.chance(0.5) {
            let len = self.wrng.below(5);
            Subject::Value((0..len).map(|_| u8::try_from(self.wrng.below(256)).unwrap_or(0)).collect())
        } else {
            let action = vec![u8::try_from(self.wrng.below(256)).unwrap_or(0)];
            let now_us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
            Subject::Action { action, at_us: now_us.saturating_add(self.wrng.below(10_000_000)) }
        };
        let kind = if self.wrng.chance(0.6) { VoteKind::Majority } else { VoteKind::Consensus };
        let Some(workload) = self.config.workload else { return false };
        let timeout = workload.timeout(&mut self.wrng, &group);
        let Some(core) = self.members[index].as_mut() else { return false };
        match core.request_vote(now, subject.clone(), kind, timeout) {
            Ok((vote, out)) => {
                let timeout = timeout.unwrap_or(group.consensus_timeout);
                note!(
                    self,
                    "{now:?} m{index} asks for {} on {} {kind:?} within {timeout:?}",
                    vote_name(&vote),
                    subject_text(&subject)
                );
                self.outcome.votes_requested += 1;
                let incarnation = self.incarnation[index];
                let request = Request { index, incarnation, asked: now, timeout, subject, end: None };
                if self.ledger.requests.insert(vote, request).is_some() {
                    let detail = format!("m{index} was given the id of an earlier vote, {}", vote_name(&vote));
                    self.violate(InvariantKind::VoteTwice, detail);
                }
                let bound = now + timeout + group.heartbeat + self.config.delay_max;
                self.ledger.open.insert((bound, vote));
                self.absorb(index, out);
            }
            Err(error) => {
                note!(self, "{now:?} m{index} cannot ask for a vote: {error}");
                if error == CommandError::NoLeader {
                    self.outcome.votes_no_leader += 1;
                }
            }
        }
        true
    }

    /// Member `index` sends a message to the leader and, if it leads, one to a random member.
    /// The payloads name the sender (and the leader's term), for invariant 9.
    fn message(&mut self, index: usize) -> bool {
        let n = self.members.len() as u64;
        let to = usize::try_from(self.wrng.below(n)).unwrap_or(0);
        self.ledger.messages += 1;
        let number = self.ledger.messages;
        let now = self.now;
        let Some(core) = self.members[index].as_mut() else { return false };
        let mut out = Vec::new();
        let mut sent = (false, false);
        if let Ok(more) = core.send_to_leader(format!("to:m{index}:{number}").into_bytes()) {
            out.extend(more);
            sent.0 = true;
        }
        if core.role() == Role::Leader {
            let payload = format!("from:m{index}:t{}:{number}", core.term()).into_bytes();
            match core.send_to_member(member_id(to), payload) {
                Ok(more) => {
                    out.extend(more);
                    sent.1 = true;
                }
                Err(error) => note!(self, "{now:?} m{index} cannot send to m{to}: {error}"),
            }
        }
        self.outcome.messages_to_leader_sent += u64::from(sent.0);
        self.outcome.messages_from_leader_sent += u64::from(sent.1);
        self.absorb(index, out);
        true
    }

    /// Invariant 8's bookkeeping and check: a leader's calls and announcements.
    fn watch_broadcast(&mut self, from: usize, message: &GroupMessage) {
        let incarnation = self.incarnation[from];
        match message {
            GroupMessage::CallVote { vote, kind, .. } => {
                let Some(core) = self.members[from].as_ref() else { return };
                // The voters are the members the leader knows as it calls the vote (the
                // call is the last thing the step that opens a poll does to them).
                let voters = core.members();
                let needed = match kind {
                    VoteKind::Majority => self.config.group.quorum(voters.len()),
                    VoteKind::Consensus => voters.len(),
                };
                let snapshot = Snapshot { voters, kind: *kind, needed };
                self.ledger.polls.insert((*vote, from, incarnation), snapshot);
            }
            GroupMessage::Announce { vote, outcome, .. } => {
                let Some(snapshot) = self.ledger.polls.get(&(*vote, from, incarnation)) else {
                    let detail = format!("m{from} announced {} ({outcome:?}), which it never called", vote_name(vote));
                    self.violate(InvariantKind::UnjustifiedOutcome, detail);
                    return;
                };
                let said = self.ledger.ballots.get(vote);
                let count = |pick: fn(&(bool, bool)) -> bool| {
                    snapshot.voters.iter().filter(|v| said.and_then(|s| s.get(*v)).is_some_and(pick)).count()
                };
                let (yes, no, voters) = (count(|s| s.0), count(|s| s.1), snapshot.voters.len());
                let unjustified = match outcome {
                    Outcome::Yes => yes < snapshot.needed,
                    // It fails when the voters not saying no are too few to reach `needed`.
                    Outcome::No => voters.saturating_sub(no) >= snapshot.needed,
                    Outcome::Timeout => false,
                };
                if unjustified {
                    let names: Vec<String> = snapshot.voters.iter().map(short).collect();
                    let detail = format!(
                        "m{from} announced {outcome:?} for {} ({:?}, voters [{}], {} yes needed) but {yes} voters \
                         cast yes and {no} cast no",
                        vote_name(vote),
                        snapshot.kind,
                        names.join(" "),
                        snapshot.needed
                    );
                    self.violate(InvariantKind::UnjustifiedOutcome, detail);
                }
            }
            _ => {}
        }
    }

    /// Invariants 5, 6, 7 and 9 on the events a member gets, and the workload's answers.
    fn watch_event(&mut self, at: usize, event: Event) {
        let incarnation = self.incarnation[at];
        let now = self.now;
        match event {
            Event::VoteCalled { vote, .. } => {
                // Called by the leader whose CallVote is being delivered, or by itself.
                let caller = match self.calling {
                    Some((from, term)) => (member_id(from), term),
                    None => (member_id(at), self.members[at].as_ref().map_or(0, GroupCore::term)),
                };
                if self.ledger.called.insert((at, incarnation, vote), caller).is_some() {
                    self.violate(InvariantKind::VoteTwice, format!("m{at} was called to {} twice", vote_name(&vote)));
                }
                let Some(workload) = self.config.workload else { return };
                if self.wrng.chance(workload.silent) {
                    return;
                }
                let group = self.config.group;
                let memory = group.consensus_timeout * 2 + group.peer_timeout;
                let long = self.ledger.requests.get(&vote).map(|r| r.timeout).filter(|t| *t >= memory);
                let within = match long {
                    Some(timeout) if self.wrng.chance(0.5) => timeout,
                    _ if self.wrng.chance(workload.slow) => workload.answer_slow,
                    _ => workload.answer_quick,
                };
                let delay = self.wrng.between(Duration::ZERO, within);
                let yes = self.wrng.chance(workload.yes);
                self.schedule(now + delay, Action::Cast { index: at, incarnation, vote, yes });
            }
            Event::VoteEnded { vote, subject, outcome } => {
                if !self.ledger.learned.insert((at, incarnation, vote)) {
                    self.violate(
                        InvariantKind::VoteTwice,
                        format!("m{at} learned the end of {} twice (now {outcome:?})", vote_name(&vote)),
                    );
                }
                match self.ledger.ends.get(&vote) {
                    None => {
                        self.ledger.ends.insert(vote, (outcome, subject.clone(), at));
                    }
                    Some((first, first_subject, by)) if *first != outcome || *first_subject != subject => {
                        let detail = format!(
                            "{}: m{by} learned {first:?} on {} but m{at} learned {outcome:?} on {}",
                            vote_name(&vote),
                            subject_text(first_subject),
                            subject_text(&subject)
                        );
                        self.violate(InvariantKind::VoteDisagreement, detail);
                    }
                    Some(_) => {}
                }
                let Some(request) = self.ledger.requests.get(&vote) else {
                    let detail = format!("m{at} learned the end of {}, which nobody asked for", vote_name(&vote));
                    self.violate(InvariantKind::VoteDisagreement, detail);
                    return;
                };
                let requester = request.index == at && request.incarnation == incarnation;
                if request.subject != subject {
                    let detail = format!(
                        "{} was asked on {} but m{at} learned it ended on {}",
                        vote_name(&vote),
                        subject_text(&request.subject),
                        subject_text(&subject)
                    );
                    self.violate(InvariantKind::VoteDisagreement, detail);
                }
                if requester {
                    self.requester_gets(vote, format!("VoteEnded({outcome:?})"));
                    match outcome {
                        Outcome::Yes => self.outcome.votes_yes += 1,
                        Outcome::No => self.outcome.votes_no += 1,
                        Outcome::Timeout => self.outcome.votes_timeout += 1,
                    }
                }
            }
            Event::VoteLost { vote } => {
                let Some(request) = self.ledger.requests.get(&vote) else {
                    let detail = format!("m{at} lost {}, which nobody asked for", vote_name(&vote));
                    self.violate(InvariantKind::StrayVoteLost, detail);
                    return;
                };
                if request.index != at || request.incarnation != incarnation {
                    let detail = format!(
                        "m{at} (incarnation {incarnation}) lost {}, asked by m{} (incarnation {})",
                        vote_name(&vote),
                        request.index,
                        request.incarnation
                    );
                    self.violate(InvariantKind::StrayVoteLost, detail);
                    return;
                }
                let earliest = request.asked + request.timeout + self.config.group.heartbeat;
                if now < earliest {
                    let detail = format!(
                        "m{at} lost {} at {now:?}, before its timeout and a heartbeat ({earliest:?})",
                        vote_name(&vote)
                    );
                    self.violate(InvariantKind::StrayVoteLost, detail);
                }
                self.requester_gets(vote, "VoteLost".to_owned());
                self.outcome.votes_lost += 1;
            }
            Event::MessageToLeader { from, payload } => {
                self.outcome.messages_to_leader += 1;
                let role = self.members[at].as_ref().map(GroupCore::role);
                if role != Some(Role::Leader) {
                    let detail = format!(
                        "m{at} ({role:?}) got MessageToLeader {} from {}",
                        payload_text(&payload),
                        short(&from)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
                if parse_payload(&payload).map(|(sender, _)| member_id(sender)) != Some(from) {
                    let detail = format!(
                        "m{at} got MessageToLeader {} said to be from {}",
                        payload_text(&payload),
                        short(&from)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
            }
            Event::MessageFromLeader { leader, payload } => {
                self.outcome.messages_from_leader += 1;
                let term = self.members[at].as_ref().map_or(0, GroupCore::term);
                let problem = match parse_payload(&payload) {
                    Some((sender, Some(sent_in))) if member_id(sender) != leader => {
                        Some(format!("was sent by m{sender} in term {sent_in}"))
                    }
                    Some((sender, Some(sent_in))) if !self.ledger.led.contains(&(sent_in, sender)) => {
                        Some(format!("was sent in term {sent_in}, which its sender never led"))
                    }
                    Some((_, Some(sent_in))) if sent_in != term => {
                        Some(format!("was sent by the leader of term {sent_in}, but m{at} is in term {term}"))
                    }
                    Some((_, Some(_))) => None,
                    _ => Some("is not a leader's".to_owned()),
                };
                if let Some(problem) = problem {
                    let detail = format!(
                        "m{at} got MessageFromLeader {} from {}, which {problem}",
                        payload_text(&payload),
                        short(&leader)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
            }
            Event::MemberJoined(_) | Event::MemberLeft(_) | Event::LeaderElected(_) | Event::LeaderExited(_) => {}
        }
    }

    /// The requester of `vote` got `what` (its end or its loss): at most once (invariant 6).
    fn requester_gets(&mut self, vote: VoteId, what: String) {
        let Some(request) = self.ledger.requests.get_mut(&vote) else { return };
        let bound = request.asked + request.timeout + self.config.group.heartbeat + self.config.delay_max;
        match request.end.replace(what.clone()) {
            None => {
                self.ledger.open.remove(&(bound, vote));
            }
            Some(before) => {
                let detail = format!("m{} got {before} then {what} for {}", request.index, vote_name(&vote));
                self.violate(InvariantKind::VoteTwice, detail);
            }
        }
    }

    /// Invariant 7: no request of a requester that is up is past its bound without an end.
    fn check_requests(&mut self) {
        let Some(&(bound, vote)) = self.ledger.open.first() else { return };
        if self.now <= bound {
            return;
        }
        self.ledger.open.remove(&(bound, vote));
        let detail = match self.ledger.requests.get(&vote) {
            Some(r) => format!(
                "m{} asked for {} at {:?} with timeout {:?} and got neither VoteEnded nor VoteLost by {bound:?}",
                r.index,
                vote_name(&vote),
                r.asked,
                r.timeout
            ),
            None => format!("{} is open but was never asked for", vote_name(&vote)),
        };
        self.violate(InvariantKind::VoteNeverEnded, detail);
    }

    fn violate(&mut self, kind: InvariantKind, detail: String) {
        if self.outcome.violations.len() < 8 {
            self.outcome.violations.push(Violation { at: self.now, kind, detail });
        }
    }

    fn check(&mut self) {
        let strict = self.config.strict_safety || self.config.group.expected_size.is_some();
        // 1. One leader per term: never two at once; and, for terms no crashed member had
        //    reached (see `amnesia_terms`), never two ever.
        let mut fresh: Vec<(Term, MemberId)> = Vec::new();
        let mut concurrent = None;
        for (index, core) in self.members.iter().enumerate() {
            let Some(core) = core else { continue };
            if core.role() == Role::Leader {
                self.ledger.led.insert((core.term(), index));
                if let Some((_, other)) = fresh.iter().find(|(term, _)| *term == core.term()) {
                    concurrent = Some(format!(
                        "term {}: {} and {} lead at the same time",
                        core.term(),
                        short(other),
                        short(&core.id())
                    ));
                }
                fresh.push((core.term(), core.id()));
            }
        }
        if let Some(detail) = concurrent {
            if strict {
                self.violate(InvariantKind::TwoLeadersInTerm, detail);
            }
        }
        for (term, id) in fresh {
            match self.leaders.get(&term) {
                None => {
                    self.leaders.insert(term, id);
                    self.outcome.elections += 1;
                }
                Some(first) if *first != id => {
                    let first = *first;
                    self.leaders.insert(term, id);
                    self.outcome.elections += 1;
                    if !strict {
                        if self.split_terms.insert(term) {
                            self.outcome.split_brain_terms += 1;
                        }
                    } else if term <= self.max_crashed_term {
                        if self.amnesia.insert(term) {
                            self.outcome.amnesia_terms += 1;
                        }
                    } else {
                        let detail = format!("term {term}: {} and {} both led", short(&first), short(&id));
                        self.violate(InvariantKind::TwoLeadersInTerm, detail);
                    }
                }
                Some(_) => {}
            }
        }
        // 2. Agreement within a term.
        if strict {
            let mut followed: BTreeMap<Term, (usize, MemberId)> = BTreeMap::new();
            let mut broken = None;
            for (i, core) in self.members.iter().enumerate() {
                let Some(core) = core else { continue };
                let Some(leader) = core.leader() else { continue };
                match followed.get(&core.term()) {
                    None => {
                        followed.insert(core.term(), (i, leader));
                    }
                    Some(&(j, other)) if other != leader => {
                        broken = Some(format!(
                            "term {}: m{j} follows {} but m{i} follows {}",
                            core.term(),
                            short(&other),
                            short(&leader)
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let Some(detail) = broken {
                self.violate(InvariantKind::Disagreement, detail);
            }
        }
        // 3. One agreed leader after healing.
        if self.phase == Phase::Calm {
            let agreed = self.agreed_leader();
            if agreed.is_some() && self.agreed_since_heal.is_none() {
                self.agreed_since_heal = Some(self.now - self.heal_at);
            }
            if agreed.is_none() && self.now > self.heal_at + self.config.heal_bound {
                let detail =
                    format!("no single agreed leader {:?} after healing: {}", self.config.heal_bound, self.roles());
                self.violate(InvariantKind::NoLeaderAfterHeal, detail);
            }
        }
        // 4. No leader on a side short of the declared size's quorum, past the bound.
        if let (Some(split), Some(size)) = (self.split_at, self.config.group.expected_size) {
            if self.now > split + self.config.group.peer_timeout {
                let quorum = self.config.group.quorum(size);
                let mut found = Vec::new();
                for (i, core) in self.members.iter().enumerate() {
                    let Some(core) = core else { continue };
                    let side_size = self.side.iter().filter(|s| **s == self.side[i]).count();
                    if core.role() == Role::Leader && side_size < quorum {
                        let detail = format!(
                            "m{i} leads term {} on a side of {side_size} (quorum {quorum}), split at {split:?}",
                            core.term()
                        );
                        found.push(detail);
                    }
                }
                for detail in found {
                    self.violate(InvariantKind::MinorityLeader, detail);
                }
            }
        }
        // 7. Every request ends in time (5, 6, 8 and 9 are checked as the events happen).
        self.check_requests();
        // Hooks.
        let mut extra = Vec::new();
        let views: Vec<MemberView<'_>> = self
            .members
            .iter()
            .enumerate()
            .map(|(index, core)| MemberView { index, core: core.as_ref(), side: self.side[index] })
            .collect();
        self.observer.after_step(self.now, &views, &mut extra);
        for detail in extra {
            self.violate(InvariantKind::Observer, detail);
        }
    }

    /// The leader every live member is in the term of and follows, if exactly one leads.
    fn agreed_leader(&self) -> Option<MemberId> {
        let live: Vec<&GroupCore> = self.members.iter().flatten().collect();
        let mut leaders = live.iter().filter(|c| c.role() == Role::Leader);
        let leader = leaders.next()?;
        if leaders.next().is_some() {
            return None;
        }
        live.iter().all(|c| c.term() == leader.term() && c.leader() == Some(leader.id())).then_some(leader.id())
    }

    fn roles(&self) -> String {
        let parts: Vec<String> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                None => format!("m{i}: down"),
                Some(c) => format!(
                    "m{i}: {:?} term {} leader {}",
                    c.role(),
                    c.term(),
                    c.leader().map_or_else(|| "-".to_owned(), |l| short(&l))
                ),
            })
            .collect();
        parts.join(", ")
    }

    fn run_until(&mut self, until: Duration) {
        while self.outcome.violations.is_empty() && self.step(until) {}
        self.now = self.now.max(until);
    }

    fn heal_partition(&mut self) {
        if self.split_at.take().is_some() {
            self.side.fill(0);
            note!(self, "{:?} partition heals", self.now);
        }
    }

    fn fault(&mut self) {
        let n = self.members.len();
        let down: Vec<usize> = (0..n).filter(|&i| self.members[i].is_none()).collect();
        let up: Vec<usize> = (0..n).filter(|&i| self.members[i].is_some()).collect();
        match self.rng.below(4) {
            0 if self.config.crashes && up.len() > 1 => {
                let victim = up[usize::try_from(self.rng.below(up.len() as u64)).unwrap_or(0)];
                self.crash(victim);
            }
            1 if self.config.crashes && !down.is_empty() => {
                let back = down[usize::try_from(self.rng.below(down.len() as u64)).unwrap_or(0)];
                self.start(back);
            }
            2 if self.config.partitions && self.split_at.is_none() && n > 1 => {
                loop {
                    for s in &mut self.side {
                        *s = u8::from(self.rng.chance(0.5));
                    }
                    let ones = self.side.iter().filter(|s| **s == 1).count();
                    if ones > 0 && ones < n {
                        break;
                    }
                }
                self.split_at = Some(self.now);
                self.outcome.partitions += 1;
                let side = self.side.clone();
                note!(self, "{:?} partition {side:?}", self.now);
            }
            3 if self.split_at.is_some() => self.heal_partition(),
            _ => {}
        }
    }
}

/// Runs one simulation with `seed`. It keeps no trace (formatting one costs more than the
/// simulation); when an invariant breaks, it runs the seed again, which replays it exactly,
/// keeping the trace this time.
pub fn run(seed: u64, config: &SimConfig) -> SimOutcome {
    let outcome = simulate(seed, config, &mut NoObserver, false);
    if outcome.violations.is_empty() {
        outcome
    } else {
        simulate(seed, config, &mut NoObserver, true)
    }
}

/// Runs one simulation with `seed`, with `observer` plugged in (keeping the trace, since an
/// observer's findings may not replay).
pub fn run_with(seed: u64, config: &SimConfig, observer: &mut dyn Observer) -> SimOutcome {
    simulate(seed, config, observer, true)
}

fn simulate(seed: u64, config: &SimConfig, observer: &mut dyn Observer, tracing: bool) -> SimOutcome {
    let mut world = World {
        config: config.clone(),
        rng: SimRng::new(seed),
        now: Duration::ZERO,
        members: vec![None; config.members],
        side: vec![0; config.members],
        split_at: None,
        queue: BTreeMap::new(),
        seq: 0,
        loss: 0.0,
        phase: Phase::Calm,
        heal_at: Duration::ZERO,
        agreed_since_heal: None,
        leaders: BTreeMap::new(),
        split_terms: BTreeSet::new(),
        max_crashed_term: 0,
        last_step_at: Duration::ZERO,
        same_instant: 0,
        amnesia: BTreeSet::new(),
        incarnation: vec![0; config.members],
        calling: None,
        deadlines: vec![None; config.members],
        actions: BTreeMap::new(),
        wrng: SimRng::new(seed ^ 0x5EED_0FA1_1B0A_7000),
        ledger: Ledger::default(),
        outcome: SimOutcome { seed, ..SimOutcome::default() },
        tracing,
        trace: VecDeque::new(),
        observer,
    };
    let chaos_loss = world.rng.unit() * config.max_loss;
    // Members join at random moments within the first heartbeat.
    let mut joins: Vec<(Duration, usize)> =
        (0..config.members).map(|i| (world.rng.between(Duration::ZERO, config.group.heartbeat), i)).collect();
    joins.sort();
    if let Some(workload) = config.workload {
        for i in 0..config.members {
            let first = world.wrng.between(Duration::ZERO, workload.vote_interval * 2);
            world.schedule(first, Action::Request(i));
            let first = world.wrng.between(Duration::ZERO, workload.message_interval * 2);
            world.schedule(first, Action::Message(i));
        }
    }
    world.phase = Phase::Chaos;
    for (at, i) in joins {
        world.run_until(at);
        world.start(i);
    }
    for _ in 0..config.rounds {
        // Chaos.
        world.phase = Phase::Chaos;
        world.loss = chaos_loss;
        let end = world.now + world.rng.between(config.chaos_min, config.chaos_max);
        loop {
            let gap = world.rng.between(Duration::ZERO, config.fault_interval * 2);
            let at = world.now + gap;
            if at >= end || !world.outcome.violations.is_empty() {
                break;
            }
            world.run_until(at);
            world.fault();
        }
        world.run_until(end);
        // Heal: partition gone, everyone back, no loss.
        world.heal_partition();
        for i in 0..config.members {
            if world.members[i].is_none() {
                world.start(i);
            }
        }
        world.loss = 0.0;
        world.phase = Phase::Calm;
        world.heal_at = world.now;
        world.agreed_since_heal = world.agreed_leader().map(|_| Duration::ZERO);
        note!(world, "{:?} healed", world.now);
        let calm_end = world.now + config.calm.max(config.heal_bound);
        world.run_until(calm_end);
        world.outcome.heals += 1;
        let took = world.agreed_since_heal;
        world.outcome.time_to_leader.push(took);
        if !world.outcome.violations.is_empty() {
            break;
        }
    }
    if world.outcome.violations.is_empty() {
        // Requests past their bound at the end of the run, then the rest are unfinished.
        world.check_requests();
        world.outcome.votes_unfinished += world.ledger.open.len() as u64;
    }
    let mut outcome = world.outcome;
    if !outcome.violations.is_empty() {
        outcome.trace = world.trace.into();
    }
    outcome
}
