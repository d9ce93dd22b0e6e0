#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The deterministic simulation (`cohort_groups::sim`) over a few hundred seeds: groups of 2, 3,
//! 5 and 7 members, with and without a declared size, with the default (LAN) timing and with a
//! 20 ms heartbeat, over a lossy, duplicating, reordering network with crashes, restarts and
//! partitions, under the default workload (members ask for votes, answer them, and message the
//! leader, which messages them back). Every invariant (elections, votes, leader messages) is
//! checked after every step; a failure prints the seed, the configuration, the last events and
//! the command that replays it. `COHORT_SIM_SEED=<seed> cargo test -p cohort-groups --test
//! simulation` runs just that seed in every configuration. Thousands of seeds:
//! `cargo run --release -p cohort-groups --example simulate -- --seeds 10000`.

use std::time::Duration;

use cohort_groups::sim::{self, SimConfig};
use cohort_groups::GroupConfig;

fn config(members: usize, declared: bool, fast: bool) -> SimConfig {
    let mut group = GroupConfig::default();
    if fast {
        group = group.with_heartbeat(Duration::from_millis(20));
    }
    if declared {
        group.expected_size = Some(members);
    }
    SimConfig::new(members, group)
}

/// Runs `seeds` seeds (or just `COHORT_SIM_SEED`) and fails listing every failing seed.
fn run_seeds(members: usize, declared: bool, fast: bool, seeds: std::ops::Range<u64>) {
    let config = config(members, declared, fast);
    let seeds: Vec<u64> = match std::env::var("COHORT_SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("COHORT_SIM_SEED is a number")],
        Err(_) => seeds.collect(),
    };
    let mut failures = Vec::new();
    let mut heals = 0;
    for seed in seeds {
        let outcome = sim::run(seed, &config);
        heals += outcome.heals;
        if !outcome.violations.is_empty() {
            eprintln!("seed {seed} ({}) fails:", config.describe());
            for violation in &outcome.violations {
                eprintln!("  {violation}");
            }
            for line in &outcome.trace {
                eprintln!("    {line}");
            }
            eprintln!(
                "  replay: COHORT_SIM_SEED={seed} cargo test -p cohort-groups --test simulation, or \
                 cargo run --release -p cohort-groups --example simulate -- --seed {seed} --members {members} \
                 --expected {} --timing {}",
                if declared { "some" } else { "none" },
                if fast { "fast" } else { "default" }
            );
            failures.push(seed);
        }
    }
    assert!(failures.is_empty(), "{}: failing seeds {failures:?}", config.describe());
    assert!(heals > 0);
}

#[test]
fn two_members() {
    for (declared, fast) in [(false, false), (true, false), (false, true), (true, true)] {
        run_seeds(2, declared, fast, 0..30);
    }
}

#[test]
fn three_members() {
    for (declared, fast) in [(false, false), (true, false), (false, true), (true, true)] {
        run_seeds(3, declared, fast, 100..122);
    }
}

#[test]
fn five_members() {
    for (declared, fast) in [(false, false), (true, false), (false, true), (true, true)] {
        run_seeds(5, declared, fast, 200..212);
    }
}

#[test]
fn seven_members() {
    for (declared, fast) in [(true, false), (true, true), (false, true)] {
        run_seeds(7, declared, fast, 300..306);
    }
}

#[test]
fn a_seed_replays_exactly() {
    let config = config(5, true, false);
    let (a, b) = (sim::run(42, &config), sim::run(42, &config));
    assert_eq!(a.steps, b.steps);
    assert_eq!(a.elections, b.elections);
    assert_eq!(a.time_to_leader, b.time_to_leader);
    let votes = |o: &sim::SimOutcome| {
        [o.votes_requested, o.votes_yes, o.votes_no, o.votes_timeout, o.votes_lost, o.ballots, o.messages_to_leader]
    };
    assert_eq!(votes(&a), votes(&b));
    assert_ne!(sim::run(43, &config).steps, a.steps, "different seeds differ");
}

#[test]
fn the_workload_ends_votes_every_way_and_delivers_messages() {
    // Over a few seeds: passed, failed, timed-out and lost votes, refusals without a leader,
    // and messages both ways; and, at the requesters, no vote is counted twice.
    let mut total = sim::SimOutcome::default();
    for seed in 400..410 {
        let outcome = sim::run(seed, &config(5, seed % 2 == 0, false));
        assert!(outcome.violations.is_empty(), "seed {seed}: {:?}", outcome.violations);
        let settled = outcome.votes_yes
            + outcome.votes_no
            + outcome.votes_timeout
            + outcome.votes_lost
            + outcome.votes_unfinished;
        assert_eq!(settled, outcome.votes_requested, "seed {seed}: every request is accounted for once");
        total.votes_requested += outcome.votes_requested;
        total.votes_no_leader += outcome.votes_no_leader;
        total.votes_yes += outcome.votes_yes;
        total.votes_no += outcome.votes_no;
        total.votes_timeout += outcome.votes_timeout;
        total.votes_lost += outcome.votes_lost;
        total.ballots += outcome.ballots;
        total.messages_to_leader += outcome.messages_to_leader;
        total.messages_from_leader += outcome.messages_from_leader;
    }
    assert!(total.votes_requested > 500, "{total:?}");
    for (what, n) in [
        ("yes", total.votes_yes),
        ("no", total.votes_no),
        ("timeout", total.votes_timeout),
        ("lost", total.votes_lost),
        ("refused without a leader", total.votes_no_leader),
        ("ballots", total.ballots),
        ("messages to the leader", total.messages_to_leader),
        ("messages from the leader", total.messages_from_leader),
    ] {
        assert!(n > 0, "no {what} in {total:?}");
    }
    assert!(total.votes_yes > total.votes_no, "the workload leans to yes: {total:?}");
}

#[test]
fn without_a_workload_only_elections_run() {
    let mut config = config(3, true, false);
    config.workload = None;
    for seed in 0..5 {
        let outcome = sim::run(seed, &config);
        assert!(outcome.violations.is_empty(), "seed {seed}: {:?}", outcome.violations);
        assert_eq!(outcome.votes_requested + outcome.ballots + outcome.messages_to_leader, 0);
        assert!(outcome.elections > 0);
    }
}

#[test]
fn a_quiet_network_elects_within_the_bound() {
    // No faults at all: one leader, quickly, every time.
    for members in [2, 3, 5, 7] {
        let mut config = config(members, true, false);
        config.crashes = false;
        config.partitions = false;
        config.pauses = false;
        config.max_loss = 0.0;
        config.duplicate = 0.0;
        for seed in 0..5 {
            let outcome = sim::run(seed, &config);
            assert!(outcome.violations.is_empty(), "seed {seed}: {:?}", outcome.violations);
            assert_eq!(outcome.time_to_leader.len(), config.rounds);
            // Stable leader from the first round: nothing to re-elect after a quiet "heal".
            assert!(outcome.time_to_leader.iter().skip(1).all(|t| *t == Some(Duration::ZERO)), "seed {seed}");
        }
    }
}
