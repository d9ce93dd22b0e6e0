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
//!   are delivered before ticks, in send order; ticks at the same instant go by member index.
//!
//! Invariants, checked after every step (a delivery or a tick):
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
//! Hooks for what comes next (member ↔ leader messaging, voting): an [`Observer`] sees every
//! output of every member and the state after every step, and can report its own violations.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use crate::config::GroupConfig;
use crate::core::{Event, GroupCore, Output, Role};
use crate::wire::{GroupMessage, MemberId, Term};

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
}

impl SimConfig {
    /// `members` members with `group`'s configuration, a network whose delays are 0.5–20 ms
    /// scaled to the heartbeat (as with a 1 s heartbeat), up to 20 % loss, 5 % duplication,
    /// crashes and partitions, 3 rounds.
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
        }
    }

    /// A short description that, with the seed, identifies a run.
    pub fn describe(&self) -> String {
        format!(
            "members={} expected_size={} heartbeat={:?}",
            self.members,
            self.group.expected_size.map_or_else(|| "none".to_owned(), |n| n.to_string()),
            self.group.heartbeat
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

/// Extra checks plugged into a run (for the voting layer to come): sees every output and the
/// state after every step, and reports violations of its own.
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
    outcome: SimOutcome,
    trace: Vec<String>,
    observer: &'o mut dyn Observer,
}

const TRACE_LEN: usize = 200;

fn short(id: &MemberId) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&id[8..]);
    format!("m{}", u64::from_be_bytes(bytes).wrapping_sub(1))
}

impl World<'_> {
    fn note(&mut self, line: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.remove(0);
        }
        self.trace.push(line);
    }

    fn start(&mut self, index: usize) {
        let seed = self.rng.next_u64();
        let (core, out) =
            GroupCore::new(member_id(index), self.config.group, &format!("sim://m{index}"), seed, self.now);
        self.members[index] = Some(core);
        self.observer.on_lifecycle(self.now, index, true);
        self.note(format!("{:?} m{index} starts", self.now));
        self.absorb(index, out);
    }

    fn crash(&mut self, index: usize) {
        if let Some(core) = self.members[index].take() {
            self.max_crashed_term = self.max_crashed_term.max(core.term());
        }
        self.outcome.crashes += 1;
        self.observer.on_lifecycle(self.now, index, false);
        self.note(format!("{:?} m{index} crashes", self.now));
    }

    fn send(&mut self, from: usize, to: usize, message: GroupMessage) {
        let delay = self.rng.between(self.config.delay_min, self.config.delay_max);
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), InFlight { from, to, message });
    }

    fn absorb(&mut self, from: usize, out: Vec<Output>) {
        for output in out {
            self.observer.on_output(self.now, from, &output);
            match output {
                Output::Broadcast(message) => {
                    self.note(format!("{:?} m{from} sends {message:?}", self.now));
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
                    self.note(format!("{:?} m{from} sends {message:?} to {}", self.now, short(&to)));
                    let Some(to) = (0..self.members.len()).find(|i| member_id(*i) == to) else { continue };
                    if !self.rng.chance(self.loss) {
                        self.send(from, to, message.clone());
                        if self.rng.chance(self.config.duplicate) {
                            self.send(from, to, message);
                        }
                    }
                }
                Output::Event(event) => {
                    let what = match &event {
                        Event::MemberJoined(id) => format!("MemberJoined({})", short(id)),
                        Event::MemberLeft(id) => format!("MemberLeft({})", short(id)),
                        Event::LeaderElected(id) => format!("LeaderElected({})", short(id)),
                        Event::LeaderExited(id) => format!("LeaderExited({})", short(id)),
                        other => format!("{other:?}"),
                    };
                    self.note(format!("{:?} m{from} event {what}", self.now));
                }
            }
        }
    }

    /// Runs the next step if it is due by `until`; false when there is none.
    fn step(&mut self, until: Duration) -> bool {
        let next_message = self.queue.keys().next().map(|k| k.0);
        let next_tick = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_ref().map(|c| (c.next_deadline().max(self.now), i)))
            .min();
        let deliver = match (next_message, next_tick) {
            (Some(m), Some((t, _))) => m <= t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return false,
        };
        if deliver {
            let Some((&(at, seq), _)) = self.queue.iter().next() else { return false };
            if at > until {
                return false;
            }
            let Some(flight) = self.queue.remove(&(at, seq)) else { return false };
            self.now = at;
            if self.side[flight.from] != self.side[flight.to] {
                return true;
            }
            let from = member_id(flight.from);
            let now = self.now;
            let Some(core) = self.members[flight.to].as_mut() else { return true };
            let out = core.handle(now, from, flight.message.clone());
            self.note(format!("{now:?} m{} gets {:?} from m{}", flight.to, flight.message, flight.from));
            self.absorb(flight.to, out);
        } else {
            let Some((at, index)) = next_tick else { return false };
            if at > until {
                return false;
            }
            self.now = at;
            let now = self.now;
            let Some(core) = self.members[index].as_mut() else { return true };
            let out = core.tick(now);
            self.absorb(index, out);
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

    fn violate(&mut self, kind: InvariantKind, detail: String) {
        if self.outcome.violations.len() < 8 {
            self.outcome.violations.push(Violation { at: self.now, kind, detail });
        }
    }

    fn check(&mut self) {
        let strict = self.config.strict_safety || self.config.group.expected_size.is_some();
        // 1. One leader per term: never two at once; and, for terms no crashed member had
        //    reached (see `amnesia_terms`), never two ever.
        let mut fresh = Vec::new();
        let mut at_once: BTreeMap<Term, MemberId> = BTreeMap::new();
        let mut concurrent = None;
        for core in self.members.iter().flatten() {
            if core.role() == Role::Leader {
                fresh.push((core.term(), core.id()));
                if let Some(other) = at_once.insert(core.term(), core.id()) {
                    concurrent = Some(format!(
                        "term {}: {} and {} lead at the same time",
                        core.term(),
                        short(&other),
                        short(&core.id())
                    ));
                }
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
            self.note(format!("{:?} partition heals", self.now));
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
                self.note(format!("{:?} partition {side:?}", self.now));
            }
            3 if self.split_at.is_some() => self.heal_partition(),
            _ => {}
        }
    }
}

/// Runs one simulation with `seed`.
pub fn run(seed: u64, config: &SimConfig) -> SimOutcome {
    run_with(seed, config, &mut NoObserver)
}

/// Runs one simulation with `seed`, with `observer` plugged in.
pub fn run_with(seed: u64, config: &SimConfig, observer: &mut dyn Observer) -> SimOutcome {
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
        outcome: SimOutcome { seed, ..SimOutcome::default() },
        trace: Vec::new(),
        observer,
    };
    let chaos_loss = world.rng.unit() * config.max_loss;
    // Members join at random moments within the first heartbeat.
    let mut joins: Vec<(Duration, usize)> =
        (0..config.members).map(|i| (world.rng.between(Duration::ZERO, config.group.heartbeat), i)).collect();
    joins.sort();
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
        world.note(format!("{:?} healed", world.now));
        let calm_end = world.now + config.calm.max(config.heal_bound);
        world.run_until(calm_end);
        world.outcome.heals += 1;
        let took = world.agreed_since_heal;
        world.outcome.time_to_leader.push(took);
        if !world.outcome.violations.is_empty() {
            break;
        }
    }
    let mut outcome = world.outcome;
    if !outcome.violations.is_empty() {
        outcome.trace = world.trace;
    }
    outcome
}
