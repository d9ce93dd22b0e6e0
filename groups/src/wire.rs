//! Messages between the members of a group.

use serde::{Deserialize, Serialize};

/// A member's id: 16 bytes, unique across hosts and processes (a UUID).
pub type MemberId = [u8; 16];

/// An election term.
pub type Term = u64;

/// A vote's id: the member that asked for it and a number unique to that member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VoteId {
    /// The member that asked for the vote.
    #[serde(with = "serde_bytes")]
    pub requester: MemberId,
    /// A number the requester does not reuse.
    pub number: u64,
}

/// What it takes for a vote to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteKind {
    /// More than half of the voters say yes (of the declared size, when there is one).
    Majority,
    /// Every voter says yes.
    Consensus,
}

/// What a vote is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// A value (the application's encoding).
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// An action to carry out together at a wall-clock time.
    Action {
        /// The action (the application's encoding).
        #[serde(with = "serde_bytes")]
        action: Vec<u8>,
        /// When, in microseconds since the Unix epoch (members' clocks must be synchronized).
        at_us: u64,
    },
}

/// How a vote ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It passed.
    Yes,
    /// It failed.
    No,
    /// The leader had no decision when the vote's time ran out (or stopped leading first).
    Timeout,
}

/// A message one member sends to others: to every member (a broadcast) unless said otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupMessage {
    /// "I am alive", every heartbeat, with the sender's current term.
    Alive {
        /// The sender's term.
        term: Term,
    },
    /// "I am leaving the group."
    Leave,
    /// Before standing for election, a member asks whether the others would vote for it in
    /// `term` (its next term) — without raising its own term (Raft's pre-vote). Members that
    /// still hear a leader say no, so a member cut off from the group, or a minority side of a
    /// partition, does not inflate the term and depose the leader when it comes back.
    PreVote {
        /// The term the member would stand in.
        term: Term,
    },
    /// An answer to a [`GroupMessage::PreVote`], sent to every member. Members send grants
    /// only (a refusal is silence); `granted: false` is still understood, and ignored.
    PreVoteReply {
        /// The term asked about.
        term: Term,
        /// Who asked.
        #[serde(with = "serde_bytes")]
        candidate: MemberId,
        /// Whether this member would vote for it.
        granted: bool,
    },
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
        #[serde(with = "serde_bytes")]
        candidate: MemberId,
        /// Yes or no.
        granted: bool,
    },
    /// The leader of `term` asserts its authority, every heartbeat; `endpoint` is where members
    /// reach it. Each follower answers with an [`GroupMessage::Ack`] of `seq`, which renews the
    /// leader's lease; `members` is the membership as the leader sees it (itself included), so
    /// followers learn it without hearing every member.
    Leader {
        /// The leader's term.
        term: Term,
        /// The leader's ROUTER endpoint for member → leader messages.
        endpoint: String,
        /// This heartbeat's number (increasing within the leader's term).
        seq: u64,
        /// The members the leader hears, itself included.
        #[serde(with = "member_list")]
        members: Vec<MemberId>,
    },
    /// Member → leader only: the follower heard the leader's heartbeat `seq` of `term` (and is
    /// alive). It promises not to vote for another candidate for the shortest election timeout
    /// from when it heard it, which is what the leader's lease rests on.
    Ack {
        /// The follower's term.
        term: Term,
        /// The heartbeat it answers.
        seq: u64,
    },
    /// Member → leader only: an application message for the leader.
    ToLeader {
        /// The application's bytes.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Leader → one member only: an application message from the leader of `term`.
    FromLeader {
        /// The leader's term (a member ignores older terms).
        term: Term,
        /// The application's bytes.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Member → leader only: please run this vote.
    ProposeVote {
        /// The vote.
        vote: VoteId,
        /// What it is about.
        subject: Subject,
        /// What it takes to pass.
        kind: VoteKind,
        /// How long it may take, in microseconds.
        timeout_us: u64,
    },
    /// The leader of `term` asks every member to vote.
    CallVote {
        /// The leader's term.
        term: Term,
        /// The vote.
        vote: VoteId,
        /// What it is about.
        subject: Subject,
        /// What it takes to pass.
        kind: VoteKind,
    },
    /// Member → leader only: a member's ballot.
    Ballot {
        /// The vote.
        vote: VoteId,
        /// Yes or no.
        yes: bool,
    },
    /// The leader of `term` announces how a vote ended.
    Announce {
        /// The leader's term.
        term: Term,
        /// The vote.
        vote: VoteId,
        /// What it was about.
        subject: Subject,
        /// How it ended.
        outcome: Outcome,
    },
}

impl GroupMessage {
    /// Whether only a leader of the message's term sends it, so that its newer term proves a
    /// leader was elected in it (a candidate's messages prove nothing).
    pub fn from_a_leader(&self) -> bool {
        matches!(
            self,
            GroupMessage::Leader { .. }
                | GroupMessage::FromLeader { .. }
                | GroupMessage::CallVote { .. }
                | GroupMessage::Announce { .. }
        )
    }

    /// The term a message carries, if it carries one.
    pub fn term(&self) -> Option<Term> {
        match self {
            GroupMessage::Alive { term }
            | GroupMessage::RequestVote { term }
            | GroupMessage::Vote { term, .. }
            | GroupMessage::Leader { term, .. }
            | GroupMessage::Ack { term, .. }
            | GroupMessage::FromLeader { term, .. }
            | GroupMessage::CallVote { term, .. }
            | GroupMessage::Announce { term, .. } => Some(*term),
            // A pre-vote's term is a prospective one: it must not move anyone's term.
            GroupMessage::Leave
            | GroupMessage::PreVote { .. }
            | GroupMessage::PreVoteReply { .. }
            | GroupMessage::ToLeader { .. }
            | GroupMessage::ProposeVote { .. }
            | GroupMessage::Ballot { .. } => None,
        }
    }
}

/// A list of member ids as one CBOR byte string of 16 bytes per id (compact: a leader sends it
/// every heartbeat).
mod member_list {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    use super::MemberId;

    pub(super) fn serialize<S: Serializer>(ids: &[MemberId], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&ids.concat())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<MemberId>, D::Error> {
        struct Ids;
        impl Visitor<'_> for Ids {
            type Value = Vec<MemberId>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("member ids, 16 bytes each")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<MemberId>, E> {
                if !v.len().is_multiple_of(16) {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(v.chunks_exact(16).filter_map(|c| MemberId::try_from(c).ok()).collect())
            }
        }
        d.deserialize_bytes(Ids)
    }
}
