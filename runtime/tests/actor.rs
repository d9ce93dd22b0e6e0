//! An actor in this process: components on their own threads find each other through a real
//! discovery daemon, timers drive them, messages and requests flow, a panicking handler does
//! not stop its component, and start-up mistakes are clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cohort_discovery::DaemonThread;
use cohort_model::ast;
use cohort_ports::{Interface, Received, Response};
use cohort_runtime::{
    run_actor, ActorError, ActorSettings, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult,
    Handlers, Message, Tick,
};
use serde::{Deserialize, Serialize};

#[path = "support/daemon.rs"]
mod support;
use support::start_daemon;

const MODEL: &str = r#"
app Pipe {
    message Reading;
    message Ask;
    message Answer;
    component Sensor { timer clock 20; pub out : Reading; }
    component Display { sub in : Reading; }
    component Server { rep svc : (Ask, Answer); }
    component Client { timer tick 30; req ask : (Ask, Answer); }
    actor One {
        local Reading;
        { sensor : Sensor(); display : Display(); server : Server(); client : Client(); }
    }
}
"#;

#[derive(Debug, Serialize, Deserialize)]
struct Reading(u64);
impl Message for Reading {
    const NAME: &'static str = "Reading";
}
#[derive(Debug, Serialize, Deserialize)]
struct Ask(u64);
impl Message for Ask {
    const NAME: &'static str = "Ask";
}
#[derive(Debug, Serialize, Deserialize)]
struct Answer(u64);
impl Message for Answer {
    const NAME: &'static str = "Answer";
}

/// Listeners for what components report, by actor name.
type Listeners = Mutex<Vec<(String, Sender<String>)>>;

/// Where components report what happened.
fn events() -> &'static Listeners {
    static EVENTS: OnceLock<Listeners> = OnceLock::new();
    EVENTS.get_or_init(|| Mutex::new(Vec::new()))
}

fn report(ctx: &Context, what: String) {
    for (actor, tx) in events().lock().unwrap().iter() {
        if *actor == ctx.identity().actor {
            let _ = tx.send(what.clone());
        }
    }
}

struct Sensor {
    n: u64,
}
impl Component for Sensor {
    const TYPE: &'static str = "Sensor";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Sensor { n: 0 })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("clock", Sensor::on_clock);
    }
}
impl Sensor {
    fn on_clock(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        self.n += 1;
        ctx.publish("out", &Reading(self.n))?;
        Ok(())
    }
}

struct Display {
    seen: u64,
}
impl Component for Display {
    const TYPE: &'static str = "Display";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Display { seen: 0 })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.sub("in", Display::on_in);
    }
}
impl Display {
    fn on_in(&mut self, ctx: &mut Context, m: Received<Reading>) -> HandlerResult {
        self.seen += 1;
        if self.seen == 2 {
            panic!("the second reading upsets the display");
        }
        report(ctx, format!("display {}", self.seen));
        let _ = m;
        Ok(())
    }
}

struct Server;
impl Component for Server {
    const TYPE: &'static str = "Server";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Server)
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.reply("svc", Server::on_svc);
    }
}
impl Server {
    fn on_svc(&mut self, _: &mut Context, q: Received<Ask>) -> Result<Answer, HandlerError> {
        Ok(Answer(q.value.0 * 10))
    }
}

struct Client {
    n: u64,
}
impl Component for Client {
    const TYPE: &'static str = "Client";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Client { n: 0 })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("tick", Client::on_tick);
        h.response("ask", Client::on_answer);
    }
}
impl Client {
    fn on_tick(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        self.n += 1;
        // Until discovery has connected the port there is no provider: not an error here.
        let _ = ctx.request("ask", &Ask(self.n));
        Ok(())
    }
    fn on_answer(&mut self, ctx: &mut Context, r: Response<Answer>) -> HandlerResult {
        if let Response::Reply { message, .. } = r {
            report(ctx, format!("answer {}", message.value.0));
        }
        Ok(())
    }
}

fn app(model: &str) -> ast::App {
    let compiled = cohort_model::compile_app_model(model);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.value.unwrap().apps.into_iter().next().unwrap()
}

fn all() -> Components {
    Components::new().with::<Sensor>().with::<Display>().with::<Server>().with::<Client>()
}

fn settings(daemon: &DaemonThread) -> ActorSettings {
    ActorSettings {
        daemon: daemon.endpoint().to_owned(),
        interface: Interface::Named("lo".into()),
        ..ActorSettings::default()
    }
}

fn no_args(app: &ast::App, actor: &str) -> Vec<ComponentArgs> {
    let actor = app.actor(actor).unwrap();
    actor
        .instances
        .iter()
        .map(|i| ComponentArgs::new(i.name.name.clone(), i.component.name.clone(), Vec::<(String, _)>::new()))
        .collect()
}

fn expect(events: &Receiver<String>, what: &str) {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let left = give_up.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if e.starts_with(what) => return,
            Ok(_) => {}
            Err(_) => panic!("no {what:?} within 5 s"),
        }
    }
}

#[test]
fn components_talk_through_discovery_and_survive_a_panicking_handler() {
    let daemon = start_daemon();
    let app = app(MODEL);
    let (tx, rx) = channel();
    events().lock().unwrap().push(("One".into(), tx));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let settings = settings(&daemon);
    let args = no_args(&app, "One");
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let actor = std::thread::spawn(move || run_actor(&app, "One", args, &all(), &settings, &flag, &log));

    expect(&rx, "display 1");
    // The second reading panics the handler; the display goes on with the third.
    expect(&rx, "display 3");
    // The first requests may find no provider yet; some later one is answered.
    expect(&rx, "answer ");
    stop.store(true, Ordering::Relaxed);
    actor.join().unwrap().unwrap();
}

#[test]
fn a_missing_implementation_is_a_clear_start_up_error() {
    let daemon = start_daemon();
    let app = app(MODEL);
    let stop = AtomicBool::new(false);
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let components = Components::new().with::<Sensor>();
    let err = run_actor(&app, "One", no_args(&app, "One"), &components, &settings(&daemon), &stop, &log).unwrap_err();
    match err {
        ActorError::Component { instance, why, .. } => {
            assert_eq!(instance, "display");
            assert!(why.contains("no implementation of component type Display") && why.contains("Sensor"), "{why}");
        }
        other => panic!("{other}"),
    }
}

struct Misbound;
impl Component for Misbound {
    const TYPE: &'static str = "Display";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Misbound)
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.sub("inn", Misbound::on_in);
    }
}
impl Misbound {
    fn on_in(&mut self, _: &mut Context, _: Received<Reading>) -> HandlerResult {
        Ok(())
    }
}

#[test]
fn a_handler_on_a_port_the_model_lacks_is_a_start_up_error() {
    let daemon = start_daemon();
    let app = app(MODEL);
    let stop = AtomicBool::new(false);
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let components = Components::new().with::<Sensor>().with::<Misbound>();
    let err = run_actor(&app, "One", no_args(&app, "One"), &components, &settings(&daemon), &stop, &log).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("binds a handler to port \"inn\", which the model does not declare (ports: in)"), "{text}");
}
