#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The leader's lease and the promises it rests on, one core at a time: a leader holds a lease
//! only once a quorum acknowledged a heartbeat, for `GroupConfig::lease()` from that heartbeat;
//! a follower's acknowledgement binds it to its leader for `electionMin`; a member just started
//! acknowledges no one for `electionMin`. (The simulator checks the invariant itself over
//! thousands of seeds: `groups/tests/simulation.rs`.)

use std::time::Duration;

use cohort_groups::*;

fn id(n: u8) -> MemberId {
    [n; 16]
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn declared(n: usize) -> GroupConfig {
    GroupConfig { expected_size: Some(n), ..GroupConfig::default() }
}

/// The heartbeat a leader broadcast in `out`, as (term, seq).
fn heartbeat(out: &[Output]) -> Option<(Term, u64)> {
    out.iter().find_map(|o| match o {
        Output::Broadcast(GroupMessage::Leader { term, seq, .. }) => Some((*term, *seq)),
        _ => None,
    })
}

/// The acknowledgement a follower sent in `out`, as (leader, term, seq).
fn ack(out: &[Output]) -> Option<(MemberId, Term, u64)> {
    out.iter().find_map(|o| match o {
        Output::ToLeader { leader, message: GroupMessage::Ack { term, seq } } => Some((*leader, *term, *seq)),
        _ => None,
    })
}

fn leader_message(term: Term, seq: u64) -> GroupMessage {
    GroupMessage::Leader { term, endpoint: "tcp://127.0.0.1:1".into(), seq, members: vec![id(1), id(2), id(3)] }
}

/// Member 1 of a group of declared size `size`, elected leader in term 1 by `voters`; and when.
fn elected(size: usize, voters: &[u8]) -> (GroupCore, Duration) {
    let (mut core, _) = GroupCore::new(id(1), declared(size), "tcp://m1:1", 1, Duration::ZERO);
    let mut now = Duration::ZERO;
    while core.role() != Role::Candidate {
        now += ms(10);
        let out = core.tick(now);
        if out.iter().any(|o| matches!(o, Output::Broadcast(GroupMessage::PreVote { .. }))) {
            for voter in voters {
                let granted = GroupMessage::PreVoteReply { term: 1, candidate: id(1), granted: true };
                core.handle(now, id(*voter), granted);
            }
        }
    }
    for voter in voters {
        core.handle(now, id(*voter), GroupMessage::Vote { term: 1, candidate: id(1), granted: true });
    }
    assert_eq!(core.role(), Role::Leader);
    (core, now)
}

#[test]
fn a_leader_holds_a_lease_only_from_a_quorum_acknowledged_heartbeat() {
    let (mut core, elected_at) = elected(3, &[2]);
    assert_eq!(core.lease_until(), None, "elected, but nobody acknowledged a heartbeat yet");
    let now = elected_at + ms(100);
    let out = core.tick(now);
    let (term, seq) = heartbeat(&out).expect("a heartbeat");
    core.handle(now + ms(3), id(2), GroupMessage::Ack { term, seq });
    let lease = GroupConfig::default().lease();
    assert_eq!(core.lease_until(), Some(now + lease), "from the heartbeat's send time, not the ack's arrival");
    assert!(lease < GroupConfig::default().election_min, "shorter than any election timeout");
    // An acknowledgement of a heartbeat never sent, or of another term, does nothing.
    core.handle(now + ms(4), id(3), GroupMessage::Ack { term, seq: seq + 100 });
    core.handle(now + ms(4), id(3), GroupMessage::Ack { term: term + 1, seq });
    assert_eq!(core.lease_until(), None, "a newer term deposes it");
}

#[test]
fn a_single_acknowledgement_of_two_needed_gives_no_lease() {
    let config = declared(5);
    let (mut core, mut now) = elected(5, &[2, 3]);
    now += ms(100);
    let (term, seq) = heartbeat(&core.tick(now)).unwrap();
    core.handle(now, id(2), GroupMessage::Ack { term, seq });
    assert_eq!(core.lease_until(), None, "a quorum of 5 is 3: the leader and two others");
    core.handle(now, id(2), GroupMessage::Ack { term, seq });
    assert_eq!(core.lease_until(), None, "the same member twice counts once");
    core.handle(now, id(3), GroupMessage::Ack { term, seq });
    assert_eq!(core.lease_until(), Some(now + config.lease()));
}

#[test]
fn an_acknowledgement_binds_a_follower_to_its_leader_for_the_election_timeout() {
    let config = declared(3);
    let (mut core, _) = GroupCore::new(id(3), config, "tcp://m3:1", 1, Duration::ZERO);
    // Up for a while: no promise from before a restart binds it any more.
    let mut now = config.election_min + ms(1);
    let out = core.handle(now, id(1), leader_message(1, 7));
    assert_eq!(ack(&out), Some((id(1), 1, 7)));
    // A leader of a newer term (elected meanwhile) is followed at once, but not acknowledged
    // until the promise to the first one has run out.
    now += ms(50);
    let out = core.handle(now, id(2), leader_message(2, 0));
    assert_eq!(core.leader(), Some(id(2)));
    assert_eq!(ack(&out), None, "bound to member 1 until {:?}", now - ms(50) + config.election_min);
    now += config.election_min;
    let out = core.handle(now, id(2), leader_message(2, 3));
    assert_eq!(ack(&out), Some((id(2), 2, 3)), "free again");
}

#[test]
fn a_member_just_started_acknowledges_no_leader_and_grants_no_vote() {
    let config = declared(3);
    let (mut core, _) = GroupCore::new(id(3), config, "tcp://m3:1", 1, Duration::ZERO);
    // It may have made a promise before it restarted, and forgotten it.
    let out = core.handle(ms(10), id(1), leader_message(1, 7));
    assert_eq!(core.leader(), Some(id(1)), "it follows");
    assert_eq!(ack(&out), None, "but does not acknowledge");
    let out = core.handle(config.election_min, id(1), leader_message(1, 8));
    assert_eq!(ack(&out), Some((id(1), 1, 8)));
}

#[test]
fn a_follower_that_hears_its_leader_ignores_a_candidates_newer_term() {
    let config = declared(3);
    let (mut core, _) = GroupCore::new(id(3), config, "tcp://m3:1", 1, Duration::ZERO);
    let now = config.election_min + ms(1);
    core.handle(now, id(1), leader_message(1, 0));
    // A candidate whose timer fired (it missed a heartbeat) asks for votes in term 2.
    let out = core.handle(now + ms(20), id(2), GroupMessage::RequestVote { term: 2 });
    assert!(out.is_empty(), "{out:?}");
    assert_eq!((core.term(), core.leader()), (1, Some(id(1))), "the leader is not deposed");
    // Once the leader has been silent for the shortest election timeout, it may vote.
    let later = now + config.election_min + ms(1);
    let out = core.handle(later, id(2), GroupMessage::RequestVote { term: 2 });
    assert!(
        out.contains(&Output::Broadcast(GroupMessage::Vote { term: 2, candidate: id(2), granted: true })),
        "{out:?}"
    );
}
