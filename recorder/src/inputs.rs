//! A recording turned into the inputs of one component, for a deterministic replay of it
//! ([`cohort_runtime::replay`]): a field recording becomes a regression test.

use std::time::Duration;

use cohort_model::ast::{self, PortKind as ModelPortKind, TimeUnit};
use cohort_runtime::replay::{Input, InputEvent};

use crate::bag::{Bag, BagError};

/// The inputs a recording holds for instance `instance` of actor `actor` of `app`: each recorded
/// message of a type one of its `sub` ports takes, on the first such port, and, when `ticks`,
/// a tick of each of its periodic timers at every period over the recording's span; in time
/// order, times counted from the recording's first message. Replies are not in a recording
/// (`cohort record` hears publications only): add them to the inputs by hand.
pub fn component_inputs(
    bag: &Bag,
    app: &ast::App,
    actor: &str,
    instance: &str,
    ticks: bool,
) -> Result<Vec<Input>, BagError> {
    let Some(component) = app
        .actor(actor)
        .and_then(|a| a.instances.iter().find(|i| i.name.name == instance))
        .and_then(|i| app.component(&i.component.name))
    else {
        return Ok(Vec::new());
    };
    let messages = bag.messages()?;
    let Some(first) = messages.first().map(|m| m.log_time) else { return Ok(Vec::new()) };
    let last = messages.last().map_or(first, |m| m.log_time);
    let mut inputs: Vec<Input> = Vec::new();
    for m in &messages {
        let port = component
            .ports
            .iter()
            .find(|p| p.kind == ModelPortKind::Sub && p.message_names().first().is_some_and(|n| n.name == m.message));
        if let Some(port) = port {
            let at = Duration::from_nanos(m.log_time - first);
            inputs.push(Input {
                at,
                event: InputEvent::Message { port: port.name.name.clone(), payload: m.data.clone() },
            });
        }
    }
    if ticks {
        let span = Duration::from_nanos(last - first);
        for port in component.ports.iter().filter(|p| p.kind == ModelPortKind::Timer) {
            let Some(period) = port.period.map(|p| p.millis(TimeUnit::Msec)).filter(|ms| *ms > 0) else { continue };
            let period = Duration::from_millis(u64::try_from(period).unwrap_or(u64::MAX));
            let mut at = period;
            while at <= span {
                inputs.push(Input::tick(at, &port.name.name));
                at += period;
            }
        }
    }
    // Stable: a message and a tick at the same time keep the order above (messages first).
    inputs.sort_by_key(|i| i.at);
    Ok(inputs)
}
