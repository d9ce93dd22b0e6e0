//! A plain HTTP/1.0 GET over a TCP stream, enough to read a monitor's `/metrics` and
//! `/api/view` in tests without an HTTP client crate.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `path` from `addr` (`HOST:PORT`): the status code and the body.
pub fn get(addr: &str, path: &str) -> Result<(u16, String), String> {
    let failed = |e: std::io::Error| format!("GET http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(failed)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(failed)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(failed)?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or_else(|| format!("GET {path}: no header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("GET {path}: no status in {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// GETs `path` from `addr`, which must answer 200: the body.
pub fn get_ok(addr: &str, path: &str) -> Result<String, String> {
    match get(addr, path)? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("GET http://{addr}{path}: status {status}: {body}")),
    }
}

/// Asks `/api/view` of the monitor at `addr` until `done` holds for the view (as JSON), every
/// 100 ms, for `within` at most: the view that did.
pub fn wait_for_view(
    addr: &str,
    within: Duration,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Result<serde_json::Value, String> {
    let give_up = Instant::now() + within;
    loop {
        let last = match get_ok(addr, "/api/view").and_then(|b| serde_json::from_str(&b).map_err(|e| e.to_string())) {
            Ok(view) if done(&view) => return Ok(view),
            Ok(view) => view.to_string(),
            Err(e) => e,
        };
        if Instant::now() >= give_up {
            return Err(format!("not {what} within {within:?}; last: {last}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
