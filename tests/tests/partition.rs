//! A group across a network partition: the microgrid app (`apps/microgrid`, group size 5) runs
//! three units on host a and two on host b, two network namespaces on a bridge, each with its
//! own discovery daemon sharing one Redis server. Cutting b off the bridge leaves side a with
//! exactly one leader known to its three units and side b (a minority of the declared size) with
//! none; healing the link brings all five back under one leader.
//!
//! Secured with CURVE, as docs/security.md sets up several hosts: the app's key file is made
//! once and copied to each host's key directory, and each host's daemon makes its own key there.
//!
//! Needs root (for `ip netns`), iproute2 and redis-server; without them it prints why it skips
//! (and fails instead with `COHORT_REQUIRE_NETNS` or `COHORT_REQUIRE_REDIS` set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use std::path::Path;

use cohort_tests::{host_key_dirs, installed, ip, netns_unavailable, Hosts, Proc, RedisServer, TempDir};
use serde_json::Value;

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");
const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const DEPLOYMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/partition.depl");
const DAEMON: &str = "tcp://127.0.0.1:9700";
const SIDE_A: [&str; 3] = ["Unit1", "Unit2", "Unit3"];
const SIDE_B: [&str; 2] = ["Unit4", "Unit5"];
const ALL: [&str; 5] = ["Unit1", "Unit2", "Unit3", "Unit4", "Unit5"];
/// How long the five units may take to agree on a leader after they start.
const START: Duration = Duration::from_secs(15);
/// After the cut: a peer timeout (1 s) for the sides to forget each other, an election on side a
/// (0.3–0.5 s), and slack.
const SPLIT: Duration = Duration::from_secs(4);
/// How long the partition is held once both sides settled, watching that they stay so: longer
/// than the Redis TTL (1 s) and ZeroMQ's heartbeat timeout (3 s), so the heal needs b's
/// registrations and the connections across the link made anew.
const HOLD: Duration = Duration::from_secs(5);
/// After the heal: Redis reconnection (back-off up to 2 s), discovery, reconnection, elections.
const HEAL: Duration = Duration::from_secs(10);

fn skip(why: &str, require: &str) {
    let line = format!("SKIPPED partition: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(std::env::var_os(require).is_none(), "{require} is set: {why}");
}

/// An actor's latest `group view`, and when it was read.
#[derive(Debug, Clone)]
struct View {
    leader: String,
    members: u64,
    me: String,
    at: Instant,
}

/// Every unit's latest view of the group, from the JSON log records of both hosts' launchers.
struct Views {
    records: Receiver<(Instant, Value)>,
    views: BTreeMap<String, View>,
}

impl Views {
    /// Reads one record within `until`; updates the views. None when `until` passed.
    fn next(&mut self, until: Instant) -> Option<(Instant, Value)> {
        let left = until.saturating_duration_since(Instant::now());
        let (at, r) = self.records.recv_timeout(left).ok()?;
        if r["msg"] == "group view" {
            let text = |key: &str| r[key].as_str().unwrap().to_owned();
            let view = View { leader: text("leader"), members: r["members"].as_u64().unwrap(), me: text("me"), at };
            self.views.insert(r["actor"].as_str().unwrap().to_owned(), view);
        }
        Some((at, r))
    }

    /// Returns what `done` finds in the views, reading records until it does; panics after
    /// `within`.
    fn until<T>(&mut self, what: &str, within: Duration, done: impl Fn(&Views) -> Option<T>) -> T {
        let give_up = Instant::now() + within;
        loop {
            if let Some(found) = done(self) {
                return found;
            }
            if self.next(give_up).is_none() {
                panic!("not {what} within {within:?}; views: {:#?}", self.views);
            }
        }
    }

    /// The leader every one of `units` names, with `members` members each, if they agree on one
    /// of them, and when the last of them came to that view.
    fn agreed(&self, units: &[&str], members: u64) -> Option<(String, Instant)> {
        let views: Vec<&View> = units.iter().map(|u| self.views.get(*u)).collect::<Option<_>>()?;
        let leader = &views.first()?.leader;
        let agree = views.iter().all(|v| &v.leader == leader && v.members == members);
        let since = views.iter().map(|v| v.at).max()?;
        (agree && views.iter().any(|v| &v.me == leader)).then(|| (leader.clone(), since))
    }

    /// If none of `units` knows a leader: since when.
    fn leaderless(&self, units: &[&str]) -> Option<Instant> {
        let views: Vec<&View> = units.iter().map(|u| self.views.get(*u)).collect::<Option<_>>()?;
        let since = views.iter().map(|v| v.at).max()?;
        views.iter().all(|v| v.leader == "none").then_some(since)
    }

    /// The unit whose member is `member`.
    fn unit_of(&self, member: &str) -> String {
        self.views.iter().find(|(_, v)| v.me == member).map_or_else(|| "?".to_owned(), |(u, _)| u.clone())
    }
}

/// `microgrid run` for one host, in its namespace; its JSON records go to `tx`. Killed (and
/// with it its actors, which die with their launcher) when dropped.
struct Launcher(Child);

impl Launcher {
    fn start(ns: &str, host: &str, keys_dir: &Path, tx: Sender<(Instant, Value)>) -> Launcher {
        let interface = format!("{ns}i");
        let keys_dir = keys_dir.display().to_string();
        let args = [
            "netns",
            "exec",
            ns,
            MICROGRID,
            "run",
            "--deployment",
            DEPLOYMENT,
            "--host",
            host,
            "--daemon",
            DAEMON,
            "--interface",
            &interface,
            "--log-format",
            "json",
            "--keys-dir",
            &keys_dir,
        ];
        let mut child = Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(record) = serde_json::from_str::<Value>(&line) {
                    if tx.send((Instant::now(), record)).is_err() {
                        break;
                    }
                }
            }
        });
        Launcher(child)
    }
}

impl Drop for Launcher {
    /// Stops the app as Ctrl-C would (its actors leave the group and unregister while discovery
    /// still runs), and kills it if it has not stopped within its 5 s grace.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let give_up = Instant::now() + Duration::from_secs(6);
        while Instant::now() < give_up {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_partitioned_minority_has_no_leader_and_the_healed_group_has_one() {
    if let Some(why) = netns_unavailable() {
        return skip(&why, "COHORT_REQUIRE_NETNS");
    }
    if !installed("redis-server") {
        return skip("redis-server not found (apt-get install -y redis-server)", "COHORT_REQUIRE_REDIS");
    }
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip(&format!("cannot create network namespaces: {why}"), "COHORT_REQUIRE_NETNS"),
    };
    // Listening on the bridge, which both hosts reach (until b is cut off).
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let (ns_a, ns_b) = (hosts.ns("a"), hosts.ns("b"));
    let place = TempDir::new("partition").unwrap();
    let keys = host_key_dirs(place.path(), "Microgrid", &["a", "b"]).unwrap();
    let (keys_a, keys_b) = (keys[0].display().to_string(), keys[1].display().to_string());
    let disco_a =
        Proc::in_ns("disco a", &ns_a, PROBE, &["disco", DAEMON, "host-a", &redis, "--keys-dir", &keys_a]).unwrap();
    let disco_b =
        Proc::in_ns("disco b", &ns_b, PROBE, &["disco", DAEMON, "host-b", &redis, "--keys-dir", &keys_b]).unwrap();
    disco_a.expect("READY");
    disco_b.expect("READY");

    let (tx, records) = channel();
    let started = Instant::now();
    let _a = Launcher::start(&ns_a, "host-a", &keys[0], tx.clone());
    let _b = Launcher::start(&ns_b, "host-b", &keys[1], tx);
    let mut views = Views { records, views: BTreeMap::new() };
    let (leader, at) = views.until("all five units agreeing on a leader", START, |v| v.agreed(&ALL, 5));
    eprintln!("partition: all 5 units follow {} after {:?}", views.unit_of(&leader), at - started);

    // Cut host b off the bridge (its end of the link goes down; Redis is out of its reach too).
    let b_link = format!("{ns_b}o");
    ip(&["link", "set", &b_link, "down"]).unwrap();
    let cut = Instant::now();
    let (a_leader, at) = views.until("side a led and side b leaderless", SPLIT, |v| {
        let (a, a_since) = v.agreed(&SIDE_A, 3)?;
        let b_since = v.leaderless(&SIDE_B)?;
        Some((a, a_since.max(b_since)))
    });
    eprintln!(
        "partition: cut (leader was {}); side a follows {}, side b has no leader, {:?} after the cut",
        views.unit_of(&leader),
        views.unit_of(&a_leader),
        at - cut
    );
    // Hold the partition: side b never gets a leader, side a keeps its own.
    let hold_until = Instant::now() + HOLD;
    while let Some((_, r)) = views.next(hold_until) {
        if r["msg"] == "group view" {
            assert!(views.leaderless(&SIDE_B).is_some(), "side b (a minority of 5) got a leader: {:#?}", views.views);
            let a = views.agreed(&SIDE_A, 3).map(|(leader, _)| leader);
            assert_eq!(a.as_ref(), Some(&a_leader), "side a lost its leader: {:#?}", views.views);
        }
    }

    ip(&["link", "set", &b_link, "up"]).unwrap();
    let healed = Instant::now();
    let (joined, at) = views.until("all five units under one leader again", HEAL, |v| v.agreed(&ALL, 5));
    eprintln!("partition: healed; all 5 units follow {} {:?} after the heal", views.unit_of(&joined), at - healed);
}
