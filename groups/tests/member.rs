#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Group members over real ZeroMQ sockets on tcp loopback, each with its own port factory (its
//! own ZeroMQ context, as separate actor processes have), wired into a mesh by hand (every
//! member's gsub is given every member's gpub, its own included, as discovery would). One test
//! thread drives all members of a test: it polls their sockets until the earliest
//! `next_deadline`, and keeps going until the condition it waits for holds (never sleeping
//! blindly), failing after [`WAIT`].

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use cohort_groups::envelope::{Body, DataFrame, Envelope, FRAME_TYPE};
use cohort_groups::*;
use cohort_ports::wire::{self, Flags};
use cohort_ports::{Addressing, Endpoint, Interface, PortFactory, Security, SocketOptions};

/// How long a test waits for anything it expects before failing.
const WAIT: Duration = Duration::from_secs(10);

/// Heartbeat 50 ms: elections in 150–250 ms, peer timeout 500 ms, votes 500 ms.
fn config() -> GroupConfig {
    GroupConfig::default().with_heartbeat(Duration::from_millis(50))
}

fn factory(dir: &std::path::Path, actor: &str) -> PortFactory {
    let addressing =
        Addressing::with_runtime_dir(&Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST)), dir, actor).unwrap();
    PortFactory::new(
        addressing,
        SocketOptions::default(),
        Security::None,
        slog::Logger::root(slog::Discard, slog::o!()),
    )
    .unwrap()
}

fn key() -> GroupKey {
    GroupKey { app: "Test".into(), group_type: "G".into(), instance: "one".into(), message: "Msg".into() }
}

/// The events of one `poll_with`, as `poll` would have returned them: each lent message's
/// bytes and sender are checked against the event it makes.
fn poll_lent(member: &mut GroupMember) -> Vec<GroupEvent> {
    let mut events = Vec::new();
    member.poll_with(Instant::now(), |delivery| match delivery {
        Delivery::Message(message) => {
            let (from, bytes) = (message.from(), message.as_bytes().to_vec());
            let event = message.into_event();
            assert!(
                matches!(&event, GroupEvent::Message { from: f, payload } if *f == from && payload.as_bytes() == bytes)
            );
            events.push(event);
        }
        Delivery::Event(event) => {
            assert!(!matches!(event, GroupEvent::Message { .. }), "a group message as an event: {event:?}");
            events.push(event);
        }
    });
    events
}

/// The members of one group in one test, and everything each one reported (with when).
struct Group {
    members: Vec<Option<GroupMember>>,
    events: Vec<Vec<(SystemTime, GroupEvent)>>,
    /// Cast this ballot on every vote called, as soon as it is called.
    auto_vote: Option<bool>,
    /// Poll with `GroupMember::poll_with` (group messages lent, checked, then kept as events)
    /// instead of `GroupMember::poll`.
    lend: bool,
    dir: PathBuf,
    // Declared after the members, so they close first.
    _factories: Vec<PortFactory>,
}

impl Drop for Group {
    fn drop(&mut self) {
        self.members.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Group {
    fn new(test: &str, n: usize, config: GroupConfig) -> Group {
        let dir = std::env::temp_dir().join(format!("cohort-gm-{}-{test}", std::process::id()));
        let factories: Vec<PortFactory> = (0..n).map(|i| factory(&dir, &format!("A{i}"))).collect();
        let members: Vec<GroupMember> = factories
            .iter()
            .map(|f| GroupMember::join(f, key(), config, slog::Logger::root(slog::Discard, slog::o!())).unwrap())
            .collect();
        let endpoints: Vec<Endpoint> = members.iter().map(|m| m.publisher_endpoint().clone()).collect();
        let mut members: Vec<Option<GroupMember>> = members.into_iter().map(Some).collect();
        for m in members.iter_mut().flatten() {
            for e in &endpoints {
                m.add_peer(e).unwrap();
            }
        }
        Group { members, events: vec![Vec::new(); n], auto_vote: None, lend: false, dir, _factories: factories }
    }

    fn m(&mut self, i: usize) -> &mut GroupMember {
        self.members[i].as_mut().expect("a live member")
    }

    fn id(&self, i: usize) -> MemberId {
        self.members[i].as_ref().expect("a live member").id()
    }

    fn live(&self) -> impl Iterator<Item = (usize, &GroupMember)> {
        self.members.iter().enumerate().filter_map(|(i, m)| m.as_ref().map(|m| (i, m)))
    }

    /// Polls every live member once (casting automatic ballots), then waits until a socket is
    /// readable or the earliest deadline comes, at most `max`.
    fn step(&mut self, max: Duration) {
        for i in 0..self.members.len() {
            let Some(member) = self.members[i].as_mut() else { continue };
            let events = if self.lend { poll_lent(member) } else { member.poll(Instant::now()) };
            for event in events {
                if let (Some(yes), GroupEvent::VoteRequested { vote, .. }) = (self.auto_vote, &event) {
                    // The vote may have ended already (the others' ballots decided it while
                    // this member's own VoteRequested waited for this poll): then it is unknown.
                    match member.cast_vote(*vote, yes) {
                        Ok(()) | Err(GroupError::Command(CommandError::UnknownVote)) => {}
                        Err(e) => panic!("voting: {e}"),
                    }
                }
                self.events[i].push((SystemTime::now(), event));
            }
        }
        let now = Instant::now();
        let wake = self.live().map(|(_, m)| m.next_deadline()).min().map_or(now + max, |d| d.min(now + max));
        let wait = i64::try_from(wake.saturating_duration_since(now).as_millis()).unwrap() + 1;
        let wait = if wake <= now { 0 } else { wait };
        let sockets: Vec<&zmq::Socket> = self.live().flat_map(|(_, m)| m.sockets()).collect();
        let mut items: Vec<zmq::PollItem<'_>> = sockets.iter().map(|s| s.as_poll_item(zmq::POLLIN)).collect();
        match zmq::poll(&mut items, wait) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => panic!("poll failed: {e}"),
        }
    }

    /// Runs the members until `done` holds; fails the test after [`WAIT`].
    fn run_until(&mut self, what: &str, mut done: impl FnMut(&Group) -> bool) {
        let give_up = Instant::now() + WAIT;
        loop {
            self.step(give_up.saturating_duration_since(Instant::now()));
            if done(self) {
                return;
            }
            assert!(Instant::now() < give_up, "{what}: not within {WAIT:?}\n{}", self.describe());
        }
    }

    /// The member every live member follows, when exactly one live member leads.
    fn agreed_leader(&self) -> Option<usize> {
        let leaders: Vec<usize> =
            self.live().filter(|(_, m)| m.core().role() == Role::Leader).map(|(i, _)| i).collect();
        let [leader] = leaders[..] else { return None };
        let id = self.id(leader);
        self.live().all(|(_, m)| m.core().leader() == Some(id)).then_some(leader)
    }

    /// Waits for one leader that all live members know and follow; returns it.
    fn elect(&mut self) -> usize {
        self.run_until("one leader known to all", |g| {
            g.agreed_leader().is_some_and(|l| {
                let id = g.id(l);
                g.live().all(|(i, m)| m.following() == if i == l { None } else { Some(id) })
            })
        });
        self.agreed_leader().unwrap()
    }

    /// Waits until every live member knows every live member.
    fn mesh_up(&mut self) {
        self.run_until("every member knows every member", |g| {
            let n = g.live().count();
            g.live().all(|(_, m)| m.core().members().len() == n)
        });
    }

    fn has(&self, i: usize, want: impl Fn(&GroupEvent) -> bool) -> bool {
        self.events[i].iter().any(|(_, e)| want(e))
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.live() {
            let c = m.core();
            out += &format!(
                "member {i}: {:?} term {} leader {:?} following {:?} knows {} stats {:?}\n",
                c.role(),
                c.term(),
                c.leader().map(|l| self.index_of(l)),
                m.following().map(|l| self.index_of(l)),
                c.members().len(),
                m.stats()
            );
        }
        out
    }

    fn index_of(&self, id: MemberId) -> String {
        self.live().find(|(_, m)| m.id() == id).map_or_else(|| "gone".to_owned(), |(i, _)| i.to_string())
    }

    fn others(&self, of: usize) -> Vec<usize> {
        self.live().map(|(i, _)| i).filter(|i| *i != of).collect()
    }
}

fn is_message(e: &GroupEvent, from: MemberId, payload: &[u8]) -> bool {
    matches!(e, GroupEvent::Message { from: f, payload: p } if *f == from && p.as_bytes() == payload)
}

fn is_to_leader(e: &GroupEvent, from: MemberId, payload: &[u8]) -> bool {
    matches!(e, GroupEvent::MessageToLeader { from: f, payload: p } if *f == from && p.as_bytes() == payload)
}

fn is_from_leader(e: &GroupEvent, leader: MemberId, payload: &[u8]) -> bool {
    matches!(e, GroupEvent::MessageFromLeader { leader: l, payload: p } if *l == leader && p.as_bytes() == payload)
}

fn ended(e: &GroupEvent, vote: VoteId) -> Option<Outcome> {
    match e {
        GroupEvent::VoteResult { vote: v, outcome, .. } if *v == vote => Some(*outcome),
        _ => None,
    }
}

#[test]
fn three_members_elect_one_leader_known_to_all() {
    let mut g = Group::new("elect3", 3, config());
    let leader = g.elect();
    let id = g.id(leader);
    assert_eq!(g.live().filter(|(_, m)| m.core().role() == Role::Leader).count(), 1);
    // The leader hears of it once a quorum acknowledged it: then its lease holds.
    g.run_until("the leader told it leads", |g| g.has(leader, |e| *e == GroupEvent::LeaderElected(id)));
    assert!(g.m(leader).is_leader(), "a lease right after the acknowledgements");
    assert!(g.live().filter(|(i, _)| *i != leader).all(|(_, m)| !m.is_leader()));
    for i in 0..3 {
        assert!(g.has(i, |e| *e == GroupEvent::LeaderElected(id)), "member {i} was told");
        assert_eq!(g.members[i].as_ref().unwrap().core().members().len(), 3);
    }
    let term = g.m(leader).core().term();
    assert!(g.live().all(|(_, m)| m.core().term() == term));
}

#[test]
fn two_members_elect_a_leader() {
    let mut g = Group::new("elect2", 2, config());
    let leader = g.elect();
    let other = 1 - leader;
    let id = g.id(leader);
    assert_eq!(g.m(other).following(), Some(id));
}

#[test]
fn group_messages_reach_the_others_but_not_the_sender() {
    let mut g = Group::new("pubsub", 3, config());
    g.mesh_up();
    let (a, b) = (g.id(0), g.id(1));
    g.m(0).send(b"hello").unwrap();
    g.run_until("member 0's message at 1 and 2", |g| {
        g.has(1, |e| is_message(e, a, b"hello")) && g.has(2, |e| is_message(e, a, b"hello"))
    });
    // Member 0 is subscribed to 1 (and to itself, which add_peer ignored): 1's message reaches
    // it, its own never does.
    g.m(1).send(b"back").unwrap();
    g.run_until("member 1's message at 0 and 2", |g| {
        g.has(0, |e| is_message(e, b, b"back")) && g.has(2, |e| is_message(e, b, b"back"))
    });
    assert!(!g.has(0, |e| matches!(e, GroupEvent::Message { from, .. } if *from == a)), "0 heard itself");
    assert!(!g.has(1, |e| matches!(e, GroupEvent::Message { from, .. } if *from == b)), "1 heard itself");
    let messages = |i: usize| g.events[i].iter().filter(|(_, e)| matches!(e, GroupEvent::Message { .. })).count();
    assert_eq!((messages(0), messages(1), messages(2)), (1, 1, 2));
    assert_eq!(g.m(0).stats(), MemberStats::default());
}

/// Group messages arrive whole at every size: copied into their events when small, kept in the
/// message they came in when larger.
#[test]
fn group_messages_of_every_size_arrive_whole() {
    messages_of_every_size_arrive_whole(false);
}

/// The same through `poll_with`: every message lent in order with the other events (the joins
/// `mesh_up` waits for); made events, they are what `poll` gives.
#[test]
fn lent_group_messages_arrive_whole_and_in_order() {
    messages_of_every_size_arrive_whole(true);
}

fn messages_of_every_size_arrive_whole(lend: bool) {
    let mut g = Group::new(if lend { "sizes-lent" } else { "sizes" }, 2, config());
    g.lend = lend;
    g.mesh_up();
    let a = g.id(0);
    let sizes = [0, 1, 63, 64, 72, 73, 200, 1000, 70_000];
    let payloads: Vec<Vec<u8>> = sizes.iter().map(|&n| (0..n).map(|i| (i % 251) as u8).collect()).collect();
    for payload in &payloads {
        g.m(0).send(payload).unwrap();
    }
    g.run_until("every size at member 1", |g| payloads.iter().all(|p| g.has(1, |e| is_message(e, a, p))));
    let got: Vec<&[u8]> = g.events[1]
        .iter()
        .filter_map(|(_, e)| match e {
            GroupEvent::Message { payload, .. } => Some(payload.as_bytes()),
            _ => None,
        })
        .collect();
    assert_eq!(got, payloads, "in order, each once");
}

#[test]
fn leader_messages_reach_the_leader_and_only_the_member_addressed() {
    let mut g = Group::new("leader_msgs", 3, config());
    let l = g.elect();
    let [x, y] = g.others(l)[..] else { panic!("two followers") };
    let (lid, xid, yid) = (g.id(l), g.id(x), g.id(y));
    g.m(x).send_to_leader(b"from x").unwrap();
    g.m(y).send_to_leader(b"from y").unwrap();
    g.run_until("both messages at the leader", |g| {
        g.has(l, |e| is_to_leader(e, xid, b"from x")) && g.has(l, |e| is_to_leader(e, yid, b"from y"))
    });
    // Only the leader hears messages to the leader.
    assert!(!g.has(x, |e| is_to_leader(e, yid, b"from y")) && !g.has(y, |e| is_to_leader(e, xid, b"from x")));

    // Both followers are connected to the leader now (it heard them): it can address each.
    g.m(l).send_to_member(xid, b"to x").unwrap();
    g.m(l).send_to_member(yid, b"to y").unwrap();
    g.run_until("each follower's message", |g| {
        g.has(x, |e| is_from_leader(e, lid, b"to x")) && g.has(y, |e| is_from_leader(e, lid, b"to y"))
    });
    assert!(!g.has(x, |e| is_from_leader(e, lid, b"to y")) && !g.has(y, |e| is_from_leader(e, lid, b"to x")));
    assert!(!g.has(l, |e| matches!(e, GroupEvent::MessageFromLeader { .. })));

    // The leader to itself, both ways: delivered by the next poll.
    g.m(l).send_to_leader(b"self").unwrap();
    g.m(l).send_to_member(lid, b"me").unwrap();
    assert!(g.m(l).next_deadline() <= Instant::now());
    g.run_until("the leader's messages to itself", |g| {
        g.has(l, |e| is_to_leader(e, lid, b"self")) && g.has(l, |e| is_from_leader(e, lid, b"me"))
    });
    // Only the leader may address members.
    assert!(matches!(g.m(x).send_to_member(yid, b"no"), Err(GroupError::Command(CommandError::NotLeader))));
}

#[test]
fn a_majority_vote_where_all_say_yes_ends_yes_on_every_member() {
    let mut g = Group::new("vote", 3, config());
    g.auto_vote = Some(true);
    let l = g.elect();
    let f = g.others(l)[0];
    let from_follower = g.m(f).request_vote(b"value", VoteKind::Majority, None).unwrap();
    let from_leader = g.m(l).request_vote(b"other", VoteKind::Majority, Some(Duration::from_secs(2))).unwrap();
    g.run_until("both votes ended on every member", |g| {
        (0..3).all(|i| {
            [from_follower, from_leader].iter().all(|v| g.events[i].iter().any(|(_, e)| ended(e, *v).is_some()))
        })
    });
    for i in 0..3 {
        for (vote, value) in [(from_follower, &b"value"[..]), (from_leader, &b"other"[..])] {
            let outcomes: Vec<Outcome> = g.events[i].iter().filter_map(|(_, e)| ended(e, vote)).collect();
            assert_eq!(outcomes, vec![Outcome::Yes], "member {i}, vote {vote:?}: ended once, yes");
            assert!(g.has(i, |e| matches!(e,
                GroupEvent::VoteRequested { vote: v, subject: VoteSubject::Value(s), kind: VoteKind::Majority }
                    if *v == vote && s.as_bytes() == value)));
        }
    }
    // A vote that was never called cannot be voted in.
    let bogus = VoteId { requester: g.id(f), number: 12345 };
    assert!(matches!(g.m(f).cast_vote(bogus, true), Err(GroupError::Command(CommandError::UnknownVote))));
}

#[test]
fn an_agreed_action_is_due_on_every_member_at_its_time() {
    let mut g = Group::new("action", 3, config());
    g.auto_vote = Some(true);
    let l = g.elect();
    let f = g.others(l)[0];
    let at = SystemTime::now() + Duration::from_millis(300);
    let vote = g.m(f).request_action_vote(b"fire", at, VoteKind::Consensus, Some(Duration::from_secs(2))).unwrap();
    g.run_until("the action due on every member", |g| {
        (0..3).all(|i| g.has(i, |e| matches!(e, GroupEvent::ActionDue { vote: v, .. } if *v == vote)))
    });
    for i in 0..3 {
        let events = &g.events[i];
        let ended_at = events.iter().position(|(_, e)| ended(e, vote) == Some(Outcome::Yes)).expect("vote ended yes");
        let due_at = events.iter().position(|(_, e)| matches!(e, GroupEvent::ActionDue { .. })).unwrap();
        assert!(ended_at < due_at, "member {i}: the vote's end comes first");
        let (seen, GroupEvent::ActionDue { action, late, .. }) = &events[due_at] else { unreachable!() };
        assert_eq!(action.as_bytes(), b"fire");
        assert!(*seen >= at, "member {i}: due {:?} before its time", at.duration_since(*seen).unwrap());
        assert!(*late < Duration::from_secs(1), "member {i}: {late:?} late");
        assert_eq!(events.iter().filter(|(_, e)| matches!(e, GroupEvent::ActionDue { .. })).count(), 1);
    }
    // An action in the past is due at once, marked late.
    let past = SystemTime::now() - Duration::from_millis(500);
    let vote = g.m(l).request_action_vote(b"late", past, VoteKind::Majority, None).unwrap();
    g.run_until("the late action on every member", |g| {
        (0..3).all(|i| {
            g.has(i, |e| {
                matches!(e, GroupEvent::ActionDue { vote: v, late, .. }
                    if *v == vote && *late >= Duration::from_millis(500))
            })
        })
    });
    assert!(matches!(
        g.m(f).request_action_vote(b"x", SystemTime::UNIX_EPOCH - Duration::from_secs(1), VoteKind::Majority, None),
        Err(GroupError::TimeBeforeEpoch)
    ));
}

/// The leader goes (`leave` or a crash); the others elect another, and their DEALERs follow it.
fn leader_replaced(test: &str, crash: bool) {
    let mut g = Group::new(test, 3, config());
    let old = g.elect();
    let old_id = g.id(old);
    let member = g.members[old].take().unwrap();
    if crash {
        drop(member);
    } else {
        member.leave();
    }
    let new = g.elect();
    let new_id = g.id(new);
    assert_ne!(new_id, old_id);
    let f = g.others(new)[0];
    let fid = g.id(f);
    assert_eq!(g.m(f).following(), Some(new_id));
    for i in g.others(old) {
        assert!(g.has(i, |e| *e == GroupEvent::LeaderExited(old_id)), "member {i} saw the leader go");
    }
    g.m(f).send_to_leader(b"to the new leader").unwrap();
    g.run_until("the message at the new leader", |g| g.has(new, |e| is_to_leader(e, fid, b"to the new leader")));
    g.m(new).send_to_member(fid, b"welcome").unwrap();
    g.run_until("the new leader's answer", |g| g.has(f, |e| is_from_leader(e, new_id, b"welcome")));
}

#[test]
fn a_leader_that_leaves_is_replaced_and_followed() {
    leader_replaced("leave", false);
}

#[test]
fn a_crashed_leader_is_replaced_and_followed() {
    leader_replaced("crash", true);
}

/// A Cohort frame of `type_name` carrying `payload`.
fn frame(type_name: &str, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_header(&mut out, flags, wire::type_id(type_name), 1);
    out.extend_from_slice(payload);
    out
}

/// A bare frame (what members send group messages in): the ports' tag, then `bytes`.
fn bare(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![wire::BARE_TAG];
    out.extend_from_slice(bytes);
    out
}

fn envelope_frame(from: MemberId, body: Body<'_>) -> Vec<u8> {
    frame(FRAME_TYPE, Flags::empty(), &minicbor_serde::to_vec(Envelope { from, body }).unwrap())
}

/// Frames no member may act on: not Cohort frames, of another type, not CBOR, not an envelope.
fn junk() -> Vec<Vec<u8>> {
    let mut noise = vec![0u8; 200];
    let mut x: u32 = 0x1234_5678;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x.to_le_bytes()[0];
    }
    vec![
        Vec::new(),
        vec![0],
        noise.clone(),
        frame("Other", Flags::empty(), &minicbor_serde::to_vec(1u8).unwrap()),
        frame(FRAME_TYPE, Flags::empty(), &noise),
        frame(FRAME_TYPE, Flags::RAW, b"raw bytes"),
        // A data frame cut short inside its sender id, in both forms; a bare frame of nothing,
        // and one with another tag than a data frame's.
        frame(FRAME_TYPE, Flags::RAW, &DataFrame { from: [7; 16], payload: b"" }.encode()[..9]),
        bare(&DataFrame { from: [7; 16], payload: b"" }.encode()[..9]),
        bare(b""),
        bare(&[0x02; 40]),
        frame(FRAME_TYPE, Flags::empty(), &minicbor_serde::to_vec("a string").unwrap()),
        frame(FRAME_TYPE, Flags::empty(), &[0x9f; 64]),
    ]
}

#[test]
fn garbage_is_dropped_and_the_members_keep_working() {
    garbage_is_dropped(false);
}

/// The same, polled with `poll_with`: what it lends is what `poll` returns.
#[test]
fn garbage_is_dropped_and_the_members_keep_working_lending() {
    garbage_is_dropped(true);
}

fn garbage_is_dropped(lend: bool) {
    let mut g = Group::new(if lend { "garbage-lent" } else { "garbage" }, 3, config());
    g.lend = lend;
    let l = g.elect();
    let [x, y] = g.others(l)[..] else { panic!("two followers") };
    let (lid, xid, yid) = (g.id(l), g.id(x), g.id(y));
    let ctx = zmq::Context::new();

    // A stray publisher every member subscribes to.
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let stray = Endpoint::parse(&publisher.get_last_endpoint().unwrap().unwrap()).unwrap();
    for i in 0..3 {
        g.m(i).add_peer(&stray).unwrap();
    }
    let mut on_mesh = junk();
    // Well-formed envelopes that do not belong on the mesh: a member → leader message, a
    // leader → member message, and (at the leader only) one claiming to come from itself.
    let control = |from, message| envelope_frame(from, Body::Control(Cow::Owned(message)));
    on_mesh.push(control(xid, GroupMessage::ToLeader { payload: b"no".to_vec() }));
    on_mesh.push(control(lid, GroupMessage::FromLeader { term: 1, payload: b"no".to_vec() }));
    on_mesh.push(control(lid, GroupMessage::Alive { term: 0 }));
    let give_up = Instant::now() + WAIT;
    while !(0..3).all(|i| g.members[i].as_ref().unwrap().stats().refused >= 7) {
        assert!(Instant::now() < give_up, "the junk never arrived\n{}", g.describe());
        for f in &on_mesh {
            publisher.send(&f[..], 0).unwrap();
        }
        publisher.send_multipart([&b"two"[..], &b"parts"[..]], 0).unwrap();
        g.step(Duration::from_millis(10));
    }
    g.run_until("every mesh frame handled", |g| {
        g.live().all(|(i, m)| m.stats().rejected >= if i == l { 3 } else { 2 })
    });

    // A stray DEALER talking to the leader's ROUTER.
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_identity(b"stray-dealer-001").unwrap();
    dealer.connect(g.m(l).hub_endpoint().as_str()).unwrap();
    for f in junk() {
        dealer.send(&f[..], 0).unwrap();
    }
    dealer.send_multipart([&b"two"[..], &b"parts"[..]], 0).unwrap();
    // Envelopes claiming another sender than the routing id, or on the wrong socket.
    let to_leader = GroupMessage::ToLeader { payload: b"spoofed".to_vec() };
    dealer.send(envelope_frame(xid, Body::Control(Cow::Borrowed(&to_leader))), 0).unwrap();
    let stray_id: MemberId = *b"stray-dealer-001";
    dealer.send(envelope_frame(stray_id, Body::Data(Cow::Borrowed(b"data to the leader"))), 0).unwrap();
    dealer.send(envelope_frame(stray_id, Body::Control(Cow::Owned(GroupMessage::Alive { term: 99 }))), 0).unwrap();
    let before = g.m(l).stats();
    g.run_until("the stray DEALER's frames dropped", |g| {
        let now = g.members[l].as_ref().unwrap().stats();
        now.refused >= before.refused + 9 && now.rejected >= before.rejected + 3
    });
    assert!(!g.has(l, |e| is_to_leader(e, xid, b"spoofed")), "a spoofed sender got through");
    assert!(g.live().all(|(_, m)| m.core().term() < 99 && m.core().members().len() == 3));
    for i in 0..3 {
        assert!(!g.has(i, |e| matches!(e, GroupEvent::Message { .. })), "member {i} surfaced junk");
    }

    // A data frame claiming to come from the leader: the leader rejects it (a member never
    // gets its own messages); the followers take it, in place.
    let forged = bare(&DataFrame { from: lid, payload: b"forged" }.encode());
    let before = g.m(l).stats().rejected;
    g.run_until("the leader's own data frame rejected", |g| {
        publisher.send(&forged[..], 0).unwrap();
        g.members[l].as_ref().unwrap().stats().rejected > before
    });
    g.run_until("the followers took it", |g| {
        g.has(x, |e| is_message(e, lid, b"forged")) && g.has(y, |e| is_message(e, lid, b"forged"))
    });
    assert!(!g.has(l, |e| matches!(e, GroupEvent::Message { .. })), "the leader got its own message");
    // The earlier form of a data frame, a port frame's raw payload, is still taken.
    let earlier = frame(FRAME_TYPE, Flags::RAW, &DataFrame { from: lid, payload: b"earlier" }.encode());
    g.run_until("the followers took the earlier form", |g| {
        publisher.send(&earlier[..], 0).unwrap();
        g.has(x, |e| is_message(e, lid, b"earlier")) && g.has(y, |e| is_message(e, lid, b"earlier"))
    });
    // And so is the earliest, a CBOR envelope.
    let envelope = envelope_frame(lid, Body::Data(Cow::Borrowed(b"earliest")));
    g.run_until("the followers took the earliest form", |g| {
        publisher.send(&envelope[..], 0).unwrap();
        g.has(x, |e| is_message(e, lid, b"earliest")) && g.has(y, |e| is_message(e, lid, b"earliest"))
    });

    // Everything still works.
    g.m(x).send(b"still here").unwrap();
    g.m(y).send_to_leader(b"and here").unwrap();
    g.run_until("messages after the junk", |g| {
        g.has(l, |e| is_message(e, xid, b"still here"))
            && g.has(y, |e| is_message(e, xid, b"still here"))
            && g.has(l, |e| is_to_leader(e, yid, b"and here"))
    });
    assert_eq!(g.agreed_leader(), Some(l));
}

#[test]
fn joining_with_inconsistent_timing_fails() {
    let dir = std::env::temp_dir().join(format!("cohort-gm-{}-config", std::process::id()));
    let f = factory(&dir, "A");
    let mut bad = config();
    bad.heartbeat = bad.election_min;
    let r = GroupMember::join(&f, key(), bad, slog::Logger::root(slog::Discard, slog::o!()));
    assert!(matches!(r, Err(GroupError::Config(ConfigError::Inconsistent(_)))));
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leader_with_an_unusable_endpoint_is_not_followed_and_the_member_recovers() {
    let mut g = Group::new("bogus", 1, config());
    assert_eq!(g.elect(), 0, "a group of one elects itself");
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.bind("tcp://127.0.0.1:*").unwrap();
    let stray = Endpoint::parse(&publisher.get_last_endpoint().unwrap().unwrap()).unwrap();
    g.m(0).add_peer(&stray).unwrap();
    let fake: MemberId = *b"a-fake-leader-id";
    let claim = GroupMessage::Leader { term: 1000, endpoint: "not an endpoint".into(), seq: 1, members: Vec::new() };
    let give_up = Instant::now() + WAIT;
    while g.m(0).core().leader() != Some(fake) {
        assert!(Instant::now() < give_up, "the claim never arrived\n{}", g.describe());
        publisher.send(envelope_frame(fake, Body::Control(Cow::Borrowed(&claim))), 0).unwrap();
        g.step(Duration::from_millis(10));
    }
    assert_eq!(g.m(0).following(), None);
    assert!(g.m(0).stats().leader_unreachable >= 1);
    // (Its acknowledgements of the claim were dropped too.)
    let before = g.m(0).stats().undelivered;
    g.m(0).send_to_leader(b"lost").unwrap();
    assert_eq!(g.m(0).stats().undelivered, before + 1, "dropped: no connection to that leader");
    // The fake leader says nothing more: it times out, and once discovery no longer lists the
    // stray publisher (which counted toward the quorum) the member leads again.
    g.m(0).remove_peer(&stray).unwrap();
    g.run_until("the member leading again", |g| {
        g.agreed_leader() == Some(0) && g.members[0].as_ref().unwrap().core().term() > 1000
    });
    assert!(g.has(0, |e| *e == GroupEvent::MemberLeft(fake)));
}

#[test]
fn members_discovery_reports_count_toward_the_quorum_before_they_are_heard() {
    // Without a declared size the quorum is a majority of the members known. A member that
    // discovery says has two more, silent so far (a large group still connecting), does not
    // elect itself alone; once discovery drops them, it does.
    let ctx = zmq::Context::new();
    let silent: Vec<zmq::Socket> = (0..2)
        .map(|_| {
            let publisher = ctx.socket(zmq::PUB).unwrap();
            publisher.bind("tcp://127.0.0.1:*").unwrap();
            publisher
        })
        .collect();
    let endpoints: Vec<Endpoint> =
        silent.iter().map(|p| Endpoint::parse(&p.get_last_endpoint().unwrap().unwrap()).unwrap()).collect();
    let mut g = Group::new("discovered", 1, config());
    for e in &endpoints {
        g.m(0).add_peer(e).unwrap();
    }
    let until = Instant::now() + config().election_max * 4;
    while Instant::now() < until {
        g.step(until.saturating_duration_since(Instant::now()));
        assert_ne!(g.m(0).core().role(), Role::Leader, "elected alone while discovery reports 3 members");
    }
    for e in &endpoints {
        g.m(0).remove_peer(e).unwrap();
    }
    assert_eq!(g.elect(), 0, "alone again, it elects itself");
}
