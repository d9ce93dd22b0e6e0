//! `component Spin { timer clock 10; }`: spins for 50 ms at every tick.

use std::time::{Duration, Instant};

use cohort_runtime::typed::Context;
use cohort_runtime::{HandlerError, HandlerResult, Limit, Tick};

use super::model::spin::{self, Params, Ports};

/// How long each tick spins.
const SPIN: Duration = Duration::from_millis(50);

/// The spinner.
pub struct Spin;

impl spin::Component for Spin {
    fn new(_params: Params, _ctx: &mut Context<Ports>) -> Result<Self, HandlerError> {
        Ok(Spin)
    }

    fn on_clock(&mut self, _ctx: &mut Context<Ports>, _tick: Tick) -> HandlerResult {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < SPIN {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        Ok(())
    }

    fn on_limit(&mut self, ctx: &mut Context<Ports>, limit: Limit) -> HandlerResult {
        super::log_limit(ctx.log(), limit)
    }
}
