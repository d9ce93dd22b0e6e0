//! RIAPS's DistributedEstimator (`apps/estimator/estimator.riaps`) in Rust.
//!
//! Actor `Estimator` hosts a [`Sensor`] and a [`LocalEstimator`]: each second the sensor
//! announces a reading (`SensorReady`, local to the actor), the estimator asks for it
//! (`SensorQuery` → `SensorValue`) and publishes its running estimate (`Estimate`, global).
//! Actor `Aggregator` hosts a [`GlobalEstimator`], which logs each estimate from every host and,
//! every three seconds, an aggregate of those it got since.
//!
//! Run it with its deployment, one `Estimator` and one `Aggregator` per host (`on all`):
//! `cargo run -p cohort-apps --bin estimator`.

mod global_estimator;
mod local_estimator;
pub mod messages;
mod sensor;

/// The typed layer generated from `estimator.riaps` by `build.rs` (`cohort-build`): one module
/// per component type with its ports, parameters and handler trait, the binding of
/// [`messages`] to the model's messages, the embedded model and the registry of the app's
/// component types.
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/distributed_estimator.rs"));
}

pub use global_estimator::GlobalEstimator;
pub use local_estimator::LocalEstimator;
pub use model::{app_model, components};
pub use sensor::Sensor;

/// `value` rounded to three decimals, for readable logs.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_component_type_of_the_model_is_registered() {
        let compiled = cohort_model::compile_app_model(include_str!("../../estimator/estimator.riaps"));
        let Some(app) = compiled.value.as_ref().and_then(|m| m.apps.first()) else {
            panic!("the model has no app: {:?}", compiled.diagnostics);
        };
        let mut components: Vec<&str> = app.components.iter().map(|c| c.name.name.as_str()).collect();
        components.sort_unstable();
        assert_eq!(components, super::components().names().collect::<Vec<_>>());
    }
}
