//! The trace: the last events of a run, and the text helpers that show ids, votes and messages.

use super::world::World;
use crate::core::Event;
use crate::wire::{GroupMessage, MemberId, Subject, VoteId};

/// Adds a line to the trace, formatting it only when the run keeps one.
macro_rules! note {
    ($world:expr, $($line:tt)*) => {
        if $world.tracing {
            let line = format!($($line)*);
            $world.push_trace(line);
        }
    };
}

pub(super) use note;

const TRACE_LEN: usize = 300;

pub(super) fn short(id: &MemberId) -> String {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&id[8..]);
    format!("m{}", u64::from_be_bytes(bytes).wrapping_sub(1))
}

pub(super) fn vote_name(vote: &VoteId) -> String {
    format!("{}#{}", short(&vote.requester), vote.number)
}

pub(super) fn subject_text(subject: &Subject) -> String {
    match subject {
        Subject::Value(value) => format!("Value{value:?}"),
        Subject::Action { action, at_us } => format!("Action{action:?}@{at_us}us"),
    }
}

pub(super) fn payload_text(payload: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(payload))
}

/// A message as the trace shows it: member ids as `m<index>`, votes as `m<index>#<number>`.
pub(super) fn message_text(message: &GroupMessage) -> String {
    match message {
        GroupMessage::Vote { term, candidate, granted } => {
            format!("Vote {{ term: {term}, candidate: {}, granted: {granted} }}", short(candidate))
        }
        GroupMessage::ToLeader { payload } => format!("ToLeader {}", payload_text(payload)),
        GroupMessage::FromLeader { term, payload } => {
            format!("FromLeader {{ term: {term}, {} }}", payload_text(payload))
        }
        GroupMessage::ProposeVote { vote, subject, kind, timeout_us } => format!(
            "ProposeVote {{ {}, {}, {kind:?}, timeout {timeout_us}us }}",
            vote_name(vote),
            subject_text(subject)
        ),
        GroupMessage::CallVote { term, vote, subject, kind } => {
            format!("CallVote {{ term: {term}, {}, {}, {kind:?} }}", vote_name(vote), subject_text(subject))
        }
        GroupMessage::Ballot { vote, yes } => format!("Ballot {{ {}, yes: {yes} }}", vote_name(vote)),
        GroupMessage::Announce { term, vote, subject, outcome } => {
            format!("Announce {{ term: {term}, {}, {}, {outcome:?} }}", vote_name(vote), subject_text(subject))
        }
        other => format!("{other:?}"),
    }
}

pub(super) fn event_text(event: &Event) -> String {
    match event {
        Event::MemberJoined(id) => format!("MemberJoined({})", short(id)),
        Event::MemberLeft(id) => format!("MemberLeft({})", short(id)),
        Event::LeaderElected(id) => format!("LeaderElected({})", short(id)),
        Event::LeaderExited(id) => format!("LeaderExited({})", short(id)),
        Event::MessageToLeader { from, payload } => {
            format!("MessageToLeader({} {})", short(from), payload_text(payload))
        }
        Event::MessageFromLeader { leader, payload } => {
            format!("MessageFromLeader({} {})", short(leader), payload_text(payload))
        }
        Event::VoteCalled { vote, subject, kind } => {
            format!("VoteCalled({} {} {kind:?})", vote_name(vote), subject_text(subject))
        }
        Event::VoteEnded { vote, subject, outcome } => {
            format!("VoteEnded({} {} {outcome:?})", vote_name(vote), subject_text(subject))
        }
        Event::VoteLost { vote } => format!("VoteLost({})", vote_name(vote)),
    }
}

impl World<'_> {
    pub(super) fn push_trace(&mut self, line: String) {
        if self.trace.len() == TRACE_LEN {
            self.trace.pop_front();
        }
        self.trace.push_back(line);
    }
}
