//! The group core: membership and Raft-style leader election for one member of one group
//! instance, as a state machine. It takes messages from peers and the current time and returns
//! messages to broadcast and events for the component. No sockets, threads or clocks inside.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::GroupConfig;
use crate::wire::{GroupMessage, MemberId, Term};

/// What a member is in the current term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Follows the leader it knows (if any).
    Follower,
    /// Asks for votes.
    Candidate,
    /// Leads the group.
    Leader,
}

/// Something the component hears about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member was heard from for the first time (or again after it left).
    MemberJoined(MemberId),
    /// A member left or has not been heard from for the peer timeout.
    MemberLeft(MemberId),
    /// The group has a leader (possibly this member).
    LeaderElected(MemberId),
    /// The leader is gone (left, silent, stepped down, or superseded).
    LeaderExited(MemberId),
}

/// What the core asks its runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this message to every member of the group.
    Broadcast(GroupMessage),
    /// Tell the component.
    Event(Event),
}

/// One member's view of one group instance.
#[derive(Debug, Clone)]
pub struct GroupCore {
    me: MemberId,
    config: GroupConfig,
    endpoint: String,
    role: Role,
    term: Term,
    voted_for: Option<MemberId>,
    votes: BTreeSet<MemberId>,
    leader: Option<MemberId>,
    leader_endpoint: Option<String>,
    peers: BTreeMap<MemberId, Duration>,
    next_heartbeat: Duration,
    election_deadline: Duration,
    rng: u64,
    left: bool,
    /// Until then this member grants no votes (see [`GroupCore::handle`]).
    votes_from: Duration,
}

impl GroupCore {
    /// A member `me` joining at `now`; `endpoint` is where it takes member → leader messages
    /// if it becomes leader; `seed` makes its election timeouts reproducible.
    pub fn new(
        me: MemberId,
        config: GroupConfig,
        endpoint: &str,
        seed: u64,
        now: Duration,
    ) -> (GroupCore, Vec<Output>) {
        let mix =
            me.iter().fold(seed ^ 0x9E37_79B9_7F4A_7C15, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01B3));
        let mut core = GroupCore {
            me,
            config,
            endpoint: endpoint.to_owned(),
            role: Role::Follower,
            term: 0,
            voted_for: None,
            votes: BTreeSet::new(),
            leader: None,
            leader_endpoint: None,
            peers: BTreeMap::new(),
            next_heartbeat: now + config.heartbeat,
            election_deadline: now,
            rng: mix | 1,
            left: false,
            votes_from: now + config.heartbeat + config.election_min.saturating_sub(config.heartbeat) / 2,
        };
        core.election_deadline = now + core.election_timeout();
        (core, vec![Output::Broadcast(GroupMessage::Alive { term: 0 })])
    }

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.me
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// The leader this member knows, if any.
    pub fn leader(&self) -> Option<MemberId> {
        self.leader
    }

    /// Where the known leader takes member → leader messages.
    pub fn leader_endpoint(&self) -> Option<&str> {
        self.leader_endpoint.as_deref()
    }

    /// The members this member knows, itself included.
    pub fn members(&self) -> Vec<MemberId> {
        let mut all: Vec<MemberId> = self.peers.keys().copied().collect();
        all.push(self.me);
        all.sort_unstable();
        all
    }

    /// When [`GroupCore::tick`] must next be called.
    pub fn next_deadline(&self) -> Duration {
        let mut next = self.next_heartbeat;
        if self.role != Role::Leader {
            next = next.min(self.election_deadline);
        }
        if let Some(oldest) = self.peers.values().min() {
            next = next.min(*oldest + self.config.peer_timeout);
        }
        next
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn election_timeout(&mut self) -> Duration {
        let (min, max) = (self.config.election_min, self.config.election_max.max(self.config.election_min));
        let span = u64::try_from((max - min).as_micros()).unwrap_or(u64::MAX);
        let jitter = if span == 0 { 0 } else { self.random() % (span + 1) };
        min + Duration::from_micros(jitter)
    }

    fn quorum(&self) -> usize {
        self.config.quorum(self.peers.len() + 1)
    }

    fn lose_leader(&mut self, out: &mut Vec<Output>) {
        if let Some(old) = self.leader.take() {
            self.leader_endpoint = None;
            out.push(Output::Event(Event::LeaderExited(old)));
        }
    }

    fn become_follower(&mut self, out: &mut Vec<Output>) {
        if self.role == Role::Leader {
            self.lose_leader(out);
        }
        self.role = Role::Follower;
        self.votes.clear();
    }

    fn become_leader(&mut self, now: Duration, out: &mut Vec<Output>) {
        if self.leader != Some(self.me) {
            self.lose_leader(out);
        }
        self.role = Role::Leader;
        self.leader = Some(self.me);
        self.leader_endpoint = Some(self.endpoint.clone());
        out.push(Output::Event(Event::LeaderElected(self.me)));
        out.push(Output::Broadcast(GroupMessage::Leader { term: self.term, endpoint: self.endpoint.clone() }));
        self.next_heartbeat = now + self.config.heartbeat;
    }

    /// Handles a message from member `from` at `now`. Messages from this member itself are
    /// ignored (RIAPS delivers group messages back to their sender).
    ///
    /// Votes: a member grants one vote per term, and none in a term whose leader it knows.
    /// Terms and votes are not persisted, so a member that restarts has forgotten whom it voted
    /// for; to keep it from electing a second leader in a term that already has one, a member
    /// grants no votes until it has been up for a heartbeat plus half the gap to the shortest
    /// election timeout — long enough to hear a live leader's heartbeat, short enough not to
    /// delay the first election of a group whose members start together.
    pub fn handle(&mut self, now: Duration, from: MemberId, message: GroupMessage) -> Vec<Output> {
        let mut out = Vec::new();
        if from == self.me || self.left {
            return out;
        }
        if message == GroupMessage::Leave {
            if self.peers.remove(&from).is_some() {
                out.push(Output::Event(Event::MemberLeft(from)));
            }
            if self.leader == Some(from) {
                self.lose_leader(&mut out);
                self.election_deadline = now + self.election_timeout();
            }
            return out;
        }
        if self.peers.insert(from, now).is_none() {
            out.push(Output::Event(Event::MemberJoined(from)));
        }
        let term = match &message {
            GroupMessage::Alive { term }
            | GroupMessage::RequestVote { term }
            | GroupMessage::Vote { term, .. }
            | GroupMessage::Leader { term, .. } => *term,
            GroupMessage::Leave => self.term,
        };
        let newer = term > self.term;
        if newer {
            // A newer term: whatever this member was, it follows now.
            self.term = term;
            self.voted_for = None;
            self.become_follower(&mut out);
            if !matches!(message, GroupMessage::Leader { .. }) {
                self.lose_leader(&mut out);
            }
        }
        match message {
            GroupMessage::Alive { .. } | GroupMessage::Leave => {}
            GroupMessage::RequestVote { term } => {
                let granted = term == self.term
                    && self.role == Role::Follower
                    && self.voted_for.is_none_or(|v| v == from)
                    && self.leader.is_none()
                    && now >= self.votes_from;
                if granted {
                    self.voted_for = Some(from);
                    self.election_deadline = now + self.election_timeout();
                }
                out.push(Output::Broadcast(GroupMessage::Vote { term: self.term, candidate: from, granted }));
            }
            GroupMessage::Vote { term, candidate, granted } => {
                // One vote per voter per term: the set ignores duplicates.
                if granted && self.role == Role::Candidate && term == self.term && candidate == self.me {
                    self.votes.insert(from);
                    if self.votes.len() >= self.quorum() {
                        self.become_leader(now, &mut out);
                    }
                }
            }
            GroupMessage::Leader { term, endpoint } => {
                // Fencing: a leader of an older term is ignored. Two leaders in one term (possible
                // without a declared size, where both sides of a partition elect): the higher id
                // wins, so the group settles on one when they meet.
                let contested = !newer && self.leader.is_some_and(|current| current > from);
                if term == self.term && !contested && (self.role != Role::Leader || from > self.me) {
                    self.become_follower(&mut out);
                    if self.leader != Some(from) {
                        self.lose_leader(&mut out);
                        self.leader = Some(from);
                        out.push(Output::Event(Event::LeaderElected(from)));
                    }
                    self.leader_endpoint = Some(endpoint);
                    self.election_deadline = now + self.election_timeout();
                }
            }
        }
        out
    }

    /// Advances time to `now`: heartbeats, peer timeouts, elections.
    pub fn tick(&mut self, now: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        if self.left {
            return out;
        }
        let timeout = self.config.peer_timeout;
        let gone: Vec<MemberId> =
            self.peers.iter().filter(|(_, seen)| now.saturating_sub(**seen) >= timeout).map(|(id, _)| *id).collect();
        for id in gone {
            self.peers.remove(&id);
            out.push(Output::Event(Event::MemberLeft(id)));
            if self.leader == Some(id) {
                self.lose_leader(&mut out);
            }
        }
        if self.role == Role::Leader && self.peers.len() + 1 < self.quorum() {
            // A leader that no longer hears a majority steps down, so a minority side of a
            // partition keeps no leader.
            self.become_follower(&mut out);
            self.election_deadline = now + self.election_timeout();
        }
        if now >= self.next_heartbeat {
            out.push(Output::Broadcast(GroupMessage::Alive { term: self.term }));
            if self.role == Role::Leader {
                out.push(Output::Broadcast(GroupMessage::Leader { term: self.term, endpoint: self.endpoint.clone() }));
            }
            self.next_heartbeat += self.config.heartbeat;
            if self.next_heartbeat <= now {
                self.next_heartbeat = now + self.config.heartbeat;
            }
        }
        if self.role != Role::Leader && now >= self.election_deadline {
            // No word from a leader within the election timeout: stand for election.
            self.lose_leader(&mut out);
            self.term += 1;
            self.role = Role::Candidate;
            self.voted_for = Some(self.me);
            self.votes = BTreeSet::from([self.me]);
            out.push(Output::Broadcast(GroupMessage::RequestVote { term: self.term }));
            self.election_deadline = now + self.election_timeout();
            if self.votes.len() >= self.quorum() {
                self.become_leader(now, &mut out);
            }
        }
        out
    }

    /// Leaves the group: tells the others and stops.
    pub fn leave(&mut self) -> Vec<Output> {
        let mut out = vec![Output::Broadcast(GroupMessage::Leave)];
        self.become_follower(&mut out);
        self.left = true;
        out
    }
}
