//! `component Sensor { timer clock 1000; pub ready : SensorReady; rep request : (SensorQuery, SensorValue); }`
//!
//! On each `clock` tick the sensor takes a reading and announces it on `ready`; whoever then
//! asks on `request` gets the latest reading.

use cohort_runtime::typed::Context;
use cohort_runtime::{HandlerError, HandlerResult, Received, Tick};
use slog::{info, warn};

use super::messages::{SensorQuery, SensorReady, SensorValue};
use super::model::sensor;
use super::round3;

/// The sensor: a pseudo-random walk, one step per `clock` tick, determined by the instance's
/// name and its host's.
pub struct Sensor {
    walk: Walk,
    /// The number of the latest reading (0: none yet).
    seq: u64,
    /// The latest reading.
    value: f64,
}

impl sensor::Component for Sensor {
    fn new(_params: sensor::Params, ctx: &mut Context<sensor::Ports>) -> Result<Self, HandlerError> {
        // The same sequence on every run of this instance on this host; another on other hosts.
        let id = ctx.identity();
        let host = cohort_runtime::host::hostname().unwrap_or_default();
        let walk = Walk::new(&format!("{}.{}.{}@{host}", id.app, id.actor, id.instance));
        let value = walk.value();
        Ok(Sensor { walk, seq: 0, value })
    }

    fn on_activate(&mut self, ctx: &mut Context<sensor::Ports>) -> HandlerResult {
        info!(ctx.log(), "Sensor active"; "seq" => self.seq);
        Ok(())
    }

    /// `cohort ctl APP passivate Estimator.sensor`: the clock stops, and so do the readings.
    fn on_passivate(&mut self, ctx: &mut Context<sensor::Ports>) -> HandlerResult {
        info!(ctx.log(), "Sensor passive"; "seq" => self.seq);
        Ok(())
    }

    fn on_clock(&mut self, ctx: &mut Context<sensor::Ports>, tick: Tick) -> HandlerResult {
        if tick.missed > 0 {
            warn!(ctx.log(), "sensor was late"; "missed_ticks" => tick.missed);
        }
        self.seq += 1;
        self.value = self.walk.step();
        info!(ctx.log(), "sensor reading"; "seq" => self.seq, "value" => self.value);
        ctx.ports.ready.publish(&SensorReady { seq: self.seq })?;
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<sensor::Ports>,
        query: Received<SensorQuery>,
    ) -> Result<SensorValue, HandlerError> {
        info!(ctx.log(), "sensor queried"; "about" => query.value.seq, "seq" => self.seq, "value" => self.value);
        Ok(SensorValue { seq: self.seq, value: self.value })
    }
}

/// A bounded pseudo-random walk around [`Walk::CENTRE`]: each step adds a uniform step in
/// [-1, 1) and pulls a tenth of the way back to the centre. Readings have a resolution of 0.001.
#[derive(Debug, Clone)]
struct Walk {
    /// The state of a 64-bit linear congruential generator (Knuth's MMIX constants).
    state: u64,
    /// The current reading, unrounded.
    value: f64,
}

impl Walk {
    const CENTRE: f64 = 20.0;

    /// A walk whose sequence depends only on `seed` (FNV-1a of its bytes), starting within 5 of
    /// the centre.
    fn new(seed: &str) -> Walk {
        let state =
            seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let mut walk = Walk { state, value: Walk::CENTRE };
        walk.value += (walk.uniform() - 0.5) * 10.0;
        walk
    }

    /// The next number of the generator, uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        // The top 53 bits, which are the best ones of an LCG, as a fraction.
        (self.state >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Takes one step and returns the new reading.
    fn step(&mut self) -> f64 {
        let step = (self.uniform() - 0.5) * 2.0;
        self.value += step + 0.1 * (Walk::CENTRE - self.value);
        self.value()
    }

    /// The current reading, at the sensor's resolution.
    fn value(&self) -> f64 {
        round3(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::Walk;

    #[test]
    fn the_walk_is_deterministic_per_seed_bounded_and_moving() {
        let run = |seed: &str| {
            let mut w = Walk::new(seed);
            (0..1000).map(|_| w.step()).collect::<Vec<f64>>()
        };
        let a = run("DistributedEstimator.Estimator.sensor");
        assert_eq!(a, run("DistributedEstimator.Estimator.sensor"));
        assert_ne!(a, run("DistributedEstimator.Estimator.sensor2"));
        // The pull to the centre keeps it within |step| / 0.1 = 10 of the centre, plus the start.
        assert!(a.iter().all(|v| (5.0..=35.0).contains(v)), "{a:?}");
        assert!(a.windows(2).filter(|w| w[0] != w[1]).count() > 990, "the walk stands still");
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((mean - Walk::CENTRE).abs() < 1.0, "mean {mean}");
        // Readings have three decimals.
        assert!(a.iter().all(|v| ((v * 1000.0).round() - v * 1000.0).abs() < 1e-6));
    }
}
