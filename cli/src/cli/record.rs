//! `cohort record`, `cohort replay` and `cohort bag`: recordings of a running app's messages
//! (MCAP), made, replayed and read with [`cohort_recorder`].

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use cohort_model::ast::PortKind as ModelPortKind;
use cohort_ports::Interface;
use cohort_recorder::{Access, Bag, RecordOptions, ReplayOptions};

use super::load::{accept, find_app, load};
use super::Failure;

pub(crate) const RECORD_LONG_ABOUT: &str = "\
Record a running app's messages into an MCAP file.

`record` reads the app's model (MODEL, a .riaps file) for its message types, and joins the app
through this host's discovery daemon as a subscriber of each type published on a pub port
(--messages picks some), global and local: one subscriber per provider, so each provider's
messages form a channel of the file, and providers that come and go later are followed. With
the daemon on a Redis registry, the global providers of every host are recorded. --groups also
records every member of the app's group instances (found by asking the daemon every 2 s): their
frames, as the group sends them.

Each message keeps its CBOR payload as sent, the provider's sequence number, when it was sent
(where the port is `timed`) and when it was received. The file carries the model, and what was
lost: the messages each provider's sequence numbers show missing, and frames refused. See
docs/recording.md for the layout; the files open in Foxglove Studio and any MCAP reader.

With --ring SECONDS, `record` keeps only the last SECONDS in memory and writes them on SIGUSR1
(to FILE, then FILE-2, FILE-3, ...) and when it stops: a black box.

Security: with the app's key file (--keys, else <key directory>/<APP>.key), as the app's own
actors; --insecure for an app run with --insecure.";

pub(crate) const RECORD_AFTER_HELP: &str = "\
Examples:
  cohort record apps/estimator/estimator.riaps -o run.mcap --duration 10
  cohort record app.riaps --messages Estimate,SensorValue -o some.mcap
  cohort record apps/microgrid/microgrid.riaps --groups -o grid.mcap
  cohort record app.riaps --ring 30 -o box.mcap      Then `kill -USR1 PID` writes the last 30 s
  cohort record app.riaps --insecure                 An app run with --insecure

Stops on Ctrl-C, SIGTERM or after --duration, and writes the file. Exit status: 0 when written,
2 when the model, the keys, discovery or the file fail.";

pub(crate) const REPLAY_LONG_ABOUT: &str = "\
Publish a recording's messages into a running app, with the recorded timing.

`replay` registers with this host's discovery daemon a publisher for each channel of the
recording (each recorded provider), of the same message type and scope, so the app's subscribers
connect to it as to any provider; after --settle it sends each message's payload as recorded, at
the recorded intervals (divided by --rate). Subscribers cannot tell a replayed message from a
live one, but for the provider it comes from (and its send time, which is now).

The app is the recording's, unless --app names another; its keys are read as `record` reads them.";

pub(crate) const REPLAY_AFTER_HELP: &str = "\
Examples:
  cohort replay run.mcap                          Into the running app the recording names
  cohort replay run.mcap --rate 2 --loop          Twice as fast, over and over (Ctrl-C stops)
  cohort replay run.mcap --start 5 --end 15 --messages Estimate

Exit status: 0 when done, 2 when the recording, the keys or discovery fail.";

pub(crate) const BAG_LONG_ABOUT: &str = "\
Read a recording: `info` prints its app, channels (message type, provider, scope, count, losses),
messages and time span; `cat` prints its messages, one JSON object per line, with the payload
decoded from CBOR.";

/// How `record` and `replay` reach the app.
#[derive(Debug, Args)]
pub(crate) struct Reach {
    /// This host's discovery daemon.
    #[arg(long, value_name = "ENDPOINT", default_value = cohort_discovery::protocol::DEFAULT_DAEMON_ENDPOINT)]
    daemon: String,
    /// The app's key file [default: <key directory>/<APP>.key].
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// The key directory [default: $XDG_CONFIG_HOME/cohort/keys, else ~/.config/cohort/keys].
    #[arg(long, value_name = "DIR")]
    keys_dir: Option<PathBuf>,
    /// Reach an app run with --insecure (no CURVE).
    #[arg(long, conflicts_with_all = ["keys", "keys_dir"])]
    insecure: bool,
}

impl Reach {
    fn access(&self, app: &str) -> anyhow::Result<Access> {
        if self.insecure {
            return Ok(Access::insecure());
        }
        Access::of_app(app, self.keys.as_deref(), self.keys_dir.as_deref())
            .with_context(|| format!("cannot read the keys of app {app} (--insecure for an app run with --insecure)"))
    }
}

/// Arguments of `cohort record`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// The app's model (.riaps).
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// The app, when the model declares several.
    #[arg(long, value_name = "NAME")]
    app: Option<String>,
    /// Only these message types, comma-separated [default: every type a pub port publishes].
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    messages: Vec<String>,
    /// The file to write.
    #[arg(short, long, value_name = "FILE", default_value = "recording.mcap")]
    output: PathBuf,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Keep only the last SECONDS in memory; write them on SIGUSR1 and at the end.
    #[arg(long, value_name = "SECONDS")]
    ring: Option<f64>,
    /// Record the app's group instances too (every member's frames; they are not replayed).
    #[arg(long)]
    groups: bool,
    #[command(flatten)]
    reach: Reach,
}

/// Arguments of `cohort replay`.
#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// The recording.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The app to replay into [default: the recording's].
    #[arg(long, value_name = "NAME")]
    app: Option<String>,
    /// How much faster than recorded.
    #[arg(long, value_name = "X", default_value_t = 1.0)]
    rate: f64,
    /// Start again at the end, until interrupted.
    #[arg(long = "loop")]
    looped: bool,
    /// Replay from this many seconds after the recording's first message.
    #[arg(long, value_name = "SECONDS")]
    start: Option<f64>,
    /// Replay until this many seconds after the recording's first message.
    #[arg(long, value_name = "SECONDS")]
    end: Option<f64>,
    /// Only these message types, comma-separated.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    messages: Vec<String>,
    /// Seconds to wait after registering, for subscribers to connect, before the first message.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    settle: f64,
    /// The network interface global publishers bind to [default: the first non-loopback IPv4].
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    #[command(flatten)]
    reach: Reach,
}

/// Arguments of `cohort bag`.
#[derive(Debug, Args)]
pub(crate) struct BagArgs {
    #[command(subcommand)]
    action: BagAction,
}

/// What `cohort bag` does.
#[derive(Debug, Subcommand)]
pub(crate) enum BagAction {
    /// Channels, counts, time span and losses.
    Info {
        /// The recording.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Messages as JSON lines, payloads decoded.
    Cat {
        /// The recording.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Only these message types, comma-separated.
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        messages: Vec<String>,
    },
}

/// A number of seconds as a duration, or an error naming `flag`.
fn seconds(flag: &str, value: Option<f64>) -> anyhow::Result<Option<Duration>> {
    value
        .map(|s| Duration::try_from_secs_f64(s).with_context(|| format!("{flag} {s}: not a number of seconds")))
        .transpose()
}

/// Ctrl-C and SIGTERM set the flag it returns.
fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)).context("cannot install the signal handler")?;
    Ok(stop)
}

/// Set by SIGUSR1.
static DUMP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_usr1(_: libc::c_int) {
    DUMP.store(true, Ordering::Relaxed);
}

/// A logger of the tool's own messages, on standard error.
fn logger() -> slog::Logger {
    cohort_runtime::logging::logger(cohort_runtime::logging::Level::Info, false)
}

/// `cohort record`.
pub(crate) fn record(args: &RecordArgs) -> Result<(), Failure> {
    let loaded = load(&args.model)?;
    let model = accept(cohort_model::compile_app_model(&loaded.source.text), &loaded.source)?;
    let app = match (&args.app, model.apps.as_slice()) {
        (Some(name), _) => find_app(&model, name, &loaded.source)?,
        (None, [app]) => app,
        (None, _) => return Err(anyhow::anyhow!("{} declares several apps: give --app", args.model.display()).into()),
    };
    let mut published: Vec<String> = Vec::new();
    for component in &app.components {
        for port in component.ports.iter().filter(|p| p.kind == ModelPortKind::Pub) {
            for name in port.message_names() {
                if !published.contains(&name.name) {
                    published.push(name.name.clone());
                }
            }
        }
    }
    let messages = if args.messages.is_empty() {
        published
    } else {
        for m in &args.messages {
            if !published.contains(m) {
                return Err(anyhow::anyhow!(
                    "--messages {m}: no pub port of app {} publishes it; they publish {}",
                    app.name.name,
                    published.join(", ")
                )
                .into());
            }
        }
        args.messages.clone()
    };
    if messages.is_empty() && !args.groups {
        return Err(anyhow::anyhow!("app {} has no pub port: nothing to record (--groups?)", app.name.name).into());
    }
    let options = RecordOptions {
        app: app.name.name.clone(),
        messages,
        model: Some(loaded.source.text.clone()),
        daemon: args.reach.daemon.clone(),
        access: args.reach.access(&app.name.name)?,
        output: args.output.clone(),
        duration: seconds("--duration", args.duration)?,
        ring: seconds("--ring", args.ring)?,
        groups: args.groups,
    };
    let stop = stop_flag()?;
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe { libc::signal(libc::SIGUSR1, on_usr1 as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t) };
    let log = logger();
    let summary = cohort_recorder::record(&options, &stop, &DUMP, &log)
        .with_context(|| format!("recording app {} failed", options.app))?;
    let files: Vec<String> = summary.files.iter().map(|f| f.display().to_string()).collect();
    eprintln!(
        "recorded {} messages of {} providers ({} written to {}; {} lost, {} refused)",
        summary.received,
        summary.channels,
        summary.written,
        files.join(", "),
        summary.lost,
        summary.refused
    );
    Ok(())
}

/// `cohort replay`.
pub(crate) fn replay(args: &ReplayArgs) -> Result<(), Failure> {
    let bag = Bag::open(&args.file).map_err(anyhow::Error::from)?;
    let app = match &args.app {
        Some(app) => Some(app.clone()),
        None => bag.app().map_err(anyhow::Error::from)?,
    };
    let app = app.with_context(|| format!("{}: the recording names no app: give --app", args.file.display()))?;
    let options = ReplayOptions {
        app: Some(app.clone()),
        daemon: args.reach.daemon.clone(),
        access: args.reach.access(&app)?,
        interface: args.interface.clone().map_or(Interface::Auto, Interface::Named),
        rate: args.rate,
        looped: args.looped,
        start: seconds("--start", args.start)?,
        end: seconds("--end", args.end)?,
        messages: args.messages.clone(),
        settle: seconds("--settle", Some(args.settle))?.unwrap_or_default(),
    };
    let stop = stop_flag()?;
    let summary = cohort_recorder::replay(&bag, &options, &stop, &logger())
        .with_context(|| format!("replaying {} failed", args.file.display()))?;
    eprintln!(
        "replayed {} messages through {} publishers ({} passes)",
        summary.sent, summary.publishers, summary.passes
    );
    Ok(())
}

/// `cohort bag`.
pub(crate) fn bag(args: &BagArgs) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written = match &args.action {
        BagAction::Info { file } => {
            let info = Bag::open(file).and_then(|b| b.info()).map_err(anyhow::Error::from)?;
            let mut text = String::new();
            text.push_str(&format!("app:      {}\n", info.app.as_deref().unwrap_or("(not named)")));
            text.push_str(&format!("messages: {}\n", info.messages));
            if let Some((a, b)) = info.span {
                text.push_str(&format!("span:     {:.3} s\n", (b - a) as f64 / 1e9));
            }
            text.push_str(&format!("model:    {}\n", if info.model.is_some() { "attached" } else { "not attached" }));
            text.push_str("channels:\n");
            for c in &info.channels {
                let (endpoint, scope) = match &c.key {
                    Some(k) => (k.endpoint.clone(), format!("{:?}", k.scope).to_lowercase()),
                    None => ("?".to_owned(), "?".to_owned()),
                };
                text.push_str(&format!(
                    "  {:<20} {:>7} msgs  lost {:<5} refused {:<5} {scope:<6} {endpoint} ({})\n",
                    c.topic, c.count, c.losses.lost, c.losses.refused, c.encoding
                ));
            }
            out.write_all(text.as_bytes())
        }
        BagAction::Cat { file, messages } => {
            let bag = Bag::open(file).map_err(anyhow::Error::from)?;
            let mut result = Ok(());
            for m in bag.messages().map_err(anyhow::Error::from)? {
                if !messages.is_empty() && !messages.contains(&m.message) {
                    continue;
                }
                let value = serde_json::json!({
                    "message": m.message,
                    "endpoint": m.endpoint,
                    "seq": m.seq,
                    "log_time": m.log_time,
                    "publish_time": m.publish_time,
                    "payload": m.payload_json(),
                });
                result = writeln!(out, "{value}");
                if result.is_err() {
                    break;
                }
            }
            result
        }
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::from(e).into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_must_be_seconds() {
        assert_eq!(seconds("--duration", Some(1.5)).unwrap_or_default(), Some(Duration::from_millis(1500)));
        assert!(seconds("--duration", Some(-1.0)).is_err());
        assert!(seconds("--duration", None).is_ok_and(|d| d.is_none()));
    }
}
