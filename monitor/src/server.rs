//! The monitor's HTTP server: `/metrics` (Prometheus), and for an app the live page (`/`), its
//! data (`/api/view`, JSON; `/api/local`, this host's part of it) and its event stream
//! (`/events`, server-sent events).
//!
//! One thread accepts requests and answers each at once; an event stream gets a thread of its
//! own, which sends the view every [`EVENT_INTERVAL`] until the browser goes away. Nothing in
//! it waits on the app: it reads a [`Source`], which copies what the app last reported.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use slog::{info, warn};
use tiny_http::{Header, Method, Request, Response, Server};

/// How often an event stream sends the view.
pub const EVENT_INTERVAL: Duration = Duration::from_millis(500);

/// Event streams served at once at most; more are refused with 503.
pub const MAX_EVENT_STREAMS: usize = 32;

/// The live page, embedded in the binary: one file, no external resources.
pub const PAGE: &str = include_str!("../web/index.html");

/// What a monitor server shows.
pub trait Source: Send + Sync + 'static {
    /// The `/metrics` body, in the Prometheus text exposition format.
    fn prometheus(&self) -> String;
    /// The app's view as JSON for `/api/view` and `/events`; `None` where there is no app (the
    /// discovery daemon), which serves `/metrics` only.
    fn view_json(&self) -> Option<String>;
    /// Whether there is an app to show (the page and `/events`), without making its view; by
    /// default whether [`Source::view_json`] gives one.
    fn has_app(&self) -> bool {
        self.view_json().is_some()
    }
    /// This host's part of the view as JSON for `/api/local`, which the launchers of other
    /// hosts read; by default the whole view.
    fn local_json(&self) -> Option<String> {
        self.view_json()
    }
}

/// Why a monitor server could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {why}")]
pub struct ServeError {
    /// The address asked for.
    pub addr: String,
    /// Why.
    pub why: String,
}

/// A running monitor server; dropping it stops it.
pub struct MonitorServer {
    addr: SocketAddr,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MonitorServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl MonitorServer {
    /// Serves `source` on `addr` (`HOST:PORT`; port 0 picks a free one) until dropped.
    pub fn start(addr: &str, source: Arc<dyn Source>, log: &slog::Logger) -> Result<MonitorServer, ServeError> {
        let failed = |why: String| ServeError { addr: addr.to_owned(), why };
        let server = Server::http(addr).map_err(|e| failed(e.to_string()))?;
        let bound = server.server_addr().to_ip().ok_or_else(|| failed("not an IP address".to_owned()))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop, log) = (Arc::clone(&server), Arc::clone(&stop), log.clone());
            std::thread::Builder::new()
                .name("monitor-http".to_owned())
                .spawn(move || accept(&server, &source, &stop, &log))
                .map_err(|e| failed(format!("cannot start a thread: {e}")))?
        };
        info!(log, "serving metrics and the live page"; "url" => format!("http://{bound}/"));
        Ok(MonitorServer { addr: bound, server, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MonitorServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    // Both are ASCII constants of this file, which always parse.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| unreachable!("a constant header"))
}

fn accept(server: &Server, source: &Arc<dyn Source>, stop: &Arc<AtomicBool>, log: &slog::Logger) {
    let streams = Arc::new(AtomicUsize::new(0));
    for request in server.incoming_requests() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        answer(request, source, stop, &streams, log);
    }
}

fn answer(
    request: Request,
    source: &Arc<dyn Source>,
    stop: &Arc<AtomicBool>,
    streams: &Arc<AtomicUsize>,
    log: &slog::Logger,
) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    if *request.method() != Method::Get && *request.method() != Method::Head {
        let _ = request.respond(Response::from_string("only GET\n").with_status_code(405));
        return;
    }
    let reply = match path.as_str() {
        "/metrics" => Response::from_string(source.prometheus())
            .with_header(header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")),
        "/" | "/index.html" if source.has_app() => {
            Response::from_string(PAGE).with_header(header("Content-Type", "text/html; charset=utf-8"))
        }
        "/api/view" => match source.view_json() {
            Some(json) => Response::from_string(json).with_header(header("Content-Type", "application/json")),
            None => not_found(),
        },
        "/api/local" => match source.local_json() {
            Some(json) => Response::from_string(json).with_header(header("Content-Type", "application/json")),
            None => not_found(),
        },
        "/events" if source.has_app() => {
            if streams.fetch_add(1, Ordering::Relaxed) >= MAX_EVENT_STREAMS {
                streams.fetch_sub(1, Ordering::Relaxed);
                let _ = request.respond(Response::from_string("too many event streams\n").with_status_code(503));
                return;
            }
            let (source, stop, streams, log) = (Arc::clone(source), Arc::clone(stop), Arc::clone(streams), log.clone());
            let spawned = std::thread::Builder::new().name("monitor-events".to_owned()).spawn(move || {
                stream_events(request, source.as_ref(), &stop);
                streams.fetch_sub(1, Ordering::Relaxed);
            });
            if let Err(e) = spawned {
                warn!(log, "cannot start an event stream"; "error" => %e);
            }
            return;
        }
        _ => not_found(),
    };
    // One request per connection: a connection kept alive would outlive a stopped server and
    // leave a browser's next request unanswered.
    let _ = request.respond(reply.with_header(header("Connection", "close")));
}

fn not_found() -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string("not found: try /metrics, / or /api/view\n").with_status_code(404)
}

/// Sends the view as a server-sent event every [`EVENT_INTERVAL`] until the client goes away or
/// the server stops.
fn stream_events(request: Request, source: &dyn Source, stop: &AtomicBool) {
    let mut out = request.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n";
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    while !stop.load(Ordering::Relaxed) {
        let Some(json) = source.view_json() else { return };
        // JSON from serde_json has no raw newline, so one `data:` line carries it.
        if write!(out, "event: view\ndata: {json}\n\n").and_then(|()| out.flush()).is_err() {
            return;
        }
        std::thread::sleep(EVENT_INTERVAL);
    }
}
