//! What a running Cohort app tells its operators.
//!
//! - Each actor process sends its launcher an [`ActorReport`] about twice a second: per port
//!   messages, bytes, drops and request outcomes; per handler calls, a latency histogram,
//!   deadline misses, errors and panics; per group leader, term, members, elections and votes;
//!   and its process's memory and CPU ([`report`]).
//! - The launcher keeps a [`Board`]: the latest report of each actor with its supervision state
//!   and restarts, message rates between reports, the app's graph and the latest warnings. A
//!   [`AppView`] is a copy of it, which the web page, `cohort top` and the Prometheus output
//!   read ([`view`]).
//!
//! This crate holds no sockets to the app: the runtime moves the reports, this crate describes
//! and serves them.

pub mod graph;
pub mod prometheus;
pub mod report;
pub mod server;
pub mod view;
pub mod warnings;

pub use graph::{AppGraph, GraphActor, GraphFlow, GraphInstance, GraphPort, PortRef};
pub use prometheus::{encode_app, MetricSet};
pub use report::{
    ActorReport, GroupReport, GroupTraffic, HandlerReport, Histogram, InstanceReport, LimitCounts, PortCounters,
    PortReport, ProcessStats, VoteCounts, Warning, WarningLevel, LATENCY_BOUNDS_SECONDS,
};
pub use server::{MonitorServer, ServeError, Source};
pub use view::{ActorState, ActorView, AppView, Board, GroupMemberView, InstanceView, PortRates, PortView};
pub use warnings::{WarningRing, WarningTap};

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970).
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
