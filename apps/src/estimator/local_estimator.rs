//! `component LocalEstimator (iArg, fArg, sArg, bArg) { sub ready : SensorReady; req query :
//! (SensorQuery, SensorValue); pub estimate : Estimate; }`
//!
//! When its sensor announces a reading on `ready`, the local estimator asks for it on `query`;
//! with the reply it updates its estimate, an exponential moving average of the readings with
//! smoothing factor `fArg`, and publishes it on `estimate`.

use cohort_runtime::host::hostname;
use cohort_runtime::typed::Context;
use cohort_runtime::{HandlerError, HandlerResult, PortError, Received, Response};
use slog::{info, warn};

use super::messages::{Estimate, SensorQuery, SensorReady, SensorValue};
use super::model::local_estimator::{self, Params, Ports};
use super::round3;

/// The local estimator.
pub struct LocalEstimator {
    params: Params,
    average: MovingAverage,
    /// Who this estimator is, as its estimates name it.
    source: String,
}

impl local_estimator::Component for LocalEstimator {
    fn new(params: Params, ctx: &mut Context<Ports>) -> Result<Self, HandlerError> {
        let id = ctx.identity();
        Ok(LocalEstimator {
            average: MovingAverage::new(params.f_arg),
            source: format!("{}.{}@{}:{}", id.actor, id.instance, hostname().unwrap_or_default(), std::process::id()),
            params,
        })
    }

    fn on_activate(&mut self, ctx: &mut Context<Ports>) -> HandlerResult {
        let p = &self.params;
        info!(ctx.log(), "LocalEstimator active";
            "iArg" => p.i_arg, "fArg" => p.f_arg, "sArg" => &p.s_arg, "bArg" => p.b_arg,
            "smoothing" => self.average.alpha, "source" => &self.source);
        if self.average.alpha != p.f_arg {
            warn!(ctx.log(), "fArg is outside (0, 1]; smoothing with the nearest usable factor";
                "fArg" => p.f_arg, "smoothing" => self.average.alpha);
        }
        Ok(())
    }

    fn on_ready(&mut self, ctx: &mut Context<Ports>, ready: Received<SensorReady>) -> HandlerResult {
        let seq = ready.value.seq;
        match ctx.ports.query.request(&SensorQuery { seq }) {
            Ok(id) => info!(ctx.log(), "sensor ready; querying it"; "seq" => seq, "request" => %id),
            // Discovery has not told us where the sensor answers yet: skip this reading.
            Err(PortError::NoProvider) => {
                info!(ctx.log(), "sensor ready, but its query port is not connected yet"; "seq" => seq);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn on_query(&mut self, ctx: &mut Context<Ports>, response: Response<SensorValue>) -> HandlerResult {
        let reading = match response {
            Response::Reply { message, .. } => message.value,
            Response::Failed { id, error, .. } => {
                warn!(ctx.log(), "sensor query failed"; "request" => %id, "error" => %error);
                return Ok(());
            }
        };
        let estimate = self.average.add(reading.value);
        info!(ctx.log(), "estimate"; "seq" => reading.seq, "value" => reading.value, "estimate" => round3(estimate));
        let message = Estimate { source: self.source.clone(), seq: reading.seq, value: reading.value, estimate };
        ctx.ports.estimate.publish(&message)?;
        Ok(())
    }
}

/// An exponential moving average: the first value, then `estimate += alpha × (value − estimate)`.
#[derive(Debug, Clone, PartialEq)]
struct MovingAverage {
    /// The smoothing factor, in (0, 1].
    alpha: f64,
    estimate: Option<f64>,
}

impl MovingAverage {
    /// An average with smoothing factor `alpha` clamped to (0, 1]: above 1 it is 1; at or below 0
    /// (or not a number) it is the smallest positive `f64`, so the estimate barely moves from the
    /// first value.
    fn new(alpha: f64) -> MovingAverage {
        let alpha = if alpha > 1.0 {
            1.0
        } else if alpha > 0.0 {
            alpha
        } else {
            f64::MIN_POSITIVE
        };
        MovingAverage { alpha, estimate: None }
    }

    /// Adds `value`; returns the new estimate.
    fn add(&mut self, value: f64) -> f64 {
        let estimate = match self.estimate {
            Some(e) => e + self.alpha * (value - e),
            None => value,
        };
        self.estimate = Some(estimate);
        estimate
    }
}

#[cfg(test)]
mod tests {
    use super::MovingAverage;

    #[test]
    fn the_moving_average_starts_at_the_first_value_and_follows_by_its_factor() {
        let mut m = MovingAverage::new(0.25);
        assert_eq!(m.add(8.0), 8.0);
        assert_eq!(m.add(16.0), 10.0);
        assert_eq!(m.add(10.0), 10.0);
    }

    #[test]
    fn the_factor_is_clamped_to_zero_one() {
        assert_eq!(MovingAverage::new(4.56).alpha, 1.0);
        assert_eq!(MovingAverage::new(1.0).alpha, 1.0);
        assert_eq!(MovingAverage::new(0.12).alpha, 0.12);
        for bad in [0.0, -3.0, f64::NAN] {
            let mut m = MovingAverage::new(bad);
            assert!(m.alpha > 0.0 && m.alpha < 1e-300);
            m.add(5.0);
            assert_eq!(m.add(100.0), 5.0);
        }
        let mut m = MovingAverage::new(7.0);
        m.add(1.0);
        assert_eq!(m.add(2.0), 2.0, "a factor of 1 follows the readings");
    }
}
