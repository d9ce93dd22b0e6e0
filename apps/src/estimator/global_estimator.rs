//! `component GlobalEstimator (iArg=123, fArg=4.56, sArg="string", bArg=true) { sub estimate :
//! Estimate; timer wakeup 3000; }`
//!
//! The global estimator logs each estimate it receives on `estimate`; on each `wakeup` it logs
//! an aggregate of the estimates received since the last one (how many, from how many local
//! estimators, their mean, minimum and maximum) and starts afresh.

use std::collections::BTreeSet;

use cohort_ports::Received;
use cohort_runtime::{Component, ComponentArgs, Context, HandlerError, HandlerResult, Handlers, Tick};
use slog::info;

use super::messages::Estimate;
use super::round3;

/// The global estimator.
pub struct GlobalEstimator {
    i_arg: i64,
    f_arg: f64,
    s_arg: String,
    b_arg: bool,
    since_wakeup: Aggregate,
}

impl Component for GlobalEstimator {
    const TYPE: &'static str = "GlobalEstimator";

    fn new(args: &ComponentArgs, _ctx: &mut Context) -> Result<Self, HandlerError> {
        Ok(GlobalEstimator {
            i_arg: args.int("iArg")?,
            f_arg: args.float("fArg")?,
            s_arg: args.string("sArg")?.to_owned(),
            b_arg: args.bool("bArg")?,
            since_wakeup: Aggregate::default(),
        })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.sub("estimate", GlobalEstimator::on_estimate);
        h.timer("wakeup", GlobalEstimator::on_wakeup);
    }

    fn on_activate(&mut self, ctx: &mut Context) -> HandlerResult {
        info!(ctx.log(), "GlobalEstimator active";
            "iArg" => self.i_arg, "fArg" => self.f_arg, "sArg" => &self.s_arg, "bArg" => self.b_arg);
        Ok(())
    }
}

impl GlobalEstimator {
    fn on_estimate(&mut self, ctx: &mut Context, estimate: Received<Estimate>) -> HandlerResult {
        let e = estimate.value;
        info!(ctx.log(), "estimate received";
            "source" => &e.source, "seq" => e.seq, "value" => e.value, "estimate" => round3(e.estimate));
        self.since_wakeup.add(&e.source, e.estimate);
        Ok(())
    }

    fn on_wakeup(&mut self, ctx: &mut Context, _tick: Tick) -> HandlerResult {
        let a = std::mem::take(&mut self.since_wakeup);
        match a.summary() {
            Some(s) => info!(ctx.log(), "aggregate";
                "count" => s.count, "sources" => s.sources, "mean" => round3(s.mean),
                "min" => round3(s.min), "max" => round3(s.max)),
            None => info!(ctx.log(), "aggregate"; "count" => 0_u64, "sources" => 0_usize),
        }
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
