//! The estimator's invariant: after a fault (and after the start), new estimates reach the
//! aggregator again within the flow bound.

use super::faults::FaultKind;
use super::{App, Monitor, Record};

impl Monitor {
    /// The aggregator's `estimate received`: a pending estimator check is met by a reading
    /// newer than the newest of its source when the fault came (after a kill of the Estimator,
    /// only one from its new process).
    pub(super) fn estimate(&mut self, at: u64, r: &Record) {
        let (Some(source), Some(seq)) = (r.str("source"), r.u64("seq")) else {
            return;
        };
        let estimator_pid = self.processes.get(&(App::Estimator, "Estimator".to_owned())).map(|p| p.pid);
        for i in 0..self.pending.len() {
            let p = &self.pending[i];
            if p.app != App::Estimator || p.since_us.is_none_or(|s| at < s) {
                continue;
            }
            let new = p.baseline.get(source).is_none_or(|last| seq > *last);
            // After a kill of the Estimator, only the new process's estimates show the flow resumed.
            let killed_estimator = p.victim.as_deref() == Some("Estimator")
                && p.fault.and_then(|f| self.faults.get(f)).is_some_and(|f| f.kind == FaultKind::Kill);
            let from_new = !killed_estimator || estimator_pid.is_some_and(|pid| source.ends_with(&format!(":{pid}")));
            if new && from_new {
                self.recovered(i, at);
            }
        }
        self.pending.retain(|p| p.deadline_us != 0);
        let last = self.estimate_seq.entry(source.to_owned()).or_default();
        *last = (*last).max(seq);
    }
}
