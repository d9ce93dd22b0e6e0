//! The `app messages` cases: group messages as an app sends and takes them, through the
//! runtime. One actor hosts a sending component, 2 or 4 others a receiving one each; all run
//! in this process, each actor on its thread with its own ZeroMQ context (as separate
//! processes have), found through the benchmark's discovery daemon. The sender's handler sends
//! `n` messages with `Group::send` (a 64-byte CBOR struct, like the ports benchmark's `cbor`
//! lines), then an end marker; each receiver takes them in `on_group` and decodes each one, as
//! an app does. So every message goes component → the actor's group coordination thread →
//! gpub → the receiving actor's coordination thread → its component. Alongside, in alternating
//! pairs, raw PUB/SUB at the same size ([`raw_pubsub`], whose subscribers read every byte).
//! Information: issue 13's target is judged on `GroupMember` ([`super::pubsub_case`]); this is
//! what an app gets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;
use cohort_model::ast;
use cohort_runtime::{
    run_actor, ActorSettings, Component, ComponentArgs, Components, Context, GroupName, HandlerError, HandlerResult,
    Handlers, Message, Tick,
};
use serde::{Deserialize, Serialize};

use super::*;

const MODEL: &str = r#"
app GroupApp {
    message Note;
    group Mesh using Note;
    component Sender { timer tick 2; }
    component Receiver { timer tick 1000; }
    actor S { { s : Sender(); } }
    actor R1 { { r : Receiver(); } }
    actor R2 { { r : Receiver(); } }
    actor R3 { { r : Receiver(); } }
    actor R4 { { r : Receiver(); } }
}
"#;

/// The message: its CBOR encoding is 64 bytes, [`PAYLOAD`], as the ports benchmark's `cbor`
/// lines' struct.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    kind: u8,
    seq: u64,
    value: f64,
    sensor: String,
    unit: String,
}

impl Note {
    fn new(kind: u8) -> Note {
        Note { kind, seq: 12_345_678, value: 21.5, sensor: "bench-sensor-01".to_owned(), unit: "degC".to_owned() }
    }
}

impl Message for Note {
    const NAME: &'static str = "Note";
}

/// What the benchmark and the components share.
#[derive(Default)]
struct Shared {
    reports: Option<std::sync::mpsc::Sender<(usize, Report)>>,
    /// The sender sends a warm-up message every tick while this is set.
    warm: bool,
    /// Messages the sender is to send at its next tick.
    go: Option<u64>,
    /// When the sender began, and the process's CPU time then.
    started: Option<(Instant, Duration)>,
}

fn shared() -> &'static Mutex<Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| Mutex::new(Shared::default()))
}

fn tell(i: usize, report: Report) {
    let reports = shared().lock().unwrap().reports.clone();
    if let Some(tx) = reports {
        let _ = tx.send((i, report));
    }
}

struct SendingComponent {
    group: Option<GroupName>,
}

impl Component for SendingComponent {
    const TYPE: &'static str = "Sender";
    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(SendingComponent { group: None })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("tick", SendingComponent::on_tick);
    }
    fn on_activate(&mut self, ctx: &mut Context) -> HandlerResult {
        self.group = Some(ctx.join_group("Mesh", "one")?);
        Ok(())
    }
}

impl SendingComponent {
    fn on_tick(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        let Some(name) = self.group.clone() else { return Ok(()) };
        let (warm, go) = {
            let mut shared = shared().lock().unwrap();
            (shared.warm, shared.go.take())
        };
        let group = ctx.group(&name)?;
        if let Some(n) = go {
            let data = Note::new(DATA);
            shared().lock().unwrap().started = Some((Instant::now(), process_cpu()));
            for _ in 0..n {
                group.send(&data)?;
            }
            group.send(&Note::new(END))?;
        } else if warm {
            group.send(&Note::new(WARM))?;
        }
        Ok(())
    }
}

struct ReceivingComponent {
    /// Which receiver: actor `R1` is 0.
    index: usize,
    ready: bool,
    count: u64,
}

impl Component for ReceivingComponent {
    const TYPE: &'static str = "Receiver";
    fn new(_: &ComponentArgs, ctx: &mut Context) -> Result<Self, HandlerError> {
        let index = ctx.identity().actor.trim_start_matches('R').parse::<usize>().unwrap() - 1;
        Ok(ReceivingComponent { index, ready: false, count: 0 })
    }
    fn handlers(h: &mut Handlers<Self>) {
        h.timer("tick", |_, _, _| Ok(()));
    }
    fn on_activate(&mut self, ctx: &mut Context) -> HandlerResult {
        ctx.join_group("Mesh", "one")?;
        Ok(())
    }
    fn on_group(&mut self, _: &mut Context, _: &GroupName, event: GroupEvent) -> HandlerResult {
        let GroupEvent::Message { payload, .. } = event else { return Ok(()) };
        let note: Note = payload.decode()?;
        match note.kind {
            DATA => self.count += 1,
            END => {
                tell(self.index, Report::Done(self.count, Instant::now()));
                self.count = 0;
            }
            WARM if !self.ready => {
                self.ready = true;
                tell(self.index, Report::Ready);
            }
            _ => {}
        }
        Ok(())
    }
}

fn app() -> ast::App {
    let compiled = cohort_model::compile_app_model(MODEL);
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    compiled.value.unwrap().apps.into_iter().next().unwrap()
}

/// The app's actors, each on its thread until `stop` is set.
struct Actors {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Actors {
    fn start(daemon: &str, k: usize) -> Actors {
        let app = app();
        let stop = Arc::new(AtomicBool::new(false));
        let settings = ActorSettings {
            daemon: daemon.to_owned(),
            interface: Interface::Address(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
            options: no_drop_options(),
            ..ActorSettings::default()
        };
        let actors = std::iter::once(("S", "s", "Sender"))
            .chain(["R1", "R2", "R3", "R4"].into_iter().take(k).map(|actor| (actor, "r", "Receiver")));
        let threads = actors
            .map(|(actor, instance, ty)| {
                let (app, settings, stop) = (app.clone(), settings.clone(), Arc::clone(&stop));
                thread::Builder::new()
                    .name(format!("app-{actor}"))
                    .spawn(move || {
                        let args =
                            vec![ComponentArgs::new(instance.to_owned(), ty.to_owned(), Vec::<(String, _)>::new())];
                        let components = Components::new().with::<SendingComponent>().with::<ReceivingComponent>();
                        if let Err(e) = run_actor(&app, actor, args, &components, &settings, &stop, &log()) {
                            tell(0, Report::Failed(format!("actor {actor}: {e}")));
                        }
                    })
                    .unwrap()
            })
            .collect();
        Actors { stop, threads }
    }
}

impl Drop for Actors {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One run: the sender sends `n` messages to `k` receivers.
fn app_run(reports: &Receiver<(usize, Report)>, k: usize, n: u64) -> anyhow::Result<Run> {
    shared().lock().unwrap().go = Some(n);
    let mut last = None;
    for report in collect(reports, k, "app receivers counting", || Ok(Instant::now() + GIVE_UP))? {
        if let Report::Done(count, at) = report {
            ensure!(count == n, "an app receiver got {count} of {n} messages");
            last = Some(last.map_or(at, |l: Instant| l.max(at)));
        }
    }
    let (start, cpu_before) = shared().lock().unwrap().started.take().context("the sender never started")?;
    Ok(Run::new(n, start, last.context("no receiver")?, cpu_before))
}

/// The app case with `k` receivers: `pairs` alternating pairs of raw PUB/SUB and app runs of
/// `n` messages. Returns the report line and the table's row.
pub(super) fn app_case(daemon: &str, k: usize, n: u64, pairs: usize) -> (String, Row) {
    let what = format!("app group messages 64 B, 1 → {k} components");
    let (tx, reports) = channel();
    {
        let mut shared = shared().lock().unwrap();
        *shared = Shared { reports: Some(tx), warm: true, ..Shared::default() };
    }
    let actors = Actors::start(daemon, k);
    let result = (|| -> anyhow::Result<Vec<(Run, Run)>> {
        collect(&reports, k, "app receivers hearing the sender", || Ok(Instant::now() + GIVE_UP))?;
        shared().lock().unwrap().warm = false;
        let mut runs = Vec::new();
        for pair in 0..pairs {
            let (app, raw) = if pair % 2 == 0 {
                let raw = raw_pubsub(k, n, PAYLOAD)?;
                (app_run(&reports, k, n)?, raw)
            } else {
                let app = app_run(&reports, k, n)?;
                (app, raw_pubsub(k, n, PAYLOAD)?)
            };
            runs.push((app, raw));
        }
        Ok(runs)
    })();
    drop(actors);
    shared().lock().unwrap().reports = None;
    let runs = match result {
        Ok(runs) => runs,
        Err(e) => {
            let row = Row {
                case: what.clone(),
                median: "—".to_owned(),
                p99: "—".to_owned(),
                target: "—".to_owned(),
                met: "FAILED".to_owned(),
            };
            return (format!("{what:<51} FAILED: {e:#}"), row);
        }
    };
    let column = |f: &dyn Fn(&(Run, Run)) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let (app_rate, _, _) = spread(&column(&|(a, _)| a.rate));
    let (raw_rate, _, _) = spread(&column(&|(_, r)| r.rate));
    let (app_cpu, _, _) = spread(&column(&|(a, _)| a.cpu.as_secs_f64()));
    let (raw_cpu, _, _) = spread(&column(&|(_, r)| r.cpu.as_secs_f64()));
    let (ratio, low, high) = spread(&column(&|(a, r)| a.rate / r.rate));
    let (cpu_ratio, _, _) = spread(&column(&|(a, r)| a.cpu.as_secs_f64() / r.cpu.as_secs_f64()));
    let median = format!(
        "{} at {}/msg CPU (raw {} at {}/msg; {ratio:.2}×, {low:.2}–{high:.2}, CPU {cpu_ratio:.2}×)",
        rate_text(app_rate),
        cpu_text(app_cpu),
        rate_text(raw_rate),
        cpu_text(raw_cpu)
    );
    let line = format!("{what:<51} n={n} ×{} pairs  {median}  (information)", runs.len());
    let row = Row { case: what, median, p99: "—".to_owned(), target: "—".to_owned(), met: "info".to_owned() };
    (line, row)
}
