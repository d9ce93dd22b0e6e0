//! Feeds arbitrary bytes to the group wire format and the group core: each record of the input
//! (see `cohort_fuzz::records`) is decoded as a group frame (port header of type
//! `cohort.group` and a CBOR envelope, as a member's sockets receive it; failing that, as a bare
//! envelope), and its protocol message is handed to the core of member `ME`, whatever channel
//! it would be allowed on. The control byte lets time pass first (bits 0–5, in 10 ms steps; the
//! core ticks whenever its deadline has passed), asks for a vote afterwards (bit 6), and is the
//! member's ballot in votes it is asked to cast (bit 7).
//!
//! Nothing may panic. A decoded envelope re-encodes to an equal one and is allowed on exactly
//! the channel of its message; every message the core sends encodes and decodes back
//! unchanged; the core leads exactly when it is its own leader. Run with
//! `cargo +nightly fuzz run group_wire` (see `docs/fuzzing.md`).

#![no_main]

use std::borrow::Cow;
use std::time::Duration;

use cohort_fuzz::{group_ballot, group_core, group_requests_vote, group_step, records, ME};
use cohort_groups::envelope::{channel_of, Body, Channel, Envelope, FRAME_TYPE};
use cohort_groups::{Event, GroupCore, Output, Role, Subject, VoteKind};
use cohort_ports::wire::{self, MessageType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame_type = MessageType::new(FRAME_TYPE);
    let (mut core, out) = group_core();
    check_outputs(&out);
    let mut now = Duration::ZERO;
    for record in records(data) {
        now += group_step(record.ctl);
        if core.next_deadline() <= now {
            let out = core.tick(now);
            react(&mut core, now, record.ctl, out);
        }
        let envelope = match wire::decode_for_fuzz::<Envelope<'static>>(record.bytes, &frame_type) {
            Ok((_, envelope)) => Some(envelope),
            Err(_) => minicbor_serde::from_slice::<Envelope<'static>>(record.bytes).ok(),
        };
        if let Some(envelope) = envelope {
            check_envelope(&envelope);
            if let Body::Control(message) = envelope.body {
                let out = core.handle(now, envelope.from, message.into_owned());
                react(&mut core, now, record.ctl, out);
            }
        }
        if group_requests_vote(record.ctl) {
            let subject = Subject::Value(vec![record.ctl]);
            if let Ok((_, out)) = core.request_vote(now, subject, VoteKind::Majority, None) {
                react(&mut core, now, record.ctl, out);
            }
        }
        assert_eq!(core.role() == Role::Leader, core.leader() == Some(ME), "role {:?}", core.role());
        assert!(core.members().contains(&ME));
    }
    let out = core.leave();
    check_outputs(&out);
});

/// Checks the core's outputs and casts the member's ballot in every vote it is asked to cast,
/// as a component answering at once would.
fn react(core: &mut GroupCore, now: Duration, ctl: u8, out: Vec<Output>) {
    let mut pending = out;
    while !pending.is_empty() {
        check_outputs(&pending);
        let mut next = Vec::new();
        for output in pending {
            if let Output::Event(Event::VoteCalled { vote, .. }) = output {
                if let Ok(more) = core.cast_vote(now, vote, group_ballot(ctl)) {
                    next.extend(more);
                }
            }
        }
        pending = next;
    }
}

/// Every message the core sends goes out in an envelope that decodes back unchanged.
fn check_outputs(out: &[Output]) {
    for output in out {
        let message = match output {
            Output::Broadcast(m) | Output::ToLeader { message: m, .. } | Output::ToMember { message: m, .. } => m,
            Output::Event(_) => continue,
        };
        let envelope = Envelope { from: ME, body: Body::Control(Cow::Borrowed(message)) };
        check_envelope(&envelope);
    }
}

/// An envelope re-encodes to an equal one, and is allowed on exactly one channel: the mesh for
/// data, its message's channel for a protocol message.
fn check_envelope(envelope: &Envelope<'_>) {
    let frame = cohort_fuzz::group_frame(0, envelope);
    match wire::decode_for_fuzz::<Envelope<'static>>(&frame, &MessageType::new(FRAME_TYPE)) {
        Ok((_, back)) => assert_eq!(&back, envelope),
        Err(e) => panic!("{envelope:?} does not decode after encoding: {e}"),
    }
    let channels = [Channel::Mesh, Channel::ToLeader, Channel::FromLeader];
    let allowed: Vec<Channel> = channels.into_iter().filter(|c| envelope.body.allowed_on(*c)).collect();
    let expected = match &envelope.body {
        Body::Data(_) => Channel::Mesh,
        Body::Control(message) => channel_of(message),
    };
    assert_eq!(allowed, [expected]);
}
