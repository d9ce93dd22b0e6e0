//! `component Grow { timer clock 20; }`: allocates 4 MiB at every tick, up to 256 MiB.

use cohort_runtime::typed::Context;
use cohort_runtime::{HandlerError, HandlerResult, Limit, Tick};
use slog::info;

use super::model::grow::{self, Params, Ports};

/// How much each tick allocates, and the most it holds.
const STEP: usize = 4 << 20;
const MOST: usize = 256 << 20;

/// The allocator.
pub struct Grow {
    held: Vec<Vec<u8>>,
}

impl grow::Component for Grow {
    fn new(_params: Params, _ctx: &mut Context<Ports>) -> Result<Self, HandlerError> {
        Ok(Grow { held: Vec::new() })
    }

    fn on_clock(&mut self, _ctx: &mut Context<Ports>, _tick: Tick) -> HandlerResult {
        if self.held.len() * STEP < MOST {
            // Bytes that are not zero: every page is touched, so it is resident.
            self.held.push(vec![1u8; STEP]);
        }
        Ok(())
    }

    fn on_limit(&mut self, ctx: &mut Context<Ports>, limit: Limit) -> HandlerResult {
        info!(ctx.log(), "holding"; "bytes" => self.held.len() * STEP);
        super::log_limit(ctx.log(), limit)
    }
}
