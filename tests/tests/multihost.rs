//! Discovery across hosts: two network namespaces with their own addresses, joined by a bridge,
//! one discovery daemon in each, sharing one Redis server. A consumer on one host receives from
//! a provider on the other, and is told when the provider's host dies.
//!
//! Needs root (for `ip netns`), iproute2 and redis-server; without them it prints why it skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::time::Instant;

use cohort_tests::{installed, netns_unavailable, Hosts, Proc, RedisServer};

const PROBE: &str = env!("CARGO_BIN_EXE_cohort-probe");

fn skip(why: &str) {
    let line = format!("SKIPPED multihost: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    assert!(std::env::var_os("COHORT_REQUIRE_NETNS").is_none(), "COHORT_REQUIRE_NETNS is set: {why}");
}

fn probe(name: &str, ns: &str, args: &[&str]) -> Proc {
    Proc::in_ns(name, ns, PROBE, args).unwrap()
}

#[test]
fn a_consumer_on_one_host_receives_from_a_provider_on_another() {
    if let Some(why) = netns_unavailable() {
        return skip(&why);
    }
    if !installed("redis-server") {
        return skip("redis-server not found (apt-get install -y redis-server)");
    }
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => return skip(&format!("cannot create network namespaces: {why}")),
    };
    // Listening on the bridge, which both hosts reach.
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let redis = server.url();
    let daemon = "tcp://127.0.0.1:9700";
    let (ns_a, ns_b) = (hosts.ns("a"), hosts.ns("b"));

    let disco_b = probe("disco b", &ns_b, &["disco", daemon, "host-b", &redis]);
    disco_b.expect("READY");
    let consumer = probe("consumer", &ns_b, &["consume", daemon, "Weather", "Display", "Reading"]);
    consumer.expect("READY");

    let disco_a = probe("disco a", &ns_a, &["disco", daemon, "host-a", &redis]);
    disco_a.expect("READY");
    let provider = probe("provider", &ns_a, &["provide", daemon, "Weather", "Sensor", "Reading"]);
    let ready = provider.expect("READY ");
    let started = Instant::now();
    let endpoint = ready.trim_start_matches("READY ").to_owned();
    assert!(endpoint.starts_with(&format!("tcp://{}.0.1:", hosts.net())), "bound on host a's address: {endpoint}");

    assert_eq!(consumer.expect("ADDED "), format!("ADDED {endpoint}"));
    let added = started.elapsed();
    assert!(consumer.expect("MSG ").ends_with(&format!("FROM {endpoint}")));
    eprintln!("multihost: provider registered → consumer told in {added:?}");

    // Host a dies: its provider and its daemon are killed, so nothing withdraws the entry; it
    // expires in Redis and host b's daemon tells the consumer.
    drop(provider);
    drop(disco_a);
    let died = Instant::now();
    assert_eq!(consumer.expect("REMOVED "), format!("REMOVED {endpoint}"));
    eprintln!("multihost: host a died → consumer told in {:?}", died.elapsed());
}
