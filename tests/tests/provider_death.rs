//! A dead provider is noticed in milliseconds (issue 14): `cohort-probe ask` sends requests to
//! two `cohort-probe serve` processes in turn; one is stopped (so requests pile up at it) and
//! then killed with SIGKILL. The requester's socket monitor sees the connection close: every
//! request the dead replier held ends with `ProviderGone` within 100 ms of the kill, long before
//! discovery's liveness timeout (30 s here, so discovery plays no part), and every request after
//! that is answered by the other replier. Every request has exactly one outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use cohort_tests::{memory_daemon, stamp_of, unix_nanos, Proc};

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
/// How long the processes may take to start and show their first outcomes.
const START: Duration = Duration::from_secs(15);
/// The bound of the issue: from the kill to the end of the dead replier's requests.
const NOTICED: Duration = Duration::from_millis(100);
/// Far beyond anything this test waits for, so no request ends by its deadline.
const TIMEOUT_MS: u64 = 20_000;

/// Each request `ask` sent (with its wall-clock stamp) and each outcome it printed.
#[derive(Debug, Default)]
struct Asked {
    sent: BTreeMap<u64, u128>,
    /// Outcomes by request: `OK`, or the error's kind (`ProviderGone`, `TimedOut`, ...), with
    /// their stamps.
    outcomes: BTreeMap<u64, Vec<(String, u128)>>,
    added: usize,
    done: Option<String>,
}

impl Asked {
    fn learn(&mut self, line: &str) {
        let words: Vec<&str> = line.split(' ').collect();
        let stamp = stamp_of(line).unwrap_or_else(|| panic!("no stamp on {line:?}"));
        let id = || words[1].parse::<u64>().unwrap();
        match words[0] {
            "SENT" => {
                self.sent.insert(id(), stamp);
            }
            "OK" => self.outcomes.entry(id()).or_default().push(("OK".to_owned(), stamp)),
            // `FAIL <id> ProviderGone <stamp>`, `FAIL <id> TimedOut(20s) <stamp>`.
            "FAIL" => {
                let kind = words[2].split('(').next().unwrap().to_owned();
                self.outcomes.entry(id()).or_default().push((kind, stamp));
            }
            "ADDED" => self.added += 1,
            "DONE" => self.done = Some(line.to_owned()),
            _ => {}
        }
    }

    /// Reads `ask`'s lines until `done` holds; fails after `within`.
    fn until(&mut self, ask: &Proc, what: &str, within: Duration, mut done: impl FnMut(&Asked) -> bool) {
        let give_up = Instant::now() + within;
        while !done(self) {
            let left = give_up.saturating_duration_since(Instant::now());
            let line = ask.next_any(left).unwrap_or_else(|| panic!("ask: {what}: not within {within:?}: {self:?}"));
            self.learn(&line);
        }
    }

    /// The requests sent but not ended yet.
    fn open(&self) -> Vec<u64> {
        self.sent.keys().filter(|id| !self.outcomes.contains_key(id)).copied().collect()
    }

    fn ended(&self, id: u64) -> Option<&(String, u128)> {
        self.outcomes.get(&id).and_then(|o| o.first())
    }
}

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

#[test]
fn issue_14_a_killed_replier_ends_its_requests_at_once_and_the_other_answers() {
    // Discovery drops a silent client only after 30 s: it plays no part in what is measured.
    let daemon = memory_daemon("death-host", Duration::from_millis(100), Duration::from_secs(30)).unwrap();
    let ep = daemon.endpoint().to_owned();
    let serve = |name: &str| {
        let p = Proc::spawn(name, PROBE, &["serve", &ep, "Death", name]).unwrap();
        p.expect("READY ");
        p
    };
    let mut doomed = serve("Replier1");
    let _survivor = serve("Replier2");
    let timeout = TIMEOUT_MS.to_string();
    let mut ask = Proc::spawn_with_input(
        "ask",
        PROBE,
        &["ask", &ep, "Death", "Asker", "--every-ms", "10", "--timeout-ms", &timeout, "--stamp"],
    )
    .unwrap();
    let mut asked = Asked::default();
    // Both repliers known and answering.
    asked.until(&ask, "both repliers answering", START, |a| {
        a.added == 2 && a.outcomes.values().filter(|o| o[0].0 == "OK").count() >= 10
    });

    // Stop one replier: the requests sent to it stay open (one in two, in turn).
    doomed.signal(libc::SIGSTOP).unwrap();
    let stopped = unix_nanos();
    asked.until(&ask, "requests piling up at the stopped replier", START, |a| {
        a.sent.values().filter(|&&at| at > stopped).count() >= 20
    });
    let before_kill = unix_nanos();
    doomed.kill();
    let killed = unix_nanos();
    // The requests open at the kill: those held by the dead replier and perhaps one or two on
    // their way to the live one.
    let open = asked.open();
    asked.until(&ask, "the end of the requests open at the kill", Duration::from_secs(2), |a| {
        open.iter().all(|id| a.outcomes.contains_key(id))
    });
    let gone: Vec<u64> =
        open.iter().copied().filter(|&id| asked.ended(id).is_some_and(|(kind, _)| kind == "ProviderGone")).collect();
    assert!(gone.len() >= 5, "too few requests were held by the stopped replier: {gone:?} of {open:?}");
    let mut slowest = Duration::ZERO;
    for &id in &open {
        let (kind, at) = asked.ended(id).unwrap();
        assert!(kind == "OK" || kind == "ProviderGone", "request {id} open at the kill ended {kind}");
        if kind == "ProviderGone" {
            let took = Duration::from_nanos(u64::try_from(at.saturating_sub(before_kill)).unwrap());
            slowest = slowest.max(took);
        }
    }
    note(&format!(
        "FAULT kill -9 replier: {} requests ended ProviderGone, the last {:.1} ms after the kill (bound {} ms; \
         the kill itself took {:.1} ms)",
        gone.len(),
        slowest.as_secs_f64() * 1000.0,
        NOTICED.as_millis(),
        Duration::from_nanos(u64::try_from(killed - before_kill).unwrap()).as_secs_f64() * 1000.0,
    ));
    assert!(slowest <= NOTICED, "the dead replier's requests ended {slowest:?} after the kill");

    // From the moment the death was noticed, every request is answered, by the live replier.
    let noticed = asked.outcomes.values().flatten().filter(|(kind, _)| kind == "ProviderGone").map(|(_, at)| *at);
    let noticed = noticed.max().unwrap();
    let after = |a: &Asked| a.sent.iter().filter(|(_, &at)| at > noticed).map(|(id, _)| *id).collect::<Vec<u64>>();
    asked.until(&ask, "requests after the death answered", START, |a| {
        let later = after(a);
        later.len() >= 20 && later.iter().all(|id| a.outcomes.contains_key(id))
    });
    for id in after(&asked) {
        assert_eq!(asked.ended(id).map(|(kind, _)| kind.as_str()), Some("OK"), "request {id}, sent after the death");
    }

    // Stop asking: every request had exactly one outcome, and none timed out.
    ask.end_input();
    asked.until(&ask, "DONE", Duration::from_secs(5), |a| a.done.is_some());
    for (id, outcomes) in &asked.outcomes {
        assert_eq!(outcomes.len(), 1, "request {id} had outcomes {outcomes:?}");
        assert_ne!(outcomes[0].0, "TimedOut", "request {id}");
    }
    assert_eq!(asked.open(), Vec::<u64>::new(), "requests without an outcome");
    assert!(ask.wait_exit(Duration::from_secs(2)).is_some_and(|s| s.success()), "ask failed");
}
