//! Resource budgets (`apps/budgets/budgets.riaps`): two actors that go over the budgets of their
//! model's `uses` clauses.
//!
//! - Actor `Spinner` (`cpu 20 % over 100 msec`) hosts a [`Spin`], which spins for 50 ms at each
//!   10 ms tick: it wants a whole core, and the kernel throttles it to a fifth of one.
//! - Actor `Hog` (`mem 64 mb`) hosts a [`Grow`], which allocates 4 MiB at each 20 ms tick (up to
//!   256 MiB): it hears `on_limit` at 90 % of its budget, then the kernel kills it at 100 %, the
//!   launcher logs why and restarts it, and it starts again, until the launcher gives up on a
//!   crash loop (five restarts within 30 s) and stops the app.
//!
//! Both log each `on_limit` (`limit`, with its `kind` and `detail`). Run it as root, or wherever
//! the launcher may make cgroups (elsewhere it warns once and the actors only measure their
//! use): `cargo run -p cohort-apps --bin budgets -- run --deployment apps/budgets/budgets.depl`.

mod grow;
mod spin;

/// The typed layer generated from `budgets.riaps` by `build.rs` (`cohort-build`).
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/budgets.rs"));
}

pub use grow::Grow;
pub use model::{app_model, components};
pub use spin::Spin;

use cohort_runtime::{HandlerResult, Limit};
use slog::info;

/// Logs a limit, as both components do.
fn log_limit(log: &slog::Logger, limit: Limit) -> HandlerResult {
    info!(log, "limit"; "kind" => limit.keyword(), "detail" => %limit);
    Ok(())
}
