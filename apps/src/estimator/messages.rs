//! The app's four message types. The code generated from the model binds each to the model's
//! message of the same name (`crate::estimator::model::messages`).

use serde::{Deserialize, Serialize};

/// `message SensorReady;` — the sensor has a new reading (published on its `ready` port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorReady {
    /// The reading's number, counting from 1 since the sensor started.
    pub seq: u64,
}

/// `message SensorQuery;` — a local estimator asks the sensor for its reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorQuery {
    /// The number of the [`SensorReady`] that prompted the query.
    pub seq: u64,
}

/// `message SensorValue;` — the sensor's answer to a [`SensorQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorValue {
    /// The number of the reading (which may be newer than the one the query was about).
    pub seq: u64,
    /// The reading.
    pub value: f64,
}

/// `message Estimate;` — a local estimator's estimate, published to the global estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Who made it: the local estimator's actor, instance, host and process id
    /// (`Estimator.filter@host:1234`).
    pub source: String,
    /// The number of the sensor reading it includes.
    pub seq: u64,
    /// That sensor reading.
    pub value: f64,
    /// The running estimate after the reading.
    pub estimate: f64,
}
