//! The workload's actions: members ask for votes, cast ballots and send messages.

use std::time::Duration;

use super::outcome::InvariantKind;
use super::rng::member_id;
use super::trace::{note, short, subject_text, vote_name};
use super::votes::Request;
use super::world::World;
use crate::core::{CommandError, Role};
use crate::wire::{Subject, VoteId, VoteKind};

/// Something the workload does at a given moment.
#[derive(Debug, Clone)]
pub(super) enum Action {
    /// Member `index` asks for a vote (if up), then schedules its next request.
    Request(usize),
    /// Member `index` sends a message to the leader, and to a random member if it leads (if up),
    /// then schedules its next message.
    Message(usize),
    /// Member `index`, in its incarnation `incarnation`, answers `vote`.
    Cast { index: usize, incarnation: u64, vote: VoteId, yes: bool },
}

impl Action {
    /// The member the action is of.
    pub(super) fn member(&self) -> usize {
        match self {
            Action::Request(index) | Action::Message(index) | Action::Cast { index, .. } => *index,
        }
    }
}

impl World<'_> {
    /// Carries out a workload action; false if it did nothing (its member is down).
    pub(super) fn act(&mut self, action: Action) -> bool {
        let Some(workload) = self.config.workload else { return false };
        match action {
            Action::Request(index) => {
                let gap = self.wrng.between(Duration::ZERO, workload.vote_interval * 2);
                self.schedule(self.now + gap, Action::Request(index));
                self.request(index)
            }
            Action::Message(index) => {
                let gap = self.wrng.between(Duration::ZERO, workload.message_interval * 2);
                self.schedule(self.now + gap, Action::Message(index));
                self.message(index)
            }
            Action::Cast { index, incarnation, vote, yes } => {
                if self.incarnation[index] != incarnation {
                    return false;
                }
                let now = self.local(index);
                let Some(core) = self.members[index].as_mut() else { return false };
                match core.cast_vote(now, vote, yes) {
                    Ok(out) => {
                        note!(
                            self,
                            "{now:?} m{index} votes {} in {}",
                            if yes { "yes" } else { "no" },
                            vote_name(&vote)
                        );
                        self.outcome.ballots += 1;
                        let said = self.ledger.ballots.entry(vote).or_default().entry(member_id(index)).or_default();
                        if yes {
                            said.0 = true;
                        } else {
                            said.1 = true;
                        }
                        self.absorb(index, out);
                    }
                    Err(CommandError::AlreadyVoted) => {
                        let detail =
                            format!("m{index} was refused its only ballot in {}: already voted", vote_name(&vote));
                        self.violate(InvariantKind::VoteTwice, detail);
                    }
                    Err(error) => {
                        // The vote ended (or, with its caller gone, was forgotten) before this
                        // member answered.
                        note!(self, "{now:?} m{index} votes in {}: {error}", vote_name(&vote));
                        let key = (index, incarnation, vote);
                        let caller = self.ledger.called.get(&key).copied();
                        let following = self.members[index].as_ref().map(|c| (c.leader(), c.term()));
                        if let (Some((leader, term)), Some((Some(now_following), now_term))) = (caller, following) {
                            if !self.ledger.learned.contains(&key) && leader == now_following && term == now_term {
                                let detail = format!(
                                    "m{index} cannot vote in {} ({error}): it has not learned its end and still \
                                     follows {}, which called it in term {term}",
                                    vote_name(&vote),
                                    short(&leader)
                                );
                                self.violate(InvariantKind::ForgottenCall, detail);
                            }
                        }
                    }
                }
                true
            }
        }
    }

    /// Member `index` asks for a vote, if it is up.
    fn request(&mut self, index: usize) -> bool {
        let now = self.local(index);
        let true_now = self.now;
        let group = self.config.group;
        let subject = if self.wrng.chance(0.5) {
            let len = self.wrng.below(5);
            Subject::Value((0..len).map(|_| u8::try_from(self.wrng.below(256)).unwrap_or(0)).collect())
        } else {
            let action = vec![u8::try_from(self.wrng.below(256)).unwrap_or(0)];
            let now_us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
            Subject::Action { action, at_us: now_us.saturating_add(self.wrng.below(10_000_000)) }
        };
        let kind = if self.wrng.chance(0.6) { VoteKind::Majority } else { VoteKind::Consensus };
        let Some(workload) = self.config.workload else { return false };
        let timeout = workload.timeout(&mut self.wrng, &group);
        let Some(core) = self.members[index].as_mut() else { return false };
        match core.request_vote(now, subject.clone(), kind, timeout) {
            Ok((vote, out)) => {
                let timeout = timeout.unwrap_or(group.consensus_timeout);
                note!(
                    self,
                    "{now:?} m{index} asks for {} on {} {kind:?} within {timeout:?}",
                    vote_name(&vote),
                    subject_text(&subject)
                );
                self.outcome.votes_requested += 1;
                let incarnation = self.incarnation[index];
                let request = Request { index, incarnation, asked: now, timeout, subject, end: None };
                if self.ledger.requests.insert(vote, request).is_some() {
                    let detail = format!("m{index} was given the id of an earlier vote, {}", vote_name(&vote));
                    self.violate(InvariantKind::VoteTwice, detail);
                }
                // The requester's clock may run slow.
                let slowest = 1.0 - self.config.clock_drift;
                let bound = true_now + (timeout + group.heartbeat).div_f64(slowest) + self.config.delay_max;
                self.ledger.open.insert((bound, vote));
                self.absorb(index, out);
            }
            Err(error) => {
                note!(self, "{now:?} m{index} cannot ask for a vote: {error}");
                if error == CommandError::NoLeader {
                    self.outcome.votes_no_leader += 1;
                }
            }
        }
        true
    }

    /// Member `index` sends a message to the leader and, if it leads, one to a random member.
    /// The payloads name the sender (and the leader's term), for invariant 9.
    fn message(&mut self, index: usize) -> bool {
        let n = self.members.len() as u64;
        let to = usize::try_from(self.wrng.below(n)).unwrap_or(0);
        self.ledger.messages += 1;
        let number = self.ledger.messages;
        let now = self.local(index);
        let Some(core) = self.members[index].as_mut() else { return false };
        let mut out = Vec::new();
        let mut sent = (false, false);
        if let Ok(more) = core.send_to_leader(format!("to:m{index}:{number}").into_bytes()) {
            out.extend(more);
            sent.0 = true;
        }
        if core.role() == Role::Leader {
            let payload = format!("from:m{index}:t{}:{number}", core.term()).into_bytes();
            match core.send_to_member(member_id(to), payload) {
                Ok(more) => {
                    out.extend(more);
                    sent.1 = true;
                }
                Err(error) => note!(self, "{now:?} m{index} cannot send to m{to}: {error}"),
            }
        }
        self.outcome.messages_to_leader_sent += u64::from(sent.0);
        self.outcome.messages_from_leader_sent += u64::from(sent.1);
        self.absorb(index, out);
        true
    }
}
