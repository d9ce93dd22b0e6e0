//! Cohort groups: membership and Raft-style leader election, built as pure state machines that
//! take messages and the current time and return messages and events (like raft-rs or
//! quinn-proto). The runtime moves the bytes.
//!
//! - [`GroupCore`]: one member of one group instance: heartbeats, peer timeouts, terms,
//!   randomized election timeouts, one vote per voter per term, majority quorum (of the
//!   declared size when there is one), leader heartbeats, fencing of stale terms.
//! - [`sim`]: a deterministic simulator of many members over a faulty network (test tooling).
//! - [`GroupMember`]: one member over ZeroMQ, the core's driver; its
//!   [`poll`](GroupMember::poll) returns [`GroupEvent`]s, the one event type components see
//!   (the runtime re-exports it), and [`poll_with`](GroupMember::poll_with) hands them to a
//!   handler with each group message lent where it arrived ([`Delivery`], [`LentMessage`]). The core's own [`Event`] stays between the core and its
//!   driver.
//!
//! The core also carries member ↔ leader messages and runs votes (majority or consensus, on a
//! value or on a time-triggered action, with a timeout), the leader counting one ballot per
//! voter and announcing the outcome to all.

pub mod actions;
pub mod config;
pub mod core;
mod delivery;
pub mod envelope;
mod event;
mod lease;
mod member;
pub mod sim;
mod voting;
pub mod wire;

pub use config::{ConfigError, GroupConfig, MAX_CLOCK_DRIFT};
pub use core::{CommandError, Event, GroupCore, Output, Role};
pub use delivery::{Delivery, LentMessage};
pub use event::{DecodeError, GroupEvent, Payload, VoteSubject};
pub use member::{GroupError, GroupKey, GroupMember, MemberStats, Traffic, MESH_BATCH_SIZE};
pub use wire::{GroupMessage, MemberId, Outcome, Subject, Term, VoteId, VoteKind};
