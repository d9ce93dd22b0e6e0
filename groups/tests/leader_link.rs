#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A member learns at once that its connection to the leader closed (issue 14): the member
//! DEALER's socket monitor reports it long before the election timeout replaces the leader, and
//! a vote the member asked for of that leader still ends. Members run over tcp loopback, each
//! with its own port factory (its own ZeroMQ context, as separate processes have); one test
//! thread drives them all, never sleeping blindly.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use cohort_groups::*;
use cohort_ports::{Addressing, Endpoint, Interface, LinkState, PortFactory, Security, SocketOptions};

/// How long the test waits for anything it expects before failing.
const WAIT: Duration = Duration::from_secs(10);

fn factory(dir: &std::path::Path, actor: &str) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), dir, actor).unwrap();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    PortFactory::new(addressing, SocketOptions::default(), Security::None, log).unwrap()
}

/// Polls every live member once, collecting its events, then waits for a socket or the
/// earliest deadline (at most 10 ms).
fn step(members: &mut [Option<GroupMember>], events: &mut [Vec<GroupEvent>]) {
    for (member, events) in members.iter_mut().zip(events.iter_mut()) {
        if let Some(member) = member {
            member.poll_into(Instant::now(), events);
        }
    }
    let live: Vec<&GroupMember> = members.iter().flatten().collect();
    let wake = live.iter().map(|m| m.next_deadline()).min().unwrap().min(Instant::now() + Duration::from_millis(10));
    let sockets: Vec<&zmq::Socket> = live.iter().flat_map(|m| m.sockets()).collect();
    let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
    let wait = i64::try_from(wake.saturating_duration_since(Instant::now()).as_millis()).unwrap() + 1;
    zmq::poll(&mut items, wait).unwrap();
}

#[test]
fn followers_learn_at_once_that_the_leader_died_and_its_votes_still_end() {
    let dir = std::env::temp_dir().join(format!("cohort-gl-{}", std::process::id()));
    let factories: Vec<PortFactory> = (0..3).map(|i| factory(&dir, &format!("A{i}"))).collect();
    let key = GroupKey { app: "Test".into(), group_type: "G".into(), instance: "one".into(), message: "Msg".into() };
    // Default timing: heartbeat 100 ms, election timeout 300-500 ms.
    let config = GroupConfig::default();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let mut members: Vec<Option<GroupMember>> =
        factories.iter().map(|f| Some(GroupMember::join(f, key.clone(), config, log.clone()).unwrap())).collect();
    let endpoints: Vec<Endpoint> = members.iter().flatten().map(|m| m.publisher_endpoint().clone()).collect();
    for member in members.iter_mut().flatten() {
        for endpoint in &endpoints {
            member.add_peer(endpoint).unwrap();
        }
    }
    let mut events = vec![Vec::new(); 3];

    // One leader, followed by both others over connections that are up.
    let give_up = Instant::now() + WAIT;
    let leader = loop {
        step(&mut members, &mut events);
        let live: Vec<&GroupMember> = members.iter().flatten().collect();
        if let Some(leader) = live.iter().position(|m| m.is_leader()) {
            let id = live[leader].id();
            let following = live
                .iter()
                .enumerate()
                .all(|(i, m)| i == leader || (m.following() == Some(id) && m.leader_link() == Some(LinkState::Up)));
            if following {
                break leader;
            }
        }
        assert!(Instant::now() < give_up, "no leader followed over live connections within {WAIT:?}");
    };
    let leader_id = members[leader].as_ref().unwrap().id();
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    assert_eq!(members[leader].as_ref().unwrap().leader_link(), None, "a leader follows no one");

    // A follower asks the leader for a vote, then the leader's sockets close as in a crash.
    let asker = followers[0];
    let vote_timeout = Duration::from_millis(300);
    let vote = members[asker].as_mut().unwrap().request_vote(b"v", VoteKind::Majority, Some(vote_timeout)).unwrap();
    let asked = Instant::now();
    members[leader] = None;
    let died = Instant::now();

    // Both followers see the connection close well before the election timeout, while their
    // core still knows the dead leader.
    let give_up = Instant::now() + WAIT;
    let mut noticed = vec![None; 3];
    while followers.iter().any(|&f| noticed[f].is_none()) {
        step(&mut members, &mut events);
        for &f in &followers {
            let member = members[f].as_ref().unwrap();
            if noticed[f].is_none() && member.leader_link() == Some(LinkState::Down) {
                noticed[f] = Some(died.elapsed());
                assert_eq!(member.core().leader(), Some(leader_id), "member {f} had already lost the leader");
                assert_eq!(member.stats().leader_disconnects, 1);
            }
        }
        assert!(Instant::now() < give_up, "the followers never saw the connection close: {noticed:?}");
    }
    for &f in &followers {
        let took = noticed[f].unwrap();
        assert!(took < Duration::from_millis(100), "member {f} took {took:?} to see the leader's connection close");
    }

    // The vote asked of the dead leader ends, as before: lost (or decided, had the leader
    // announced it in time), within its timeout and a heartbeat.
    let ends = |e: &GroupEvent| match e {
        GroupEvent::VoteLost { vote: v } | GroupEvent::VoteResult { vote: v, .. } => *v == vote,
        _ => false,
    };
    let give_up = Instant::now() + WAIT;
    while !events[asker].iter().any(ends) {
        step(&mut members, &mut events);
        assert!(Instant::now() < give_up, "the vote asked of the dead leader never ended");
    }
    let bound = vote_timeout + config.heartbeat + Duration::from_millis(100);
    assert!(asked.elapsed() < bound, "the vote ended after {:?}, more than {bound:?}", asked.elapsed());
    drop(members);
    drop(factories);
    let _ = std::fs::remove_dir_all(&dir);
}
