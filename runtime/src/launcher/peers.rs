//! The app's launchers on other hosts, found through discovery, so that any host's page shows
//! every host.
//!
//! A launcher that serves its monitor (`--metrics ADDR`) registers the address with discovery
//! as a provider of the app's monitor service (a `pub` of the message key [`MONITOR_SERVICE`],
//! global, under the client name `$launcher-<pid>`; `$` cannot start a model name, so neither
//! can clash with an actor or a message type) and looks up the others'. A thread of its own
//! keeps the discovery client alive and reads each other launcher's `/api/local` every
//! [`FETCH_INTERVAL`] onto the [`Board`]; a launcher that does not answer, or that discovery
//! removes, drops out of the view.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_discovery::{ClientConfig, ClientSecurity, DiscoveryClient};
use cohort_monitor::{AppView, Board};
use cohort_ports::{Endpoint, Interface, PortKind, Scope};
use slog::{debug, info, warn};

/// The message key under which launchers advertise their monitors.
pub const MONITOR_SERVICE: &str = "$monitor";

/// The discovery key of a launcher's monitor, provided and looked up.
const MONITOR_KEY: &str = "monitor";

/// How often the other launchers' views are read.
const FETCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long reading one view may take.
const FETCH_TIMEOUT: Duration = Duration::from_millis(800);

/// How long to wait before asking an absent discovery daemon again.
const RETRY: Duration = Duration::from_secs(1);

/// Where the launcher finds discovery.
#[derive(Debug, Clone)]
pub(crate) struct PeerDiscovery {
    /// The daemon's endpoint.
    pub(crate) daemon: String,
    /// How the launcher authenticates itself to it.
    pub(crate) security: ClientSecurity,
    /// The interface whose address is advertised when the monitor listens on every address.
    pub(crate) interface: Interface,
}

/// The thread that follows the other launchers; stopped when dropped.
pub(crate) struct Peers {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Peers {
    /// Advertises the monitor listening on `listening` and follows the other launchers of `app`
    /// onto `board`.
    pub(crate) fn start(
        app: &str,
        listening: SocketAddr,
        discovery: PeerDiscovery,
        board: Arc<Board>,
        log: &slog::Logger,
    ) -> Result<Peers, String> {
        let advertised = advertised(listening, &discovery.interface)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (app, stop, log) = (app.to_owned(), Arc::clone(&stop), log.clone());
            std::thread::Builder::new()
                .name("monitor-peers".to_owned())
                .spawn(move || follow(&app, &advertised, &discovery, &board, &stop, &log))
                .map_err(|e| format!("cannot start a thread: {e}"))?
        };
        Ok(Peers { stop, thread: Some(thread) })
    }
}

impl Drop for Peers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The endpoint other hosts reach the monitor at: its address, or the interface's where it
/// listens on every address.
fn advertised(listening: SocketAddr, interface: &Interface) -> Result<Endpoint, String> {
    let ip = if listening.ip().is_unspecified() {
        interface.resolve().map_err(|e| format!("cannot tell other hosts where the monitor is: {e}"))?
    } else {
        listening.ip()
    };
    Endpoint::parse(&format!("tcp://{}", SocketAddr::new(ip, listening.port()))).map_err(|e| e.to_string())
}

/// Registers with discovery, then reads the other launchers' views until `stop` is set.
fn follow(app: &str, own: &Endpoint, discovery: &PeerDiscovery, board: &Board, stop: &AtomicBool, log: &slog::Logger) {
    let ctx = zmq::Context::new();
    let mut config = ClientConfig::new(app, &format!("$launcher-{}", std::process::id()));
    config.daemon = discovery.daemon.clone();
    config.security = discovery.security.clone();
    // The daemon may not be up yet (the supervisor starts an embedded one): ask until it is.
    let (mut disco, mut peers) = loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match register(&ctx, config.clone(), own, log) {
            Ok(registered) => break registered,
            Err(e) => {
                debug!(log, "cannot advertise the monitor yet"; "error" => %e);
                std::thread::sleep(RETRY);
            }
        }
    };
    info!(log, "monitor advertised to the app's other hosts"; "endpoint" => %own);
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().timeout_global(Some(FETCH_TIMEOUT)).build());
    // The host each peer's last view came from, to forget it when the peer goes.
    let mut hosts: BTreeMap<Endpoint, String> = BTreeMap::new();
    let mut next_fetch = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        match disco.poll() {
            Ok(updates) => {
                for update in updates {
                    for gone in update.removed {
                        if let Some(host) = hosts.remove(&gone) {
                            board.forget_remote(&host);
                        }
                        peers.retain(|p| *p != gone);
                    }
                    peers.extend(update.added.into_iter().filter(|p| p != own));
                    peers.sort();
                    peers.dedup();
                }
            }
            Err(e) => warn!(log, "discovery failed; the other hosts' monitors are not followed"; "error" => %e),
        }
        if Instant::now() >= next_fetch {
            next_fetch = Instant::now() + FETCH_INTERVAL;
            for peer in &peers {
                match fetch(&agent, peer) {
                    Ok(view) => {
                        hosts.insert(peer.clone(), view.host.clone());
                        board.set_remote(view);
                    }
                    Err(e) => {
                        debug!(log, "cannot read another host's monitor"; "endpoint" => %peer, "error" => e);
                        if let Some(host) = hosts.remove(peer) {
                            board.forget_remote(&host);
                        }
                    }
                }
            }
        }
        let until = disco.next_deadline().min(next_fetch);
        let wait = until.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        let mut items = [disco.socket().as_poll_item(zmq::POLLIN)];
        let _ = zmq::poll(&mut items, i64::try_from(wait.as_millis() + 1).unwrap_or(i64::MAX));
    }
    if let Err(e) = disco.goodbye() {
        debug!(log, "cannot unregister the monitor"; "error" => %e);
    }
}

/// Connects to discovery, provides the monitor at `own` and looks up the others'.
fn register(
    ctx: &zmq::Context,
    config: ClientConfig,
    own: &Endpoint,
    log: &slog::Logger,
) -> Result<(DiscoveryClient, Vec<Endpoint>), cohort_discovery::ClientError> {
    let mut disco = DiscoveryClient::connect(ctx, config, log.clone())?;
    disco.provide(MONITOR_KEY, PortKind::Pub, MONITOR_SERVICE, Scope::Global, own)?;
    let mut peers = disco.lookup(MONITOR_KEY, PortKind::Sub, MONITOR_SERVICE, Scope::Global)?;
    peers.retain(|p| p != own);
    Ok((disco, peers))
}

/// The local view of the launcher whose monitor is at `peer` (`tcp://IP:PORT`).
fn fetch(agent: &ureq::Agent, peer: &Endpoint) -> Result<AppView, String> {
    let addr = peer.as_str().strip_prefix("tcp://").ok_or("not a tcp endpoint")?;
    let mut response = agent.get(&format!("http://{addr}/api/local")).call().map_err(|e| e.to_string())?;
    let body = response.body_mut().read_to_vec().map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("not an app's view: {e}"))
}
