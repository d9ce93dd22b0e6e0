//! The group core: membership, Raft-style leader election, member ↔ leader messages and voting
//! for one member of one group instance, as a state machine. It takes messages from peers,
//! commands from the component and the current time, and returns messages to send and events
//! for the component. No sockets, threads or clocks inside.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::GroupConfig;
use crate::lease::Lease;
use crate::voting::{Called, Poll, VoteBook};
use crate::wire::{GroupMessage, MemberId, Outcome, Subject, Term, VoteId, VoteKind};

/// How many times a pre-vote short of a quorum is asked again, a heartbeat apart, before the
/// next election timeout (see [`GroupCore::tick`]).
const PREVOTE_RETRIES: u32 = 2;

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

/// Something the core reports to its driver ([`Output::Event`]). A
/// [`GroupMember`](crate::GroupMember) turns each into the [`GroupEvent`](crate::GroupEvent)
/// its owner sees.
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
    /// (Leader only.) A member sent the leader a message.
    MessageToLeader {
        /// The sender.
        from: MemberId,
        /// The application's bytes.
        payload: Vec<u8>,
    },
    /// The leader sent this member a message.
    MessageFromLeader {
        /// The leader.
        leader: MemberId,
        /// The application's bytes.
        payload: Vec<u8>,
    },
    /// The leader asks this member to vote (answer with [`GroupCore::cast_vote`]).
    VoteCalled {
        /// The vote.
        vote: VoteId,
        /// What it is about.
        subject: Subject,
        /// What it takes to pass.
        kind: VoteKind,
    },
    /// The leader announced how a vote ended.
    VoteEnded {
        /// The vote.
        vote: VoteId,
        /// What it was about.
        subject: Subject,
        /// How it ended.
        outcome: Outcome,
    },
    /// (Requester only.) No announcement of a vote this member asked for came within its
    /// timeout and a heartbeat: the leader changed or could not be reached. Members that heard
    /// the leader may still have learned how it ended.
    VoteLost {
        /// The vote.
        vote: VoteId,
    },
}

/// What the core asks its runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this message to every member of the group.
    Broadcast(GroupMessage),
    /// Send this message to the leader `leader` (over the member's connection to the leader;
    /// drop it if the current leader is another one by then).
    ToLeader {
        /// The leader it is meant for.
        leader: MemberId,
        /// The message.
        message: GroupMessage,
    },
    /// (Leader only.) Send this message to member `member`.
    ToMember {
        /// The recipient.
        member: MemberId,
        /// The message.
        message: GroupMessage,
    },
    /// Tell the component.
    Event(Event),
}

/// Why the core refused a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// The group has no leader this member knows.
    NoLeader,
    /// Only the leader may do that.
    NotLeader,
    /// The member is not known to this member.
    UnknownMember,
    /// No such vote was called (or it ended, or was forgotten).
    UnknownVote,
    /// This member already voted in that vote.
    AlreadyVoted,
    /// This member left the group.
    Left,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommandError::NoLeader => "the group has no leader",
            CommandError::NotLeader => "only the leader may do that",
            CommandError::UnknownMember => "no such member in the group",
            CommandError::UnknownVote => "no such vote is open",
            CommandError::AlreadyVoted => "already voted in that vote",
            CommandError::Left => "this member left the group",
        })
    }
}

impl std::error::Error for CommandError {}

/// One member's view of one group instance.
#[derive(Debug, Clone)]
pub struct GroupCore {
    me: MemberId,
    config: GroupConfig,
    endpoint: String,
    role: Role,
    term: Term,
    voted_for: Option<MemberId>,
    /// When this member last granted a candidate its vote: for the shortest election timeout
    /// after, it grants no pre-vote for a later term (that candidate is about to announce
    /// itself).
    voted_at: Option<Duration>,
    votes: BTreeSet<MemberId>,
    /// The term of the pre-vote this member runs, if it runs one, and who granted it.
    prevote: Option<(Term, BTreeSet<MemberId>)>,
    /// The pre-vote this member granted last: for which term, to whom, and until when it grants
    /// no other candidate one for that term.
    prevote_granted: Option<(Term, MemberId, Duration)>,
    /// When this member asks again for the pre-vote it runs, if it still runs one
    /// (`Duration::MAX` once it has asked [`PREVOTE_RETRIES`] more times).
    prevote_retry: Duration,
    /// How many times it has asked again in this election timeout.
    prevote_retries: u32,
    /// When this member last heard its leader assert its authority.
    leader_heard: Duration,
    leader: Option<MemberId>,
    leader_endpoint: Option<String>,
    peers: BTreeMap<MemberId, Duration>,
    /// How many members (this one included) the driver knows of from discovery, heard from or
    /// not (see [`GroupCore::set_discovered`]).
    discovered: usize,
    next_heartbeat: Duration,
    election_deadline: Duration,
    rng: u64,
    left: bool,
    /// The promise behind this member's latest acknowledgement: to which leader, and until
    /// when it acknowledges no other leader and votes for no one (see [`crate::lease`]). At
    /// start, to no one: a restarted member may have made a promise it no longer remembers.
    promise: (Option<MemberId>, Duration),
    book: VoteBook,
    /// (Leader.) Its heartbeats, their acknowledgements and the lease they give.
    lease: Lease,
    /// (Leader.) When it was last sure a quorum heard it: the lease's start, or when it was
    /// elected. A leader that has not been sure for a peer timeout steps down.
    quorum_heard: Duration,
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
            voted_at: None,
            votes: BTreeSet::new(),
            prevote: None,
            prevote_granted: None,
            prevote_retry: now,
            prevote_retries: 0,
            leader_heard: now,
            leader: None,
            leader_endpoint: None,
            peers: BTreeMap::new(),
            discovered: 0,
            next_heartbeat: now + config.heartbeat,
            election_deadline: now,
            rng: mix | 1,
            left: false,
            promise: (None, now + config.election_min),
            book: VoteBook::default(),
            lease: Lease::default(),
            quorum_heard: now,
        };
        core.election_deadline = now + core.election_timeout();
        // Vote numbers start at a random point, so a restarted member with the same id does
        // not reuse one.
        core.book.next_number = core.random() >> 1;
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

    /// (Leader.) Until when this member's leader lease holds, in core time: a quorum
    /// acknowledged one of its heartbeats recently enough that no other member can hold a lease
    /// before then (each acknowledgement is a promise; see `docs/groups.md`). `None` when it
    /// does not lead or holds no lease. Compare with the current time at the moment of use.
    pub fn lease_until(&self) -> Option<Duration> {
        if self.role == Role::Leader {
            self.lease.start().map(|start| start + self.config.lease())
        } else {
            None
        }
    }

    /// Whether this member follows a leader it heard within the shortest election timeout: then
    /// it votes for no one and takes no newer term from a candidate, which is the promise its
    /// acknowledgements give the leader's lease.
    fn hears_leader(&self, now: Duration) -> bool {
        self.role == Role::Follower
            && self.leader.is_some_and(|leader| leader != self.me)
            && now < self.leader_heard + self.config.election_min
    }

    /// When [`GroupCore::tick`] must next be called.
    pub fn next_deadline(&self) -> Duration {
        let mut next = self.next_heartbeat;
        if self.role == Role::Leader {
            next = next.min(self.quorum_heard + self.config.peer_timeout);
        } else {
            next = next.min(self.election_deadline);
            if self.prevote.is_some() {
                next = next.min(self.prevote_retry);
            }
            if self.leader.is_some() {
                next = next.min(self.leader_heard + self.config.election_max);
            }
        }
        if let Some(oldest) = self.peers.values().min() {
            next = next.min(*oldest + self.config.peer_timeout);
        }
        if let Some(vote) = self.book.next_deadline() {
            next = next.min(vote);
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

    /// A majority of the declared size, or else of the members known: heard from, or
    /// reported by discovery.
    fn quorum(&self) -> usize {
        self.config.quorum((self.peers.len() + 1).max(self.discovered))
    }

    /// Tells the core how many members of its group (this one included) discovery reports,
    /// whether or not they have been heard from yet. Without a declared size, the quorum is a
    /// majority of the members known, and these count: a member just started, which has heard
    /// from only a few others, then cannot elect a leader with those few while the rest of a
    /// large group is still connecting. Members discovery has lost (and that are silent) no
    /// longer count once the driver reports the lower number.
    pub fn set_discovered(&mut self, members: usize) {
        self.discovered = members;
    }

    fn lose_leader(&mut self, out: &mut Vec<Output>) {
        if let Some(old) = self.leader.take() {
            self.leader_endpoint = None;
            out.push(Output::Event(Event::LeaderExited(old)));
        }
    }

    /// (Follower.) Takes the membership from its leader's heartbeat: members listed are alive;
    /// a member the leader no longer lists, and that this member has not heard itself for two
    /// heartbeats, has left.
    fn learn_members(&mut self, now: Duration, members: &[MemberId], out: &mut Vec<Output>) {
        for id in members {
            if *id != self.me && self.peers.insert(*id, now).is_none() {
                out.push(Output::Event(Event::MemberJoined(*id)));
            }
        }
        let recent = self.config.heartbeat * 2;
        let gone: Vec<MemberId> = self
            .peers
            .iter()
            .filter(|(id, seen)| now.saturating_sub(**seen) >= recent && !members.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.peers.remove(&id);
            out.push(Output::Event(Event::MemberLeft(id)));
        }
    }

    /// (Follower.) Acknowledges heartbeat `seq` of `leader`, promising to acknowledge no other
    /// leader and vote for no one for the shortest election timeout from now, unless it is
    /// still bound by a promise to another leader (or, just started, by one it may have
    /// forgotten): then it follows without acknowledging until that promise ends.
    fn acknowledge(&mut self, now: Duration, leader: MemberId, term: Term, seq: u64, out: &mut Vec<Output>) {
        let (promised_to, until) = self.promise;
        if promised_to != Some(leader) && now < until {
            return;
        }
        self.promise = (Some(leader), now + self.config.election_min);
        out.push(Output::ToLeader { leader, message: GroupMessage::Ack { term, seq } });
    }

    fn become_follower(&mut self, out: &mut Vec<Output>) {
        if self.role == Role::Leader {
            self.close_polls(out);
            self.lose_leader(out);
        }
        self.role = Role::Follower;
        self.votes.clear();
        self.prevote = None;
        self.lease = Lease::default();
    }

    fn become_leader(&mut self, now: Duration, out: &mut Vec<Output>) {
        if self.leader != Some(self.me) {
            self.lose_leader(out);
        }
        self.role = Role::Leader;
        self.leader = Some(self.me);
        self.leader_endpoint = Some(self.endpoint.clone());
        // The lease starts once a quorum has acknowledged one of its heartbeats.
        self.lease = Lease::default();
        self.quorum_heard = now;
        out.push(Output::Event(Event::LeaderElected(self.me)));
        self.assert_leadership(now, out);
        self.next_heartbeat = now + self.config.heartbeat;
    }

    /// (Leader.) Sends a heartbeat: the term, where members reach the leader, the heartbeat's
    /// number for their acknowledgements, and the members the leader hears.
    fn assert_leadership(&mut self, now: Duration, out: &mut Vec<Output>) {
        let seq = self.lease.send(now);
        self.renew_lease();
        out.push(Output::Broadcast(GroupMessage::Leader {
            term: self.term,
            endpoint: self.endpoint.clone(),
            seq,
            members: self.members(),
        }));
    }

    /// (Leader.) Extends the lease to the latest heartbeat a quorum has acknowledged.
    fn renew_lease(&mut self) {
        let others = self.quorum().saturating_sub(1);
        let peers = &self.peers;
        self.lease.renew(others, |id| peers.contains_key(id));
        if let Some(start) = self.lease.start() {
            self.quorum_heard = self.quorum_heard.max(start);
        }
    }

    /// Handles a message from member `from` at `now`. Messages from this member itself are
    /// ignored (RIAPS delivers group messages back to their sender).
    ///
    /// Votes: a member grants one vote per term, none in a term whose leader it knows, and none
    /// while bound by the promise of an acknowledgement (see [`GroupCore::lease_until`]). Terms, votes and
    /// promises are not persisted, so a member that restarts has forgotten them; it grants no
    /// vote and acknowledges no leader until it has been up for the shortest election timeout,
    /// which outlasts any promise it made before. A follower that heard its leader within that
    /// timeout also ignores the newer terms of candidates (see [`GroupMessage::from_a_leader`]).
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
        let term = message.term().unwrap_or(self.term);
        let newer = term > self.term;
        if newer && self.hears_leader(now) && !message.from_a_leader() {
            // A candidate's newer term: this member still hears its leader, whose lease rests on
            // its promise not to vote for anyone else yet. It answers nothing and keeps its
            // term; the candidate tries again, and gets votes once the leader has really gone.
            return out;
        }
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
            GroupMessage::Ack { term, seq } => {
                if self.role == Role::Leader && term == self.term {
                    self.lease.acknowledge(from, seq);
                    self.renew_lease();
                }
            }
            GroupMessage::ToLeader { payload } => {
                if self.role == Role::Leader {
                    out.push(Output::Event(Event::MessageToLeader { from, payload }));
                }
            }
            GroupMessage::FromLeader { term, payload } => {
                if term == self.term {
                    out.push(Output::Event(Event::MessageFromLeader { leader: from, payload }));
                }
            }
            GroupMessage::ProposeVote { vote, subject, kind, timeout_us } => {
                if self.role == Role::Leader && vote.requester == from {
                    self.open_poll(now, vote, subject, kind, Duration::from_micros(timeout_us), &mut out);
                }
            }
            GroupMessage::Ballot { vote, yes } => self.count_ballot(now, from, vote, yes, &mut out),
            GroupMessage::CallVote { term, vote, subject, kind } => {
                if term == self.term && !self.book.called.contains_key(&vote) && !self.book.ended.contains_key(&vote) {
                    let expires = now + self.vote_memory();
                    self.book.called.insert(vote, Called { leader: from, term, voted: false, expires });
                    out.push(Output::Event(Event::VoteCalled { vote, subject, kind }));
                }
            }
            GroupMessage::Announce { term, vote, subject, outcome } => {
                if term == self.term {
                    self.learn(now, vote, subject, outcome, &mut out);
                }
            }
            GroupMessage::PreVote { term } => {
                // Would this member vote for `from` in `term`? Only if that term is newer than
                // its own and it has not heard a leader for the shortest election timeout (a
                // leader, or a follower whose leader is alive, says no). Not waiting for its own,
                // randomized, timeout lets the first member to miss a dead leader win at once.
                // A pre-vote binds no one's vote; but in a large group many members miss a dead
                // leader at about the same time, and if all of them stood, the votes would split
                // round after round. So a member grants one candidate's pre-vote for a term at a
                // time, and, having granted one, holds back its own candidacy for an election
                // timeout: usually the first candidate to ask wins. When messages are slow (a
                // large group on a loaded machine), many members ask before they hear each other
                // and the first-come grants split: so a grant moves to a candidate with a higher
                // id, and a member that grants another candidate drops its own pre-vote for that
                // term. Grants then gather on the highest id among the candidates, which wins
                // even when dozens ask at once. (Pre-votes bind nothing: votes, leases and
                // promises, which safety rests on, are unchanged.)
                // A member that has just voted treats the candidate it voted for as a leader
                // heard: granting a later term's pre-vote before that candidate's announcement
                // arrives would let another candidate take the next term from under it.
                let leader_silent = (self.leader.is_none() || now >= self.leader_heard + self.config.election_min)
                    && self.voted_at.is_none_or(|at| now >= at + self.config.election_min);
                let free =
                    self.prevote_granted.is_none_or(|(t, c, until)| t != term || c == from || from > c || now >= until);
                // A member asking for the same term itself grants only a higher id: two
                // candidates that granted each other would both drop their pre-votes, and the
                // group would wait a whole election timeout for the next candidate.
                let outranked = self.prevote.as_ref().is_none_or(|(asked, _)| *asked != term) || from > self.me;
                let granted = term > self.term && self.role != Role::Leader && leader_silent && free && outranked;
                // Only a grant is answered: the candidate counts grants alone, and replies go to
                // every member (there is no direct path to a candidate), so answering every
                // pre-vote of every candidate would cost n² deliveries per pre-vote, n³ per round
                // of a large leaderless group — enough to saturate a small machine at 100
                // members, where the rounds then never end.
                if granted {
                    self.prevote_granted = Some((term, from, now + self.config.election_min));
                    let deferred = now + self.election_timeout();
                    self.election_deadline = self.election_deadline.max(deferred);
                    if self.prevote.as_ref().is_some_and(|(asked, _)| *asked == term) {
                        self.prevote = None;
                    }
                    out.push(Output::Broadcast(GroupMessage::PreVoteReply { term, candidate: from, granted }));
                }
            }
            GroupMessage::PreVoteReply { term, candidate, granted } => {
                if granted && candidate == self.me && self.role != Role::Leader {
                    if let Some((asked, grants)) = &mut self.prevote {
                        if *asked == term && self.term.checked_add(1) == Some(term) {
                            grants.insert(from);
                            if grants.len() >= self.quorum() {
                                self.stand_for_election(now, &mut out);
                            }
                        }
                    }
                }
            }
            GroupMessage::RequestVote { term } => {
                let granted = term == self.term
                    && self.role == Role::Follower
                    && self.voted_for.is_none_or(|v| v == from)
                    && self.leader.is_none()
                    && now >= self.promise.1;
                if granted {
                    self.voted_for = Some(from);
                    self.voted_at = Some(now);
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
            GroupMessage::Leader { term, endpoint, seq, members } => {
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
                    self.leader_heard = now;
                    self.election_deadline = now + self.election_timeout();
                    self.acknowledge(now, from, term, seq, &mut out);
                    self.learn_members(now, &members, &mut out);
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
        if self.role == Role::Leader && now >= self.quorum_heard + self.config.peer_timeout {
            // No quorum has acknowledged a heartbeat for a peer timeout: step down, before the
            // silent members are forgotten (which, without a declared size, would shrink the
            // quorum to whoever is left, as after this member's process was frozen).
            self.become_follower(&mut out);
            self.election_deadline = now + self.election_timeout();
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
        let peers = &self.peers;
        self.lease.retain(|id| peers.contains_key(id));
        if self.role == Role::Leader && self.peers.len() + 1 < self.quorum() {
            // A leader that no longer hears a majority steps down, so a minority side of a
            // partition keeps no leader.
            self.become_follower(&mut out);
            self.election_deadline = now + self.election_timeout();
        }
        let expired: Vec<VoteId> =
            self.book.polls.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| *id).collect();
        for vote in expired {
            self.finish_poll(now, vote, Outcome::Timeout, &mut out);
        }
        let lost: Vec<VoteId> = self.book.pending.iter().filter(|(_, d)| **d <= now).map(|(id, _)| *id).collect();
        for vote in lost {
            self.book.pending.remove(&vote);
            self.book.ended.insert(vote, now + self.vote_memory());
            out.push(Output::Event(Event::VoteLost { vote }));
        }
        self.book.forget(now, self.term);
        if now >= self.next_heartbeat {
            // Liveness traffic grows linearly with the group: the leader broadcasts its
            // heartbeat and each follower acknowledges it to the leader alone (see `handle`).
            // Only members without a leader tell everyone they are alive, and only three times
            // a peer timeout (enough to stay known): that traffic is quadratic, and a group
            // forming or electing must not drown in it.
            let period = if self.role == Role::Leader {
                self.assert_leadership(now, &mut out);
                self.config.heartbeat
            } else {
                if self.leader.is_none() {
                    out.push(Output::Broadcast(GroupMessage::Alive { term: self.term }));
                }
                self.config.alive_period()
            };
            self.next_heartbeat += period;
            if self.next_heartbeat <= now {
                self.next_heartbeat = now + period;
            }
        }
        if self.role == Role::Follower
            && self.leader.is_some_and(|leader| leader != self.me)
            && now >= self.leader_heard + self.config.election_max
        {
            // Silent for the longest election timeout: the leader is gone, even if this member's
            // own candidacy was put off (granting a candidate's pre-vote defers it, and a
            // candidate short of a quorum asks again and again).
            self.lose_leader(&mut out);
        }
        if self.role != Role::Leader && now >= self.election_deadline {
            // No word from a leader within the election timeout: first ask whether the others
            // would vote for this member (pre-vote), and stand for election once a quorum would.
            self.lose_leader(&mut out);
            self.election_deadline = now + self.election_timeout();
            // Terms come from the wire, so this member may be in the last term there is
            // (`Term::MAX`, announced by a damaged or hostile frame): then it cannot stand, and
            // stays without a leader rather than wrap to term 0, which everyone would fence off.
            if let Some(next) = self.term.checked_add(1) {
                // Asking again for the same term keeps the grants already counted: when messages
                // take longer than an election timeout (a large group on a loaded machine),
                // starting over each round would never gather a quorum. A grant since moved to
                // another candidate may be counted still; pre-votes bind nothing, and the vote
                // itself decides.
                if self.prevote.as_ref().is_none_or(|(asked, _)| *asked != next) {
                    self.prevote = Some((next, BTreeSet::from([self.me])));
                }
                out.push(Output::Broadcast(GroupMessage::PreVote { term: next }));
                self.prevote_retry = now + self.config.heartbeat;
                self.prevote_retries = 0;
                if self.prevote.as_ref().is_some_and(|(_, grants)| grants.len() >= self.quorum()) {
                    self.stand_for_election(now, &mut out);
                }
            }
        } else if let Some((term, _)) =
            self.prevote.as_ref().filter(|_| self.role != Role::Leader && now >= self.prevote_retry)
        {
            // A pre-vote still short of a quorum is asked again a heartbeat later, twice at most,
            // not only at the next election timeout: members that had heard the leader a few
            // milliseconds later than this one were not yet free to grant it. (Twice: in a
            // large leaderless group, asking every heartbeat would flood the mesh again.)
            out.push(Output::Broadcast(GroupMessage::PreVote { term: *term }));
            self.prevote_retries += 1;
            self.prevote_retry =
                if self.prevote_retries < PREVOTE_RETRIES { now + self.config.heartbeat } else { Duration::MAX };
        }
        out
    }

    /// Stands for election: a new term, a vote for itself, a request to the others.
    fn stand_for_election(&mut self, now: Duration, out: &mut Vec<Output>) {
        self.prevote = None;
        if now < self.promise.1 {
            // Bound by an acknowledgement to a leader (or just started): wait it out.
            return;
        }
        // Callers have checked that there is a next term (see `tick`).
        let Some(term) = self.term.checked_add(1) else {
            return;
        };
        self.term = term;
        self.role = Role::Candidate;
        self.voted_for = Some(self.me);
        self.votes = BTreeSet::from([self.me]);
        out.push(Output::Broadcast(GroupMessage::RequestVote { term: self.term }));
        self.election_deadline = now + self.election_timeout();
        if self.votes.len() >= self.quorum() {
            self.become_leader(now, out);
        }
    }

    /// Leaves the group: ends the votes it runs as leader (timeout), tells the others and stops.
    pub fn leave(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        self.become_follower(&mut out);
        out.push(Output::Broadcast(GroupMessage::Leave));
        self.left = true;
        out
    }

    /// Whether this member left the group.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Sends `payload` to the leader. When this member leads, the message is delivered to
    /// itself as a [`Event::MessageToLeader`].
    pub fn send_to_leader(&mut self, payload: Vec<u8>) -> Result<Vec<Output>, CommandError> {
        self.usable()?;
        match self.leader {
            None => Err(CommandError::NoLeader),
            Some(leader) if leader == self.me => {
                Ok(vec![Output::Event(Event::MessageToLeader { from: self.me, payload })])
            }
            Some(leader) => Ok(vec![Output::ToLeader { leader, message: GroupMessage::ToLeader { payload } }]),
        }
    }

    /// (Leader only.) Sends `payload` to member `member` (possibly itself).
    pub fn send_to_member(&mut self, member: MemberId, payload: Vec<u8>) -> Result<Vec<Output>, CommandError> {
        self.usable()?;
        if self.role != Role::Leader {
            return Err(CommandError::NotLeader);
        }
        if member == self.me {
            return Ok(vec![Output::Event(Event::MessageFromLeader { leader: self.me, payload })]);
        }
        if !self.peers.contains_key(&member) {
            return Err(CommandError::UnknownMember);
        }
        Ok(vec![Output::ToMember { member, message: GroupMessage::FromLeader { term: self.term, payload } }])
    }

    /// Asks the leader to run a vote on `subject` that must end within `timeout` (the group's
    /// consensus timeout if None). Every member is asked ([`Event::VoteCalled`]); the leader
    /// announces the end ([`Event::VoteEnded`]) to all. If no announcement reaches this member
    /// within the timeout plus a heartbeat, it gets [`Event::VoteLost`].
    pub fn request_vote(
        &mut self,
        now: Duration,
        subject: Subject,
        kind: VoteKind,
        timeout: Option<Duration>,
    ) -> Result<(VoteId, Vec<Output>), CommandError> {
        self.usable()?;
        let leader = self.leader.ok_or(CommandError::NoLeader)?;
        let timeout = timeout.unwrap_or(self.config.consensus_timeout);
        let vote = VoteId { requester: self.me, number: self.book.next_number };
        self.book.next_number = self.book.next_number.wrapping_add(1);
        // Saturating: a caller may pass `Duration::MAX` for "no timeout".
        self.book.pending.insert(vote, now.saturating_add(timeout).saturating_add(self.config.heartbeat));
        let mut out = Vec::new();
        if leader == self.me {
            self.open_poll(now, vote, subject, kind, timeout, &mut out);
        } else {
            let timeout_us = u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX);
            let message = GroupMessage::ProposeVote { vote, subject, kind, timeout_us };
            out.push(Output::ToLeader { leader, message });
        }
        Ok((vote, out))
    }

    /// Casts this member's ballot in `vote` (once per vote). A ballot in a vote that has
    /// already ended (the others' ballots decided it first) does nothing.
    pub fn cast_vote(&mut self, now: Duration, vote: VoteId, yes: bool) -> Result<Vec<Output>, CommandError> {
        self.usable()?;
        if self.book.ended.contains_key(&vote) {
            return Ok(Vec::new());
        }
        let called = self.book.called.get_mut(&vote).ok_or(CommandError::UnknownVote)?;
        if called.voted {
            return Err(CommandError::AlreadyVoted);
        }
        called.voted = true;
        let leader = called.leader;
        let mut out = Vec::new();
        if leader == self.me {
            self.count_ballot(now, self.me, vote, yes, &mut out);
        } else {
            out.push(Output::ToLeader { leader, message: GroupMessage::Ballot { vote, yes } });
        }
        Ok(out)
    }

    fn usable(&self) -> Result<(), CommandError> {
        if self.left {
            Err(CommandError::Left)
        } else {
            Ok(())
        }
    }

    /// How long a member remembers a vote it heard of.
    fn vote_memory(&self) -> Duration {
        self.config.consensus_timeout * 2 + self.config.peer_timeout
    }

    /// (Leader.) Opens a poll for `vote`, with the members known now as its voters, and asks
    /// them all (itself included) to vote.
    fn open_poll(
        &mut self,
        now: Duration,
        vote: VoteId,
        subject: Subject,
        kind: VoteKind,
        timeout: Duration,
        out: &mut Vec<Output>,
    ) {
        if self.book.polls.contains_key(&vote) || self.book.ended.contains_key(&vote) {
            return; // a duplicate proposal
        }
        let voters: BTreeSet<MemberId> = self.members().into_iter().collect();
        let majority = self.config.quorum(voters.len());
        let poll = Poll {
            term: self.term,
            subject: subject.clone(),
            kind,
            voters,
            ballots: BTreeMap::new(),
            majority,
            deadline: now.saturating_add(timeout),
        };
        self.book.polls.insert(vote, poll);
        let expires = now + self.vote_memory();
        self.book.called.insert(vote, Called { leader: self.me, term: self.term, voted: false, expires });
        out.push(Output::Broadcast(GroupMessage::CallVote { term: self.term, vote, subject: subject.clone(), kind }));
        out.push(Output::Event(Event::VoteCalled { vote, subject, kind }));
        if let Some(outcome) = self.book.polls.get(&vote).and_then(Poll::decision) {
            self.finish_poll(now, vote, outcome, out);
        }
    }

    /// (Leader.) Counts a ballot; ends the poll when the ballots decide it.
    fn count_ballot(&mut self, now: Duration, voter: MemberId, vote: VoteId, yes: bool, out: &mut Vec<Output>) {
        let Some(poll) = self.book.polls.get_mut(&vote) else {
            return; // not ours, already ended, or we no longer lead
        };
        if poll.record(voter, yes) {
            if let Some(outcome) = poll.decision() {
                self.finish_poll(now, vote, outcome, out);
            }
        }
    }

    /// (Leader.) Ends a poll and announces its outcome to all.
    fn finish_poll(&mut self, now: Duration, vote: VoteId, outcome: Outcome, out: &mut Vec<Output>) {
        let Some(poll) = self.book.polls.remove(&vote) else {
            return;
        };
        out.push(Output::Broadcast(GroupMessage::Announce {
            term: poll.term,
            vote,
            subject: poll.subject.clone(),
            outcome,
        }));
        self.learn(now, vote, poll.subject, outcome, out);
    }

    /// (Leader stepping down or leaving.) Ends every open poll as a timeout.
    fn close_polls(&mut self, out: &mut Vec<Output>) {
        let open: Vec<(VoteId, Duration)> = self.book.polls.iter().map(|(id, p)| (*id, p.deadline)).collect();
        for (vote, deadline) in open {
            // The poll's own deadline stands in for `now`: only the memory's expiry uses it.
            self.finish_poll(deadline, vote, Outcome::Timeout, out);
        }
    }

    /// Learns how a vote ended (once).
    fn learn(&mut self, now: Duration, vote: VoteId, subject: Subject, outcome: Outcome, out: &mut Vec<Output>) {
        if self.book.ended.contains_key(&vote) {
            return;
        }
        // Saturating: `now` is a poll's deadline when a leader closes its polls.
        self.book.ended.insert(vote, now.saturating_add(self.vote_memory()));
        self.book.called.remove(&vote);
        self.book.pending.remove(&vote);
        out.push(Output::Event(Event::VoteEnded { vote, subject, outcome }));
    }
}
