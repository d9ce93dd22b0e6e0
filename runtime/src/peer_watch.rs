//! Follows the app's other actors through discovery.
//!
//! Every actor provides the service [`PEER_SERVICE`] (a global `pub` under the discovery key
//! [`PEER_KEY`]; `$` cannot start a model name, so neither can clash with a port or a message
//! type) and looks it up. Its endpoint is never connected to: it only names the actor,
//! `ipc://$actor/<actor>/<host>/<pid>/<id>`, with the address its global ports bind to as
//! host and a fresh id per run. Discovery pushes an update when an actor of the app registers,
//! on any host, and when it removes one (the actor said goodbye or missed its liveness
//! timeout), which this turns into [`Peer`] events for the components.

use std::collections::BTreeSet;

use cohort_discovery::{ClientError, DiscoveryClient, Update};
use cohort_ports::{Endpoint, PortKind, Scope};

use crate::events::{Peer, PeerState};

/// The message key under which actors advertise themselves.
pub(crate) const PEER_SERVICE: &str = "$actor";

/// The discovery key of the actor's own provider and lookup.
pub(crate) const PEER_KEY: &str = "$peers";

/// The app's other actors as discovery sees them.
pub(crate) struct PeerWatch {
    own: Endpoint,
    known: BTreeSet<Endpoint>,
}

impl PeerWatch {
    /// Advertises actor `actor` (host `host`) and looks up the others; the events of those
    /// already there (all [`PeerState::Up`]).
    pub(crate) fn start(
        disco: &mut DiscoveryClient,
        actor: &str,
        host: &str,
        id: &str,
    ) -> Result<(PeerWatch, Vec<(Peer, PeerState)>), ClientError> {
        let own = Endpoint::parse(&format!("ipc://$actor/{actor}/{host}/{}/{id}", std::process::id()))?;
        disco.provide(PEER_KEY, PortKind::Pub, PEER_SERVICE, Scope::Global, &own)?;
        let found = disco.lookup(PEER_KEY, PortKind::Sub, PEER_SERVICE, Scope::Global)?;
        let mut watch = PeerWatch { own, known: BTreeSet::new() };
        let events = watch.apply(found, Vec::new());
        Ok((watch, events))
    }

    /// The events of a discovery update, if it is one for the watch (else gives it back).
    pub(crate) fn update(&mut self, update: Update) -> Result<Vec<(Peer, PeerState)>, Update> {
        if update.port != PEER_KEY {
            return Err(update);
        }
        Ok(self.apply(update.added, update.removed))
    }

    fn apply(&mut self, added: Vec<Endpoint>, removed: Vec<Endpoint>) -> Vec<(Peer, PeerState)> {
        let mut events = Vec::new();
        for endpoint in removed {
            if self.known.remove(&endpoint) {
                events.extend(parse_peer(&endpoint).map(|p| (p, PeerState::Down)));
            }
        }
        for endpoint in added {
            if endpoint != self.own && self.known.insert(endpoint.clone()) {
                events.extend(parse_peer(&endpoint).map(|p| (p, PeerState::Up)));
            }
        }
        events
    }
}

/// The actor an advertised endpoint names; none if it names none.
fn parse_peer(endpoint: &Endpoint) -> Option<Peer> {
    let rest = endpoint.as_str().strip_prefix("ipc://$actor/")?;
    let mut parts = rest.split('/');
    let (actor, host, pid, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(Peer { actor: actor.to_owned(), host: host.to_owned(), pid: pid.parse().ok()?, id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(text: &str) -> Endpoint {
        Endpoint::parse(text).expect("endpoint")
    }

    #[test]
    fn endpoints_name_peers() {
        let peer = parse_peer(&endpoint("ipc://$actor/Sensor/10.0.0.2/42/abc")).expect("peer");
        assert_eq!(peer, Peer { actor: "Sensor".into(), host: "10.0.0.2".into(), pid: 42, id: "abc".into() });
        assert!(parse_peer(&endpoint("ipc://$actor/Sensor/10.0.0.2/x/abc")).is_none());
        assert!(parse_peer(&endpoint("tcp://10.0.0.2:5")).is_none());
    }

    #[test]
    fn updates_become_events_once() {
        let own = endpoint("ipc://$actor/A/h/1/me");
        let mut watch = PeerWatch { own: own.clone(), known: BTreeSet::new() };
        let other = endpoint("ipc://$actor/B/h/2/them");
        let up = watch.apply(vec![own.clone(), other.clone()], Vec::new());
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].1, PeerState::Up);
        assert!(watch.apply(vec![other.clone()], Vec::new()).is_empty());
        let down = watch.apply(Vec::new(), vec![other.clone(), own]);
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].1, PeerState::Down);
        let not_ours = Update { port: "x.y".into(), added: vec![other], removed: Vec::new() };
        assert!(watch.update(not_ours).is_err());
    }
}
