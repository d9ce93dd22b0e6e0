#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Member ↔ leader messages and votes in the group core alone, on a small in-test network with
//! simulated time (instant delivery, 1 ms ticks, optional partitions and crashes): who gets
//! which message, how ballots are counted, how votes end (yes, no, timeout, a leader stepping
//! down) and how a requester learns that it lost one, and the commands' errors.

use std::collections::VecDeque;
use std::time::Duration;

use cohort_groups::*;

fn id(i: usize) -> MemberId {
    let mut id = [0u8; 16];
    id[15] = u8::try_from(i + 1).unwrap();
    id
}

fn index(member: &MemberId) -> usize {
    usize::from(member[15]) - 1
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A message in flight: sender, recipient (None: everyone), message.
type Flight = (usize, Option<usize>, GroupMessage);

/// Members exchanging messages instantly; point-to-point outputs reach only their recipient.
struct Net {
    config: GroupConfig,
    members: Vec<Option<GroupCore>>,
    queue: VecDeque<Flight>,
    now: Duration,
    /// Which members can hear each other (a partition when not all equal).
    side: Vec<u8>,
    /// Every event each member got, with when.
    events: Vec<Vec<(Duration, Event)>>,
}

impl Net {
    fn new(n: usize, config: GroupConfig) -> Net {
        let mut net = Net {
            config,
            members: Vec::new(),
            queue: VecDeque::new(),
            now: Duration::ZERO,
            side: Vec::new(),
            events: Vec::new(),
        };
        for i in 0..n {
            net.join(i);
        }
        net
    }

    /// A group of `n` that has elected a leader everyone follows; returns it and the leader.
    fn elected(n: usize, config: GroupConfig) -> (Net, usize) {
        let mut net = Net::new(n, config);
        net.run_for(Duration::from_secs(5));
        let leaders: Vec<usize> = (0..n).filter(|&i| net.core(i).role() == Role::Leader).collect();
        assert_eq!(leaders.len(), 1, "one leader");
        let leader = leaders[0];
        assert!((0..n).all(|i| net.core(i).leader() == Some(id(leader))), "everyone follows it");
        (net, leader)
    }

    /// Member `i` (re)starts now (a new slot when `i` is the next index).
    fn join(&mut self, i: usize) {
        let (core, out) = GroupCore::new(id(i), self.config, &format!("tcp://m{i}:1"), 7, self.now);
        if i == self.members.len() {
            self.members.push(Some(core));
            self.side.push(0);
            self.events.push(Vec::new());
        } else {
            self.members[i] = Some(core);
        }
        self.absorb(i, out);
        self.deliver();
    }

    fn core(&mut self, i: usize) -> &mut GroupCore {
        self.members[i].as_mut().expect("member is up")
    }

    fn absorb(&mut self, from: usize, out: Vec<Output>) {
        for output in out {
            match output {
                Output::Broadcast(message) => self.queue.push_back((from, None, message)),
                Output::ToLeader { leader: to, message } | Output::ToMember { member: to, message } => {
                    self.queue.push_back((from, Some(index(&to)), message));
                }
                Output::Event(event) => self.events[from].push((self.now, event)),
            }
        }
    }

    fn deliver(&mut self) {
        while let Some((from, to, message)) = self.queue.pop_front() {
            let recipients: Vec<usize> = match to {
                Some(to) => vec![to],
                None => (0..self.members.len()).filter(|&to| to != from).collect(),
            };
            for to in recipients {
                if self.side[to] != self.side[from] {
                    continue;
                }
                if let Some(core) = self.members[to].as_mut() {
                    let out = core.handle(self.now, id(from), message.clone());
                    self.absorb(to, out);
                }
            }
        }
    }

    /// Hands member `to` a message from `from` directly (a duplicate, or a stranger's).
    fn inject(&mut self, from: usize, to: usize, message: GroupMessage) {
        let now = self.now;
        let out = self.core(to).handle(now, id(from), message);
        self.absorb(to, out);
        self.deliver();
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += ms(1);
            for i in 0..self.members.len() {
                if let Some(core) = self.members[i].as_mut() {
                    if core.next_deadline() <= self.now {
                        let out = core.tick(self.now);
                        self.absorb(i, out);
                    }
                }
            }
            self.deliver();
        }
    }

    fn request(&mut self, i: usize, subject: Subject, kind: VoteKind, timeout: Option<Duration>) -> VoteId {
        let now = self.now;
        let (vote, out) = self.core(i).request_vote(now, subject, kind, timeout).unwrap();
        self.absorb(i, out);
        self.deliver();
        vote
    }

    fn vote(&mut self, i: usize, vote: VoteId, yes: bool) {
        let now = self.now;
        let out = self.core(i).cast_vote(now, vote, yes).unwrap();
        self.absorb(i, out);
        self.deliver();
    }

    fn called(&self, i: usize, vote: VoteId) -> Vec<(Subject, VoteKind)> {
        self.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::VoteCalled { vote: v, subject, kind } if *v == vote => Some((subject.clone(), *kind)),
                _ => None,
            })
            .collect()
    }

    fn ended(&self, i: usize, vote: VoteId) -> Vec<(Subject, Outcome)> {
        self.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::VoteEnded { vote: v, subject, outcome } if *v == vote => Some((subject.clone(), *outcome)),
                _ => None,
            })
            .collect()
    }

    fn lost_at(&self, i: usize, vote: VoteId) -> Vec<Duration> {
        self.events[i]
            .iter()
            .filter_map(|(at, e)| matches!(e, Event::VoteLost { vote: v } if *v == vote).then_some(*at))
            .collect()
    }

    fn messages_to_leader(&self, i: usize) -> Vec<(MemberId, Vec<u8>)> {
        self.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::MessageToLeader { from, payload } => Some((*from, payload.clone())),
                _ => None,
            })
            .collect()
    }

    fn messages_from_leader(&self, i: usize) -> Vec<(MemberId, Vec<u8>)> {
        self.events[i]
            .iter()
            .filter_map(|(_, e)| match e {
                Event::MessageFromLeader { leader, payload } => Some((*leader, payload.clone())),
                _ => None,
            })
            .collect()
    }

    /// Some member other than `leader` (and `besides`).
    fn follower(&self, leader: usize, besides: &[usize]) -> usize {
        (0..self.members.len()).find(|i| *i != leader && !besides.contains(i)).unwrap()
    }
}

fn value(bytes: &[u8]) -> Subject {
    Subject::Value(bytes.to_vec())
}

#[test]
fn a_message_to_the_leader_reaches_only_the_leader_with_its_sender() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let sender = net.follower(leader, &[]);
    let out = net.core(sender).send_to_leader(b"hello".to_vec()).unwrap();
    assert!(
        matches!(&out[..], [Output::ToLeader { leader: l, .. }] if *l == id(leader)),
        "point to point, to the leader: {out:?}"
    );
    net.absorb(sender, out);
    net.deliver();
    assert_eq!(net.messages_to_leader(leader), vec![(id(sender), b"hello".to_vec())]);
    for i in (0..3).filter(|i| *i != leader) {
        assert!(net.messages_to_leader(i).is_empty(), "m{i} is not the leader");
    }
    // The leader sending to itself gets it as from itself.
    let out = net.core(leader).send_to_leader(b"self".to_vec()).unwrap();
    assert_eq!(out, vec![Output::Event(Event::MessageToLeader { from: id(leader), payload: b"self".to_vec() })]);
}

#[test]
fn a_message_from_the_leader_reaches_only_its_recipient() {
    let (mut net, leader) = Net::elected(4, GroupConfig::default());
    let recipient = net.follower(leader, &[]);
    let out = net.core(leader).send_to_member(id(recipient), b"for you".to_vec()).unwrap();
    assert!(matches!(&out[..], [Output::ToMember { member, .. }] if *member == id(recipient)), "{out:?}");
    net.absorb(leader, out);
    net.deliver();
    assert_eq!(net.messages_from_leader(recipient), vec![(id(leader), b"for you".to_vec())]);
    for i in (0..4).filter(|i| *i != recipient) {
        assert!(net.messages_from_leader(i).is_empty(), "m{i} got a message meant for m{recipient}");
    }
    // To itself: delivered at once; to a stranger: refused.
    let out = net.core(leader).send_to_member(id(leader), b"me".to_vec()).unwrap();
    assert_eq!(out, vec![Output::Event(Event::MessageFromLeader { leader: id(leader), payload: b"me".to_vec() })]);
    assert_eq!(net.core(leader).send_to_member(id(9), b"?".to_vec()), Err(CommandError::UnknownMember));
}

#[test]
fn only_the_leader_sends_to_members() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let follower = net.follower(leader, &[]);
    let other = net.follower(leader, &[follower]);
    assert_eq!(net.core(follower).send_to_member(id(other), b"x".to_vec()), Err(CommandError::NotLeader));
    assert_eq!(net.core(follower).send_to_member(id(leader), b"x".to_vec()), Err(CommandError::NotLeader));
}

#[test]
fn without_a_leader_there_is_no_one_to_message_or_ask() {
    let (mut core, _) = GroupCore::new(id(0), GroupConfig::default(), "tcp://m0:1", 7, Duration::ZERO);
    assert_eq!(core.leader(), None);
    assert_eq!(core.send_to_leader(b"x".to_vec()), Err(CommandError::NoLeader));
    assert_eq!(
        core.request_vote(Duration::ZERO, value(b"v"), VoteKind::Majority, None).map(|(v, _)| v),
        Err(CommandError::NoLeader)
    );
    assert_eq!(core.send_to_member(id(1), b"x".to_vec()), Err(CommandError::NotLeader));
    // A member that left refuses everything.
    core.leave();
    assert_eq!(core.send_to_leader(b"x".to_vec()), Err(CommandError::Left));
}

#[test]
fn a_majority_vote_passes_with_three_yes_of_five_and_everyone_learns_it() {
    let (mut net, leader) = Net::elected(5, GroupConfig::default());
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, value(b"v1"), VoteKind::Majority, None);
    assert_eq!(vote.requester, id(requester));
    for i in 0..5 {
        assert_eq!(net.called(i, vote), vec![(value(b"v1"), VoteKind::Majority)], "m{i} is called once");
    }
    // Two no, two yes: still open (3 needed, 1 outstanding).
    let order: Vec<usize> = (0..5).collect();
    net.vote(order[0], vote, false);
    net.vote(order[1], vote, false);
    net.vote(order[2], vote, true);
    net.vote(order[3], vote, true);
    assert!((0..5).all(|i| net.ended(i, vote).is_empty()), "not decided with 2 yes of 5");
    // The third yes passes it.
    net.vote(order[4], vote, true);
    for i in 0..5 {
        assert_eq!(net.ended(i, vote), vec![(value(b"v1"), Outcome::Yes)], "m{i} learns it once");
        assert!(net.lost_at(i, vote).is_empty());
    }
}

#[test]
fn a_consensus_vote_fails_at_the_first_no() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, value(b"c"), VoteKind::Consensus, None);
    net.vote(leader, vote, true);
    assert!((0..3).all(|i| net.ended(i, vote).is_empty()));
    let dissenter = net.follower(leader, &[]);
    net.vote(dissenter, vote, false);
    for i in 0..3 {
        assert_eq!(net.ended(i, vote), vec![(value(b"c"), Outcome::No)], "m{i}");
    }
    // The last member's ballot comes too late: it does nothing.
    let last = net.follower(leader, &[dissenter]);
    let now = net.now;
    assert_eq!(net.core(last).cast_vote(now, vote, true), Ok(Vec::new()));
}

#[test]
fn a_duplicated_ballot_counts_once() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let voter = net.follower(leader, &[]);
    // Majority of 3: two yes needed.
    let vote = net.request(leader, value(b"d"), VoteKind::Majority, None);
    net.vote(voter, vote, true);
    net.inject(voter, leader, GroupMessage::Ballot { vote, yes: true });
    net.inject(voter, leader, GroupMessage::Ballot { vote, yes: true });
    assert!(net.ended(leader, vote).is_empty(), "one voter's yes, however often it arrives, is one yes");
    // Nor can the voter change its mind.
    net.inject(voter, leader, GroupMessage::Ballot { vote, yes: false });
    let other = net.follower(leader, &[voter]);
    net.vote(other, vote, true);
    assert_eq!(net.ended(leader, vote), vec![(value(b"d"), Outcome::Yes)]);
}

#[test]
fn a_ballot_from_a_member_that_joined_after_the_call_is_ignored() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let vote = net.request(leader, value(b"n"), VoteKind::Consensus, None);
    net.run_for(ms(10));
    net.join(3);
    assert!(net.core(leader).members().contains(&id(3)), "the leader knows the newcomer");
    assert!(net.called(3, vote).is_empty(), "it was not called");
    // Its no would fail a consensus vote, if it counted.
    net.inject(3, leader, GroupMessage::Ballot { vote, yes: false });
    assert!(net.ended(leader, vote).is_empty(), "a non-voter's ballot does not count");
    for i in 0..3 {
        net.vote(i, vote, true);
    }
    for i in 0..3 {
        assert_eq!(net.ended(i, vote), vec![(value(b"n"), Outcome::Yes)], "m{i}");
    }
}

#[test]
fn a_vote_nobody_answers_times_out() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, value(b"t"), VoteKind::Majority, Some(ms(200)));
    net.run_for(ms(190));
    assert!((0..3).all(|i| net.ended(i, vote).is_empty()), "not before the timeout");
    net.run_for(ms(20));
    for i in 0..3 {
        assert_eq!(net.ended(i, vote), vec![(value(b"t"), Outcome::Timeout)], "m{i}");
    }
    // The requester learned it ended, so it never hears that it was lost.
    net.run_for(Duration::from_secs(2));
    assert!(net.lost_at(requester, vote).is_empty());
    assert_eq!(net.ended(requester, vote).len(), 1);
}

#[test]
fn a_leader_that_steps_down_ends_its_votes_as_timeouts() {
    // Declared size 3: a leader cut off from both others steps down after the peer timeout.
    let config = GroupConfig { expected_size: Some(3), ..GroupConfig::default() };
    let (mut net, leader) = Net::elected(3, config);
    let vote = net.request(leader, value(b"s"), VoteKind::Majority, Some(Duration::from_secs(10)));
    let asked = net.now;
    net.side[leader] = 1;
    net.run_for(config.peer_timeout + ms(100));
    assert_ne!(net.core(leader).role(), Role::Leader, "it stepped down");
    let ended: Vec<(Duration, Event)> = net.events[leader]
        .iter()
        .filter(|(_, e)| matches!(e, Event::VoteEnded { vote: v, .. } if *v == vote))
        .cloned()
        .collect();
    assert_eq!(ended.len(), 1, "{ended:?}");
    let (at, event) = &ended[0];
    assert_eq!(*event, Event::VoteEnded { vote, subject: value(b"s"), outcome: Outcome::Timeout });
    assert!(*at < asked + Duration::from_secs(10), "when it stepped down, not at the deadline");
}

#[test]
fn a_requester_whose_leader_dies_before_announcing_gets_vote_lost() {
    let config = GroupConfig::default();
    let (mut net, leader) = Net::elected(3, config);
    let requester = net.follower(leader, &[]);
    let timeout = ms(500);
    let vote = net.request(requester, value(b"l"), VoteKind::Majority, Some(timeout));
    let asked = net.now;
    assert_eq!(net.called(requester, vote).len(), 1, "the leader called it");
    net.members[leader] = None; // crashes before anyone answers
    net.run_for(timeout + config.heartbeat - ms(1));
    assert!(net.lost_at(requester, vote).is_empty(), "not before the timeout and a heartbeat");
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.lost_at(requester, vote), vec![asked + timeout + config.heartbeat]);
    assert!(net.ended(requester, vote).is_empty(), "lost, not ended");
    let other = net.follower(leader, &[requester]);
    assert!(net.lost_at(other, vote).is_empty(), "only the requester hears of a loss");
    assert!(net.ended(other, vote).is_empty());
    // A ballot in it now does nothing (the vote is over for it).
    let now = net.now;
    assert_eq!(net.core(requester).cast_vote(now, vote, true), Ok(Vec::new()));
}

#[test]
fn an_action_vote_carries_its_subject_unchanged() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let subject = Subject::Action { action: b"open valve 7".to_vec(), at_us: 1_700_000_000_123_456 };
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, subject.clone(), VoteKind::Consensus, None);
    for i in 0..3 {
        assert_eq!(net.called(i, vote), vec![(subject.clone(), VoteKind::Consensus)], "m{i}");
    }
    for i in 0..3 {
        net.vote(i, vote, true);
    }
    for i in 0..3 {
        assert_eq!(net.ended(i, vote), vec![(subject.clone(), Outcome::Yes)], "m{i}");
    }
}

#[test]
fn a_member_votes_once_and_only_in_votes_it_was_called_to() {
    let (mut net, leader) = Net::elected(3, GroupConfig::default());
    let voter = net.follower(leader, &[]);
    let vote = net.request(leader, value(b"o"), VoteKind::Consensus, None);
    net.vote(voter, vote, true);
    let now = net.now;
    assert_eq!(net.core(voter).cast_vote(now, vote, false), Err(CommandError::AlreadyVoted));
    let unknown = VoteId { requester: id(2), number: 12_345 };
    assert_eq!(net.core(voter).cast_vote(now, unknown, true), Err(CommandError::UnknownVote));
}

#[test]
fn a_group_of_two_elects_and_votes() {
    let (mut net, leader) = Net::elected(2, GroupConfig::default());
    let follower = 1 - leader;
    // Messages both ways.
    let out = net.core(follower).send_to_leader(b"up".to_vec()).unwrap();
    net.absorb(follower, out);
    let out = net.core(leader).send_to_member(id(follower), b"down".to_vec()).unwrap();
    net.absorb(leader, out);
    net.deliver();
    assert_eq!(net.messages_to_leader(leader), vec![(id(follower), b"up".to_vec())]);
    assert_eq!(net.messages_from_leader(follower), vec![(id(leader), b"down".to_vec())]);
    // A majority of two is both.
    let vote = net.request(follower, value(b"2"), VoteKind::Majority, None);
    net.vote(follower, vote, true);
    assert!(net.ended(leader, vote).is_empty(), "one yes of two is not a majority");
    net.vote(leader, vote, true);
    for i in 0..2 {
        assert_eq!(net.ended(i, vote), vec![(value(b"2"), Outcome::Yes)], "m{i}");
    }
    // A consensus with a no fails.
    let vote = net.request(leader, value(b"2c"), VoteKind::Consensus, None);
    net.vote(follower, vote, false);
    for i in 0..2 {
        assert_eq!(net.ended(i, vote), vec![(value(b"2c"), Outcome::No)], "m{i}");
    }
}

#[test]
fn a_vote_without_a_practical_timeout_neither_overflows_nor_ends_early() {
    // `Duration::MAX` as "no timeout" used to overflow the requester's deadline.
    let config = GroupConfig { expected_size: Some(3), ..GroupConfig::default() };
    let (mut net, leader) = Net::elected(3, config);
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, value(b"m"), VoteKind::Majority, Some(Duration::MAX));
    let own = net.request(leader, value(b"own"), VoteKind::Majority, Some(Duration::MAX));
    net.run_for(Duration::from_secs(3));
    assert!(net.ended(requester, vote).is_empty() && net.lost_at(requester, vote).is_empty());
    net.vote(requester, vote, true);
    net.vote(leader, vote, true);
    assert_eq!(net.ended(requester, vote), vec![(value(b"m"), Outcome::Yes)]);
    // The leader, cut off, steps down and closes its open vote without overflowing either.
    net.side[leader] = 1;
    net.run_for(config.peer_timeout + ms(100));
    assert_eq!(net.ended(leader, own), vec![(value(b"own"), Outcome::Timeout)]);
}

#[test]
fn a_vote_longer_than_the_members_memory_can_still_be_answered_late() {
    // Members are not told a vote's timeout; they used to forget a call after twice the
    // consensus timeout plus the peer timeout (3 s here), and could not answer after that.
    let config = GroupConfig::default();
    let (mut net, leader) = Net::elected(3, config);
    let requester = net.follower(leader, &[]);
    let vote = net.request(requester, value(b"late"), VoteKind::Consensus, Some(Duration::from_secs(10)));
    net.run_for(Duration::from_secs(6));
    assert!((0..3).all(|i| net.ended(i, vote).is_empty()), "still open");
    for i in 0..3 {
        net.vote(i, vote, true);
    }
    for i in 0..3 {
        assert_eq!(net.ended(i, vote), vec![(value(b"late"), Outcome::Yes)], "m{i}");
    }
}
