//! Shared pieces of the fuzz targets: the record format of the multi-message targets, the
//! message types the port frame target decodes into, and the seed inputs that
//! `examples/seeds.rs` writes to `seeds/<target>/`.
//!
//! # Records
//!
//! `discovery_protocol` and `group_wire` drive a state machine with a sequence of messages, so
//! their input is a sequence of records separated by [`RECORD_SEPARATOR`], each a control byte
//! followed by the message bytes:
//!
//! ```text
//! ctl bytes... FE FD FC FB ctl bytes... FE FD FC FB ctl bytes...
//! ```
//!
//! A separator rather than length prefixes, so that the fuzzer's insertions and deletions
//! inside a message keep the records apart. The separator's bytes are reserved in CBOR, so it
//! never occurs inside a well-formed message. What the control byte means is the target's
//! business (which client sent it, how much time passes first, which command follows). An
//! empty record is skipped.

use std::time::Duration;

use cohort_discovery::protocol::{encode, ClientFrame, ClientRequest, DaemonFrame, DaemonMessage, WireScope};
use cohort_discovery::protocol::{ErrorCode, ErrorReply, ReplyBody, PROTOCOL_VERSION};
use cohort_groups::envelope::{Body, Envelope, FRAME_TYPE};
use cohort_groups::{GroupConfig, GroupCore, GroupMessage, MemberId, Outcome, Output, Subject, VoteId, VoteKind};
use cohort_ports::wire::{self, Flags, MessageType};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// One record of a multi-message input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The control byte.
    pub ctl: u8,
    /// The message bytes.
    pub bytes: &'a [u8],
}

/// What separates two records (simple values 28 to 31 in CBOR's initial-byte table: reserved,
/// never in a well-formed message).
pub const RECORD_SEPARATOR: [u8; 4] = [0xfe, 0xfd, 0xfc, 0xfb];

/// The records of `data`, in order (see the crate documentation).
pub fn records(data: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut rest = Some(data);
    std::iter::from_fn(move || loop {
        let data = rest?;
        let (record, next) = match data.windows(RECORD_SEPARATOR.len()).position(|w| w == RECORD_SEPARATOR) {
            Some(at) => (&data[..at], Some(&data[at + RECORD_SEPARATOR.len()..])),
            None => (data, None),
        };
        rest = next;
        if let Some((&ctl, bytes)) = record.split_first() {
            return Some(Record { ctl, bytes });
        }
    })
}

/// Appends one record to `out` (the inverse of [`records`]).
pub fn push_record(out: &mut Vec<u8>, ctl: u8, bytes: &[u8]) {
    if !out.is_empty() {
        out.extend_from_slice(&RECORD_SEPARATOR);
    }
    out.push(ctl);
    out.extend_from_slice(bytes);
}

// ---------------------------------------------------------------------------------------------
// port_frame
// ---------------------------------------------------------------------------------------------

/// A struct with a float, as sensor readings are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// An id.
    pub id: u64,
    /// A measurement.
    pub value: f64,
    /// A name.
    pub name: String,
}

/// An enum with every kind of variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A unit variant.
    Stop,
    /// A newtype variant.
    Set(i64),
    /// A struct variant.
    Move {
        /// Across.
        x: i32,
        /// Up.
        y: i32,
    },
    /// A tuple variant with a byte string.
    Pair(String, #[serde(with = "serde_bytes")] Vec<u8>),
}

/// A tuple with an option and a sequence.
pub type Tuple = (u8, i64, Option<bool>, Vec<String>);

/// The message type names the port frame target decodes as, in the order of [`port_types`].
pub const PORT_TYPE_NAMES: [&str; 7] = ["Reading", "Command", "Tuple", "Blob", "Batch", "Text", "Raw"];

/// The message types of [`PORT_TYPE_NAMES`].
pub fn port_types() -> Vec<MessageType> {
    PORT_TYPE_NAMES.iter().map(|n| MessageType::new(*n)).collect()
}

/// A port frame as a port sends it: header (`flags`, the type of `type_name`, `seq`) and
/// `payload`. A `TIMED` header gets the current time.
pub fn port_frame(flags: Flags, type_name: &str, seq: u64, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    wire::write_header(&mut frame, flags, wire::type_id(type_name), seq);
    frame.extend_from_slice(payload);
    frame
}

/// The CBOR encoding of `value`, as the ports' codec writes it.
pub fn cbor<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    minicbor_serde::to_vec(value).unwrap_or_default()
}

/// Valid frames of every type of [`PORT_TYPE_NAMES`], plain, timed and final.
pub fn port_frame_seeds() -> Vec<Vec<u8>> {
    let reading = Reading { id: 7, value: 21.5, name: "t1".into() };
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("Reading", cbor(&reading)),
        ("Command", cbor(&Command::Stop)),
        ("Command", cbor(&Command::Set(-3))),
        ("Command", cbor(&Command::Move { x: 1, y: -1 })),
        ("Command", cbor(&Command::Pair("k".into(), vec![0, 255]))),
        ("Tuple", cbor(&(1u8, -9i64, Some(true), vec!["a".to_string(), "bc".into()]))),
        ("Blob", cbor(&serde_bytes::Bytes::new(b"\x00\x01bytes"))),
        ("Batch", cbor(&vec![reading.clone(), Reading { id: 8, value: -0.0, name: String::new() }])),
        ("Text", cbor("héllo")),
    ];
    let mut seeds = Vec::new();
    for (i, (name, payload)) in payloads.iter().enumerate() {
        let flags = [Flags::empty(), Flags::TIMED, Flags::FINAL][i % 3];
        seeds.push(port_frame(flags, name, i as u64, payload));
    }
    seeds.push(port_frame(Flags::RAW, "Raw", 1, b"raw bytes"));
    seeds.push(port_frame(Flags::RAW.with(Flags::TIMED).with(Flags::FINAL), "Raw", u64::MAX, b""));
    seeds
}

// ---------------------------------------------------------------------------------------------
// discovery_protocol
// ---------------------------------------------------------------------------------------------

/// The registry's host in the discovery target.
pub const DISCOVERY_HOST: &str = "h1";

/// The identity of client `ctl & 3` in the discovery target.
pub fn client_id(ctl: u8) -> [u8; 2] {
    [b'c', ctl & 3]
}

/// The control byte of a discovery record: from client `client` (0 to 3), after `steps` times
/// 100 ms (0 to 63).
pub fn discovery_ctl(client: u8, steps: u8) -> u8 {
    (steps.min(63) << 2) | (client & 3)
}

/// The time a discovery record's control byte lets pass first.
pub fn discovery_step(ctl: u8) -> Duration {
    Duration::from_millis(100 * u64::from(ctl >> 2))
}

fn client_frame(id: u64, request: ClientRequest) -> Vec<u8> {
    encode(&ClientFrame { version: PROTOCOL_VERSION, id, request })
}

/// Seed inputs of the discovery target: sessions of clients registering, providing, looking
/// up, withdrawing and leaving, and single daemon frames of every kind.
pub fn discovery_seeds() -> Vec<Vec<u8>> {
    let hello = |actor: &str| ClientRequest::Hello { app: "App".into(), actor: actor.into(), pid: 42 };
    let provide = |endpoint: &str, scope| ClientRequest::Provide {
        port: "s.out".into(),
        kind: "pub".into(),
        messages: "M".into(),
        scope,
        endpoint: endpoint.into(),
    };
    let lookup = |scope| ClientRequest::Lookup { port: "r.in".into(), kind: "sub".into(), messages: "M".into(), scope };
    let session = |steps: &[(u8, u8, ClientRequest)]| {
        let mut out = Vec::new();
        for (i, (client, wait, request)) in steps.iter().enumerate() {
            push_record(&mut out, discovery_ctl(*client, *wait), &client_frame(i as u64 + 1, request.clone()));
        }
        out
    };
    let mut seeds = vec![
        session(&[
            (0, 0, hello("Sender")),
            (0, 0, provide("tcp://10.0.0.1:5000", WireScope::Global)),
            (1, 1, hello("Receiver")),
            (1, 0, lookup(WireScope::Global)),
            (0, 3, ClientRequest::Heartbeat),
            (0, 0, ClientRequest::Withdraw { endpoint: "tcp://10.0.0.1:5000".into() }),
            (1, 0, ClientRequest::Unlookup { port: "r.in".into() }),
            (2, 0, ClientRequest::List),
            (0, 0, ClientRequest::Goodbye),
        ]),
        session(&[
            (0, 0, hello("A")),
            (0, 0, lookup(WireScope::Local)),
            (1, 0, hello("B")),
            (1, 0, provide("ipc:///tmp/b.sock", WireScope::Local)),
            (0, 30, ClientRequest::Heartbeat),
            (2, 0, ClientRequest::List),
        ]),
        session(&[
            (3, 0, ClientRequest::Heartbeat),
            (3, 0, hello("")),
            (3, 0, hello("C")),
            (3, 0, provide("udp://x", WireScope::Internal)),
            (
                3,
                0,
                ClientRequest::Lookup {
                    port: "p".into(),
                    kind: "pub".into(),
                    messages: "M".into(),
                    scope: WireScope::Internal,
                },
            ),
        ]),
    ];
    let daemon = |message| encode(&DaemonFrame { version: PROTOCOL_VERSION, message });
    let replies = [
        Ok(ReplyBody::Done),
        Ok(ReplyBody::Welcome { heartbeat_ms: 500, timeout_ms: 2000 }),
        Ok(ReplyBody::Endpoints(vec!["tcp://10.0.0.1:5000".into()])),
        Err(ErrorReply { code: ErrorCode::UnknownClient, message: "say hello".into() }),
    ];
    for (id, result) in replies.into_iter().enumerate() {
        let mut out = Vec::new();
        push_record(&mut out, 0, &daemon(DaemonMessage::Reply { id: id as u64, result }));
        seeds.push(out);
    }
    let update = DaemonMessage::Update { port: "r.in".into(), added: vec!["inproc://a".into()], removed: vec![] };
    let mut out = Vec::new();
    push_record(&mut out, 0, &daemon(update));
    seeds.push(out);
    seeds
}

// ---------------------------------------------------------------------------------------------
// group_wire
// ---------------------------------------------------------------------------------------------

/// The member the group target drives.
pub const ME: MemberId = [1; 16];

/// The other members in the seeds.
pub const PEERS: [MemberId; 3] = [[2; 16], [3; 16], [4; 16]];

/// The member the group target drives, [`ME`] with the default timing, joining at time zero.
pub fn group_core() -> (GroupCore, Vec<Output>) {
    GroupCore::new(ME, GroupConfig::default(), "tcp://10.0.0.1:4000", 7, Duration::ZERO)
}

/// The number of the first vote [`group_core`] asks for (vote numbers start at a random point,
/// drawn from the core's seeded generator when it starts).
pub fn first_vote_number() -> u64 {
    let (mut core, _) = group_core();
    // Alone, the member elects itself at its first election timeout.
    core.tick(GroupConfig::default().election_max);
    core.request_vote(Duration::ZERO, Subject::Value(Vec::new()), VoteKind::Majority, None)
        .map(|(vote, _)| vote.number)
        .unwrap_or_default()
}

/// The control byte of a group record: `steps` times 10 ms pass first (0 to 63); `request` makes
/// the member ask for a vote afterwards; `yes` is its ballot in votes it is asked to cast.
pub fn group_ctl(steps: u8, request: bool, yes: bool) -> u8 {
    steps.min(63) | (u8::from(request) << 6) | (u8::from(yes) << 7)
}

/// The time a group record's control byte lets pass first.
pub fn group_step(ctl: u8) -> Duration {
    Duration::from_millis(10 * u64::from(ctl & 0x3f))
}

/// Whether a group record's control byte asks for a vote.
pub fn group_requests_vote(ctl: u8) -> bool {
    ctl & 0x40 != 0
}

/// A group record's ballot.
pub fn group_ballot(ctl: u8) -> bool {
    ctl & 0x80 != 0
}

/// A group frame as a group member sends it: a port frame of type [`FRAME_TYPE`] carrying the
/// envelope.
pub fn group_frame(seq: u64, envelope: &Envelope<'_>) -> Vec<u8> {
    port_frame(Flags::empty(), FRAME_TYPE, seq, &cbor(envelope))
}

fn control(from: MemberId, message: &GroupMessage) -> Envelope<'_> {
    Envelope { from, body: Body::Control(Cow::Borrowed(message)) }
}

/// Seed inputs of the group target: an election the member wins (pre-vote, vote), one it loses
/// to a peer, votes run by the member and by a peer leader, member ↔ leader messages, data and
/// departures; and the input of a bug found (a term of `u64::MAX`).
pub fn group_seeds() -> Vec<Vec<u8>> {
    let [a, b, c] = PEERS;
    let vote = VoteId { requester: a, number: 5 };
    let mine = VoteId { requester: ME, number: first_vote_number() };
    let subject = Subject::Value(b"setpoint".to_vec());
    let action = Subject::Action { action: b"switch".to_vec(), at_us: 1_000_000 };
    let session = |steps: Vec<(u8, MemberId, GroupMessage)>| {
        let mut out = Vec::new();
        for (seq, (ctl, from, message)) in steps.iter().enumerate() {
            push_record(&mut out, *ctl, &group_frame(seq as u64, &control(*from, message)));
        }
        out
    };
    let wait = |steps| group_ctl(steps, false, false);
    let mut seeds = vec![
        // The member hears two peers, stands for election in term 1 and wins, then runs a vote
        // (its own ballot yes) that the peers' ballots decide.
        session(vec![
            (wait(0), a, GroupMessage::Alive { term: 0 }),
            (wait(0), b, GroupMessage::Alive { term: 0 }),
            (wait(50), a, GroupMessage::PreVoteReply { term: 1, candidate: ME, granted: true }),
            (wait(0), a, GroupMessage::Vote { term: 1, candidate: ME, granted: true }),
            (group_ctl(1, true, true), b, GroupMessage::Vote { term: 1, candidate: ME, granted: true }),
            (wait(1), a, GroupMessage::Ballot { vote: mine, yes: true }),
            (wait(1), a, GroupMessage::ToLeader { payload: b"report".to_vec() }),
            (
                wait(1),
                b,
                GroupMessage::ProposeVote {
                    vote: VoteId { requester: b, number: 1 },
                    subject: action.clone(),
                    kind: VoteKind::Consensus,
                    timeout_us: 500_000,
                },
            ),
            (wait(1), b, GroupMessage::Ballot { vote: VoteId { requester: b, number: 1 }, yes: false }),
            (wait(20), a, GroupMessage::Leave),
        ]),
        // A peer is elected (the member grants its vote), leads, calls a vote and announces it.
        session(vec![
            (wait(0), a, GroupMessage::Alive { term: 0 }),
            (wait(0), a, GroupMessage::PreVote { term: 1 }),
            (wait(25), a, GroupMessage::RequestVote { term: 1 }),
            (wait(0), b, GroupMessage::Vote { term: 1, candidate: a, granted: true }),
            (
                wait(0),
                a,
                GroupMessage::Leader { term: 1, endpoint: "tcp://10.0.0.2:4000".into(), seq: 1, members: Vec::new() },
            ),
            (wait(5), a, GroupMessage::FromLeader { term: 1, payload: b"correction".to_vec() }),
            (
                group_ctl(1, false, true),
                a,
                GroupMessage::CallVote { term: 1, vote, subject: subject.clone(), kind: VoteKind::Majority },
            ),
            (wait(1), a, GroupMessage::Announce { term: 1, vote, subject: subject.clone(), outcome: Outcome::Yes }),
            (group_ctl(1, true, false), a, GroupMessage::Alive { term: 1 }),
            (
                wait(63),
                c,
                GroupMessage::Leader { term: 2, endpoint: "ipc:///tmp/c".into(), seq: 1, members: Vec::new() },
            ),
        ]),
    ];
    // Application data on the mesh.
    let mut out = Vec::new();
    let data = Envelope { from: c, body: Body::Data(Cow::Borrowed(b"data")) };
    push_record(&mut out, wait(0), &group_frame(0, &data));
    seeds.push(out);
    // Regression: the last term there is, then an election timeout (the core used to overflow
    // computing the next term).
    let mut out = Vec::new();
    push_record(&mut out, wait(0), &group_frame(0, &control(c, &GroupMessage::Alive { term: u64::MAX })));
    push_record(&mut out, wait(50), b"");
    seeds.push(out);
    seeds
}
