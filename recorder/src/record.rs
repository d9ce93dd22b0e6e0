//! `cohort record`: joins a running app through discovery as a subscriber of its message types,
//! one subscriber per provider (so each provider's messages form a channel of their own, and its
//! sequence numbers show what was lost), and writes what arrives into an MCAP file, or keeps the
//! last seconds of it in a [`Ring`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cohort_discovery::DiscoveryClient;
use cohort_ports::{Endpoint, Interface, PortFactory, PortKind, PortSpec, Scope, SubPort};
use slog::{info, warn};

use crate::access::{Access, JoinError, Joined};
use crate::layout::{ChannelKey, Losses, GROUP_SCHEMA};
use crate::ring::Ring;
use crate::sink::{Heading, Recorded, Sink};

/// The name under which the recorder registers with discovery.
const RECORDER: &str = "$recorder";

/// What to record, and where.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The app.
    pub app: String,
    /// The message types to record.
    pub messages: Vec<String>,
    /// The model's text, written into the file.
    pub model: Option<String>,
    /// The discovery daemon of this host.
    pub daemon: String,
    /// How to reach the app.
    pub access: Access,
    /// The file to write (with a ring: the first dump's; later ones get `-2`, `-3`, … before the
    /// extension).
    pub output: PathBuf,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Keep only the last this long, written when `dump` is set and at the end.
    pub ring: Option<Duration>,
    /// Record the app's group instances too: every member's frames.
    pub groups: bool,
}

/// Messages read from one provider in one turn at most.
const BATCH: usize = 1024;

/// How often the daemon is asked for the app's group instances (members join groups at any
/// time, under names the model does not give).
const GROUP_SCAN: Duration = Duration::from_secs(2);

/// What a lookup of the recorder's follows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Followed {
    /// The providers of a message type in a scope.
    Message(String, Scope),
    /// The members of a group instance, by its discovery key (`M@Type.instance`).
    Group(String),
}

impl Followed {
    /// The channel of provider `endpoint`.
    fn channel(&self, endpoint: &Endpoint) -> ChannelKey {
        match self {
            Followed::Message(message, scope) => ChannelKey::new(message, endpoint, *scope),
            Followed::Group(group) => ChannelKey::of_group(group, endpoint),
        }
    }
}

/// What a recording did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// Messages received.
    pub received: u64,
    /// Messages written (all of them, or a ring's last ones).
    pub written: u64,
    /// Channels (providers) seen.
    pub channels: usize,
    /// Messages the providers' sequence numbers show lost.
    pub lost: u64,
    /// Frames refused.
    pub refused: u64,
}

/// Why a recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Joining the app failed.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// Discovery failed.
    #[error("discovery: {0}")]
    Discovery(#[from] cohort_discovery::ClientError),
    /// A subscriber could not be made.
    #[error("ports: {0}")]
    Ports(#[from] cohort_ports::PortError),
    /// The file could not be written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: mcap::McapError,
    },
    /// Polling failed.
    #[error("poll: {0}")]
    Poll(zmq::Error),
}

/// A provider the recorder subscribes to.
struct Provider {
    channel: usize,
    sub: SubPort,
    last_seq: Option<u64>,
}

/// Where received messages go.
enum Target {
    File(Box<Sink>, PathBuf),
    Ring(Ring),
}

/// The nanoseconds since the Unix epoch of `time`.
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The path of the `n`th dump of a ring into `output` (the first is `output` itself).
fn dump_path(output: &Path, n: usize) -> PathBuf {
    if n <= 1 {
        return output.to_owned();
    }
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match output.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    output.with_file_name(name)
}

/// Records the app until `stop` is set or the duration passes. With a ring, writes the ring
/// whenever `dump` is set (and clears it), and at the end.
pub fn record(
    options: &RecordOptions,
    stop: &AtomicBool,
    dump: &AtomicBool,
    log: &slog::Logger,
) -> Result<RecordSummary, RecordError> {
    let Joined { ctx, factory, mut disco } =
        options.access.join(&options.app, RECORDER, &options.daemon, &Interface::Auto, log)?;
    let started = nanos(SystemTime::now());
    let heading = Heading { app: &options.app, started, model: options.model.as_deref() };
    let mut target = match options.ring {
        Some(span) => Target::Ring(Ring::new(span)),
        None => Target::File(
            Box::new(
                Sink::create(&options.output, &heading)
                    .map_err(|source| RecordError::File { path: options.output.clone(), source })?,
            ),
            options.output.clone(),
        ),
    };

    let mut tracks = Tracks::default();
    for message in &options.messages {
        for scope in [Scope::Global, Scope::Local] {
            let key = format!("$record.{message}.{}", if scope == Scope::Global { "global" } else { "local" });
            tracks.follow(&mut disco, &factory, Followed::Message(message.clone(), scope), key, log)?;
        }
    }
    let mut next_scan = Instant::now();
    let until = options.duration.map(|d| Instant::now() + d);
    let mut summary = RecordSummary::default();
    let mut dumps = 0;
    while !stop.load(Ordering::Relaxed) && until.is_none_or(|u| Instant::now() < u) {
        if options.groups && Instant::now() >= next_scan {
            next_scan = Instant::now() + GROUP_SCAN;
            for group in group_services(&ctx, options, log) {
                let key = format!("$record.group.{group}");
                if !tracks.lookups.contains_key(&key) {
                    info!(log, "recording a group instance"; "group" => &group);
                    tracks.follow(&mut disco, &factory, Followed::Group(group), key, log)?;
                }
            }
        }
        for update in disco.poll()? {
            let Some(followed) = tracks.lookups.get(&update.port).cloned() else { continue };
            for endpoint in &update.removed {
                if let Some(gone) = tracks.providers.remove(endpoint.as_str()) {
                    info!(log, "a provider is gone"; "channel" => &followed.channel(endpoint).message, "endpoint" => endpoint.as_str());
                    let refused = gone.sub.stats().snapshot().dropped();
                    if let Some(l) = tracks.losses.get_mut(gone.channel) {
                        l.refused += refused;
                    }
                }
            }
            for endpoint in &update.added {
                if !tracks.providers.contains_key(endpoint.as_str()) {
                    tracks.add(&factory, followed.channel(endpoint), log)?;
                }
            }
        }
        let Tracks { channels, losses, providers, .. } = &mut tracks;
        for provider in providers.values_mut() {
            // A bounded batch per provider and turn: a flood from one neither starves the others
            // nor keeps discovery's heartbeats waiting (its socket stays readable for the next turn).
            for _ in 0..BATCH {
                let Some(received) = provider.sub.recv_bytes()? else { break };
                let recv_time = nanos(received.recv_time.unwrap_or_else(SystemTime::now));
                let message = Recorded {
                    seq: received.seq,
                    log_time: recv_time,
                    publish_time: received.send_time.map_or(recv_time, nanos),
                    data: received.value.to_vec(),
                };
                // Sequence numbers start at 1; a group's data frames (bare) carry none and read
                // as 0, so their losses cannot show.
                if message.seq != 0 {
                    if let (Some(last), Some(l)) = (provider.last_seq, losses.get_mut(provider.channel)) {
                        l.lost += message.seq.saturating_sub(last + 1);
                    }
                    provider.last_seq = Some(message.seq);
                }
                summary.received += 1;
                match &mut target {
                    Target::File(sink, path) => {
                        let channel = &channels[provider.channel];
                        sink.write(channel, &message)
                            .map_err(|source| RecordError::File { path: path.clone(), source })?;
                    }
                    Target::Ring(ring) => ring.push(provider.channel, message),
                }
            }
        }
        if let Target::Ring(ring) = &target {
            if dump.swap(false, Ordering::Relaxed) {
                dumps += 1;
                let path = dump_path(&options.output, dumps);
                let written = write_ring(ring, &tracks, &heading, &path)?;
                info!(log, "wrote the ring"; "file" => path.display().to_string(), "messages" => written);
                summary.files.push(path);
            }
        }
        let mut items = vec![disco.socket().as_poll_item(zmq::POLLIN)];
        items.extend(tracks.providers.values().map(|p| p.sub.socket().as_poll_item(zmq::POLLIN)));
        let wait = disco.next_deadline().saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        match zmq::poll(&mut items, i64::try_from(wait.as_millis() + 1).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(RecordError::Poll(e)),
        }
    }

    summary.channels = tracks.channels.len();
    match target {
        Target::File(sink, path) => {
            summary.written = sink.written();
            let all = tracks.current_losses();
            (*sink)
                .finish(tracks.channels.iter().zip(all))
                .map_err(|source| RecordError::File { path: path.clone(), source })?;
            summary.files.push(path);
        }
        Target::Ring(ring) => {
            dumps += 1;
            let path = dump_path(&options.output, dumps);
            summary.written = write_ring(&ring, &tracks, &heading, &path)?;
            summary.files.push(path);
        }
    }
    let all = tracks.current_losses();
    summary.lost = all.iter().map(|l| l.lost).sum();
    summary.refused = all.iter().map(|l| l.refused).sum();
    if summary.lost > 0 || summary.refused > 0 {
        warn!(log, "messages were lost"; "lost" => summary.lost, "refused" => summary.refused);
    }
    if let Err(e) = disco.goodbye() {
        warn!(log, "cannot unregister from discovery"; "error" => %e);
    }
    Ok(summary)
}

/// The discovery keys (`M@Type.instance`) of the group instances of the app that the daemon
/// knows: its actors' and other hosts'. A daemon that does not answer gives none (the next scan
/// asks again).
fn group_services(ctx: &zmq::Context, options: &RecordOptions, log: &slog::Logger) -> Vec<String> {
    let listing =
        match cohort_discovery::list_with(ctx, &options.daemon, Duration::from_secs(1), &options.access.discovery) {
            Ok(listing) => listing,
            Err(e) => {
                warn!(log, "cannot list the app's groups"; "error" => %e);
                return Vec::new();
            }
        };
    let local = listing.actors.iter().flat_map(|a| a.provides.iter().map(|(_, service, _)| service));
    let remote = listing.remote.iter().map(|(service, _)| service);
    let mut groups: Vec<String> = local
        .chain(remote)
        .filter(|s| s.app == options.app && s.kind == PortKind::GroupPub.name())
        .map(|s| s.messages.clone())
        .collect();
    groups.sort();
    groups.dedup();
    groups
}

/// What the recorder follows: its lookups, the channels it has seen, their losses, and the
/// providers it subscribes to now.
#[derive(Default)]
struct Tracks {
    /// By lookup key.
    lookups: BTreeMap<String, Followed>,
    channels: Vec<ChannelKey>,
    /// By channel number.
    losses: Vec<Losses>,
    /// By endpoint.
    providers: BTreeMap<String, Provider>,
}

impl Tracks {
    /// Looks up what `followed` names under `key`, and subscribes to each provider found.
    fn follow(
        &mut self,
        disco: &mut DiscoveryClient,
        factory: &PortFactory,
        followed: Followed,
        key: String,
        log: &slog::Logger,
    ) -> Result<(), RecordError> {
        let endpoints = match &followed {
            Followed::Message(message, scope) => disco.lookup(&key, PortKind::Sub, message, *scope)?,
            Followed::Group(group) => disco.lookup(&key, PortKind::GroupSub, group, Scope::Global)?,
        };
        for endpoint in endpoints {
            self.add(factory, followed.channel(&endpoint), log)?;
        }
        self.lookups.insert(key, followed);
        Ok(())
    }

    /// Subscribes to the provider of channel `key`.
    fn add(&mut self, factory: &PortFactory, key: ChannelKey, log: &slog::Logger) -> Result<(), RecordError> {
        let spec = match &key.group {
            None => PortSpec::new(RECORDER, &key.message, PortKind::Sub, key.scope, &key.message),
            Some(_) => PortSpec::new(RECORDER, &key.message, PortKind::GroupSub, Scope::Global, GROUP_SCHEMA),
        };
        let mut sub = factory.subscriber(&spec.timed(true))?;
        let endpoint = Endpoint::parse(&key.endpoint)?;
        sub.add_endpoint(&endpoint)?;
        info!(log, "recording a provider"; "channel" => &key.message, "endpoint" => &key.endpoint);
        let channel = match self.channels.iter().position(|c| *c == key) {
            Some(i) => i,
            None => {
                self.channels.push(key);
                self.losses.push(Losses::default());
                self.channels.len() - 1
            }
        };
        self.providers.insert(endpoint.as_str().to_owned(), Provider { channel, sub, last_seq: None });
        Ok(())
    }

    /// The losses of each channel, with the frames the current subscribers refused so far.
    fn current_losses(&self) -> Vec<Losses> {
        let mut all = self.losses.clone();
        for p in self.providers.values() {
            if let Some(l) = all.get_mut(p.channel) {
                l.refused += p.sub.stats().snapshot().dropped();
            }
        }
        all
    }
}

/// Writes `ring` into a new file at `path`; how many messages.
fn write_ring(ring: &Ring, tracks: &Tracks, heading: &Heading<'_>, path: &Path) -> Result<u64, RecordError> {
    let failed = |source| RecordError::File { path: path.to_owned(), source };
    let mut sink = Sink::create(path, heading).map_err(failed)?;
    for (channel, message) in ring.messages(&tracks.channels) {
        sink.write(channel, message).map_err(failed)?;
    }
    let written = sink.written();
    sink.finish(tracks.channels.iter().zip(tracks.current_losses())).map_err(failed)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_dumps_are_numbered() {
        assert_eq!(dump_path(Path::new("/tmp/a.mcap"), 1), Path::new("/tmp/a.mcap"));
        assert_eq!(dump_path(Path::new("/tmp/a.mcap"), 3), Path::new("/tmp/a-3.mcap"));
        assert_eq!(dump_path(Path::new("box"), 2), Path::new("box-2"));
    }
}
