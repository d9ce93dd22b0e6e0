//! Groups as a component sees them: joining group instances at run time, sending to the group,
//! to the leader and to members, voting, and the events that come back.
//!
//! The group members themselves live on the actor's coordination thread
//! ([`crate::coordinator`]), which keeps their heartbeats and elections going however long a
//! handler takes. A [`Group`] is the component's handle on its member there: commands go to
//! the thread and wait for its answer (microseconds), and the leader, term and members are read
//! from a view the thread keeps up to date.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use cohort_groups::{GroupConfig, GroupError, GroupMember, MemberId, Term};
use cohort_model::ast;
use cohort_ports::Endpoint;
use serde::Serialize;

// A component sees the group member's own events: `cohort-groups` makes them once, and
// `Component::on_group` gets them unchanged.
pub use cohort_groups::{DecodeError, GroupEvent, Payload, VoteSubject};
pub use cohort_groups::{Outcome, VoteId, VoteKind};

use crate::coordinator::{Command, CommandLink, Joined};
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
#[non_exhaustive]
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
    /// The actor's group coordination thread did not take the command or did not answer: it
    /// has ended, which happens only while the actor stops. The group cannot be used any more;
    /// the actor's supervisor restarts it if it did not mean to stop.
    #[error("group {0}: the actor's group coordination thread has ended")]
    CoordinatorGone(GroupName),
}

impl GroupOpError {
    /// Whether the group has no leader (yet): normal while it elects one.
    pub fn is_no_leader(&self) -> bool {
        matches!(self, GroupOpError::Group { source: GroupError::Command(cohort_groups::CommandError::NoLeader), .. })
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, GroupOpError> {
    cohort_ports::cbor::to_vec(value).map_err(|e| GroupOpError::Encode(e.to_string()))
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

/// What the coordination thread last knew of one member, shared with the component's
/// [`Group`] handle. The thread refreshes it after every poll of the member and every command.
#[derive(Debug, Default)]
pub(crate) struct GroupView {
    state: Mutex<ViewState>,
}

/// The contents of a [`GroupView`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ViewState {
    leader: Option<MemberId>,
    term: Term,
    members: Vec<MemberId>,
    /// Until when this member's leader lease holds (None: it does not lead, or holds no lease).
    lease: Option<Instant>,
}

impl GroupView {
    /// The view of `member` now.
    pub(crate) fn of(member: &GroupMember) -> GroupView {
        let view = GroupView::default();
        view.refresh(member);
        view
    }

    /// Takes in `member`'s current leader, term, members and lease.
    pub(crate) fn refresh(&self, member: &GroupMember) {
        let core = member.core();
        let lease = member.leader_lease();
        let mut state = self.lock();
        state.leader = core.leader();
        state.term = core.term();
        state.lease = lease;
        let members = core.members();
        if state.members != members {
            state.members = members;
        }
    }

    fn lock(&self) -> MutexGuard<'_, ViewState> {
        // The state is plain values written whole; a panic elsewhere cannot leave it half made.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A group instance this component joined: a handle on its member, which lives on the actor's
/// group coordination thread.
pub struct Group {
    name: GroupName,
    /// The name as handlers' logs show it (`<type>.<instance>`), made once.
    label: Arc<str>,
    message: String,
    id: MemberId,
    publisher: Endpoint,
    commands: CommandLink,
    view: Arc<GroupView>,
}

impl Group {
    pub(crate) fn new(name: GroupName, message: String, joined: Joined, commands: CommandLink) -> Group {
        let label = Arc::from(name.to_string());
        Group { name, label, message, id: joined.id, publisher: joined.publisher, commands, view: joined.view }
    }

    /// Sends the command `make` builds to the coordination thread and waits for its answer.
    fn ask<T>(
        &self,
        make: impl FnOnce(std::sync::mpsc::SyncSender<Result<T, GroupError>>) -> Command,
    ) -> Result<T, GroupOpError> {
        match self.commands.ask(make) {
            Ok(result) => result.map_err(|source| GroupOpError::Group { group: self.name.clone(), source }),
            Err(_) => Err(GroupOpError::CoordinatorGone(self.name.clone())),
        }
    }

    /// The group instance.
    pub fn name(&self) -> &GroupName {
        &self.name
    }

    /// The group instance as logs show it.
    pub(crate) fn label(&self) -> &Arc<str> {
        &self.label
    }

    /// The member's publisher endpoint, registered with discovery.
    pub(crate) fn publisher(&self) -> &Endpoint {
        &self.publisher
    }

    /// This component's member id in the group.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The leader this member knows, if any.
    pub fn leader(&self) -> Option<MemberId> {
        self.view.lock().leader
    }

    /// Whether this member leads the group now: it was elected and its leader lease (see
    /// [`Group::leader_lease`]) holds at the moment of the call. Ask again right before acting
    /// as the leader; an answer from earlier in a handler may no longer hold.
    pub fn is_leader(&self) -> bool {
        self.leader_lease().is_some_and(|until| Instant::now() < until)
    }

    /// Until when this member's leader lease holds: while [`Instant::now`] is before it, a
    /// majority has heard this member lead recently enough that no other member can have been
    /// elected. `None` when it does not lead (or has not yet heard from a majority). The lease
    /// is kept by the actor's coordination thread, so a slow handler does not lose it.
    ///
    /// A lease is a promise about time, and a process can stall between checking it and acting
    /// (a page fault, a stopped VM), so an app whose leader commands the outside world fences
    /// its actions with the term as well:
    ///
    /// - it stamps every command it sends (to an actuator, a store) with [`Group::term`], and
    ///   the receivers remember the highest term they have seen and ignore commands with a lower
    ///   one: a deposed leader's late commands then have no effect once its successor, whose
    ///   term is higher, has spoken;
    /// - and it checks [`Group::is_leader`] again right before each action, not once at the start
    ///   of a long handler.
    pub fn leader_lease(&self) -> Option<Instant> {
        self.view.lock().lease
    }

    /// The members this member knows, itself included.
    pub fn members(&self) -> Vec<MemberId> {
        self.view.lock().members.clone()
    }

    /// The current election term.
    pub fn term(&self) -> u64 {
        self.view.lock().term
    }

    /// Sends `message` (the group's message type) to every other member. It is queued for the
    /// actor's group thread without waiting; a failure to send is logged there (and counted).
    pub fn send<M: Message>(&mut self, message: &M) -> Result<(), GroupOpError> {
        if M::NAME != self.message {
            return Err(GroupOpError::WrongMessage {
                group: self.name.clone(),
                expected: self.message.clone(),
                given: M::NAME,
            });
        }
        let payload = encode(message)?;
        // Handed to the coordination thread without waiting, as a publisher's send is queued.
        self.commands
            .post(Command::Send { member: self.id, payload })
            .map_err(|_| GroupOpError::CoordinatorGone(self.name.clone()))
    }

    /// Sends `value` to the leader (to itself when it leads). Fails with no leader.
    pub fn send_to_leader<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), GroupOpError> {
        let payload = encode(value)?;
        let member = self.id;
        self.ask(|reply| Command::SendToLeader { member, payload, reply })
    }

    /// (Leader.) Sends `value` to member `member`.
    pub fn send_to_member<T: Serialize + ?Sized>(&mut self, member: MemberId, value: &T) -> Result<(), GroupOpError> {
        let payload = encode(value)?;
        let from = self.id;
        self.ask(|reply| Command::SendToMember { member: from, to: member, payload, reply })
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
        let value = encode(value)?;
        let member = self.id;
        self.ask(|reply| Command::RequestVote { member, value, kind, timeout, reply })
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
        let action = encode(action)?;
        let member = self.id;
        self.ask(|reply| Command::RequestActionVote { member, action, at, kind, timeout, reply })
    }

    /// Casts this member's ballot in `vote`.
    pub fn vote(&mut self, vote: VoteId, yes: bool) -> Result<(), GroupOpError> {
        let member = self.id;
        self.ask(|reply| Command::CastVote { member, vote, yes, reply })
    }

    /// Leaves the group: the coordination thread tells the others and closes the member. A
    /// coordination thread that has ended has left already (its log says so).
    pub(crate) fn leave(self) {
        // Nothing waits for the answer: leaving cannot fail in a way the component could act on.
        let _ = self.commands.post(Command::Leave { member: self.id });
    }
}
