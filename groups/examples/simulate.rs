#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Runs the group simulator over many seeds and checks its invariants (see `cohort_groups::sim`).
//!
//! ```text
//! cargo run --release -p cohort-groups --example simulate -- --seeds 10000
//!     [--first S] [--seed S] [--members N] [--expected none|some|both] [--timing default|fast|both]
//!     [--rounds R] [--no-workload] [--jobs J] [--verbose]
//! ```
//!
//! Each seed runs one configuration of the matrix members × declared size × timing (chosen by
//! `seed % matrix size`; narrow the matrix with the flags). `--seed S` runs just that seed. On a
//! violation it prints the seed, the violation, the last events, and the command that replays it,
//! and exits with status 1. Runs carry the default workload (votes and member ↔ leader messages)
//! unless `--no-workload` is given; the totals include the vote and message statistics. Seeds
//! run on `--jobs` threads (default: every core); the output is the same whatever the number.

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cohort_groups::sim::{self, SimConfig};
use cohort_groups::GroupConfig;

struct Args {
    seeds: u64,
    first: u64,
    seed: Option<u64>,
    members: Vec<usize>,
    expected: Vec<bool>,
    fast: Vec<bool>,
    rounds: Option<usize>,
    workload: bool,
    jobs: usize,
    verbose: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: simulate [--seeds N] [--first S] [--seed S] [--members N] [--expected none|some|both] \
         [--timing default|fast|both] [--rounds R] [--no-workload] [--jobs J] [--verbose]"
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut args = Args {
        seeds: 1000,
        first: 0,
        seed: None,
        members: vec![2, 3, 5, 7],
        expected: vec![false, true],
        fast: vec![false, true],
        rounds: None,
        workload: true,
        jobs: std::thread::available_parallelism().map_or(1, usize::from),
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--seeds" => args.seeds = value().parse().unwrap_or_else(|_| usage()),
            "--first" => args.first = value().parse().unwrap_or_else(|_| usage()),
            "--seed" => args.seed = Some(value().parse().unwrap_or_else(|_| usage())),
            "--members" => args.members = vec![value().parse().unwrap_or_else(|_| usage())],
            "--rounds" => args.rounds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--expected" => {
                args.expected = match value().as_str() {
                    "none" => vec![false],
                    "some" => vec![true],
                    "both" => vec![false, true],
                    _ => usage(),
                }
            }
            "--timing" => {
                args.fast = match value().as_str() {
                    "default" => vec![false],
                    "fast" => vec![true],
                    "both" => vec![false, true],
                    _ => usage(),
                }
            }
            "--no-workload" => args.workload = false,
            "--jobs" => args.jobs = value().parse::<usize>().unwrap_or_else(|_| usage()).max(1),
            "--verbose" => args.verbose = true,
            _ => usage(),
        }
    }
    args
}

/// One configuration of the matrix.
#[derive(Clone, Copy)]
struct Spec {
    members: usize,
    expected: bool,
    fast: bool,
    workload: bool,
}

impl Spec {
    fn config(self, rounds: Option<usize>) -> SimConfig {
        let mut group = GroupConfig::default();
        if self.fast {
            group = group.with_heartbeat(Duration::from_millis(20));
        }
        if self.expected {
            group.expected_size = Some(self.members);
        }
        let mut config = SimConfig::new(self.members, group);
        if let Some(rounds) = rounds {
            config.rounds = rounds;
        }
        if !self.workload {
            config.workload = None;
        }
        config
    }

    fn flags(self) -> String {
        format!(
            "--members {} --expected {} --timing {}{}",
            self.members,
            if self.expected { "some" } else { "none" },
            if self.fast { "fast" } else { "default" },
            if self.workload { "" } else { " --no-workload" }
        )
    }
}

fn main() -> ExitCode {
    let args = parse();
    let mut matrix = Vec::new();
    for &members in &args.members {
        for &expected in &args.expected {
            for &fast in &args.fast {
                matrix.push(Spec { members, expected, fast, workload: args.workload });
            }
        }
    }
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (args.first..args.first + args.seeds).collect(),
    };
    let started = Instant::now();
    let (mut runs, mut steps, mut elections, mut heals, mut split_brain, mut crashes, mut partitions) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut amnesia, mut pauses, mut lease_overlaps) = (0u64, 0u64, 0u64);
    let mut votes = sim::SimOutcome::default();
    // Worst time to an agreed leader after a heal, as a fraction of the bound, per timing.
    let mut worst: Vec<(f64, Duration, u64, String)> = Vec::new();
    let mut failures = 0u64;
    // In chunks, so that a run that stops at the fifth failing seed does not go far beyond it.
    let outcomes = seeds.chunks(512).flat_map(|chunk| run_all(chunk, &matrix, args.rounds, args.jobs));
    for (seed, outcome) in seeds.iter().copied().zip(outcomes) {
        let spec = spec_for(&matrix, seed);
        let config = spec.config(args.rounds);
        runs += 1;
        steps += outcome.steps;
        elections += outcome.elections;
        heals += outcome.heals;
        split_brain += outcome.split_brain_terms;
        amnesia += outcome.amnesia_terms;
        crashes += outcome.crashes;
        partitions += outcome.partitions;
        pauses += outcome.pauses;
        lease_overlaps += outcome.lease_overlaps;
        add_votes(&mut votes, &outcome);
        if let Some(took) = outcome.max_time_to_leader() {
            let ratio = took.as_secs_f64() / config.heal_bound.as_secs_f64();
            if worst.first().is_none_or(|w| ratio > w.0) {
                worst = vec![(ratio, took, seed, config.describe())];
            }
        }
        if args.verbose {
            println!(
                "seed {seed} {}: {} steps, {} elections, time to leader {:?}; votes {} asked, {} yes, {} no, {} \
                 timeout, {} lost; messages {}/{} to and {}/{} from the leader",
                config.describe(),
                outcome.steps,
                outcome.elections,
                outcome.time_to_leader,
                outcome.votes_requested,
                outcome.votes_yes,
                outcome.votes_no,
                outcome.votes_timeout,
                outcome.votes_lost,
                outcome.messages_to_leader,
                outcome.messages_to_leader_sent,
                outcome.messages_from_leader,
                outcome.messages_from_leader_sent
            );
        }
        if !outcome.violations.is_empty() {
            failures += 1;
            println!("VIOLATION seed {seed} ({}):", config.describe());
            for violation in &outcome.violations {
                println!("  {violation}");
            }
            println!("  last events:");
            for line in &outcome.trace {
                println!("    {line}");
            }
            println!(
                "  replay: cargo run --release -p cohort-groups --example simulate -- --seed {seed} {}",
                spec.flags()
            );
            if failures >= 5 {
                println!("stopping after {failures} failing seeds");
                break;
            }
        }
    }
    println!(
        "{runs} seeds in {:.1?}: {steps} steps, {elections} elections, {crashes} crashes, {pauses} pauses, \
         {partitions} partitions, {heals} heals",
        started.elapsed()
    );
    if let Some((ratio, took, seed, describe)) = worst.first() {
        println!(
            "max time to one agreed leader after a heal: {took:?} ({:.0}% of the bound), seed {seed} ({describe})",
            ratio * 100.0
        );
    }
    println!("same-term leaders without a declared size (allowed by design): {split_brain} terms");
    println!("terms reused after a restart forgot a vote (terms are not persisted): {amnesia}");
    println!("steps with two leases without a declared size (allowed by design: both sides elect): {lease_overlaps}");
    println!(
        "votes: {} requested ({} refused: no leader); the requester learned {} yes, {} no, {} timeout; {} lost; \
         {} unfinished (requester crashed or run ended); {} ballots cast",
        votes.votes_requested,
        votes.votes_no_leader,
        votes.votes_yes,
        votes.votes_no,
        votes.votes_timeout,
        votes.votes_lost,
        votes.votes_unfinished,
        votes.ballots
    );
    println!(
        "messages delivered: {} of {} to the leader, {} of {} from the leader",
        votes.messages_to_leader,
        votes.messages_to_leader_sent,
        votes.messages_from_leader,
        votes.messages_from_leader_sent
    );
    println!("violations: {failures} seeds");
    if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Adds `outcome`'s vote and message counts to `total`.
fn add_votes(total: &mut sim::SimOutcome, outcome: &sim::SimOutcome) {
    total.votes_requested += outcome.votes_requested;
    total.votes_no_leader += outcome.votes_no_leader;
    total.votes_yes += outcome.votes_yes;
    total.votes_no += outcome.votes_no;
    total.votes_timeout += outcome.votes_timeout;
    total.votes_lost += outcome.votes_lost;
    total.votes_unfinished += outcome.votes_unfinished;
    total.ballots += outcome.ballots;
    total.messages_to_leader += outcome.messages_to_leader;
    total.messages_to_leader_sent += outcome.messages_to_leader_sent;
    total.messages_from_leader += outcome.messages_from_leader;
    total.messages_from_leader_sent += outcome.messages_from_leader_sent;
}

/// The configuration seed `seed` runs.
fn spec_for(matrix: &[Spec], seed: u64) -> Spec {
    matrix[usize::try_from(seed % matrix.len() as u64).unwrap()]
}

/// Runs `seeds` on `jobs` threads; the outcomes in the order of `seeds`.
fn run_all(seeds: &[u64], matrix: &[Spec], rounds: Option<usize>, jobs: usize) -> Vec<sim::SimOutcome> {
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<Option<sim::SimOutcome>> = vec![None; seeds.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.min(seeds.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&seed) = seeds.get(i) else { break };
                        done.push((i, sim::run(seed, &spec_for(matrix, seed).config(rounds))));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (i, outcome) in worker.join().unwrap() {
                outcomes[i] = Some(outcome);
            }
        }
    });
    outcomes.into_iter().map(Option::unwrap).collect()
}
