//! Peer events in the string-keyed API: two actors in this process, on one discovery daemon,
//! see each other come up, and the one that stays sees the other go down when it stops (its
//! goodbye). The NIC and the typed API are tested with real processes in
//! `tests/tests/node_events.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_discovery::DaemonThread;
use cohort_model::ast;
use cohort_ports::Interface;
use cohort_runtime::{
    run_actor, ActorError, ActorSettings, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult,
    Handlers, NicState, Peer, PeerState, Tick,
};

#[path = "support/daemon.rs"]
mod support;
use support::start_daemon;

const MODEL: &str = r#"
app Peers {
    component Watcher { timer idle 1000; }
    actor A { { w : Watcher(); } }
    actor B { { w : Watcher(); } }
}
"#;

/// Where watchers report, as `<actor> saw <peer actor> <state>`.
fn events() -> &'static Mutex<Option<Sender<String>>> {
    static EVENTS: OnceLock<Mutex<Option<Sender<String>>>> = OnceLock::new();
    EVENTS.get_or_init(|| Mutex::new(None))
}

struct Watcher;
impl Component for Watcher {
    const TYPE: &'static str = "Watcher";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Watcher)
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("idle", Watcher::on_idle);
    }
    fn on_peer_state(&mut self, ctx: &mut Context, peer: &Peer, state: PeerState) -> HandlerResult {
        if let Some(tx) = events().lock().unwrap().as_ref() {
            let _ = tx.send(format!("{} saw {} {state}", ctx.identity().actor, peer.actor));
        }
        Ok(())
    }
    /// An actor on loopback gets none: one would spoil the sequence the test expects.
    fn on_nic_state(&mut self, ctx: &mut Context, state: NicState) -> HandlerResult {
        if let Some(tx) = events().lock().unwrap().as_ref() {
            let _ = tx.send(format!("{} NIC {state}", ctx.identity().actor));
        }
        Ok(())
    }
}
impl Watcher {
    fn on_idle(&mut self, _: &mut Context, _: Tick) -> HandlerResult {
        Ok(())
    }
}

fn app() -> ast::App {
    let compiled = cohort_model::compile_app_model(MODEL);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.value.unwrap().apps.into_iter().next().unwrap()
}

fn start(
    app: &ast::App,
    actor: &str,
    daemon: &DaemonThread,
    stop: &Arc<AtomicBool>,
) -> JoinHandle<Result<(), ActorError>> {
    let settings = ActorSettings {
        daemon: daemon.endpoint().to_owned(),
        interface: Interface::Named("lo".into()),
        ..ActorSettings::default()
    };
    let args = vec![ComponentArgs::new("w", "Watcher", Vec::<(String, _)>::new())];
    let (app, actor, stop) = (app.clone(), actor.to_owned(), Arc::clone(stop));
    std::thread::spawn(move || {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        run_actor(&app, &actor, args, &Components::new().with::<Watcher>(), &settings, &stop, &log)
    })
}

fn expect(events: &Receiver<String>, what: &str) {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        match events.recv_timeout(give_up.saturating_duration_since(Instant::now())) {
            Ok(e) if e == what => return,
            Ok(_) => {}
            Err(_) => panic!("no {what:?} within 5 s"),
        }
    }
}

#[test]
fn actors_see_each_other_come_and_go() {
    let daemon = start_daemon();
    let app = app();
    let (tx, rx) = channel();
    *events().lock().unwrap() = Some(tx);
    let (stop_a, stop_b) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let a = start(&app, "A", &daemon, &stop_a);
    let b = start(&app, "B", &daemon, &stop_b);
    // Whichever starts second finds the other registered; the first is told by discovery.
    let mut seen =
        vec![rx.recv_timeout(Duration::from_secs(5)).unwrap(), rx.recv_timeout(Duration::from_secs(5)).unwrap()];
    seen.sort();
    assert_eq!(seen, ["A saw B up", "B saw A up"]);
    stop_b.store(true, Ordering::Relaxed);
    b.join().unwrap().unwrap();
    expect(&rx, "A saw B down");
    stop_a.store(true, Ordering::Relaxed);
    a.join().unwrap().unwrap();
}
