//! `cohort replay`: publishes a recording's messages into a running app, as providers of the same
//! message types (one publisher per recorded channel, registered with discovery as the recorded
//! provider was, global or local), with the recorded timing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cohort_discovery::DiscoveryClient;
use cohort_ports::{Interface, PortKind, PortSpec, PubPort, Scope};
use slog::{info, warn};

use crate::access::{Access, JoinError, Joined};
use crate::bag::{Bag, BagError, BagMessage};
use crate::layout::GROUP_ENCODING;

/// The name under which the replayer registers with discovery.
const REPLAYER: &str = "$replay";

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The app to replay into (the recording's, unless given).
    pub app: Option<String>,
    /// The discovery daemon of this host.
    pub daemon: String,
    /// How to reach the app.
    pub access: Access,
    /// The interface global publishers bind to.
    pub interface: Interface,
    /// How much faster than recorded (2.0: twice as fast).
    pub rate: f64,
    /// Start again at the end, until stopped.
    pub looped: bool,
    /// Replay from this long after the recording's first message.
    pub start: Option<Duration>,
    /// Replay until this long after the recording's first message.
    pub end: Option<Duration>,
    /// Only these message types (all when empty).
    pub messages: Vec<String>,
    /// How long to wait after registering before the first message, so that subscribers have
    /// connected (a publisher sends only to those connected).
    pub settle: Duration,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Messages published.
    pub sent: u64,
    /// Publishers (recorded channels) made.
    pub publishers: usize,
    /// Passes over the recording.
    pub passes: u64,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The recording cannot be read.
    #[error(transparent)]
    Bag(#[from] BagError),
    /// The recording names no app, and none was given.
    #[error("the recording names no app: give --app")]
    NoApp,
    /// Nothing to replay.
    #[error("no message of the recording is selected")]
    Empty,
    /// Joining the app failed.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// Discovery failed.
    #[error("discovery: {0}")]
    Discovery(#[from] cohort_discovery::ClientError),
    /// A publisher could not be made or could not send.
    #[error("ports: {0}")]
    Ports(#[from] cohort_ports::PortError),
}

/// A recorded channel and its publisher.
struct Publisher {
    message: String,
    endpoint: Option<String>,
    scope: Scope,
    port: PubPort,
}

/// Replays `bag` until its end (or, looped, until `stop` is set).
pub fn replay(
    bag: &Bag,
    options: &ReplayOptions,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<ReplaySummary, ReplayError> {
    let app = match &options.app {
        Some(app) => app.clone(),
        None => bag.app()?.ok_or(ReplayError::NoApp)?,
    };
    // Group members' frames are not replayed: they would take part in the group's protocol.
    let selected = |m: &BagMessage| {
        m.encoding != GROUP_ENCODING && (options.messages.is_empty() || options.messages.contains(&m.message))
    };
    let messages: Vec<BagMessage> = bag.messages()?.into_iter().filter(selected).collect();
    let first = messages.first().map(|m| m.log_time).ok_or(ReplayError::Empty)?;
    let nanos = |d: Option<Duration>| d.map(|d| first.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)));
    let (from, to) = (nanos(options.start).unwrap_or(first), nanos(options.end).unwrap_or(u64::MAX));
    let messages: Vec<BagMessage> = messages.into_iter().filter(|m| m.log_time >= from && m.log_time <= to).collect();
    if messages.is_empty() {
        return Err(ReplayError::Empty);
    }

    let Joined { factory, mut disco, .. } =
        options.access.join(&app, REPLAYER, &options.daemon, &options.interface, log)?;

    // One publisher per recorded channel, in the order of their first message.
    let mut publishers: Vec<Publisher> = Vec::new();
    let mut route = Vec::with_capacity(messages.len());
    for m in &messages {
        let scope = m.scope.unwrap_or(Scope::Global);
        let index = match publishers
            .iter()
            .position(|p| p.message == m.message && p.endpoint == m.endpoint && p.scope == scope)
        {
            Some(i) => i,
            None => {
                let spec = PortSpec::new(REPLAYER, &m.message, PortKind::Pub, scope, &m.message);
                let port = factory.publisher(&spec)?;
                let key = format!("{REPLAYER}.{}", publishers.len());
                disco.provide(&key, PortKind::Pub, &m.message, scope, port.endpoint())?;
                info!(log, "replaying a provider"; "message" => &m.message, "recorded" => m.endpoint.as_deref(),
                    "endpoint" => port.endpoint().as_str());
                publishers.push(Publisher { message: m.message.clone(), endpoint: m.endpoint.clone(), scope, port });
                publishers.len() - 1
            }
        };
        route.push(index);
    }
    let mut summary = ReplaySummary { publishers: publishers.len(), ..ReplaySummary::default() };
    let settled = Instant::now() + options.settle;
    if !wait_until(&mut disco, settled, stop)? {
        return finish(disco, summary, log);
    }
    let rate = if options.rate > 0.0 { options.rate } else { 1.0 };
    'passes: loop {
        let start = Instant::now();
        summary.passes += 1;
        for (m, index) in messages.iter().zip(&route) {
            let offset = Duration::from_nanos(m.log_time - from).div_f64(rate);
            if !wait_until(&mut disco, start + offset, stop)? {
                break 'passes;
            }
            if let Some(p) = publishers.get_mut(*index) {
                p.port.send_encoded(&m.data)?;
                summary.sent += 1;
            }
        }
        if !options.looped || stop.load(Ordering::Relaxed) {
            break;
        }
    }
    finish(disco, summary, log)
}

/// Serves discovery until `at`; false if `stop` was set meanwhile.
fn wait_until(disco: &mut DiscoveryClient, at: Instant, stop: &AtomicBool) -> Result<bool, ReplayError> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let now = Instant::now();
        if now >= at {
            return Ok(true);
        }
        disco.poll()?;
        let wait = at.min(disco.next_deadline()).saturating_duration_since(now).min(Duration::from_millis(100));
        let mut items = [disco.socket().as_poll_item(zmq::POLLIN)];
        if !wait.is_zero() {
            let micros = wait.as_micros();
            if micros >= 1000 {
                let _ = zmq::poll(&mut items, i64::try_from(micros / 1000).unwrap_or(i64::MAX));
            } else {
                std::thread::sleep(wait);
            }
        }
    }
}

/// Unregisters from discovery and returns `summary`.
fn finish(disco: DiscoveryClient, summary: ReplaySummary, log: &slog::Logger) -> Result<ReplaySummary, ReplayError> {
    // Publishers' last messages leave before the goodbye takes their providers away.
    std::thread::sleep(Duration::from_millis(100));
    if let Err(e) = disco.goodbye() {
        warn!(log, "cannot unregister from discovery"; "error" => %e);
    }
    Ok(summary)
}
