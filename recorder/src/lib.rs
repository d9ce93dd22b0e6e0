//! Recording and replay of a running Cohort app's messages, in MCAP files
//! ([mcap.dev](https://mcap.dev)).
//!
//! - [`record`] joins a running app through discovery as a subscriber of the chosen message
//!   types, one subscriber per provider, and writes what it receives ([`RecordOptions`]), or
//!   keeps the last seconds of it in memory and writes them when asked ([`Ring`]).
//! - [`Bag`] reads a recording: its channels, counts, time span and losses, and its messages,
//!   whose CBOR payloads [`to_json`] decodes.
//! - [`replay`] publishes a recording's messages into a running app, as providers of the same
//!   message types, with the recorded timing ([`ReplayOptions`]).
//!
//! - [`component_inputs`] turns a recording into the inputs of one component, for a
//!   deterministic replay of it ([`cohort_runtime::replay`]).
//!
//! [`layout`] says what a Cohort recording holds, for readers that are not this crate.

mod access;
mod bag;
mod inputs;
pub mod layout;
mod record;
mod replay;
mod ring;
mod sink;

pub use access::{Access, AccessError, JoinError};
pub use bag::{to_json, Bag, BagError, BagInfo, BagMessage, ChannelInfo};
pub use inputs::component_inputs;
pub use record::{record, RecordError, RecordOptions, RecordSummary};
pub use replay::{replay, ReplayError, ReplayOptions, ReplaySummary};
pub use ring::Ring;
