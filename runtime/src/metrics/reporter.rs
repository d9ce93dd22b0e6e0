//! The actor's reports to its launcher: put together on the actor's main thread from the
//! counters its components' ports and handlers keep, and sent over a PUSH socket to the
//! launcher's PULL (an ipc endpoint in the app's private runtime directory), CBOR-encoded.
//!
//! Sending never waits: a report the launcher has not taken yet (its queue holds a few) is
//! dropped, and the next one carries the same counters, grown.

use std::sync::Arc;
use std::time::Instant;

use cohort_model::ast::PortKind;
use cohort_monitor::{
    unix_ms_now, ActorReport, GroupReport, InstanceReport, PortCounters, PortReport, ProcessStats, WarningRing,
};
use cohort_ports::PortStats;
use slog::{debug, warn};

use super::process::process_stats;
use super::{HandlerStats, REPORT_INTERVAL};
use crate::limits::LimitTally;

/// Reports the launcher has not taken yet, at most, before newer ones are dropped.
const QUEUED_REPORTS: i32 = 4;

/// A port whose counters a report carries.
#[derive(Debug, Clone)]
pub(crate) struct PortProbe {
    /// The port's name.
    pub(crate) name: String,
    /// Its kind in the model.
    pub(crate) kind: PortKind,
    /// Its counters, which the port keeps.
    pub(crate) stats: Arc<PortStats>,
}

/// A handler whose counters a report carries.
#[derive(Debug, Clone)]
pub(crate) struct HandlerProbe {
    /// The port (or timer) it serves; `on_group` for group events.
    pub(crate) port: String,
    /// Its counters, which the executor keeps.
    pub(crate) stats: Arc<HandlerStats>,
}

/// The counters of one component instance, handed to the actor when the component is built.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceProbe {
    /// Its ports that carry messages, in model order.
    pub(crate) ports: Vec<PortProbe>,
    /// Its handlers, in model order.
    pub(crate) handlers: Vec<HandlerProbe>,
}

impl InstanceProbe {
    fn report(&self, name: &str, component: &str) -> InstanceReport {
        InstanceReport {
            name: name.to_owned(),
            component: component.to_owned(),
            ports: self
                .ports
                .iter()
                .map(|p| {
                    let s = p.stats.snapshot();
                    PortReport {
                        name: p.name.clone(),
                        kind: p.kind,
                        counters: PortCounters {
                            sent: s.sent,
                            received: s.received,
                            bytes_sent: s.bytes_sent,
                            bytes_received: s.bytes_received,
                            dropped_malformed: s.malformed,
                            dropped_foreign_version: s.foreign_version,
                            dropped_wrong_type: s.wrong_type,
                            dropped_undecodable: s.undecodable,
                            dropped_stale: s.stale,
                            dropped_unroutable: s.unroutable,
                            timed_out: s.timed_out,
                            provider_gone: s.provider_gone,
                        },
                    }
                })
                .collect(),
            handlers: self.handlers.iter().map(|h| h.stats.report(&h.port)).collect(),
        }
    }
}

/// A component instance of the actor, as reports name it.
struct Reported {
    name: String,
    component: String,
    probe: InstanceProbe,
}

/// Sends the actor's reports to its launcher.
pub(crate) struct Reporter {
    socket: zmq::Socket,
    actor: String,
    started_ms: u64,
    instances: Vec<Reported>,
    warnings: Arc<WarningRing>,
    next: Instant,
    /// Reports dropped because the launcher had not taken the earlier ones.
    dropped: u64,
    /// The limit events the actor told its components.
    limits: Arc<LimitTally>,
    log: slog::Logger,
}

impl Reporter {
    /// A reporter of actor `actor` to the launcher's `endpoint`, carrying the warnings of
    /// `warnings` and the limit events of `limits`.
    pub(crate) fn connect(
        ctx: &zmq::Context,
        endpoint: &str,
        actor: &str,
        warnings: Arc<WarningRing>,
        limits: Arc<LimitTally>,
        log: &slog::Logger,
    ) -> Result<Reporter, zmq::Error> {
        let socket = ctx.socket(zmq::PUSH)?;
        socket.set_sndhwm(QUEUED_REPORTS)?;
        socket.set_linger(0)?;
        socket.set_immediate(true)?;
        socket.connect(endpoint)?;
        Ok(Reporter {
            socket,
            actor: actor.to_owned(),
            started_ms: unix_ms_now(),
            instances: Vec::new(),
            warnings,
            next: Instant::now(),
            dropped: 0,
            limits,
            log: log.clone(),
        })
    }

    /// Adds a component instance to the reports.
    pub(crate) fn add_instance(&mut self, name: &str, component: &str, probe: InstanceProbe) {
        self.instances.push(Reported { name: name.to_owned(), component: component.to_owned(), probe });
    }

    /// When the next report is due.
    pub(crate) fn next_due(&self) -> Instant {
        self.next
    }

    /// Sends a report if one is due at `now`, with the groups `groups` gives.
    pub(crate) fn report_if_due(&mut self, now: Instant, groups: impl FnOnce() -> Vec<GroupReport>) {
        if now < self.next {
            return;
        }
        self.next = now + REPORT_INTERVAL;
        let report = ActorReport {
            actor: self.actor.clone(),
            pid: std::process::id(),
            started_ms: self.started_ms,
            at_ms: unix_ms_now(),
            process: ProcessStats { limits: self.limits.counts(), ..process_stats() },
            instances: self.instances.iter().map(|i| i.probe.report(&i.name, &i.component)).collect(),
            groups: groups(),
            warnings: self.warnings.latest(),
        };
        let bytes = match minicbor_serde::to_vec(&report) {
            Ok(bytes) => bytes,
            Err(e) => {
                warn!(self.log, "cannot encode a report for the launcher"; "error" => %e);
                return;
            }
        };
        match self.socket.send(bytes, zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) => {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    debug!(self.log, "the launcher is not taking reports; dropped one"; "dropped" => self.dropped);
                }
            }
            Err(e) => warn!(self.log, "cannot send a report to the launcher"; "error" => %e),
        }
    }
}
