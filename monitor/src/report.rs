//! What an actor process reports about itself: the values of its counters at one moment.
//!
//! Counters only grow while the process lives (a restarted actor starts again from zero, with a
//! new `pid` and `started_ms`); rates are worked out from two reports by the [`crate::Board`].

use cohort_model::ast::PortKind;
use serde::{Deserialize, Serialize};

/// Upper bounds, in seconds, of the buckets of a handler's latency [`Histogram`]; a last bucket
/// takes everything slower.
pub const LATENCY_BOUNDS_SECONDS: [f64; 14] =
    [0.000_01, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 5.0];

/// One actor process at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorReport {
    /// The actor's name in the model.
    pub actor: String,
    /// Its process.
    pub pid: u32,
    /// When the process started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// When the report was made, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// Memory and CPU of the process.
    pub process: ProcessStats,
    /// The component instances, in model order.
    pub instances: Vec<InstanceReport>,
    /// The group instances its components joined.
    pub groups: Vec<GroupReport>,
    /// The latest warnings and errors the actor logged, oldest first (a bounded number).
    pub warnings: Vec<Warning>,
}

/// Memory and CPU of one process.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ProcessStats {
    /// Resident memory, in bytes.
    pub rss_bytes: u64,
    /// CPU time used so far, user and system, in seconds.
    pub cpu_seconds: f64,
    /// Threads of the process.
    pub threads: u32,
    /// The times the process told its components it was over a part of its budget
    /// (`on_limit`), by kind; zero for an actor without a budget.
    #[serde(default)]
    pub limits: LimitCounts,
}

/// How many limit events (`on_limit`) of each kind a process told its components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LimitCounts {
    /// Over its CPU budget.
    pub cpu: u64,
    /// At its memory notice level.
    pub mem: u64,
    /// Over its space budget.
    pub space: u64,
    /// Over its network ceiling.
    pub net: u64,
}

impl LimitCounts {
    /// Each kind's count, with the kind as the metric's `kind` label spells it.
    pub fn by_kind(&self) -> [(&'static str, u64); 4] {
        [("cpu", self.cpu), ("mem", self.mem), ("space", self.space), ("net", self.net)]
    }
}

/// One component instance: its ports and its handlers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The instance's name in the actor.
    pub name: String,
    /// Its component type.
    pub component: String,
    /// Its ports that carry messages (not timers), in model order.
    pub ports: Vec<PortReport>,
    /// Its handlers, one per input port and timer, in model order.
    pub handlers: Vec<HandlerReport>,
}

/// One port's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortReport {
    /// The port's name.
    pub name: String,
    /// Its kind.
    pub kind: PortKind,
    /// Its counters.
    pub counters: PortCounters,
}

/// What a port sent, received and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortCounters {
    /// Messages sent (published, requests, replies, answers).
    pub sent: u64,
    /// Messages received and delivered (on a request port: its replies).
    pub received: u64,
    /// Bytes of the messages sent: Cohort's frames, header and payload.
    pub bytes_sent: u64,
    /// Bytes of the messages received and delivered: Cohort's frames, header and payload.
    pub bytes_received: u64,
    /// Frames dropped as too short, with unknown flags or the wrong number of ZeroMQ frames.
    pub dropped_malformed: u64,
    /// Frames dropped because they are of another format version.
    pub dropped_foreign_version: u64,
    /// Frames dropped because they carry another message type.
    pub dropped_wrong_type: u64,
    /// Frames dropped because their payload does not decode.
    pub dropped_undecodable: u64,
    /// Replies or answers dropped because their request had already ended.
    pub dropped_stale: u64,
    /// Replies that could not be routed because the requester is gone.
    pub dropped_unroutable: u64,
    /// Requests ended by their deadline.
    pub timed_out: u64,
    /// Requests ended because their provider went away.
    pub provider_gone: u64,
}

/// One handler's calls and how long they took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandlerReport {
    /// The port (or timer) the handler serves.
    pub port: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that returned an error.
    pub errors: u64,
    /// Calls that panicked.
    pub panics: u64,
    /// Calls that took longer than the port's `within` deadline.
    pub deadline_misses: u64,
    /// How long the calls took.
    pub latency: Histogram,
}

/// A histogram of durations over [`LATENCY_BOUNDS_SECONDS`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations per bucket (not cumulative): one per bound, then one above the last bound.
    pub counts: Vec<u64>,
    /// The sum of all observations, in seconds.
    pub sum_seconds: f64,
}

impl Histogram {
    /// Observations in all.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(upper bound, cumulative count)` per bucket, ending with `(f64::INFINITY, count)`, as
    /// Prometheus wants them.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let bounds = LATENCY_BOUNDS_SECONDS.iter().copied().chain(std::iter::once(f64::INFINITY));
        let mut total = 0;
        bounds
            .zip(self.counts.iter().copied().chain(std::iter::repeat(0)))
            .map(|(bound, n)| {
                total += n;
                (bound, total)
            })
            .collect()
    }
}

/// One member of one group instance, as its actor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// The component instance that joined.
    pub instance: String,
    /// The group type.
    pub group_type: String,
    /// The group instance's name.
    pub group: String,
    /// This member's id.
    pub member: String,
    /// The leader this member knows of.
    pub leader: Option<String>,
    /// Whether this member leads now (holds its lease).
    pub is_leader: bool,
    /// The member's term.
    pub term: u64,
    /// The members it knows of, itself included.
    pub members: Vec<String>,
    /// Leaders elected that this member saw.
    pub elections: u64,
    /// Votes this member saw end, by outcome.
    pub votes: VoteCounts,
    /// What the member's sockets carried: group messages, heartbeats, elections and votes.
    pub traffic: GroupTraffic,
    /// Frames the member's sockets refused (malformed, foreign, of another type).
    pub refused: u64,
}

/// Messages and bytes of one group member's sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupTraffic {
    /// Messages sent.
    pub sent: u64,
    /// Messages received.
    pub received: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

/// Votes by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VoteCounts {
    /// Votes that passed.
    pub passed: u64,
    /// Votes that failed.
    pub failed: u64,
    /// Votes whose time ran out without a decision.
    pub timed_out: u64,
    /// Votes whose leader went away before they ended.
    pub lost: u64,
}

/// How bad a logged problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarningLevel {
    /// A warning.
    Warning,
    /// An error.
    Error,
    /// A critical error.
    Critical,
}

/// A warning or error from a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// When it was logged, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// How bad.
    pub level: WarningLevel,
    /// Who logged it: the launcher, an actor, or `actor.instance`.
    pub source: String,
    /// The message with its key-value pairs, as a log line shows them.
    pub text: String,
}
