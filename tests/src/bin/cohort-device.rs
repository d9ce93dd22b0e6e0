//! `cohort-device`: a tiny app with a device component, for the device tests
//! (`tests/device.rs`). Actor `Station` hosts device `meter` (type `Meter`), which publishes a
//! reading every 100 ms, and component `logger`, which logs each reading it gets (`reading`,
//! with the meter's process id and unit, and its own process id). `Reading` is internal to the
//! actor: the launcher runs the meter in a process of its own and makes the port local.
//! The meter's `unit` comes from the actor's argument, which a deployment can set.

use cohort_runtime::{
    AppModel, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult, Handlers, Message, Received,
    Tick,
};
use serde::{Deserialize, Serialize};
use slog::info;

/// The app's model.
const MODEL: &str = r#"
app Devices {
    message Reading;
    device Meter(unit = "volt") { timer clock 100; pub out : Reading; }
    component Logger { sub in : Reading; }
    actor Station(unit = "amp") {
        internal Reading;
        { meter : Meter(unit = unit); logger : Logger(); }
    }
}
"#;

/// A reading: its number, the unit, and the process that measured it.
#[derive(Debug, Serialize, Deserialize)]
struct Reading {
    n: u64,
    unit: String,
    pid: u32,
}

impl Message for Reading {
    const NAME: &'static str = "Reading";
}

/// The device: publishes a reading on each tick.
struct Meter {
    n: u64,
    unit: String,
}

impl Component for Meter {
    const TYPE: &'static str = "Meter";

    fn new(args: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        let unit = args.string("unit")?.to_owned();
        Ok(Meter { n: 0, unit })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.timer("clock", Meter::on_clock);
    }
}

impl Meter {
    fn on_clock(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        self.n += 1;
        let reading = Reading { n: self.n, unit: self.unit.clone(), pid: std::process::id() };
        ctx.publish("out", &reading)?;
        Ok(())
    }
}

/// The component: logs each reading.
struct Logger;

impl Component for Logger {
    const TYPE: &'static str = "Logger";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Logger)
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.sub("in", Logger::on_in);
    }
}

impl Logger {
    fn on_in(&mut self, ctx: &mut Context, m: Received<Reading>) -> HandlerResult {
        let r = &m.value;
        info!(ctx.log(), "reading"; "n" => r.n, "unit" => &r.unit, "meter_pid" => r.pid, "logger_pid" => std::process::id());
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    let components = Components::new().with::<Meter>().with::<Logger>();
    cohort_runtime::launch(AppModel::embedded("devices.riaps", MODEL), components)
}
