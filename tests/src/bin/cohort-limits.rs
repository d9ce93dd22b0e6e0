//! `cohort-limits`: a tiny app whose actors go over their network and space budgets, for the
//! budget tests (`tests/budgets.rs`; the CPU and memory budgets are the `apps/budgets` example's).
//! - Actor `Talk` (`net rate 20 kbps ceil 20 kbps`, 20 KiB a second as RIAPS counts) hosts
//!   `talker`, which publishes a 2 KiB chunk every 10 ms (200 KiB a second).
//! - Actor `Listen` hosts `listener`, which logs every second the bytes it received in it
//!   (`received`, `bytes`).
//! - Actor `Fill` (`space 1 mb`) hosts `filler`, which writes a 2 MiB file (`fill.bin`) into the
//!   working directory when it starts.
//!
//! The talker and the filler log each `on_limit` (`limit`, with `kind` and `detail`).

use cohort_runtime::{
    AppModel, Component, ComponentArgs, Components, Context, HandlerError, HandlerResult, Handlers, Limit, Message,
    Received, Tick,
};
use serde::{Deserialize, Serialize};
use slog::info;

/// The app's model.
const MODEL: &str = r#"
app Limits {
    message Chunk;
    component Talker { timer clock 10; pub out : Chunk; }
    component Listener { sub in : Chunk; timer report 1000; }
    component Filler { }
    actor Talk {
        uses { net rate 20 kbps ceil 20 kbps burst 4 k; }
        { talker : Talker(); }
    }
    actor Listen { { listener : Listener(); } }
    actor Fill {
        uses { space 1 mb; }
        { filler : Filler(); }
    }
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
        log_limit(ctx, limit)
    }
}

/// Logs a limit, as the talker and the filler do.
fn log_limit(ctx: &Context, limit: Limit) -> HandlerResult {
    info!(ctx.log(), "limit"; "kind" => limit.keyword(), "detail" => %limit);
    Ok(())
}

/// Writes a file bigger than its actor's space budget.
struct Filler;

impl Component for Filler {
    const TYPE: &'static str = "Filler";

    fn new(_: &ComponentArgs, _: &mut Context) -> Result<Self, HandlerError> {
        Ok(Filler)
    }

    fn handlers(_: &mut Handlers<Self>) {}

    fn on_activate(&mut self, _: &mut Context) -> HandlerResult {
        std::fs::write("fill.bin", vec![7u8; 2 << 20])?;
        Ok(())
    }

    fn on_limit(&mut self, ctx: &mut Context, limit: Limit) -> HandlerResult {
        log_limit(ctx, limit)
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
    let components = Components::new().with::<Talker>().with::<Listener>().with::<Filler>();
    cohort_runtime::launch(AppModel::embedded("limits.riaps", MODEL), components)
}
