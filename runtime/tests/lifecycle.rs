//! The lifecycle handlers no other test calls, in the string-keyed API: a handler that overruns
//! its `within` deadline gets `on_deadline_missed` with its port, how long it took and the
//! deadline; an actor told to stop calls `on_deactivate` of each component before it returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cohort_ports::Interface;
use cohort_runtime::{
    run_actor, ActorSettings, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult, Handlers,
    Tick,
};

#[path = "support/daemon.rs"]
mod support;
use support::start_daemon;

const MODEL: &str = r#"
app Lifecycle {
    component Slow { timer clock 50 within 10; }
    actor A { { s : Slow(); } }
}
"#;

/// How long the timer's handler takes: more than its 10 ms deadline.
const TAKES: Duration = Duration::from_millis(30);

/// Where the component reports what was called.
fn calls() -> &'static Mutex<Option<Sender<String>>> {
    static CALLS: OnceLock<Mutex<Option<Sender<String>>>> = OnceLock::new();
    CALLS.get_or_init(|| Mutex::new(None))
}

fn tell(what: String) {
    if let Some(tx) = calls().lock().unwrap().as_ref() {
        let _ = tx.send(what);
    }
}

struct Slow;

impl Component for Slow {
    const TYPE: &'static str = "Slow";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Slow)
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.timer("clock", Slow::on_clock);
    }

    fn on_deadline_missed(&mut self, _: &mut Context, port: &str, took: Duration, deadline: Duration) {
        tell(format!("missed {port} {} {}", took >= TAKES, deadline.as_millis()));
    }

    fn on_deactivate(&mut self, _: &mut Context) -> HandlerResult {
        tell("deactivated".to_owned());
        Ok(())
    }
}

impl Slow {
    fn on_clock(&mut self, _: &mut Context, _: Tick) -> HandlerResult {
        std::thread::sleep(TAKES);
        Ok(())
    }
}

#[test]
fn a_late_handler_is_told_and_a_stopping_actor_deactivates_its_components() {
    let daemon = start_daemon();
    let compiled = cohort_model::compile_app_model(MODEL);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let app = compiled.value.unwrap().apps.into_iter().next().unwrap();
    let (tx, rx) = channel();
    *calls().lock().unwrap() = Some(tx);
    let settings = ActorSettings {
        daemon: daemon.endpoint().to_owned(),
        interface: Interface::Named("lo".into()),
        ..ActorSettings::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let actor = std::thread::spawn(move || {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let args = vec![ComponentArgs::new("s", "Slow", Vec::<(String, _)>::new())];
        run_actor(&app, "A", args, &Components::new().with::<Slow>(), &settings, &flag, &log)
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "missed clock true 10");
    stop.store(true, Ordering::Relaxed);
    actor.join().unwrap().unwrap();
    assert_eq!(rx.try_iter().last().as_deref(), Some("deactivated"), "on_deactivate is the last call");
}
