//! One member of one group instance over real ZeroMQ: the I/O driver of a [`GroupCore`].
//!
//! A member has four sockets, all made by the actor's [`PortFactory`]:
//!
//! | socket | kind | what for |
//! |---|---|---|
//! | gpub | PUB, bound (tcp, the factory's interface) | broadcasts to every member; registered with discovery |
//! | gsub | SUB, connected to every other member's gpub | the broadcasts of the others |
//! | leader | ROUTER, bound (tcp) | member → leader messages while this member leads; its endpoint goes in the core's `Leader` announcements |
//! | member | DEALER, routing id = the member id | this member's channel to the current leader (reconnected when the leader changes) |
//! | member monitor | PAIR (inproc) | the member DEALER's socket monitor: its connection to the leader closed or came back |
//!
//! The member learns within milliseconds that its connection to the leader closed (the
//! leader's process died, or it closed its ROUTER): it logs it, counts it
//! ([`MemberStats::leader_disconnects`]) and shows it in [`GroupMember::leader_link`]. That
//! changes no election timing: a leader is still replaced after the election timeout, and a
//! vote this member asked for still ends ([`GroupEvent::VoteResult`] or
//! [`GroupEvent::VoteLost`]) when it did before.
//!
//! Frames are described in [`crate::envelope`]. The owner (in the runtime, the actor's group
//! coordination thread) polls
//! [`GroupMember::sockets`] and calls [`GroupMember::poll`] when one is readable or
//! [`GroupMember::next_deadline`] has come; commands (`send`, `request_vote`, …) send at once,
//! and the events they cause locally come out of the next `poll`.

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime};

use cohort_ports::{
    Endpoint, Hub, LinkEvent, LinkState, Mixed, PeerId, PortError, PortFactory, PortKind, PortSpec, PubPort, Scope,
    SocketOptions, Spoke, SubPort,
};
use slog::{debug, info, o, warn};

use crate::actions::{micros_since_epoch, Schedule};
use crate::config::{ConfigError, GroupConfig};
use crate::core::{CommandError, Event, GroupCore, Output};
use crate::delivery::{Delivery, Lent};
use crate::envelope::{Body, Channel, DataFrame, Envelope, DATA_HEADER_LEN, FRAME_TYPE};
use crate::event::{GroupEvent, Payload};
use crate::wire::{GroupMessage, MemberId, Outcome, Subject, VoteId, VoteKind};

/// Which group instance: app, group type (model name), instance name, and the group's message
/// type (model).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// The app.
    pub app: String,
    /// The group type (its name in the model).
    pub group_type: String,
    /// The instance name the component joined.
    pub instance: String,
    /// The group's message type (model).
    pub message: String,
}

impl GroupKey {
    /// The discovery message key for the group's gpub/gsub service:
    /// `"<message>@<group_type>.<instance>"`.
    pub fn service_messages(&self) -> String {
        format!("{}@{}.{}", self.message, self.group_type, self.instance)
    }

    /// `"<group_type>.<instance>"`, as logs and port names show it.
    pub fn label(&self) -> String {
        format!("{}.{}", self.group_type, self.instance)
    }
}

/// Why a group operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// A socket could not be made, bound, connected or sent on.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The core refused the command (no leader, not the leader, unknown vote, …).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The group's timing is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An action's time is before the Unix epoch.
    #[error("an action's time must not be before the Unix epoch")]
    TimeBeforeEpoch,
}

/// Counters of what a member dropped, on top of its ports' own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberStats {
    /// Frames the ports refused (malformed, foreign, of another type, not decoding), summed
    /// over gsub, the leader ROUTER and the member DEALER.
    pub refused: u64,
    /// Well-formed envelopes dropped: on the wrong socket, claiming another sender than the
    /// ROUTER saw, from this member itself, or from a leader the DEALER does not follow.
    pub rejected: u64,
    /// Outgoing messages dropped: to a leader the DEALER is not connected to, or to a member
    /// not connected to this leader.
    pub undelivered: u64,
    /// Sends that failed (timeouts, socket errors).
    pub send_errors: u64,
    /// Times the member DEALER could not follow the known leader (an endpoint that does not
    /// parse, a failed connect).
    pub leader_unreachable: u64,
    /// Times the member DEALER's connection to the leader it follows closed, as its socket
    /// monitor reported (the leader died, or closed its ROUTER; ZeroMQ reconnects by itself).
    pub leader_disconnects: u64,
}

/// Messages and bytes a member's sockets carried ([`GroupMember::traffic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// Messages sent.
    pub sent: u64,
    /// Messages received and delivered.
    pub received: u64,
    /// Bytes of the messages sent (Cohort's frames).
    pub bytes_sent: u64,
    /// Bytes of the messages received.
    pub bytes_received: u64,
}

/// Messages read from one socket in one [`GroupMember::poll`] at most, so a flood on one socket
/// cannot starve the others (the socket stays readable, so the owner polls again at once).
const BATCH: usize = 256;

/// How many bytes a member's sockets read from a connection, and write to it, at once
/// ([`SocketOptions::batch_size`]; at least this, more if the factory's options say so).
/// libzmq's 8 KiB takes a system call per ~100 data frames of 64-byte messages, 256 KiB up to
/// ~3,000 (as many as are queued). In the groups benchmark (1 → 2 members, 64-byte messages)
/// members then send about a quarter more messages per second than with 8 KiB, and raw PUB/SUB
/// given the same size gains a little less.
pub const MESH_BATCH_SIZE: i32 = 256 * 1024;

/// One member of one group instance: the core, its sockets, and the actions it waits to run.
///
/// Dropping it without [`GroupMember::leave`] closes the sockets without telling the others
/// (as a crash would): they notice after the peer timeout.
pub struct GroupMember {
    key: GroupKey,
    id: MemberId,
    core: GroupCore,
    /// Core time is the time since this instant.
    base: Instant,
    /// The latest core time used: core time never goes back.
    core_now: Duration,
    gpub: PubPort,
    gsub: SubPort,
    hub: Hub,
    spoke: Spoke,
    /// The leader the DEALER is connected to.
    following: Option<MemberId>,
    /// Events for the next poll, in order.
    events: Vec<GroupEvent>,
    /// The last poll stopped reading a socket after a whole batch: more may be waiting, so
    /// the next poll is due at once.
    backlog: bool,
    actions: Schedule,
    stats: MemberStats,
    /// The member DEALER's connection losses counted into `stats` so far (the DEALER's own
    /// count, [`cohort_ports::Spoke::link_downs`], may be ahead).
    counted_downs: u64,
    /// This member was elected, and its `LeaderElected` waits for its lease (see
    /// [`GroupMember::poll`]).
    elected_unannounced: bool,
    log: slog::Logger,
}

/// A member id as UUID text, for logs.
fn text(id: &MemberId) -> String {
    uuid::Uuid::from_bytes(*id).to_string()
}

/// Whom a data frame read on the mesh comes from.
enum DataFrameFrom {
    /// Another member: its message is queued as an event.
    Other,
    /// This member itself, which never gets its own messages: rejected.
    ThisMember,
}

/// A fresh random member id (UUID v4 bytes) and the same bytes as the DEALER's routing id:
/// ids starting with a zero byte, which ZeroMQ reserves, are drawn again.
fn fresh_id() -> (MemberId, PeerId) {
    loop {
        let id = *uuid::Uuid::new_v4().as_bytes();
        if let Some(peer) = PeerId::from_bytes(&id) {
            return (id, peer);
        }
    }
}

impl GroupMember {
    /// Joins: opens the sockets (gpub PUB bound with scope Global, i.e. tcp on the factory's
    /// interface; gsub SUB; leader ROUTER bound tcp whose endpoint goes into the core's Leader
    /// announcements; member DEALER whose routing id is the 16-byte member id), makes a fresh
    /// random member id and starts the core (after checking `config`). `log` gets join, leader
    /// and vote logs.
    pub fn join(
        factory: &PortFactory,
        key: GroupKey,
        config: GroupConfig,
        log: slog::Logger,
    ) -> Result<GroupMember, GroupError> {
        config.validate()?;
        let (id, peer) = fresh_id();
        // No ZMTP heartbeats on a member's sockets: the group's own heartbeats and
        // acknowledgements tell who is alive. On the mesh they would cost every member a ping
        // per connection, n² in all, and a heartbeat timer firing on a connection that just
        // failed aborts libzmq 4.3.4 (zeromq/libzmq#4841), as groups of 100 did.
        // Larger batches on every socket ([`MESH_BATCH_SIZE`]).
        let options = SocketOptions {
            heartbeat_interval: Duration::ZERO,
            batch_size: factory.options().batch_size.max(MESH_BATCH_SIZE),
            ..factory.options().clone()
        };
        let factory = &factory.with_options(options);
        let owner = format!("group:{}", key.label());
        let spec = |name: &str, kind| PortSpec::new(&owner, name, kind, Scope::Global, FRAME_TYPE);
        let gpub = factory.publisher(&spec("gpub", PortKind::GroupPub))?;
        let gsub = factory.subscriber(&spec("gsub", PortKind::GroupSub))?;
        let hub = factory.hub(&spec("gleader", PortKind::GroupLeader))?;
        let spoke = factory.member(&spec("gmember", PortKind::GroupMember), peer)?;
        let seed = u64::from_le_bytes(*uuid::Uuid::new_v4().as_bytes().first_chunk::<8>().unwrap_or(&[0; 8]));
        let (core, out) = GroupCore::new(id, config, hub.endpoint().as_str(), seed, Duration::ZERO);
        let log = log.new(o!("group" => key.label(), "member" => text(&id)));
        info!(log, "joined group"; "publisher" => %gpub.endpoint(), "leader_endpoint" => %hub.endpoint());
        let mut member = GroupMember {
            key,
            id,
            core,
            base: Instant::now(),
            core_now: Duration::ZERO,
            gpub,
            gsub,
            hub,
            spoke,
            following: None,
            events: Vec::new(),
            backlog: false,
            actions: Schedule::default(),
            stats: MemberStats::default(),
            counted_downs: 0,
            elected_unannounced: false,
            log,
        };
        member.apply(out, Instant::now());
        Ok(member)
    }

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The group instance.
    pub fn key(&self) -> &GroupKey {
        &self.key
    }

    /// The core: [`GroupCore::role`], [`GroupCore::term`], [`GroupCore::leader`],
    /// [`GroupCore::members`].
    pub fn core(&self) -> &GroupCore {
        &self.core
    }

    /// Until when this member's leader lease holds: while `Instant::now()` is before it, no
    /// other member holds one (with a declared group size). `None` when it does not lead (or
    /// holds no lease).
    pub fn leader_lease(&self) -> Option<Instant> {
        self.core.lease_until().and_then(|until| self.base.checked_add(until))
    }

    /// Whether this member leads the group with a lease that holds now.
    pub fn is_leader(&self) -> bool {
        self.leader_lease().is_some_and(|until| Instant::now() < until)
    }

    /// Endpoint of this member's gpub, to register with discovery as a GroupPub provider.
    pub fn publisher_endpoint(&self) -> &Endpoint {
        self.gpub.endpoint()
    }

    /// Endpoint of this member's leader ROUTER (announced to the others while it leads).
    pub fn hub_endpoint(&self) -> &Endpoint {
        self.hub.endpoint()
    }

    /// The leader the member DEALER is connected to (`None` when there is none or this member
    /// leads).
    pub fn following(&self) -> Option<MemberId> {
        self.following
    }

    /// The state of the member DEALER's connection to the leader it follows, as of the last
    /// [`GroupMember::poll`]: [`LinkState::Down`] within milliseconds of the leader's process
    /// dying, [`LinkState::Up`] again once it reconnects. `None` when it follows no leader.
    pub fn leader_link(&self) -> Option<LinkState> {
        self.spoke.link()
    }

    /// What this member dropped so far.
    pub fn stats(&self) -> MemberStats {
        let refused = [self.gsub.stats(), self.hub.stats(), self.spoke.stats()]
            .iter()
            .map(|s| s.snapshot().dropped())
            .sum::<u64>();
        MemberStats { refused, ..self.stats }
    }

    /// Messages and bytes this member's sockets sent and received so far, heartbeats and
    /// elections included: the sum of its four ports' counters (gpub, gsub, the leader ROUTER
    /// and the member DEALER).
    pub fn traffic(&self) -> Traffic {
        [self.gpub.stats(), self.gsub.stats(), self.hub.stats(), self.spoke.stats()].iter().map(|s| s.snapshot()).fold(
            Traffic::default(),
            |t, s| Traffic {
                sent: t.sent + s.sent,
                received: t.received + s.received,
                bytes_sent: t.bytes_sent + s.bytes_sent,
                bytes_received: t.bytes_received + s.bytes_received,
            },
        )
    }

    /// Discovery found a member's gpub: connect the gsub to it. Without a declared size, the
    /// members discovery reports count toward the quorum even before they are heard from (see
    /// [`GroupCore::set_discovered`]). This member's own endpoint is ignored.
    pub fn add_peer(&mut self, endpoint: &Endpoint) -> Result<(), GroupError> {
        if endpoint == self.gpub.endpoint() {
            return Ok(());
        }
        if self.gsub.add_endpoint(endpoint)? {
            debug!(self.log, "connected to a member's publisher"; "endpoint" => %endpoint);
        }
        self.core.set_discovered(self.gsub.endpoints().count() + 1);
        Ok(())
    }

    /// Discovery lost a member's gpub: disconnect the gsub from it (it no longer counts toward
    /// the quorum unless heard from). This member's own endpoint is ignored.
    pub fn remove_peer(&mut self, endpoint: &Endpoint) -> Result<(), GroupError> {
        if endpoint == self.gpub.endpoint() {
            return Ok(());
        }
        if self.gsub.remove_endpoint(endpoint)? {
            debug!(self.log, "disconnected from a member's publisher"; "endpoint" => %endpoint);
        }
        self.core.set_discovered(self.gsub.endpoints().count() + 1);
        Ok(())
    }

    /// The sockets to poll for input (gsub, leader ROUTER, member DEALER, and the member
    /// DEALER's socket monitor).
    pub fn sockets(&self) -> [&zmq::Socket; 4] {
        // The DEALER is tcp, so it has a monitor; polling the DEALER twice would do no harm.
        let monitor = self.spoke.monitor_socket().unwrap_or(self.spoke.socket());
        [self.gsub.socket(), self.hub.socket(), self.spoke.socket(), monitor]
    }

    /// When [`GroupMember::poll`] must run next even if no socket is readable: the core's
    /// deadline, the next action's time, or now when events are waiting to be returned or the
    /// last poll left messages unread (it reads a bounded batch from each socket).
    pub fn next_deadline(&self) -> Instant {
        if !self.events.is_empty() || self.backlog {
            return Instant::now();
        }
        let core = self.base.checked_add(self.core.next_deadline()).unwrap_or_else(Instant::now);
        self.actions.next_wake().map_or(core, |action| action.min(core))
    }

    /// Reads everything readable (without blocking), ticks the core if due, sends the core's
    /// outputs, keeps the member DEALER connected to the known leader, delivers due actions, and
    /// returns the events in order (the core's events, group messages and due actions, as
    /// [`GroupEvent`]s). Malformed frames are counted and dropped. This member's own
    /// [`GroupEvent::LeaderElected`] comes once a quorum has acknowledged it as leader, when
    /// [`GroupMember::is_leader`] turns true (usually a round trip after the election); if it
    /// steps down before that, neither that event nor its `LeaderExited` comes.
    pub fn poll(&mut self, now: Instant) -> Vec<GroupEvent> {
        let mut events = Vec::new();
        self.poll_into(now, &mut events);
        events
    }

    /// [`GroupMember::poll`], appending the events to `events`: an owner that keeps one buffer
    /// for every poll allocates nothing per poll.
    pub fn poll_into(&mut self, now: Instant, events: &mut Vec<GroupEvent>) {
        self.poll_with(now, |delivery| match delivery {
            Delivery::Message(message) => message.push_to(events),
            Delivery::Event(event) => events.push(event),
        });
    }

    /// [`GroupMember::poll`], handing each event to `handle` as it comes, in the same order,
    /// and each group message lent in the ZeroMQ message it arrived in ([`Delivery::Message`]):
    /// an owner that reads a message where it is ([`LentMessage::as_bytes`]) saves building an
    /// event for it, the fastest way to take group messages. `handle` cannot call the member
    /// (it is borrowed for the poll): commands go after `poll_with` returns.
    ///
    /// [`LentMessage::as_bytes`]: crate::LentMessage::as_bytes
    pub fn poll_with(&mut self, now: Instant, mut handle: impl FnMut(Delivery<'_>)) {
        self.backlog = false;
        // The leader's own messages first: one it sent before a Leave that arrives on the mesh
        // in the same poll still counts. Events wait in `self.events` (after those left from
        // commands since the last poll) until a group message or the end of the poll.
        self.read_spoke(now);
        self.read_hub(now);
        self.read_mesh(now, &mut handle);
        let core_now = self.core_time(now);
        if core_now >= self.core.next_deadline() {
            let out = self.core.tick(core_now);
            self.apply(out, now);
        }
        for due in self.actions.take_due(now, SystemTime::now()) {
            info!(self.log, "agreed action due";
                "vote" => vote_text(&due.vote), "late_us" => u64::try_from(due.late.as_micros()).unwrap_or(u64::MAX));
            self.events.push(GroupEvent::ActionDue {
                vote: due.vote,
                action: Payload::new(due.action),
                late: due.late,
            });
        }
        hand_over(&mut self.events, &mut handle);
    }

    /// Sends a group (pub/sub) message to all other members, as a data frame
    /// ([`crate::envelope::DataFrame`]): its header and `payload` are copied once, straight into
    /// the outgoing ZeroMQ message.
    pub fn send(&mut self, payload: &[u8]) -> Result<(), GroupError> {
        let header = DataFrame::header(&self.id);
        self.gpub.send_bare(&header, payload).inspect_err(|_| self.stats.send_errors += 1)?;
        Ok(())
    }

    /// Sends a message to the leader (to itself when this member leads: it comes out of the
    /// next poll as [`GroupEvent::MessageToLeader`]).
    pub fn send_to_leader(&mut self, payload: &[u8]) -> Result<(), GroupError> {
        let out = self.core.send_to_leader(payload.to_vec())?;
        self.command(out)
    }

    /// (Leader only.) Sends a message to member `member`. A member not (yet) connected to this
    /// leader does not get it (logged).
    pub fn send_to_member(&mut self, member: MemberId, payload: &[u8]) -> Result<(), GroupError> {
        let out = self.core.send_to_member(member, payload.to_vec())?;
        self.command(out)
    }

    /// Asks the leader for a vote on a value; `timeout` `None` is the group's consensus timeout.
    pub fn request_vote(
        &mut self,
        value: &[u8],
        kind: VoteKind,
        timeout: Option<Duration>,
    ) -> Result<VoteId, GroupError> {
        self.request(Subject::Value(value.to_vec()), kind, timeout)
    }

    /// Asks the leader for a vote on an action at the wall-clock time `at`; if it passes, every
    /// member that learns so gets [`GroupEvent::ActionDue`] at that time.
    pub fn request_action_vote(
        &mut self,
        action: &[u8],
        at: SystemTime,
        kind: VoteKind,
        timeout: Option<Duration>,
    ) -> Result<VoteId, GroupError> {
        let at_us = micros_since_epoch(at).ok_or(GroupError::TimeBeforeEpoch)?;
        self.request(Subject::Action { action: action.to_vec(), at_us }, kind, timeout)
    }

    /// Casts this member's ballot in `vote` (once per vote).
    pub fn cast_vote(&mut self, vote: VoteId, yes: bool) -> Result<(), GroupError> {
        let now = Instant::now();
        let core_now = self.core_time(now);
        let out = self.core.cast_vote(core_now, vote, yes)?;
        debug!(self.log, "voted"; "vote" => vote_text(&vote), "yes" => yes);
        self.apply_command(out, now)
    }

    /// Leaves: tells the others (ending the votes it runs as leader) and closes the sockets.
    pub fn leave(mut self) {
        let now = Instant::now();
        let out = self.core.leave();
        // Only the broadcasts matter now; the events have no one to go to.
        self.apply(out, now);
        info!(self.log, "left group");
    }

    fn request(&mut self, subject: Subject, kind: VoteKind, timeout: Option<Duration>) -> Result<VoteId, GroupError> {
        let now = Instant::now();
        let core_now = self.core_time(now);
        let (vote, out) = self.core.request_vote(core_now, subject, kind, timeout)?;
        debug!(self.log, "asked for a vote"; "vote" => vote_text(&vote), "kind" => ?kind);
        self.apply_command(out, now)?;
        Ok(vote)
    }

    fn command(&mut self, out: Vec<Output>) -> Result<(), GroupError> {
        self.apply_command(out, Instant::now())
    }

    /// Applies a command's outputs; the first failed send is the command's error.
    fn apply_command(&mut self, out: Vec<Output>, now: Instant) -> Result<(), GroupError> {
        match self.apply(out, now) {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Core time at `now`, never earlier than the last one used.
    fn core_time(&mut self, now: Instant) -> Duration {
        self.core_now = self.core_now.max(now.saturating_duration_since(self.base));
        self.core_now
    }

    /// Reads the mesh: data frames (and CBOR `Data` envelopes, their earlier form) from other
    /// members go to `handle` as they are read (after the events before them), with no log
    /// line per message (the ports count them); control envelopes go to the core. Frames from
    /// this member itself, and control messages that do not belong on the mesh, are rejected.
    fn read_mesh(&mut self, now: Instant, handle: &mut impl FnMut(Delivery<'_>)) {
        for _ in 0..BATCH {
            // A data frame is handed over right where it is read, in the message it arrived
            // in; control envelopes are boxed, so what comes back is small either way.
            let (own, events) = (self.id, &mut self.events);
            let received = self.gsub.recv_mixed::<Box<Envelope<'static>>, _>(|raw| {
                let from = DataFrame::decode(raw.as_bytes()).map_err(|e| e.to_string())?.from;
                if from == own {
                    return Ok(DataFrameFrom::ThisMember);
                }
                hand_over(events, handle);
                let mut lent = Lent::in_frame(from, raw, DATA_HEADER_LEN);
                handle(Delivery::Message(lent.handle()));
                Ok(DataFrameFrom::Other)
            });
            let envelope = match received {
                Ok(Some(received)) => match received.value {
                    Mixed::Raw(DataFrameFrom::Other) => continue,
                    Mixed::Raw(DataFrameFrom::ThisMember) => {
                        self.reject("mesh", &own);
                        continue;
                    }
                    Mixed::Typed(envelope) => envelope,
                },
                Ok(None) => return,
                Err(e) => {
                    warn!(self.log, "receiving on gsub failed"; "error" => %e);
                    return;
                }
            };
            if envelope.from == self.id || !envelope.body.allowed_on(Channel::Mesh) {
                self.reject("mesh", &envelope.from);
                continue;
            }
            match envelope.body {
                Body::Data(payload) => {
                    hand_over(&mut self.events, handle);
                    let mut lent = Lent::decoded(envelope.from, Payload::new(payload.into_owned()));
                    handle(Delivery::Message(lent.handle()));
                }
                Body::Control(message) => self.handle(now, envelope.from, message.into_owned()),
            }
        }
        // A whole batch was read: more may be waiting.
        self.backlog = true;
    }

    fn read_hub(&mut self, now: Instant) {
        for _ in 0..BATCH {
            let (peer, envelope) = match self.hub.recv::<Envelope<'static>>() {
                Ok(Some(received)) => (received.from, received.message.value),
                Ok(None) => return,
                Err(e) => {
                    warn!(self.log, "receiving on the leader ROUTER failed"; "error" => %e);
                    return;
                }
            };
            if peer.as_bytes() != envelope.from.as_slice() || !envelope.body.allowed_on(Channel::ToLeader) {
                self.reject("leader ROUTER", &envelope.from);
                continue;
            }
            if let Body::Control(message) = envelope.body {
                debug!(self.log, "message to the leader"; "from" => text(&envelope.from), "kind" => kind(&message));
                self.handle(now, envelope.from, message.into_owned());
            }
        }
        // A whole batch was read: more may be waiting.
        self.backlog = true;
    }

    /// Reads the member DEALER's socket monitor: logs and counts a closed connection to the
    /// leader, and its return.
    fn watch_leader_link(&mut self) {
        let events = match self.spoke.link_events() {
            Ok(events) => events,
            Err(e) => {
                warn!(self.log, "reading the member DEALER's socket monitor failed"; "error" => %e);
                return;
            }
        };
        for event in events {
            if event == LinkEvent::Connected {
                debug!(self.log, "connected to the leader"; "leader" => self.following.as_ref().map(text));
            }
        }
        self.count_leader_downs();
    }

    /// Counts the closes of the connection to the leader that the DEALER saw since the last
    /// count. Counted from the DEALER's own count rather than from the events this member
    /// read: a receive that finds nothing reads (and drops) the monitor's events too, so a
    /// close can be seen there first.
    fn count_leader_downs(&mut self) {
        let downs = self.spoke.link_downs();
        while self.counted_downs < downs {
            self.counted_downs += 1;
            self.stats.leader_disconnects += 1;
            info!(self.log, "the connection to the leader closed";
                "leader" => self.following.as_ref().map(text), "times" => self.stats.leader_disconnects);
        }
    }

    fn read_spoke(&mut self, now: Instant) {
        self.watch_leader_link();
        for _ in 0..BATCH {
            let envelope = match self.spoke.recv::<Envelope<'static>>() {
                Ok(Some(received)) => received.value,
                Ok(None) => {
                    // The empty receive read the monitor: a close it found is counted now.
                    self.count_leader_downs();
                    return;
                }
                Err(e) => {
                    warn!(self.log, "receiving on the member DEALER failed"; "error" => %e);
                    return;
                }
            };
            if self.following != Some(envelope.from) || !envelope.body.allowed_on(Channel::FromLeader) {
                self.reject("member DEALER", &envelope.from);
                continue;
            }
            if let Body::Control(message) = envelope.body {
                debug!(self.log, "message from the leader"; "from" => text(&envelope.from), "kind" => kind(&message));
                self.handle(now, envelope.from, message.into_owned());
            }
        }
        // A whole batch was read: more may be waiting.
        self.backlog = true;
    }

    fn reject(&mut self, socket: &'static str, from: &MemberId) {
        self.stats.rejected += 1;
        if self.stats.rejected.is_power_of_two() {
            warn!(self.log, "dropped a group frame that does not belong on its socket";
                "socket" => socket, "from" => text(from), "rejected" => self.stats.rejected);
        }
    }

    fn handle(&mut self, now: Instant, from: MemberId, message: GroupMessage) {
        let core_now = self.core_time(now);
        let out = self.core.handle(core_now, from, message);
        self.apply(out, now);
    }

    /// Connects the DEALER to the leader the core knows (none when there is none or this
    /// member leads). Cheap when nothing changed, as after most messages.
    fn follow_leader(&mut self) {
        let target = match self.core.leader() {
            Some(leader) if leader != self.id => self.core.leader_endpoint().map(|endpoint| (leader, endpoint)),
            _ => None,
        };
        let unchanged = match (target, self.spoke.hub()) {
            (Some((leader, wanted)), Some(hub)) => self.following == Some(leader) && hub.as_str() == wanted,
            (None, None) => self.following.is_none(),
            _ => false,
        };
        if unchanged {
            return;
        }
        let target = target.map(|(leader, endpoint)| (leader, Endpoint::parse(endpoint)));
        let (leader, endpoint) = match target {
            Some((leader, Ok(endpoint))) => (Some(leader), Some(endpoint)),
            Some((leader, Err(e))) => {
                // Follow no one until the leader or its endpoint changes.
                self.stats.leader_unreachable += 1;
                if self.stats.leader_unreachable.is_power_of_two() {
                    warn!(self.log, "the leader announced an unusable endpoint";
                        "leader" => text(&leader), "error" => %e, "times" => self.stats.leader_unreachable);
                }
                if self.spoke.hub().is_none() {
                    return;
                }
                (None, None)
            }
            None => (None, None),
        };
        match self.spoke.connect_to(endpoint.as_ref()) {
            Ok(()) => {
                self.following = leader;
                match (&leader, &endpoint) {
                    (Some(l), Some(e)) => {
                        debug!(self.log, "following the leader"; "leader" => text(l), "endpoint" => %e)
                    }
                    _ => debug!(self.log, "following no leader"),
                }
            }
            Err(e) => {
                self.following = None;
                self.stats.leader_unreachable += 1;
                if self.stats.leader_unreachable.is_power_of_two() {
                    warn!(self.log, "cannot connect to the leader";
                        "error" => %e, "times" => self.stats.leader_unreachable);
                }
            }
        }
    }

    /// Carries out the core's outputs: sends, queues events, schedules actions. Returns the
    /// first failed send (dropped messages are not failures).
    fn apply(&mut self, out: Vec<Output>, now: Instant) -> Option<PortError> {
        self.follow_leader();
        let mut failed = None;
        for output in out {
            let result = match output {
                Output::Broadcast(message) => self.broadcast(&message),
                Output::ToLeader { leader, message } => self.deliver_to_leader(leader, &message),
                Output::ToMember { member, message } => self.deliver_to_member(member, &message),
                Output::Event(event) => {
                    self.event(event, now);
                    Ok(())
                }
            };
            if let Err(e) = result {
                self.stats.send_errors += 1;
                warn!(self.log, "sending a group message failed"; "error" => %e);
                failed.get_or_insert(e);
            }
        }
        if self.elected_unannounced && self.core.lease_until().is_some() {
            self.elected_unannounced = false;
            info!(self.log, "leading with a lease"; "term" => self.core.term());
            self.events.push(GroupEvent::LeaderElected(self.id));
        }
        failed
    }

    fn broadcast(&mut self, message: &GroupMessage) -> Result<(), PortError> {
        self.gpub.send(&Envelope { from: self.id, body: Body::Control(Cow::Borrowed(message)) })
    }

    fn deliver_to_leader(&mut self, leader: MemberId, message: &GroupMessage) -> Result<(), PortError> {
        if self.following != Some(leader) {
            self.stats.undelivered += 1;
            debug!(self.log, "dropped a message for a leader this member does not follow";
                "leader" => text(&leader), "kind" => kind(message));
            return Ok(());
        }
        match self.spoke.send(&Envelope { from: self.id, body: Body::Control(Cow::Borrowed(message)) }) {
            Err(PortError::NoProvider) => {
                self.stats.undelivered += 1;
                Ok(())
            }
            other => other,
        }
    }

    fn deliver_to_member(&mut self, member: MemberId, message: &GroupMessage) -> Result<(), PortError> {
        let Some(peer) = PeerId::from_bytes(&member) else {
            self.stats.undelivered += 1;
            return Ok(());
        };
        match self.hub.send_to(&peer, &Envelope { from: self.id, body: Body::Control(Cow::Borrowed(message)) }) {
            Err(PortError::PeerGone) => {
                self.stats.undelivered += 1;
                info!(self.log, "dropped a message for a member not connected to this leader";
                    "member" => text(&member), "kind" => kind(message));
                Ok(())
            }
            other => other,
        }
    }

    /// Logs an event of the core, schedules a passed action, and queues the event as the owner
    /// sees it.
    fn event(&mut self, event: Event, now: Instant) {
        match &event {
            Event::LeaderElected(l) if *l == self.id => {
                // Its owner hears of it once a quorum has acknowledged a heartbeat, when
                // `is_leader` becomes true (in `apply`).
                info!(self.log, "leader elected"; "leader" => text(l), "term" => self.core.term(), "self" => true);
                self.elected_unannounced = true;
                return;
            }
            Event::LeaderExited(l) if *l == self.id && self.elected_unannounced => {
                info!(self.log, "stepped down before a quorum acknowledged this member as leader");
                self.elected_unannounced = false;
                return;
            }
            Event::MemberJoined(m) => info!(self.log, "member joined"; "peer" => text(m)),
            Event::MemberLeft(m) => info!(self.log, "member left"; "peer" => text(m)),
            Event::LeaderElected(l) => {
                info!(self.log, "leader elected"; "leader" => text(l), "term" => self.core.term(), "self" => *l == self.id)
            }
            Event::LeaderExited(l) => info!(self.log, "leader exited"; "leader" => text(l)),
            Event::VoteCalled { vote, kind, .. } => {
                debug!(self.log, "vote called"; "vote" => vote_text(vote), "kind" => ?kind)
            }
            Event::VoteEnded { vote, subject, outcome } => {
                info!(self.log, "vote ended"; "vote" => vote_text(vote), "outcome" => ?outcome);
                if let (Subject::Action { action, at_us }, Outcome::Yes) = (subject, outcome) {
                    if self.actions.add(*vote, action.clone(), *at_us, now, SystemTime::now()).is_err() {
                        warn!(self.log, "an agreed action's time cannot be represented; it will not run";
                            "vote" => vote_text(vote), "at_us" => at_us);
                    }
                }
            }
            Event::VoteLost { vote } => info!(self.log, "vote lost"; "vote" => vote_text(vote)),
            Event::MessageToLeader { from, payload } => {
                debug!(self.log, "message to the leader"; "from" => text(from), "bytes" => payload.len())
            }
            Event::MessageFromLeader { leader, payload } => {
                debug!(self.log, "message from the leader"; "leader" => text(leader), "bytes" => payload.len())
            }
        }
        self.events.push(GroupEvent::from_core(event));
    }
}

/// Hands the events waiting in `events` to `handle`, in order.
#[inline]
fn hand_over(events: &mut Vec<GroupEvent>, handle: &mut impl FnMut(Delivery<'_>)) {
    if !events.is_empty() {
        for event in events.drain(..) {
            handle(Delivery::Event(event));
        }
    }
}

/// A vote id for logs: requester and number.
fn vote_text(vote: &VoteId) -> String {
    format!("{}#{}", text(&vote.requester), vote.number)
}

/// The name of a protocol message, for logs.
fn kind(message: &GroupMessage) -> &'static str {
    match message {
        GroupMessage::Alive { .. } => "Alive",
        GroupMessage::Leave => "Leave",
        GroupMessage::PreVote { .. } => "PreVote",
        GroupMessage::PreVoteReply { .. } => "PreVoteReply",
        GroupMessage::RequestVote { .. } => "RequestVote",
        GroupMessage::Vote { .. } => "Vote",
        GroupMessage::Leader { .. } => "Leader",
        GroupMessage::Ack { .. } => "Ack",
        GroupMessage::ToLeader { .. } => "ToLeader",
        GroupMessage::FromLeader { .. } => "FromLeader",
        GroupMessage::ProposeVote { .. } => "ProposeVote",
        GroupMessage::CallVote { .. } => "CallVote",
        GroupMessage::Ballot { .. } => "Ballot",
        GroupMessage::Announce { .. } => "Announce",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_service() {
        let key = GroupKey {
            app: "A".into(),
            group_type: "Sensors".into(),
            instance: "north".into(),
            message: "Reading".into(),
        };
        assert_eq!(key.service_messages(), "Reading@Sensors.north");
        assert_eq!(key.label(), "Sensors.north");
    }

    #[test]
    fn members_can_move_to_another_thread() {
        fn is_send<T: Send>() {}
        is_send::<GroupMember>();
        is_send::<GroupError>();
    }

    #[test]
    fn fresh_ids_are_valid_routing_ids() {
        for _ in 0..1000 {
            let (id, peer) = fresh_id();
            assert_eq!(peer.as_bytes(), id.as_slice());
        }
    }
}
