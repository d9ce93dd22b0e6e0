//! The microgrid example as a user runs it: `microgrid run` starts the five units as five
//! processes. They agree on one leader, pass a setpoint vote and an action vote, and carry the
//! action out together; when the leader's process is killed, the survivors elect a new leader
//! within a second and the restarted unit follows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/microgrid/microgrid.depl");
const UNITS: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];
/// How long the units may take to agree on a leader after `run`, and to finish a vote round.
const WAIT: Duration = Duration::from_secs(15);
/// With Cohort's default group timing (heartbeat 100 ms, election timeout 300–500 ms), a killed
/// leader is replaced within this.
const FAILOVER: Duration = Duration::from_secs(1);
/// The agreed action is carried out on every unit within this of each other.
const TOGETHER: Duration = Duration::from_millis(50);

/// The tests run one at a time: each runs five actor processes, and the failover time is
/// measured against a tight bound.
static SERIAL: Mutex<()> = Mutex::new(());

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An actor's latest `group view`, and when it was read.
#[derive(Debug, Clone)]
struct View {
    leader: String,
    me: String,
    at: Instant,
}

/// What the records told so far.
#[derive(Debug, Default)]
struct State {
    /// Each actor's latest view of the group.
    views: BTreeMap<String, View>,
    /// Each actor's process, as the launcher started (or restarted) it, and when that was logged.
    pids: BTreeMap<String, (i32, Instant)>,
}

impl State {
    fn learn(&mut self, at: Instant, r: &Value) {
        let actor = r["actor"].as_str().unwrap_or_default().to_owned();
        match r["msg"].as_str() {
            Some("group view") => {
                let text = |key: &str| r[key].as_str().unwrap().to_owned();
                self.views.insert(actor, View { leader: text("leader"), me: text("me"), at });
            }
            Some("actor started" | "actor restarted") => {
                self.pids.insert(actor, (i32::try_from(r["pid"].as_i64().unwrap()).unwrap(), at));
            }
            _ => {}
        }
    }

    /// The leader every one of `actors` names, if they agree on one that is one of them, and
    /// when the last of them came to name it.
    fn agreed(&self, actors: &[&str]) -> Option<(String, Instant)> {
        let views: Vec<&View> = actors.iter().map(|a| self.views.get(*a)).collect::<Option<_>>()?;
        let leader = &views.first()?.leader;
        let agree = views.iter().all(|v| &v.leader == leader);
        let since = views.iter().map(|v| v.at).max()?;
        (agree && views.iter().any(|v| &v.me == leader)).then(|| (leader.clone(), since))
    }

    /// The actor whose member is `member`.
    fn actor_of(&self, member: &str) -> Option<String> {
        self.views.iter().find(|(_, v)| v.me == member).map(|(a, _)| a.clone())
    }
}

/// A running `microgrid run`, whose JSON log records arrive on a channel, stamped when read.
struct App {
    child: Child,
    records: Receiver<(Instant, Value)>,
    state: State,
    started: Instant,
}

impl App {
    fn start() -> App {
        let daemon = format!("tcp://127.0.0.1:{}", free_port());
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_microgrid"))
            .args(["run", "--deployment", DEPLOYMENT, "--daemon", &daemon, "--interface", "lo", "--log-format", "json"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, records) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(record) = serde_json::from_str::<Value>(&line) {
                    if tx.send((Instant::now(), record)).is_err() {
                        break;
                    }
                }
            }
        });
        App { child, records, state: State::default(), started }
    }

    /// Returns what `until` finds: in the state as it is, else after each record read (which it
    /// also gets); panics after `within`.
    fn wait<T>(&mut self, what: &str, within: Duration, mut until: impl FnMut(&State, &Value) -> Option<T>) -> T {
        let give_up = Instant::now() + within;
        if let Some(found) = until(&self.state, &Value::Null) {
            return found;
        }
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok((at, record)) => {
                    self.state.learn(at, &record);
                    if let Some(found) = until(&self.state, &record) {
                        return found;
                    }
                }
                Err(e) => panic!("not {what} within {within:?} ({e}); views: {:#?}", self.state.views),
            }
        }
    }

    /// Waits until all five units name the same leader; returns it, and since when they do.
    fn agreement(&mut self, within: Duration) -> (String, Instant) {
        self.wait("all five units agreeing on a leader", within, |s, _| s.agreed(&UNITS))
    }
}

impl Drop for App {
    /// Stops the app as Ctrl-C would (its actors leave the group and unregister while discovery
    /// still runs), and kills it if it has not stopped within its 5 s grace.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let give_up = Instant::now() + Duration::from_secs(6);
        while Instant::now() < give_up {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(r: &Value, key: &str) -> String {
    r[key].as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_units_agree_on_a_leader_vote_and_switch_together() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut app = App::start();
    let (leader, at) = app.agreement(WAIT);
    let leader_actor = app.state.actor_of(&leader).unwrap();
    eprintln!("microgrid: all 5 units agree on leader {leader} ({leader_actor}) {:?} after run", at - app.started);

    // Per vote: the units that learned a Yes, and the action records of the units.
    let mut value_yes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut action_yes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut carried: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let vote = app.wait("an action carried out by all five units", WAIT, |_, r| {
        let (actor, vote) = (text(r, "actor"), text(r, "vote"));
        match r["msg"].as_str() {
            Some("vote result") if r["outcome"] == "Yes" => {
                let passed = if r["stage"] == "value" { &mut value_yes } else { &mut action_yes };
                passed.entry(vote).or_default().insert(actor);
            }
            Some("action carried out") => {
                let by = carried.entry(vote.clone()).or_default();
                by.insert(actor, r.clone());
                if by.len() == UNITS.len() {
                    return Some(vote);
                }
            }
            _ => {}
        }
        None
    });
    assert!(
        value_yes.values().any(|units| units.len() == UNITS.len()),
        "no setpoint vote passed on all five units before the action: {value_yes:?}"
    );
    assert_eq!(
        action_yes.get(&vote).map(BTreeSet::len),
        Some(UNITS.len()),
        "the action vote passed on all: {action_yes:?}"
    );
    let done = &carried[&vote];
    let now_us: Vec<u64> = done.values().map(|r| r["now_us"].as_u64().unwrap()).collect();
    let late_us: Vec<u64> = done.values().map(|r| r["late_us"].as_u64().unwrap()).collect();
    let setpoints: BTreeSet<String> = done.values().map(|r| r["setpoint_kw"].to_string()).collect();
    assert_eq!(setpoints.len(), 1, "every unit switched to the same setpoint: {done:?}");
    let spread = Duration::from_micros(now_us.iter().max().unwrap() - now_us.iter().min().unwrap());
    eprintln!(
        "microgrid: action {vote} (setpoint {}) carried out on all 5 units within {spread:?}; late by {late_us:?} µs",
        setpoints.first().unwrap()
    );
    assert!(spread <= TOGETHER, "the units switched {spread:?} apart: {done:?}");
}

#[test]
fn a_killed_leader_is_replaced_within_a_second_and_the_restarted_unit_follows() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut app = App::start();
    let (old, _) = app.agreement(WAIT);
    let victim = app.state.actor_of(&old).unwrap();
    let (pid, _) = app.state.pids[&victim];
    let survivors: Vec<&str> = UNITS.iter().copied().filter(|u| *u != victim).collect();

    // kill -9 the leader's actor process (a child of the launcher).
    // SAFETY: kill has no memory-safety preconditions; the pid is an actor process the
    // launcher started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let killed = Instant::now();
    let (new, at) = app.wait("a new leader known to the four survivors", WAIT, |s, _| {
        s.agreed(&survivors).filter(|(leader, _)| *leader != old)
    });
    let failover = at - killed;
    let new_actor = app.state.actor_of(&new).unwrap();
    eprintln!("microgrid: leader {victim} killed; all 4 survivors follow {new_actor} after {failover:?}");
    assert!(failover <= FAILOVER, "failover took {failover:?}, more than {FAILOVER:?}");

    // The launcher restarts the killed unit, which joins as a new member and follows the leader.
    let (again, at) = app.wait("the restarted unit and the others agreeing on a leader", WAIT, |s, _| {
        s.agreed(&UNITS).filter(|_| s.views[&victim].me != old && s.pids[&victim].0 != pid)
    });
    let restarted = app.state.pids[&victim].1;
    eprintln!(
        "microgrid: restarted {victim} follows leader {} after {:?}",
        app.state.actor_of(&again).unwrap(),
        at - restarted
    );
}
