//! The actor's group coordination thread (`<actor>.groups`): it owns the group member of every
//! group instance that any component of the actor joined, and keeps their heartbeats,
//! elections, leader leases and votes going by itself, however long a component's handler
//! takes. Component code never runs on it, and it never waits on a component.
//!
//! How the threads talk (the pattern of [`crate::control`]: a Rust value over a queue, then an
//! empty frame on an inproc PAIR that wakes the receiver's poll). The queues are
//! [`crate::handoff`] queues, which allocate nothing per value (a std channel's allocations
//! cost more than the group messages they carried):
//!
//! - **Commands** ([`Command`]) come from the components' [`Group`](crate::Group) handles and
//!   from the actor's main thread (discovery's endpoint updates, stop) over one queue; each
//!   sender wakes the thread through its own PAIR. A command whose caller needs a result
//!   carries a [`Reply`] of capacity 1. The thread answers at once, without waiting, so the
//!   caller waits microseconds (bounded by [`ANSWER_TIMEOUT`] in case the thread has died).
//! - **Events** go back to the member's component: one [`Delivery`] per event over the
//!   component's own queue, then a wake-up on the component's PAIR, which its executor polls
//!   with its ports; `on_group` then runs on the component's thread.
//! - **Views**: after every poll of a member and every command to it, the thread refreshes the
//!   member's [`GroupView`] (leader, term, members, lease), which the [`Group`](crate::Group)
//!   handle reads.
//!
//! One turn of the thread's loop: poll the wake-ups and every member's sockets until the
//! earliest member deadline; take every waiting command; poll every member at the current
//! time; refresh the views; hand out the events. The thread ends when told to stop or when no
//! one can send it commands any more, and leaves every group it still holds. A component whose
//! event queue has gone (its thread ended) has its groups left too.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use cohort_groups::{CommandError, GroupConfig, GroupError, GroupEvent, GroupKey, GroupMember, MemberId};
use cohort_groups::{Outcome, VoteId, VoteKind};
use cohort_monitor::{GroupReport, GroupTraffic, VoteCounts};
use cohort_ports::{Endpoint, PortFactory};
use slog::{debug, error, info, o, warn};

use crate::context::uuid_text;
use crate::control::{clear_wakeups, wake, wake_pair};
use crate::group::{GroupName, GroupView};
use crate::handoff::{handoff, Empty, HandoffReceiver, HandoffSender};

/// How long a caller waits for the coordination thread's answer. The thread answers at once;
/// this bound only keeps a component from hanging should the thread have died.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the answer to a command goes: a channel of capacity 1 the caller waits on.
pub(crate) type Reply<T> = SyncSender<Result<T, GroupError>>;

/// A component of the actor, as the coordination thread knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ComponentId(usize);

/// What the coordination thread is asked to do.
pub(crate) enum Command {
    /// (Actor.) A component starts: its events go to `events`, its wake-ups to `wake`.
    Attach {
        /// The component.
        component: ComponentId,
        /// The component instance's name, for reports.
        instance: String,
        /// The thread's end of the component's wake-up PAIR.
        wake: zmq::Socket,
        /// The component's [`CommandLink::woken`].
        woken: Arc<AtomicBool>,
        /// Where the component's events go.
        events: HandoffSender<Delivery>,
        /// The component's logger, for its members' logs.
        log: slog::Logger,
    },
    /// Join a group instance for component `owner`.
    Join {
        /// The group instance, as the component names it.
        group: GroupName,
        /// The group instance, as discovery names it.
        key: GroupKey,
        /// The group's timing and declared size.
        config: GroupConfig,
        /// The component the member belongs to.
        owner: ComponentId,
        /// The new member's id, publisher endpoint and view.
        reply: Reply<Joined>,
    },
    /// Leave a group: tell the others, close the member.
    Leave {
        /// The member.
        member: MemberId,
    },
    /// Send a group message to every other member. Nobody waits for it (as for a ZeroMQ
    /// publisher's send): a failure is counted by the member and logged.
    Send {
        /// The sending member.
        member: MemberId,
        /// The encoded message.
        payload: Vec<u8>,
    },
    /// Send a message to the leader.
    SendToLeader {
        /// The sending member.
        member: MemberId,
        /// The encoded message.
        payload: Vec<u8>,
        /// Whether it was sent (no leader, a send error).
        reply: Reply<()>,
    },
    /// (Leader.) Send a message to one member.
    SendToMember {
        /// The sending member (the leader).
        member: MemberId,
        /// The member it is for.
        to: MemberId,
        /// The encoded message.
        payload: Vec<u8>,
        /// Whether it was sent (not the leader, a send error).
        reply: Reply<()>,
    },
    /// Ask the leader for a vote on a value.
    RequestVote {
        /// The asking member.
        member: MemberId,
        /// The encoded value.
        value: Vec<u8>,
        /// Majority or consensus.
        kind: VoteKind,
        /// The vote's timeout (None: the group's).
        timeout: Option<Duration>,
        /// The vote's id.
        reply: Reply<VoteId>,
    },
    /// Ask the leader for a vote on an action at a wall-clock time.
    RequestActionVote {
        /// The asking member.
        member: MemberId,
        /// The encoded action.
        action: Vec<u8>,
        /// When it is to be carried out.
        at: SystemTime,
        /// Majority or consensus.
        kind: VoteKind,
        /// The vote's timeout (None: the group's).
        timeout: Option<Duration>,
        /// The vote's id.
        reply: Reply<VoteId>,
    },
    /// Cast a ballot.
    CastVote {
        /// The voting member.
        member: MemberId,
        /// The vote.
        vote: VoteId,
        /// The ballot.
        yes: bool,
        /// Whether the ballot was taken (unknown vote, already voted, a send error).
        reply: Reply<()>,
    },
    /// (Actor.) Discovery found or lost other members' publishers.
    Peers {
        /// The member whose subscriber connects to them.
        member: MemberId,
        /// Publishers to connect to.
        added: Vec<Endpoint>,
        /// Publishers to disconnect from.
        removed: Vec<Endpoint>,
    },
    /// (Actor.) What each member knows and has seen, for the actor's report.
    Report {
        /// Where the reports go.
        reply: Reply<Vec<GroupReport>>,
    },
    /// (Actor.) Leave every group and end.
    Stop,
}

impl Command {
    /// The command's name, for logs.
    fn name(&self) -> &'static str {
        match self {
            Command::Attach { .. } => "Attach",
            Command::Join { .. } => "Join",
            Command::Leave { .. } => "Leave",
            Command::Send { .. } => "Send",
            Command::SendToLeader { .. } => "SendToLeader",
            Command::SendToMember { .. } => "SendToMember",
            Command::RequestVote { .. } => "RequestVote",
            Command::RequestActionVote { .. } => "RequestActionVote",
            Command::CastVote { .. } => "CastVote",
            Command::Peers { .. } => "Peers",
            Command::Report { .. } => "Report",
            Command::Stop => "Stop",
        }
    }
}

/// A member the coordination thread made for a component.
pub(crate) struct Joined {
    /// The member's id.
    pub(crate) id: MemberId,
    /// Its publisher, which the actor registers with discovery.
    pub(crate) publisher: Endpoint,
    /// Its view, kept up to date by the thread.
    pub(crate) view: Arc<GroupView>,
}

/// An event of one member, for its component.
pub(crate) struct Delivery {
    /// The member (a component that left and joined again has a new one).
    pub(crate) member: MemberId,
    /// Its group instance.
    pub(crate) group: Arc<GroupName>,
    /// What happened.
    pub(crate) event: GroupEvent,
}

/// The coordination thread has ended (or did not answer), so a command was not carried out.
#[derive(Debug, thiserror::Error)]
#[error("the actor's group coordination thread has ended")]
pub(crate) struct CoordinatorGone;

/// Why the coordination thread, or a component's link to it, could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    /// An inproc wake-up channel could not be made.
    #[error("cannot make an inproc channel for the group coordination thread: {0}")]
    Channel(#[from] zmq::Error),
    /// The thread could not be started.
    #[error("cannot start the group coordination thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The thread has ended.
    #[error(transparent)]
    Gone(#[from] CoordinatorGone),
}

/// A way to send commands to the coordination thread: the shared command queue and the
/// sending thread's own wake-up PAIR. Clones share the PAIR behind a Mutex; they are all used
/// by one thread (a component's, or the actor's main thread), so the lock is never contended.
#[derive(Clone)]
pub(crate) struct CommandLink {
    commands: HandoffSender<Command>,
    wake: Arc<Mutex<zmq::Socket>>,
    /// Shared by the clones of this link (one PAIR) and the thread: set while a wake-up sent
    /// on this PAIR waits for the thread to take the commands. A command posted meanwhile needs
    /// no wake-up of its own, so a burst of commands (a component sending group messages in a
    /// loop) costs one. One flag per PAIR, not one for all: a wake-up on the PAIR of a
    /// component the thread has let go of is never read, and must not hold back the others'.
    woken: Arc<AtomicBool>,
    log: slog::Logger,
}

impl CommandLink {
    /// Sends `command` without waiting for an answer. If the thread has ended, says so in
    /// the log and returns an error.
    pub(crate) fn post(&self, command: Command) -> Result<(), CoordinatorGone> {
        let name = command.name();
        if self.commands.send(command).is_err() {
            warn!(self.log, "a group command was not carried out: the coordination thread has ended"; "command" => name);
            return Err(CoordinatorGone);
        }
        // Set after the command is in the queue; the thread clears it, after reading this
        // PAIR's wake-ups and before it takes the commands (`Coordination::obey`). So either it
        // was clear and this wakes the thread, or a wake-up sent on this PAIR after the thread
        // last read it is still to be read, and the commands taken then include this one.
        if !self.woken.swap(true, Ordering::AcqRel) {
            wake(&self.socket(), &self.log);
        }
        Ok(())
    }

    /// Sends the command `make` builds around a reply channel, and waits for the answer.
    pub(crate) fn ask<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<Result<T, GroupError>, CoordinatorGone> {
        let (reply, answer) = mpsc::sync_channel(1);
        let command = make(reply);
        let name = command.name();
        self.post(command)?;
        match answer.recv_timeout(ANSWER_TIMEOUT) {
            Ok(result) => Ok(result),
            Err(RecvTimeoutError::Disconnected) => {
                warn!(self.log, "the group coordination thread ended before it answered"; "command" => name);
                Err(CoordinatorGone)
            }
            Err(RecvTimeoutError::Timeout) => {
                error!(self.log, "the group coordination thread did not answer"; "command" => name,
                    "waited_ms" => ANSWER_TIMEOUT.as_millis() as u64);
                Err(CoordinatorGone)
            }
        }
    }

    /// This thread's end of its wake-up PAIR.
    fn socket(&self) -> MutexGuard<'_, zmq::Socket> {
        // A socket cannot be left half-changed by a panic; a poisoned lock is still usable.
        self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A component's link to the coordination thread: its commands go out, its members' events
/// come in, both announced on the component's wake-up PAIR.
pub(crate) struct GroupLink {
    component: ComponentId,
    commands: CommandLink,
    events: HandoffReceiver<Delivery>,
}

impl GroupLink {
    /// The link's command side, for the component's [`Group`](crate::Group) handles.
    pub(crate) fn commands(&self) -> &CommandLink {
        &self.commands
    }

    /// Joins a group instance for this component; waits for the new member.
    pub(crate) fn join(
        &self,
        group: GroupName,
        key: GroupKey,
        config: GroupConfig,
    ) -> Result<Result<Joined, GroupError>, CoordinatorGone> {
        let owner = self.component;
        self.commands.ask(|reply| Command::Join { group, key, config, owner, reply })
    }

    /// The component's end of its wake-up PAIR, to poll with its ports. The lock is the
    /// component thread's own; hold it only while polling.
    pub(crate) fn socket(&self) -> MutexGuard<'_, zmq::Socket> {
        self.commands.socket()
    }

    /// Clears the wake-ups; call it before taking the events they announced.
    pub(crate) fn clear_wakeups(&self) {
        clear_wakeups(&self.socket());
    }

    /// The next event for the component, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<Delivery> {
        self.events.try_recv().ok()
    }
}

/// The actor's handle on its coordination thread: starts it, links components to it, relays
/// discovery's updates of group peers, and stops it (also when dropped).
pub(crate) struct Coordinator {
    link: CommandLink,
    ctx: zmq::Context,
    actor: String,
    next_component: usize,
    thread: Option<JoinHandle<()>>,
    log: slog::Logger,
}

impl Coordinator {
    /// Starts the coordination thread of actor `actor`. `factory` makes the members' sockets;
    /// its context is the actor's, which the inproc wake-ups need.
    pub(crate) fn start(factory: PortFactory, actor: &str, log: &slog::Logger) -> Result<Coordinator, SetupError> {
        let log = log.new(o!("thread" => format!("{actor}.groups")));
        let ctx = factory.context().clone();
        let (thread_end, actor_end) = wake_pair(&ctx, &format!("inproc://cohort-groups/{actor}"))?;
        let (commands, receiver) = handoff();
        let woken = Arc::new(AtomicBool::new(false));
        let coordination = Coordination {
            factory,
            commands: receiver,
            actor_woken: Arc::clone(&woken),
            actor_wake: thread_end,
            components: BTreeMap::new(),
            members: BTreeMap::new(),
            events: Vec::new(),
            log: log.clone(),
        };
        let thread = std::thread::Builder::new().name(format!("{actor}.groups")).spawn(move || coordination.run())?;
        Ok(Coordinator {
            link: CommandLink { commands, wake: Arc::new(Mutex::new(actor_end)), woken, log: log.clone() },
            ctx,
            actor: actor.to_owned(),
            next_component: 0,
            thread: Some(thread),
            log,
        })
    }

    /// Links component instance `instance` to the thread; the link goes to the component's
    /// thread.
    pub(crate) fn attach(&mut self, instance: &str, log: &slog::Logger) -> Result<GroupLink, SetupError> {
        let component = ComponentId(self.next_component);
        self.next_component += 1;
        let endpoint = format!("inproc://cohort-groups/{}/{instance}", self.actor);
        let (thread_end, component_end) = wake_pair(&self.ctx, &endpoint)?;
        let (events, receiver) = handoff();
        let instance = instance.to_owned();
        let woken = Arc::new(AtomicBool::new(false));
        let attach = Command::Attach {
            component,
            instance,
            wake: thread_end,
            woken: Arc::clone(&woken),
            events,
            log: log.clone(),
        };
        self.link.post(attach)?;
        // Attach is in the queue before any command of the component can be.
        let commands = CommandLink {
            commands: self.link.commands.clone(),
            wake: Arc::new(Mutex::new(component_end)),
            woken,
            log: log.clone(),
        };
        Ok(GroupLink { component, commands, events: receiver })
    }

    /// Discovery found (`added`) or lost (`removed`) other members' publishers for `member`.
    pub(crate) fn update_peers(&self, member: MemberId, added: Vec<Endpoint>, removed: Vec<Endpoint>) {
        if added.is_empty() && removed.is_empty() {
            return;
        }
        // A thread that has ended is logged by `post`; the actor stops soon after.
        let _ = self.link.post(Command::Peers { member, added, removed });
    }

    /// Tells the thread to leave every group it still holds and end, and waits for it.
    /// What each member of the actor's groups knows now and has seen; none if the thread has
    /// ended.
    pub(crate) fn report(&self) -> Vec<GroupReport> {
        match self.link.ask(|reply| Command::Report { reply }) {
            Ok(Ok(reports)) => reports,
            Ok(Err(_)) | Err(_) => Vec::new(),
        }
    }

    pub(crate) fn stop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        let _ = self.link.post(Command::Stop);
        if thread.join().is_err() {
            error!(self.log, "the group coordination thread panicked");
        }
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A component as the thread knows it.
struct Attached {
    /// The component instance's name.
    instance: String,
    /// The thread's end of the component's wake-up PAIR.
    wake: zmq::Socket,
    /// The component's link's [`CommandLink::woken`].
    woken: Arc<AtomicBool>,
    events: HandoffSender<Delivery>,
    log: slog::Logger,
}

/// A member the thread holds, with whom it belongs to.
struct Membership {
    group: Arc<GroupName>,
    owner: ComponentId,
    member: GroupMember,
    view: Arc<GroupView>,
    /// Leaders elected that the member saw, and votes that ended, for reports.
    elections: u64,
    votes: VoteCounts,
}

/// Whether the thread goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The coordination thread's state.
struct Coordination {
    factory: PortFactory,
    commands: HandoffReceiver<Command>,
    /// The actor's link's [`CommandLink::woken`].
    actor_woken: Arc<AtomicBool>,
    /// The thread's end of the actor's wake-up PAIR.
    actor_wake: zmq::Socket,
    components: BTreeMap<ComponentId, Attached>,
    members: BTreeMap<MemberId, Membership>,
    /// The events of one member's poll, on their way to its component (one buffer for every
    /// poll).
    events: Vec<GroupEvent>,
    log: slog::Logger,
}

impl Coordination {
    fn run(mut self) {
        debug!(self.log, "group coordination thread started");
        loop {
            if let Err(e) = self.wait() {
                error!(self.log, "poll failed; the actor's groups are left"; "error" => %e);
                break;
            }
            if self.obey() == Flow::Stop {
                break;
            }
            self.serve_members();
        }
        for (_, joined) in std::mem::take(&mut self.members) {
            joined.member.leave();
        }
        debug!(self.log, "group coordination thread ended");
    }

    /// Waits until a command is announced, a member's socket is readable, or the earliest
    /// member deadline.
    fn wait(&self) -> Result<(), zmq::Error> {
        let now = Instant::now();
        let timeout = self.members.values().map(|m| m.member.next_deadline()).min().map_or(-1, |deadline| {
            i64::try_from(deadline.saturating_duration_since(now).as_millis() + 1).unwrap_or(i64::MAX)
        });
        let mut items = vec![self.actor_wake.as_poll_item(zmq::POLLIN)];
        items.extend(self.components.values().map(|c| c.wake.as_poll_item(zmq::POLLIN)));
        for joined in self.members.values() {
            items.extend(joined.member.sockets().into_iter().map(|s| s.as_poll_item(zmq::POLLIN)));
        }
        match zmq::poll(&mut items, timeout) {
            Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Carries out every waiting command.
    fn obey(&mut self) -> Flow {
        // Each PAIR's wake-ups are read, then its flag cleared: every command posted before
        // that is taken below, and one posted after it wakes the thread again.
        clear_wakeups(&self.actor_wake);
        self.actor_woken.swap(false, Ordering::AcqRel);
        for component in self.components.values() {
            clear_wakeups(&component.wake);
            component.woken.swap(false, Ordering::AcqRel);
        }
        loop {
            match self.commands.try_recv() {
                Ok(command) => {
                    if self.handle(command) == Flow::Stop {
                        return Flow::Stop;
                    }
                }
                Err(Empty::Now) => return Flow::Continue,
                Err(Empty::ForGood) => {
                    debug!(self.log, "no one can send group commands any more");
                    return Flow::Stop;
                }
            }
        }
    }

    fn handle(&mut self, command: Command) -> Flow {
        match command {
            Command::Attach { component, instance, wake, woken, events, log } => {
                self.components.insert(component, Attached { instance, wake, woken, events, log });
            }
            Command::Join { group, key, config, owner, reply } => self.join(group, key, config, owner, reply),
            Command::Leave { member } => {
                if let Some(joined) = self.members.remove(&member) {
                    joined.member.leave();
                }
            }
            Command::Send { member, payload } => {
                // A member that left since: the message goes nowhere, as it would have.
                if let Some(joined) = self.members.get_mut(&member) {
                    if let Err(e) = joined.member.send(&payload) {
                        // Counted by the member; logged thinly, so a failing socket cannot flood the log.
                        let failed = joined.member.stats().send_errors;
                        if failed.is_power_of_two() {
                            warn!(self.log, "a group message was not sent";
                                "group" => %joined.group, "error" => %e, "failed_sends" => failed);
                        }
                    }
                }
            }
            Command::SendToLeader { member, payload, reply } => {
                self.on_member(member, reply, |m| m.send_to_leader(&payload))
            }
            Command::SendToMember { member, to, payload, reply } => {
                self.on_member(member, reply, |m| m.send_to_member(to, &payload))
            }
            Command::RequestVote { member, value, kind, timeout, reply } => {
                self.on_member(member, reply, |m| m.request_vote(&value, kind, timeout))
            }
            Command::RequestActionVote { member, action, at, kind, timeout, reply } => {
                self.on_member(member, reply, |m| m.request_action_vote(&action, at, kind, timeout))
            }
            Command::CastVote { member, vote, yes, reply } => self.on_member(member, reply, |m| m.cast_vote(vote, yes)),
            Command::Peers { member, added, removed } => self.update_peers(member, &added, &removed),
            Command::Report { reply } => answer(reply, Ok(self.report())),
            Command::Stop => return Flow::Stop,
        }
        Flow::Continue
    }

    fn join(&mut self, group: GroupName, key: GroupKey, config: GroupConfig, owner: ComponentId, reply: Reply<Joined>) {
        let log = self.components.get(&owner).map_or(&self.log, |c| &c.log).clone();
        let member = match GroupMember::join(&self.factory, key, config, log) {
            Ok(member) => member,
            Err(e) => {
                answer(reply, Err(e));
                return;
            }
        };
        let view = Arc::new(GroupView::of(&member));
        let id = member.id();
        let joined = Joined { id, publisher: member.publisher_endpoint().clone(), view: Arc::clone(&view) };
        if reply.try_send(Ok(joined)).is_err() {
            warn!(self.log, "a component stopped waiting for its group to be joined; leaving it"; "group" => %group);
            member.leave();
            return;
        }
        let group = Arc::new(group);
        self.members.insert(id, Membership { group, owner, member, view, elections: 0, votes: VoteCounts::default() });
    }

    /// Runs `op` on member `member` and answers with its result; a member this thread does
    /// not hold (left, or its component gone) answers [`CommandError::Left`].
    fn on_member<T>(
        &mut self,
        member: MemberId,
        reply: Reply<T>,
        op: impl FnOnce(&mut GroupMember) -> Result<T, GroupError>,
    ) {
        let result = match self.members.get_mut(&member) {
            Some(joined) => {
                let result = op(&mut joined.member);
                joined.view.refresh(&joined.member);
                result
            }
            None => Err(GroupError::Command(CommandError::Left)),
        };
        answer(reply, result);
    }

    fn update_peers(&mut self, member: MemberId, added: &[Endpoint], removed: &[Endpoint]) {
        // A member left since discovery's update was sent: nothing to do.
        let Some(joined) = self.members.get_mut(&member) else { return };
        let changes = added.iter().map(|e| (e, true)).chain(removed.iter().map(|e| (e, false)));
        for (endpoint, add) in changes {
            let result = if add { joined.member.add_peer(endpoint) } else { joined.member.remove_peer(endpoint) };
            if let Err(e) = result {
                warn!(self.log, "cannot apply a group discovery update";
                    "group" => %joined.group, "endpoint" => %endpoint, "added" => add, "error" => %e);
            }
        }
    }

    /// Polls every member, refreshes its view and hands its events to its component.
    fn serve_members(&mut self) {
        let now = Instant::now();
        let mut woken = BTreeSet::new();
        let mut gone = BTreeSet::new();
        for (id, joined) in &mut self.members {
            joined.member.poll_into(now, &mut self.events);
            joined.view.refresh(&joined.member);
            if self.events.is_empty() {
                continue;
            }
            let component = self.components.get(&joined.owner).filter(|_| !gone.contains(&joined.owner));
            let Some(component) = component else {
                self.events.clear();
                continue;
            };
            for event in self.events.drain(..) {
                match &event {
                    GroupEvent::LeaderElected(_) => joined.elections += 1,
                    GroupEvent::VoteResult { outcome, .. } => match outcome {
                        Outcome::Yes => joined.votes.passed += 1,
                        Outcome::No => joined.votes.failed += 1,
                        Outcome::Timeout => joined.votes.timed_out += 1,
                    },
                    GroupEvent::VoteLost { .. } => joined.votes.lost += 1,
                    _ => {}
                }
                let delivery = Delivery { member: *id, group: Arc::clone(&joined.group), event };
                if component.events.send(delivery).is_err() {
                    gone.insert(joined.owner);
                    break;
                }
            }
            woken.insert(joined.owner);
        }
        for owner in woken.difference(&gone) {
            if let Some(component) = self.components.get(owner) {
                wake(&component.wake, &component.log);
            }
        }
        for owner in gone {
            self.detach(owner);
        }
    }

    /// A component's thread has ended: leaves its groups and forgets it.
    /// What each member knows now and has seen.
    fn report(&self) -> Vec<GroupReport> {
        self.members
            .iter()
            .map(|(id, joined)| {
                let core = joined.member.core();
                GroupReport {
                    instance: self.components.get(&joined.owner).map_or_else(String::new, |c| c.instance.clone()),
                    group_type: joined.group.group_type.clone(),
                    group: joined.group.instance.clone(),
                    member: uuid_text(id),
                    leader: core.leader().map(|l| uuid_text(&l)),
                    is_leader: joined.member.is_leader(),
                    term: core.term(),
                    members: core.members().iter().map(uuid_text).collect(),
                    elections: joined.elections,
                    votes: joined.votes,
                    traffic: {
                        let t = joined.member.traffic();
                        GroupTraffic {
                            sent: t.sent,
                            received: t.received,
                            bytes_sent: t.bytes_sent,
                            bytes_received: t.bytes_received,
                        }
                    },
                    refused: joined.member.stats().refused,
                }
            })
            .collect()
    }

    fn detach(&mut self, owner: ComponentId) {
        if let Some(component) = self.components.remove(&owner) {
            info!(component.log, "the component has ended; its groups are left");
        }
        let owned: Vec<MemberId> = self.members.iter().filter(|(_, m)| m.owner == owner).map(|(id, _)| *id).collect();
        for id in owned {
            if let Some(joined) = self.members.remove(&id) {
                joined.member.leave();
            }
        }
    }
}

/// Answers a command. A caller that stopped waiting is not waited for.
fn answer<T>(reply: Reply<T>, result: Result<T, GroupError>) {
    let _ = reply.try_send(result);
}
