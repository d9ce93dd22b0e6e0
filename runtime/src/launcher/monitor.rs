//! The launcher's side of monitoring: it takes its actors' reports on a PULL socket (an ipc
//! endpoint in the app's private runtime directory, which it gives each actor with the hidden
//! `--monitor` option), keeps them on a [`Board`] with what the supervisor did, and, with
//! `--metrics ADDR`, serves them over HTTP: Prometheus metrics, the live page, JSON and events
//! ([`cohort_monitor::MonitorServer`]), with the views of the app's launchers on other hosts
//! ([`super::peers`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use cohort_model::ast;
use cohort_monitor::{ActorReport, AppGraph, Board, MonitorServer, Source, WarningRing};

use super::peers::{PeerDiscovery, Peers};
use slog::{debug, warn};

/// How long the collecting thread waits in one poll, so it notices a stop.
const POLL_MS: i64 = 100;

/// What the HTTP server shows: the board.
struct BoardSource {
    board: Arc<Board>,
}

impl Source for BoardSource {
    fn prometheus(&self) -> String {
        // This host's actors only: each host's launcher is scraped for its own.
        cohort_monitor::prometheus::encode_app(&self.board.local_view())
    }

    fn view_json(&self) -> Option<String> {
        serde_json::to_string(&self.board.view()).ok()
    }

    fn has_app(&self) -> bool {
        true
    }

    fn local_json(&self) -> Option<String> {
        serde_json::to_string(&self.board.local_view()).ok()
    }
}

/// The launcher's monitor: the board, the thread that fills it, and the HTTP server.
pub(crate) struct LauncherMonitor {
    board: Arc<Board>,
    endpoint: String,
    /// The ipc file behind `endpoint`, which ZeroMQ leaves behind.
    file: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    server: Option<MonitorServer>,
    /// The thread that follows the other hosts' launchers.
    peers: Option<Peers>,
}

impl LauncherMonitor {
    /// Starts taking the reports of `actors` of `app` on `host`, and serves them on
    /// `metrics` if given, advertised through `discovery` to the app's other hosts. The
    /// launcher's own warnings are those of `warnings`.
    pub(crate) fn start(
        app: &ast::App,
        host: &str,
        actors: &[String],
        metrics: Option<&str>,
        discovery: PeerDiscovery,
        warnings: Arc<WarningRing>,
        log: &slog::Logger,
    ) -> Result<LauncherMonitor, String> {
        let name = &app.name.name;
        let board = Arc::new(Board::new(name, host, AppGraph::of(app), actors, warnings));
        let dir = cohort_ports::default_runtime_dir(name);
        cohort_ports::create_private_dir(&dir).map_err(|e| e.to_string())?;
        // Named as the ports' ipc files are (`<pid>-<name>.sock`), so that an actor sweeps the
        // file away should the launcher die without removing it.
        let file = dir.join(format!("{}-monitor.sock", std::process::id()));
        let endpoint = format!("ipc://{}", file.display());
        let ctx = zmq::Context::new();
        let socket = ctx
            .socket(zmq::PULL)
            .and_then(|s| s.set_linger(0).map(|()| s))
            .and_then(|s| s.bind(&endpoint).map(|()| s))
            .map_err(|e| format!("cannot take actor reports on {endpoint}: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (board, stop, log) = (Arc::clone(&board), Arc::clone(&stop), log.clone());
            std::thread::Builder::new()
                .name("monitor-collect".to_owned())
                .spawn(move || collect(&socket, &board, &stop, &log))
                .map_err(|e| format!("cannot start a thread: {e}"))?
        };
        let (server, peers) = match metrics {
            Some(addr) => {
                let source = Arc::new(BoardSource { board: Arc::clone(&board) });
                let server = MonitorServer::start(addr, source, log).map_err(|e| e.to_string())?;
                let peers = Peers::start(name, server.addr(), discovery, Arc::clone(&board), log)?;
                (Some(server), Some(peers))
            }
            None => (None, None),
        };
        Ok(LauncherMonitor { board, endpoint, file, stop, thread: Some(thread), server, peers })
    }

    /// The endpoint actors send their reports to.
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The board.
    pub(crate) fn board(&self) -> &Board {
        &self.board
    }
}

impl Drop for LauncherMonitor {
    fn drop(&mut self) {
        self.peers = None;
        self.server = None;
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The thread has closed the socket.
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Takes reports off `socket` onto `board` until `stop` is set. A report that does not decode
/// is counted and dropped (logged thinly).
fn collect(socket: &zmq::Socket, board: &Board, stop: &AtomicBool, log: &slog::Logger) {
    let refused = AtomicU64::new(0);
    while !stop.load(Ordering::Relaxed) {
        let mut items = [socket.as_poll_item(zmq::POLLIN)];
        match zmq::poll(&mut items, POLL_MS) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => {
                warn!(log, "cannot poll for actor reports; the monitor stops"; "error" => %e);
                return;
            }
        }
        while let Ok(bytes) = socket.recv_bytes(zmq::DONTWAIT) {
            match minicbor_serde::from_slice::<ActorReport>(&bytes) {
                Ok(report) => {
                    let (actor, pid) = (report.actor.clone(), report.pid);
                    if !board.report(report) {
                        debug!(log, "a report of a process that is not the actor's current one"; "actor" => actor, "pid" => pid);
                    }
                }
                Err(e) => {
                    let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        warn!(log, "an actor report does not decode; dropped"; "error" => %e, "refused" => n);
                    }
                }
            }
        }
    }
}
