//! What the actor's main thread watches for its components besides their ports: the network
//! interface its global ports bind to ([`crate::nic`]), the app's other actors
//! ([`crate::peer_watch`]) and its use against its budget ([`crate::limits`]). All become control
//! messages that every component of the actor gets.

use std::time::Instant;

use cohort_discovery::{DiscoveryClient, Update};
use cohort_ports::Interface;
use slog::{info, warn};

use crate::control::ToComponent;
use crate::limits::LimitWatch;
use crate::nic::NicMonitor;
use crate::peer_watch::PeerWatch;

/// The actor's watches; each one that could not start is left out, with a warning.
pub(crate) struct Watches {
    nic: Option<NicMonitor>,
    peers: Option<PeerWatch>,
    limits: Option<LimitWatch>,
    log: slog::Logger,
}

impl Watches {
    /// Starts following `interface` and the app's other actors (advertising actor `actor`
    /// through `disco`), and watching the actor's budget with `limits`; the events of the peers
    /// already there.
    pub(crate) fn start(
        disco: &mut DiscoveryClient,
        actor: &str,
        interface: &Interface,
        limits: Option<LimitWatch>,
        log: &slog::Logger,
    ) -> (Watches, Vec<ToComponent>) {
        let nic = match interface.device() {
            Ok(Some(name)) if name == "lo" => {
                info!(log, "the actor binds to loopback only: its components get no NIC events");
                None
            }
            Ok(Some(name)) => match NicMonitor::open(&name) {
                Ok(monitor) => {
                    info!(log, "following the network interface"; "interface" => monitor.name(), "state" => %monitor.state());
                    Some(monitor)
                }
                Err(e) => {
                    warn!(log, "cannot follow the network interface; components get no NIC events"; "interface" => name, "error" => %e);
                    None
                }
            },
            Ok(None) => {
                warn!(log, "no interface holds the actor's address; components get no NIC events");
                None
            }
            Err(e) => {
                warn!(log, "cannot tell the actor's interface; components get no NIC events"; "error" => %e);
                None
            }
        };
        let host = interface
            .resolve()
            .map(|ip| ip.to_string())
            .or_else(|_| crate::host::hostname())
            .unwrap_or_else(|_| "unknown".to_owned());
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut events = Vec::new();
        let peers = match PeerWatch::start(disco, actor, &host, &id) {
            Ok((watch, found)) => {
                events.extend(found.into_iter().map(|(peer, state)| ToComponent::Peer(peer, state)));
                Some(watch)
            }
            Err(e) => {
                warn!(log, "cannot follow the app's other actors; components get no peer events"; "error" => %e);
                None
            }
        };
        (Watches { nic, peers, limits, log: log.clone() }, events)
    }

    /// The descriptors to poll beside the actor's sockets.
    pub(crate) fn poll_items(&self) -> Vec<zmq::PollItem<'static>> {
        let nic = self.nic.as_ref().map(|nic| zmq::PollItem::from_fd(nic.fd(), zmq::POLLIN));
        nic.into_iter().chain(self.limits.as_ref().and_then(LimitWatch::poll_item)).collect()
    }

    /// When the watches want to be asked again at the latest, if they do.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.limits.as_ref().map(LimitWatch::next_due)
    }

    /// The limits the actor is over now, if a sample is due at `now`.
    pub(crate) fn limit_events(&mut self, now: Instant) -> Vec<ToComponent> {
        self.limits.as_mut().map(|l| l.events(now)).unwrap_or_default()
    }

    /// The interface's new state, if it changed since last asked (reads without blocking).
    pub(crate) fn nic_event(&mut self) -> Option<ToComponent> {
        let nic = self.nic.as_mut()?;
        match nic.read() {
            Ok(Some(state)) => {
                info!(self.log, "network interface changed state"; "interface" => nic.name(), "state" => %state);
                Some(ToComponent::Nic(state))
            }
            Ok(None) => None,
            Err(e) => {
                warn!(self.log, "cannot read network interface changes; components get no more NIC events"; "error" => %e);
                self.nic = None;
                None
            }
        }
    }

    /// The events of a discovery update if it is one for the peer watch; else the update back.
    pub(crate) fn peer_events(&mut self, update: Update) -> Result<Vec<ToComponent>, Update> {
        let Some(peers) = self.peers.as_mut() else { return Err(update) };
        let events = peers.update(update)?;
        for (peer, state) in &events {
            info!(self.log, "peer actor changed state"; "peer" => %peer, "state" => %state);
        }
        Ok(events.into_iter().map(|(peer, state)| ToComponent::Peer(peer, state)).collect())
    }
}
