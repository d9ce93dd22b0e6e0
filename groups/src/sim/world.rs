//! The simulated world: the members, the network and the clock; stepping, delivery and faults.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::config::SimConfig;
use super::outcome::{InvariantKind, Observer, SimOutcome, Violation};
use super::rng::{member_id, SimRng};
use super::trace::{event_text, message_text, note, short};
use super::votes::Ledger;
use super::workload::Action;
use crate::core::{GroupCore, Output, Role};
use crate::wire::{GroupMessage, MemberId, Term, VoteId};

#[derive(Debug, Clone)]
struct InFlight {
    from: usize,
    to: usize,
    message: GroupMessage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Chaos,
    Calm,
}

pub(super) struct World<'o> {
    pub(super) config: SimConfig,
    pub(super) rng: SimRng,
    pub(super) now: Duration,
    pub(super) members: Vec<Option<GroupCore>>,
    pub(super) side: Vec<u8>,
    /// Links cut between two members (lower index first), in both directions: an asymmetric
    /// view of the network, where each of two members hears a third that cannot hear the other.
    cuts: BTreeSet<(usize, usize)>,
    pub(super) split_at: Option<Duration>,
    queue: BTreeMap<(Duration, u64), InFlight>,
    seq: u64,
    pub(super) loss: f64,
    pub(super) phase: Phase,
    pub(super) heal_at: Duration,
    pub(super) agreed_since_heal: Option<Duration>,
    pub(super) leaders: BTreeMap<Term, MemberId>,
    pub(super) split_terms: BTreeSet<Term>,
    pub(super) max_crashed_term: Term,
    last_step_at: Duration,
    same_instant: u64,
    pub(super) amnesia: BTreeSet<Term>,
    /// How many times each member started.
    pub(super) incarnation: Vec<u64>,
    /// While a delivered `CallVote`'s outputs are absorbed: its sender and term.
    pub(super) calling: Option<(usize, Term)>,
    /// Each live member's [`GroupCore::next_deadline`] in true time, refreshed whenever its
    /// core is used (every use ends in [`World::absorb`]).
    deadlines: Vec<Option<Duration>>,
    /// Each member's clock: the true time it (last) started, and its rate.
    clocks: Vec<(Duration, f64)>,
    /// Until when each member is paused (in the past: when its last pause ended).
    pub(super) paused_until: Vec<Duration>,
    /// The messages each paused member gets when it resumes, in order.
    held: Vec<Vec<InFlight>>,
    /// The workload's actions, by when and order of scheduling.
    actions: BTreeMap<(Duration, u64), Action>,
    /// The workload's random numbers (apart from the network's and the faults').
    pub(super) wrng: SimRng,
    pub(super) ledger: Ledger,
    pub(super) outcome: SimOutcome,
    /// Whether to keep the trace (see [`run`](super::run)).
    pub(super) tracing: bool,
    pub(super) trace: VecDeque<String>,
    pub(super) observer: &'o mut dyn Observer,
}

impl<'o> World<'o> {
    /// The world of a run with `seed`, at time zero with no member started.
    pub(super) fn new(seed: u64, config: &SimConfig, observer: &'o mut dyn Observer, tracing: bool) -> World<'o> {
        World {
            config: config.clone(),
            rng: SimRng::new(seed),
            now: Duration::ZERO,
            members: vec![None; config.members],
            side: vec![0; config.members],
            cuts: BTreeSet::new(),
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
            clocks: vec![(Duration::ZERO, 1.0); config.members],
            paused_until: vec![Duration::ZERO; config.members],
            held: vec![Vec::new(); config.members],
            actions: BTreeMap::new(),
            wrng: SimRng::new(seed ^ 0x5EED_0FA1_1B0A_7000),
            ledger: Ledger::default(),
            outcome: SimOutcome { seed, ..SimOutcome::default() },
            tracing,
            trace: VecDeque::new(),
            observer,
        }
    }
}

impl World<'_> {
    /// Member `index`'s clock now: it started at the true time it started, and runs at its rate.
    pub(super) fn local(&self, index: usize) -> Duration {
        let (born, rate) = self.clocks[index];
        born + self.now.saturating_sub(born).mul_f64(rate)
    }

    /// The true time at which member `index`'s clock reads `local` (or a microsecond after, so
    /// that it has surely passed `local` then).
    fn true_time(&self, index: usize, local: Duration) -> Duration {
        let (born, rate) = self.clocks[index];
        born + local.saturating_sub(born).div_f64(rate) + Duration::from_micros(1)
    }

    pub(super) fn start(&mut self, index: usize) {
        let drift = self.config.clock_drift;
        let rate = 1.0 - drift + 2.0 * drift * self.rng.unit();
        self.clocks[index] = (self.now, rate);
        self.paused_until[index] = Duration::ZERO;
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
        self.paused_until[index] = Duration::ZERO;
        self.held[index].clear();
        // Its requests are nobody's business any more (invariant 7 is about requesters that
        // stay up).
        for orphan in self.open_requests_of(index) {
            self.ledger.open.remove(&orphan);
            self.outcome.votes_unfinished += 1;
        }
        self.outcome.crashes += 1;
        self.observer.on_lifecycle(self.now, index, false);
        note!(self, "{:?} m{index} crashes", self.now);
    }

    /// The open requests (bound, vote) that member `index`, in its current incarnation, asked
    /// for.
    fn open_requests_of(&self, index: usize) -> Vec<(Duration, VoteId)> {
        let incarnation = self.incarnation[index];
        let ledger = &self.ledger;
        ledger
            .open
            .iter()
            .filter(|(_, vote)| {
                ledger.requests.get(vote).is_some_and(|r| r.index == index && r.incarnation == incarnation)
            })
            .copied()
            .collect()
    }

    fn send(&mut self, from: usize, to: usize, message: GroupMessage) {
        let delay = self.rng.between(self.config.delay_min, self.config.delay_max);
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), InFlight { from, to, message });
    }

    pub(super) fn schedule(&mut self, at: Duration, action: Action) {
        self.seq += 1;
        self.actions.insert((at, self.seq), action);
    }

    pub(super) fn absorb(&mut self, from: usize, out: Vec<Output>) {
        let deadline = self.members[from].as_ref().map(GroupCore::next_deadline);
        self.deadlines[from] = deadline.map(|d| self.true_time(from, d));
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
        let next_tick = self
            .deadlines
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.map(|d| (d.max(self.now).max(self.paused_until[i]), i)))
            .min();
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
                let link = (flight.from.min(flight.to), flight.from.max(flight.to));
                if self.side[flight.from] != self.side[flight.to] || self.cuts.contains(&link) {
                    return true;
                }
                if self.paused_until[flight.to] > at {
                    // It hears this when it resumes.
                    self.held[flight.to].push(flight);
                    return true;
                }
                let from = member_id(flight.from);
                let now = self.local(flight.to);
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
                let resume = self.paused_until[action.member()];
                if resume > at {
                    // A paused member's application does nothing until it resumes.
                    self.schedule(resume, action);
                    return true;
                }
                if !self.act(action) {
                    return true;
                }
            }
            _ => {
                let Some((_, index)) = next_tick else { return false };
                self.now = at;
                if self.paused_until[index] == at && !self.held[index].is_empty() {
                    // Resuming: first what came meanwhile (delivered before ticks at one instant).
                    self.release(index);
                    return true;
                }
                let now = self.local(index);
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

    pub(super) fn violate(&mut self, kind: InvariantKind, detail: String) {
        if self.outcome.violations.len() < 8 {
            self.outcome.violations.push(Violation { at: self.now, kind, detail });
        }
    }

    pub(super) fn run_until(&mut self, until: Duration) {
        while self.outcome.violations.is_empty() && self.step(until) {}
        self.now = self.now.max(until);
    }

    /// Ends every pause (at a heal).
    pub(super) fn resume_all(&mut self) {
        let now = self.now;
        for i in 0..self.members.len() {
            if self.paused_until[i] > now {
                self.paused_until[i] = now;
            }
            self.release(i);
        }
    }

    /// Delivers the messages a paused member got meanwhile, now, in order.
    fn release(&mut self, index: usize) {
        for flight in std::mem::take(&mut self.held[index]) {
            self.seq += 1;
            self.queue.insert((self.now, self.seq), flight);
        }
    }

    /// Pauses member `index` for `length`: requests it asked for get that much longer to end.
    fn pause(&mut self, index: usize, length: Duration) {
        self.paused_until[index] = self.now + length;
        self.outcome.pauses += 1;
        for (bound, vote) in self.open_requests_of(index) {
            self.ledger.open.remove(&(bound, vote));
            self.ledger.open.insert((bound + length, vote));
        }
        note!(self, "{:?} m{index} pauses for {length:?}", self.now);
    }

    pub(super) fn heal_partition(&mut self) {
        if !self.cuts.is_empty() {
            self.cuts.clear();
            note!(self, "{:?} cut links heal", self.now);
        }
        if self.split_at.take().is_some() {
            self.side.fill(0);
            note!(self, "{:?} partition heals", self.now);
        }
    }

    pub(super) fn fault(&mut self) {
        let n = self.members.len();
        let down: Vec<usize> = (0..n).filter(|&i| self.members[i].is_none()).collect();
        let up: Vec<usize> = (0..n).filter(|&i| self.members[i].is_some()).collect();
        match self.rng.below(6) {
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
            5 if self.config.partitions && n > 2 => {
                let a = usize::try_from(self.rng.below(n as u64)).unwrap_or(0);
                let b = (a + 1 + usize::try_from(self.rng.below(n as u64 - 1)).unwrap_or(0)) % n;
                self.cuts.insert((a.min(b), a.max(b)));
                note!(self, "{:?} link m{a}–m{b} cut", self.now);
            }
            4 if self.config.pauses && !up.is_empty() => {
                // Half the time the leader (if there is one): pausing it tests leases hardest.
                let leader =
                    up.iter().copied().find(|&i| self.members[i].as_ref().is_some_and(|c| c.role() == Role::Leader));
                let victim = match leader {
                    Some(leader) if self.rng.chance(0.5) => leader,
                    _ => up[usize::try_from(self.rng.below(up.len() as u64)).unwrap_or(0)],
                };
                if self.paused_until[victim] <= self.now {
                    let length = self.rng.between(self.config.group.heartbeat, self.config.pause_max);
                    self.pause(victim, length);
                }
            }
            _ => {}
        }
    }
}
