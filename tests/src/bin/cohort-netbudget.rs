//! `cohort-netbudget`: a tiny app whose actor sends faster than its network budget, for the
//! network budget test (`tests/budgets.rs`). Actor `Talk` (`net rate 20 kbps ceil 20 kbps`, 20 KiB
//! a second as RIAPS counts) hosts `talker`, which publishes a 2 KiB chunk every 10 ms (200 KiB
//! a second) and logs each `on_limit` (`limit`, with `kind` and `detail`). Actor `Listen` hosts
//! `listener`, which logs every second the bytes it received in it (`received`, `bytes`).

use cohort_runtime::{
    AppModel, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult, Handlers, Limit, Message,
    Received, Tick,
};
use serde::{Deserialize, Serialize};
use slog::info;

/// The app's model.
const MODEL: &str = r#"
app NetBudget {
    message Chunk;
    component Talker { timer clock 10; pub out : Chunk; }
    component Listener { sub in : Chunk; timer report 1000; }
    actor Talk {
        uses { net rate 20 kbps ceil 20 kbps burst 4 k; }
        { talker : Talker(); }
    }
    actor Listen { { listener : Listener(); } }
}
"#;

/// How many bytes each chunk carries.
const CHUNK: usize = 2 << 10;

/// A chunk of text.
#[derive(Debug, Serialize, Deserialize)]
struct Chunk {
    text: String,
}

impl Message for Chunk {
    const NAME: &'static str = "Chunk";
}

/// Publishes a chunk on each tick.
struct Talker {
    chunk: Chunk,
}

impl Component for Talker {
    const TYPE: &'static str = "Talker";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Talker { chunk: Chunk { text: "x".repeat(CHUNK) } })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.timer("clock", Talker::on_clock);
    }

    fn on_limit(&mut self, ctx: &mut Context, limit: Limit) -> HandlerResult {
        info!(ctx.log(), "limit"; "kind" => limit.keyword(), "detail" => %limit);
        Ok(())
    }
}

impl Talker {
    fn on_clock(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        ctx.publish("out", &self.chunk)?;
        Ok(())
    }
}

/// Counts what it receives.
struct Listener {
    bytes: usize,
}

impl Component for Listener {
    const TYPE: &'static str = "Listener";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Listener { bytes: 0 })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.sub("in", Listener::on_in);
        h.timer("report", Listener::on_report);
    }
}

impl Listener {
    fn on_in(&mut self, _: &mut Context, chunk: Received<Chunk>) -> HandlerResult {
        self.bytes += chunk.value.text.len();
        Ok(())
    }

    fn on_report(&mut self, ctx: &mut Context, _: Tick) -> HandlerResult {
        info!(ctx.log(), "received"; "bytes" => std::mem::take(&mut self.bytes));
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    let components = Components::new().with::<Talker>().with::<Listener>();
    cohort_runtime::launch(AppModel::embedded("netbudget.riaps", MODEL), components)
}
