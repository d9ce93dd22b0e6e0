#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Request ports: correlation of many outstanding requests, out-of-order answers, deadlines,
//! stale replies, missing and removed providers.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::thread;
use std::time::{Duration, Instant};

use cohort_ports::*;
use common::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Ask {
    n: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Answer {
    n: u32,
    part: u32,
}

fn spec(owner: &str, kind: PortKind, scope: Scope) -> PortSpec {
    PortSpec::new(owner, "port", kind, scope, "Ask").with_reply("Answer")
}

/// A `rep` and a `req` connected to it.
fn req_rep(env: &Env, scope: Scope) -> (ReplyPort, ReqPort) {
    let rep = env.factory.replier(&spec("server", PortKind::Rep, scope)).unwrap();
    let mut req = env.factory.requester(&spec("client", PortKind::Req, scope)).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    (rep, req)
}

/// Receives `count` requests on `port`, in arrival order.
fn take_requests(port: &mut ReplyPort, count: usize) -> Vec<Request<Ask>> {
    (0..count).map(|_| until(port, "a request", |p| p.recv::<Ask>().unwrap())).collect()
}

fn next_response<P: common::Pollable>(
    port: &mut P,
    recv: impl FnMut(&mut P) -> Option<Response<Answer>>,
) -> Response<Answer> {
    until(port, "a response", recv)
}

fn next_reply(req: &mut ReqPort) -> Response<Answer> {
    next_response(req, |r| r.recv::<Answer>().unwrap())
}

fn next_answer(qry: &mut QryPort) -> Response<Answer> {
    next_response(qry, |q| q.recv::<Answer>().unwrap())
}

/// Runs `$check(scope)` as one test per transport.
macro_rules! every_scope {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            use cohort_ports::Scope;
            #[test]
            fn inproc() {
                super::$check(Scope::Internal)
            }
            #[test]
            fn ipc() {
                super::$check(Scope::Local)
            }
            #[test]
            fn tcp() {
                super::$check(Scope::Global)
            }
        }
    )*};
}

every_scope!(thousand_outstanding_answered_in_reverse, provider_removal_ends_exactly_its_requests);

const MANY: u32 = 1000;

/// 1,000 requests outstanding at once, answered last first: every reply reaches the request it
/// answers.
fn thousand_outstanding_answered_in_reverse(scope: Scope) {
    let env = Env::new(&format!("thousand-{}", scope.name()));
    let (mut rep, mut req) = req_rep(&env, scope);
    let ids: Vec<RequestId> = (0..MANY).map(|n| req.request(&Ask { n }).unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "request ids are unique");
    assert_eq!(req.outstanding(), ids.len());

    let requests = take_requests(&mut rep, ids.len());
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(request.message.value.n, u32::try_from(n).unwrap(), "requests arrive in order");
        assert_eq!(request.token.request_seq(), ids[n].0);
    }
    for request in requests.iter().rev() {
        let n = request.message.value.n;
        rep.reply(&request.token, &Answer { n, part: n * 7 }).unwrap();
    }

    let by_id: HashMap<RequestId, u32> =
        ids.iter().enumerate().map(|(n, id)| (*id, u32::try_from(n).unwrap())).collect();
    for expected in (0..MANY).rev() {
        match next_reply(&mut req) {
            Response::Reply { id, message, last } => {
                assert!(last);
                assert_eq!(by_id[&id], message.value.n, "reply {id} carries the answer to another request");
                assert_eq!((message.value.n, message.value.part, message.seq), (expected, expected * 7, id.0));
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }
    assert_eq!(req.outstanding(), 0);
    assert!(req.recv::<Answer>().unwrap().is_none());
    let stats = req.stats().snapshot();
    assert_eq!((stats.sent, stats.received, stats.stale, stats.dropped()), (1000, 1000, 0, 0));
}

/// Removing one of two providers ends exactly the requests sent to it, with `ProviderGone`;
/// the other provider's requests are still answered, and new requests go to it alone.
fn provider_removal_ends_exactly_its_requests(scope: Scope) {
    let env = Env::new(&format!("removal-{}", scope.name()));
    let f = &env.factory;
    let mut kept = f.replier(&spec("kept", PortKind::Rep, scope)).unwrap();
    let mut gone = f.replier(&spec("gone", PortKind::Rep, scope)).unwrap();
    let mut req = f.requester(&spec("client", PortKind::Req, scope)).unwrap();
    req.add_endpoint(kept.endpoint()).unwrap();
    req.add_endpoint(gone.endpoint()).unwrap();
    assert_eq!(req.endpoints().count(), 2);

    let ids: Vec<RequestId> = (0..10).map(|n| req.request(&Ask { n }).unwrap()).collect();
    // Requests go to the providers in turn.
    let to_kept = take_requests(&mut kept, 5);
    let to_gone = take_requests(&mut gone, 5);
    let kept_ids: BTreeSet<u64> = to_kept.iter().map(|r| r.token.request_seq()).collect();
    let gone_ids: BTreeSet<u64> = to_gone.iter().map(|r| r.token.request_seq()).collect();
    assert_eq!(kept_ids.union(&gone_ids).count(), ids.len());

    assert!(req.remove_endpoint(gone.endpoint()).unwrap());
    assert!(!req.remove_endpoint(gone.endpoint()).unwrap(), "a second removal is a no-op");
    assert_eq!(req.outstanding(), 5);
    // Replies from the removed provider can no longer reach the requester.
    for request in &to_gone {
        match gone.reply(&request.token, &Answer { n: request.message.value.n, part: 0 }) {
            Ok(()) | Err(PortError::PeerGone) => {}
            Err(e) => panic!("replying from the removed provider: {e}"),
        }
    }
    for request in &to_kept {
        kept.reply(&request.token, &Answer { n: request.message.value.n, part: 1 }).unwrap();
    }

    let (mut ended, mut replied) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..ids.len() {
        match next_reply(&mut req) {
            Response::Failed { id, error: CallError::ProviderGone, replies: 0 } => assert!(ended.insert(id.0)),
            Response::Reply { id, message, last: true } => {
                assert_eq!(message.value.part, 1, "only the kept provider's replies arrive");
                assert!(replied.insert(id.0));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ended, replied), (gone_ids, kept_ids));
    assert_eq!(req.outstanding(), 0);
    assert_eq!(req.stats().snapshot().provider_gone, 5);

    // New requests all go to the provider that is left.
    for n in 100..104 {
        req.request(&Ask { n }).unwrap();
    }
    let later = take_requests(&mut kept, 4);
    assert_eq!(later.iter().map(|r| r.message.value.n).collect::<Vec<_>>(), vec![100, 101, 102, 103]);
    assert!(gone.recv::<Ask>().unwrap().is_none());
    assert!(!readable_within(gone.socket(), Duration::from_millis(20)));
}

/// Queries answered out of order, several answers each before the final one; `last` marks the
/// final answer only.
#[test]
fn answers_out_of_order_with_partial_answers() {
    let env = Env::new("qry-order");
    let mut ans = env.factory.replier(&spec("server", PortKind::Ans, Scope::Global)).unwrap();
    let mut qry = env.factory.query(&spec("client", PortKind::Qry, Scope::Global)).unwrap();
    qry.add_endpoint(ans.endpoint()).unwrap();
    let ids: Vec<RequestId> = (0..3).map(|n| qry.query(&Ask { n }).unwrap()).collect();
    let queries = take_requests(&mut ans, 3);
    let token = |n: usize| &queries[n].token;

    // (query, part, final)
    let script = [(2, 0, false), (0, 0, false), (1, 0, false), (1, 1, true), (2, 1, false), (0, 1, true), (2, 2, true)];
    for &(n, part, last) in &script {
        let answer = Answer { n: u32::try_from(n).unwrap(), part };
        if last {
            ans.reply(token(n), &answer).unwrap();
        } else {
            ans.answer(token(n), &answer).unwrap();
        }
    }
    let mut open: BTreeSet<RequestId> = ids.iter().copied().collect();
    for &(n, part, final_) in &script {
        match next_answer(&mut qry) {
            Response::Reply { id, message, last } => {
                assert_eq!(id, ids[n]);
                assert_eq!((message.value.n, message.value.part, last), (u32::try_from(n).unwrap(), part, final_));
                if last {
                    assert!(open.remove(&id));
                }
                assert_eq!(qry.outstanding(), open.len());
            }
            other => panic!("expected an answer, got {other:?}"),
        }
    }
    assert!(qry.recv::<Answer>().unwrap().is_none());
    assert_eq!(qry.next_deadline(), None);
    assert_eq!(qry.stats().snapshot().received, 7);
}

/// A query that never gets its final answer ends at its deadline, saying how many answers it had;
/// answers after that are stale.
#[test]
fn query_without_final_answer_times_out() {
    let env = Env::new("qry-timeout");
    let mut ans = env.factory.replier(&spec("server", PortKind::Ans, Scope::Local)).unwrap();
    let mut qry = env.factory.query(&spec("client", PortKind::Qry, Scope::Local)).unwrap();
    qry.add_endpoint(ans.endpoint()).unwrap();
    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let id = qry.query_within(&Ask { n: 1 }, timeout).unwrap();
    let query = take_requests(&mut ans, 1).remove(0);
    for part in 0..2 {
        ans.answer(&query.token, &Answer { n: 1, part }).unwrap();
    }
    for part in 0..2 {
        match next_answer(&mut qry) {
            Response::Reply { id: got, message, last: false } => assert_eq!((got, message.value.part), (id, part)),
            other => panic!("expected a partial answer, got {other:?}"),
        }
    }
    match next_answer(&mut qry) {
        Response::Failed { id: got, error, replies } => {
            assert_eq!((got, error, replies), (id, CallError::TimedOut(timeout), 2));
            assert!(started.elapsed() >= timeout, "ended before its deadline");
        }
        other => panic!("expected the query to time out, got {other:?}"),
    }
    assert_eq!(qry.outstanding(), 0);
    ans.reply(&query.token, &Answer { n: 1, part: 2 }).unwrap();
    wait_readable(qry.sockets().next().unwrap(), "the late final answer");
    assert!(qry.recv::<Answer>().unwrap().is_none(), "a late answer is not delivered");
    let stats = qry.stats().snapshot();
    assert_eq!((stats.timed_out, stats.stale, stats.received), (1, 1, 2));
}

/// A request whose provider never replies ends with `TimedOut`; the reply that comes later is
/// counted as stale, not delivered.
#[test]
fn request_times_out_and_late_reply_is_stale() {
    let env = Env::new("req-timeout");
    let (mut rep, mut req) = req_rep(&env, Scope::Global);
    let timeout = Duration::from_millis(150);
    let started = Instant::now();
    let id = req.request_within(&Ask { n: 5 }, timeout).unwrap();
    let request = take_requests(&mut rep, 1).remove(0);
    match next_reply(&mut req) {
        Response::Failed { id: got, error, replies } => {
            assert_eq!((got, error, replies), (id, CallError::TimedOut(timeout), 0));
            assert!(started.elapsed() >= timeout, "ended before its deadline");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(req.outstanding(), 0);

    rep.reply(&request.token, &Answer { n: 5, part: 0 }).unwrap();
    wait_readable(req.sockets().next().unwrap(), "the late reply");
    assert!(req.recv::<Answer>().unwrap().is_none(), "a late reply is not delivered");
    let stats = req.stats().snapshot();
    assert_eq!((stats.timed_out, stats.stale, stats.received), (1, 1, 0));

    // The port still works.
    let id = req.request(&Ask { n: 6 }).unwrap();
    let request = take_requests(&mut rep, 1).remove(0);
    rep.reply(&request.token, &Answer { n: 6, part: 0 }).unwrap();
    assert!(matches!(next_reply(&mut req), Response::Reply { id: got, .. } if got == id));
}

/// `next_deadline` is the earliest deadline of the outstanding requests, and moves on as they end.
#[test]
fn next_deadline_follows_outstanding_requests() {
    let env = Env::new("deadline");
    let (mut rep, mut req) = req_rep(&env, Scope::Internal);
    assert_eq!(req.next_deadline(), None);
    let sent = |req: &mut ReqPort, n: u32, timeout: Duration| {
        let before = Instant::now();
        let id = req.request_within(&Ask { n }, timeout).unwrap();
        (id, before + timeout, Instant::now() + timeout)
    };
    let (slow, slow_from, slow_to) = sent(&mut req, 0, WAIT * 2);
    let (medium, medium_from, medium_to) = sent(&mut req, 1, WAIT);
    let (fast, fast_from, fast_to) = sent(&mut req, 2, Duration::from_millis(200));
    let within = |deadline: Option<Instant>, from: Instant, to: Instant| {
        let deadline = deadline.expect("a deadline");
        assert!(from <= deadline && deadline <= to, "deadline {deadline:?} not in {from:?}..={to:?}");
    };
    within(req.next_deadline(), fast_from, fast_to);
    let requests = take_requests(&mut rep, 3);

    // The fast one expires first; then the medium one's deadline is next.
    match next_reply(&mut req) {
        Response::Failed { id, error: CallError::TimedOut(_), .. } => assert_eq!(id, fast),
        other => panic!("expected the fast request to time out, got {other:?}"),
    }
    within(req.next_deadline(), medium_from, medium_to);
    rep.reply(&requests[1].token, &Answer { n: 1, part: 0 }).unwrap();
    assert_eq!(next_reply(&mut req).id(), medium);
    within(req.next_deadline(), slow_from, slow_to);
    rep.reply(&requests[0].token, &Answer { n: 0, part: 0 }).unwrap();
    assert_eq!(next_reply(&mut req).id(), slow);
    assert_eq!(req.next_deadline(), None);
}

/// A call that times out returns `TimedOut`; its late reply is dropped and the next call gets
/// its own reply.
#[test]
fn call_times_out_then_next_call_works() {
    let env = Env::new("clt-timeout");
    let mut srv = env.factory.replier(&spec("server", PortKind::Srv, Scope::Global)).unwrap();
    let mut clt = env.factory.client(&spec("client", PortKind::Clt, Scope::Global)).unwrap();
    clt.add_endpoint(srv.endpoint()).unwrap();

    // The server holds the first call until the second arrives, then replies to both.
    let server = thread::spawn(move || {
        let requests = take_requests(&mut srv, 2);
        for request in &requests {
            srv.reply(&request.token, &Answer { n: request.message.value.n, part: 0 }).unwrap();
        }
        requests.iter().map(|r| r.message.value.n).collect::<Vec<_>>()
    });
    let timeout = Duration::from_millis(150);
    let started = Instant::now();
    match clt.call_within::<_, Answer>(&Ask { n: 1 }, timeout) {
        Err(PortError::Call(CallError::TimedOut(t))) => assert_eq!(t, timeout),
        other => panic!("expected the call to time out, got {other:?}"),
    }
    assert!(started.elapsed() >= timeout);
    let reply: Received<Answer> = clt.call_within(&Ask { n: 2 }, WAIT).unwrap();
    assert_eq!(reply.value.n, 2, "the second call gets its own reply, not the first call's late one");
    assert_eq!(server.join().unwrap(), vec![1, 2]);
    let stats = clt.stats().snapshot();
    assert_eq!((stats.timed_out, stats.stale, stats.received, clt.outstanding()), (1, 1, 1, 0));
}

/// Requests with no provider fail at once with `NoProvider`, on every request port.
#[test]
fn no_provider() {
    let env = Env::new("no-provider");
    let f = &env.factory;
    let mut req = f.requester(&spec("r", PortKind::Req, Scope::Global)).unwrap();
    let mut clt = f.client(&spec("c", PortKind::Clt, Scope::Global)).unwrap();
    let mut qry = f.query(&spec("q", PortKind::Qry, Scope::Global)).unwrap();
    assert!(matches!(req.request(&Ask { n: 0 }), Err(PortError::NoProvider)));
    assert!(matches!(req.request_bytes(b"x"), Err(PortError::NoProvider)));
    assert!(matches!(clt.call::<_, Answer>(&Ask { n: 0 }), Err(PortError::NoProvider)));
    assert!(matches!(clt.call_bytes(b"x", WAIT), Err(PortError::NoProvider)));
    assert!(matches!(qry.query(&Ask { n: 0 }), Err(PortError::NoProvider)));
    assert!(req.recv::<Answer>().unwrap().is_none());

    // Also once the last provider is removed.
    let rep = f.replier(&spec("s", PortKind::Rep, Scope::Global)).unwrap();
    req.add_endpoint(rep.endpoint()).unwrap();
    req.request(&Ask { n: 1 }).unwrap();
    req.remove_endpoint(rep.endpoint()).unwrap();
    assert!(matches!(req.request(&Ask { n: 2 }), Err(PortError::NoProvider)));
    assert!(matches!(req.recv::<Answer>().unwrap(), Some(Response::Failed { error: CallError::ProviderGone, .. })));
    assert_eq!((req.outstanding(), req.stats().snapshot().sent), (0, 1));
}
