//! Cohort groups: membership, Raft-style leader election, member↔leader messaging and voting,
//! built as pure state machines that take events and the current time and return actions.
//!
//! Empty until the groups issue; the crate exists so the dependency order of the workspace is
//! fixed from the start.
