#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Scenarios of the registry core, each checking the exact effects: registration and liveness,
//! lookups and their pushes, the matching rules, sharing with other hosts, bad frames (which
//! change nothing) and endpoints taken over after a crash.
//!
//! Time is simulated: every call gets `now`, and nothing sleeps.

use std::time::Duration;

use cohort_discovery::protocol::{
    encode, ClientFrame, ClientRequest, DaemonFrame, DaemonMessage, ErrorCode, ReplyBody, WireScope, PROTOCOL_VERSION,
};
use cohort_discovery::{Effect, Reach, Registry, RegistryConfig, Service};

const HOST: &str = "h1";
const APP: &str = "App";
const E1: &str = "tcp://10.0.0.1:5001";
const E2: &str = "tcp://10.0.0.1:5002";
const E3: &str = "tcp://10.0.0.2:6001";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn registry_on(host: &str) -> Registry {
    Registry::new(RegistryConfig { host: host.into(), heartbeat_interval: ms(500), liveness_timeout: ms(2000) })
}

fn registry() -> Registry {
    registry_on(HOST)
}

fn svc(app: &str, kind: &str, messages: &str, reach: Reach) -> Service {
    Service { app: app.into(), kind: kind.into(), messages: messages.into(), reach }
}

fn global(kind: &str, messages: &str) -> Service {
    svc(APP, kind, messages, Reach::Global)
}

fn local(kind: &str, messages: &str) -> Service {
    svc(APP, kind, messages, Reach::Host(HOST.into()))
}

fn hello_req(app: &str, actor: &str) -> ClientRequest {
    ClientRequest::Hello { app: app.into(), actor: actor.into(), pid: 42 }
}

fn provide_req(port: &str, kind: &str, messages: &str, scope: WireScope, endpoint: &str) -> ClientRequest {
    ClientRequest::Provide {
        port: port.into(),
        kind: kind.into(),
        messages: messages.into(),
        scope,
        endpoint: endpoint.into(),
    }
}

fn lookup_req(port: &str, kind: &str, messages: &str, scope: WireScope) -> ClientRequest {
    ClientRequest::Lookup { port: port.into(), kind: kind.into(), messages: messages.into(), scope }
}

fn frame(id: u64, request: ClientRequest) -> Vec<u8> {
    encode(&ClientFrame { version: PROTOCOL_VERSION, id, request })
}

fn done(to: &[u8], id: u64) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Ok(ReplyBody::Done) }
}

fn endpoints(to: &[u8], id: u64, eps: &[&str]) -> Effect {
    let list = eps.iter().map(|e| e.to_string()).collect();
    Effect::Reply { to: to.to_vec(), id, result: Ok(ReplyBody::Endpoints(list)) }
}

fn welcome(to: &[u8], id: u64) -> Effect {
    Effect::Reply { to: to.to_vec(), id, result: Ok(ReplyBody::Welcome { heartbeat_ms: 500, timeout_ms: 2000 }) }
}

fn added(to: &[u8], port: &str, endpoint: &str) -> Effect {
    Effect::Push { to: to.to_vec(), port: port.into(), added: vec![endpoint.into()], removed: vec![] }
}

fn removed(to: &[u8], port: &str, endpoint: &str) -> Effect {
    Effect::Push { to: to.to_vec(), port: port.into(), added: vec![], removed: vec![endpoint.into()] }
}

/// The error code of the only effect, which must be an error reply to `to` for request `id`.
fn error_code(effects: &[Effect], to: &[u8], id: u64) -> ErrorCode {
    match effects {
        [Effect::Reply { to: t, id: i, result: Err(e) }] if t == to && *i == id => e.code,
        other => panic!("expected one error reply to {to:?} for request {id}, got {other:?}"),
    }
}

/// Says hello for `client` as actor `actor` of [`APP`], checking the welcome.
fn hello(r: &mut Registry, now: Duration, client: &[u8], actor: &str) {
    let effects = r.on_request(now, client, 1, hello_req(APP, actor));
    assert_eq!(effects, vec![welcome(client, 1)]);
}

/// Sends `request` as request 7 and returns the effects.
fn send(r: &mut Registry, now: Duration, client: &[u8], request: ClientRequest) -> Vec<Effect> {
    r.on_request(now, client, 7, request)
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[test]
fn hello_is_welcomed_with_the_heartbeat_and_timeout() {
    let mut r = registry();
    let effects = r.on_frame(ms(0), b"a", &frame(3, hello_req(APP, "A")));
    assert_eq!(effects, vec![welcome(b"a", 3)]);
    let listing = r.listing();
    assert_eq!(listing.actors.len(), 1);
    assert_eq!(
        (listing.actors[0].app.as_str(), listing.actors[0].actor.as_str(), listing.actors[0].pid),
        (APP, "A", 42)
    );

    // Other timings are reported as configured.
    let mut other = Registry::new(RegistryConfig {
        host: HOST.into(),
        heartbeat_interval: ms(250),
        liveness_timeout: Duration::from_secs(3),
    });
    let effects = other.on_request(ms(0), b"a", 9, hello_req(APP, "A"));
    let welcome = ReplyBody::Welcome { heartbeat_ms: 250, timeout_ms: 3000 };
    assert_eq!(effects, vec![Effect::Reply { to: b"a".to_vec(), id: 9, result: Ok(welcome) }]);
}

#[test]
fn every_request_before_hello_is_refused_as_unknown_client() {
    let requests = [
        ClientRequest::Heartbeat,
        ClientRequest::Goodbye,
        provide_req("p.out", "pub", "M", WireScope::Global, E1),
        ClientRequest::Withdraw { endpoint: E1.into() },
        lookup_req("s.in", "sub", "M", WireScope::Global),
        ClientRequest::Unlookup { port: "s.in".into() },
    ];
    let mut r = registry();
    for (id, request) in (10..).zip(requests) {
        let effects = r.on_request(ms(0), b"x", id, request.clone());
        assert_eq!(error_code(&effects, b"x", id), ErrorCode::UnknownClient, "{request:?}");
        assert!(r.listing().actors.is_empty(), "{request:?}");
        assert_eq!(r.next_deadline(), None);
    }
}

#[test]
fn a_second_hello_resets_the_actor() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"w", "W");
    assert_eq!(
        send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Global)),
        vec![endpoints(b"w", 7, &[])]
    );
    send(&mut r, ms(10), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    send(&mut r, ms(10), b"a", lookup_req("q.in", "sub", "N", WireScope::Local));

    // The actor restarted behind the same identity: its providers go, with pushes and unshares.
    let effects = r.on_request(ms(20), b"a", 2, hello_req(APP, "A"));
    assert_eq!(
        effects,
        vec![Effect::Unshare(global("pub", "M"), E1.into()), removed(b"w", "s.in", E1), welcome(b"a", 2)]
    );
    let listing = r.listing();
    let a = listing.actors.iter().find(|x| x.actor == "A").unwrap();
    assert!(a.provides.is_empty() && a.lookups.is_empty(), "{a:?}");

    // Its old lookup is gone too: a new provider of that service is not pushed to it.
    let effects = send(&mut r, ms(30), b"w", provide_req("n.out", "pub", "N", WireScope::Local, E2));
    assert_eq!(effects, vec![done(b"w", 7)]);
}

#[test]
fn goodbye_removes_providers_and_lookups() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Local));
    send(&mut r, ms(0), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1));
    send(&mut r, ms(0), b"a", lookup_req("x.in", "sub", "X", WireScope::Local));

    let effects = r.on_request(ms(5), b"a", 8, ClientRequest::Goodbye);
    assert_eq!(effects, vec![removed(b"w", "s.in", E1), done(b"a", 8)]);
    assert_eq!(r.listing().actors.iter().map(|a| a.actor.as_str()).collect::<Vec<_>>(), ["W"]);

    // It is unknown now, and its lookup is not pushed.
    assert_eq!(error_code(&send(&mut r, ms(6), b"a", ClientRequest::Heartbeat), b"a", 7), ErrorCode::UnknownClient);
    let effects = send(&mut r, ms(7), b"w", provide_req("x.out", "pub", "X", WireScope::Local, E2));
    assert_eq!(effects, vec![done(b"w", 7)]);
}

// ---------------------------------------------------------------------------------------------
// Lookups and pushes
// ---------------------------------------------------------------------------------------------

#[test]
fn provide_then_lookup_returns_the_endpoint() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"b", "B");
    let effects = send(&mut r, ms(1), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1));
    assert_eq!(effects, vec![done(b"a", 7)]);
    send(&mut r, ms(1), b"a", provide_req("p.out2", "pub", "M", WireScope::Local, E2));
    let effects = send(&mut r, ms(2), b"b", lookup_req("s.in", "sub", "M", WireScope::Local));
    assert_eq!(effects, vec![endpoints(b"b", 7, &[E1, E2])]);
}

#[test]
fn lookup_then_provide_pushes_added_and_withdraw_pushes_removed() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"b", "B");
    hello(&mut r, ms(0), b"c", "C");
    assert_eq!(
        send(&mut r, ms(1), b"b", lookup_req("s.in", "sub", "M", WireScope::Local)),
        vec![endpoints(b"b", 7, &[])]
    );
    send(&mut r, ms(1), b"c", lookup_req("t.in", "sub", "M", WireScope::Local));

    let effects = send(&mut r, ms(2), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1));
    assert_eq!(effects, vec![added(b"b", "s.in", E1), added(b"c", "t.in", E1), done(b"a", 7)]);

    // Providing the same endpoint again changes nothing.
    let effects = send(&mut r, ms(3), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1));
    assert_eq!(effects, vec![done(b"a", 7)]);

    let effects = send(&mut r, ms(4), b"a", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(effects, vec![removed(b"b", "s.in", E1), removed(b"c", "t.in", E1), done(b"a", 7)]);

    // Withdrawing what is not provided is done, and pushes nothing.
    let effects = send(&mut r, ms(5), b"a", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(effects, vec![done(b"a", 7)]);
    // Nor can a client withdraw another client's endpoint.
    send(&mut r, ms(6), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1));
    let effects = send(&mut r, ms(7), b"c", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(effects, vec![done(b"c", 7)]);
    assert_eq!(
        send(&mut r, ms(8), b"c", lookup_req("t.in", "sub", "M", WireScope::Local)),
        vec![endpoints(b"c", 7, &[E1])]
    );
}

#[test]
fn unlookup_stops_the_pushes() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"b", "B");
    send(&mut r, ms(0), b"b", lookup_req("s.in", "sub", "M", WireScope::Local));
    let effects = send(&mut r, ms(1), b"b", ClientRequest::Unlookup { port: "s.in".into() });
    assert_eq!(effects, vec![done(b"b", 7)]);
    assert!(r.listing().actors.iter().all(|a| a.lookups.is_empty()));
    assert_eq!(send(&mut r, ms(2), b"a", provide_req("p.out", "pub", "M", WireScope::Local, E1)), vec![done(b"a", 7)]);
    assert_eq!(send(&mut r, ms(3), b"a", ClientRequest::Withdraw { endpoint: E1.into() }), vec![done(b"a", 7)]);
    // Unlooking up a port never looked up is done too.
    assert_eq!(send(&mut r, ms(4), b"b", ClientRequest::Unlookup { port: "nope".into() }), vec![done(b"b", 7)]);
}

#[test]
fn a_new_lookup_of_the_same_port_replaces_the_old_one() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"b", "B");
    send(&mut r, ms(0), b"a", provide_req("m.out", "pub", "M", WireScope::Local, E1));
    assert_eq!(
        send(&mut r, ms(1), b"b", lookup_req("s.in", "sub", "M", WireScope::Local)),
        vec![endpoints(b"b", 7, &[E1])]
    );
    assert_eq!(
        send(&mut r, ms(2), b"b", lookup_req("s.in", "sub", "N", WireScope::Local)),
        vec![endpoints(b"b", 7, &[])]
    );
    let listing = r.listing();
    let b = listing.actors.iter().find(|x| x.actor == "B").unwrap();
    assert_eq!(b.lookups, vec![("s.in".to_string(), local("pub", "N"))]);

    // The old service pushes nothing to the port any more; the new one does.
    assert_eq!(send(&mut r, ms(3), b"a", ClientRequest::Withdraw { endpoint: E1.into() }), vec![done(b"a", 7)]);
    let effects = send(&mut r, ms(4), b"a", provide_req("n.out", "pub", "N", WireScope::Local, E2));
    assert_eq!(effects, vec![added(b"b", "s.in", E2), done(b"a", 7)]);

    // A failed lookup keeps the old one.
    let effects = send(&mut r, ms(5), b"b", lookup_req("s.in", "bogus", "N", WireScope::Local));
    assert_eq!(error_code(&effects, b"b", 7), ErrorCode::Invalid);
    let effects = send(&mut r, ms(6), b"a", ClientRequest::Withdraw { endpoint: E2.into() });
    assert_eq!(effects, vec![removed(b"b", "s.in", E2), done(b"a", 7)]);
}

#[test]
fn an_endpoint_moved_to_another_service_of_its_client_is_withdrawn_first() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("m.in", "sub", "M", WireScope::Global));
    send(&mut r, ms(0), b"w", lookup_req("n.in", "sub", "N", WireScope::Global));
    send(&mut r, ms(1), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    let effects = send(&mut r, ms(2), b"a", provide_req("p.out", "pub", "N", WireScope::Global, E1));
    assert_eq!(
        effects,
        vec![
            Effect::Unshare(global("pub", "M"), E1.into()),
            removed(b"w", "m.in", E1),
            Effect::Share(global("pub", "N"), E1.into()),
            added(b"w", "n.in", E1),
            done(b"a", 7),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Matching rules
// ---------------------------------------------------------------------------------------------

/// Whether a lookup of `consumer` finds a provider of `provider`, both of app `App`, global.
fn matches(provider: &str, consumer: &str, messages: &str) -> bool {
    let mut r = registry();
    hello(&mut r, ms(0), b"p", "P");
    hello(&mut r, ms(0), b"c", "C");
    let effects = send(&mut r, ms(1), b"p", provide_req("x.out", provider, messages, WireScope::Global, E1));
    assert_eq!(effects.last(), Some(&done(b"p", 7)), "{provider} provides");
    let effects = send(&mut r, ms(2), b"c", lookup_req("y.in", consumer, messages, WireScope::Global));
    match effects.as_slice() {
        [Effect::Reply { result: Ok(ReplyBody::Endpoints(e)), .. }] => !e.is_empty(),
        other => panic!("{consumer} looks up: {other:?}"),
    }
}

#[test]
fn each_consumer_kind_finds_its_provider_kind_only() {
    let pairs = [("pub", "sub"), ("rep", "req"), ("srv", "clt"), ("ans", "qry"), ("gpub", "gsub")];
    for (provider, consumer) in pairs {
        for (other, _) in pairs {
            assert_eq!(matches(other, consumer, "Q#R"), other == provider, "{other} for {consumer}");
        }
    }
    // In particular a clt never finds a rep, nor a req a srv.
    assert!(!matches("rep", "clt", "Q#R"));
    assert!(!matches("srv", "req", "Q#R"));
}

#[test]
fn providers_and_consumers_of_the_wrong_role_are_invalid() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    for kind in ["sub", "req", "clt", "qry", "gsub", "ins", "gmember", "gleader", "tim", ""] {
        let effects = send(&mut r, ms(1), b"a", provide_req("x.out", kind, "M", WireScope::Global, E1));
        assert_eq!(error_code(&effects, b"a", 7), ErrorCode::Invalid, "provide {kind}");
    }
    for kind in ["pub", "rep", "srv", "ans", "gpub", "ins", "gmember", "gleader", "tim", ""] {
        let effects = send(&mut r, ms(1), b"a", lookup_req("x.in", kind, "M", WireScope::Global));
        assert_eq!(error_code(&effects, b"a", 7), ErrorCode::Invalid, "look up {kind}");
    }
    assert_eq!(r.listing().actors[0].provides, vec![]);
    assert_eq!(r.listing().actors[0].lookups, vec![]);
}

#[test]
fn different_apps_and_message_types_never_match() {
    let mut r = registry();
    r.on_request(ms(0), b"a", 1, hello_req("App", "A"));
    r.on_request(ms(0), b"b", 1, hello_req("Other", "A"));
    send(&mut r, ms(1), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    assert_eq!(
        send(&mut r, ms(2), b"b", lookup_req("s.in", "sub", "M", WireScope::Global)),
        vec![endpoints(b"b", 7, &[])]
    );
    assert_eq!(
        send(&mut r, ms(2), b"a", lookup_req("s.in", "sub", "M2", WireScope::Global)),
        vec![endpoints(b"a", 7, &[])]
    );
    // The other app's provider is not pushed to this app's consumer either.
    let effects = send(&mut r, ms(3), b"b", provide_req("p.out", "pub", "M2", WireScope::Global, E2));
    assert_eq!(effects, vec![Effect::Share(svc("Other", "pub", "M2", Reach::Global), E2.into()), done(b"b", 7)]);
}

#[test]
fn scopes_must_be_equal_to_match() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"b", "B");
    send(&mut r, ms(1), b"a", provide_req("g.out", "pub", "M", WireScope::Global, E1));
    send(&mut r, ms(1), b"a", provide_req("l.out", "pub", "M", WireScope::Local, E2));
    let find = |r: &mut Registry, scope| send(r, ms(2), b"b", lookup_req("s.in", "sub", "M", scope));
    assert_eq!(find(&mut r, WireScope::Global), vec![endpoints(b"b", 7, &[E1])]);
    assert_eq!(find(&mut r, WireScope::Local), vec![endpoints(b"b", 7, &[E2])]);
    assert_eq!(find(&mut r, WireScope::Internal), vec![endpoints(b"b", 7, &[])]);
}

#[test]
fn local_services_match_only_on_the_same_host() {
    let (mut h1, mut h2) = (registry_on("h1"), registry_on("h2"));
    hello(&mut h1, ms(0), b"a", "A");
    hello(&mut h2, ms(0), b"b", "B");
    send(&mut h2, ms(0), b"b", lookup_req("s.in", "sub", "M", WireScope::Local));
    send(&mut h2, ms(0), b"b", lookup_req("g.in", "sub", "M", WireScope::Global));

    // A local provider on h1 is not shared; a global one is, and reaches h2's global lookup.
    let effects = send(&mut h1, ms(1), b"a", provide_req("l.out", "pub", "M", WireScope::Local, E1));
    assert_eq!(effects, vec![done(b"a", 7)]);
    let effects = send(&mut h1, ms(1), b"a", provide_req("g.out", "pub", "M", WireScope::Global, E2));
    assert_eq!(effects, vec![Effect::Share(global("pub", "M"), E2.into()), done(b"a", 7)]);
    assert_eq!(h2.on_remote_added(global("pub", "M"), E2.into()), vec![added(b"b", "g.in", E2)]);

    // Even if h1's local service reached h2 (a backend that shares everything), it does not match
    // h2's local lookup: the reach names the host.
    let h1_local = svc(APP, "pub", "M", Reach::Host("h1".into()));
    assert_ne!(h1_local, svc(APP, "pub", "M", Reach::Host("h2".into())));
    assert_eq!(h2.on_remote_added(h1_local, E1.into()), vec![]);
    assert_eq!(
        send(&mut h2, ms(2), b"b", lookup_req("s.in", "sub", "M", WireScope::Local)),
        vec![endpoints(b"b", 7, &[])]
    );
}

#[test]
fn internal_services_match_only_the_same_actor_name() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"a2", "A");
    hello(&mut r, ms(0), b"b", "B");
    let effects = send(&mut r, ms(1), b"a", provide_req("p.out", "pub", "M", WireScope::Internal, E1));
    assert_eq!(effects, vec![done(b"a", 7)]);
    let find = |r: &mut Registry, c: &[u8]| send(r, ms(2), c, lookup_req("s.in", "sub", "M", WireScope::Internal));
    assert_eq!(find(&mut r, b"a"), vec![endpoints(b"a", 7, &[E1])]);
    assert_eq!(find(&mut r, b"a2"), vec![endpoints(b"a2", 7, &[E1])]);
    assert_eq!(find(&mut r, b"b"), vec![endpoints(b"b", 7, &[])]);
    assert_eq!(
        r.listing().actors.iter().find(|x| x.actor == "B").unwrap().lookups,
        vec![("s.in".to_string(), svc(APP, "pub", "M", Reach::Actor(HOST.into(), "B".into())))]
    );
    // Withdrawing pushes to the same actor name only, never shares.
    let effects = send(&mut r, ms(3), b"a", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(effects, vec![removed(b"a", "s.in", E1), removed(b"a2", "s.in", E1), done(b"a", 7)]);
}

// ---------------------------------------------------------------------------------------------
// Other hosts
// ---------------------------------------------------------------------------------------------

#[test]
fn only_global_providers_are_shared_and_unshared() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    let effects = send(&mut r, ms(1), b"a", provide_req("g.out", "gpub", "G@g.1", WireScope::Global, E1));
    assert_eq!(effects, vec![Effect::Share(global("gpub", "G@g.1"), E1.into()), done(b"a", 7)]);
    assert_eq!(send(&mut r, ms(1), b"a", provide_req("l.out", "pub", "M", WireScope::Local, E2)), vec![done(b"a", 7)]);
    let internal = provide_req("i.out", "pub", "M", WireScope::Internal, "inproc://i");
    assert_eq!(send(&mut r, ms(1), b"a", internal), vec![done(b"a", 7)]);
    assert_eq!(r.shared(), vec![(global("gpub", "G@g.1"), E1.into())]);

    let effects = send(&mut r, ms(2), b"a", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(effects, vec![Effect::Unshare(global("gpub", "G@g.1"), E1.into()), done(b"a", 7)]);
    assert_eq!(send(&mut r, ms(2), b"a", ClientRequest::Withdraw { endpoint: E2.into() }), vec![done(b"a", 7)]);
    assert_eq!(r.shared(), vec![]);

    // Dropping the actor unshares its global providers too.
    send(&mut r, ms(3), b"a", provide_req("g.out", "gpub", "G@g.1", WireScope::Global, E1));
    let effects = r.on_request(ms(4), b"a", 5, ClientRequest::Goodbye);
    assert_eq!(effects, vec![Effect::Unshare(global("gpub", "G@g.1"), E1.into()), done(b"a", 5)]);
}

#[test]
fn remote_changes_are_pushed_and_never_shared_back() {
    let mut r = registry();
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Global));
    let service = global("pub", "M");

    assert_eq!(r.on_remote_added(service.clone(), E3.into()), vec![added(b"w", "s.in", E3)]);
    // Told twice, it is added once.
    assert_eq!(r.on_remote_added(service.clone(), E3.into()), vec![]);
    assert_eq!(r.listing().remote, vec![(service.clone(), E3.to_string())]);
    assert_eq!(r.shared(), vec![]);
    assert_eq!(
        send(&mut r, ms(1), b"w", lookup_req("t.in", "sub", "M", WireScope::Global)),
        vec![endpoints(b"w", 7, &[E3])]
    );

    assert_eq!(r.on_remote_removed(&service, E3), vec![removed(b"w", "s.in", E3), removed(b"w", "t.in", E3)]);
    assert_eq!(r.on_remote_removed(&service, E3), vec![]);
    assert_eq!(r.listing().remote, vec![]);
}

#[test]
fn a_remote_removal_of_a_local_endpoint_is_ignored() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Global));
    let effects = send(&mut r, ms(1), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    assert_eq!(effects, vec![Effect::Share(global("pub", "M"), E1.into()), added(b"w", "s.in", E1), done(b"a", 7)]);
    let before = r.listing();

    // The backend echoes this host's own share back, then claims it is gone: both are ignored.
    assert_eq!(r.on_remote_added(global("pub", "M"), E1.into()), vec![]);
    assert_eq!(r.on_remote_removed(&global("pub", "M"), E1), vec![]);
    assert_eq!(r.listing(), before);
    assert_eq!(r.shared(), vec![(global("pub", "M"), E1.into())]);
}

// ---------------------------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------------------------

#[test]
fn a_silent_client_is_dropped_at_the_timeout_with_its_providers() {
    let mut r = registry();
    assert_eq!(r.next_deadline(), None);
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(100), b"w", "W");
    hello(&mut r, ms(100), b"v", "V");
    send(&mut r, ms(100), b"w", lookup_req("s.in", "sub", "M", WireScope::Global));
    send(&mut r, ms(100), b"v", lookup_req("l.in", "sub", "L", WireScope::Local));
    send(&mut r, ms(100), b"v", lookup_req("s.in", "sub", "M", WireScope::Global));
    // The provider's last message is at 300 ms.
    send(&mut r, ms(200), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    send(&mut r, ms(300), b"a", provide_req("l.out", "pub", "L", WireScope::Local, E2));
    assert_eq!(r.next_deadline(), Some(ms(2100)));

    // The watchers keep heartbeating; the provider says nothing more.
    for t in [600, 1100, 1600, 2100] {
        assert_eq!(send(&mut r, ms(t), b"w", ClientRequest::Heartbeat), vec![done(b"w", 7)]);
        assert_eq!(send(&mut r, ms(t), b"v", ClientRequest::Heartbeat), vec![done(b"v", 7)]);
        assert_eq!(r.on_tick(ms(t)), vec![]);
    }
    assert_eq!(r.next_deadline(), Some(ms(2300)));
    assert_eq!(r.on_tick(ms(2299)), vec![]);
    let effects = r.on_tick(ms(2300));
    assert_eq!(
        effects,
        vec![
            Effect::Unshare(global("pub", "M"), E1.into()),
            removed(b"v", "s.in", E1),
            removed(b"w", "s.in", E1),
            removed(b"v", "l.in", E2),
        ]
    );
    assert_eq!(r.next_deadline(), Some(ms(4100)));
    assert!(r.listing().actors.iter().all(|a| a.actor != "A"));
    assert_eq!(error_code(&send(&mut r, ms(2400), b"a", ClientRequest::Heartbeat), b"a", 7), ErrorCode::UnknownClient);
}

#[test]
fn a_heartbeat_keeps_a_client_alive() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    assert_eq!(r.next_deadline(), Some(ms(2000)));
    assert_eq!(send(&mut r, ms(1999), b"a", ClientRequest::Heartbeat), vec![done(b"a", 7)]);
    assert_eq!(r.next_deadline(), Some(ms(3999)));
    assert_eq!(r.on_tick(ms(2000)), vec![]);
    assert_eq!(r.on_tick(ms(3998)), vec![]);
    assert_eq!(r.listing().actors.len(), 1);
    // Any request counts, not only heartbeats; an invalid one too (the client is alive).
    let effects = send(&mut r, ms(3500), b"a", lookup_req("s.in", "sub", "", WireScope::Global));
    assert_eq!(error_code(&effects, b"a", 7), ErrorCode::Invalid);
    assert_eq!(r.next_deadline(), Some(ms(5500)));
    assert_eq!(r.on_tick(ms(5499)), vec![]);
    assert_eq!(r.listing().actors.len(), 1);
    assert_eq!(r.on_tick(ms(5500)), vec![]);
    assert!(r.listing().actors.is_empty());
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn time_the_daemon_did_not_run_does_not_count_against_its_clients() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(500), b"b", "B");
    // The daemon was stopped from 1000 ms to 6000 ms: its clients' heartbeats of that time have
    // not been read, so nobody is dropped; each gets its full timeout after the pause.
    r.on_pause(ms(5000));
    assert_eq!(r.next_deadline(), Some(ms(7000)));
    assert_eq!(r.on_tick(ms(6000)), vec![]);
    assert_eq!(r.listing().actors.len(), 2);
    // A client that stays silent after the pause is still dropped.
    assert_eq!(send(&mut r, ms(6500), b"b", ClientRequest::Heartbeat), vec![done(b"b", 7)]);
    assert_eq!(r.on_tick(ms(7000)), vec![]);
    assert_eq!(r.listing().actors.len(), 1);
}

#[test]
fn the_next_deadline_is_the_earliest_of_all_clients() {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(300), b"b", "B");
    hello(&mut r, ms(700), b"c", "C");
    assert_eq!(r.next_deadline(), Some(ms(2000)));
    send(&mut r, ms(1000), b"a", ClientRequest::Heartbeat);
    assert_eq!(r.next_deadline(), Some(ms(2300)));
    // Garbage from a client does not count as a sign of life.
    r.on_frame(ms(1500), b"b", b"\xff\x00garbage");
    assert_eq!(r.next_deadline(), Some(ms(2300)));
    // Nor does a request of another version.
    let foreign = encode(&ClientFrame { version: 99, id: 1, request: ClientRequest::Heartbeat });
    r.on_frame(ms(1500), b"b", &foreign);
    assert_eq!(r.next_deadline(), Some(ms(2300)));
    assert_eq!(r.on_tick(ms(2300)), vec![]);
    assert_eq!(r.next_deadline(), Some(ms(2700)));
}

// ---------------------------------------------------------------------------------------------
// Bad frames and requests change nothing
// ---------------------------------------------------------------------------------------------

/// A registry with providers, lookups and a remote provider.
fn busy_registry() -> Registry {
    let mut r = registry();
    hello(&mut r, ms(0), b"a", "A");
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Global));
    send(&mut r, ms(0), b"a", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    send(&mut r, ms(0), b"a", provide_req("l.out", "rep", "Q#R", WireScope::Local, E2));
    r.on_remote_added(global("pub", "M"), E3.into());
    r
}

/// Sends `bytes` from client `a` and checks that the only effect is an error reply of `code` for
/// request `id`, and that the listing did not change.
fn refused(bytes: &[u8], id: u64, code: ErrorCode) {
    let mut r = busy_registry();
    let (before, shared) = (r.listing(), r.shared());
    let effects = r.on_frame(ms(10), b"a", bytes);
    assert_eq!(error_code(&effects, b"a", id), code, "{bytes:?}");
    assert_eq!(r.listing(), before, "{bytes:?}");
    assert_eq!(r.shared(), shared);
    // And the registry still works: the watcher is pushed the next provider.
    let effects =
        send(&mut r, ms(11), b"a", provide_req("p2.out", "pub", "M", WireScope::Global, "tcp://10.0.0.1:5009"));
    assert!(effects.contains(&added(b"w", "s.in", "tcp://10.0.0.1:5009")), "{effects:?}");
}

#[test]
fn malformed_bytes_are_refused() {
    let valid = frame(5, provide_req("x.out", "pub", "M", WireScope::Global, E2));
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        b"\xff\x00garbage".to_vec(),
        vec![0; 16],
        b"hello".to_vec(),
        valid[..valid.len() / 2].to_vec(),
        valid[..valid.len() - 1].to_vec(),
        // A daemon's message is no client's.
        encode(&DaemonFrame {
            version: PROTOCOL_VERSION,
            message: DaemonMessage::Reply { id: 1, result: Ok(ReplyBody::Done) },
        }),
    ];
    for bytes in cases {
        refused(&bytes, 0, ErrorCode::Malformed);
    }
}

#[test]
fn frames_of_another_version_are_refused() {
    for request in [
        hello_req(APP, "A"),
        ClientRequest::Goodbye,
        ClientRequest::Withdraw { endpoint: E1.into() },
        provide_req("x.out", "pub", "M", WireScope::Global, E2),
    ] {
        refused(&encode(&ClientFrame { version: 99, id: 5, request }), 0, ErrorCode::Version);
    }
    // A message this build cannot decode at all, but whose version it can read.
    let future = DaemonFrame { version: 2, message: DaemonMessage::Reply { id: 1, result: Ok(ReplyBody::Done) } };
    refused(&encode(&future), 0, ErrorCode::Version);
}

#[test]
fn invalid_kinds_and_endpoints_are_refused() {
    let cases = [
        provide_req("x.out", "bogus", "M", WireScope::Global, E2),
        provide_req("x.out", "sub", "M", WireScope::Global, E2),
        provide_req("x.out", "pub", "", WireScope::Global, E2),
        lookup_req("x.in", "bogus", "M", WireScope::Global),
        lookup_req("x.in", "pub", "M", WireScope::Global),
        lookup_req("s.in", "sub", "", WireScope::Global),
    ];
    for request in cases {
        refused(&frame(6, request), 6, ErrorCode::Invalid);
    }
    for endpoint in
        ["", "nope", "10.0.0.1:5000", "udp://h:1", "tcp://:1", "tcp://h", "tcp://h:99999", "ipc://", "inproc://"]
    {
        refused(&frame(6, provide_req("x.out", "pub", "M", WireScope::Global, endpoint)), 6, ErrorCode::Invalid);
    }
}

#[test]
fn hello_with_empty_names_is_invalid() {
    let mut r = registry();
    for (app, actor) in [("", "A"), (APP, "")] {
        let effects = r.on_request(ms(0), b"a", 4, hello_req(app, actor));
        assert_eq!(error_code(&effects, b"a", 4), ErrorCode::Invalid);
        assert!(r.listing().actors.is_empty());
    }
}

#[test]
fn list_needs_no_hello_and_changes_nothing() {
    let mut r = busy_registry();
    let (before, deadline) = (r.listing(), r.next_deadline());
    assert_eq!(deadline, Some(ms(2000)));
    let listing = |to: &[u8], id| Effect::Reply { to: to.to_vec(), id, result: Ok(ReplyBody::Listing(before.clone())) };
    // A tool asks without saying hello, and is not registered by asking.
    assert_eq!(r.on_frame(ms(1000), b"tool", &frame(3, ClientRequest::List)), vec![listing(b"tool", 3)]);
    // A registered client may ask too, but that is no sign of life.
    assert_eq!(r.on_request(ms(1500), b"a", 4, ClientRequest::List), vec![listing(b"a", 4)]);
    assert_eq!(r.listing(), before);
    assert_eq!(r.next_deadline(), deadline);
}

// ---------------------------------------------------------------------------------------------
// Endpoints taken over
// ---------------------------------------------------------------------------------------------

#[test]
fn an_endpoint_reused_by_another_client_changes_owner_without_pushes() {
    let mut r = registry();
    hello(&mut r, ms(0), b"old", "A");
    hello(&mut r, ms(0), b"w", "W");
    send(&mut r, ms(0), b"w", lookup_req("s.in", "sub", "M", WireScope::Global));
    let effects = send(&mut r, ms(0), b"old", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    assert_eq!(effects, vec![Effect::Share(global("pub", "M"), E1.into()), added(b"w", "s.in", E1), done(b"old", 7)]);

    // The actor crashed; its restart has a new identity and got the same port number.
    hello(&mut r, ms(500), b"new", "A");
    let effects = send(&mut r, ms(500), b"new", provide_req("p.out", "pub", "M", WireScope::Global, E1));
    assert_eq!(effects, vec![done(b"new", 7)]);
    // Actors are listed by client identity: "new", "old", "w".
    let listing = r.listing();
    assert_eq!(listing.actors.len(), 3);
    let [new, old, w] = [&listing.actors[0], &listing.actors[1], &listing.actors[2]];
    assert_eq!(new.provides, vec![("p.out".to_string(), global("pub", "M"), E1.to_string())]);
    assert_eq!(old.provides, vec![]);
    assert_eq!((w.actor.as_str(), w.lookups.len()), ("W", 1));
    assert_eq!(r.shared(), vec![(global("pub", "M"), E1.into())]);

    // The old client times out: nothing is pushed or unshared, the endpoint lives on.
    send(&mut r, ms(1500), b"w", ClientRequest::Heartbeat);
    send(&mut r, ms(1500), b"new", ClientRequest::Heartbeat);
    assert_eq!(r.on_tick(ms(2000)), vec![]);
    assert_eq!(r.listing().actors.len(), 2);
    assert_eq!(
        send(&mut r, ms(2001), b"w", lookup_req("s.in", "sub", "M", WireScope::Global)),
        vec![endpoints(b"w", 7, &[E1])]
    );
    // Nor can the old client withdraw it if it comes back.
    hello(&mut r, ms(2002), b"old", "A");
    assert_eq!(send(&mut r, ms(2003), b"old", ClientRequest::Withdraw { endpoint: E1.into() }), vec![done(b"old", 7)]);

    // Its new owner withdraws it as usual.
    let effects = send(&mut r, ms(2004), b"new", ClientRequest::Withdraw { endpoint: E1.into() });
    assert_eq!(
        effects,
        vec![Effect::Unshare(global("pub", "M"), E1.into()), removed(b"w", "s.in", E1), done(b"new", 7)]
    );
}
