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

pub use global_estimator::GlobalEstimator;
pub use local_estimator::LocalEstimator;
pub use sensor::Sensor;

/// The app's component types: [`Sensor`], [`LocalEstimator`] and [`GlobalEstimator`].
pub fn components() -> cohort_runtime::Components {
    cohort_runtime::Components::new().with::<Sensor>().with::<LocalEstimator>().with::<GlobalEstimator>()
}

/// `value` rounded to three decimals, for readable logs.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::messages::{Estimate, SensorQuery, SensorReady, SensorValue};
    use cohort_runtime::Message;

    #[test]
    fn the_rust_types_are_the_models_messages_and_components() {
        let compiled = cohort_model::compile_app_model(include_str!("../../estimator/estimator.riaps"));
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let Some(app) = compiled.value.as_ref().and_then(|m| m.apps.first()) else {
            panic!("the model has no app");
        };
        let mut messages: Vec<&str> = app.messages.iter().map(|m| m.name.as_str()).collect();
        messages.sort_unstable();
        let mut ours = [SensorReady::NAME, SensorQuery::NAME, SensorValue::NAME, Estimate::NAME];
        ours.sort_unstable();
        assert_eq!(messages, ours);
        let mut components: Vec<&str> = app.components.iter().map(|c| c.name.name.as_str()).collect();
        components.sort_unstable();
        assert_eq!(components, super::components().names().collect::<Vec<_>>());
    }
}
