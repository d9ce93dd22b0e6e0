//! The simulated world: the members, the network and the clock; stepping, delivery and faults.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::config::SimConfig;
use super::outcome::{InvariantKind, Observer, SimOutcome, Violation};
use super::rng::{member_id, SimRng};
use super::trace::{event_text, message_text, note, short};
use super::votes::Ledger;
use super::workload::Action;
use crate::core::{GroupCore, Output};
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
    /// Each live member's [`GroupCore::next_deadline`], refreshed whenever its core is used
    /// (every use ends in [`World::absorb`]).
    deadlines: Vec<Option<Duration>>,
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
        }
    }
}

impl World<'_> {
    pub(super) fn start(&mut self, index: usize) {
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

    pub(super) fn schedule(&mut self, at: Duration, action: Action) {
        self.seq += 1;
        self.actions.insert((at, self.seq), action);
    }

    pub(super) fn absorb(&mut self, from: usize, out: Vec<Output>) {
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

    pub(super) fn violate(&mut self, kind: InvariantKind, detail: String) {
        if self.outcome.violations.len() < 8 {
            self.outcome.violations.push(Violation { at: self.now, kind, detail });
        }
    }

    pub(super) fn run_until(&mut self, until: Duration) {
        while self.outcome.violations.is_empty() && self.step(until) {}
        self.now = self.now.max(until);
    }

    pub(super) fn heal_partition(&mut self) {
        if self.split_at.take().is_some() {
            self.side.fill(0);
            note!(self, "{:?} partition heals", self.now);
        }
    }

    pub(super) fn fault(&mut self) {
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
