//! What the soak learns from the apps' log records: the processes and their restarts, counts of
//! messages, votes, actions and elections, and the invariants, checked as each record arrives
//! and as time passes.
//!
//! Times are wall-clock microseconds since the Unix epoch: records carry their own stamp (`ts`),
//! so a record's time does not depend on when the soak got round to reading it, and faults are
//! stamped with the same clock when they are injected.

use std::collections::{BTreeMap, BTreeSet};

use super::json::{obj, Json};
use super::memory::round1;

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

/// The microgrid's units.
const UNITS: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];

/// The agreed action is carried out on every unit within this of each other (µs).
pub(crate) const TOGETHER_US: u64 = 50_000;
/// A kill's actor must be restarted within this (the launcher's backoff is at most 5 s).
pub(crate) const RESTART_WAIT_US: u64 = 7_000_000;
/// Both apps must be up (a leader known to all units; estimates at the aggregator) within this.
pub(crate) const STARTUP_US: u64 = 30_000_000;
/// A failure record of an actor within this after the soak killed it is excused (µs).
const KILL_EXCUSE_US: u64 = 3_000_000;
/// A unit that carries an action out late is excused when the soak had stopped it at the agreed
/// time and continued it at most this long before (µs): it carries the action out on SIGCONT.
const STOPPED_LATE_US: u64 = 1_000_000;
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
/// Votes and actions are forgotten this long after they were first seen (µs).
const FORGET_US: u64 = 300_000_000;
/// At most this many notes are kept (the rest are counted).
const MAX_NOTES: usize = 200;

/// Records that say a component or actor failed. Any of these, or any record at level error or
/// critical, breaks an invariant unless it comes right after the soak killed that actor.
const FAILURES: [&str; 8] = [
    "handler panicked; the component goes on",
    "a component thread ended",
    "lifecycle handler panicked",
    "a component thread panicked while stopping",
    "poll failed; the component stops",
    "the component cannot start",
    "the actor failed",
    "the app stopped",
];

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

/// A unit's latest `group view`.
#[derive(Debug, Clone)]
struct View {
    me: String,
    leader: String,
    term: u64,
    at_us: u64,
    raw: String,
}

/// The first announcement of a vote's result seen.
#[derive(Debug, Clone)]
struct VoteSeen {
    outcome: String,
    stage: String,
    setpoint: Option<f64>,
    actor: String,
    raw: String,
    at_us: u64,
}

/// One unit's `action carried out`.
#[derive(Debug, Clone)]
struct Carried {
    actor: String,
    /// Which of the actor's processes (restarts count up).
    generation: u64,
    /// When it carried the action out (its wall clock, µs).
    now_us: u64,
    setpoint: Option<f64>,
    raw: String,
    /// Whether it was judged as late already.
    judged: bool,
}

/// The units that carried out one action.
#[derive(Debug, Clone, Default)]
struct ActionSeen {
    by: Vec<Carried>,
    /// Whether different setpoints were reported already.
    flagged: bool,
    at_us: u64,
}

/// A check that an app recovers: after a fault, or after the start.
#[derive(Debug, Clone)]
struct Recovery {
    /// The fault (an index into the faults), or `None` for the start.
    fault: Option<usize>,
    app: App,
    /// (Fault) the actor it hit.
    victim: Option<String>,
    /// From when recovery is timed; `None` while a killed actor waits for its restart or a
    /// stopped one for SIGCONT.
    since_us: Option<u64>,
    /// When it must have recovered (µs).
    deadline_us: u64,
    /// (Estimator) the newest reading of each source the aggregator had when the fault came.
    baseline: BTreeMap<String, u64>,
    /// (Microgrid, leader hit) the old leader, until the four others name a new one.
    old_leader: Option<String>,
    /// (Microgrid) when all five units named one leader (the first stage of recovery; the
    /// second is that leader hearing from all five).
    agreed_us: Option<u64>,
}

/// An election: a leader named for a term for the first time.
#[derive(Debug, Clone)]
struct Election {
    term: u64,
    leader: String,
    actor: Option<String>,
    at_us: u64,
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
            m.pending.push(Recovery {
                fault: None,
                app,
                victim: None,
                since_us: Some(start_us),
                deadline_us: start_us + STARTUP_US,
                baseline: BTreeMap::new(),
                old_leader: None,
                agreed_us: None,
            });
        }
        m
    }

    /// Seconds since the soak started, for the report.
    pub(crate) fn secs(&self, us: u64) -> f64 {
        round1(us.saturating_sub(self.start_us) as f64 / 1e6)
    }

    fn violate(&mut self, at_us: u64, invariant: &'static str, detail: String, records: Vec<String>) {
        eprintln!("VIOLATION at {:.1}s: {invariant}: {detail}", self.secs(at_us));
        self.violations.push(Violation { at_us, invariant, detail, records });
    }

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

    /// A line of `app`'s standard error that is not a JSON record, read at `at_us`.
    pub(crate) fn text_line(&mut self, app: App, at_us: u64, line: &str) {
        *self.text_lines.entry(app).or_default() += 1;
        let lower = line.to_ascii_lowercase();
        if ["panicked", "assertion failed", "segmentation fault", "aborted"].iter().any(|w| lower.contains(w)) {
            self.violate(at_us, "no panics", format!("{} wrote: {line}", app.label()), vec![line.to_owned()]);
        } else if !line.trim().is_empty() {
            self.note(format!("{:.1}s {} wrote a line that is not a record: {line}", self.secs(at_us), app.label()));
        }
    }

    /// A JSON record of `app` (`raw` is its line), read at `read_us`.
    pub(crate) fn record(&mut self, app: App, read_us: u64, r: &Json, raw: &str) {
        self.read_us = self.read_us.max(read_us);
        let msg = r.str("msg").unwrap_or("");
        let at = r.str("ts").and_then(super::cli::parse_ts).unwrap_or(read_us);
        *self.counts.entry(app).or_default().entry(msg.to_owned()).or_default() += 1;
        let actor = r.str("actor").unwrap_or("").to_owned();
        let level = r.str("level").unwrap_or("");
        // slog writes levels as four letters (`ERRO`, `CRIT`); the long forms are accepted too.
        if FAILURES.contains(&msg) || matches!(level, "ERRO" | "CRIT" | "ERROR" | "CRITICAL") {
            self.failure(app, at, &actor, msg, raw);
        }
        match msg {
            "actor started" | "actor restarted" => self.started_process(app, at, &actor, r, msg == "actor restarted"),
            "actor exited; restarting it" => {
                let key = (app, actor.clone());
                match self.expected_exits.get_mut(&key) {
                    Some(n) if *n > 0 => *n -= 1,
                    _ => self.violate(
                        at,
                        "actors exit only when killed",
                        format!("{} actor {actor} exited by itself", app.label()),
                        vec![raw.to_owned()],
                    ),
                }
            }
            "group view" if app == App::Microgrid => self.group_view(at, &actor, r, raw),
            "leader elected" if app == App::Microgrid => self.leader_elected(at, &actor, r, raw),
            "controller active" => {
                if let Some(me) = r.str("me") {
                    self.member_actor.insert(me.to_owned(), actor);
                }
            }
            "vote result" => self.vote_result(at, &actor, r, raw),
            "vote lost" => {
                if let Some(vote) = r.str("vote") {
                    self.lost.insert(vote.to_owned());
                }
            }
            "action carried out" => self.action(at, &actor, r, raw),
            "estimate received" => self.estimate(at, r),
            "feeder balanced" if app == App::Microgrid => self.balanced(at, &actor, r, raw),
            _ => {}
        }
    }

    fn failure(&mut self, app: App, at: u64, actor: &str, msg: &str, raw: &str) {
        let killed =
            self.last_kill.get(&(app, actor.to_owned())).is_some_and(|k| at >= *k && at - *k <= KILL_EXCUSE_US);
        if killed {
            self.note(format!("{:.1}s excused right after a kill of {actor}: {raw}", self.secs(at)));
        } else {
            let who = if actor.is_empty() { "its launcher".to_owned() } else { format!("actor {actor}") };
            self.violate(
                at,
                "no failures but right after a kill",
                format!("{} {who}: {msg}", app.label()),
                vec![raw.to_owned()],
            );
        }
    }

    fn started_process(&mut self, app: App, at: u64, actor: &str, r: &Json, restarted: bool) {
        let Some(pid) = r.u64("pid").and_then(|p| u32::try_from(p).ok()) else {
            return;
        };
        let key = (app, actor.to_owned());
        let generation = self.processes.get(&key).map_or(0, |p| p.generation) + 1;
        self.processes.insert(key.clone(), Process { pid, born_us: at, generation, alive: true, stopped: false });
        if restarted {
            *self.restarts.entry(key).or_default() += 1;
            let bound = self.bound(app);
            for i in 0..self.pending.len() {
                let p = &mut self.pending[i];
                if p.app == app && p.since_us.is_none() && p.victim.as_deref() == Some(actor) {
                    let fault = p.fault;
                    p.since_us = Some(at);
                    p.deadline_us = at + bound;
                    if app == App::Microgrid {
                        p.deadline_us += HEAR_EXTRA_US;
                    }
                    if let Some(f) = fault.and_then(|f| self.faults.get_mut(f)) {
                        f.restarted_us = Some(at);
                    }
                }
            }
            self.check_recoveries(self.read_us);
        }
    }

    fn bound(&self, app: App) -> u64 {
        match app {
            App::Estimator => self.flow_bound_us,
            App::Microgrid => self.leader_bound_us,
        }
    }

    fn group_view(&mut self, at: u64, actor: &str, r: &Json, raw: &str) {
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

    fn leader_elected(&mut self, at: u64, _actor: &str, r: &Json, raw: &str) {
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
    fn leader_named(&mut self, at: u64, term: u64, leader: &str, raw: &str) {
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

    fn vote_result(&mut self, at: u64, actor: &str, r: &Json, raw: &str) {
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

    fn action(&mut self, at: u64, actor: &str, r: &Json, raw: &str) {
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

    fn estimate(&mut self, at: u64, r: &Json) {
        let (Some(source), Some(seq)) = (r.str("source"), r.u64("seq")) else {
            return;
        };
        let estimator_pid = self.processes.get(&(App::Estimator, "Estimator".to_owned())).map(|p| p.pid);
        for i in 0..self.pending.len() {
            let p = &self.pending[i];
            if p.app != App::Estimator || p.since_us.is_none_or(|s| at < s) {
                continue;
            }
            let new = p.baseline.get(source).is_none_or(|last| seq > *last);
            // After a kill of the Estimator, only the new process's estimates show the flow resumed.
            let killed_estimator = p.victim.as_deref() == Some("Estimator")
                && p.fault.and_then(|f| self.faults.get(f)).is_some_and(|f| f.kind == FaultKind::Kill);
            let from_new = !killed_estimator || estimator_pid.is_some_and(|pid| source.ends_with(&format!(":{pid}")));
            if new && from_new {
                self.recovered(i, at);
            }
        }
        self.pending.retain(|p| p.deadline_us != 0);
        let last = self.estimate_seq.entry(source.to_owned()).or_default();
        *last = (*last).max(seq);
    }

    /// The leader all five units name, if they agree on one that is one of them, and the time of
    /// the latest of their views.
    fn agreement(&self, units: &[&str]) -> Option<(String, u64)> {
        let views: Vec<&View> = units.iter().map(|u| self.views.get(*u)).collect::<Option<_>>()?;
        let leader = &views.first()?.leader;
        let agree = leader != "none" && views.iter().all(|v| &v.leader == leader);
        let at = views.iter().map(|v| v.at_us).max()?;
        (agree && views.iter().any(|v| &v.me == leader)).then(|| (leader.clone(), at))
    }

    /// Marks pending check `i` recovered at `at` (it is removed by the caller's `retain`).
    fn recovered(&mut self, i: usize, at: u64) {
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
    fn check_recoveries(&mut self, now: u64) {
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

    /// The leader's `feeder balanced`: a pending microgrid check whose units agree on a leader
    /// is met when that leader heard from all five units.
    fn balanced(&mut self, at: u64, actor: &str, r: &Json, raw: &str) {
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

    /// Forgets votes and actions first seen long ago (keeps the soak's own memory flat).
    pub(crate) fn forget_old(&mut self, now_us: u64) {
        self.votes.retain(|_, v| v.at_us + FORGET_US >= now_us);
        self.actions.retain(|_, a| a.at_us + FORGET_US >= now_us);
    }

    /// Every actor's current process.
    pub(crate) fn processes(&self) -> impl Iterator<Item = (&(App, String), &Process)> {
        self.processes.iter()
    }

    /// How many times the soak killed `actor` since `since_us`.
    pub(crate) fn kills_since(&self, app: App, actor: &str, since_us: u64) -> usize {
        self.faults
            .iter()
            .filter(|f| f.app == app && f.actor == actor && f.kind == FaultKind::Kill && f.at_us >= since_us)
            .count()
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

    /// The report's `counts`.
    pub(crate) fn counts_json(&self) -> Json {
        let msgs = |app: App| {
            Json::Obj(
                self.counts
                    .get(&app)
                    .map(|c| c.iter().map(|(m, n)| (m.clone(), Json::from(*n))).collect())
                    .unwrap_or_default(),
            )
        };
        let by_stage = Json::Obj(
            self.vote_counts.iter().map(|((s, o), n)| (format!("{s} {}", o.to_lowercase()), Json::from(*n))).collect(),
        );
        let restarts = Json::Obj(
            self.restarts.iter().map(|((a, actor), n)| (format!("{}/{actor}", a.label()), (*n).into())).collect(),
        );
        let kills = self.faults.iter().filter(|f| f.kind == FaultKind::Kill).count();
        obj([
            (
                "estimator",
                obj([
                    ("records_per_kind", msgs(App::Estimator)),
                    ("estimates_received", self.count(App::Estimator, "estimate received").into()),
                    ("aggregates", self.count(App::Estimator, "aggregate").into()),
                    ("text_lines", self.text_lines.get(&App::Estimator).copied().unwrap_or(0).into()),
                ]),
            ),
            (
                "microgrid",
                obj([
                    (
                        "votes",
                        obj([
                            ("yes", self.votes_with("Yes").into()),
                            ("no", self.votes_with("No").into()),
                            ("timeout", self.votes_with("Timeout").into()),
                            ("lost", self.lost.len().into()),
                            ("by_stage", by_stage),
                        ]),
                    ),
                    ("actions_carried_out", self.actions_done.into()),
                    ("action_records", self.action_records.into()),
                    ("actions_apart_excused", self.excused_actions.into()),
                    ("elections", self.elections.len().into()),
                    ("max_term", self.term_leader.keys().next_back().copied().unwrap_or(0).into()),
                    ("records_per_kind", msgs(App::Microgrid)),
                    ("text_lines", self.text_lines.get(&App::Microgrid).copied().unwrap_or(0).into()),
                ]),
            ),
            ("restarts", self.restarts_total().into()),
            ("restarts_per_actor", restarts),
            (
                "faults",
                obj([
                    ("total", self.faults.len().into()),
                    ("kill", kills.into()),
                    ("stop", (self.faults.len() - kills).into()),
                    ("recovered", self.faults.iter().filter(|f| f.outcome == Outcome::Recovered).count().into()),
                    ("superseded", self.faults.iter().filter(|f| f.outcome == Outcome::Superseded).count().into()),
                    ("missed", self.faults.iter().filter(|f| f.outcome == Outcome::Missed).count().into()),
                ]),
            ),
        ])
    }

    /// The report's `faults`: one object per fault.
    pub(crate) fn faults_json(&self) -> Json {
        let ms = |from: u64, to: Option<u64>| to.map(|t| t.saturating_sub(from) / 1000);
        Json::Arr(
            self.faults
                .iter()
                .enumerate()
                .map(|(n, f)| {
                    let (kind, stop_ms) = match f.kind {
                        FaultKind::Kill => ("kill", None),
                        FaultKind::Stop(ms) => ("stop", Some(ms)),
                    };
                    let since = f.restarted_us.or(f.continued_us).unwrap_or(f.at_us);
                    obj([
                        ("n", (n + 1).into()),
                        ("at_s", self.secs(f.at_us).into()),
                        ("app", f.app.label().into()),
                        ("actor", f.actor.as_str().into()),
                        ("pid", u64::from(f.pid).into()),
                        ("kind", kind.into()),
                        ("stop_ms", stop_ms.into()),
                        ("was_leader", f.was_leader.into()),
                        ("restart_ms", ms(f.at_us, f.restarted_us).into()),
                        ("failover_ms", ms(f.at_us, f.failover_us).into()),
                        ("leader_agreed_ms_after_fault", ms(f.at_us, f.agreed_us).into()),
                        ("recovered_ms_after_fault", ms(f.at_us, f.recovered_us).into()),
                        ("recovered_ms_after_restart_or_continue", ms(since, f.recovered_us).into()),
                        (
                            "outcome",
                            match f.outcome {
                                Outcome::Pending => "pending",
                                Outcome::Recovered => "recovered",
                                Outcome::Superseded => "superseded",
                                Outcome::Missed => "MISSED",
                            }
                            .into(),
                        ),
                    ])
                })
                .collect(),
        )
    }

    /// The report's `elections`.
    pub(crate) fn elections_json(&self) -> Json {
        Json::Arr(
            self.elections
                .iter()
                .map(|e| {
                    obj([
                        ("term", e.term.into()),
                        ("leader", e.leader.as_str().into()),
                        ("actor", e.actor.clone().or_else(|| self.member_actor.get(&e.leader).cloned()).into()),
                        ("at_s", self.secs(e.at_us).into()),
                    ])
                })
                .collect(),
        )
    }

    /// The report's `startup`: seconds from the soak's start to each app being whole.
    pub(crate) fn startup_json(&self) -> Json {
        Json::Obj(
            App::ALL
                .iter()
                .map(|a| (a.label().to_owned(), self.started.get(a).map(|t| self.secs(*t)).into()))
                .collect(),
        )
    }

    /// The report's `violations`.
    pub(crate) fn violations_json(&self) -> Json {
        Json::Arr(
            self.violations
                .iter()
                .map(|v| {
                    obj([
                        ("at_s", self.secs(v.at_us).into()),
                        ("invariant", v.invariant.into()),
                        ("detail", v.detail.as_str().into()),
                        ("records", Json::Arr(v.records.iter().map(|r| Json::from(r.as_str())).collect())),
                    ])
                })
                .collect(),
        )
    }

    /// The report's `notes`: what was excused or superseded, and stray lines.
    pub(crate) fn notes_json(&self) -> Json {
        let mut notes: Vec<Json> = self.notes.iter().map(|n| Json::from(n.as_str())).collect();
        if self.dropped_notes > 0 {
            notes.push(format!("… and {} more notes", self.dropped_notes).into());
        }
        Json::Arr(notes)
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

#[cfg(test)]
mod tests {
    use super::{App, FaultKind, Monitor, Outcome};
    use crate::json::Json;

    /// 2001-09-09T01:46:40Z; the tests stay within that day.
    const T0: u64 = 1_000_000_000_000_000;

    fn ts(us: u64) -> String {
        let secs = us / 1_000_000;
        let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
        assert_eq!(secs / 86_400, T0 / 1_000_000 / 86_400, "tests stay on T0's day");
        format!("2001-09-09T{h:02}:{m:02}:{s:02}.{:06}Z", us % 1_000_000)
    }

    fn feed(m: &mut Monitor, app: App, at: u64, fields: &str) {
        let line = format!(r#"{{"level":"INFO","ts":"{}",{fields}}}"#, ts(at));
        let r = Json::parse(&line).unwrap();
        m.record(app, at, &r, &line);
    }

    fn view(m: &mut Monitor, at: u64, unit: u32, me: &str, leader: &str, term: u64) {
        feed(
            m,
            App::Microgrid,
            at,
            &format!(r#""msg":"group view","actor":"Unit{unit}","me":"{me}","leader":"{leader}","term":{term}"#),
        );
    }

    fn started(m: &mut Monitor, app: App, at: u64, actor: &str, pid: u32, again: bool) {
        let msg = if again { "actor restarted" } else { "actor started" };
        feed(m, app, at, &format!(r#""msg":"{msg}","actor":"{actor}","pid":{pid}"#));
    }

    fn balance(m: &mut Monitor, at: u64, unit: u32, units: u32) {
        feed(m, App::Microgrid, at, &format!(r#""msg":"feeder balanced","actor":"Unit{unit}","units":{units}"#));
    }

    /// Five units that agree on m1 in term 1, at T0 + 1 s; m1 hears all five at T0 + 1.5 s.
    fn agreed() -> Monitor {
        let mut m = Monitor::new(T0, 3_000_000, 5_000_000);
        for u in 1..=5 {
            started(&mut m, App::Microgrid, T0, &format!("Unit{u}"), 100 + u, false);
            view(&mut m, T0 + 1_000_000, u, &format!("m{u}"), "m1", 1);
        }
        balance(&mut m, T0 + 1_500_000, 1, 5);
        m
    }

    #[test]
    fn the_stamps_of_the_tests_are_right() {
        assert_eq!(crate::cli::parse_ts(&ts(T0 + 1_500)), Some(T0 + 1_500));
    }

    #[test]
    fn the_start_and_a_killed_leader_recover_with_their_times() {
        let mut m = agreed();
        assert!(m.started.contains_key(&App::Microgrid));
        let f = m.fault_injected(T0 + 5_000_000, App::Microgrid, "Unit1", 101, FaultKind::Kill);
        assert!(m.faults[f].was_leader);
        // A late record of the killed process does not count.
        view(&mut m, T0 + 4_900_000, 1, "m1", "m1", 1);
        assert!(!m.views.contains_key("Unit1"));
        feed(&mut m, App::Microgrid, T0 + 5_050_000, r#""msg":"actor exited; restarting it","actor":"Unit1""#);
        for u in 2..=5 {
            view(&mut m, T0 + 5_400_000, u, &format!("m{u}"), "m3", 2);
        }
        assert_eq!(m.faults[f].failover_us, Some(T0 + 5_400_000));
        started(&mut m, App::Microgrid, T0 + 5_150_000, "Unit1", 201, true);
        assert_eq!(m.faults[f].outcome, Outcome::Pending);
        view(&mut m, T0 + 5_600_000, 1, "n1", "m3", 2);
        assert_eq!(m.faults[f].agreed_us, Some(T0 + 5_600_000));
        // The new leader must also hear from all five: a balance of four, or one from another
        // unit, does not do.
        balance(&mut m, T0 + 6_000_000, 3, 4);
        balance(&mut m, T0 + 6_100_000, 2, 5);
        assert_eq!(m.faults[f].outcome, Outcome::Pending);
        balance(&mut m, T0 + 7_000_000, 3, 5);
        assert_eq!(m.faults[f].outcome, Outcome::Recovered);
        assert_eq!(m.faults[f].recovered_us, Some(T0 + 7_000_000));
        m.tick(T0 + 60_000_000);
        // The estimator never started: that is the only violation.
        let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
        assert_eq!(v, ["the apps start"], "{:?}", m.violations);
        assert_eq!(m.elections.len(), 2);
        assert_eq!(m.restarts_total(), 1);
    }

    #[test]
    fn a_leader_that_stops_hearing_a_unit_after_a_fault_is_a_violation() {
        let mut m = agreed();
        let f = m.fault_injected(T0 + 5_000_000, App::Microgrid, "Unit3", 103, FaultKind::Stop(700));
        m.continued(f, T0 + 5_700_000);
        // Unit3 loses and finds the same leader again; its view is fine, but the leader hears four.
        view(&mut m, T0 + 5_701_000, 3, "m3", "none", 1);
        view(&mut m, T0 + 5_702_000, 3, "m3", "m1", 1);
        m.tick(T0 + 6_100_000);
        assert_eq!(m.faults[f].agreed_us, Some(T0 + 5_702_000));
        for k in 0..4 {
            balance(&mut m, T0 + 7_500_000 + k * 2_000_000, 1, 4);
        }
        assert_eq!(m.faults[f].outcome, Outcome::Pending);
        m.tick(T0 + 5_700_000 + 3_000_000 + super::HEAR_EXTRA_US + 400_000);
        assert_eq!(m.faults[f].outcome, Outcome::Missed);
        let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
        assert_eq!(v, ["the leader hears from every unit soon after a fault"]);
        assert!(m.violations[0].records.last().is_some_and(|r| r.contains(r#""units":4"#)));
    }

    #[test]
    fn two_leaders_in_a_term_and_a_self_exit_are_violations() {
        let mut m = agreed();
        view(&mut m, T0 + 2_000_000, 2, "m2", "m2", 1);
        feed(&mut m, App::Microgrid, T0 + 2_100_000, r#""msg":"actor exited; restarting it","actor":"Unit3""#);
        let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
        assert_eq!(v, ["one leader per term", "actors exit only when killed"]);
        assert!(m.violations[0].detail.contains("same time"), "{}", m.violations[0].detail);
        assert_eq!(m.violations[0].records.len(), 2);
    }

    #[test]
    fn votes_and_actions_must_agree() {
        let mut m = agreed();
        let result = |m: &mut Monitor, unit: u32, outcome: &str| {
            let f = format!(
                r#""msg":"vote result","actor":"Unit{unit}","vote":"m1#7","stage":"value","setpoint_kw":6.0,"outcome":"{outcome}""#
            );
            feed(m, App::Microgrid, T0 + 2_000_000, &f);
        };
        result(&mut m, 1, "Yes");
        result(&mut m, 2, "Yes");
        assert!(m.violations.is_empty());
        result(&mut m, 3, "Timeout");
        assert_eq!(m.violations.len(), 1);
        let action = |m: &mut Monitor, unit: u32, now: u64| {
            let f = format!(
                r#""msg":"action carried out","actor":"Unit{unit}","vote":"m1#8","setpoint_kw":6.0,"now_us":{now}"#
            );
            feed(m, App::Microgrid, now, &f);
        };
        action(&mut m, 1, T0 + 3_000_000);
        action(&mut m, 2, T0 + 3_040_000);
        assert_eq!(m.violations.len(), 1);
        action(&mut m, 3, T0 + 3_060_000);
        assert_eq!(m.violations.len(), 2);
        assert_eq!(m.violations[1].invariant, "units carry out an action within 50 ms of each other");
        action(&mut m, 3, T0 + 3_060_100);
        assert_eq!(m.violations[2].invariant, "an action is carried out once per unit");
        assert_eq!(m.actions_done, 1);
    }

    #[test]
    fn a_unit_late_because_it_was_stopped_is_excused() {
        let mut m = agreed();
        let action = |m: &mut Monitor, vote: u32, unit: u32, now: u64| {
            let f = format!(
                r#""msg":"action carried out","actor":"Unit{unit}","vote":"m1#{vote}","setpoint_kw":7.5,"now_us":{now}"#
            );
            feed(m, App::Microgrid, now, &f);
        };
        // Unit4 was stopped from 2.9 s to 3.4 s over the agreed time (3 s): it switches on SIGCONT.
        let f = m.fault_injected(T0 + 2_900_000, App::Microgrid, "Unit4", 104, FaultKind::Stop(500));
        m.continued(f, T0 + 3_400_000);
        for unit in [1, 2, 3, 5] {
            action(&mut m, 9, unit, T0 + 3_000_000 + u64::from(unit));
        }
        action(&mut m, 9, 4, T0 + 3_401_000);
        assert!(m.violations.is_empty(), "{:?}", m.violations);
        assert_eq!(m.excused_actions, 1);
        // Unit5 late without having been stopped is not excused.
        for unit in [1, 2, 3, 4] {
            action(&mut m, 10, unit, T0 + 5_000_000 + u64::from(unit));
        }
        let f = format!(
            r#""msg":"action carried out","actor":"Unit5","vote":"m1#10","setpoint_kw":7.5,"now_us":{}"#,
            T0 + 5_300_000
        );
        feed(&mut m, App::Microgrid, T0 + 5_300_000, &f);
        assert_eq!(m.violations.len(), 1, "{:?}", m.violations);
        assert!(m.violations[0].detail.contains("Unit5 carried it out 300.0 ms after"), "{}", m.violations[0].detail);
    }

    #[test]
    fn a_stopped_estimator_must_send_new_estimates_in_time() {
        let mut m = Monitor::new(T0, 3_000_000, 5_000_000);
        started(&mut m, App::Estimator, T0, "Estimator", 11, false);
        let est = |m: &mut Monitor, at: u64, source: &str, seq: u64| {
            let f = format!(r#""msg":"estimate received","actor":"Aggregator","source":"{source}","seq":{seq}"#);
            feed(m, App::Estimator, at, &f);
        };
        est(&mut m, T0 + 1_000_000, "Estimator.filter@h:11", 1);
        assert!(m.started.contains_key(&App::Estimator));
        let f = m.fault_injected(T0 + 2_000_000, App::Estimator, "Estimator", 11, FaultKind::Stop(500));
        m.continued(f, T0 + 2_500_000);
        // The same reading again is not the flow resuming; a newer one is.
        est(&mut m, T0 + 2_600_000, "Estimator.filter@h:11", 1);
        assert_eq!(m.faults[f].outcome, Outcome::Pending);
        est(&mut m, T0 + 3_000_000, "Estimator.filter@h:11", 2);
        assert_eq!(m.faults[f].outcome, Outcome::Recovered);
        // A kill: only the new process's estimates count; none come, so the check is missed.
        let k = m.fault_injected(T0 + 10_000_000, App::Estimator, "Estimator", 11, FaultKind::Kill);
        started(&mut m, App::Estimator, T0 + 10_100_000, "Estimator", 12, true);
        est(&mut m, T0 + 10_200_000, "Estimator.filter@h:11", 3);
        assert_eq!(m.faults[k].outcome, Outcome::Pending);
        m.tick(T0 + 16_000_000);
        assert_eq!(m.faults[k].outcome, Outcome::Missed);
        let v: Vec<&str> = m.violations.iter().map(|v| v.invariant).collect();
        assert!(v.contains(&"the estimates flow again soon after a fault"), "{v:?}");
    }

    #[test]
    fn failures_are_excused_only_right_after_a_kill() {
        let mut m = agreed();
        let panicked = r#""msg":"handler panicked; the component goes on","level":"ERRO","actor":"Unit2""#;
        let line = format!(r#"{{"ts":"{}",{panicked}}}"#, ts(T0 + 2_000_000));
        m.record(App::Microgrid, T0, &Json::parse(&line).unwrap(), &line);
        assert_eq!(m.violations.len(), 1);
        m.fault_injected(T0 + 3_000_000, App::Microgrid, "Unit2", 102, FaultKind::Kill);
        let line = format!(r#"{{"ts":"{}",{panicked}}}"#, ts(T0 + 3_500_000));
        m.record(App::Microgrid, T0, &Json::parse(&line).unwrap(), &line);
        assert_eq!(m.violations.len(), 1);
        m.text_line(App::Microgrid, T0, "thread 'x' panicked at src/lib.rs:1:1");
        assert_eq!(m.violations.len(), 2);
    }
}
