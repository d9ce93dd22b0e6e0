//! The logger of long-running commands (the discovery daemon, the launcher, actors): human-readable lines on standard error, or JSON lines.

use std::sync::Arc;

use cohort_monitor::{WarningRing, WarningTap};
use slog::Drain;

/// How much to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// What the service does (the default).
    Info,
    /// Every request and update.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    fn slog(self) -> slog::Level {
        match self {
            Level::Error => slog::Level::Error,
            Level::Warn => slog::Level::Warning,
            Level::Info => slog::Level::Info,
            Level::Debug => slog::Level::Debug,
            Level::Trace => slog::Level::Trace,
        }
    }
}

/// A logger at `level`, writing terminal lines to standard error, or JSON objects (one per line)
/// when `json` is set. Records are written by a background thread; a burst beyond 4096 pending
/// records waits rather than dropping.
pub fn logger(level: Level, json: bool) -> slog::Logger {
    slog::Logger::root(drain(level, json), slog::o!())
}

/// Like [`logger`], and keeps a copy of every warning and error in `warnings` (for the
/// monitor), said to come from `source` unless the record names its actor or component.
pub fn logger_keeping_warnings(level: Level, json: bool, warnings: Arc<WarningRing>, source: &str) -> slog::Logger {
    slog::Logger::root(WarningTap::new(drain(level, json), warnings, source).fuse(), slog::o!())
}

/// The drain of [`logger`].
fn drain(level: Level, json: bool) -> slog::Fuse<slog_async::Async> {
    // Each record is assembled in a buffer and written with one flush, so lines of several
    // processes sharing a terminal (the launcher and its actors) never interleave mid-line.
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let drain: Box<dyn Drain<Ok = (), Err = slog::Never> + Send> = if json {
        Box::new(slog_json::Json::new(out).add_default_keys().set_newlines(true).set_flush(true).build().fuse())
    } else {
        let decorator = slog_term::PlainDecorator::new(out);
        Box::new(slog_term::FullFormat::new(decorator).build().fuse())
    };
    let drain = slog::LevelFilter::new(drain, level.slog()).fuse();
    slog_async::Async::new(drain).chan_size(4096).overflow_strategy(slog_async::OverflowStrategy::Block).build().fuse()
}
