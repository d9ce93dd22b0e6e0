//! The asking side: finding an app's running launchers in its runtime directory, and one
//! request with a timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::protocol::{Command, Reply, Request, PROTOCOL_VERSION};

/// The suffix of a launcher's control socket file: `<pid>-control.sock`.
const SUFFIX: &str = "-control.sock";

/// A running launcher of an app, as its control socket file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// Its pid.
    pub pid: u32,
    /// Its control endpoint.
    pub endpoint: String,
}

/// The control endpoint of the launcher `pid` in the app runtime directory `dir`.
pub fn control_endpoint(dir: &Path, pid: u32) -> (PathBuf, String) {
    let file = dir.join(format!("{pid}{SUFFIX}"));
    let endpoint = format!("ipc://{}", file.display());
    (file, endpoint)
}

/// Why [`ask`] or [`find_launchers`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The runtime directory cannot be read: no launcher of the app ever ran here as this user,
    /// or it belongs to another user.
    #[error("cannot read the app's runtime directory {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// ZeroMQ refused.
    #[error("cannot reach the launcher at {endpoint}: {source}")]
    Socket {
        /// The launcher's endpoint.
        endpoint: String,
        /// Why.
        source: zmq::Error,
    },
    /// No reply within the timeout.
    #[error("the launcher (pid {pid}) did not answer within {timeout:?}")]
    Timeout {
        /// The launcher's pid.
        pid: u32,
        /// How long `ask` waited.
        timeout: Duration,
    },
    /// The reply did not decode.
    #[error("the launcher's reply cannot be read: {0}")]
    Undecodable(String),
}

/// The launchers whose control sockets are in the app runtime directory `dir` and whose
/// processes live, by pid.
pub fn find_launchers(dir: &Path) -> Result<Vec<Launcher>, AskError> {
    let entries = std::fs::read_dir(dir).map_err(|source| AskError::Dir { dir: dir.to_owned(), source })?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if alive(pid) {
            found.push(Launcher { pid, endpoint: control_endpoint(dir, pid).1 });
        }
    }
    found.sort_by_key(|l| l.pid);
    Ok(found)
}

/// Whether process `pid` exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only asks whether the process exists.
    let answer = unsafe { libc::kill(pid, 0) };
    answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Sends `command` to `launcher` and waits up to `timeout` for its reply.
pub fn ask(launcher: &Launcher, command: Command, timeout: Duration) -> Result<Reply, AskError> {
    let socket_error = |source| AskError::Socket { endpoint: launcher.endpoint.clone(), source };
    let ctx = zmq::Context::new();
    let socket = ctx.socket(zmq::DEALER).map_err(socket_error)?;
    socket.set_linger(0).map_err(socket_error)?;
    socket.connect(&launcher.endpoint).map_err(socket_error)?;
    let request = Request { version: PROTOCOL_VERSION, command };
    let bytes = minicbor_serde::to_vec(&request).map_err(|e| AskError::Undecodable(e.to_string()))?;
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    socket.set_sndtimeo(ms).map_err(socket_error)?;
    // An empty delimiter, as a REQ socket would send, so a ROUTER sees [id, "", body].
    socket.send_multipart([&b""[..], &bytes[..]], 0).map_err(socket_error)?;
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    let ready = zmq::poll(&mut items, i64::from(ms)).map_err(socket_error)?;
    if ready == 0 {
        return Err(AskError::Timeout { pid: launcher.pid, timeout });
    }
    let frames = socket.recv_multipart(zmq::DONTWAIT).map_err(socket_error)?;
    let body = frames.last().ok_or_else(|| AskError::Undecodable("an empty message".into()))?;
    minicbor_serde::from_slice(body).map_err(|e| AskError::Undecodable(e.to_string()))
}
