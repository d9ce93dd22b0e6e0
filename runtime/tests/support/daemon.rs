//! A discovery daemon for the runtime's multi-actor tests, which include this file with
//! `#[path]`: the memory backend, a free port of 127.0.0.1, its own thread.

use cohort_discovery::{Daemon, DaemonThread, MemoryBackend, RegistryConfig};

/// A daemon on its own thread, stopped when dropped.
pub(crate) fn start_daemon() -> DaemonThread {
    let ctx = zmq::Context::new();
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let daemon =
        Daemon::bind(&ctx, "tcp://127.0.0.1:*", RegistryConfig::new("h"), Box::new(MemoryBackend), log).unwrap();
    daemon.spawn(ctx).unwrap()
}
