//! Groups as a component sees them: joining group instances at run time, sending to the group,
//! to the leader and to members, voting, and the events that come back.

use std::time::{Duration, Instant, SystemTime};

use cohort_groups::{GroupConfig, GroupError, GroupMember, MemberId};
use cohort_model::ast;
use serde::Serialize;

// A component sees the group member's own events: `cohort-groups` makes them once, and
// `Component::on_group` gets them unchanged.
pub use cohort_groups::{DecodeError, GroupEvent, Payload, VoteSubject};
pub use cohort_groups::{Outcome, VoteId, VoteKind};

use crate::message::Message;

/// A group instance: the group type of the model and the instance's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName {
    /// The group type (`group G ...` in the model).
    pub group_type: String,
    /// The instance's name, chosen by the components that join it.
    pub instance: String,
}

impl GroupName {
    /// The group instance `instance` of type `group_type`.
    pub fn new(group_type: &str, instance: &str) -> GroupName {
        GroupName { group_type: group_type.to_owned(), instance: instance.to_owned() }
    }

    /// The name its discovery registrations use in the component (`group:<type>/<instance>`).
    pub(crate) fn port(&self) -> String {
        format!("group:{}/{}", self.group_type, self.instance)
    }
}

impl std::fmt::Display for GroupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.group_type, self.instance)
    }
}

/// How to join a group instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JoinOptions {
    /// The group's declared size (overrides the model's `expectedSize`). With a declared size,
    /// only a majority of it can elect a leader or pass a majority vote, so the minority side of
    /// a network partition has no leader.
    pub expected_size: Option<usize>,
}

/// A group operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupOpError {
    /// The model has no group type of that name.
    #[error("the model has no group type {0:?}")]
    UnknownType(String),
    /// The component has not joined that group instance.
    #[error("not a member of group {0}")]
    NotJoined(GroupName),
    /// The group instance is already joined by this component.
    #[error("already a member of group {0}")]
    AlreadyJoined(GroupName),
    /// The message type is not the group's.
    #[error("group {group} carries {expected}, not {given}")]
    WrongMessage {
        /// The group.
        group: GroupName,
        /// The group's message type.
        expected: String,
        /// The type given.
        given: &'static str,
    },
    /// The group's parameters cannot be used.
    #[error("{0}")]
    Config(String),
    /// A value could not be encoded.
    #[error("cannot encode a group message: {0}")]
    Encode(String),
    /// The group layer refused (no leader, not the leader, a port error, ...).
    #[error("group {group}: {source}")]
    Group {
        /// The group.
        group: GroupName,
        /// Why.
        source: GroupError,
    },
}

impl GroupOpError {
    /// Whether the group has no leader (yet): normal while it elects one.
    pub fn is_no_leader(&self) -> bool {
        matches!(self, GroupOpError::Group { source: GroupError::Command(cohort_groups::CommandError::NoLeader), .. })
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, GroupOpError> {
    minicbor_serde::to_vec(value).map_err(|e| GroupOpError::Encode(e.to_string()))
}

/// The configuration of a group type of the model: Cohort's defaults, scaled to the model's
/// heartbeat when it sets one, then every parameter the model sets, then the join options.
pub(crate) fn config_of(group: &ast::Group, options: JoinOptions) -> Result<GroupConfig, String> {
    let mut config = GroupConfig::default();
    if let Some(hb) = group.params.iter().find(|p| p.name.name == "heartbeat") {
        let ms = u64::try_from(hb.value).unwrap_or(0).max(1);
        config = config.with_heartbeat(Duration::from_millis(ms));
    }
    for param in &group.params {
        config.set(&param.name.name, param.value).map_err(|e| e.to_string())?;
    }
    if options.expected_size.is_some() {
        config.expected_size = options.expected_size;
    }
    config.validate().map_err(|e| format!("group {}: {e}", group.name.name))?;
    Ok(config)
}

/// A group instance this component joined.
pub struct Group {
    name: GroupName,
    message: String,
    pub(crate) member: GroupMember,
}

impl Group {
    pub(crate) fn new(name: GroupName, message: String, member: GroupMember) -> Group {
        Group { name, message, member }
    }

    fn op<T>(&self, result: Result<T, GroupError>) -> Result<T, GroupOpError> {
        result.map_err(|source| GroupOpError::Group { group: self.name.clone(), source })
    }

    /// The group instance.
    pub fn name(&self) -> &GroupName {
        &self.name
    }

    /// This component's member id in the group.
    pub fn id(&self) -> MemberId {
        self.member.id()
    }

    /// The leader this member knows, if any.
    pub fn leader(&self) -> Option<MemberId> {
        self.member.core().leader()
    }

    /// Whether this member leads the group.
    pub fn is_leader(&self) -> bool {
        self.member.core().leader() == Some(self.member.id())
    }

    /// The members this member knows, itself included.
    pub fn members(&self) -> Vec<MemberId> {
        self.member.core().members()
    }

    /// The current election term.
    pub fn term(&self) -> u64 {
        self.member.core().term()
    }

    /// Sends `message` (the group's message type) to every other member.
    pub fn send<M: Message>(&mut self, message: &M) -> Result<(), GroupOpError> {
        if M::NAME != self.message {
            return Err(GroupOpError::WrongMessage {
                group: self.name.clone(),
                expected: self.message.clone(),
                given: M::NAME,
            });
        }
        let bytes = encode(message)?;
        let result = self.member.send(&bytes);
        self.op(result)
    }

    /// Sends `value` to the leader (to itself when it leads). Fails with no leader.
    pub fn send_to_leader<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GroupOpError> {
        let bytes = encode(value)?;
        let result = self.member.send_to_leader(&bytes);
        self.op(result)
    }

    /// (Leader.) Sends `value` to member `member`.
    pub fn send_to_member<T: Serialize + ?Sized>(&mut self, member: MemberId, value: &T) -> Result<(), GroupOpError> {
        let bytes = encode(value)?;
        let result = self.member.send_to_member(member, &bytes);
        self.op(result)
    }

    /// Asks the group to vote on `value`, within `timeout` (the group's consensus timeout if
    /// None). Every member gets [`GroupEvent::VoteRequested`]; all learn the
    /// [`GroupEvent::VoteResult`].
    pub fn request_vote<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        kind: VoteKind,
        timeout: Option<Duration>,
    ) -> Result<VoteId, GroupOpError> {
        let bytes = encode(value)?;
        let result = self.member.request_vote(&bytes, kind, timeout);
        self.op(result)
    }

    /// Asks the group to vote on carrying out `action` at `at`; if it passes, every member gets
    /// [`GroupEvent::ActionDue`] at that time.
    pub fn request_action_vote<T: Serialize + ?Sized>(
        &mut self,
        action: &T,
        at: SystemTime,
        kind: VoteKind,
        timeout: Option<Duration>,
    ) -> Result<VoteId, GroupOpError> {
        let bytes = encode(action)?;
        let result = self.member.request_action_vote(&bytes, at, kind, timeout);
        self.op(result)
    }

    /// Casts this member's ballot in `vote`.
    pub fn vote(&mut self, vote: VoteId, yes: bool) -> Result<(), GroupOpError> {
        let result = self.member.cast_vote(vote, yes);
        self.op(result)
    }

    /// When the group must be served next even if no socket is readable.
    pub(crate) fn next_deadline(&self) -> Instant {
        self.member.next_deadline()
    }

    /// Serves the group's sockets and timers; the events for the component.
    pub(crate) fn poll(&mut self, now: Instant) -> Vec<GroupEvent> {
        self.member.poll(now)
    }
}
