//! The fault-injection suite: real processes of the estimator and microgrid examples and of
//! `cohort-probe`, hurt the ways production hurts them, with the recovery each fault must get and
//! the bound it must get it within. `cargo test -p cohort-tests --test faults` runs it all;
//! each fault prints one `FAULT` line with its measured recovery time and its bound (the numbers
//! in `docs/operations.md`). Random moments and victims are seeded: the seed is printed, and
//! `COHORT_FAULT_SEED=N` replays a run.
//!
//! | test | injects | expects |
//! |---|---|---|
//! | `killed_actors_...` | kill -9 of random actors at random moments | restart within the backoff, flows resume, no component thread dies |
//! | `a_restarted_discovery_daemon_...` | kill -9 of a standalone discovery daemon, restart on its endpoint | every actor registers again, no live port is cut, flows never stop |
//! | `a_killed_launcher_...` | kill -9 of the launchers | their actors exit (parent-death signal), a new launcher starts cleanly; the host's daemon the killed launcher started serves it, and exits once idle |
//! | `a_stopped_subscriber_...` | SIGSTOP of one subscriber of a fast publisher | the publisher keeps its rate and never blocks; the other subscriber keeps receiving |
//! | `requests_to_a_stopped_or_restarted_replier_...` | SIGSTOP, then kill -9 and restart of a replier | requests end in `TimedOut`, never hang; every request has exactly one outcome |
//! | `a_stopped_group_leader_...` | SIGSTOP of the microgrid's leader, then SIGCONT | a new leader within the bound; the old one follows it (fencing), its timer reports missed ticks |
//! | `wall_clock_jumps_...`, `timers_...` | wall-clock jumps (injected clocks) | agreed actions never early or twice; timers unaffected |
//! | `the_estimator_across_a_partition_...` | the link of one of two network-namespace hosts cut, then healed | aggregates resume after the heal |
//! | `a_paused_discovery_daemon_...` | SIGSTOP of the discovery daemon past the liveness timeout | no live port is cut |
//!
//! Network partitions are `tests/tests/partition.rs` (the microgrid group) and
//! `tests/tests/multihost.rs` (discovery across hosts); `the_estimator_across_a_partition_...`
//! here adds the estimator's flow across two network-namespace hosts (root only; it skips with a
//! message otherwise, and fails instead with `COHORT_REQUIRE_NETNS=1`).
//!
//! The tests that run processes run one at a time: their bounds are tight, and the machine may
//! have two cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cohort_runtime::launcher::{Decision, RestartPolicy, RestartState};
use cohort_tests::skip;
use cohort_tests::{
    exited, free_port, host_key_dirs, memory_daemon, signal, unix_nanos, AppRun, Proc, Record, Rng, TempDir,
};

const ESTIMATOR: &str = env!("CARGO_BIN_EXE_cohort-estimator");
const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const ESTIMATOR_MODEL: &str = include_str!("../../apps/estimator/estimator.riaps");
const ESTIMATOR_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/estimator/estimator.depl");
const MICROGRID_DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.depl");
const SEED_VARIABLE: &str = "COHORT_FAULT_SEED";

const UNITS: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];
const ESTIMATOR_ACTORS: [&str; 2] = ["Estimator", "Aggregator"];

/// How long an app may take to start and show its flow (the first aggregate, or five units
/// agreeing on a leader).
const START: Duration = Duration::from_secs(15);
/// How long after its restart delay the launcher may take to start an actor again (its 20 ms
/// supervision tick, fork and exec, and the record reaching the test).
const RESPAWN: Duration = Duration::from_millis(300);
/// How long a started actor may take to be serving: process start, discovery, its components.
const ACTOR_START: Duration = Duration::from_millis(1000);
/// With the default group timing (heartbeat 100 ms, election timeout 300–500 ms), a lost leader
/// is replaced within this (the microgrid's bound).
const FAILOVER: Duration = Duration::from_secs(1);
/// The estimator's clocks in these tests (the model's are 1 s and 3 s): a reading every 50 ms,
/// an aggregate every 250 ms.
const SENSOR_MS: u64 = 50;
const WAKEUP_MS: u64 = 250;
/// After an Estimator or Aggregator (re)starts, its flow shows in an aggregate within this: its
/// start, a sensor tick, the query, the estimate, and the next wakeup.
const FLOW: Duration = Duration::from_millis(ACTOR_START.as_millis() as u64 + SENSOR_MS + 2 * WAKEUP_MS);
/// A (re)started app must show its flow within this.
const APP_START: Duration = Duration::from_secs(3);
/// Actors of a killed launcher must have exited within this.
const ORPHANS_EXIT: Duration = Duration::from_secs(2);
/// The idle time (`--daemon-idle`) of the host daemon that `a_killed_launcher_...` starts.
const DAEMON_IDLE: &str = "1";
/// After its last launcher stopped, that daemon exits within this: the idle time, and the 2 s
/// liveness timeout of the killed launcher's own registration, which it never withdrew.
const DAEMON_GONE: Duration = Duration::from_secs(4);

/// Records that say a component thread, a handler or an actor died.
const DEATHS: [&str; 7] = [
    "a component thread ended",
    "a component thread panicked while stopping",
    "handler panicked; the component goes on",
    "lifecycle handler panicked",
    "poll failed; the component stops",
    "the actor failed",
    "the app stopped",
];

/// The tests that run processes run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Prints one fault's measured recovery and its bound, and fails if the bound was missed.
fn report(fault: &str, measured: Duration, bound: Duration) {
    let line = format!("FAULT {fault}: {:.0} ms (bound {:.0} ms)\n", ms(measured), ms(bound));
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(measured <= bound, "{fault}: {measured:?}, more than the bound {bound:?}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Asserts that no record of `app` tells of a dead component thread, handler or actor.
fn assert_no_deaths(app: &AppRun) {
    let deaths: Vec<&Record> = app.records().iter().filter(|r| DEATHS.contains(&r.msg())).collect();
    assert!(deaths.is_empty(), "{}: {deaths:#?}", app.name());
}

/// A standalone discovery daemon (`cohort-probe disco`) at `endpoint`, ready.
fn daemon_process(endpoint: &str, heartbeat_ms: u64, liveness_ms: u64) -> Proc {
    let (hb, live) = (heartbeat_ms.to_string(), liveness_ms.to_string());
    let args = ["disco", endpoint, "fault-host", "--heartbeat-ms", &hb, "--liveness-ms", &live];
    let disco = Proc::spawn("disco", PROBE, &args).unwrap();
    disco.expect("READY");
    disco
}

fn local_endpoint() -> String {
    format!("tcp://127.0.0.1:{}", free_port().unwrap())
}

/// Where the test's apps keep their runtime files, and the estimator model with fast clocks.
struct Place {
    dir: TempDir,
    model: PathBuf,
}

impl Place {
    fn new() -> Place {
        let dir = TempDir::new("faults").unwrap();
        let model = dir.path().join("estimator.riaps");
        let fast = ESTIMATOR_MODEL
            .replace("timer clock 1000;", &format!("timer clock {SENSOR_MS};"))
            .replace("timer wakeup 3000;", &format!("timer wakeup {WAKEUP_MS};"));
        assert_ne!(fast, ESTIMATOR_MODEL, "the estimator model's timers changed; update the fault tests");
        std::fs::write(&model, fast).unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        Place { dir, model }
    }

    /// The apps' `XDG_RUNTIME_DIR`: their ipc files are under `cohort/<app>` in it.
    fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    fn env(&self) -> [(&'static str, String); 1] {
        [("XDG_RUNTIME_DIR", self.runtime_dir().display().to_string())]
    }

    /// `cohort-estimator run` with the fast model, both actors, discovery at `daemon`; not
    /// secured (`--insecure`), as the daemons of these tests are not (CURVE across hosts:
    /// `the_estimator_across_a_partition_resumes_after_the_heal`).
    fn estimator(&self, daemon: &str, extra: &[&str]) -> AppRun {
        let model = self.model.display().to_string();
        let mut args = vec!["run", "--model", &model, "--deployment", ESTIMATOR_DEPLOYMENT, "--daemon", daemon];
        args.extend(["--interface", "lo", "--log-format", "json", "--insecure"]);
        args.extend_from_slice(extra);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        AppRun::start("estimator", ESTIMATOR, &args, &env).unwrap()
    }

    /// `cohort-microgrid run`: the five units, discovery at `daemon`; not secured
    /// (`--insecure`), as the daemons of these tests are not.
    fn microgrid(&self, daemon: &str, extra: &[&str]) -> Grid {
        let mut args = vec!["run", "--deployment", MICROGRID_DEPLOYMENT, "--daemon", daemon];
        args.extend(["--interface", "lo", "--log-format", "json", "--insecure"]);
        args.extend_from_slice(extra);
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Grid { app: AppRun::start("microgrid", MICROGRID, &args, &env).unwrap(), views: Views::default(), learned: 0 }
    }

    /// The ipc files left in `app`'s runtime directory.
    fn ipc_files(&self, app: &str) -> Vec<PathBuf> {
        ipc_files(&self.runtime_dir().join("cohort").join(app))
    }
}

fn ipc_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sock")).collect()
}

/// Waits for an aggregate of at least one estimate.
fn aggregate(app: &mut AppRun, what: &str, within: Duration) -> Instant {
    app.wait(what, within, |r| (r.msg() == "aggregate" && r.value["count"].as_u64() >= Some(1)).then_some(()))
        .unwrap_or_else(|e| panic!("{e}"))
        .0
}

/// Waits for an estimate from the Estimator process `pid` to reach the Aggregator and be counted
/// in an aggregate.
fn aggregate_from(app: &mut AppRun, pid: i32, within: Duration) -> Instant {
    let source = format!(":{pid}");
    let mut received = false;
    let what = format!("an aggregate with an estimate of Estimator process {pid}");
    app.wait(&what, within, |r| {
        received |= r.msg() == "estimate received" && r.text("source").ends_with(&source);
        (received && r.msg() == "aggregate" && r.value["count"].as_u64() >= Some(1)).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}"))
    .0
}

/// A unit's latest `group view`.
#[derive(Debug, Clone)]
struct View {
    leader: String,
    members: u64,
    me: String,
}

/// Every unit's latest view of the group.
#[derive(Debug, Default)]
struct Views(BTreeMap<String, View>);

impl Views {
    fn learn(&mut self, r: &Record) {
        if r.msg() == "group view" {
            let view = View {
                leader: r.text("leader").to_owned(),
                members: r.value["members"].as_u64().unwrap_or_default(),
                me: r.text("me").to_owned(),
            };
            self.0.insert(r.actor().to_owned(), view);
        }
    }

    /// The leader every one of `units` names, if they agree on one that is one of them.
    fn agreed(&self, units: &[&str]) -> Option<String> {
        let views: Vec<&View> = units.iter().map(|u| self.0.get(*u)).collect::<Option<_>>()?;
        let leader = &views.first()?.leader;
        (views.iter().all(|v| &v.leader == leader) && views.iter().any(|v| &v.me == leader)).then(|| leader.clone())
    }

    /// The unit whose member is `member`.
    fn unit_of(&self, member: &str) -> Option<String> {
        self.0.iter().find(|(_, v)| v.me == member).map(|(u, _)| u.clone())
    }

    fn me(&self, unit: &str) -> String {
        self.0.get(unit).map(|v| v.me.clone()).unwrap_or_default()
    }
}

/// The microgrid app, with the views its records told.
struct Grid {
    app: AppRun,
    views: Views,
    learned: usize,
}

impl Grid {
    /// Learns from the records read since the last time.
    fn sync(&mut self) {
        for r in &self.app.records()[self.learned..] {
            self.views.learn(r);
        }
        self.learned = self.app.records().len();
    }

    /// Reads records until `done` finds something in the views; returns it and when the record
    /// that made it so was read (now, if the views showed it already).
    fn until<T>(&mut self, what: &str, within: Duration, done: impl Fn(&Views) -> Option<T>) -> (Instant, T) {
        let give_up = Instant::now() + within;
        let mut at = Instant::now();
        loop {
            self.sync();
            if let Some(found) = done(&self.views) {
                return (at, found);
            }
            match self.app.next(give_up) {
                Some(i) => at = self.app.records()[i].at,
                None => panic!("microgrid: not {what} within {within:?}; views: {:#?}", self.views),
            }
        }
    }

    /// Waits until all five units agree on a leader; returns it.
    fn agreement(&mut self, within: Duration) -> (Instant, String) {
        self.until("all five units agreeing on a leader", within, |v| v.agreed(&UNITS))
    }

    fn drain(&mut self) {
        self.app.drain();
        self.sync();
    }
}

/// When the launcher last (re)started `actor`.
fn started_at(app: &AppRun, actor: &str) -> Instant {
    app.records()
        .iter()
        .rev()
        .find(|r| matches!(r.msg(), "actor started" | "actor restarted") && r.actor() == actor)
        .map(|r| r.at)
        .unwrap()
}

#[test]
fn killed_actors_are_restarted_and_their_flows_resume() {
    let _serial = serial();
    let mut rng = Rng::from_env(SEED_VARIABLE, "killed_actors");
    let place = Place::new();
    let mut est = place.estimator(&local_endpoint(), &[]);
    let mut grid = place.microgrid(&local_endpoint(), &[]);
    aggregate(&mut est, "an aggregate", START);
    grid.agreement(START);

    let policy = RestartPolicy::default();
    let mut histories: BTreeMap<String, RestartState> = BTreeMap::new();
    let mut kills: BTreeMap<String, usize> = BTreeMap::new();
    let victims: Vec<&str> = ESTIMATOR_ACTORS.iter().chain(UNITS.iter()).copied().collect();
    for round in 1..=4 {
        // A random moment: the apps run undisturbed for a random time.
        std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(1000)));
        est.drain();
        grid.drain();
        let victim = *rng.pick(&victims).unwrap();
        let in_estimator = ESTIMATOR_ACTORS.contains(&victim);
        let app = if in_estimator { &est } else { &grid.app };
        let pid = app.actor_pids()[victim];
        let started = started_at(app, victim);
        let old_leader = grid.views.agreed(&UNITS);
        let was_leader = old_leader.as_deref().is_some_and(|l| grid.views.me(victim) == l);
        let old_me = grid.views.me(victim);
        let mark = app.records().len();

        signal(pid, libc::SIGKILL).unwrap();
        let killed = Instant::now();
        *kills.entry(victim.to_owned()).or_default() += 1;
        // The launcher's own restart policy says when it restarts the actor.
        let history = histories.entry(victim.to_owned()).or_insert_with(|| RestartState::new(policy));
        let Decision::RestartAt(at) = history.crashed(started, killed) else {
            panic!("the launcher would give up on {victim}");
        };
        let backoff = at - killed;
        let what = format!("kill -9 actor {victim}{} (round {round})", if was_leader { ", the leader" } else { "" });

        if in_estimator {
            let (restarted, new_pid) = est
                .wait_from(mark, "the actor restarted", backoff + RESPAWN, |r| {
                    (r.msg() == "actor restarted" && r.actor() == victim).then(|| r.value["pid"].as_i64().unwrap())
                })
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            report(&format!("{what}: restarted"), restarted - killed, backoff + RESPAWN);
            let flowing = if victim == "Estimator" {
                aggregate_from(&mut est, i32::try_from(new_pid).unwrap(), FLOW + FLOW)
            } else {
                aggregate(&mut est, "an aggregate from the restarted Aggregator", FLOW + FLOW)
            };
            report(&format!("{what}: aggregates again"), flowing - killed, backoff + RESPAWN + FLOW);
        } else {
            if was_leader {
                let survivors: Vec<&str> = UNITS.iter().copied().filter(|u| *u != victim).collect();
                let old = old_leader.clone().unwrap();
                let (at, new) = grid.until("a new leader known to the four survivors", FAILOVER + FAILOVER, |v| {
                    v.agreed(&survivors).filter(|l| *l != old)
                });
                let unit = grid.views.unit_of(&new).unwrap_or_default();
                report(&format!("{what}: survivors follow {unit}"), at - killed, FAILOVER);
            }
            let (restarted, ()) = grid
                .app
                .wait_from(mark, "the actor restarted", backoff + RESPAWN, |r| {
                    (r.msg() == "actor restarted" && r.actor() == victim).then_some(())
                })
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            report(&format!("{what}: restarted"), restarted - killed, backoff + RESPAWN);
            let bound = backoff + RESPAWN + ACTOR_START + FAILOVER;
            let (at, leader) =
                grid.until("the restarted unit and the others agreeing on a leader", bound + bound, |v| {
                    v.agreed(&UNITS).filter(|_| v.me(victim) != old_me)
                });
            let unit = grid.views.unit_of(&leader).unwrap_or_default();
            report(&format!("{what}: all five follow {unit}"), at - killed, bound);
        }
    }

    // Only the killed actors exited, once per kill; no component thread died anywhere.
    est.drain();
    grid.drain();
    for app in [&est, &grid.app] {
        assert_no_deaths(app);
        let mut exits: BTreeMap<String, usize> = BTreeMap::new();
        for r in app.records().iter().filter(|r| r.msg() == "actor exited; restarting it") {
            *exits.entry(r.actor().to_owned()).or_default() += 1;
        }
        let expected: BTreeMap<String, usize> = kills
            .iter()
            .filter(|(a, _)| ESTIMATOR_ACTORS.contains(&a.as_str()) == (app.name() == "estimator"))
            .map(|(a, n)| (a.clone(), *n))
            .collect();
        assert_eq!(exits, expected, "{}: actor exits", app.name());
    }
}

/// The records that say a consumer lost a provider.
fn is_removal(r: &Record) -> bool {
    (r.msg() == "discovery update applied" && r.value["added"] == false)
        || r.msg() == "provider removed"
        || r.msg() == "disconnected from a member's publisher"
}

#[test]
fn a_restarted_discovery_daemon_takes_every_actor_back_without_cutting_a_live_port() {
    let _serial = serial();
    let mut rng = Rng::from_env(SEED_VARIABLE, "discovery_restart");
    let place = Place::new();
    let endpoint = local_endpoint();
    // Heartbeats every 100 ms, a client silent for 1 s is dropped.
    let (heartbeat_ms, liveness_ms) = (100, 1000);
    let liveness = Duration::from_millis(liveness_ms);
    let mut disco = daemon_process(&endpoint, heartbeat_ms, liveness_ms);
    let mut est = place.estimator(&endpoint, &["--log-level", "debug"]);
    let mut grid = place.microgrid(&endpoint, &["--log-level", "debug"]);
    for app in [&mut est, &mut grid.app] {
        app.wait("using the standalone daemon", START, |r| {
            (r.msg() == "using the running discovery daemon").then_some(())
        })
        .unwrap();
    }
    aggregate(&mut est, "an aggregate", START);
    let (_, leader) = grid.agreement(START);
    // Every unit has seen all five members.
    grid.until("five members in every view", START, |v| {
        UNITS.iter().all(|u| v.0.get(*u).is_some_and(|x| x.members == 5)).then_some(())
    });
    std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(500)));
    est.drain();
    grid.drain();
    let (est_mark, grid_mark) = (est.records().len(), grid.app.records().len());

    // kill -9 the daemon, keep it down for a random time, start a new one on the same endpoint.
    disco.kill();
    let killed = Instant::now();
    let down = rng.between(Duration::ZERO, Duration::from_millis(1500));
    std::thread::sleep(down);
    let _disco = daemon_process(&endpoint, heartbeat_ms, liveness_ms);
    let restarted = Instant::now();
    note(&format!("discovery daemon killed, down for {down:?}, restarted"));

    // Every actor says hello again and registers its providers and lookups.
    let again = "the discovery daemon forgot this actor; registering again";
    let mut last = restarted;
    for (app, actors) in [(&mut est, &ESTIMATOR_ACTORS[..]), (&mut grid.app, &UNITS[..])] {
        let mut missing: BTreeSet<&str> = actors.iter().copied().collect();
        let (at, ()) = app
            .wait("every actor registered again", liveness + liveness, |r| {
                if r.msg() == again {
                    missing.remove(r.actor());
                }
                missing.is_empty().then_some(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        last = last.max(at);
    }
    report("discovery daemon restarted: every actor registered again", last - restarted, liveness);

    // Watch past the liveness timeout, when endpoints left in doubt by the restart are settled:
    // nothing is removed, the group does not change, aggregates keep coming.
    let settled = restarted.max(last) + liveness + Duration::from_millis(500);
    est.watch(settled, |_| {});
    grid.app.watch(settled, |_| {});
    grid.sync();
    // The debug records that would tell of a removal do flow: each app logged additions.
    for (app, addition) in [(&est, "discovery update applied"), (&grid.app, "connected to a member's publisher")] {
        assert!(app.records().iter().any(|r| r.msg() == addition), "{}: no {addition:?} record", app.name());
    }
    for (app, mark) in [(&est, est_mark), (&grid.app, grid_mark)] {
        let removals: Vec<&Record> = app.records()[mark..].iter().filter(|r| is_removal(r)).collect();
        assert!(removals.is_empty(), "{}: live providers were removed: {removals:#?}", app.name());
        assert_no_deaths(app);
    }
    let views: Vec<&Record> = grid.app.records()[grid_mark..].iter().filter(|r| r.msg() == "group view").collect();
    assert!(views.is_empty(), "the group changed while discovery restarted: {views:#?}");
    assert_eq!(grid.views.agreed(&UNITS), Some(leader));
    let aggregates: Vec<&Record> = est.records()[est_mark..].iter().filter(|r| r.msg() == "aggregate").collect();
    let empty: Vec<&&Record> = aggregates.iter().filter(|r| r.value["count"].as_u64() < Some(1)).collect();
    assert!(empty.is_empty(), "the estimates stopped while discovery restarted: {empty:#?}");
    let expected = (settled - killed).as_millis() as usize / WAKEUP_MS as usize;
    assert!(aggregates.len() + 2 >= expected, "{} aggregates in {:?}", aggregates.len(), settled - killed);
    report(
        "discovery daemon killed: estimates kept flowing (longest gap between aggregates)",
        {
            let times: Vec<Instant> = aggregates.iter().map(|r| r.at).collect();
            times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
        },
        Duration::from_millis(2 * WAKEUP_MS),
    );
}

#[test]
fn a_paused_discovery_daemon_cuts_no_live_port() {
    let _serial = serial();
    let place = Place::new();
    let endpoint = local_endpoint();
    let (heartbeat_ms, liveness_ms) = (100, 1000);
    let liveness = Duration::from_millis(liveness_ms);
    let disco = daemon_process(&endpoint, heartbeat_ms, liveness_ms);
    let mut est = place.estimator(&endpoint, &["--log-level", "debug"]);
    let mut grid = place.microgrid(&endpoint, &["--log-level", "debug"]);
    aggregate(&mut est, "an aggregate", START);
    grid.agreement(START);
    grid.until("five members in every view", START, |v| {
        UNITS.iter().all(|u| v.0.get(*u).is_some_and(|x| x.members == 5)).then_some(())
    });
    // The daemon stops reading (SIGSTOP, longer than the liveness timeout) and goes on. The
    // actors' heartbeats queued meanwhile say they are alive: no provider may be removed.
    for round in 1..=3 {
        est.drain();
        grid.drain();
        let (est_mark, grid_mark) = (est.records().len(), grid.app.records().len());
        disco.signal(libc::SIGSTOP).unwrap();
        std::thread::sleep(liveness + liveness / 2);
        disco.signal(libc::SIGCONT).unwrap();
        let settled = Instant::now() + liveness + Duration::from_millis(500);
        est.watch(settled, |_| {});
        grid.app.watch(settled, |_| {});
        for (app, mark) in [(&est, est_mark), (&grid.app, grid_mark)] {
            let removals: Vec<&Record> = app.records()[mark..].iter().filter(|r| is_removal(r)).collect();
            assert!(removals.is_empty(), "{}, pause {round}: live providers were removed: {removals:#?}", app.name());
            assert_no_deaths(app);
        }
    }
}

#[test]
fn a_killed_launchers_actors_exit_and_a_new_launcher_starts_cleanly() {
    let _serial = serial();
    let mut rng = Rng::from_env(SEED_VARIABLE, "launcher_killed");
    let place = Place::new();
    // The estimator's launcher starts the host's daemon (a process of its own, which outlives
    // it), the microgrid uses a standalone one.
    let est_daemon = local_endpoint();
    let grid_daemon = local_endpoint();
    let _disco = daemon_process(&grid_daemon, 100, 1000);
    let mut est = place.estimator(&est_daemon, &["--daemon-idle", DAEMON_IDLE]);
    let mut grid = place.microgrid(&grid_daemon, &[]);
    aggregate(&mut est, "an aggregate", START);
    grid.agreement(START);
    std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(1000)));
    est.drain();
    grid.drain();
    let est_pids: Vec<i32> = est.actor_pids().values().copied().collect();
    let grid_pids: Vec<i32> = grid.app.actor_pids().values().copied().collect();
    assert_eq!((est_pids.len(), grid_pids.len()), (2, 5));

    // A launcher killed with SIGKILL cannot remove its own sockets (`<pid>-monitor.sock` for
    // reports, `<pid>-control.sock` and `<pid>-actors.sock` for `cohort ctl`), named as the ports'
    // files are so that the next actor to start sweeps them away.
    let reports = [("DistributedEstimator", format!("{}-", est.pid())), ("Microgrid", format!("{}-", grid.app.pid()))];
    let launchers =
        |f: &PathBuf, prefix: &str| f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix));
    est.kill();
    grid.app.kill();
    let killed = Instant::now();
    let mut gone: BTreeMap<&str, Instant> = BTreeMap::new();
    let give_up = killed + ORPHANS_EXIT + Duration::from_secs(3);
    while gone.len() < 2 && Instant::now() < give_up {
        for (app, pids) in [("estimator", &est_pids), ("microgrid", &grid_pids)] {
            if !gone.contains_key(app) && pids.iter().all(|p| exited(*p)) {
                gone.insert(app, Instant::now());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for (app, pids) in [("estimator", &est_pids), ("microgrid", &grid_pids)] {
        let left: Vec<&i32> = pids.iter().filter(|p| !exited(**p)).collect();
        assert!(left.is_empty(), "{app}: actor processes {left:?} still run after their launcher was killed");
    }
    // Both apps' actors say goodbye to a daemon that still runs: the estimator's launcher
    // started its, which does not die with it.
    report("kill -9 launcher (standalone daemon): its 5 actors exited", gone["microgrid"] - killed, ORPHANS_EXIT);
    report("kill -9 launcher (the daemon it started): its 2 actors exited", gone["estimator"] - killed, ORPHANS_EXIT);
    // They stopped as on Ctrl-C: each logged its stop and removed its ipc files.
    for (app, actors) in [(&mut est, &ESTIMATOR_ACTORS[..]), (&mut grid.app, &UNITS[..])] {
        let mut missing: BTreeSet<&str> = actors.iter().copied().collect();
        app.wait("every actor stopped", Duration::from_secs(1), |r| {
            if r.msg() == "actor stopped" {
                missing.remove(r.actor());
            }
            missing.is_empty().then_some(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_no_deaths(app);
    }
    for (app, report) in &reports {
        let left: Vec<PathBuf> = place.ipc_files(app).into_iter().filter(|f| !launchers(f, report)).collect();
        assert_eq!(left, Vec::<PathBuf>::new(), "{app}: ipc files left behind");
    }

    // A new launcher starts cleanly: it uses the daemon the killed launcher started, nothing
    // stale is swept, the flows come back.
    let started = Instant::now();
    let mut est = place.estimator(&est_daemon, &["--daemon-idle", DAEMON_IDLE]);
    let mut grid = place.microgrid(&grid_daemon, &[]);
    est.wait("it uses the daemon the killed launcher started", START, |r| {
        assert_ne!(r.msg(), "started the discovery daemon of this host", "the killed launcher's daemon is gone");
        (r.msg() == "using the running discovery daemon").then_some(())
    })
    .unwrap();
    let flowing = aggregate(&mut est, "an aggregate", START);
    report("new launcher after kill -9: aggregates (estimator)", flowing - started, APP_START);
    let (agreed, _) = grid.agreement(START);
    report("new launcher after kill -9: five units agree (microgrid)", agreed - started, APP_START);
    // Nothing stale is swept but the killed launcher's three sockets.
    for (app, (name, report)) in [&est, &grid.app].into_iter().zip(&reports) {
        let swept: Vec<&Record> =
            app.records().iter().filter(|r| r.msg() == "removed ipc files of dead processes").collect();
        let files: u64 = swept.iter().map(|r| r.value["files"].as_u64().unwrap_or_default()).sum();
        assert!(files <= 3, "{}: stale ipc files: {swept:#?}", app.name());
        assert!(!place.ipc_files(name).iter().any(|f| launchers(f, report)), "{name}: {report}* was not swept");
        assert_no_deaths(app);
    }
    drop(grid);
    // Nothing is left running: once the new launcher stopped, the daemon exits by itself.
    let port = est_daemon.rsplit(':').next().unwrap();
    let pidfile = place.runtime_dir().join("cohort").join(format!("discovery-tcp-127.0.0.1-{port}.pid"));
    let daemon: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    drop(est);
    let stopped = Instant::now();
    while !exited(daemon) && stopped.elapsed() < DAEMON_GONE + Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
    }
    report("the host daemon exits once idle after its last launcher stopped", stopped.elapsed(), DAEMON_GONE);
    assert!(!pidfile.exists(), "the daemon left its pidfile");

    // A launcher killed the moment it has started its actors, before they have done anything
    // (the parent-death signal is asked for between fork and exec, so there is no window).
    let mut early = place.microgrid(&grid_daemon, &[]);
    let mut started: BTreeSet<String> = BTreeSet::new();
    early
        .app
        .wait("five actors started", START, |r| {
            if r.msg() == "actor started" {
                started.insert(r.actor().to_owned());
            }
            (started.len() == UNITS.len()).then_some(())
        })
        .unwrap();
    early.app.kill();
    let killed = Instant::now();
    let pids: Vec<i32> = early.app.actor_pids().values().copied().collect();
    while !pids.iter().all(|p| exited(*p)) && killed.elapsed() < ORPHANS_EXIT + Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let left: Vec<&i32> = pids.iter().filter(|p| !exited(**p)).collect();
    assert!(left.is_empty(), "actors {left:?} of a launcher killed as they started still run");
    report("kill -9 launcher as its actors start: its 5 actors exited", killed.elapsed(), ORPHANS_EXIT);
}

/// A `count` line: `GOT <total> <last seq> <missing> <stamp>`.
#[derive(Debug, Clone, Copy)]
struct Got {
    total: u64,
    missing: u64,
    stamp: u128,
}

fn got(line: &str) -> Got {
    let words: Vec<&str> = line.split(' ').collect();
    Got { total: words[1].parse().unwrap(), missing: words[3].parse().unwrap(), stamp: words[4].parse().unwrap() }
}

/// A `blast` line: `SENT <total> <in period> <longest send µs> <stamp>`.
#[derive(Debug, Clone, Copy)]
struct Sent {
    in_period: u64,
    longest_us: u64,
    stamp: u128,
}

fn sent(line: &str) -> Sent {
    let words: Vec<&str> = line.split(' ').collect();
    Sent {
        in_period: words[2].parse().unwrap(),
        longest_us: words[3].parse().unwrap(),
        stamp: words[4].parse().unwrap(),
    }
}

/// Every line `proc` printed until now that starts with `prefix`.
fn lines_now(proc: &Proc, prefix: &str) -> Vec<String> {
    std::iter::from_fn(|| proc.next_any(Duration::ZERO)).filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn a_stopped_subscriber_neither_blocks_the_publisher_nor_starves_the_others() {
    let _serial = serial();
    let daemon = memory_daemon("fault-host", Duration::from_millis(100), Duration::from_secs(1)).unwrap();
    let ep = daemon.endpoint().to_owned();
    // 8 KiB every 250 µs: 32 MB/s, more than the stopped subscriber's queues and socket buffers
    // hold for long.
    let (every_us, report_ms) = (250_u64, 100_u64);
    let per_period = report_ms * 1000 / every_us;
    let blast = Proc::spawn(
        "blast",
        PROBE,
        &[
            "blast",
            &ep,
            "Faults",
            "Blaster",
            "Flood",
            "--size",
            "8192",
            "--every-us",
            "250",
            "--report-ms",
            "100",
            "--stamp",
        ],
    )
    .unwrap();
    blast.expect("READY");
    let counter = |name: &str| {
        let p = Proc::spawn(name, PROBE, &["count", &ep, "Faults", name, "Flood", "--report-ms", "100", "--stamp"])
            .unwrap();
        p.expect("ADDED");
        p
    };
    let live = counter("Live");
    let stuck = counter("Stuck");
    for p in [&live, &stuck] {
        // Receiving: two reports with messages.
        let first = got(&p.expect("GOT "));
        loop {
            if got(&p.expect("GOT ")).total > first.total {
                break;
            }
        }
    }

    // Stop one subscriber (it reads nothing more; its queues fill) for a fixed time.
    let hold = Duration::from_secs(2);
    stuck.signal(libc::SIGSTOP).unwrap();
    let stopped = unix_nanos();
    std::thread::sleep(hold);
    let _ = lines_now(&stuck, "GOT ");
    let before_cont = unix_nanos();
    stuck.signal(libc::SIGCONT).unwrap();
    let continued = Instant::now();

    // The publisher kept its rate, and no send waited: PUB drops for a full subscriber.
    let during = |stamp: u128| stamp > stopped + 200_000_000 && stamp <= before_cont;
    let periods: Vec<Sent> = lines_now(&blast, "SENT ").iter().map(|l| sent(l)).filter(|s| during(s.stamp)).collect();
    assert!(periods.len() >= 10, "too few publisher reports while the subscriber was stopped: {periods:?}");
    let slowest = periods.iter().map(|s| s.in_period).min().unwrap();
    let longest = periods.iter().map(|s| s.longest_us).max().unwrap();
    note(&format!(
        "stopped subscriber: publisher sent {slowest}–{} per {report_ms} ms (schedule {per_period}), longest send {longest} µs",
        periods.iter().map(|s| s.in_period).max().unwrap()
    ));
    // (A report printed late shifts sends between two periods; the sum shows the rate.)
    let total: u64 = periods.iter().map(|s| s.in_period).sum();
    let scheduled = per_period * periods.len() as u64;
    assert!(total * 100 >= scheduled * 95, "the publisher sent {total} of {scheduled} scheduled: {periods:?}");
    report("SIGSTOP subscriber: longest publisher send", Duration::from_micros(longest), Duration::from_millis(50));

    // The other subscriber kept receiving in every period.
    let reports: Vec<Got> = lines_now(&live, "GOT ").iter().map(|l| got(l)).filter(|g| during(g.stamp)).collect();
    assert!(reports.len() >= 10, "too few reports of the live subscriber: {reports:?}");
    for w in reports.windows(2) {
        assert!(w[1].total > w[0].total, "the live subscriber stopped receiving: {reports:?}");
    }
    let live_missing = reports.last().unwrap().missing;

    // The stopped one receives again once continued; what its full queues could not take was
    // dropped.
    let before = got(&stuck.expect("GOT "));
    let (resumed, after) = loop {
        let g = got(&stuck.expect("GOT "));
        if g.total > before.total {
            break (Instant::now(), g);
        }
    };
    let after = loop {
        // Past its backlog: the dropped messages show as missing once newer ones arrive.
        if after.missing > 0 {
            break after;
        }
        let g = got(&stuck.expect("GOT "));
        if g.missing > 0 {
            break g;
        }
    };
    note(&format!(
        "stopped subscriber: {} messages dropped for it (high-water mark), {live_missing} for the live one",
        after.missing
    ));
    report("SIGCONT subscriber: receiving again", resumed - continued, Duration::from_millis(500));
    assert!(after.missing > 0, "nothing was dropped for the stopped subscriber: were its queues ever full?");
}

/// What `ask` printed: each request's outcomes, in order.
#[derive(Debug, Default)]
struct Outcomes {
    sent: BTreeMap<u64, u128>,
    outcomes: BTreeMap<u64, Vec<String>>,
    done: Option<String>,
}

impl Outcomes {
    fn learn(&mut self, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        let id = || words[1].parse::<u64>().unwrap();
        match words[0] {
            "SENT" => {
                self.sent.insert(id(), words[2].parse().unwrap());
            }
            "OK" => self.outcomes.entry(id()).or_default().push("OK".to_owned()),
            // `FAIL <id> TimedOut(300ms)`: the kind of error.
            "FAIL" => self.outcomes.entry(id()).or_default().push(words[2].split('(').next().unwrap().to_owned()),
            "DONE" => self.done = Some(line.to_owned()),
            _ => {}
        }
    }

    /// Reads `ask`'s lines until one starts with `prefix` (and satisfies `also`).
    fn until(
        &mut self,
        ask: &Proc,
        prefix: &str,
        within: Duration,
        mut also: impl FnMut(&Outcomes, &str) -> bool,
    ) -> Instant {
        let give_up = Instant::now() + within;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let line = ask.next_any(left).unwrap_or_else(|| panic!("ask: no {prefix:?} line within {within:?}"));
            self.learn(&line);
            if line.starts_with(prefix) && also(self, &line) {
                return Instant::now();
            }
        }
    }

    /// Whether the request of an `OK <id>` line was sent after the wall-clock time `stamp`.
    fn sent_after(&self, line: &str, stamp: u128) -> bool {
        let id: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
        self.sent.get(&id).is_some_and(|&sent| sent > stamp)
    }
}

#[test]
fn requests_to_a_stopped_or_restarted_replier_each_end_exactly_once() {
    let _serial = serial();
    let mut rng = Rng::from_env(SEED_VARIABLE, "replier_faults");
    // Heartbeat 100 ms, liveness 1 s: a replier stopped for less than that stays registered.
    let liveness = Duration::from_secs(1);
    let daemon = memory_daemon("fault-host", Duration::from_millis(100), liveness).unwrap();
    let ep = daemon.endpoint().to_owned();
    let timeout = Duration::from_millis(300);
    let serve = |name: &str| {
        let p = Proc::spawn(name, PROBE, &["serve", &ep, "Faults", name]).unwrap();
        p.expect("READY ");
        p
    };
    let mut first = serve("Replier1");
    let mut ask = Proc::spawn_with_input(
        "ask",
        PROBE,
        &["ask", &ep, "Faults", "Asker", "--every-ms", "20", "--timeout-ms", "300", "--stamp"],
    )
    .unwrap();
    let mut o = Outcomes::default();
    o.until(&ask, "OK ", START, |_, _| true);

    // SIGSTOP the replier for a fixed time shorter than the liveness timeout: the requests sent
    // to it end at their deadline, none hangs; after SIGCONT it answers again.
    let hold = Duration::from_millis(700);
    first.signal(libc::SIGSTOP).unwrap();
    let stopped = unix_nanos();
    std::thread::sleep(hold);
    let before_cont = unix_nanos();
    first.signal(libc::SIGCONT).unwrap();
    let continued = Instant::now();
    let answered = o.until(&ask, "OK ", START, |o, line| o.sent_after(line, before_cont));
    report("SIGCONT replier: replies again", answered - continued, timeout + Duration::from_millis(200));
    let stuck: Vec<u64> = o
        .sent
        .iter()
        // SIGSTOP may take a moment to land; a request whose deadline was still running at
        // SIGCONT may be answered.
        .filter(|(_, &stamp)| stamp > stopped + 20_000_000 && stamp + timeout.as_nanos() < before_cont)
        .map(|(id, _)| *id)
        .collect();
    assert!(stuck.len() >= 10, "too few requests sent while the replier was stopped: {stuck:?}");
    for id in &stuck {
        assert_eq!(
            o.outcomes.get(id).map(Vec::as_slice),
            Some(&["TimedOut".to_owned()][..]),
            "request {id}, sent to the stopped replier"
        );
    }
    note(&format!("SIGSTOP replier: {} requests sent while it was stopped all ended TimedOut", stuck.len()));

    // kill -9 the replier at a random moment and start another (what a launcher does): the
    // requests to the dead one end (TimedOut, or ProviderGone once discovery drops it), the new
    // one answers.
    std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(500)));
    first.kill();
    let killed = Instant::now();
    let killed_stamp = unix_nanos();
    std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(300)));
    let _second = serve("Replier2");
    let answered = o.until(&ask, "OK ", START, |o, line| o.sent_after(line, killed_stamp));
    report("kill -9 replier, new replier started: replies again", answered - killed, Duration::from_secs(1));
    // Until discovery drops the dead replier, every other request goes to it; then all are
    // answered.
    o.until(&ask, "REMOVED ", liveness + liveness, |_, _| true);
    let removed = Instant::now();
    let removed_stamp = unix_nanos();
    report("kill -9 replier: discovery drops it", removed - killed, liveness + Duration::from_millis(300));
    let mut answered = 0;
    o.until(&ask, "OK ", START, |_, _| {
        answered += 1;
        answered >= 10
    });

    // Stop asking: the outstanding requests end within their deadline, and every request sent
    // had exactly one outcome.
    ask.end_input();
    let asked = Instant::now();
    o.until(&ask, "DONE ", timeout + Duration::from_secs(1), |_, _| true);
    report("requester stopped: every outstanding request ended", asked.elapsed(), timeout + Duration::from_millis(200));
    let done = o.done.clone().unwrap();
    let words: Vec<u64> = done.split(' ').skip(1).take(3).map(|w| w.parse().unwrap()).collect();
    assert_eq!(words[0], o.sent.len() as u64, "{done}");
    assert_eq!(words[0], words[1] + words[2], "{done}");
    for (id, outcomes) in &o.outcomes {
        assert_eq!(outcomes.len(), 1, "request {id} had outcomes {outcomes:?}");
        assert!(o.sent.contains_key(id), "an outcome for request {id}, which was not sent");
    }
    let missing: Vec<&u64> = o.sent.keys().filter(|id| !o.outcomes.contains_key(id)).collect();
    assert!(missing.is_empty(), "requests without an outcome: {missing:?}");
    // Once discovery dropped the dead replier, every request was answered.
    let failed: Vec<(&u64, &Vec<String>)> = o
        .outcomes
        .iter()
        .filter(|(id, outcomes)| o.sent[id] > removed_stamp && outcomes.as_slice() != ["OK"])
        .collect();
    assert!(failed.is_empty(), "requests failed after the dead replier was dropped: {failed:?}");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in o.outcomes.values().flatten() {
        *counts.entry(outcome.as_str()).or_default() += 1;
    }
    note(&format!("replier faults: {} requests, outcomes {counts:?}", o.sent.len()));
    assert!(ask.wait_exit(Duration::from_secs(2)).is_some_and(|s| s.success()), "ask failed");
}

#[test]
fn a_stopped_group_leader_is_replaced_and_follows_the_new_leader_when_continued() {
    let _serial = serial();
    let mut rng = Rng::from_env(SEED_VARIABLE, "leader_stopped");
    let place = Place::new();
    let mut grid = place.microgrid(&local_endpoint(), &[]);
    let (_, leader) = grid.agreement(START);
    std::thread::sleep(rng.between(Duration::ZERO, Duration::from_millis(1000)));
    grid.drain();
    let (_, leader) =
        grid.until("all five agreeing on a leader", START, |v| v.agreed(&UNITS)).max((Instant::now(), leader));
    let victim = grid.views.unit_of(&leader).unwrap();
    let pid = grid.app.actor_pids()[&victim];
    let survivors: Vec<&str> = UNITS.iter().copied().filter(|u| *u != victim).collect();
    let mark = grid.app.records().len();

    // SIGSTOP the leader's process for a random time: shorter or longer than discovery's
    // liveness timeout (2 s), always longer than the group's peer timeout (1 s).
    let hold = rng.between(Duration::from_millis(1200), Duration::from_millis(3000));
    signal(pid, libc::SIGSTOP).unwrap();
    let stopped = Instant::now();
    let (at, new) = grid.until("a new leader known to the four survivors", FAILOVER + FAILOVER, |v| {
        v.agreed(&survivors).filter(|l| *l != leader)
    });
    let unit = grid.views.unit_of(&new).unwrap_or_default();
    report(&format!("SIGSTOP leader {victim}: survivors follow {unit}"), at - stopped, FAILOVER);
    std::thread::sleep(hold.saturating_sub(stopped.elapsed()));
    signal(pid, libc::SIGCONT).unwrap();
    let continued = Instant::now();
    note(&format!("leader {victim} stopped for {:?}", continued - stopped));

    // Continued, the old leader hears the higher term and follows the new leader; its timer
    // skipped the ticks it slept through instead of firing them in a burst.
    let (at, _) = grid.until("the continued unit following the new leader", FAILOVER + FAILOVER, |v| {
        v.agreed(&UNITS).filter(|l| *l == new && v.me(&victim) == leader)
    });
    report(&format!("SIGCONT old leader {victim}: all five follow {unit}"), at - continued, FAILOVER);
    // The others hear it again (if discovery dropped it meanwhile, once it registered again).
    let (whole, _) = grid.until("five members in every view again", FAILOVER + FAILOVER + FAILOVER, |v| {
        (v.agreed(&UNITS).as_ref() == Some(&new) && UNITS.iter().all(|u| v.0.get(*u).is_some_and(|x| x.members == 5)))
            .then_some(())
    });
    report(
        &format!("SIGCONT old leader {victim}: every view has five members"),
        whole - continued,
        FAILOVER + FAILOVER,
    );
    let (_, missed) = grid
        .app
        .wait_from(mark, "the continued unit's late tick", Duration::from_secs(2), |r| {
            (r.msg() == "controller was late" && r.actor() == victim).then(|| r.value["missed_ticks"].as_u64().unwrap())
        })
        .unwrap();
    note(&format!("leader {victim} continued: its 500 ms timer reported {missed} missed ticks, no burst"));
    let expected = (continued - stopped).as_millis() as u64 / 500;
    assert!(missed + 1 >= expected && missed <= expected + 1, "{missed} ticks missed in {:?}", continued - stopped);
    grid.drain();
    // No second leader after the continued unit caught up, and it was never restarted.
    let leaders: BTreeSet<&str> = grid.app.records()[mark..]
        .iter()
        .filter(|r| r.msg() == "group view" && r.at > at && r.value["leading"] == true)
        .map(|r| r.actor())
        .collect();
    assert!(leaders.iter().all(|l| *l == unit), "two leaders after the stop: {leaders:?}");
    let exits: Vec<&Record> = grid.app.records().iter().filter(|r| r.msg() == "actor exited; restarting it").collect();
    assert!(exits.is_empty(), "{exits:#?}");
    assert_no_deaths(&grid.app);
}

fn vote(n: u64) -> cohort_groups::VoteId {
    cohort_groups::VoteId { requester: [7; 16], number: n }
}

#[test]
fn wall_clock_jumps_never_fire_an_agreed_action_early_or_twice() {
    use cohort_groups::actions::{micros_since_epoch, Schedule};
    let (sec, msec) = (Duration::from_secs, Duration::from_millis);
    let t0 = Instant::now();
    let w0 = UNIX_EPOCH + sec(1_800_000_000);
    let at = w0 + sec(1);
    let at_us = micros_since_epoch(at).unwrap();

    // Backwards by 5 s before the agreed time: the monotonic wake-up comes, the wall clock says 5 s
    // to go, and the action waits for them.
    let mut s = Schedule::default();
    s.add(vote(1), b"switch".to_vec(), at_us, t0, w0).unwrap();
    assert_eq!(s.next_wake(), Some(t0 + sec(1)));
    assert!(s.take_due(t0 + msec(500), w0 + msec(500) - sec(5)).is_empty());
    assert!(s.take_due(t0 + sec(1), at - sec(5)).is_empty(), "delivered early after a jump back");
    assert_eq!(s.next_wake(), Some(t0 + sec(6)));
    assert!(s.take_due(t0 + sec(6) - msec(1), at - msec(1)).is_empty());
    let due = s.take_due(t0 + sec(6), at);
    assert_eq!(due.iter().map(|d| (d.vote, d.late)).collect::<Vec<_>>(), vec![(vote(1), Duration::ZERO)]);
    // Backwards again after the delivery: nothing is delivered twice.
    assert!(s.take_due(t0 + sec(7), at - sec(10)).is_empty());
    assert!(s.take_due(t0 + sec(20), at + sec(9)).is_empty());
    assert!(s.is_empty());

    // Forwards by 10 s before the agreed time: delivered at its monotonic wake-up (with the members
    // whose clocks did not jump), late by the jump.
    let mut s = Schedule::default();
    s.add(vote(2), b"switch".to_vec(), at_us, t0, w0).unwrap();
    assert!(s.take_due(t0 + msec(200), w0 + msec(200) + sec(10)).is_empty());
    let due = s.take_due(t0 + sec(1), at + sec(10));
    assert_eq!(due.iter().map(|d| (d.vote, d.late)).collect::<Vec<_>>(), vec![(vote(2), sec(10))]);
    assert!(s.take_due(t0 + sec(2), at + sec(11)).is_empty());

    // Random jumps, both ways, over many seeds: never early, never twice, always delivered, and
    // no later than when the wall clock reaches the time at its slowest offset (or the last jump).
    let mut rng = Rng::new(std::env::var(SEED_VARIABLE).ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed));
    let mut jumped = 0;
    for _ in 0..500 {
        let mut s = Schedule::default();
        let mut ats: BTreeMap<u64, SystemTime> = BTreeMap::new();
        for n in 0..=rng.below(3) {
            let at = w0 + rng.between(Duration::ZERO, sec(3));
            s.add(vote(n), vec![], micros_since_epoch(at).unwrap(), t0, w0).unwrap();
            ats.insert(n, at);
        }
        // Up to three jumps of up to 5 s either way within the first 4 s.
        let mut jumps: Vec<(Duration, i64)> = (0..rng.below(4))
            .map(|_| (rng.between(Duration::ZERO, sec(4)), i64::try_from(rng.below(10_001)).unwrap() - 5_000))
            .collect();
        jumps.sort();
        jumped += jumps.len();
        let last_jump = jumps.last().map_or(Duration::ZERO, |j| j.0);
        let (mut offset, mut lowest) = (0_i64, 0_i64);
        let mut delivered: BTreeMap<u64, Duration> = BTreeMap::new();
        let mut t = Duration::ZERO;
        while t < sec(30) && delivered.len() < ats.len() {
            while jumps.first().is_some_and(|j| j.0 <= t) {
                offset += jumps.remove(0).1;
                lowest = lowest.min(offset);
            }
            let wall = shift(w0 + t, offset);
            for due in s.take_due(t0 + t, wall) {
                let at = ats[&due.vote.number];
                assert!(wall >= at, "delivered {:?} early", at.duration_since(wall).unwrap());
                assert_eq!(due.late, wall.duration_since(at).unwrap());
                assert!(delivered.insert(due.vote.number, t).is_none(), "delivered twice");
            }
            // The member polls at least every heartbeat, and at the schedule's wake-up.
            let next = s.next_wake().map_or(sec(30), |w| w.saturating_duration_since(t0));
            let jump = jumps.first().map_or(sec(30), |j| j.0);
            t = next.min(jump).min(t + msec(100)).max(t + Duration::from_micros(1));
        }
        for (n, at) in &ats {
            let when = delivered.get(n).unwrap_or_else(|| panic!("vote {n} was never delivered"));
            // The monotonic time at which the wall clock reaches `at` at the lowest offset.
            let reached = shift(*at, -lowest).duration_since(w0).unwrap();
            assert!(*when <= reached.max(last_jump) + msec(100), "vote {n} delivered at {when:?}");
        }
    }
    note(&format!("wall-clock jumps: 500 schedules, {jumped} random jumps, never early or twice"));

    fn shift(t: SystemTime, ms: i64) -> SystemTime {
        if ms >= 0 {
            t + Duration::from_millis(ms.unsigned_abs())
        } else {
            t - Duration::from_millis(ms.unsigned_abs())
        }
    }
}

#[test]
fn timers_run_on_the_monotonic_clock_alone() {
    use cohort_runtime::timers::TimerSet;
    // A TimerSet takes monotonic instants only: the wall clock is no input, so a wall-clock jump
    // cannot move a timer. What a timer can see is a gap in the monotonic clock (a stopped
    // process, a suspended machine): one tick, the skipped ones counted, the phase kept.
    let msec = Duration::from_millis;
    let mut timers = TimerSet::new();
    let clock = timers.add_periodic("clock", msec(100)).unwrap();
    let once = timers.add_sporadic("once").unwrap();
    timers.set_delay(once, msec(250)).unwrap();
    let t0 = Instant::now();
    timers.launch(clock, t0).unwrap();
    timers.launch(once, t0).unwrap();
    assert_eq!(timers.fire_due(t0 + msec(100)).len(), 1);
    // Stopped for 5 s.
    let ticks = timers.fire_due(t0 + msec(5_030));
    let seen: Vec<(&str, Duration, u32)> = ticks.iter().map(|t| (&*t.name, t.scheduled - t0, t.missed)).collect();
    assert_eq!(seen, vec![("once", msec(250), 0), ("clock", msec(5_000), 48)]);
    assert!(timers.fire_due(t0 + msec(5_031)).is_empty(), "a burst after the gap");
    assert_eq!(timers.next_deadline(), Some(t0 + msec(5_100)));
}

#[test]
fn the_estimator_across_a_partition_resumes_after_the_heal() {
    use cohort_tests::{installed, ip, netns_unavailable, Hosts, RedisServer};
    let test = "the_estimator_across_a_partition";
    if let Some(why) = netns_unavailable() {
        return skip(test, &why, "COHORT_REQUIRE_NETNS");
    }
    if !installed("redis-server") {
        return skip(test, "redis-server not found (apt-get install -y redis-server)", "COHORT_REQUIRE_REDIS");
    }
    let _serial = serial();
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip(test, &format!("cannot create network namespaces: {why}"), "COHORT_REQUIRE_NETNS"),
    };
    let place = Place::new();
    let deployment = place.dir.path().join("split.depl");
    std::fs::write(&deployment, cohort_tests::SPLIT_ESTIMATOR_DEPLOYMENT).unwrap();
    let (deployment, model) = (deployment.display().to_string(), place.model.display().to_string());
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let daemon = "tcp://127.0.0.1:9700";
    // Secured with CURVE as docs/security.md sets up several hosts: one key file, copied to each
    // host's key directory; each host's daemon makes its own key there.
    let keys = host_key_dirs(place.dir.path(), "DistributedEstimator", &["a", "b"]).unwrap();
    let mut launchers = Vec::new();
    for (host, keys_dir) in ["a", "b"].into_iter().zip(&keys) {
        let (ns, name) = (hosts.ns(host), format!("host-{host}"));
        let keys_dir = keys_dir.display().to_string();
        let disco_args = ["disco", daemon, &name, &redis, "--keys-dir", &keys_dir];
        let disco = Proc::in_ns(&format!("disco {host}"), &ns, PROBE, &disco_args).unwrap();
        disco.expect("READY");
        let extra = ["--model", &model, "--deployment", &deployment, "--host", &name, "--keys-dir", &keys_dir];
        let env = place.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let app = hosts.launcher(host, &format!("estimator on {name}"), ESTIMATOR, daemon, &extra, &env).unwrap();
        launchers.push((disco, app));
    }
    let aggregator = &mut launchers[1].1;
    aggregate(aggregator, "an aggregate of estimates from the other host", START);
    // Secured, so the estimates it aggregates came from host a over CURVE too.
    let secured = aggregator.records().iter().any(|r| r.msg() == "traffic is encrypted and authenticated (CURVE)");
    assert!(secured, "{} did not run secured", aggregator.name());

    // Cut host b off the bridge (its end of the link goes down; Redis is out of its reach too),
    // hold the partition, heal it.
    let b_link = format!("{}o", hosts.ns("b"));
    ip(&["link", "set", &b_link, "down"]).unwrap();
    let cut = Instant::now();
    // Longer than ZeroMQ's heartbeat timeout (3 s) and the Redis TTL (1 s): the connection across
    // the link is dropped and b's registrations expire, so the heal needs both made anew.
    let hold = Duration::from_secs(4);
    // While cut off, the Aggregator's wakeups go on, with nothing to aggregate.
    let (at, ()) = aggregator
        .wait("an empty aggregate", hold, |r| (r.msg() == "aggregate" && r.value["count"] == 0).then_some(()))
        .unwrap();
    note(&format!("estimator partition: the first empty aggregate {:?} after the cut", at - cut));
    std::thread::sleep(hold.saturating_sub(cut.elapsed()));
    ip(&["link", "set", &b_link, "up"]).unwrap();
    let healed = Instant::now();
    let resumed = aggregate(aggregator, "estimates across the healed link", Duration::from_secs(15));
    // Redis reconnection (back-off up to 2 s), TCP retransmission or ZeroMQ reconnection, a wakeup.
    report("partition of the estimator's hosts healed: aggregates again", resumed - healed, Duration::from_secs(5));
    for (_, app) in &launchers {
        assert_no_deaths(app);
        let exits: Vec<&Record> = app.records().iter().filter(|r| r.msg() == "actor exited; restarting it").collect();
        assert!(exits.is_empty(), "{}: {exits:#?}", app.name());
    }
    drop(launchers);
    drop(hosts);
}
