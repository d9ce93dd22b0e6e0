//! Reading the apps' standard error: a line is a JSON log record (an object) or stray text. A
//! record is counted, checked for failures and handed on by its message; the launchers' records
//! tell the actors' processes.

use serde_json::{Map, Value};

use super::recovery::HEAR_EXTRA_US;
use super::{App, Monitor, Process};

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

/// A failure record of an actor within this after the soak killed it is excused (µs).
const KILL_EXCUSE_US: u64 = 3_000_000;

/// One JSON log record: an object of strings, numbers and booleans (`msg`, `level`, `ts`,
/// `actor` and the message's own fields).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    fields: Map<String, Value>,
}

impl Record {
    /// The record on `line`; `None` when the line is not a JSON object.
    pub(crate) fn parse(line: &str) -> Option<Record> {
        match serde_json::from_str(line) {
            Ok(Value::Object(fields)) => Some(Record { fields }),
            _ => None,
        }
    }

    /// The string field `key`.
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key)?.as_str()
    }

    /// The numeric field `key` as an unsigned integer.
    pub(crate) fn u64(&self, key: &str) -> Option<u64> {
        self.fields.get(key)?.as_u64()
    }

    /// The numeric field `key`.
    pub(crate) fn f64(&self, key: &str) -> Option<f64> {
        self.fields.get(key)?.as_f64()
    }
}

impl Monitor {
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
    pub(crate) fn record(&mut self, app: App, read_us: u64, r: &Record, raw: &str) {
        self.read_us = self.read_us.max(read_us);
        let msg = r.str("msg").unwrap_or("");
        let at = r.str("ts").and_then(crate::cli::parse_ts).unwrap_or(read_us);
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

    /// A failure record: excused right after the soak killed that actor, a violation otherwise.
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

    /// A launcher's `actor started` or `actor restarted`: the actor's new process; a restart
    /// starts the clock of the checks waiting for it.
    fn started_process(&mut self, app: App, at: u64, actor: &str, r: &Record, restarted: bool) {
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
}
