//! The simulator's ledger of votes and messages, and the invariants on them (5 to 9).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::outcome::InvariantKind;
use super::rng::member_id;
use super::trace::{payload_text, short, subject_text, vote_name};
use super::workload::Action;
use super::world::World;
use crate::core::{Event, GroupCore, Role};
use crate::wire::{GroupMessage, MemberId, Outcome, Subject, Term, VoteId, VoteKind};

/// A vote a member asked for.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) index: usize,
    pub(super) incarnation: u64,
    /// When, on the requester's clock.
    pub(super) asked: Duration,
    pub(super) timeout: Duration,
    pub(super) subject: Subject,
    /// What the requester got ("VoteEnded(..)" or "VoteLost"), once it got it.
    pub(super) end: Option<String>,
}

/// The voters of a vote as its leader called it, and how many yes it needs.
#[derive(Debug, Clone)]
struct Snapshot {
    voters: Vec<MemberId>,
    kind: VoteKind,
    needed: usize,
}

/// The simulator's own record of the votes and messages, for invariants 5–9.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// Every vote requested in the run.
    pub(super) requests: BTreeMap<VoteId, Request>,
    /// Requests whose requester is up and has got nothing yet, by when it must (invariant 7).
    pub(super) open: BTreeSet<(Duration, VoteId)>,
    /// The first end learned of each vote, and by whom.
    ends: BTreeMap<VoteId, (Outcome, Subject, usize)>,
    /// (member, incarnation, vote): called to it, by which leader in which term.
    pub(super) called: BTreeMap<(usize, u64, VoteId), (MemberId, Term)>,
    /// (member, incarnation, vote): learned its end.
    pub(super) learned: BTreeSet<(usize, u64, VoteId)>,
    /// (vote, leader, leader's incarnation): the poll it called.
    polls: BTreeMap<(VoteId, usize, u64), Snapshot>,
    /// The ballots members cast: (some yes, some no) per voter.
    pub(super) ballots: BTreeMap<VoteId, BTreeMap<MemberId, (bool, bool)>>,
    /// (term, member) pairs seen leading (after a step).
    pub(super) led: BTreeSet<(Term, usize)>,
    /// Numbers the application messages.
    pub(super) messages: u64,
}

/// The sender (and, from a leader, the term) an application payload names (see
/// [`World::message`]): `to:m<index>:<n>` or `from:m<index>:t<term>:<n>`.
fn parse_payload(payload: &[u8]) -> Option<(usize, Option<Term>)> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.split(':');
    let direction = parts.next()?;
    let sender = parts.next()?.strip_prefix('m')?.parse().ok()?;
    match direction {
        "to" => Some((sender, None)),
        "from" => Some((sender, Some(parts.next()?.strip_prefix('t')?.parse().ok()?))),
        _ => None,
    }
}

impl World<'_> {
    /// Invariant 8's bookkeeping and check: a leader's calls and announcements.
    pub(super) fn watch_broadcast(&mut self, from: usize, message: &GroupMessage) {
        let incarnation = self.incarnation[from];
        match message {
            GroupMessage::CallVote { vote, kind, .. } => {
                let Some(core) = self.members[from].as_ref() else { return };
                // The voters are the members the leader knows as it calls the vote (the
                // call is the last thing the step that opens a poll does to them).
                let voters = core.members();
                let needed = match kind {
                    VoteKind::Majority => self.config.group.quorum(voters.len()),
                    VoteKind::Consensus => voters.len(),
                };
                let snapshot = Snapshot { voters, kind: *kind, needed };
                self.ledger.polls.insert((*vote, from, incarnation), snapshot);
            }
            GroupMessage::Announce { vote, outcome, .. } => {
                let Some(snapshot) = self.ledger.polls.get(&(*vote, from, incarnation)) else {
                    let detail = format!("m{from} announced {} ({outcome:?}), which it never called", vote_name(vote));
                    self.violate(InvariantKind::UnjustifiedOutcome, detail);
                    return;
                };
                let said = self.ledger.ballots.get(vote);
                let count = |pick: fn(&(bool, bool)) -> bool| {
                    snapshot.voters.iter().filter(|v| said.and_then(|s| s.get(*v)).is_some_and(pick)).count()
                };
                let (yes, no, voters) = (count(|s| s.0), count(|s| s.1), snapshot.voters.len());
                let unjustified = match outcome {
                    Outcome::Yes => yes < snapshot.needed,
                    // It fails when the voters not saying no are too few to reach `needed`.
                    Outcome::No => voters.saturating_sub(no) >= snapshot.needed,
                    Outcome::Timeout => false,
                };
                if unjustified {
                    let names: Vec<String> = snapshot.voters.iter().map(short).collect();
                    let detail = format!(
                        "m{from} announced {outcome:?} for {} ({:?}, voters [{}], {} yes needed) but {yes} voters \
                         cast yes and {no} cast no",
                        vote_name(vote),
                        snapshot.kind,
                        names.join(" "),
                        snapshot.needed
                    );
                    self.violate(InvariantKind::UnjustifiedOutcome, detail);
                }
            }
            _ => {}
        }
    }

    /// Invariants 5, 6, 7 and 9 on the events a member gets, and the workload's answers.
    pub(super) fn watch_event(&mut self, at: usize, event: Event) {
        let incarnation = self.incarnation[at];
        let now = self.now;
        match event {
            Event::VoteCalled { vote, .. } => {
                // Called by the leader whose CallVote is being delivered, or by itself.
                let caller = match self.calling {
                    Some((from, term)) => (member_id(from), term),
                    None => (member_id(at), self.members[at].as_ref().map_or(0, GroupCore::term)),
                };
                if self.ledger.called.insert((at, incarnation, vote), caller).is_some() {
                    self.violate(InvariantKind::VoteTwice, format!("m{at} was called to {} twice", vote_name(&vote)));
                }
                let Some(workload) = self.config.workload else { return };
                if self.wrng.chance(workload.silent) {
                    return;
                }
                let group = self.config.group;
                let memory = group.consensus_timeout * 2 + group.peer_timeout;
                let long = self.ledger.requests.get(&vote).map(|r| r.timeout).filter(|t| *t >= memory);
                let within = match long {
                    Some(timeout) if self.wrng.chance(0.5) => timeout,
                    _ if self.wrng.chance(workload.slow) => workload.answer_slow,
                    _ => workload.answer_quick,
                };
                let delay = self.wrng.between(Duration::ZERO, within);
                let yes = self.wrng.chance(workload.yes);
                self.schedule(now + delay, Action::Cast { index: at, incarnation, vote, yes });
            }
            Event::VoteEnded { vote, subject, outcome } => {
                if !self.ledger.learned.insert((at, incarnation, vote)) {
                    self.violate(
                        InvariantKind::VoteTwice,
                        format!("m{at} learned the end of {} twice (now {outcome:?})", vote_name(&vote)),
                    );
                }
                match self.ledger.ends.get(&vote) {
                    None => {
                        self.ledger.ends.insert(vote, (outcome, subject.clone(), at));
                    }
                    Some((first, first_subject, by)) if *first != outcome || *first_subject != subject => {
                        let detail = format!(
                            "{}: m{by} learned {first:?} on {} but m{at} learned {outcome:?} on {}",
                            vote_name(&vote),
                            subject_text(first_subject),
                            subject_text(&subject)
                        );
                        self.violate(InvariantKind::VoteDisagreement, detail);
                    }
                    Some(_) => {}
                }
                let Some(request) = self.ledger.requests.get(&vote) else {
                    let detail = format!("m{at} learned the end of {}, which nobody asked for", vote_name(&vote));
                    self.violate(InvariantKind::VoteDisagreement, detail);
                    return;
                };
                let requester = request.index == at && request.incarnation == incarnation;
                if request.subject != subject {
                    let detail = format!(
                        "{} was asked on {} but m{at} learned it ended on {}",
                        vote_name(&vote),
                        subject_text(&request.subject),
                        subject_text(&subject)
                    );
                    self.violate(InvariantKind::VoteDisagreement, detail);
                }
                if requester {
                    self.requester_gets(vote, format!("VoteEnded({outcome:?})"));
                    match outcome {
                        Outcome::Yes => self.outcome.votes_yes += 1,
                        Outcome::No => self.outcome.votes_no += 1,
                        Outcome::Timeout => self.outcome.votes_timeout += 1,
                    }
                }
            }
            Event::VoteLost { vote } => {
                let Some(request) = self.ledger.requests.get(&vote) else {
                    let detail = format!("m{at} lost {}, which nobody asked for", vote_name(&vote));
                    self.violate(InvariantKind::StrayVoteLost, detail);
                    return;
                };
                if request.index != at || request.incarnation != incarnation {
                    let detail = format!(
                        "m{at} (incarnation {incarnation}) lost {}, asked by m{} (incarnation {})",
                        vote_name(&vote),
                        request.index,
                        request.incarnation
                    );
                    self.violate(InvariantKind::StrayVoteLost, detail);
                    return;
                }
                let earliest = request.asked + request.timeout + self.config.group.heartbeat;
                let now = self.local(at);
                if now < earliest {
                    let detail = format!(
                        "m{at} lost {} at {now:?}, before its timeout and a heartbeat ({earliest:?})",
                        vote_name(&vote)
                    );
                    self.violate(InvariantKind::StrayVoteLost, detail);
                }
                self.requester_gets(vote, "VoteLost".to_owned());
                self.outcome.votes_lost += 1;
            }
            Event::MessageToLeader { from, payload } => {
                self.outcome.messages_to_leader += 1;
                let role = self.members[at].as_ref().map(GroupCore::role);
                if role != Some(Role::Leader) {
                    let detail = format!(
                        "m{at} ({role:?}) got MessageToLeader {} from {}",
                        payload_text(&payload),
                        short(&from)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
                if parse_payload(&payload).map(|(sender, _)| member_id(sender)) != Some(from) {
                    let detail = format!(
                        "m{at} got MessageToLeader {} said to be from {}",
                        payload_text(&payload),
                        short(&from)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
            }
            Event::MessageFromLeader { leader, payload } => {
                self.outcome.messages_from_leader += 1;
                let term = self.members[at].as_ref().map_or(0, GroupCore::term);
                let problem = match parse_payload(&payload) {
                    Some((sender, Some(sent_in))) if member_id(sender) != leader => {
                        Some(format!("was sent by m{sender} in term {sent_in}"))
                    }
                    Some((sender, Some(sent_in))) if !self.ledger.led.contains(&(sent_in, sender)) => {
                        Some(format!("was sent in term {sent_in}, which its sender never led"))
                    }
                    Some((_, Some(sent_in))) if sent_in != term => {
                        Some(format!("was sent by the leader of term {sent_in}, but m{at} is in term {term}"))
                    }
                    Some((_, Some(_))) => None,
                    _ => Some("is not a leader's".to_owned()),
                };
                if let Some(problem) = problem {
                    let detail = format!(
                        "m{at} got MessageFromLeader {} from {}, which {problem}",
                        payload_text(&payload),
                        short(&leader)
                    );
                    self.violate(InvariantKind::LeaderMessage, detail);
                }
            }
            Event::MemberJoined(_) | Event::MemberLeft(_) | Event::LeaderElected(_) | Event::LeaderExited(_) => {}
        }
    }

    /// The requester of `vote` got `what` (its end or its loss): at most once (invariant 6).
    fn requester_gets(&mut self, vote: VoteId, what: String) {
        let Some(request) = self.ledger.requests.get_mut(&vote) else { return };
        match request.end.replace(what.clone()) {
            None => {
                // (Its bound may have moved with pauses.)
                self.ledger.open.retain(|(_, open)| *open != vote);
            }
            Some(before) => {
                let detail = format!("m{} got {before} then {what} for {}", request.index, vote_name(&vote));
                self.violate(InvariantKind::VoteTwice, detail);
            }
        }
    }

    /// Invariant 7: no request of a requester that is up is past its bound without an end.
    pub(super) fn check_requests(&mut self) {
        let Some(&(bound, vote)) = self.ledger.open.first() else { return };
        if self.now <= bound {
            return;
        }
        self.ledger.open.remove(&(bound, vote));
        let detail = match self.ledger.requests.get(&vote) {
            Some(r) => format!(
                "m{} asked for {} at {:?} with timeout {:?} and got neither VoteEnded nor VoteLost by {bound:?}",
                r.index,
                vote_name(&vote),
                r.asked,
                r.timeout
            ),
            None => format!("{} is open but was never asked for", vote_name(&vote)),
        };
        self.violate(InvariantKind::VoteNeverEnded, detail);
    }
}
