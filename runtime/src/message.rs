//! Messages: Rust types bound to the model's message names.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A message type of the model, as a Rust type. Its values travel as CBOR.
///
/// ```
/// use cohort_runtime::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize)]
/// struct SensorValue {
///     reading: f64,
/// }
///
/// impl Message for SensorValue {
///     const NAME: &'static str = "SensorValue";
/// }
/// ```
pub trait Message: Serialize + DeserializeOwned + Send + 'static {
    /// The message's name in the model (`message SensorValue;`).
    const NAME: &'static str;
}
