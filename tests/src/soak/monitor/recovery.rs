//! The checks that an app recovers, after the start or after a fault: when their clocks start
//! (the restart or SIGCONT), when they are met, and when their deadline passes unmet (an
//! invariant violation).

use std::collections::BTreeMap;

use super::faults::Outcome;
use super::microgrid::UNITS;
use super::{App, Monitor};

/// Both apps must be up (a leader known to all units; estimates at the aggregator) within this.
pub(crate) const STARTUP_US: u64 = 30_000_000;
/// A deadline is only declared missed this long after it passed (µs), so that records stamped
/// before it still on their way through the pipes are read first.
const GRACE_US: u64 = 300_000;
/// After a microgrid fault, the units must name one leader within the leader bound, and that
/// leader must hear from all five within this much more (µs): it logs `feeder balanced` with the
/// number of units that reported every 2 s (4 of its 500 ms ticks).
pub(crate) const HEAR_EXTRA_US: u64 = 2_500_000;
/// A microgrid check is only made this long after its clock starts (µs): by then the units'
/// records stamped before that moment have been read, so a view the fault is about to change is
/// not taken for the recovered state.
const SETTLE_US: u64 = 300_000;

/// A check that an app recovers: after a fault, or after the start.
#[derive(Debug, Clone)]
pub(super) struct Recovery {
    /// The fault (an index into the faults), or `None` for the start.
    pub(super) fault: Option<usize>,
    /// The app checked.
    pub(super) app: App,
    /// (Fault) the actor it hit.
    pub(super) victim: Option<String>,
    /// From when recovery is timed; `None` while a killed actor waits for its restart or a
    /// stopped one for SIGCONT.
    pub(super) since_us: Option<u64>,
    /// When it must have recovered (µs).
    pub(super) deadline_us: u64,
    /// (Estimator) the newest reading of each source the aggregator had when the fault came.
    pub(super) baseline: BTreeMap<String, u64>,
    /// (Microgrid, leader hit) the old leader, until the four others name a new one.
    pub(super) old_leader: Option<String>,
    /// (Microgrid) when all five units named one leader (the first stage of recovery; the
    /// second is that leader hearing from all five).
    pub(super) agreed_us: Option<u64>,
}

impl Recovery {
    /// The check that `app` starts up within [`STARTUP_US`] of the soak's start.
    pub(super) fn startup(app: App, start_us: u64) -> Recovery {
        Recovery {
            fault: None,
            app,
            victim: None,
            since_us: Some(start_us),
            deadline_us: start_us + STARTUP_US,
            baseline: BTreeMap::new(),
            old_leader: None,
            agreed_us: None,
        }
    }
}

impl Monitor {
    /// Marks pending check `i` recovered at `at` (it is removed by the caller's `retain`).
    pub(super) fn recovered(&mut self, i: usize, at: u64) {
        let p = &mut self.pending[i];
        let at = at.max(p.since_us.unwrap_or(at));
        p.deadline_us = 0;
        match p.fault {
            Some(f) => {
                if let Some(f) = self.faults.get_mut(f) {
                    f.recovered_us = Some(at);
                    f.outcome = Outcome::Recovered;
                }
            }
            None => {
                self.started.insert(p.app, at);
            }
        }
    }

    /// Checks the microgrid's pending recoveries against the current views, at `now` (µs).
    pub(super) fn check_recoveries(&mut self, now: u64) {
        let all = self.agreement(&UNITS);
        for i in 0..self.pending.len() {
            let p = &self.pending[i];
            if p.app != App::Microgrid {
                continue;
            }
            if let Some(old) = p.old_leader.clone() {
                let victim = p.victim.clone().unwrap_or_default();
                let others: Vec<&str> = UNITS.iter().copied().filter(|u| *u != victim).collect();
                if let Some((_, when)) = self.agreement(&others).filter(|(l, _)| *l != old) {
                    if let Some(f) = p.fault.and_then(|f| self.faults.get_mut(f)) {
                        f.failover_us = Some(when);
                    }
                    self.pending[i].old_leader = None;
                }
            }
            let p = &self.pending[i];
            if let (Some(since), Some((_, when)), None) = (p.since_us, &all, p.agreed_us) {
                let victim_seen = p.victim.as_ref().is_none_or(|v| self.views.contains_key(v));
                if victim_seen && now >= since + SETTLE_US {
                    let agreed = (*when).max(since);
                    self.pending[i].agreed_us = Some(agreed);
                    if let Some(f) = self.pending[i].fault.and_then(|f| self.faults.get_mut(f)) {
                        f.agreed_us = Some(agreed);
                    }
                }
            }
        }
    }

    /// Looks at the clock (`now_us`): checks that waited to settle are made, and those whose
    /// deadline passed (with a grace for records in flight) are declared missed.
    pub(crate) fn tick(&mut self, now_us: u64) {
        self.read_us = self.read_us.max(now_us);
        self.check_recoveries(now_us);
        self.expire(now_us);
    }

    /// Declares the checks whose deadline passed (with a grace for records in flight) missed.
    fn expire(&mut self, now_us: u64) {
        let leader_bound = self.leader_bound_us;
        // A microgrid check also misses when no leader is agreed within the leader bound.
        let missed = |p: &Recovery| {
            let no_leader = p.app == App::Microgrid
                && p.agreed_us.is_none()
                && p.since_us.is_some_and(|s| p.fault.is_some() && s + leader_bound + GRACE_US < now_us);
            p.deadline_us + GRACE_US < now_us || no_leader
        };
        let late: Vec<Recovery> = self.pending.iter().filter(|p| missed(p)).cloned().collect();
        self.pending.retain(|p| !missed(p));
        for p in late {
            let what = match (&p.fault, &p.since_us) {
                (None, _) => format!("{} did not start up within {} s", p.app.label(), STARTUP_US / 1_000_000),
                (Some(_), None) => format!(
                    "{} actor {} was not restarted (or continued) in time",
                    p.app.label(),
                    p.victim.clone().unwrap_or_default()
                ),
                (Some(_), Some(_)) => match p.app {
                    App::Microgrid if p.agreed_us.is_none() => format!(
                        "the units did not all name one leader within {:.1} s of the fault on {}",
                        self.leader_bound_us as f64 / 1e6,
                        p.victim.clone().unwrap_or_default()
                    ),
                    App::Microgrid => format!(
                        "the units named one leader, but it did not hear from all five within {:.1} s of the fault on {} (its last balance is the last record)",
                        (self.leader_bound_us + HEAR_EXTRA_US) as f64 / 1e6,
                        p.victim.clone().unwrap_or_default()
                    ),
                    App::Estimator => format!(
                        "no new estimate reached the aggregator within {:.1} s of the fault on {}",
                        self.flow_bound_us as f64 / 1e6,
                        p.victim.clone().unwrap_or_default()
                    ),
                },
            };
            if let Some(f) = p.fault.and_then(|f| self.faults.get_mut(f)) {
                f.outcome = Outcome::Missed;
            }
            let records: Vec<String> = match p.app {
                App::Microgrid => self.views.values().map(|v| v.raw.clone()).chain(self.last_balance.clone()).collect(),
                App::Estimator => Vec::new(),
            };
            let invariant = match (p.fault, p.app) {
                (None, _) => "the apps start",
                (Some(_), App::Microgrid) if p.agreed_us.is_none() => {
                    "one leader known to all units soon after a fault"
                }
                (Some(_), App::Microgrid) => "the leader hears from every unit soon after a fault",
                (Some(_), App::Estimator) => "the estimates flow again soon after a fault",
            };
            self.violate(p.deadline_us, invariant, what, records);
        }
    }

    /// Whether checks are pending for faults (not the start).
    pub(crate) fn fault_checks_pending(&self) -> bool {
        self.pending.iter().any(|p| p.fault.is_some())
    }
}
