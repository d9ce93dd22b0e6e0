#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The quick, in-suite version of the `group_wire` fuzz target (`fuzz/`, see
//! `docs/fuzzing.md`): valid group frames (a port header of type `cohort.group` and a CBOR
//! envelope) of every protocol message and of application data, mutated at the byte level (bit
//! flips, truncation, inserted and deleted bytes, splices of two frames, overwritten bytes), are
//! received as a member's sockets receive them, and the messages that still decode are handed
//! to group cores.
//!
//! Nothing panics; a frame is refused with a reason, or decodes to an envelope that encodes back
//! to an equal one and is allowed on exactly one channel; cut or extended frames are refused;
//! and three members fed any of that garbage still elect one leader they all follow once the
//! garbage stops.
//!
//! Runs are reproducible (fixed seed unless `PROPTEST_RNG_SEED` is set; `PROPTEST_CASES`
//! replaces the case counts).

#[path = "../../tests/support/mutation.rs"]
mod mutation;

use mutation::{apply_all, config, mutations};

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Duration;

use cohort_groups::envelope::{channel_of, Body, Channel, Envelope, FRAME_TYPE};
use cohort_groups::*;
use cohort_ports::wire::{self, Flags, FrameError, MessageType};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------------------------
// Valid frames
// ---------------------------------------------------------------------------------------------

/// A member that is not one of the simulated ones.
fn stranger(n: u8) -> MemberId {
    [0xa0 + n; 16]
}

/// One frame as a member's sockets send it.
fn frame(seq: u64, envelope: &Envelope<'_>) -> Vec<u8> {
    let mut frame = Vec::new();
    wire::write_header(&mut frame, Flags::empty(), wire::type_id(FRAME_TYPE), seq);
    frame.extend_from_slice(&minicbor_serde::to_vec(envelope).unwrap());
    frame
}

/// Valid frames of every protocol message and of data, from strangers, made once.
fn valid() -> &'static [Vec<u8>] {
    static VALID: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    VALID.get_or_init(|| {
        let vote = VoteId { requester: stranger(1), number: 77 };
        let value = Subject::Value(b"42 kW".to_vec());
        let action = Subject::Action { action: b"switch".to_vec(), at_us: 1_700_000_000_000_000 };
        let messages = [
            GroupMessage::Alive { term: 3 },
            GroupMessage::Leave,
            GroupMessage::PreVote { term: 4 },
            GroupMessage::PreVoteReply { term: 4, candidate: stranger(2), granted: true },
            GroupMessage::RequestVote { term: 4 },
            GroupMessage::Vote { term: 4, candidate: stranger(2), granted: false },
            GroupMessage::Leader { term: 4, endpoint: "tcp://10.0.0.2:4000".into(), seq: 1, members: Vec::new() },
            GroupMessage::ToLeader { payload: b"report".to_vec() },
            GroupMessage::FromLeader { term: 4, payload: b"correction".to_vec() },
            GroupMessage::ProposeVote { vote, subject: action.clone(), kind: VoteKind::Consensus, timeout_us: 500_000 },
            GroupMessage::CallVote { term: 4, vote, subject: value.clone(), kind: VoteKind::Majority },
            GroupMessage::Ballot { vote, yes: true },
            GroupMessage::Announce { term: 4, vote, subject: action, outcome: Outcome::Timeout },
        ];
        let mut frames: Vec<Vec<u8>> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let from = stranger(u8::try_from(i % 3).unwrap());
                frame(i as u64, &Envelope { from, body: Body::Control(Cow::Borrowed(m)) })
            })
            .collect();
        frames.push(frame(99, &Envelope { from: stranger(0), body: Body::Data(Cow::Borrowed(b"\x00data\xff")) }));
        frames
    })
}

fn frame_type() -> MessageType {
    MessageType::new(FRAME_TYPE)
}

/// Receives `bytes` as a member's socket does: refused with a reason, or an envelope that
/// encodes back to an equal one and is allowed on exactly one channel.
fn receive(bytes: &[u8]) -> Result<Result<Envelope<'static>, FrameError>, TestCaseError> {
    let received = wire::decode_for_fuzz::<Envelope<'static>>(bytes, &frame_type());
    match &received {
        Ok((_, envelope)) => {
            let again = wire::decode_for_fuzz::<Envelope<'static>>(&frame(0, envelope), &frame_type());
            let again = again.map(|(_, e)| e);
            prop_assert_eq!(again.as_ref(), Ok(envelope));
            let channels = [Channel::Mesh, Channel::ToLeader, Channel::FromLeader];
            let allowed: Vec<Channel> = channels.into_iter().filter(|c| envelope.body.allowed_on(*c)).collect();
            let expected = match &envelope.body {
                Body::Data(_) => Channel::Mesh,
                Body::Control(message) => channel_of(message),
            };
            prop_assert_eq!(allowed, vec![expected]);
        }
        Err(e) => prop_assert!(!e.to_string().is_empty()),
    }
    Ok(received.map(|(_, envelope)| envelope))
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Bytes that mean something in CBOR (major types, lengths, break, floats).
const INTERESTING: &[u8] =
    &[0x00, 0x01, 0x10, 0x17, 0x18, 0x1b, 0x1f, 0x3f, 0x50, 0x5f, 0x7f, 0x9f, 0xa1, 0xbf, 0xf5, 0xff];

/// A valid frame with one to four mutations.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), mutations(INTERESTING, 10)).prop_map(|(which, mutations)| {
        apply_all(which.get(valid()).clone(), &mutations, &|i: &Index| i.get(valid()).as_slice())
    })
}

// ---------------------------------------------------------------------------------------------
// Three members on a perfect network
// ---------------------------------------------------------------------------------------------

fn member(i: usize) -> MemberId {
    [u8::try_from(i + 1).unwrap(); 16]
}

/// Members exchanging messages instantly, time jumping from deadline to deadline.
struct Net {
    cores: Vec<GroupCore>,
    /// Sender, recipient (None: everyone) and message.
    queue: VecDeque<(usize, Option<MemberId>, GroupMessage)>,
    now: Duration,
}

impl Net {
    fn new(n: usize) -> Net {
        let mut net = Net { cores: Vec::new(), queue: VecDeque::new(), now: Duration::ZERO };
        for i in 0..n {
            let (core, out) = GroupCore::new(member(i), GroupConfig::default(), &format!("tcp://m{i}:1"), 7, net.now);
            net.cores.push(core);
            net.absorb(i, out);
        }
        net
    }

    fn absorb(&mut self, from: usize, out: Vec<Output>) {
        for output in out {
            match output {
                Output::Broadcast(m) => self.queue.push_back((from, None, m)),
                Output::ToLeader { leader: to, message } | Output::ToMember { member: to, message } => {
                    self.queue.push_back((from, Some(to), message))
                }
                Output::Event(Event::VoteCalled { vote, .. }) => {
                    // Members vote yes at once; the ballot may go nowhere (no leader to take it).
                    if let Ok(more) = self.cores[from].cast_vote(self.now, vote, true) {
                        self.absorb(from, more);
                    }
                }
                _ => {}
            }
        }
    }

    /// Hands every member a message from someone outside the simulation.
    fn inject(&mut self, from: MemberId, message: &GroupMessage) {
        for i in 0..self.cores.len() {
            let out = self.cores[i].handle(self.now, from, message.clone());
            self.absorb(i, out);
        }
    }

    fn deliver(&mut self) {
        while let Some((from, recipient, message)) = self.queue.pop_front() {
            for to in (0..self.cores.len()).filter(|to| *to != from && recipient.is_none_or(|r| r == member(*to))) {
                let out = self.cores[to].handle(self.now, member(from), message.clone());
                self.absorb(to, out);
            }
        }
    }

    fn run_until(&mut self, end: Duration) {
        self.deliver();
        while self.now < end {
            let next = self.cores.iter().map(GroupCore::next_deadline).min().unwrap();
            self.now = next.max(self.now + Duration::from_micros(100)).min(end);
            for i in 0..self.cores.len() {
                if self.cores[i].next_deadline() <= self.now {
                    let out = self.cores[i].tick(self.now);
                    self.absorb(i, out);
                }
            }
            self.deliver();
        }
    }

    /// The leader every member follows, if they all follow the same one and it leads.
    fn agreed_leader(&self) -> Option<MemberId> {
        let leader = self.cores[0].leader()?;
        let all_follow = self.cores.iter().all(|c| c.leader() == Some(leader));
        let leads = self.cores.iter().filter(|c| c.role() == Role::Leader).map(GroupCore::id).collect::<Vec<_>>();
        (all_follow && leads == [leader]).then_some(leader)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_frames_are_received() {
    for bytes in valid() {
        assert!(receive(bytes).unwrap().is_ok());
    }
    let mut net = Net::new(3);
    net.run_until(Duration::from_secs(3));
    assert!(net.agreed_leader().is_some(), "three members without garbage elect");
}

/// Regression: a member that heard a term of `u64::MAX` (one damaged or hostile frame is enough)
/// panicked with an overflow at its next election timeout (`term + 1` when asking for
/// pre-votes), or, in a release build, wrapped to term 0 and could never be elected again. Now
/// it cannot stand (there is no next term) and stays a follower; one term below the end, a
/// group still elects once, in the last term.
#[test]
fn the_last_term_does_not_overflow() {
    let last = GroupMessage::Alive { term: u64::MAX };
    let bytes = frame(0, &Envelope { from: stranger(0), body: Body::Control(Cow::Borrowed(&last)) });
    let Ok(Envelope { from, body: Body::Control(message) }) = receive(&bytes).unwrap() else {
        panic!("the frame decodes");
    };
    let (mut core, _) = GroupCore::new(member(0), GroupConfig::default(), "tcp://m0:1", 7, Duration::ZERO);
    core.handle(Duration::ZERO, from, message.into_owned());
    assert_eq!(core.term(), u64::MAX);
    for ms in 1..3000 {
        let out = core.tick(Duration::from_millis(ms));
        assert!(!out.iter().any(|o| matches!(o, Output::Broadcast(GroupMessage::PreVote { .. }))), "{out:?}");
    }
    // A pre-vote reply for the term after the last one (which cannot be asked for) is ignored.
    let reply = GroupMessage::PreVoteReply { term: 0, candidate: member(0), granted: true };
    core.handle(Duration::from_secs(3), stranger(1), reply);
    assert_eq!((core.term(), core.role()), (u64::MAX, Role::Follower));

    // Three members one term below the end elect a leader in the last term.
    let mut net = Net::new(3);
    net.inject(stranger(0), &GroupMessage::Alive { term: u64::MAX - 1 });
    net.run_until(Duration::from_secs(5));
    let leader = net.agreed_leader().expect("a leader in the last term");
    assert!(net.cores.iter().all(|c| c.term() == u64::MAX), "{leader:?}");
}

proptest! {
    #![proptest_config(config(500, 0x00c0_4047_f025))]

    /// Mutated frames are refused or decode to sound envelopes, never panic.
    #[test]
    fn mutated_frames_are_refused_or_sound(bytes in mutated()) {
        receive(&bytes)?.ok();
    }

    /// A frame cut short, or with bytes after its envelope, is refused.
    #[test]
    fn cut_and_extended_frames_are_refused(
        which in any::<Index>(),
        at in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let bytes = which.get(valid());
        prop_assert!(receive(&bytes[..at.index(bytes.len())])?.is_err());
        let mut extended = bytes.clone();
        extended.extend_from_slice(&extra);
        prop_assert!(matches!(receive(&extended)?, Err(FrameError::Payload(m)) if m.contains("trailing")));
    }
}

proptest! {
    #![proptest_config(config(200, 0x00c0_4047_f025))]

    /// Three members hear garbage for a while (every message that still decodes, from whoever
    /// it claims to be from), then only each other: within 10 s they agree on one leader.
    #[test]
    fn members_still_elect_after_garbage(garbage in prop::collection::vec((mutated(), 0..50u64), 1..24)) {
        let mut net = Net::new(3);
        for (bytes, wait_ms) in &garbage {
            net.run_until(net.now + Duration::from_millis(*wait_ms));
            if let Ok(Envelope { from, body: Body::Control(message) }) = receive(bytes)? {
                net.inject(from, &message);
                net.deliver();
            }
        }
        net.run_until(net.now + Duration::from_secs(10));
        prop_assert!(net.agreed_leader().is_some(), "no agreed leader: {:?}",
            net.cores.iter().map(|c| (c.role(), c.term(), c.leader().map(|l| l[0]))).collect::<Vec<_>>());
    }
}
