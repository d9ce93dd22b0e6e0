//! A microgrid feeder (`apps/microgrid/microgrid.riaps`): five generating units, each run by a
//! [`Controller`] in an actor of its own (`Unit1` … `Unit5`), share the feeder's load.
//!
//! The controllers join one group instance (`Feeders`/`feeder`, declared size 5), which elects a
//! leader. Every tick (500 ms) each unit sends its output to the leader ([`messages::Measurement`]);
//! the leader averages the outputs and sends each unit a correction towards the mean
//! ([`messages::Correction`]). Every two seconds the leader proposes the next setpoint of its
//! schedule by a majority vote; units vote yes when it is within their limits. A passed setpoint
//! is then put to a consensus action vote, "switch at now + 1 s", which every unit carries out at
//! that time.
//!
//! Run it on one host: `cargo run -p cohort-apps --bin microgrid -- run --deployment
//! apps/microgrid/microgrid.depl`.
//!
//! Log records a user (or a test) follows, with their keys:
//!
//! | record | keys |
//! |---|---|
//! | `controller active` | `unit`, `low_kw`, `high_kw`, `setpoint_kw`, `size`, `me` (member id) |
//! | `group view` (whenever it changes) | `leader` (member id or `none`), `leading`, `members`, `term`, `me` |
//! | `feeder balanced` (leader, every 2 s) | `units`, `mean_kw`, `min_kw`, `max_kw`, `setpoint_kw` |
//! | `setpoint proposed`, `switch proposed` (leader) | `vote`, `setpoint_kw` (and `at_us`) |
//! | `voted no: the setpoint is outside this unit's limits` | `vote`, `stage` (`value` or `action`), `setpoint_kw`, `low_kw`, `high_kw` |
//! | `vote result` | `vote`, `stage`, `setpoint_kw`, `outcome` (`Yes`, `No`, `Timeout`) |
//! | `action carried out` | `vote`, `setpoint_kw`, `previous_kw`, `late_us`, `now_us` (wall clock) |
//!
//! Every record also names its `actor` and `component`.

mod controller;
pub mod messages;

/// The typed layer generated from `microgrid.riaps` by `build.rs` (`cohort-build`): the
/// controller's ports, parameters and handler trait, the group type `Feeders`, the binding of
/// [`messages::Measurement`] to the model's message, the embedded model and the registry.
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/microgrid.rs"));
}

pub use controller::{Controller, GROUP_INSTANCE, GROUP_TYPE, INITIAL_SETPOINT, PROPOSE_EVERY, SCHEDULE, SWITCH_AFTER};
pub use model::{app_model, components};

/// `value` rounded to three decimals, for readable logs.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use cohort_runtime::typed::ModelGroup;

    use super::model::groups::Feeders;

    #[test]
    fn the_group_and_the_component_types_are_the_models() {
        let compiled = cohort_model::compile_app_model(include_str!("../../microgrid/microgrid.riaps"));
        let Some(app) = compiled.value.as_ref().and_then(|m| m.apps.first()) else {
            panic!("the model has no app: {:?}", compiled.diagnostics);
        };
        let groups: Vec<&str> = app.groups.iter().map(|g| g.name.name.as_str()).collect();
        assert_eq!(groups, [Feeders::NAME]);
        let components: Vec<&str> = app.components.iter().map(|c| c.name.name.as_str()).collect();
        assert_eq!(components, super::components().names().collect::<Vec<_>>());
    }
}
