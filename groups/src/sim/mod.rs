//! A deterministic simulator for [`GroupCore`]: test tooling, public so the test suite
//! (`groups/tests/simulation.rs`) and the dedicated command (`groups/examples/simulate.rs`) share
//! it. Not for production use.
//!
//! One run ([`run`]) drives `members` cores with simulated time over a seeded random network:
//! every broadcast is fanned out into one message per recipient, each independently lost,
//! duplicated and delayed (reordering follows from the delays). Faults come in rounds: a chaos
//! phase (loss, crashes, restarts, a partition at a time) then a calm phase (the partition
//! healed, crashed members restarted, no loss) long enough to elect. Everything (the network,
//! the faults, the cores' own seeds) comes from the run's seed, so a seed replays exactly.
//!
//! Semantics:
//! - A crashed member stops; messages it sent before crashing may still arrive. A restart is a
//!   new [`GroupCore`] with the same id, starting in term 0 with no vote (terms are not
//!   persisted in this design).
//! - A partition splits the members into two non-empty sides; a message is dropped when sender
//!   and recipient are on different sides *when it is delivered*. A cut link (in groups of 3 or
//!   more) drops the messages between two members only, so that each may hear a third member
//!   that the other cannot; cuts heal with the partition, and at the latest at the calm phase.
//! - Each member has its own clock: it reads the true time at which the member started, then
//!   runs at a rate drawn from `[1 − drift, 1 + drift]` (see [`SimConfig::clock_drift`]). A core
//!   is given its own clock's time; deadlines are converted back to true time.
//! - A paused member (see [`SimConfig::pauses`]) gets no messages, ticks or workload actions
//!   until it resumes; then it gets what came meanwhile, in order. Its clock runs on. Pauses
//!   end at the latest when the calm phase begins.
//! - Members tick exactly at their [`GroupCore::next_deadline`]. Messages due at the same instant
//!   are delivered before workload actions, and those come before ticks, each in the order they
//!   were sent or scheduled; ticks at the same instant go by member index.
//!
//! Invariants, checked after every step (a delivery, a workload action or a tick); the first
//! step that breaks one ends the run, which reports it with the last events (the trace):
//! 1. **One leader per term**: no two live members are Leader in the same term at the same
//!    time; and once a member is Leader in term `t`, no other member is ever Leader in `t`,
//!    except in a term some crashed member had already reached when it crashed: terms and votes
//!    are not persisted, so after the whole group (or the voters of `t`) restarted, `t` can come
//!    round again. Those reuses are counted in [`SimOutcome::amnesia_terms`], not failed.
//! 2. **Agreement**: live members in the same term whose [`GroupCore::leader`] is set agree on
//!    it (except in a term some crashed member had reached, as in 1).
//! 3. **Liveness after healing**: from `heal + bound` (see [`SimConfig::heal_bound`]) to the end
//!    of the calm phase, exactly one live member is Leader and every live member is in its
//!    term and follows it.
//! 4. **No minority leader** (declared size only): a member on a side smaller than the quorum
//!    of the declared size is not Leader at any time later than `split + peer_timeout` (on the
//!    slowest clock, and counted from its resumption for a member paused meanwhile). The
//!    bound comes from the step-down rule in [`GroupCore::tick`]: no message crosses the cut
//!    after the split, so every peer across it was last heard at or before the split, the
//!    leader's deadline is `last heard + peer_timeout`, and in that tick it drops those peers
//!    and, short of a quorum, steps down. Nobody on that side can be elected afterwards, since
//!    the quorum of a declared size needs voters from the other side.
//!
//! 11. **One lease at a time**: at no instant do two live members hold a leader lease
//!     ([`GroupCore::lease_until`] later than the member's own clock), whatever their clocks'
//!     rates (within [`SimConfig::clock_drift`]) and however long members are paused.
//!
//! Invariants 1, 2 and 11 are properties of a *declared* group size: without one, the quorum is a
//! majority of the members each one currently knows, so both sides of a partition elect, and
//! members whose views differ (heavy loss) may too, possibly in the same term. Runs without a
//! declared size check them only when [`SimConfig::strict_safety`] is set (by default: no
//! partitions and no loss) and otherwise count same-term leaders in
//! [`SimOutcome::split_brain_terms`].
//!
//! **Workload** (see [`Workload`], on by default): at random moments drawn from the run's seed,
//! live members ask for votes (on a value or an action, majority or consensus, with a timeout
//! around the consensus timeout, sometimes much shorter, now and then longer than members
//! remember a vote by default), answer the votes they are called to after a random delay
//! (mostly yes; some late, some never), send messages to the leader, and a leader sends
//! messages to random members. The simulator keeps its own ledger of what was
//! asked, cast, called and announced, and checks after every step:
//!
//! 5. **One outcome per vote**: every [`Event::VoteEnded`] for a vote id, on any member and in
//!    any incarnation of it, carries the same outcome, and the subject that was asked for.
//! 6. **Once per member**: a member (incarnation) is called to a vote at most once, learns its
//!    end at most once, and the requester gets at most one of [`Event::VoteEnded`] and
//!    [`Event::VoteLost`]; [`Event::VoteLost`] goes only to the requester (the incarnation that
//!    asked), and not before the vote's timeout plus a heartbeat.
//! 7. **A request always ends**: a requester that stays up gets one of them no later than
//!    `asked + timeout + heartbeat + delay_max`.
//! 8. **Justified outcomes**: a leader announces `Yes` only if at least the needed number of
//!    distinct voters of its snapshot (the members it knew when it called the vote) cast yes
//!    (for majority, the quorum of the snapshot, or of the declared size when there is one; for
//!    consensus, all of them), and `No` only if enough of them cast no that it could not pass.
//!    Ballots count from any incarnation of a voter (a restarted member may be called again).
//! 9. **Leader messages**: [`Event::MessageToLeader`] is given only to a member that is Leader,
//!    with the true sender; [`Event::MessageFromLeader`] only from the true sender, which was
//!    Leader in the term the recipient is in when it gets it.
//! 10. **Calls are remembered**: a member can cast its ballot in a vote it was called to (the
//!     first time) as long as it has not learned the vote's end and still follows the leader
//!     that called it in the term of the call, however long the vote's timeout.
//!
//! Further checks plug in through an [`Observer`]: it sees every output of every member and the
//! state after every step, and can report its own violations.

mod config;
mod invariants;
mod outcome;
mod rng;
mod trace;
mod votes;
mod workload;
mod world;

use std::time::Duration;

use self::trace::note;
use self::workload::Action;
use self::world::{Phase, World};
#[cfg(doc)]
use crate::core::{Event, GroupCore};

pub use self::config::{SimConfig, Workload};
pub use self::outcome::{InvariantKind, MemberView, NoObserver, Observer, SimOutcome, Violation};
pub use self::rng::{member_id, SimRng};

/// Runs one simulation with `seed`. It keeps no trace (formatting one costs more than the
/// simulation); when an invariant breaks, it runs the seed again, which replays it exactly,
/// keeping the trace this time.
pub fn run(seed: u64, config: &SimConfig) -> SimOutcome {
    let outcome = simulate(seed, config, &mut NoObserver, false);
    if outcome.violations.is_empty() {
        outcome
    } else {
        simulate(seed, config, &mut NoObserver, true)
    }
}

/// Runs one simulation with `seed`, with `observer` plugged in (keeping the trace, since an
/// observer's findings may not replay).
pub fn run_with(seed: u64, config: &SimConfig, observer: &mut dyn Observer) -> SimOutcome {
    simulate(seed, config, observer, true)
}

fn simulate(seed: u64, config: &SimConfig, observer: &mut dyn Observer, tracing: bool) -> SimOutcome {
    let mut world = World::new(seed, config, observer, tracing);
    let chaos_loss = world.rng.unit() * config.max_loss;
    // Members join at random moments within the first heartbeat.
    let mut joins: Vec<(Duration, usize)> =
        (0..config.members).map(|i| (world.rng.between(Duration::ZERO, config.group.heartbeat), i)).collect();
    joins.sort();
    if let Some(workload) = config.workload {
        for i in 0..config.members {
            let first = world.wrng.between(Duration::ZERO, workload.vote_interval * 2);
            world.schedule(first, Action::Request(i));
            let first = world.wrng.between(Duration::ZERO, workload.message_interval * 2);
            world.schedule(first, Action::Message(i));
        }
    }
    world.phase = Phase::Chaos;
    for (at, i) in joins {
        world.run_until(at);
        world.start(i);
    }
    for _ in 0..config.rounds {
        // Chaos.
        world.phase = Phase::Chaos;
        world.loss = chaos_loss;
        let end = world.now + world.rng.between(config.chaos_min, config.chaos_max);
        loop {
            let gap = world.rng.between(Duration::ZERO, config.fault_interval * 2);
            let at = world.now + gap;
            if at >= end || !world.outcome.violations.is_empty() {
                break;
            }
            world.run_until(at);
            world.fault();
        }
        world.run_until(end);
        // Heal: partition gone, everyone back, no loss.
        world.heal_partition();
        world.resume_all();
        for i in 0..config.members {
            if world.members[i].is_none() {
                world.start(i);
            }
        }
        world.loss = 0.0;
        world.phase = Phase::Calm;
        world.heal_at = world.now;
        world.agreed_since_heal = world.agreed_leader().map(|_| Duration::ZERO);
        note!(world, "{:?} healed", world.now);
        let calm_end = world.now + config.calm.max(config.heal_bound);
        world.run_until(calm_end);
        world.outcome.heals += 1;
        let took = world.agreed_since_heal;
        world.outcome.time_to_leader.push(took);
        if !world.outcome.violations.is_empty() {
            break;
        }
    }
    if world.outcome.violations.is_empty() {
        // Requests past their bound at the end of the run, then the rest are unfinished.
        world.check_requests();
        world.outcome.votes_unfinished += world.ledger.open.len() as u64;
    }
    let mut outcome = world.outcome;
    if !outcome.violations.is_empty() {
        outcome.trace = world.trace.into();
    }
    outcome
}
