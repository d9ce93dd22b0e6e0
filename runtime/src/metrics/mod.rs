//! What an actor reports to its launcher, with no app code: every port's counters (kept by the
//! ports themselves), every handler's calls and latency ([`HandlerStats`], kept by the
//! executor), the groups its components joined (asked of the coordination thread), and its
//! process's memory and CPU. The actor's main thread puts them together into a
//! [`cohort_monitor::ActorReport`] every [`REPORT_INTERVAL`] and sends it to the launcher
//! ([`Reporter`]).

mod handler;
mod process;
mod reporter;

use std::time::Duration;

pub(crate) use handler::{CallOutcome, HandlerStats};
pub(crate) use process::{cpu_seconds, resident_bytes};
pub(crate) use reporter::{HandlerProbe, InstanceProbe, PortProbe, Reporter};

/// How often an actor reports.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(500);
