//! `component GlobalEstimator (iArg=123, fArg=4.56, sArg="string", bArg=true) { sub estimate :
//! Estimate; timer wakeup 3000; }`
//!
//! The global estimator logs each estimate it receives on `estimate`; on each `wakeup` it logs
//! an aggregate of the estimates received since the last one (how many, from how many local
//! estimators, their mean, minimum and maximum) and starts afresh. It logs the changes of its
//! host's network interface and the app's other actors coming and going.

use std::collections::BTreeSet;

use cohort_runtime::typed::Context;
use cohort_runtime::{HandlerError, HandlerResult, NicState, Peer, PeerState, Received, Tick};
use slog::info;

use super::messages::Estimate;
use super::model::global_estimator::{self, Params, Ports};
use super::round3;

/// The global estimator.
pub struct GlobalEstimator {
    params: Params,
    since_wakeup: Aggregate,
}

impl global_estimator::Component for GlobalEstimator {
    fn new(params: Params, _ctx: &mut Context<Ports>) -> Result<Self, HandlerError> {
        Ok(GlobalEstimator { params, since_wakeup: Aggregate::default() })
    }

    fn on_activate(&mut self, ctx: &mut Context<Ports>) -> HandlerResult {
        let p = &self.params;
        info!(ctx.log(), "GlobalEstimator active";
            "iArg" => p.i_arg, "fArg" => p.f_arg, "sArg" => &p.s_arg, "bArg" => p.b_arg);
        Ok(())
    }

    fn on_estimate(&mut self, ctx: &mut Context<Ports>, estimate: Received<Estimate>) -> HandlerResult {
        let e = estimate.value;
        info!(ctx.log(), "estimate received";
            "source" => &e.source, "seq" => e.seq, "value" => e.value, "estimate" => round3(e.estimate));
        self.since_wakeup.add(&e.source, e.estimate);
        Ok(())
    }

    fn on_wakeup(&mut self, ctx: &mut Context<Ports>, _tick: Tick) -> HandlerResult {
        let a = std::mem::take(&mut self.since_wakeup);
        match a.summary() {
            Some(s) => info!(ctx.log(), "aggregate";
                "count" => s.count, "sources" => s.sources, "mean" => round3(s.mean),
                "min" => round3(s.min), "max" => round3(s.max)),
            None => info!(ctx.log(), "aggregate"; "count" => 0_u64, "sources" => 0_usize),
        }
        Ok(())
    }

    fn on_nic_state(&mut self, ctx: &mut Context<Ports>, state: NicState) -> HandlerResult {
        info!(ctx.log(), "NIC state changed"; "state" => %state);
        Ok(())
    }

    fn on_peer_state(&mut self, ctx: &mut Context<Ports>, peer: &Peer, state: PeerState) -> HandlerResult {
        info!(ctx.log(), "peer state changed"; "peer_actor" => &peer.actor, "peer_host" => &peer.host,
            "peer_pid" => peer.pid, "state" => %state);
        Ok(())
    }
}

/// The estimates received since the last wakeup.
#[derive(Debug, Default)]
struct Aggregate {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    sources: BTreeSet<String>,
}

/// What [`Aggregate::summary`] tells.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    count: u64,
    sources: usize,
    mean: f64,
    min: f64,
    max: f64,
}

impl Aggregate {
    fn add(&mut self, source: &str, estimate: f64) {
        if self.count == 0 {
            (self.min, self.max) = (estimate, estimate);
        } else {
            self.min = self.min.min(estimate);
            self.max = self.max.max(estimate);
        }
        self.count += 1;
        self.sum += estimate;
        if !self.sources.contains(source) {
            self.sources.insert(source.to_owned());
        }
    }

    /// The count, sources, mean, minimum and maximum; none if nothing was added.
    fn summary(&self) -> Option<Summary> {
        (self.count > 0).then(|| Summary {
            count: self.count,
            sources: self.sources.len(),
            mean: self.sum / self.count as f64,
            min: self.min,
            max: self.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Aggregate, Summary};

    #[test]
    fn the_aggregate_counts_sources_and_summarises() {
        let mut a = Aggregate::default();
        assert_eq!(a.summary(), None);
        a.add("x", 3.0);
        assert_eq!(a.summary(), Some(Summary { count: 1, sources: 1, mean: 3.0, min: 3.0, max: 3.0 }));
        a.add("y", -1.0);
        a.add("x", 7.0);
        assert_eq!(a.summary(), Some(Summary { count: 3, sources: 2, mean: 3.0, min: -1.0, max: 7.0 }));
        let _ = std::mem::take(&mut a);
        assert_eq!(a.summary(), None);
    }
}
