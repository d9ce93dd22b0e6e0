//! A frozen leader's lease (issue 13): five `cohort-probe group --expected 5 --stamp` processes
//! (default timing) find each other through a discovery daemon on a thread of this test. Once
//! they agree on a leader and it renews its lease, its process is stopped (SIGSTOP) until the
//! four others agree on a new leader, then continued (SIGCONT) until it follows the new leader
//! too and the new leader holds a lease; then every probe is asked to stop (SIGTERM), so it
//! prints its last `HOLD` line.
//!
//! From the probes' wall-clock stamps (one machine: one clock), it checks that
//!
//! - the frozen leader's lease had run out before the new leader acted: the last
//!   `LEASE <until>` it printed before the freeze is earlier than the start of the new leader's
//!   first `HOLD` after the freeze and than the new leader's `LEADER` line naming itself;
//! - over the whole run, no two members' `HOLD` intervals (runs of `is_leader() == true`
//!   samples) overlap: never did two members believe they led at once.
//!
//! Runs on any Linux, in a few seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use cohort_tests::{memory_daemon, signal, stamp_of, unix_nanos};

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const MEMBERS: usize = 5;
/// How long five fresh probes may take to agree on a leader.
const FORM: Duration = Duration::from_secs(10);
/// How long a leader may take to print a renewed lease (a heartbeat is 100 ms).
const RENEW: Duration = Duration::from_secs(2);
/// How long the survivors may take to agree on a new leader after the freeze: the old lease
/// (271 ms) and the survivors' election timeouts (300–500 ms), a split vote or two, and slack.
const FAILOVER: Duration = Duration::from_secs(3);
/// How long the continued leader may take to follow the new one.
const FOLLOW: Duration = Duration::from_secs(3);
/// How long a probe may take to exit after SIGTERM.
const EXIT: Duration = Duration::from_secs(3);

fn note(line: &str) {
    let _ = std::io::stderr().write_all(format!("lease: {line}\n").as_bytes());
}

fn ms(nanos: i128) -> f64 {
    nanos as f64 / 1e6
}

/// One stamped line of a probe: its first word, the words between, and its stamp.
#[derive(Debug, Clone)]
struct Line {
    word: String,
    args: Vec<String>,
    stamp: u128,
}

impl Line {
    /// The `i`-th word after the first, as a number.
    fn number(&self, i: usize) -> u128 {
        self.args[i].parse().unwrap_or_else(|_| panic!("not a number in {self:?}"))
    }
}

/// A probe process and every line it printed; killed when dropped.
struct Member {
    child: Child,
    lines: Vec<Line>,
    /// Its standard output ended.
    ended: bool,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Member {
    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Its member id, from `JOINED`.
    fn id(&self) -> Option<&str> {
        self.lines.iter().find(|l| l.word == "JOINED").map(|l| l.args[0].as_str())
    }

    /// The leader its latest `LEADER` line names (`none` included).
    fn leader(&self) -> Option<&str> {
        self.lines.iter().rev().find(|l| l.word == "LEADER").map(|l| l.args[0].as_str())
    }

    /// Its `HOLD` intervals, in order.
    fn holds(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        self.lines.iter().filter(|l| l.word == "HOLD").map(|l| (l.number(0), l.number(1)))
    }
}

/// The probes of one group instance, whose lines arrive on one channel.
struct Group {
    members: Vec<Member>,
    /// `(member, line)`; `None` when the member's standard output ended.
    rx: Receiver<(usize, Option<String>)>,
}

impl Group {
    fn start(daemon: &str, instance: &str, n: usize) -> Group {
        let (tx, rx) = channel();
        let mut members = Vec::new();
        for i in 0..n {
            let mut child = Command::new(PROBE)
                .args(["group", daemon, "LeaseTest", instance, "--expected", &n.to_string(), "--stamp"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            members.push(Member { child, lines: Vec::new(), ended: false });
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send((i, Some(line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((i, None));
            });
        }
        Group { members, rx }
    }

    /// Takes one line (and any others waiting) if one comes before `until`; false if none did.
    fn pump(&mut self, until: Instant) -> bool {
        let first = match self.rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        };
        let more: Vec<(usize, Option<String>)> = self.rx.try_iter().collect();
        for (i, line) in std::iter::once(first).chain(more) {
            let member = &mut self.members[i];
            let Some(line) = line else {
                member.ended = true;
                continue;
            };
            let stamp = stamp_of(&line).unwrap_or_else(|| panic!("member {i}: no stamp in {line:?}"));
            let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
            words.pop();
            let word = words.remove(0);
            member.lines.push(Line { word, args: words, stamp });
        }
        true
    }

    /// Reads lines until `done` finds something; panics after `within`.
    fn until<T>(&mut self, what: &str, within: Duration, done: impl Fn(&Group) -> Option<T>) -> T {
        let give_up = Instant::now() + within;
        loop {
            if let Some(found) = done(self) {
                return found;
            }
            if !self.pump(give_up) {
                panic!("not {what} within {within:?}\n{}", self.describe());
            }
        }
    }

    /// The member that every one of `among` names as its leader, if they agree on one of them.
    fn agreed(&self, among: &[usize]) -> Option<usize> {
        let leader = self.members[*among.first()?].leader()?;
        if !among.iter().all(|i| self.members[*i].leader() == Some(leader)) {
            return None;
        }
        among.iter().copied().find(|i| self.members[*i].id() == Some(leader))
    }

    fn describe(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members.iter().enumerate() {
            out += &format!("  member {i} ({:?}): latest leader {:?}, ended {}\n", m.id(), m.leader(), m.ended);
            for l in m.lines.iter().rev().take(8).rev() {
                out += &format!("    {} {} {}\n", l.word, l.args.join(" "), l.stamp);
            }
        }
        out
    }
}

#[test]
fn a_frozen_leader_loses_its_lease_before_another_member_leads() {
    // Discovery's liveness timeout (5 s) is longer than the freeze: discovery keeps the frozen
    // probe, only the group protocol acts.
    let daemon = memory_daemon("lease-host", Duration::from_millis(200), Duration::from_secs(5)).unwrap();
    let mut group = Group::start(daemon.endpoint(), &format!("frozen-{}", std::process::id()), MEMBERS);
    let all: Vec<usize> = (0..MEMBERS).collect();
    let old = group.until("all five agreeing on a leader", FORM, |g| g.agreed(&all));
    let mark = group.members[old].lines.len();
    // Its lease taken and renewed since: two new lease deadlines.
    group.until("the leader renewing its lease (two LEASE lines)", RENEW, |g| {
        (g.members[old].lines[mark..].iter().filter(|l| l.word == "LEASE").count() >= 2).then_some(())
    });
    let old_id = group.members[old].id().unwrap().to_owned();

    let stopped = unix_nanos();
    signal(group.members[old].pid(), libc::SIGSTOP).unwrap();
    let survivors: Vec<usize> = all.iter().copied().filter(|i| *i != old).collect();
    let new = group
        .until("the four others agreeing on a new leader", FAILOVER, |g| g.agreed(&survivors).filter(|n| *n != old));
    let continued = unix_nanos();
    signal(group.members[old].pid(), libc::SIGCONT).unwrap();
    let new_id = group.members[new].id().unwrap().to_owned();
    group.until("the continued leader following the new one", FOLLOW, |g| {
        (g.members[old].leader() == Some(new_id.as_str())).then_some(())
    });
    group.until("the new leader holding a lease (a LEASE line)", RENEW, |g| {
        g.members[new].lines.iter().any(|l| l.word == "LEASE" && l.stamp > stopped).then_some(())
    });

    for m in &group.members {
        signal(m.pid(), libc::SIGTERM).unwrap();
    }
    group.until("every probe ending its output", EXIT, |g| g.members.iter().all(|m| m.ended).then_some(()));
    for (i, m) in group.members.iter_mut().enumerate() {
        let status = m.child.wait().unwrap();
        assert!(status.success(), "member {i} exited with {status} after SIGTERM");
    }
    let g = &group;

    // (a) The frozen leader's lease ran out before the new leader acted as one. Everything it
    // printed before SIGCONT, it printed before the freeze took hold.
    let last_lease = g.members[old]
        .lines
        .iter()
        .rev()
        .find(|l| l.word == "LEASE" && l.stamp < continued)
        .map(|l| l.number(0))
        .unwrap_or_else(|| panic!("no LEASE line of the old leader before the freeze\n{}", g.describe()));
    // The old leader's run of is_leader() samples that the freeze cut.
    let (old_from, old_to) = g.members[old]
        .holds()
        .filter(|(from, _)| *from < stopped)
        .last()
        .unwrap_or_else(|| panic!("no HOLD of the old leader begun before the freeze\n{}", g.describe()));
    let (new_from, new_to) = g.members[new]
        .holds()
        .find(|(_, to)| *to >= stopped)
        .unwrap_or_else(|| panic!("no HOLD of the new leader after the freeze\n{}", g.describe()));
    let elected = g.members[new]
        .lines
        .iter()
        .find(|l| l.word == "LEADER" && l.args[0] == new_id && l.stamp > stopped)
        .map(|l| l.stamp)
        .unwrap_or_else(|| panic!("no LEADER line of the new leader naming itself\n{}", g.describe()));
    // Times in ms from the SIGSTOP, for people.
    let at = |t: u128| ms(t as i128 - stopped as i128);
    let times = format!(
        "(ms from the SIGSTOP) old leader {old_id}: held {:.1}..{:.1}, last lease until {:.1}; new leader {new_id}: \
         LEADER naming itself at {:.1}, held {:.1}..{:.1}; SIGCONT at {:.1}",
        at(old_from),
        at(old_to),
        at(last_lease),
        at(elected),
        at(new_from),
        at(new_to),
        at(continued)
    );
    note(&times);
    assert!(
        last_lease < elected,
        "the old leader's lease outlasted the new leader's election: {times}\n{}",
        g.describe()
    );
    assert!(
        last_lease < new_from,
        "the old leader's lease outlasted the start of the new leader's hold: {times}\n{}",
        g.describe()
    );
    assert!(
        old_to < elected,
        "the old leader still found itself leading after the new leader's election: {times}\n{}",
        g.describe()
    );

    // (b) No two members ever held at once.
    let holds: Vec<(usize, u128, u128)> =
        g.members.iter().enumerate().flat_map(|(i, m)| m.holds().map(move |(from, to)| (i, from, to))).collect();
    for (k, (i, from, to)) in holds.iter().enumerate() {
        assert!(from <= to, "member {i}: a HOLD ending before it starts: {from} {to}");
        for (j, other_from, other_to) in &holds[k + 1..] {
            assert!(
                i == j || to < other_from || other_to < from,
                "members {i} and {j} held at once: {from}..{to} and {other_from}..{other_to}\n{}",
                g.describe()
            );
        }
    }
    let holders = g.members.iter().filter(|m| m.holds().next().is_some()).count();
    note(&format!("{} HOLD intervals of {holders} members, none overlapping", holds.len()));
}
