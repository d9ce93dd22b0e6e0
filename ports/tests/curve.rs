#![allow(clippy::unwrap_used, clippy::expect_used)]
//! CURVE security: the app's keys open the way, another key or no security gets nothing; a
//! libzmq without CURVE refuses to make a secured factory.
//!
//! With a libzmq without CURVE (not Cohort's `zmq-sys`) these tests only check the refusal;
//! `.ci/run` runs them in the default build and again with the system's libzmq.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use cohort_ports::*;
use common::*;

/// The test keypair of the ZeroMQ documentation.
const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

/// How long a request that cannot get through waits before it counts as unanswered.
const NO_REPLY: Duration = Duration::from_millis(250);

/// Options for clients that will not get through: a short send timeout (see [`gets_nothing`])
/// and no linger, so closing them does not wait for the requests they could not deliver.
fn refused_client() -> SocketOptions {
    SocketOptions { send_timeout: Duration::from_millis(100), linger: Duration::ZERO, ..SocketOptions::default() }
}

fn app_keys() -> AppKeys {
    AppKeys::from_z85(PUBLIC, SECRET).unwrap()
}

/// Whether the linked libzmq has CURVE; when it has not, says so where `cargo test` shows it
/// (written to stderr directly, past the test harness's output capture) and checks that a secured factory is refused.
fn curve_available(test: &str) -> bool {
    if zmq::has("curve") == Some(true) {
        return true;
    }
    // .ci/run sets this, so a libzmq without CURVE fails there instead of skipping.
    assert!(
        std::env::var_os("COHORT_REQUIRE_CURVE").is_none(),
        "COHORT_REQUIRE_CURVE is set but the linked libzmq has no CURVE"
    );
    let line = format!("SKIPPED {test}: the linked libzmq has no CURVE (zmq-sys/README.md)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    match Env::with(&format!("curve-refused-{test}"), SocketOptions::default(), Security::Curve(app_keys())) {
        Err(PortError::CurveUnavailable { version }) => assert!(version.starts_with("4."), "{version}"),
        Err(e) => panic!("expected CurveUnavailable, got {e}"),
        Ok(_) => panic!("a CURVE factory was made with a libzmq that has no CURVE"),
    }
    false
}

#[test]
fn secured_factory_matches_the_linked_libzmq() {
    let has = zmq::has("curve") == Some(true);
    assert_eq!(libzmq_info().curve, has);
    if !curve_available("secured_factory_matches_the_linked_libzmq") {
        assert!(matches!(AppKeys::generate(), Err(PortError::CurveUnavailable { .. })));
        assert!(Security::Curve(app_keys()).check().is_err());
        return;
    }
    let env = Env::with("curve-factory", SocketOptions::default(), Security::Curve(app_keys())).unwrap();
    assert_eq!(env.factory.options(), &SocketOptions::default());
    let generated = AppKeys::generate().unwrap();
    assert_ne!(generated, app_keys());
    assert_eq!(AppKeys::from_z85(&generated.public_z85(), &generated.secret_z85()).unwrap(), generated);
}

/// A secured `rep` of `env` and a `req` made by `client`, connected to it.
fn pair(env: &Env, client: &PortFactory, scope: Scope) -> (ReplyPort, ReqPort) {
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Q").with_reply("A");
    let rep = env.factory.replier(&spec("server", PortKind::Rep)).unwrap();
    let mut req = client.requester(&spec("client", PortKind::Req)).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    (rep, req)
}

/// With the app's keys on both sides, requests and replies go through, over tcp and ipc (and
/// inproc, which is never secured).
#[test]
fn right_key_works() {
    if !curve_available("right_key_works") {
        return;
    }
    let env = Env::with("curve-right", SocketOptions::default(), Security::Curve(app_keys())).unwrap();
    let client = env.other_factory(SocketOptions::default(), Security::Curve(app_keys())).unwrap();
    for scope in [Scope::Global, Scope::Local, Scope::Internal] {
        let other = if scope == Scope::Internal { &env.factory } else { &client };
        let (mut rep, mut req) = pair(&env, other, scope);
        let id = req.request(&format!("over {}", scope.name())).unwrap();
        let request = until(&mut rep, "a secured request", |r| r.recv::<String>().unwrap());
        assert_eq!(request.message.value, format!("over {}", scope.name()));
        rep.reply(&request.token, &7u32).unwrap();
        match until(&mut req, "a secured reply", |r| r.recv::<u32>().unwrap()) {
            Response::Reply { id: got, message, .. } => assert_eq!((got, message.value), (id, 7)),
            other => panic!("expected a reply over {}, got {other:?}", scope.name()),
        }
    }

    // Publish/subscribe too.
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, Scope::Global, "T");
    let mut publisher = env.factory.publisher(&spec("p", PortKind::Pub)).unwrap();
    let mut subscriber = client.subscriber(&spec("s", PortKind::Sub)).unwrap();
    subscriber.add_endpoint(publisher.endpoint()).unwrap();
    join(&mut publisher, &mut subscriber);
    publisher.send("secret news").unwrap();
    assert_eq!(until(&mut subscriber, "a secured publication", |s| s.recv::<String>().unwrap()).value, "secret news");
}

/// Requests from `client` to a server of `env` with other security get nothing, over tcp and
/// ipc: the server receives nothing, and each request either ends with `TimedOut`, or with
/// `ProviderGone` once the client's socket monitor has seen the connection close after the
/// failed handshake, or, when the client has already seen that, cannot even be sent
/// (`NoProvider`). (When the connecting side itself detects a mechanism mismatch, libzmq gives
/// up on that endpoint for good: the socket is left with no peer, so a send made before the
/// monitor reported the close waits out the send timeout.)
fn gets_nothing(env: &Env, client: &PortFactory) {
    let started = Instant::now();
    let mut ends = Vec::new();
    for scope in [Scope::Global, Scope::Local] {
        let (rep, mut req) = pair(env, client, scope);
        match req.request_within(&"let me in", NO_REPLY) {
            Ok(id) => ends.push((scope, rep, Some((req, id)))),
            Err(PortError::SendTimeout(_) | PortError::NoProvider) => ends.push((scope, rep, None)),
            Err(e) => panic!("unexpected error over {}: {e}", scope.name()),
        }
    }
    for (scope, mut rep, sent) in ends {
        if let Some((mut req, id)) = sent {
            match until(&mut req, "the end of a refused request", |r| r.recv::<u32>().unwrap()) {
                Response::Failed { id: got, error: CallError::ProviderGone, replies } => {
                    assert_eq!((got, replies), (id, 0), "over {}", scope.name());
                }
                Response::Failed { id: got, error, replies } => {
                    assert_eq!((got, error, replies), (id, CallError::TimedOut(NO_REPLY), 0), "over {}", scope.name());
                    assert!(started.elapsed() >= NO_REPLY);
                }
                other => panic!("a request got through over {}: {other:?}", scope.name()),
            }
        }
        assert!(rep.recv::<String>().unwrap().is_none(), "the server got a request over {}", scope.name());
        assert_eq!(rep.stats().snapshot().received, 0);
    }
}

/// A client with another keypair cannot complete the handshake.
#[test]
fn wrong_key_gets_nothing() {
    if !curve_available("wrong_key_gets_nothing") {
        return;
    }
    let env = Env::with("curve-wrong", SocketOptions::default(), Security::Curve(app_keys())).unwrap();
    let client = env.other_factory(refused_client(), Security::Curve(AppKeys::generate().unwrap())).unwrap();
    gets_nothing(&env, &client);
}

/// A client without security cannot talk to a secured server.
#[test]
fn plain_client_gets_nothing() {
    if !curve_available("plain_client_gets_nothing") {
        return;
    }
    let env = Env::with("curve-plain", SocketOptions::default(), Security::Curve(app_keys())).unwrap();
    let client = env.other_factory(refused_client(), Security::None).unwrap();
    gets_nothing(&env, &client);
}

/// Nor can a secured client talk to a server without security.
#[test]
fn secured_client_to_plain_server_gets_nothing() {
    if !curve_available("secured_client_to_plain_server_gets_nothing") {
        return;
    }
    let env = Env::new("curve-plain-server");
    let client = env.other_factory(refused_client(), Security::Curve(app_keys())).unwrap();
    gets_nothing(&env, &client);
}
