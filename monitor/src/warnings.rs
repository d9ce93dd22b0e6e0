//! The latest warnings of a process: a [`WarningTap`] in front of its log drain copies every
//! warning, error and critical record into a bounded [`WarningRing`], which its reports carry.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use slog::{Drain, Key, OwnedKVList, Record, KV};

use crate::report::{Warning, WarningLevel};
use crate::unix_ms_now;

/// Warnings a process keeps: the latest ones.
pub const WARNINGS_PER_PROCESS: usize = 20;

/// The latest warnings of a process, oldest first.
#[derive(Debug, Default)]
pub struct WarningRing {
    kept: Mutex<VecDeque<Warning>>,
}

impl WarningRing {
    /// An empty ring.
    pub fn new() -> Arc<WarningRing> {
        Arc::new(WarningRing::default())
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Warning>> {
        // A push or a copy cannot leave the queue half changed.
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `warning`, forgetting the oldest beyond [`WARNINGS_PER_PROCESS`].
    pub fn push(&self, warning: Warning) {
        let mut kept = self.lock();
        if kept.len() == WARNINGS_PER_PROCESS {
            kept.pop_front();
        }
        kept.push_back(warning);
    }

    /// A copy of the warnings kept, oldest first.
    pub fn latest(&self) -> Vec<Warning> {
        self.lock().iter().cloned().collect()
    }
}

/// A log drain that passes every record on to `inner` and copies warnings and worse into a
/// [`WarningRing`]. Only those records cost anything more.
#[derive(Debug)]
pub struct WarningTap<D> {
    inner: D,
    ring: Arc<WarningRing>,
    /// Who logs when no `component` or `actor` key says: `launcher`, `disco`.
    default_source: String,
}

impl<D> WarningTap<D> {
    /// Taps `inner` into `ring`; records without a `component` or `actor` key are said to come
    /// from `default_source`.
    pub fn new(inner: D, ring: Arc<WarningRing>, default_source: &str) -> WarningTap<D> {
        WarningTap { inner, ring, default_source: default_source.to_owned() }
    }
}

impl<D: Drain> Drain for WarningTap<D> {
    type Ok = D::Ok;
    type Err = D::Err;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<Self::Ok, Self::Err> {
        let level = match record.level() {
            slog::Level::Critical => Some(WarningLevel::Critical),
            slog::Level::Error => Some(WarningLevel::Error),
            slog::Level::Warning => Some(WarningLevel::Warning),
            _ => None,
        };
        if let Some(level) = level {
            let mut pairs = Pairs::default();
            // Writing into a String cannot fail; a value that cannot serialize is left out.
            let _ = record.kv().serialize(record, &mut pairs);
            let _ = values.serialize(record, &mut pairs);
            let source = pairs.component.or(pairs.actor).unwrap_or_else(|| self.default_source.clone());
            let mut text = record.msg().to_string();
            if !pairs.text.is_empty() {
                text.push_str(&pairs.text);
            }
            self.ring.push(Warning { at_ms: unix_ms_now(), level, source, text });
        }
        self.inner.log(record, values)
    }
}

/// The key-value pairs of a record as `key=value` text, and who logged it.
#[derive(Default)]
struct Pairs {
    text: String,
    component: Option<String>,
    actor: Option<String>,
}

impl slog::Serializer for Pairs {
    fn emit_arguments(&mut self, key: Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        let value = value.to_string();
        match key {
            // Who logged it is the source, not part of the text.
            "component" => self.component = Some(value),
            "actor" => self.actor = Some(value),
            // The app is the same for every record of the process.
            "app" => {}
            _ => {
                let _ = write!(self.text, " {key}={value}");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slog::{info, o, warn};

    #[test]
    fn warnings_are_kept_with_their_source_and_pairs() {
        let ring = WarningRing::new();
        let drain = WarningTap::new(slog::Discard, Arc::clone(&ring), "launcher");
        let log = slog::Logger::root(drain.fuse(), o!("app" => "A"));
        info!(log, "not kept");
        warn!(log, "kept"; "why" => 3);
        let component = log.new(o!("actor" => "X", "component" => "X.c"));
        slog::error!(component, "broken"; "port" => "p");
        let latest = ring.latest();
        assert_eq!(latest.len(), 2);
        assert_eq!((latest[0].source.as_str(), latest[0].text.as_str()), ("launcher", "kept why=3"));
        assert_eq!(
            (latest[1].source.as_str(), latest[1].text.as_str(), latest[1].level),
            ("X.c", "broken port=p", WarningLevel::Error)
        );
    }

    #[test]
    fn only_the_latest_are_kept() {
        let ring = WarningRing::new();
        for i in 0..(WARNINGS_PER_PROCESS + 5) {
            ring.push(Warning {
                at_ms: i as u64,
                level: WarningLevel::Warning,
                source: "s".into(),
                text: i.to_string(),
            });
        }
        let latest = ring.latest();
        assert_eq!(latest.len(), WARNINGS_PER_PROCESS);
        assert_eq!(latest[0].text, "5");
    }
}
