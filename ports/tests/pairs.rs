#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every pair of ports, over inproc, ipc and tcp, typed and raw, timed and untimed.

mod common;

use std::thread;
use std::time::Duration;

use cohort_ports::*;
use common::*;
use serde::{Deserialize, Serialize};

/// A reply type distinct from the request type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ack {
    id: u32,
    text: String,
}

/// Runs `$check(scope, timed)` as one test per transport and timing: `$check::tcp_timed`, ….
macro_rules! every_scope {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            use cohort_ports::Scope;
            #[test]
            fn inproc() {
                super::$check(Scope::Internal, false)
            }
            #[test]
            fn inproc_timed() {
                super::$check(Scope::Internal, true)
            }
            #[test]
            fn ipc() {
                super::$check(Scope::Local, false)
            }
            #[test]
            fn ipc_timed() {
                super::$check(Scope::Local, true)
            }
            #[test]
            fn tcp() {
                super::$check(Scope::Global, false)
            }
            #[test]
            fn tcp_timed() {
                super::$check(Scope::Global, true)
            }
        }
    )*};
}

every_scope!(
    pub_sub,
    group_pub_sub,
    req_rep,
    clt_srv,
    qry_ans,
    ins_hub_plug,
    group_leader_member,
    sub_remove_endpoint_disconnects,
);

fn label(test: &str, scope: Scope, timed: bool) -> String {
    format!("{test}-{}{}", scope.name(), if timed { "-t" } else { "" })
}

fn publish_subscribe(test: &str, kinds: (PortKind, PortKind), scope: Scope, timed: bool) {
    let env = Env::new(&label(test, scope, timed));
    let f = &env.factory;
    let mut publisher = f.publisher(&PortSpec::new("p", "out", kinds.0, scope, "Reading").timed(timed)).unwrap();
    let mut subscriber = f.subscriber(&PortSpec::new("s", "in", kinds.1, scope, "Reading").timed(timed)).unwrap();
    assert_eq!((publisher.kind(), subscriber.kind()), kinds);
    assert_eq!(publisher.endpoint().transport(), transport_of(scope));
    assert!(subscriber.add_endpoint(publisher.endpoint()).unwrap());
    assert!(!subscriber.add_endpoint(publisher.endpoint()).unwrap(), "a second add is a no-op");
    assert_eq!(subscriber.endpoints().collect::<Vec<_>>(), vec![publisher.endpoint()]);
    join(&mut publisher, &mut subscriber);

    let sent_before = publisher.stats().snapshot().sent;
    for id in 1..=3 {
        publisher.send(&Reading::new(id)).unwrap();
    }
    publisher.send_bytes(b"\x00raw payload\xff").unwrap();
    publisher.send_bytes(b"").unwrap();
    assert_eq!(publisher.stats().snapshot().sent, sent_before + 5);

    let mut last_seq = 0;
    for id in 1..=3 {
        let got = until(&mut subscriber, "a typed publication", |s| s.recv::<Reading>().unwrap());
        assert_eq!(got.value, Reading::new(id));
        assert!(got.seq > last_seq, "sequence numbers increase");
        last_seq = got.seq;
        check_times(&got, timed);
    }
    for expected in [&b"\x00raw payload\xff"[..], b""] {
        let (bytes, seq, sent, received) = until(&mut subscriber, "a raw publication", |s| {
            s.recv_bytes().unwrap().map(|m| (m.value.to_vec(), m.seq, m.send_time, m.recv_time))
        });
        assert_eq!(bytes, expected);
        assert_eq!(seq, last_seq + 1);
        last_seq = seq;
        assert_eq!((sent.is_some(), received.is_some()), (timed, timed));
    }
    assert!(subscriber.recv_bytes().unwrap().is_none());
    assert_eq!(subscriber.stats().snapshot().dropped(), 0);
}

fn pub_sub(scope: Scope, timed: bool) {
    publish_subscribe("pub_sub", (PortKind::Pub, PortKind::Sub), scope, timed);
}

fn group_pub_sub(scope: Scope, timed: bool) {
    publish_subscribe("gpub_gsub", (PortKind::GroupPub, PortKind::GroupSub), scope, timed);
}

fn req_rep(scope: Scope, timed: bool) {
    let env = Env::new(&label("req_rep", scope, timed));
    let f = &env.factory;
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Reading").with_reply("Ack").timed(timed);
    let mut rep = f.replier(&spec("server", PortKind::Rep)).unwrap();
    let mut req = f.requester(&spec("client", PortKind::Req)).unwrap();
    assert_eq!((req.kind(), rep.kind()), (PortKind::Req, PortKind::Rep));
    assert_eq!(rep.endpoint().transport(), transport_of(scope));
    assert!(req.add_endpoint(rep.endpoint()).unwrap());
    assert!(!req.add_endpoint(rep.endpoint()).unwrap());

    // Typed.
    let id = req.request(&Reading::new(7)).unwrap();
    assert_eq!(req.outstanding(), 1);
    let request = until(&mut rep, "a typed request", |r| r.recv::<Reading>().unwrap());
    assert_eq!(request.message.value, Reading::new(7));
    assert_eq!((request.token.request_seq(), request.message.seq), (id.0, id.0));
    check_times(&request.message, timed);
    rep.reply(&request.token, &Ack { id: 7, text: "seen".into() }).unwrap();
    match until(&mut req, "a typed reply", |r| r.recv::<Ack>().unwrap()) {
        Response::Reply { id: got, message, last } => {
            assert_eq!((got, last), (id, true));
            assert_eq!(message.value, Ack { id: 7, text: "seen".into() });
            check_times(&message, timed);
        }
        other => panic!("expected a reply, got {other:?}"),
    }
    assert_eq!(req.outstanding(), 0);

    // Raw bytes.
    let id = req.request_bytes(&[1, 2, 3]).unwrap();
    let (token, bytes) = until(&mut rep, "a raw request", |r| {
        r.recv_bytes().unwrap().map(|q| {
            check_times(&q.message, timed);
            (q.token, q.message.value.to_vec())
        })
    });
    assert_eq!((bytes, token.request_seq()), (vec![1, 2, 3], id.0));
    rep.reply_bytes(&token, &[4, 5]).unwrap();
    let (got, bytes, last) = until(&mut req, "a raw reply", |r| match r.recv_bytes().unwrap()? {
        Response::Reply { id, message, last } => {
            check_times(&message, timed);
            Some((id, message.value.to_vec(), last))
        }
        other => panic!("expected a reply, got {other:?}"),
    });
    assert_eq!((got, bytes, last), (id, vec![4, 5], true));
    assert!(matches!(rep.answer(&token, &0u8), Err(PortError::WrongKind { .. })), "answer is for ans ports");

    let (q, r) = (req.stats().snapshot(), rep.stats().snapshot());
    assert_eq!((q.sent, q.received, r.sent, r.received), (2, 2, 2, 2));
    assert_eq!(q.dropped() + r.dropped() + q.stale, 0);
}

fn clt_srv(scope: Scope, timed: bool) {
    let env = Env::new(&label("clt_srv", scope, timed));
    let f = &env.factory;
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Reading").with_reply("Ack").timed(timed);
    let mut srv = f.replier(&spec("server", PortKind::Srv)).unwrap();
    let mut clt = f.client(&spec("client", PortKind::Clt)).unwrap();
    assert_eq!((clt.kind(), srv.kind()), (PortKind::Clt, PortKind::Srv));
    clt.add_endpoint(srv.endpoint()).unwrap();

    // A call blocks, so the server answers from another thread: one typed call, then one raw.
    let server = thread::spawn(move || {
        let request = until(&mut srv, "a typed call", |s| s.recv::<Reading>().unwrap());
        check_times(&request.message, timed);
        let id = request.message.value.id;
        srv.reply(&request.token, &Ack { id, text: request.message.value.sensor }).unwrap();
        let (token, bytes) =
            until(&mut srv, "a raw call", |s| s.recv_bytes().unwrap().map(|q| (q.token, q.message.value.to_vec())));
        let reversed: Vec<u8> = bytes.iter().rev().copied().collect();
        srv.reply_bytes(&token, &reversed).unwrap();
        srv.stats().snapshot()
    });

    let reply: Received<Ack> = clt.call(&Reading::new(3)).unwrap();
    assert_eq!(reply.value, Ack { id: 3, text: "sensor-3".into() });
    check_times(&reply, timed);
    let reply = clt.call_bytes(b"abc", WAIT).unwrap();
    assert_eq!(reply.value, b"cba");
    check_times(&reply, timed);
    assert_eq!(clt.outstanding(), 0);

    let server = server.join().expect("the server thread");
    let client = clt.stats().snapshot();
    assert_eq!((client.sent, client.received, server.received, server.sent), (2, 2, 2, 2));
}

fn qry_ans(scope: Scope, timed: bool) {
    let env = Env::new(&label("qry_ans", scope, timed));
    let f = &env.factory;
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Reading").with_reply("Ack").timed(timed);
    let mut ans = f.replier(&spec("server", PortKind::Ans)).unwrap();
    let mut qry = f.query(&spec("client", PortKind::Qry)).unwrap();
    assert_eq!((qry.kind(), ans.kind()), (PortKind::Qry, PortKind::Ans));
    qry.add_endpoint(ans.endpoint()).unwrap();

    // Typed: two answers, then the final one.
    let id = qry.query(&Reading::new(1)).unwrap();
    let query = until(&mut ans, "a typed query", |a| a.recv::<Reading>().unwrap());
    check_times(&query.message, timed);
    for n in 0..2 {
        ans.answer(&query.token, &Ack { id: n, text: "partial".into() }).unwrap();
    }
    ans.reply(&query.token, &Ack { id: 2, text: "final".into() }).unwrap();
    for n in 0..3 {
        match until(&mut qry, "an answer", |q| q.recv::<Ack>().unwrap()) {
            Response::Reply { id: got, message, last } => {
                assert_eq!((got, message.value.id, last), (id, n, n == 2));
                check_times(&message, timed);
            }
            other => panic!("expected an answer, got {other:?}"),
        }
    }
    assert_eq!(qry.outstanding(), 0);

    // Raw: one answer, then the final one.
    let id = qry.query_bytes(b"?").unwrap();
    let token = until(&mut ans, "a raw query", |a| a.recv_bytes().unwrap().map(|q| q.token));
    ans.answer_bytes(&token, b"one").unwrap();
    ans.reply_bytes(&token, b"two").unwrap();
    for (expected, final_) in [(&b"one"[..], false), (b"two", true)] {
        let (got, bytes, last) = until(&mut qry, "a raw answer", |q| match q.recv_bytes().unwrap()? {
            Response::Reply { id, message, last } => {
                check_times(&message, timed);
                Some((id, message.value.to_vec(), last))
            }
            other => panic!("expected an answer, got {other:?}"),
        });
        assert_eq!((got, bytes.as_slice(), last), (id, expected, final_));
    }
    assert_eq!(qry.outstanding(), 0);
    assert_eq!(qry.stats().snapshot().received, 5);
}

fn ins_hub_plug(scope: Scope, timed: bool) {
    let env = Env::new(&label("ins", scope, timed));
    let mut hub = env.factory.hub(&PortSpec::new("worker", "ins", PortKind::Ins, scope, "Job").timed(timed)).unwrap();
    assert_eq!(hub.kind(), PortKind::Ins);
    assert_eq!(hub.endpoint().transport(), Transport::Inproc, "an inside port is inproc whatever its scope");

    let mut plugs: Vec<Spoke> = (0..2).map(|_| hub.plug().unwrap()).collect();
    let ids: Vec<PeerId> = plugs.iter().map(|p| p.id().clone()).collect();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(plugs[0].hub(), Some(hub.endpoint()));

    // Each worker thread sends a typed and a raw message, then waits for the hub's answers.
    let workers: Vec<_> = plugs
        .drain(..)
        .enumerate()
        .map(|(n, mut plug)| {
            thread::spawn(move || {
                let n = u32::try_from(n).unwrap();
                plug.send(&Reading::new(n)).unwrap();
                let reply = plug.recv_within::<Ack>(WAIT).unwrap().expect("the hub's typed answer");
                assert_eq!(reply.value, Ack { id: n, text: "done".into() });
                check_times(&reply, timed);
                plug.send_bytes(&[u8::try_from(n).unwrap(); 3]).unwrap();
                let bytes =
                    until(&mut plug, "the hub's raw answer", |p| p.recv_bytes().unwrap().map(|m| m.value.to_vec()));
                assert_eq!(bytes, vec![u8::try_from(n).unwrap() + 100]);
                plug.stats().snapshot()
            })
        })
        .collect();

    // Each plug sends its raw message only once it has the answer to its typed one, and the
    // hub answers only when it has both typed messages: a typed receive never meets a raw frame.
    let typed: Vec<FromPeer<Reading>> =
        (0..2).map(|_| until(&mut hub, "a typed message from a plug", |h| h.recv::<Reading>().unwrap())).collect();
    for got in typed {
        check_times(&got.message, timed);
        let n = got.message.value.id;
        assert_eq!(got.from, ids[usize::try_from(n).unwrap()], "the hub sees the plug's id");
        hub.send_to(&got.from, &Ack { id: n, text: "done".into() }).unwrap();
    }
    for _ in 0..2 {
        let (from, bytes) = until(&mut hub, "a raw message from a plug", |h| {
            h.recv_bytes().unwrap().map(|m| (m.from, m.message.value.to_vec()))
        });
        let n = bytes[0];
        assert_eq!(bytes, vec![n; 3]);
        assert_eq!(from, ids[usize::from(n)]);
        hub.send_bytes_to(&from, &[n + 100]).unwrap();
    }
    for worker in workers {
        let stats = worker.join().expect("a worker thread");
        assert_eq!((stats.sent, stats.received), (2, 2));
    }
    let unknown = PeerId::from_bytes(b"nobody").unwrap();
    assert!(matches!(hub.send_to(&unknown, &0u8), Err(PortError::PeerGone)));
    assert_eq!(hub.stats().snapshot().unroutable, 1);
}

fn group_leader_member(scope: Scope, timed: bool) {
    let env = Env::new(&label("group", scope, timed));
    let f = &env.factory;
    let leader_spec = |owner: &str| PortSpec::new(owner, "leader", PortKind::GroupLeader, scope, "Vote").timed(timed);
    let mut first = f.hub(&leader_spec("first")).unwrap();
    let mut second = f.hub(&leader_spec("second")).unwrap();
    assert_eq!(first.endpoint().transport(), transport_of(scope));
    let id = PeerId::from_bytes(b"member-1").unwrap();
    let mut member =
        f.member(&PortSpec::new("m", "member", PortKind::GroupMember, scope, "Vote").timed(timed), id.clone()).unwrap();
    assert_eq!((member.kind(), member.id(), member.hub()), (PortKind::GroupMember, &id, None));
    assert!(matches!(member.send(&1u8), Err(PortError::NoProvider)), "no leader yet");

    for (round, leader) in [&mut first, &mut second].into_iter().enumerate() {
        let round = u32::try_from(round).unwrap();
        member.connect_to(Some(leader.endpoint())).unwrap();
        assert_eq!(member.hub(), Some(leader.endpoint()));
        member.send(&Reading::new(round)).unwrap();
        let got = until(leader, "the member's message", |l| l.recv::<Reading>().unwrap());
        assert_eq!((&got.from, &got.message.value), (&id, &Reading::new(round)));
        check_times(&got.message, timed);
        leader.send_to(&id, &Ack { id: round, text: "ok".into() }).unwrap();
        let reply = until(&mut member, "the leader's answer", |m| m.recv::<Ack>().unwrap());
        assert_eq!(reply.value.id, round);
        check_times(&reply, timed);

        member.send_bytes(&[9, 9]).unwrap();
        let (from, bytes) = until(leader, "the member's raw message", |l| {
            l.recv_bytes().unwrap().map(|m| (m.from, m.message.value.to_vec()))
        });
        assert_eq!((from, bytes), (id.clone(), vec![9, 9]));
        leader.send_bytes_to(&id, &[u8::try_from(round).unwrap()]).unwrap();
        let bytes =
            until(&mut member, "the leader's raw answer", |m| m.recv_bytes().unwrap().map(|m| m.value.to_vec()));
        assert_eq!(bytes, vec![u8::try_from(round).unwrap()]);
    }
    // The member follows the second leader only: the first one hears nothing more.
    assert!(first.recv::<Reading>().unwrap().is_none());
    assert_eq!(first.stats().snapshot().received, 2);
    assert_eq!(second.stats().snapshot().received, 2);
    member.connect_to(None).unwrap();
    assert_eq!(member.hub(), None);
    assert!(matches!(member.send_bytes(b"x"), Err(PortError::NoProvider)));
    // Losing the leader and finding the same one again, many times: the leader takes the
    // member's id over for the new connection every time (ZMQ_ROUTER_HANDOVER), in both
    // directions. Without it, the leader ignores the new connection.
    for round in 10..20 {
        member.connect_to(Some(second.endpoint())).unwrap();
        member.send(&Reading::new(round)).unwrap();
        let got = until(&mut second, "the returning member's message", |l| l.recv::<Reading>().unwrap());
        assert_eq!((&got.from, &got.message.value), (&id, &Reading::new(round)));
        second.send_to(&id, &Ack { id: round, text: "back".into() }).unwrap();
        assert_eq!(until(&mut member, "the leader's answer", |m| m.recv::<Ack>().unwrap()).value.id, round);
        member.connect_to(None).unwrap();
    }
}

/// After `remove_endpoint`, a subscriber hears nothing more from that publisher, while a
/// publisher still connected keeps reaching it.
fn sub_remove_endpoint_disconnects(scope: Scope, timed: bool) {
    let env = Env::new(&label("sub_remove", scope, timed));
    let f = &env.factory;
    let spec = |owner: &str, kind| PortSpec::new(owner, "port", kind, scope, "Text").timed(timed);
    let mut kept = f.publisher(&spec("kept", PortKind::Pub)).unwrap();
    let mut removed = f.publisher(&spec("removed", PortKind::Pub)).unwrap();
    let mut sub = f.subscriber(&spec("sub", PortKind::Sub)).unwrap();
    sub.add_endpoint(kept.endpoint()).unwrap();
    sub.add_endpoint(removed.endpoint()).unwrap();
    join(&mut kept, &mut sub);
    join(&mut removed, &mut sub);

    removed.send("before removal").unwrap();
    assert_eq!(until(&mut sub, "a message before removal", |s| s.recv::<String>().unwrap()).value, "before removal");

    assert!(sub.remove_endpoint(removed.endpoint()).unwrap());
    assert!(!sub.remove_endpoint(removed.endpoint()).unwrap(), "a second removal is a no-op");
    assert_eq!(sub.endpoints().collect::<Vec<_>>(), vec![kept.endpoint()]);
    for n in 0..3 {
        // The removed publisher goes first each time, so its message would be the first to arrive.
        removed.send(&format!("removed {n}")).unwrap();
        kept.send(&format!("kept {n}")).unwrap();
        let got = until(&mut sub, "a message from the kept publisher", |s| s.recv::<String>().unwrap());
        assert_eq!(got.value, format!("kept {n}"));
    }
    assert!(sub.recv::<String>().unwrap().is_none());
    assert!(!readable_within(sub.socket(), Duration::from_millis(20)), "nothing from the removed publisher");
}

/// `PortFactory::open` makes the right port for every kind; connect-only operations refuse
/// providing ports.
#[test]
fn open_makes_every_kind() {
    let env = Env::new("open");
    let kinds = [
        PortKind::Pub,
        PortKind::Sub,
        PortKind::Req,
        PortKind::Rep,
        PortKind::Clt,
        PortKind::Srv,
        PortKind::Qry,
        PortKind::Ans,
        PortKind::Ins,
        PortKind::GroupPub,
        PortKind::GroupSub,
        PortKind::GroupMember,
        PortKind::GroupLeader,
    ];
    let mut ports = Vec::new();
    for (n, kind) in kinds.into_iter().enumerate() {
        let port = env.factory.open(&PortSpec::new(&format!("c{n}"), "p", kind, Scope::Global, "M")).unwrap();
        assert_eq!(port.kind(), kind);
        assert_eq!(port.endpoint().is_some(), matches!(port, Port::Pub(_) | Port::Reply(_) | Port::Hub(_)), "{kind}");
        ports.push(port);
    }
    let pub_endpoint = ports[0].endpoint().unwrap().clone();
    assert!(ports[1].add_endpoint(&pub_endpoint).unwrap());
    assert!(ports[1].remove_endpoint(&pub_endpoint).unwrap());
    assert!(matches!(ports[0].add_endpoint(&pub_endpoint), Err(PortError::WrongKind { .. })));
    assert!(matches!(ports[3].remove_endpoint(&pub_endpoint), Err(PortError::WrongKind { .. })));
    assert!(matches!(
        env.factory.requester(&PortSpec::new("x", "p", PortKind::Rep, Scope::Global, "M")),
        Err(PortError::WrongKind { .. })
    ));
}
