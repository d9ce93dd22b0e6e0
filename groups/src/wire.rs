//! Messages between the members of a group.

use serde::{Deserialize, Serialize};

/// A member's id: 16 bytes, unique across hosts and processes (a UUID).
pub type MemberId = [u8; 16];

/// An election term.
pub type Term = u64;

/// A message one member sends to the others (all of them unless said otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupMessage {
    /// "I am alive", every heartbeat, with the sender's current term.
    Alive {
        /// The sender's term.
        term: Term,
    },
    /// "I am leaving the group."
    Leave,
    /// A candidate asks for votes in `term`.
    RequestVote {
        /// The election's term.
        term: Term,
    },
    /// A vote for (or against) `candidate` in `term`, sent to every member.
    Vote {
        /// The election's term.
        term: Term,
        /// Who the vote is about.
        candidate: MemberId,
        /// Yes or no.
        granted: bool,
    },
    /// The leader of `term` asserts its authority, every heartbeat; `endpoint` is where members
    /// reach it.
    Leader {
        /// The leader's term.
        term: Term,
        /// The leader's ROUTER endpoint for member → leader messages.
        endpoint: String,
    },
}
