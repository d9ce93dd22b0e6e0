//! The monitor's sections of the report (`startup_s`, `counts`, `faults`, `elections`,
//! `violations`, `notes`) as serializable structs: their fields are written in declaration
//! order, so the JSON report reads in the order below.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::faults::{FaultKind, Outcome};
use super::{App, Monitor};

/// Writes `(key, value)` pairs as a JSON object, in their order.
fn as_object<S: Serializer>(pairs: &[(String, u64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// The report's `startup_s`: seconds from the soak's start to each app being whole.
#[derive(Debug, Serialize)]
pub(crate) struct Startup {
    /// The estimator (`null` if it never was).
    pub(crate) estimator: Option<f64>,
    /// The microgrid (`null` if it never was).
    pub(crate) microgrid: Option<f64>,
}

/// The report's `counts`.
#[derive(Debug, Serialize)]
pub(crate) struct Counts {
    /// The estimator's records.
    pub(crate) estimator: EstimatorCounts,
    /// The microgrid's records, votes, actions and elections.
    pub(crate) microgrid: MicrogridCounts,
    /// Restarts of all actors.
    pub(crate) restarts: u64,
    /// Restarts per `app/actor`.
    #[serde(serialize_with = "as_object")]
    pub(crate) restarts_per_actor: Vec<(String, u64)>,
    /// The faults by kind and outcome.
    pub(crate) faults: FaultCounts,
}

/// The estimator's part of the report's `counts`.
#[derive(Debug, Serialize)]
pub(crate) struct EstimatorCounts {
    /// Records per message.
    pub(crate) records_per_kind: BTreeMap<String, u64>,
    /// `estimate received` records (at the aggregator).
    pub(crate) estimates_received: u64,
    /// `aggregate` records.
    pub(crate) aggregates: u64,
    /// Lines that were not JSON records.
    pub(crate) text_lines: u64,
}

/// The microgrid's part of the report's `counts`.
#[derive(Debug, Serialize)]
pub(crate) struct MicrogridCounts {
    /// Distinct votes by outcome.
    pub(crate) votes: VoteCounts,
    /// Distinct actions carried out.
    pub(crate) actions_carried_out: u64,
    /// `action carried out` records (one per unit and action).
    pub(crate) action_records: u64,
    /// Units late to an action that were excused (the soak had stopped them).
    pub(crate) actions_apart_excused: u64,
    /// Terms a leader was named for.
    pub(crate) elections: usize,
    /// The highest such term.
    pub(crate) max_term: u64,
    /// Records per message.
    pub(crate) records_per_kind: BTreeMap<String, u64>,
    /// Lines that were not JSON records.
    pub(crate) text_lines: u64,
}

/// The microgrid's distinct votes.
#[derive(Debug, Serialize)]
pub(crate) struct VoteCounts {
    /// Accepted.
    pub(crate) yes: u64,
    /// Rejected.
    pub(crate) no: u64,
    /// Timed out.
    pub(crate) timeout: u64,
    /// Lost (`vote lost`).
    pub(crate) lost: usize,
    /// By `stage outcome`.
    #[serde(serialize_with = "as_object")]
    pub(crate) by_stage: Vec<(String, u64)>,
}

/// The faults by kind and by how their checks ended.
#[derive(Debug, Serialize)]
pub(crate) struct FaultCounts {
    /// All faults.
    pub(crate) total: usize,
    /// kill -9.
    pub(crate) kill: usize,
    /// SIGSTOP and SIGCONT.
    pub(crate) stop: usize,
    /// The app recovered within the bound.
    pub(crate) recovered: usize,
    /// Another fault came first.
    pub(crate) superseded: usize,
    /// The app did not recover in time.
    pub(crate) missed: usize,
}

/// One fault, a row of the report's `faults` (times in ms, `null` when they did not happen).
#[derive(Debug, Serialize)]
pub(crate) struct FaultRow {
    /// Its number, from 1.
    pub(crate) n: usize,
    /// When, in seconds since the start.
    pub(crate) at_s: f64,
    /// The app.
    pub(crate) app: &'static str,
    /// The actor.
    pub(crate) actor: String,
    /// Its process.
    pub(crate) pid: u32,
    /// `kill` or `stop`.
    pub(crate) kind: &'static str,
    /// (Stop) how long the actor was stopped.
    pub(crate) stop_ms: Option<u64>,
    /// (Microgrid) whether the actor led the group.
    pub(crate) was_leader: bool,
    /// (Kill) the restart, after the fault.
    pub(crate) restart_ms: Option<u64>,
    /// (Leader hit) the other units naming a new leader, after the fault.
    pub(crate) failover_ms: Option<u64>,
    /// (Microgrid) all units naming one leader, after the fault.
    pub(crate) leader_agreed_ms_after_fault: Option<u64>,
    /// The recovery, after the fault.
    pub(crate) recovered_ms_after_fault: Option<u64>,
    /// The recovery, after the restart or SIGCONT.
    pub(crate) recovered_ms_after_restart_or_continue: Option<u64>,
    /// `pending`, `recovered`, `superseded` or `MISSED`.
    pub(crate) outcome: &'static str,
}

/// One election, a row of the report's `elections`.
#[derive(Debug, Serialize)]
pub(crate) struct ElectionRow {
    /// The term.
    pub(crate) term: u64,
    /// The leader's member id.
    pub(crate) leader: String,
    /// The leader's actor, if known.
    pub(crate) actor: Option<String>,
    /// When it was first named, in seconds since the start.
    pub(crate) at_s: f64,
}

/// One broken invariant, a row of the report's `violations`.
#[derive(Debug, Serialize)]
pub(crate) struct ViolationRow {
    /// When it was seen, in seconds since the start.
    pub(crate) at_s: f64,
    /// Which invariant.
    pub(crate) invariant: &'static str,
    /// What happened.
    pub(crate) detail: String,
    /// The log records that show it.
    pub(crate) records: Vec<String>,
}

impl Monitor {
    /// The report's `counts`.
    pub(crate) fn counts(&self) -> Counts {
        let records_per_kind = |app: App| self.counts.get(&app).cloned().unwrap_or_default();
        let text_lines = |app: App| self.text_lines.get(&app).copied().unwrap_or(0);
        let kills = self.faults.iter().filter(|f| f.kind == FaultKind::Kill).count();
        let outcomes = |o: Outcome| self.faults.iter().filter(|f| f.outcome == o).count();
        Counts {
            estimator: EstimatorCounts {
                records_per_kind: records_per_kind(App::Estimator),
                estimates_received: self.count(App::Estimator, "estimate received"),
                aggregates: self.count(App::Estimator, "aggregate"),
                text_lines: text_lines(App::Estimator),
            },
            microgrid: MicrogridCounts {
                votes: VoteCounts {
                    yes: self.votes_with("Yes"),
                    no: self.votes_with("No"),
                    timeout: self.votes_with("Timeout"),
                    lost: self.lost.len(),
                    by_stage: self
                        .vote_counts
                        .iter()
                        .map(|((s, o), n)| (format!("{s} {}", o.to_lowercase()), *n))
                        .collect(),
                },
                actions_carried_out: self.actions_done,
                action_records: self.action_records,
                actions_apart_excused: self.excused_actions,
                elections: self.elections.len(),
                max_term: self.term_leader.keys().next_back().copied().unwrap_or(0),
                records_per_kind: records_per_kind(App::Microgrid),
                text_lines: text_lines(App::Microgrid),
            },
            restarts: self.restarts_total(),
            restarts_per_actor: self
                .restarts
                .iter()
                .map(|((a, actor), n)| (format!("{}/{actor}", a.label()), *n))
                .collect(),
            faults: FaultCounts {
                total: self.faults.len(),
                kill: kills,
                stop: self.faults.len() - kills,
                recovered: outcomes(Outcome::Recovered),
                superseded: outcomes(Outcome::Superseded),
                missed: outcomes(Outcome::Missed),
            },
        }
    }

    /// The report's `faults`: one row per fault.
    pub(crate) fn fault_rows(&self) -> Vec<FaultRow> {
        let ms = |from: u64, to: Option<u64>| to.map(|t| t.saturating_sub(from) / 1000);
        self.faults
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let (kind, stop_ms) = match f.kind {
                    FaultKind::Kill => ("kill", None),
                    FaultKind::Stop(ms) => ("stop", Some(ms)),
                };
                let since = f.restarted_us.or(f.continued_us).unwrap_or(f.at_us);
                FaultRow {
                    n: n + 1,
                    at_s: self.secs(f.at_us),
                    app: f.app.label(),
                    actor: f.actor.clone(),
                    pid: f.pid,
                    kind,
                    stop_ms,
                    was_leader: f.was_leader,
                    restart_ms: ms(f.at_us, f.restarted_us),
                    failover_ms: ms(f.at_us, f.failover_us),
                    leader_agreed_ms_after_fault: ms(f.at_us, f.agreed_us),
                    recovered_ms_after_fault: ms(f.at_us, f.recovered_us),
                    recovered_ms_after_restart_or_continue: ms(since, f.recovered_us),
                    outcome: match f.outcome {
                        Outcome::Pending => "pending",
                        Outcome::Recovered => "recovered",
                        Outcome::Superseded => "superseded",
                        Outcome::Missed => "MISSED",
                    },
                }
            })
            .collect()
    }

    /// The report's `elections`.
    pub(crate) fn election_rows(&self) -> Vec<ElectionRow> {
        self.elections
            .iter()
            .map(|e| ElectionRow {
                term: e.term,
                leader: e.leader.clone(),
                actor: e.actor.clone().or_else(|| self.member_actor.get(&e.leader).cloned()),
                at_s: self.secs(e.at_us),
            })
            .collect()
    }

    /// The report's `startup_s`.
    pub(crate) fn startup(&self) -> Startup {
        let secs = |app: App| self.started.get(&app).map(|t| self.secs(*t));
        Startup { estimator: secs(App::Estimator), microgrid: secs(App::Microgrid) }
    }

    /// The report's `violations`.
    pub(crate) fn violation_rows(&self) -> Vec<ViolationRow> {
        self.violations
            .iter()
            .map(|v| ViolationRow {
                at_s: self.secs(v.at_us),
                invariant: v.invariant,
                detail: v.detail.clone(),
                records: v.records.clone(),
            })
            .collect()
    }

    /// The report's `notes`: what was excused or superseded, and stray lines.
    pub(crate) fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if self.dropped_notes > 0 {
            notes.push(format!("… and {} more notes", self.dropped_notes));
        }
        notes
    }

    /// Failover times of killed or stopped leaders (ms), and recovery times of all recovered
    /// faults (ms after the restart or SIGCONT), per app.
    pub(crate) fn timing_summary(&self) -> (Vec<u64>, BTreeMap<App, Vec<u64>>) {
        let failover =
            self.faults.iter().filter_map(|f| f.failover_us.map(|t| t.saturating_sub(f.at_us) / 1000)).collect();
        let mut recovery: BTreeMap<App, Vec<u64>> = BTreeMap::new();
        for f in &self.faults {
            if let Some(r) = f.recovered_us {
                let since = f.restarted_us.or(f.continued_us).unwrap_or(f.at_us);
                recovery.entry(f.app).or_default().push(r.saturating_sub(since) / 1000);
            }
        }
        (failover, recovery)
    }
}
