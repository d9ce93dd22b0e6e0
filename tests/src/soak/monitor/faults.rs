//! The faults the soak injects (kill -9, or SIGSTOP and later SIGCONT) and their bookkeeping:
//! which actor was hit, whether it led, when it was restarted or continued, and how its
//! recovery check ended.

use std::collections::BTreeMap;

use super::microgrid::UNITS;
use super::recovery::{Recovery, HEAR_EXTRA_US};
use super::{App, Monitor};

/// A kill's actor must be restarted within this (the launcher's backoff is at most 5 s).
pub(crate) const RESTART_WAIT_US: u64 = 7_000_000;

/// A fault's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    /// `kill -9` of an actor process.
    Kill,
    /// SIGSTOP of an actor process, SIGCONT after the given milliseconds.
    Stop(u64),
}

/// How a fault's recovery check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Still being watched.
    Pending,
    /// The app recovered within the bound.
    Recovered,
    /// Another fault of the same app came before the app recovered; that one is checked instead.
    Superseded,
    /// The app did not recover within the bound (an invariant violation).
    Missed,
}

/// One injected fault.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    /// When (µs since the epoch).
    pub(crate) at_us: u64,
    /// The app of the actor.
    pub(crate) app: App,
    /// The actor.
    pub(crate) actor: String,
    /// Its process.
    pub(crate) pid: u32,
    /// What was done to it.
    pub(crate) kind: FaultKind,
    /// (Microgrid) whether the actor led the group.
    pub(crate) was_leader: bool,
    /// (Kill) when the launcher logged the restart.
    pub(crate) restarted_us: Option<u64>,
    /// (Stop) when the soak sent SIGCONT.
    pub(crate) continued_us: Option<u64>,
    /// (Microgrid, leader killed or stopped) when the other four units all named a new leader.
    pub(crate) failover_us: Option<u64>,
    /// (Microgrid) when all five units named one leader again.
    pub(crate) agreed_us: Option<u64>,
    /// When the app was whole again.
    pub(crate) recovered_us: Option<u64>,
    /// How the check ended.
    pub(crate) outcome: Outcome,
}

impl Monitor {
    /// The soak injected a fault; returns its index. A kill's actor no longer counts as alive,
    /// and its member id as a view; a pending check of the same app is superseded.
    pub(crate) fn fault_injected(&mut self, at_us: u64, app: App, actor: &str, pid: u32, kind: FaultKind) -> usize {
        let index = self.faults.len();
        let superseded: Vec<Option<usize>> = self.pending.iter().filter(|p| p.app == app).map(|p| p.fault).collect();
        self.pending.retain(|p| p.app != app);
        for fault in superseded {
            match fault.and_then(|f| self.faults.get_mut(f)) {
                Some(f) => f.outcome = Outcome::Superseded,
                None => self.note(format!("{} had not started up when its first fault came", app.label())),
            }
        }
        let key = (app, actor.to_owned());
        let leader = self.agreement(&UNITS).map(|(l, _)| l);
        let me = self.views.get(actor).map(|v| v.me.clone());
        let was_leader = app == App::Microgrid && me.is_some() && me == leader;
        match kind {
            FaultKind::Kill => {
                *self.expected_exits.entry(key.clone()).or_default() += 1;
                self.last_kill.insert(key.clone(), at_us);
                if let Some(p) = self.processes.get_mut(&key) {
                    p.alive = false;
                }
                if app == App::Microgrid {
                    if let Some(v) = self.views.remove(actor) {
                        self.dead_members.insert(v.me);
                    }
                }
            }
            FaultKind::Stop(_) => {
                if let Some(p) = self.processes.get_mut(&key) {
                    p.stopped = true;
                }
            }
        }
        let wait = match kind {
            FaultKind::Kill => RESTART_WAIT_US,
            FaultKind::Stop(ms) => ms * 1000 + 2_000_000,
        };
        self.pending.push(Recovery {
            fault: Some(index),
            app,
            victim: Some(actor.to_owned()),
            since_us: None,
            deadline_us: at_us + wait,
            baseline: if app == App::Estimator { self.estimate_seq.clone() } else { BTreeMap::new() },
            old_leader: if was_leader { leader } else { None },
            agreed_us: None,
        });
        self.faults.push(Fault {
            at_us,
            app,
            actor: actor.to_owned(),
            pid,
            kind,
            was_leader,
            restarted_us: None,
            continued_us: None,
            failover_us: None,
            agreed_us: None,
            recovered_us: None,
            outcome: Outcome::Pending,
        });
        index
    }

    /// The soak sent SIGCONT to the actor of stop fault `index` at `at_us`.
    pub(crate) fn continued(&mut self, index: usize, at_us: u64) {
        let Some(f) = self.faults.get_mut(index) else { return };
        f.continued_us = Some(at_us);
        let key = (f.app, f.actor.clone());
        let app = f.app;
        if let Some(p) = self.processes.get_mut(&key) {
            p.stopped = false;
        }
        let bound = self.bound(app);
        for p in self.pending.iter_mut().filter(|p| p.fault == Some(index)) {
            p.since_us = Some(at_us);
            p.deadline_us = at_us + bound;
            if app == App::Microgrid {
                p.deadline_us += HEAR_EXTRA_US;
            }
        }
        self.check_recoveries(self.read_us.max(at_us));
    }

    /// How many times the soak killed `actor` since `since_us`.
    pub(crate) fn kills_since(&self, app: App, actor: &str, since_us: u64) -> usize {
        self.faults
            .iter()
            .filter(|f| f.app == app && f.actor == actor && f.kind == FaultKind::Kill && f.at_us >= since_us)
            .count()
    }
}
