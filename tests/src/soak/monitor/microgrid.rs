//! The microgrid's invariants: one leader per term, and the units' views of it; every unit
//! learns the same vote result; every unit carries out the same action, once, within 50 ms of
//! the others; and the leader's `feeder balanced`, which shows it hears from all five units.

use std::collections::BTreeSet;

use super::faults::FaultKind;
use super::{App, Monitor, Record};

/// The microgrid's units.
pub(super) const UNITS: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];

/// The agreed action is carried out on every unit within this of each other (µs).
pub(super) const TOGETHER_US: u64 = 50_000;
/// A unit that carries an action out late is excused when the soak had stopped it at the agreed
/// time and continued it at most this long before (µs): it carries the action out on SIGCONT.
const STOPPED_LATE_US: u64 = 1_000_000;

/// A unit's latest `group view`.
#[derive(Debug, Clone)]
pub(super) struct View {
    /// The unit's member id.
    pub(super) me: String,
    /// The leader it names (`none` when it knows none).
    pub(super) leader: String,
    /// The term of its view.
    pub(super) term: u64,
    /// When it was logged (µs).
    pub(super) at_us: u64,
    /// The record.
    pub(super) raw: String,
}

/// The first announcement of a vote's result seen.
#[derive(Debug, Clone)]
pub(super) struct VoteSeen {
    /// The result (`Yes`, `No`, `Timeout`).
    pub(super) outcome: String,
    /// The vote's stage.
    pub(super) stage: String,
    /// The setpoint voted on (kW).
    pub(super) setpoint: Option<f64>,
    /// The unit that announced it first.
    pub(super) actor: String,
    /// Its record.
    pub(super) raw: String,
    /// When it was first seen (µs).
    pub(super) at_us: u64,
}

/// One unit's `action carried out`.
#[derive(Debug, Clone)]
pub(super) struct Carried {
    /// The unit.
    pub(super) actor: String,
    /// Which of the actor's processes (restarts count up).
    pub(super) generation: u64,
    /// When it carried the action out (its wall clock, µs).
    pub(super) now_us: u64,
    /// The setpoint it switched to (kW).
    pub(super) setpoint: Option<f64>,
    /// Its record.
    pub(super) raw: String,
    /// Whether it was judged as late already.
    pub(super) judged: bool,
}

/// The units that carried out one action.
#[derive(Debug, Clone, Default)]
pub(super) struct ActionSeen {
    /// Each unit's record of it, in the order read.
    pub(super) by: Vec<Carried>,
    /// Whether different setpoints were reported already.
    pub(super) flagged: bool,
    /// When it was first seen (µs).
    pub(super) at_us: u64,
}

/// An election: a leader named for a term for the first time.
#[derive(Debug, Clone)]
pub(super) struct Election {
    /// The term.
    pub(super) term: u64,
    /// The leader's member id.
    pub(super) leader: String,
    /// The leader's actor, when known at the time.
    pub(super) actor: Option<String>,
    /// When it was first named (µs).
    pub(super) at_us: u64,
}

impl Monitor {
    /// A unit's `group view`: its current view (unless its process was killed), and the leader
    /// it names for the term.
    pub(super) fn group_view(&mut self, at: u64, actor: &str, r: &Record, raw: &str) {
        let (Some(me), Some(leader), Some(term)) = (r.str("me"), r.str("leader"), r.u64("term")) else {
            return;
        };
        if self.dead_members.contains(me) {
            return; // written by a process the soak killed, read after the kill
        }
        self.member_actor.insert(me.to_owned(), actor.to_owned());
        let view = View { me: me.to_owned(), leader: leader.to_owned(), term, at_us: at, raw: raw.to_owned() };
        self.views.insert(actor.to_owned(), view);
        if leader != "none" {
            self.leader_named(at, term, leader, raw);
        }
        self.check_recoveries(self.read_us);
    }

    /// A member's `leader elected`: the leader it names for the term.
    pub(super) fn leader_elected(&mut self, at: u64, _actor: &str, r: &Record, raw: &str) {
        let (Some(member), Some(leader), Some(term)) = (r.str("member"), r.str("leader"), r.u64("term")) else {
            return;
        };
        if !self.dead_members.contains(member) {
            self.leader_named(at, term, leader, raw);
        }
    }

    /// Some member names `leader` for `term`: at most one leader per term, ever (the Raft
    /// safety property); a second is a violation, marked simultaneous when a unit's current view
    /// still names the first in that term.
    pub(super) fn leader_named(&mut self, at: u64, term: u64, leader: &str, raw: &str) {
        match self.term_leader.get(&term) {
            None => {
                self.term_leader.insert(term, (leader.to_owned(), raw.to_owned()));
                let actor = self.member_actor.get(leader).cloned();
                self.elections.push(Election { term, leader: leader.to_owned(), actor, at_us: at });
            }
            Some((first, first_raw)) if first != leader && !self.split_terms.contains(&term) => {
                let simultaneous = self.views.values().any(|v| v.term == term && &v.leader == first);
                let (first, first_raw) = (first.clone(), first_raw.clone());
                self.split_terms.insert(term);
                self.violate(
                    at,
                    "one leader per term",
                    format!(
                        "term {term} has two leaders, {first} and {leader}{}",
                        if simultaneous { ", named by units at the same time" } else { "" }
                    ),
                    vec![first_raw, raw.to_owned()],
                );
            }
            Some(_) => {}
        }
    }

    /// A unit's `vote result`: every unit must learn the same result as the first that
    /// announced it.
    pub(super) fn vote_result(&mut self, at: u64, actor: &str, r: &Record, raw: &str) {
        let (Some(vote), Some(outcome)) = (r.str("vote"), r.str("outcome")) else {
            return;
        };
        let stage = r.str("stage").unwrap_or("?").to_owned();
        let setpoint = r.f64("setpoint_kw");
        match self.votes.get(vote) {
            None => {
                *self.vote_counts.entry((stage.clone(), outcome.to_owned())).or_default() += 1;
                let seen = VoteSeen {
                    outcome: outcome.to_owned(),
                    stage,
                    setpoint,
                    actor: actor.to_owned(),
                    raw: raw.to_owned(),
                    at_us: at,
                };
                self.votes.insert(vote.to_owned(), seen);
            }
            Some(seen) if seen.outcome != outcome || seen.stage != stage || seen.setpoint != setpoint => {
                let detail = format!(
                    "vote {vote}: {} learned {} ({} stage, {:?} kW), {actor} learned {outcome} ({stage} stage, {setpoint:?} kW)",
                    seen.actor, seen.outcome, seen.stage, seen.setpoint
                );
                let first = seen.raw.clone();
                self.violate(at, "every unit learns the same vote result", detail, vec![first, raw.to_owned()]);
            }
            Some(_) => {}
        }
    }

    /// A unit's `action carried out`: once per unit and process, the same setpoint on every
    /// unit, within [`TOGETHER_US`] of the first unless the soak had stopped the unit.
    pub(super) fn action(&mut self, at: u64, actor: &str, r: &Record, raw: &str) {
        let (Some(vote), Some(now_us)) = (r.str("vote"), r.u64("now_us")) else {
            return;
        };
        self.action_records += 1;
        let generation = self.processes.get(&(App::Microgrid, actor.to_owned())).map_or(0, |p| p.generation);
        let setpoint = r.f64("setpoint_kw");
        let entry =
            self.actions.entry(vote.to_owned()).or_insert_with(|| ActionSeen { at_us: at, ..ActionSeen::default() });
        if entry.by.is_empty() {
            self.actions_done += 1;
        }
        let twice = entry.by.iter().any(|b| b.actor == actor && b.generation == generation);
        entry.by.push(Carried {
            actor: actor.to_owned(),
            generation,
            now_us,
            setpoint,
            raw: raw.to_owned(),
            judged: false,
        });
        let records: Vec<String> = entry.by.iter().map(|b| b.raw.clone()).collect();
        if twice {
            self.violate(
                at,
                "an action is carried out once per unit",
                format!("{actor} carried out the action of vote {vote} twice"),
                records,
            );
            return;
        }
        let setpoints: BTreeSet<String> = entry.by.iter().map(|b| format!("{:?}", b.setpoint)).collect();
        if setpoints.len() > 1 && !entry.flagged {
            entry.flagged = true;
            self.violate(
                at,
                "every unit carries out the same action",
                format!("vote {vote}: units switched to different setpoints {setpoints:?}"),
                records,
            );
            return;
        }
        // Every unit that carried it out more than 50 ms after the first is judged once: excused
        // when the soak had stopped that unit over the agreed time (it carries the action out
        // on SIGCONT, late, as it should), a violation otherwise.
        let first = entry.by.iter().map(|b| b.now_us).min().unwrap_or(now_us);
        let mut late = Vec::new();
        for b in entry.by.iter_mut().filter(|b| !b.judged && b.now_us > first + TOGETHER_US) {
            b.judged = true;
            late.push((b.actor.clone(), b.now_us));
        }
        let units: Vec<String> = entry.by.iter().map(|b| format!("{} at {}", b.actor, b.now_us)).collect();
        for (unit, when) in late {
            let stopped = self.faults.iter().any(|f| {
                f.app == App::Microgrid
                    && f.actor == unit
                    && matches!(f.kind, FaultKind::Stop(_))
                    && f.at_us <= first + TOGETHER_US
                    && f.continued_us.is_none_or(|c| c + STOPPED_LATE_US >= when)
            });
            let detail = format!(
                "vote {vote}: {unit} carried it out {:.1} ms after the first unit ({})",
                (when - first) as f64 / 1000.0,
                units.join(", ")
            );
            if stopped {
                self.excused_actions += 1;
                self.note(format!("{:.1}s excused ({unit} was stopped at the agreed time): {detail}", self.secs(at)));
            } else {
                self.violate(at, "units carry out an action within 50 ms of each other", detail, records.clone());
            }
        }
    }

    /// The leader all five units name, if they agree on one that is one of them, and the time of
    /// the latest of their views.
    pub(super) fn agreement(&self, units: &[&str]) -> Option<(String, u64)> {
        let views: Vec<&View> = units.iter().map(|u| self.views.get(*u)).collect::<Option<_>>()?;
        let leader = &views.first()?.leader;
        let agree = leader != "none" && views.iter().all(|v| &v.leader == leader);
        let at = views.iter().map(|v| v.at_us).max()?;
        (agree && views.iter().any(|v| &v.me == leader)).then(|| (leader.clone(), at))
    }

    /// The leader's `feeder balanced`: a pending microgrid check whose units agree on a leader
    /// is met when that leader heard from all five units.
    pub(super) fn balanced(&mut self, at: u64, actor: &str, r: &Record, raw: &str) {
        self.last_balance = Some(raw.to_owned());
        let Some((leader, _)) = self.agreement(&UNITS) else { return };
        let from_leader = self.views.get(actor).is_some_and(|v| v.me == leader);
        if !from_leader || r.u64("units") != Some(UNITS.len() as u64) {
            return;
        }
        for i in 0..self.pending.len() {
            let p = &self.pending[i];
            if p.app == App::Microgrid && p.agreed_us.is_some_and(|a| at >= a) {
                self.recovered(i, at);
            }
        }
        self.pending.retain(|p| p.deadline_us != 0);
    }
}
