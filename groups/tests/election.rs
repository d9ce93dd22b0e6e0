#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Elections on a perfect network with simulated time: groups of 1, 2, 3 and 5 members elect
//! exactly one leader that all agree on; a departed leader is replaced; a declared size keeps a
//! minority leaderless.

use std::collections::VecDeque;
use std::time::Duration;

use cohort_groups::*;

/// Members exchanging messages instantly, with time advanced in 1 ms steps.
struct Net {
    members: Vec<Option<GroupCore>>,
    /// Sender, recipient (None: everyone) and message.
    queue: VecDeque<(usize, Option<MemberId>, GroupMessage)>,
    now: Duration,
    /// Which members can hear each other (a partition when not all true).
    side: Vec<u8>,
}

fn id(i: usize) -> MemberId {
    let mut id = [0u8; 16];
    id[15] = u8::try_from(i + 1).unwrap();
    id
}

impl Net {
    fn new(n: usize, config: GroupConfig) -> Net {
        let mut net = Net { members: Vec::new(), queue: VecDeque::new(), now: Duration::ZERO, side: vec![0; n] };
        for i in 0..n {
            let (core, out) = GroupCore::new(id(i), config, &format!("tcp://m{i}:1"), 7, net.now);
            net.members.push(Some(core));
            net.absorb(i, out);
        }
        net
    }

    fn absorb(&mut self, from: usize, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Broadcast(m) => self.queue.push_back((from, None, m)),
                Output::ToLeader { leader: to, message } | Output::ToMember { member: to, message } => {
                    self.queue.push_back((from, Some(to), message))
                }
                Output::Event(_) => {}
            }
        }
    }

    fn deliver(&mut self) {
        while let Some((from, recipient, message)) = self.queue.pop_front() {
            for to in 0..self.members.len() {
                if to == from || self.side[to] != self.side[from] || recipient.is_some_and(|r| r != id(to)) {
                    continue;
                }
                if let Some(core) = self.members[to].as_mut() {
                    let out = core.handle(self.now, id(from), message.clone());
                    self.absorb(to, out);
                }
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(1);
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

    fn leaders(&self, among: &[usize]) -> Vec<usize> {
        among.iter().copied().filter(|&i| self.members[i].as_ref().is_some_and(|c| c.role() == Role::Leader)).collect()
    }

    fn agreed_leader(&self, among: &[usize]) -> Option<MemberId> {
        let views: Vec<Option<MemberId>> =
            among.iter().filter_map(|&i| self.members[i].as_ref()).map(GroupCore::leader).collect();
        let first = views.first().copied().flatten()?;
        views.iter().all(|v| *v == Some(first)).then_some(first)
    }
}

#[test]
fn groups_of_every_size_elect_one_agreed_leader() {
    for n in [1, 2, 3, 5] {
        let mut net = Net::new(n, GroupConfig::default());
        net.run_for(Duration::from_secs(5));
        let all: Vec<usize> = (0..n).collect();
        assert_eq!(net.leaders(&all).len(), 1, "{n} members");
        assert!(net.agreed_leader(&all).is_some(), "{n} members disagree");
    }
}

#[test]
fn a_leader_that_leaves_is_replaced() {
    let mut net = Net::new(3, GroupConfig::default());
    net.run_for(Duration::from_secs(5));
    let all: Vec<usize> = (0..3).collect();
    let old = net.leaders(&all)[0];
    let out = net.members[old].as_mut().unwrap().leave();
    net.absorb(old, out);
    net.members[old] = None;
    net.run_for(Duration::from_secs(5));
    let rest: Vec<usize> = all.into_iter().filter(|&i| i != old).collect();
    assert_eq!(net.leaders(&rest).len(), 1);
    assert_eq!(net.agreed_leader(&rest), Some(id(net.leaders(&rest)[0])));
}

#[test]
fn with_a_declared_size_only_the_majority_side_of_a_partition_has_a_leader() {
    let config = GroupConfig { expected_size: Some(5), ..GroupConfig::default() };
    let mut net = Net::new(5, config);
    net.run_for(Duration::from_secs(5));
    net.side = vec![0, 0, 0, 1, 1];
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.leaders(&[0, 1, 2]).len(), 1, "the majority side has a leader");
    assert!(net.leaders(&[3, 4]).is_empty(), "the minority side has none");
    assert_eq!(net.agreed_leader(&[3, 4]), None);
    // Healed: exactly one leader again, agreed by all.
    net.side = vec![0; 5];
    net.run_for(Duration::from_secs(10));
    let all: Vec<usize> = (0..5).collect();
    assert_eq!(net.leaders(&all).len(), 1);
    assert!(net.agreed_leader(&all).is_some());
}

#[test]
fn a_member_cut_off_does_not_raise_its_term_or_depose_the_leader_when_it_returns() {
    let config = GroupConfig { expected_size: Some(5), ..GroupConfig::default() };
    let mut net = Net::new(5, config);
    net.run_for(Duration::from_secs(2));
    let leader = net.agreed_leader(&[0, 1, 2, 3, 4]).expect("one leader");
    let index = (0..5).find(|&i| id(i) == leader).unwrap();
    let term = net.members[index].as_ref().unwrap().term();
    // Cut one follower off for many election timeouts: it asks for pre-votes in vain, so its
    // term stays where it was.
    let lonely = (0..5).find(|&i| i != index).unwrap();
    net.side[lonely] = 1;
    net.run_for(Duration::from_secs(5));
    let lonely_core = net.members[lonely].as_ref().unwrap();
    assert_eq!(lonely_core.term(), term, "pre-votes never raise the term");
    assert_eq!(lonely_core.leader(), None);
    // Back: it follows the same leader in the same term; nobody was deposed.
    net.side[lonely] = 0;
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.agreed_leader(&[0, 1, 2, 3, 4]), Some(leader));
    assert!((0..5).all(|i| net.members[i].as_ref().unwrap().term() == term));
}

#[test]
fn when_a_majority_leaves_the_last_follower_drops_the_leader_that_stepped_down() {
    // Five declared, three leave: the leader no longer hears a majority and steps down; it then
    // asks for pre-votes again and again, which the last follower grants, and each grant puts
    // off that follower's own candidacy. The follower must still drop the silent leader.
    let config = GroupConfig { expected_size: Some(5), ..GroupConfig::default() };
    let mut net = Net::new(5, config);
    net.run_for(Duration::from_secs(5));
    let all: Vec<usize> = (0..5).collect();
    let leader = net.leaders(&all)[0];
    let follower = all.iter().copied().find(|&i| i != leader).unwrap();
    for i in all.iter().copied().filter(|&i| i != leader && i != follower) {
        let out = net.members[i].as_mut().unwrap().leave();
        net.absorb(i, out);
        net.members[i] = None;
    }
    net.run_for(Duration::from_secs(10));
    assert!(net.leaders(&[leader, follower]).is_empty(), "two of five elect no one");
    for i in [leader, follower] {
        assert_eq!(net.members[i].as_ref().unwrap().leader(), None, "member {i} still follows a leader");
    }
}
