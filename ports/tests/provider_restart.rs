#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A provider whose connection closes (issue 14): the request ports learn it from their socket
//! monitors, end the requests it held with `ProviderGone` exactly once, send new ones elsewhere,
//! and use a provider restarted on the same endpoint again. The same for a spoke and its hub.
//! (Killed processes: `tests/tests/provider_death.rs`.)

mod common;

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use cohort_ports::wire::read_header;
use cohort_ports::*;
use common::*;

/// How long a closed connection may take to show, in-process (it takes a millisecond or two).
const NOTICED: Duration = Duration::from_secs(1);

fn spec(kind: PortKind, scope: Scope) -> PortSpec {
    PortSpec::new("client", "port", kind, scope, "Ask").with_reply("Answer")
}

/// A fake provider: a raw ROUTER in a ZeroMQ context of its own, bound at a given endpoint.
struct Provider {
    router: zmq::Socket,
    ctx: zmq::Context,
}

impl Provider {
    fn bind(endpoint: &str) -> Provider {
        let ctx = zmq::Context::new();
        let router = ctx.socket(zmq::ROUTER).unwrap();
        router.set_linger(0).unwrap();
        router.bind(endpoint).unwrap();
        Provider { router, ctx }
    }

    /// Binds at `endpoint` and waits until a client's handshake with it has succeeded.
    fn bind_and_await_client(endpoint: &str) -> Provider {
        let provider = Provider::bind(endpoint);
        let address = format!("inproc://provider-monitor-{}", std::process::id());
        let events = zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw();
        provider.router.monitor(&address, i32::from(events)).unwrap();
        let pair = provider.ctx.socket(zmq::PAIR).unwrap();
        pair.connect(&address).unwrap();
        wait_readable(&pair, "the client's handshake with the restarted provider");
        provider.router.monitor(&format!("{address}-off"), 0).unwrap();
        provider
    }

    /// Receives one request: the client's routing id and the request's seq.
    fn take(&self) -> (Vec<u8>, u64) {
        wait_readable(&self.router, "a request at the provider");
        let mut parts = self.router.recv_multipart(0).unwrap();
        let frame = parts.pop().unwrap();
        let (header, _) = read_header(&frame).unwrap();
        (parts.swap_remove(0), header.seq)
    }

    fn reply(&self, client: &[u8], seq: u64, value: u32) {
        send_parts(&self.router, &[client.to_vec(), good_frame("Answer", seq, &value)]);
    }

    /// Closes the socket; dropping the context waits until it is closed, so the endpoint is
    /// free at once.
    fn close(self) {
        let Provider { router, ctx } = self;
        drop(router);
        drop(ctx);
    }
}

/// Every outcome the port delivered, by request id.
#[derive(Default)]
struct Outcomes(BTreeMap<RequestId, Vec<Result<u32, CallError>>>);

impl Outcomes {
    fn record(&mut self, response: Response<u32>) -> RequestId {
        let (id, outcome) = match response {
            Response::Reply { id, message, .. } => (id, Ok(message.value)),
            Response::Failed { id, error, .. } => (id, Err(error)),
        };
        self.0.entry(id).or_default().push(outcome);
        id
    }

    /// Receives until every one of `ids` has an outcome.
    fn until_ended(&mut self, req: &mut ReqPort, ids: &[RequestId]) {
        while !ids.iter().all(|id| self.0.contains_key(id)) {
            let response = until(req, "the end of the requests", |r| r.recv::<u32>().unwrap());
            self.record(response);
        }
    }

    fn of(&self, id: RequestId) -> &[Result<u32, CallError>] {
        self.0.get(&id).map_or(&[], Vec::as_slice)
    }
}

/// Sends a request, waiting while every provider's connection is down.
fn request_when_up(req: &mut ReqPort, value: u32) -> RequestId {
    until(req, "a provider to take a request", |r| match r.request(&value) {
        Ok(id) => Some(id),
        Err(PortError::NoProvider) => None,
        Err(e) => panic!("sending a request: {e}"),
    })
}

fn restarted_provider_round_trip(scope: Scope, endpoint: &str) {
    let env = Env::new(&format!("restart-{}", scope.name()));
    let mut req = env.factory.requester(&spec(PortKind::Req, scope)).unwrap();
    let mut provider = Provider::bind(endpoint);
    req.add_endpoint(&Endpoint::parse(endpoint).unwrap()).unwrap();
    let mut outcomes = Outcomes::default();
    let mut next_value = 0;
    for round in 0..6 {
        // Two requests reach the provider; it answers the first only.
        let held: Vec<RequestId> = (0..2)
            .map(|_| {
                next_value += 1;
                request_when_up(&mut req, next_value)
            })
            .collect();
        let (client, first) = provider.take();
        let (_, second) = provider.take();
        assert_eq!((first, second), (held[0].0, held[1].0));
        provider.reply(&client, first, 1000 + round);
        outcomes.until_ended(&mut req, &held[..1]);

        // The provider closes and another binds the same endpoint at once (a restart within
        // the reconnect interval). In odd rounds the port reads nothing until its connection
        // is back, so it sees the close and the return together.
        let closed = Instant::now();
        provider.close();
        provider = if round % 2 == 1 { Provider::bind_and_await_client(endpoint) } else { Provider::bind(endpoint) };
        outcomes.until_ended(&mut req, &held);
        assert!(closed.elapsed() < NOTICED, "round {round}: the close took {:?} to show", closed.elapsed());
        assert_eq!(outcomes.of(held[0]), [Ok(1000 + round)], "round {round}");
        assert_eq!(outcomes.of(held[1]), [Err(CallError::ProviderGone)], "round {round}");

        // A later request is answered by the new provider; its answer to the request that
        // ended with the old one is dropped and counted, never delivered.
        next_value += 1;
        let later = request_when_up(&mut req, next_value);
        let (client, seq) = provider.take();
        assert_eq!(seq, later.0, "round {round}: the request lost with the old provider came again");
        let stale = req.stats().snapshot().stale;
        provider.reply(&client, held[1].0, 1);
        provider.reply(&client, later.0, 2000 + round);
        outcomes.until_ended(&mut req, &[later]);
        assert_eq!(outcomes.of(later), [Ok(2000 + round)], "round {round}");
        assert_eq!(req.stats().snapshot().stale, stale + 1, "round {round}: the late answer was not dropped");
        assert_eq!(req.outstanding(), 0);
        assert_eq!(req.links().map(|(_, state)| state).collect::<Vec<_>>(), [LinkState::Up]);
    }
    // Every request ended exactly once.
    for (id, ends) in &outcomes.0 {
        assert_eq!(ends.len(), 1, "request {id} ended {ends:?}");
    }
    assert_eq!(outcomes.0.len(), 18);
    assert_eq!(req.stats().snapshot().provider_gone, 6);
    assert_eq!(req.recv::<u32>().unwrap(), None);
    provider.close();
}

#[test]
fn a_provider_restarted_on_the_same_tcp_endpoint_ends_each_request_once() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    restarted_provider_round_trip(Scope::Global, &format!("tcp://127.0.0.1:{port}"));
}

#[test]
fn a_provider_restarted_on_the_same_ipc_endpoint_ends_each_request_once() {
    let dir = std::env::temp_dir().join(format!("cohort-pt-{}-restart-ipc-socket", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    restarted_provider_round_trip(Scope::Local, &format!("ipc://{}/provider.sock", dir.display()));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two providers, one closes: its request ends at once, and every later request goes to the
/// other. Discovery's later removal of the closed one ends nothing twice.
#[test]
fn requests_go_to_the_remaining_provider_and_discovery_only_confirms() {
    let env = Env::new("remaining-provider");
    let mut req = env.factory.requester(&spec(PortKind::Req, Scope::Global)).unwrap();
    let gone = Provider::bind("tcp://127.0.0.1:*");
    let stays = Provider::bind("tcp://127.0.0.1:*");
    let gone_endpoint = bound_endpoint(&gone.router);
    req.add_endpoint(&gone_endpoint).unwrap();
    req.add_endpoint(&bound_endpoint(&stays.router)).unwrap();
    let first = req.request(&1).unwrap();
    let second = req.request(&2).unwrap();
    assert_eq!(gone.take().1, first.0);
    let (client, seq) = stays.take();
    assert_eq!(seq, second.0);

    gone.close();
    let mut outcomes = Outcomes::default();
    outcomes.until_ended(&mut req, &[first]);
    assert_eq!(outcomes.of(first), [Err(CallError::ProviderGone)]);
    let states: Vec<LinkState> = req.links().map(|(_, state)| state).collect();
    assert_eq!(states, [LinkState::Down, LinkState::Up]);
    let later: Vec<RequestId> = (3..7).map(|n| req.request(&n).unwrap()).collect();
    let mut taken = Vec::new();
    for _ in &later {
        let (client, seq) = stays.take();
        stays.reply(&client, seq, 7);
        taken.push(seq);
    }
    assert_eq!(taken, later.iter().map(|id| id.0).collect::<Vec<_>>());
    outcomes.until_ended(&mut req, &later);

    // Discovery drops the dead provider later: nothing ends twice, the open request stays open.
    assert!(req.remove_endpoint(&gone_endpoint).unwrap());
    assert_eq!(req.recv::<u32>().unwrap(), None);
    assert_eq!((req.stats().snapshot().provider_gone, req.outstanding()), (1, 1));
    stays.reply(&client, second.0, 2);
    outcomes.until_ended(&mut req, &[second]);
    assert_eq!(outcomes.of(second), [Ok(2)]);
    assert!(outcomes.0.values().all(|ends| ends.len() == 1));

    // With no provider up, a request fails as when there is none.
    stays.close();
    let give_up = Instant::now() + NOTICED;
    loop {
        match req.request(&9) {
            Err(PortError::NoProvider) => break,
            Ok(id) => outcomes.until_ended(&mut req, &[id]),
            Err(e) => panic!("expected NoProvider, got {e}"),
        }
        assert!(Instant::now() < give_up, "the last provider's close never showed");
    }
}

/// A blocking call returns `ProviderGone` as soon as its provider closes, well before its
/// timeout, and the next call goes to the provider that is left.
#[test]
fn a_call_ends_when_its_provider_closes() {
    let env = Env::new("call-provider-gone");
    let mut clt = env.factory.client(&spec(PortKind::Clt, Scope::Global)).unwrap();
    let doomed = Provider::bind("tcp://127.0.0.1:*");
    let answering = Provider::bind("tcp://127.0.0.1:*");
    clt.add_endpoint(&bound_endpoint(&doomed.router)).unwrap();
    clt.add_endpoint(&bound_endpoint(&answering.router)).unwrap();
    let doomed_thread = thread::spawn(move || {
        doomed.take();
        doomed.close();
    });
    let started = Instant::now();
    let timeout = Duration::from_secs(10);
    match clt.call_within::<_, u32>(&1, timeout) {
        Err(PortError::Call(CallError::ProviderGone)) => {}
        other => panic!("expected ProviderGone, got {other:?}"),
    }
    assert!(started.elapsed() < NOTICED, "the call took {:?} to end", started.elapsed());
    doomed_thread.join().unwrap();

    let answering_thread = thread::spawn(move || {
        let (client, seq) = answering.take();
        answering.reply(&client, seq, 42);
        answering
    });
    assert_eq!(clt.call_within::<_, u32>(&2, timeout).unwrap().value, 42);
    assert_eq!(clt.stats().snapshot().provider_gone, 1);
    answering_thread.join().unwrap().close();
}

/// A group member's spoke learns at once that its hub closed, and that it came back.
#[test]
fn a_spoke_learns_at_once_that_its_hub_closed() {
    let env = Env::new("spoke-link");
    let hub_factory = env.other_factory(SocketOptions::default(), Security::None).unwrap();
    let spec = |name: &str, kind| PortSpec::new("group", name, kind, Scope::Global, "Frame");
    let hub = hub_factory.hub(&spec("leader", PortKind::GroupLeader)).unwrap();
    let mut spoke = env.factory.member(&spec("member", PortKind::GroupMember), PeerId::random()).unwrap();
    assert_eq!(spoke.link(), None);
    spoke.connect_to(Some(hub.endpoint())).unwrap();
    assert_eq!(spoke.link(), Some(LinkState::Connecting));
    let next_event = |spoke: &mut Spoke| {
        let give_up = Instant::now() + WAIT;
        loop {
            let events = spoke.link_events().unwrap();
            if let Some(event) = events.last() {
                return *event;
            }
            assert!(Instant::now() < give_up, "no connection change within {WAIT:?}");
            wait_readable(spoke.monitor_socket().unwrap(), "the spoke's monitor");
        }
    };
    assert_eq!(next_event(&mut spoke), LinkEvent::Connected);
    assert_eq!(spoke.link(), Some(LinkState::Up));
    let endpoint = hub.endpoint().clone();
    let closed = Instant::now();
    drop(hub);
    drop(hub_factory);
    assert_eq!(next_event(&mut spoke), LinkEvent::Disconnected);
    assert!(closed.elapsed() < NOTICED, "the close took {:?} to show", closed.elapsed());
    assert_eq!(spoke.link(), Some(LinkState::Down));
    assert_eq!(spoke.sockets().count(), 2);

    // Someone binds the endpoint again: the spoke is connected again.
    let again = Provider::bind(endpoint.as_str());
    assert_eq!(next_event(&mut spoke), LinkEvent::Connected);
    spoke.connect_to(None).unwrap();
    assert_eq!(spoke.link(), None);
    again.close();
}
