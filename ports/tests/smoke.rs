#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A first end-to-end check of the factory: pub/sub and req/rep over tcp.

use std::time::Duration;

use cohort_ports::*;

fn factory() -> PortFactory {
    let dir = std::env::temp_dir().join(format!("cohort-smoke-{}", std::process::id()));
    let addressing = Addressing::with_runtime_dir(&Interface::Named("lo".into()), dir, "A").unwrap();
    PortFactory::new(
        addressing,
        SocketOptions::default(),
        Security::None,
        slog::Logger::root(slog::Discard, slog::o!()),
    )
    .unwrap()
}

fn wait(socket: &zmq::Socket) {
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    assert_eq!(zmq::poll(&mut items, 5000).unwrap(), 1, "nothing arrived within 5 s");
}

#[test]
fn req_rep_over_tcp() {
    let f = factory();
    let mut rep = f.replier(&PortSpec::new("s", "rep", PortKind::Rep, Scope::Global, "Q").with_reply("A")).unwrap();
    let mut req = f.requester(&PortSpec::new("c", "req", PortKind::Req, Scope::Global, "Q").with_reply("A")).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    let id = req.request(&"hello").unwrap();
    wait(rep.socket());
    let r = rep.recv::<String>().unwrap().unwrap();
    assert_eq!(r.message.value, "hello");
    rep.reply(&r.token, &42u32).unwrap();
    wait(req.sockets().next().unwrap());
    match req.recv::<u32>().unwrap().unwrap() {
        Response::Reply { id: got, message, last } => assert_eq!((got, message.value, last), (id, 42, true)),
        other => panic!("{other:?}"),
    }
    let _ = Duration::from_secs(1);
}
