//! Issue 13: group liveness does not depend on handlers. Three actors (each with its own
//! ZeroMQ context, as separate processes have) host one component each, all in one group of
//! declared size 3. Once they agree on a leader, first the leader's component and then a
//! follower's blocks inside a handler for three times the peer timeout. The actors' group
//! coordination threads keep heartbeating meanwhile: no member sees the leader change or a
//! member leave, the term stays, and the blocked leader still holds its lease, sampled from
//! inside the blocked handler.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cohort_model::ast;
use cohort_ports::Interface;
use cohort_runtime::{
    run_actor, uuid_text, ActorSettings, Component, ComponentArgs, Components, Context, GroupEvent, GroupName,
    HandlerError, HandlerResult, Handlers, JoinOptions, MemberId, Tick,
};

#[path = "support/daemon.rs"]
mod support;
use support::start_daemon;

/// Heartbeat 50 ms: Cohort's timing scaled to it gives elections of 150–250 ms and a peer
/// timeout of 500 ms.
const MODEL: &str = r#"
app Slow {
    message Note;
    group Council with leader using Note heartbeat = 50;
    component Member { timer tick 20; }
    actor A { { m : Member(); } }
    actor B { { m : Member(); } }
    actor C { { m : Member(); } }
}
"#;

/// The peer timeout the model's heartbeat gives.
const PEER_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a handler blocks: three peer timeouts.
const BLOCK: Duration = Duration::from_millis(3 * 500);

/// How often the blocked handler samples `is_leader()`.
const SAMPLES: u32 = 15;

/// What a component reports to the test.
#[derive(Debug, Clone)]
enum Report {
    /// Sent every tick: what the member learnt from its events, and its group's view.
    State {
        actor: String,
        id: MemberId,
        /// The leader named by the last `LeaderElected` (cleared by `LeaderExited`).
        leader: Option<MemberId>,
        /// The members it heard join and not leave.
        peers: usize,
        is_leader: bool,
        term: u64,
    },
    /// A group event that is not a message.
    Event { actor: String, what: String },
    /// The handler blocked for [`BLOCK`]; `is_leader()` sampled before, during and after.
    Blocked { id: MemberId, samples: Vec<bool> },
}

/// The test's side of the components: where they report, and whom it asks to block.
#[derive(Default)]
struct Hub {
    reports: Option<Sender<Report>>,
    block: Option<MemberId>,
}

fn hub() -> &'static Mutex<Hub> {
    static HUB: OnceLock<Mutex<Hub>> = OnceLock::new();
    HUB.get_or_init(|| Mutex::new(Hub::default()))
}

fn report(what: Report) {
    let reports = hub().lock().unwrap().reports.clone();
    if let Some(tx) = reports {
        let _ = tx.send(what);
    }
}

/// Whether the test asks member `id` to block now (asked once).
fn asked_to_block(id: MemberId) -> bool {
    let mut hub = hub().lock().unwrap();
    if hub.block == Some(id) {
        hub.block = None;
        true
    } else {
        false
    }
}

struct Member {
    group: Option<GroupName>,
    leader: Option<MemberId>,
    peers: BTreeSet<MemberId>,
}

impl Component for Member {
    const TYPE: &'static str = "Member";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Member { group: None, leader: None, peers: BTreeSet::new() })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("tick", Member::on_tick);
    }
    fn on_activate(&mut self, ctx: &mut Context) -> HandlerResult {
        let options = JoinOptions { expected_size: Some(3) };
        self.group = Some(ctx.join_group_with("Council", "one", options)?);
        Ok(())
    }
    fn on_group(&mut self, ctx: &mut Context, _: &GroupName, event: GroupEvent) -> HandlerResult {
        let what = match event {
            GroupEvent::MemberJoined(m) => {
                self.peers.insert(m);
                format!("MemberJoined {}", uuid_text(&m))
            }
            GroupEvent::MemberLeft(m) => {
                self.peers.remove(&m);
                format!("MemberLeft {}", uuid_text(&m))
            }
            GroupEvent::LeaderElected(l) => {
                self.leader = Some(l);
                format!("LeaderElected {}", uuid_text(&l))
            }
            GroupEvent::LeaderExited(l) => {
                self.leader = None;
                format!("LeaderExited {}", uuid_text(&l))
            }
            _ => return Ok(()),
        };
        report(Report::Event { actor: ctx.identity().actor.clone(), what });
        Ok(())
    }
}

impl Member {
    fn on_tick(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        let Some(name) = self.group.clone() else { return Ok(()) };
        let actor = ctx.identity().actor.clone();
        let group = ctx.group(&name)?;
        let id = group.id();
        if asked_to_block(id) {
            // A slow handler: it keeps the component's thread for three peer timeouts.
            let mut samples = vec![group.is_leader()];
            for _ in 0..SAMPLES {
                std::thread::sleep(BLOCK / SAMPLES);
                samples.push(group.is_leader());
            }
            report(Report::Blocked { id, samples });
        }
        report(Report::State {
            actor,
            id,
            leader: self.leader,
            peers: self.peers.len(),
            is_leader: group.is_leader(),
            term: group.term(),
        });
        Ok(())
    }
}

/// The latest state each actor reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    id: MemberId,
    leader: Option<MemberId>,
    peers: usize,
    is_leader: bool,
    term: u64,
}

/// The group as all three agree on it.
#[derive(Debug, Clone, Copy)]
struct Agreed {
    leader: MemberId,
    term: u64,
    members: [MemberId; 3],
}

/// Waits until every member names one leader from its events, has heard the two others join,
/// and the leader holds its lease.
fn wait_for_agreement(reports: &Receiver<Report>, within: Duration) -> Agreed {
    let give_up = Instant::now() + within;
    let mut states: BTreeMap<String, State> = BTreeMap::new();
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        match reports.recv_timeout(left) {
            Ok(Report::State { actor, id, leader, peers, is_leader, term }) => {
                states.insert(actor, State { id, leader, peers, is_leader, term });
            }
            Ok(_) => continue,
            Err(_) => panic!("no agreed leader within {within:?}; last states: {states:#?}"),
        }
        let all: Vec<State> = states.values().copied().collect();
        let [a, b, c] = all.as_slice() else { continue };
        let Some(leader) = a.leader else { continue };
        let agreed = all.iter().all(|s| s.leader == Some(leader) && s.peers == 2 && s.term == a.term)
            && all.iter().any(|s| s.id == leader && s.is_leader);
        if agreed {
            return Agreed { leader, term: a.term, members: [a.id, b.id, c.id] };
        }
    }
}

/// Asks member `who` to block in a handler, and watches everything the members report until a
/// peer timeout and a half after the block ended. Panics if any member saw the leader change,
/// a member leave or the term move, if the leader ever lost its lease, or if the blocked
/// handler's samples of `is_leader()` are not all `leads`.
fn block_and_watch(reports: &Receiver<Report>, group: &Agreed, who: MemberId, leads: bool) {
    hub().lock().unwrap().block = Some(who);
    let started = Instant::now();
    let mut unblocked: Option<Instant> = None;
    let mut ticks_after: BTreeMap<MemberId, usize> = BTreeMap::new();
    let watch_after = PEER_TIMEOUT * 3 / 2;
    loop {
        if let Some(at) = unblocked {
            let everyone_ticked = group.members.iter().all(|m| ticks_after.get(m).copied().unwrap_or(0) >= 3);
            if at.elapsed() >= watch_after && everyone_ticked {
                return;
            }
        }
        let give_up = started + BLOCK + watch_after + Duration::from_secs(2);
        let left = give_up.saturating_duration_since(Instant::now());
        let report = match reports.recv_timeout(left.min(watch_after)) {
            Ok(report) => report,
            Err(_) if Instant::now() < give_up => continue,
            Err(_) => panic!("the members stopped reporting (blocked handler done: {})", unblocked.is_some()),
        };
        match report {
            Report::Event { actor, what } => {
                panic!("{actor} saw {what} {:?} after the block began", started.elapsed())
            }
            Report::Blocked { id, samples } => {
                assert_eq!(id, who);
                assert!(
                    samples.iter().all(|&s| s == leads),
                    "is_leader() in the blocked handler, expected {leads} throughout: {samples:?}"
                );
                unblocked = Some(Instant::now());
            }
            Report::State { actor, id, leader, peers, is_leader, term } => {
                assert_eq!(leader, Some(group.leader), "{actor} changed its leader");
                assert_eq!(peers, 2, "{actor} lost a member");
                assert_eq!(term, group.term, "{actor} moved to another term");
                if id == group.leader {
                    assert!(is_leader, "the leader ({actor}) lost its lease");
                }
                if unblocked.is_some() {
                    *ticks_after.entry(id).or_default() += 1;
                }
            }
        }
    }
}

fn app() -> ast::App {
    let compiled = cohort_model::compile_app_model(MODEL);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.value.unwrap().apps.into_iter().next().unwrap()
}

/// Logs to standard error when `COHORT_TEST_LOG` is set (to debug the test).
fn test_log() -> slog::Logger {
    if std::env::var_os("COHORT_TEST_LOG").is_some() {
        cohort_runtime::logging::logger(cohort_runtime::logging::Level::Debug, false)
    } else {
        slog::Logger::root(slog::Discard, slog::o!())
    }
}

#[test]
fn issue_13_a_blocked_handler_keeps_the_leader_and_the_members() {
    let daemon = start_daemon();
    let (tx, reports) = channel();
    hub().lock().unwrap().reports = Some(tx);
    let app = app();
    let stop = Arc::new(AtomicBool::new(false));
    let settings = ActorSettings {
        daemon: daemon.endpoint().to_owned(),
        interface: Interface::Named("lo".into()),
        ..ActorSettings::default()
    };
    let log = test_log();
    let actors: Vec<_> = ["A", "B", "C"]
        .into_iter()
        .map(|actor| {
            let (app, settings, stop, log) = (app.clone(), settings.clone(), Arc::clone(&stop), log.clone());
            std::thread::spawn(move || {
                let args = vec![ComponentArgs::new("m".to_owned(), "Member".to_owned(), Vec::<(String, _)>::new())];
                let components = Components::new().with::<Member>();
                run_actor(&app, actor, args, &components, &settings, &stop, &log)
            })
        })
        .collect();

    let group = wait_for_agreement(&reports, Duration::from_secs(5));
    // The leader's handler blocks: it stays leader, with its lease, and nobody leaves.
    block_and_watch(&reports, &group, group.leader, true);
    // A follower's handler blocks: it stays a member, and the leader stays.
    let follower = group.members.into_iter().find(|m| *m != group.leader).unwrap();
    block_and_watch(&reports, &group, follower, false);

    stop.store(true, Ordering::Relaxed);
    for actor in actors {
        actor.join().unwrap().unwrap();
    }
}
