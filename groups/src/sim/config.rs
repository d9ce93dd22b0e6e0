//! What a run simulates: the network, the faults and the workload.

use std::time::Duration;

use super::rng::SimRng;
use crate::config::{GroupConfig, MAX_CLOCK_DRIFT};

/// The application's load on the group in a run (see the module's documentation). Everything
/// it does is drawn from the run's seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// Mean time between one live member's vote requests (each gap uniform in `[0, 2 × mean]`).
    pub vote_interval: Duration,
    /// Mean time between one live member's messages to the leader; a member that leads also
    /// sends one to a random member (possibly itself, possibly one it does not know) each time.
    pub message_interval: Duration,
    /// Probability that a ballot says yes.
    pub yes: f64,
    /// Probability that a member never answers a vote it is called to.
    pub silent: f64,
    /// Most answers come uniformly within this long of the call.
    pub answer_quick: Duration,
    /// Probability that an answer is slow instead: uniformly within `answer_slow`.
    pub slow: f64,
    /// The longest a slow answer takes (longer than a vote's timeout: some votes time out).
    pub answer_slow: Duration,
    /// Probability that a vote is long: its timeout is longer than members remember a vote
    /// by default (2 × consensus timeout + peer timeout), and its answers come at any time
    /// within it.
    pub long: f64,
}

impl Workload {
    /// For `group`: a vote request and a message per member every 2 heartbeats on average,
    /// 85 % yes, 5 % of calls never answered, answers within a quarter of the consensus timeout
    /// or (10 %) up to 1.25 × it; 3 % of the votes long.
    pub fn new(group: &GroupConfig) -> Workload {
        Workload {
            vote_interval: group.heartbeat * 2,
            message_interval: group.heartbeat * 2,
            yes: 0.85,
            silent: 0.05,
            answer_quick: group.consensus_timeout / 4,
            slow: 0.1,
            answer_slow: group.consensus_timeout.mul_f64(1.25),
            long: 0.03,
        }
    }

    /// A vote's timeout: the group's default (None) a quarter of the time, around the consensus
    /// timeout (half to one and a half times it) most of the time, and one to three heartbeats
    /// (often too short to finish) a fifth of the time; or, with probability `long`, one to one
    /// and a half times the members' default memory of a vote.
    pub(super) fn timeout(&self, rng: &mut SimRng, group: &GroupConfig) -> Option<Duration> {
        if rng.chance(self.long) {
            let memory = group.consensus_timeout * 2 + group.peer_timeout;
            return Some(rng.between(memory, memory.mul_f64(1.5)));
        }
        let roll = rng.unit();
        if roll < 0.25 {
            None
        } else if roll < 0.8 {
            Some(rng.between(group.consensus_timeout / 2, group.consensus_timeout.mul_f64(1.5)))
        } else {
            Some(rng.between(group.heartbeat, group.heartbeat * 3))
        }
    }
}

/// What one run simulates. [`SimConfig::new`] gives sensible defaults scaled to the group's
/// heartbeat.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// How many members.
    pub members: usize,
    /// The members' group configuration (timing, declared size).
    pub group: GroupConfig,
    /// Shortest one-way delay.
    pub delay_min: Duration,
    /// Longest one-way delay.
    pub delay_max: Duration,
    /// Each run draws its chaos-phase loss probability uniformly from `[0, max_loss]`.
    pub max_loss: f64,
    /// Probability that a message is delivered twice (independent delays), in every phase.
    pub duplicate: f64,
    /// Whether members crash and restart in chaos phases.
    pub crashes: bool,
    /// Whether partitions happen in chaos phases.
    pub partitions: bool,
    /// How many chaos + calm rounds.
    pub rounds: usize,
    /// Shortest chaos phase.
    pub chaos_min: Duration,
    /// Longest chaos phase.
    pub chaos_max: Duration,
    /// Mean time between faults in a chaos phase.
    pub fault_interval: Duration,
    /// Invariant 3's bound: after healing, one agreed leader within this long.
    pub heal_bound: Duration,
    /// How long a calm phase lasts (at least `heal_bound`).
    pub calm: Duration,
    /// Check invariants 1, 2 and 11 even without a declared size.
    pub strict_safety: bool,
    /// How far each member's clock rate may be from true time: each member (each start) runs
    /// its clock at a rate drawn uniformly from `[1 − drift, 1 + drift]`.
    pub clock_drift: f64,
    /// Whether members are paused in chaos phases, as a process stopped by SIGSTOP, swapped out
    /// or starved is: it neither hears nor ticks for a while, its clock runs on, and then it
    /// gets everything that came meanwhile.
    pub pauses: bool,
    /// The longest pause.
    pub pause_max: Duration,
    /// The votes and messages members exchange (None: elections only).
    pub workload: Option<Workload>,
}

impl SimConfig {
    /// `members` members with `group`'s configuration, a network whose delays are 0.5–20 ms
    /// scaled to the heartbeat (as with a 1 s heartbeat), up to 20 % loss, 5 % duplication,
    /// crashes, pauses of up to 3 peer timeouts and partitions, clocks whose rates differ by
    /// up to [`MAX_CLOCK_DRIFT`], 3 rounds, and the default [`Workload`].
    ///
    /// The healing bound is `peer_timeout + 2 × election_max + heartbeat`: learning the highest
    /// term and the members takes at most a heartbeat (plus a delay), a stale leader steps
    /// down then, and an election takes one election timeout; the rest is room for split votes.
    pub fn new(members: usize, group: GroupConfig) -> SimConfig {
        let scale = |ms: f64| Duration::from_secs_f64(ms / 1000.0 * group.heartbeat.as_secs_f64());
        let heal_bound = group.peer_timeout + group.election_max * 2 + group.heartbeat;
        let partitions = true;
        let max_loss = 0.2;
        SimConfig {
            members,
            group,
            delay_min: scale(0.5),
            delay_max: scale(20.0),
            max_loss,
            duplicate: 0.05,
            crashes: true,
            partitions,
            rounds: 3,
            chaos_min: group.heartbeat * 3,
            chaos_max: group.heartbeat * 15,
            fault_interval: group.heartbeat * 2,
            heal_bound,
            calm: heal_bound + group.heartbeat * 3,
            strict_safety: group.expected_size.is_some(),
            clock_drift: MAX_CLOCK_DRIFT,
            pauses: true,
            pause_max: group.peer_timeout * 3,
            workload: Some(Workload::new(&group)),
        }
    }

    /// A short description that, with the seed, identifies a run.
    pub fn describe(&self) -> String {
        format!(
            "members={} expected_size={} heartbeat={:?} workload={}",
            self.members,
            self.group.expected_size.map_or_else(|| "none".to_owned(), |n| n.to_string()),
            self.group.heartbeat,
            if self.workload.is_some() { "on" } else { "off" }
        )
    }
}
