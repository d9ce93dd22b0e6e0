//! A small driver of headless Chromium over the DevTools protocol, for the tests that look at
//! the live page in a real browser: `monitor/tests/page.rs` (the page alone, over a hand-fed
//! board) and `tests/tests/web_view.rs` (the running microgrid). Both include this file with
//! `#[path = ...] mod chromium;`: it needs only `libc` and `serde_json`, which both crates
//! have, and keeps the monitor's page test free of the runtime that `cohort-tests` builds.
//!
//! Chromium started with `--remote-debugging-pipe` reads commands on its fd 3 and writes
//! responses and events on its fd 4, each one JSON object ended by a NUL byte:
//!
//! ```text
//! test -> fd 3: {"id":1,"method":"Target.createTarget","params":{"url":"about:blank"}}\0
//! fd 4 -> test: {"id":1,"result":{"targetId":"..."}}\0
//! ```
//!
//! [`Browser::launch`] opens one tab and attaches to it (`flatten`: later commands carry its
//! `sessionId`); [`Browser::navigate`], [`Browser::eval`], [`Browser::wait_for`] (which polls
//! every 100 ms up to a deadline) and [`Browser::screenshot`] act on that tab. Dropping the
//! browser closes it, kills what is left of its process group and removes its profile.
#![allow(dead_code)] // Each test uses part of it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long one DevTools command may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often [`Browser::wait_for`] looks again.
const POLL: Duration = Duration::from_millis(100);
/// The environment variable that turns a missing Chromium from a skip into a failure.
pub(crate) const REQUIRE: &str = "COHORT_REQUIRE_CHROMIUM";

/// Where Chromium is: `$COHORT_CHROMIUM` (when set, only there), else `/usr/bin/chromium`, else
/// `chromium` or `chromium-browser` on the `PATH`.
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("COHORT_CHROMIUM") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|p| p.is_file())
}

/// Chromium's path, or `None` after printing a visible skip line for `test`; with
/// `COHORT_REQUIRE_CHROMIUM=1` a missing Chromium fails the test instead.
pub(crate) fn find_or_skip(test: &str) -> Option<PathBuf> {
    let found = find();
    if found.is_none() {
        let line = format!("{test}: skipped: chromium not found (apt-get install chromium)\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        let required = std::env::var(REQUIRE).as_deref() == Ok("1");
        assert!(!required, "{REQUIRE}=1 but chromium was not found (apt-get install chromium)");
    }
    found
}

/// Where tests put what they leave for people to look at: `<target>/test-artifacts` (the
/// target directory from `CARGO_TARGET_DIR`, else the one the test executable was built in).
pub(crate) fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).or_else(|| {
        // <target>/<profile>/deps/<test executable>
        std::env::current_exe().ok()?.ancestors().nth(3).map(Path::to_path_buf)
    });
    target.unwrap_or_else(|| PathBuf::from("target")).join("test-artifacts")
}

/// A headless Chromium with one tab, driven over its DevTools pipe.
pub(crate) struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    replies: Receiver<Value>,
    next_id: u64,
    session: String,
    profile: PathBuf,
}

impl Browser {
    /// Starts Chromium at `program` with a fresh profile and a `width` x `height` window, and
    /// opens a blank tab.
    pub(crate) fn launch(program: &Path, width: u32, height: u32) -> Result<Browser, String> {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = std::env::temp_dir().join(format!("cohort-chromium-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&profile).map_err(|e| format!("{}: {e}", profile.display()))?;
        // Chromium reads `to_chromium` as fd 3 and writes `from_chromium` as fd 4; the pipes
        // are close-on-exec, so the child keeps only the two copies made below.
        let (to_chromium, commands) = std::io::pipe().map_err(|e| format!("a pipe: {e}"))?;
        let (from_chromium, to_test) = std::io::pipe().map_err(|e| format!("a pipe: {e}"))?;
        let (read_fd, write_fd) = (to_chromium.as_raw_fd(), to_test.as_raw_fd());
        let mut command = Command::new(program);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-color-profile=srgb",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--remote-debugging-pipe", "about:blank"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the drop kills the renderers with it.
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec and calls only fcntl, dup2
        // and close, which are async-signal-safe; it allocates nothing.
        unsafe {
            command.pre_exec(move || {
                // Copies above fd 4 first, so that neither dup2 overwrites the other's source.
                let read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                let write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(read);
                libc::close(write);
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| format!("starting {}: {e}", program.display()))?;
        // The child has its copies; without closing ours, the reader would never see its end.
        drop((to_chromium, to_test));
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_chromium);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                let text = message.strip_suffix(&[0]).unwrap_or(&message);
                if let Ok(value) = serde_json::from_slice::<Value>(text) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
                message.clear();
            }
        });
        let mut browser = Browser { child, commands, replies, next_id: 0, session: String::new(), profile };
        let target = browser.call(None, "Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target["targetId"].as_str().ok_or("Target.createTarget: no targetId")?.to_owned();
        let attached =
            browser.call(None, "Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }))?;
        browser.session = attached["sessionId"].as_str().ok_or("Target.attachToTarget: no sessionId")?.to_owned();
        browser.tab("Page.enable", json!({}))?;
        browser.tab("Runtime.enable", json!({}))?;
        Ok(browser)
    }

    /// Sends one command (to the tab's session, or to the browser with `None`) and returns its
    /// result; events that arrive meanwhile are dropped.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, String> {
        self.call_within(session, method, params, CALL_TIMEOUT)
    }

    /// [`Browser::call`], waiting `within` at most for the result.
    fn call_within(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        within: Duration,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).map_err(|e| format!("{method}: {e}"))?;
        bytes.push(0);
        self.commands.write_all(&bytes).map_err(|e| format!("{method}: writing to chromium: {e}"))?;
        let give_up = Instant::now() + within;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(reply) if reply["id"] == json!(id) => {
                    return match reply.get("error") {
                        Some(error) => Err(format!("{method}: {error}")),
                        None => Ok(reply["result"].clone()),
                    };
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return Err(format!("{method}: no answer within {within:?}")),
                Err(RecvTimeoutError::Disconnected) => return Err(format!("{method}: chromium exited")),
            }
        }
    }

    /// Sends one command to the tab.
    fn tab(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// Loads `url` in the tab (returns once the navigation started, not when the page loaded:
    /// wait for what the page should show with [`Browser::wait_for`]).
    pub(crate) fn navigate(&mut self, url: &str) -> Result<(), String> {
        let result = self.tab("Page.navigate", json!({ "url": url }))?;
        match result["errorText"].as_str() {
            Some(error) if !error.is_empty() => Err(format!("navigating to {url}: {error}")),
            _ => Ok(()),
        }
    }

    /// The value of JavaScript expression `expression` in the tab (`null` for `undefined`);
    /// an exception is an error.
    pub(crate) fn eval(&mut self, expression: &str) -> Result<Value, String> {
        let params = json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let result = self.tab("Runtime.evaluate", params)?;
        if let Some(exception) = result.get("exceptionDetails") {
            let text = exception["exception"]["description"].as_str().or(exception["text"].as_str());
            return Err(format!("{expression}: {}", text.unwrap_or("an exception")));
        }
        Ok(result["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Evaluates `expression` every 100 ms until its value is truthy (not `null`, `false`, 0 or
    /// ""), and returns that value; fails after `within`, with the last value seen. An error
    /// (the page is still loading, say) counts as not yet.
    pub(crate) fn wait_for(&mut self, what: &str, expression: &str, within: Duration) -> Result<Value, String> {
        let give_up = Instant::now() + within;
        loop {
            let last = self.eval(expression);
            if let Ok(value) = &last {
                if truthy(value) {
                    return Ok(value.clone());
                }
            }
            if Instant::now() >= give_up {
                return Err(format!("not {what} within {within:?}; last: {last:?}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Saves a PNG of the whole page (as tall as the page, `width` wide) to `path`, making its
    /// directory.
    pub(crate) fn screenshot(&mut self, path: &Path, width: u32) -> Result<(), String> {
        let height = self.eval("Math.ceil(document.documentElement.scrollHeight)")?.as_u64().unwrap_or(900).max(200);
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.tab("Emulation.setDeviceMetricsOverride", metrics)?;
        let shot = self.tab("Page.captureScreenshot", json!({ "format": "png" }));
        let _ = self.tab("Emulation.clearDeviceMetricsOverride", json!({}));
        let data = shot?["data"].as_str().map(str::to_owned).ok_or("Page.captureScreenshot: no data")?;
        let png = base64_decode(&data)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Asked to close, Chromium ends its renderers itself; whatever is left is killed.
        let _ = self.call_within(None, "Browser.close", json!({}), Duration::from_secs(2));
        let give_up = Instant::now() + Duration::from_secs(3);
        while !matches!(self.child.try_wait(), Ok(Some(_))) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; -pid is the group started above.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// JavaScript's truthiness of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Standard base64 (with padding), as DevTools sends screenshots.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let digits = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            bits |= sextet(c).ok_or_else(|| format!("not base64: {:?}", char::from(c)))? << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

#[test]
fn base64_decodes_what_devtools_sends() {
    assert_eq!(base64_decode("aGVsbG8=").as_deref(), Ok(&b"hello"[..]));
    assert_eq!(base64_decode("aGVsbG8h").as_deref(), Ok(&b"hello!"[..]));
    assert_eq!(base64_decode("aGk=").as_deref(), Ok(&b"hi"[..]));
    assert!(base64_decode("a$==").is_err());
}
