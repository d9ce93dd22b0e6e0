//! What the soak learns from the apps' log records: the processes and their restarts, counts of
//! messages, votes, actions and elections, and the invariants, checked as each record arrives
//! and as time passes.
//!
//! Times are wall-clock microseconds since the Unix epoch: records carry their own stamp (`ts`),
//! so a record's time does not depend on when the soak got round to reading it, and faults are
//! stamped with the same clock when they are injected.
//!
//! The [`Monitor`] holds everything; its methods are spread over one module per purpose:
//! - [`records`]: parsing a record and dispatching it by message, processes and failures;
//! - [`microgrid`]: the microgrid's invariants (views and leaders, votes, actions, balances);
//! - [`estimator`]: the estimator's invariant (estimates flow again after a fault);
//! - [`faults`]: the injected faults and their bookkeeping;
//! - [`recovery`]: the checks that an app recovers (after the start or a fault) and deadlines;
//! - [`report`]: the report's sections, as serializable structs.

use std::collections::{BTreeMap, BTreeSet};

use super::memory::round1;

mod estimator;
mod faults;
mod microgrid;
mod records;
mod recovery;
mod report;
#[cfg(test)]
mod tests;

pub(crate) use faults::{Fault, FaultKind, RESTART_WAIT_US};
pub(crate) use records::Record;
pub(crate) use report::{Counts, ElectionRow, FaultRow, Startup, ViolationRow};

use microgrid::{ActionSeen, Election, View, VoteSeen};
use recovery::Recovery;

/// The two example apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum App {
    /// The DistributedEstimator (`apps/estimator`): actors `Estimator` and `Aggregator`.
    Estimator,
    /// The microgrid (`apps/microgrid`): actors `Unit1` … `Unit5` in one group.
    Microgrid,
}

impl App {
    /// Both apps.
    pub(crate) const ALL: [App; 2] = [App::Estimator, App::Microgrid];

    /// The app's short name, as the soak's options and report call it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            App::Estimator => "estimator",
            App::Microgrid => "microgrid",
        }
    }
}

/// Votes and actions are forgotten this long after they were first seen (µs).
const FORGET_US: u64 = 300_000_000;
/// At most this many notes are kept (the rest are counted).
const MAX_NOTES: usize = 200;

/// A broken invariant, with the records that show it.
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    /// When it was seen (µs since the epoch).
    pub(crate) at_us: u64,
    /// Which invariant.
    pub(crate) invariant: &'static str,
    /// What happened.
    pub(crate) detail: String,
    /// The log records (JSON lines) that show it.
    pub(crate) records: Vec<String>,
}

/// An actor process as the launcher's records tell.
#[derive(Debug, Clone)]
pub(crate) struct Process {
    /// Its pid.
    pub(crate) pid: u32,
    /// When the launcher started it (µs).
    pub(crate) born_us: u64,
    /// How many processes this actor has had, this one included.
    pub(crate) generation: u64,
    /// False from the soak's kill until the launcher's restart.
    pub(crate) alive: bool,
    /// The soak stopped it (SIGSTOP) and has not continued it yet.
    pub(crate) stopped: bool,
}

/// Everything the soak knows.
#[derive(Debug)]
pub(crate) struct Monitor {
    start_us: u64,
    leader_bound_us: u64,
    flow_bound_us: u64,
    /// Every actor's current process.
    processes: BTreeMap<(App, String), Process>,
    /// The latest `feeder balanced` record.
    last_balance: Option<String>,
    /// Records per app and message.
    counts: BTreeMap<App, BTreeMap<String, u64>>,
    /// Lines that were not JSON records, per app.
    text_lines: BTreeMap<App, u64>,
    /// `actor restarted` records per actor.
    restarts: BTreeMap<(App, String), u64>,
    /// Exits the soak caused and the launcher has not reported yet.
    expected_exits: BTreeMap<(App, String), u32>,
    /// When the soak last killed each actor (µs).
    last_kill: BTreeMap<(App, String), u64>,
    /// Each unit's latest view.
    views: BTreeMap<String, View>,
    /// Member ids of killed processes: late records of theirs do not count as views.
    dead_members: BTreeSet<String>,
    /// Which actor each member id belongs to.
    member_actor: BTreeMap<String, String>,
    /// The leader named for each term, with the record that first named it.
    term_leader: BTreeMap<u64, (String, String)>,
    /// Terms already reported as having two leaders.
    split_terms: BTreeSet<u64>,
    elections: Vec<Election>,
    votes: BTreeMap<String, VoteSeen>,
    /// Distinct votes by `(stage, outcome)`.
    vote_counts: BTreeMap<(String, String), u64>,
    lost: BTreeSet<String>,
    actions: BTreeMap<String, ActionSeen>,
    actions_done: u64,
    action_records: u64,
    excused_actions: u64,
    /// The newest reading of each estimate source seen at the aggregator.
    estimate_seq: BTreeMap<String, u64>,
    pending: Vec<Recovery>,
    /// The latest time a record was read or the clock was looked at (µs).
    read_us: u64,
    /// When each app first became whole (µs).
    started: BTreeMap<App, u64>,
    faults: Vec<Fault>,
    violations: Vec<Violation>,
    notes: Vec<String>,
    dropped_notes: u64,
}

impl Monitor {
    /// A monitor for a soak that started at `start_us`, with its recovery bounds.
    pub(crate) fn new(start_us: u64, leader_bound_us: u64, flow_bound_us: u64) -> Monitor {
        let mut m = Monitor {
            start_us,
            leader_bound_us,
            flow_bound_us,
            processes: BTreeMap::new(),
            last_balance: None,
            counts: BTreeMap::new(),
            text_lines: BTreeMap::new(),
            restarts: BTreeMap::new(),
            expected_exits: BTreeMap::new(),
            last_kill: BTreeMap::new(),
            views: BTreeMap::new(),
            dead_members: BTreeSet::new(),
            member_actor: BTreeMap::new(),
            term_leader: BTreeMap::new(),
            split_terms: BTreeSet::new(),
            elections: Vec::new(),
            votes: BTreeMap::new(),
            vote_counts: BTreeMap::new(),
            lost: BTreeSet::new(),
            actions: BTreeMap::new(),
            actions_done: 0,
            action_records: 0,
            excused_actions: 0,
            estimate_seq: BTreeMap::new(),
            pending: Vec::new(),
            read_us: start_us,
            started: BTreeMap::new(),
            faults: Vec::new(),
            violations: Vec::new(),
            notes: Vec::new(),
            dropped_notes: 0,
        };
        for app in App::ALL {
            m.pending.push(Recovery::startup(app, start_us));
        }
        m
    }

    /// Seconds since the soak started, for the report.
    pub(crate) fn secs(&self, us: u64) -> f64 {
        round1(us.saturating_sub(self.start_us) as f64 / 1e6)
    }

    /// Records a broken invariant (and says so on standard error).
    fn violate(&mut self, at_us: u64, invariant: &'static str, detail: String, records: Vec<String>) {
        eprintln!("VIOLATION at {:.1}s: {invariant}: {detail}", self.secs(at_us));
        self.violations.push(Violation { at_us, invariant, detail, records });
    }

    /// Keeps a note for the report (the first [`MAX_NOTES`]; the rest are counted).
    fn note(&mut self, text: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(text);
        } else {
            self.dropped_notes += 1;
        }
    }

    /// Records a violation found outside the records (a launcher that died, memory growth).
    pub(crate) fn external_violation(&mut self, at_us: u64, invariant: &'static str, detail: String) {
        self.violate(at_us, invariant, detail, Vec::new());
    }

    /// The recovery bound of `app` (µs): the leader bound or the flow bound.
    fn bound(&self, app: App) -> u64 {
        match app {
            App::Estimator => self.flow_bound_us,
            App::Microgrid => self.leader_bound_us,
        }
    }

    /// Forgets votes and actions first seen long ago (keeps the soak's own memory flat).
    pub(crate) fn forget_old(&mut self, now_us: u64) {
        self.votes.retain(|_, v| v.at_us + FORGET_US >= now_us);
        self.actions.retain(|_, a| a.at_us + FORGET_US >= now_us);
    }

    /// Every actor's current process.
    pub(crate) fn processes(&self) -> impl Iterator<Item = (&(App, String), &Process)> {
        self.processes.iter()
    }

    /// The faults so far.
    pub(crate) fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// The violations so far.
    pub(crate) fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Restarts so far (all actors).
    pub(crate) fn restarts_total(&self) -> u64 {
        self.restarts.values().sum()
    }

    fn votes_with(&self, outcome: &str) -> u64 {
        self.vote_counts.iter().filter(|((_, o), _)| o == outcome).map(|(_, n)| n).sum()
    }

    fn count(&self, app: App, msg: &str) -> u64 {
        self.counts.get(&app).and_then(|c| c.get(msg)).copied().unwrap_or(0)
    }

    /// The counts as one line, for the progress lines.
    pub(crate) fn progress(&self) -> String {
        let kills = self.faults.iter().filter(|f| f.kind == FaultKind::Kill).count();
        let max_term = self.term_leader.keys().next_back().copied().unwrap_or(0);
        format!(
            "faults {} ({kills} kill, {} stop), restarts {}, elections {} (term {max_term}), votes {} yes {} no {} timeout {} lost, actions {}, estimates {}, violations {}",
            self.faults.len(),
            self.faults.len() - kills,
            self.restarts_total(),
            self.elections.len(),
            self.votes_with("Yes"),
            self.votes_with("No"),
            self.votes_with("Timeout"),
            self.lost.len(),
            self.actions_done,
            self.count(App::Estimator, "estimate received"),
            self.violations.len()
        )
    }
}
