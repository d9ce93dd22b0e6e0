//! What the units tell each other: the model's `Measurement`, and the plain serde types that
//! travel between members and the leader (the leader's corrections) and in votes (setpoints).

use serde::{Deserialize, Serialize};

/// `message Measurement;` — a unit's output, sent to the leader every tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// The unit (`id` of its controller).
    pub unit: i64,
    /// The unit's tick count when it measured.
    pub seq: u64,
    /// Its output, in kW.
    pub power_kw: f64,
}

/// The leader to one unit: the feeder's mean output and how far the unit is from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    /// The mean output of the units that reported, in kW.
    pub mean_kw: f64,
    /// The mean minus this unit's output, in kW: positive means "produce more".
    pub error_kw: f64,
    /// How many units reported.
    pub units: usize,
}

/// A setpoint the leader proposes (the subject of a majority value vote): every unit's share of
/// the feeder's load, in kW.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Setpoint {
    /// The proposed setpoint, in kW.
    pub kw: f64,
}

/// The action of a consensus action vote: switch to a setpoint at the agreed time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Switch {
    /// The new setpoint, in kW.
    pub kw: f64,
}
