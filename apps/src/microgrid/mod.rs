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

pub use controller::{Controller, GROUP_INSTANCE, GROUP_TYPE, INITIAL_SETPOINT, PROPOSE_EVERY, SCHEDULE, SWITCH_AFTER};

/// The app's component types: [`Controller`].
pub fn components() -> cohort_runtime::Components {
    cohort_runtime::Components::new().with::<Controller>()
}

/// `value` rounded to three decimals, for readable logs.
fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::messages::Measurement;
    use cohort_runtime::Message;

    #[test]
    fn the_rust_types_are_the_models_messages_group_and_components() {
        let compiled = cohort_model::compile_app_model(include_str!("../../microgrid/microgrid.riaps"));
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let Some(app) = compiled.value.as_ref().and_then(|m| m.apps.first()) else {
            panic!("the model has no app");
        };
        let messages: Vec<&str> = app.messages.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(messages, [Measurement::NAME]);
        let groups: Vec<(&str, &str)> =
            app.groups.iter().map(|g| (g.name.name.as_str(), g.message.name.as_str())).collect();
        assert_eq!(groups, [(super::GROUP_TYPE, Measurement::NAME)]);
        let components: Vec<&str> = app.components.iter().map(|c| c.name.name.as_str()).collect();
        assert_eq!(components, super::components().names().collect::<Vec<_>>());
    }
}
