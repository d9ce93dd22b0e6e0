//! The election invariants (1 to 4) checked after every step, and the observer's hook.

use std::collections::BTreeMap;
use std::time::Duration;

use super::outcome::{InvariantKind, MemberView};
use super::trace::short;
use super::world::{Phase, World};
use crate::core::{GroupCore, Role};
use crate::wire::{MemberId, Term};

impl World<'_> {
    pub(super) fn check(&mut self) {
        let strict = self.config.strict_safety || self.config.group.expected_size.is_some();
        // 1. One leader per term: never two at once; and, for terms no crashed member had
        //    reached (see `amnesia_terms`), never two ever.
        let mut fresh: Vec<(Term, MemberId)> = Vec::new();
        let mut concurrent = None;
        for (index, core) in self.members.iter().enumerate() {
            let Some(core) = core else { continue };
            if core.role() == Role::Leader {
                self.ledger.led.insert((core.term(), index));
                if let Some((_, other)) = fresh.iter().find(|(term, _)| *term == core.term()) {
                    concurrent = Some(format!(
                        "term {}: {} and {} lead at the same time",
                        core.term(),
                        short(other),
                        short(&core.id())
                    ));
                }
                fresh.push((core.term(), core.id()));
            }
        }
        if let Some(detail) = concurrent {
            if strict {
                self.violate(InvariantKind::TwoLeadersInTerm, detail);
            }
        }
        for (term, id) in fresh {
            match self.leaders.get(&term) {
                None => {
                    self.leaders.insert(term, id);
                    self.outcome.elections += 1;
                }
                Some(first) if *first != id => {
                    let first = *first;
                    self.leaders.insert(term, id);
                    self.outcome.elections += 1;
                    if !strict {
                        if self.split_terms.insert(term) {
                            self.outcome.split_brain_terms += 1;
                        }
                    } else if term <= self.max_crashed_term {
                        if self.amnesia.insert(term) {
                            self.outcome.amnesia_terms += 1;
                        }
                    } else {
                        let detail = format!("term {term}: {} and {} both led", short(&first), short(&id));
                        self.violate(InvariantKind::TwoLeadersInTerm, detail);
                    }
                }
                Some(_) => {}
            }
        }
        // 2. Agreement within a term.
        //    (Not in a term some crashed member had reached: a restarted member forgot it, and a
        //    second leader may be elected in it; see invariant 1.)
        if strict {
            let mut followed: BTreeMap<Term, (usize, MemberId)> = BTreeMap::new();
            let mut broken = None;
            for (i, core) in self.members.iter().enumerate() {
                let Some(core) = core else { continue };
                let Some(leader) = core.leader() else { continue };
                if core.term() <= self.max_crashed_term {
                    continue;
                }
                match followed.get(&core.term()) {
                    None => {
                        followed.insert(core.term(), (i, leader));
                    }
                    Some(&(j, other)) if other != leader => {
                        broken = Some(format!(
                            "term {}: m{j} follows {} but m{i} follows {}",
                            core.term(),
                            short(&other),
                            short(&leader)
                        ));
                    }
                    Some(_) => {}
                }
            }
            if let Some(detail) = broken {
                self.violate(InvariantKind::Disagreement, detail);
            }
        }
        // 3. One agreed leader after healing.
        if self.phase == Phase::Calm {
            let agreed = self.agreed_leader();
            if agreed.is_some() && self.agreed_since_heal.is_none() {
                self.agreed_since_heal = Some(self.now - self.heal_at);
            }
            if agreed.is_none() && self.now > self.heal_at + self.config.heal_bound {
                let detail =
                    format!("no single agreed leader {:?} after healing: {}", self.config.heal_bound, self.roles());
                self.violate(InvariantKind::NoLeaderAfterHeal, detail);
            }
        }
        // 4. No leader on a side short of the declared size's quorum, past the bound.
        if let (Some(split), Some(size)) = (self.split_at, self.config.group.expected_size) {
            // A slow clock takes longer to count the peer timeout.
            let timeout = self.config.group.peer_timeout.div_f64(1.0 - self.config.clock_drift);
            if self.now > split + timeout {
                let quorum = self.config.group.quorum(size);
                let mut found = Vec::new();
                for (i, core) in self.members.iter().enumerate() {
                    let Some(core) = core else { continue };
                    // A paused member steps down at its first tick after it resumes.
                    let awake_since = split.max(self.paused_until[i]);
                    if self.now <= awake_since + timeout {
                        continue;
                    }
                    let side_size = self.side.iter().filter(|s| **s == self.side[i]).count();
                    if core.role() == Role::Leader && side_size < quorum {
                        let detail = format!(
                            "m{i} leads term {} on a side of {side_size} (quorum {quorum}), split at {split:?}",
                            core.term()
                        );
                        found.push(detail);
                    }
                }
                for detail in found {
                    self.violate(InvariantKind::MinorityLeader, detail);
                }
            }
        }
        // 11. Never two leases at once: a member whose lease holds by its own clock is the only
        //     one.
        let holders: Vec<(usize, Duration)> = (0..self.members.len())
            .filter_map(|i| {
                let until = self.members[i].as_ref()?.lease_until()?;
                (self.local(i) < until).then_some((i, until))
            })
            .collect();
        if holders.len() > 1 {
            if strict {
                let parts: Vec<String> = holders
                    .iter()
                    .map(|(i, until)| format!("m{i} until {until:?} (its clock reads {:?})", self.local(*i)))
                    .collect();
                self.violate(InvariantKind::TwoLeases, parts.join(" and "));
            } else {
                self.outcome.lease_overlaps += 1;
            }
        }
        // 7. Every request ends in time (5, 6, 8 and 9 are checked as the events happen).
        self.check_requests();
        // Hooks.
        let mut extra = Vec::new();
        let views: Vec<MemberView<'_>> = self
            .members
            .iter()
            .enumerate()
            .map(|(index, core)| MemberView { index, core: core.as_ref(), side: self.side[index] })
            .collect();
        self.observer.after_step(self.now, &views, &mut extra);
        for detail in extra {
            self.violate(InvariantKind::Observer, detail);
        }
    }

    /// The leader every live member is in the term of and follows, if exactly one leads.
    pub(super) fn agreed_leader(&self) -> Option<MemberId> {
        let live: Vec<&GroupCore> = self.members.iter().flatten().collect();
        let mut leaders = live.iter().filter(|c| c.role() == Role::Leader);
        let leader = leaders.next()?;
        if leaders.next().is_some() {
            return None;
        }
        live.iter().all(|c| c.term() == leader.term() && c.leader() == Some(leader.id())).then_some(leader.id())
    }

    pub(super) fn roles(&self) -> String {
        let parts: Vec<String> = self
            .members
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                None => format!("m{i}: down"),
                Some(c) => format!(
                    "m{i}: {:?} term {} leader {}",
                    c.role(),
                    c.term(),
                    c.leader().map_or_else(|| "-".to_owned(), |l| short(&l))
                ),
            })
            .collect();
        parts.join(", ")
    }
}
