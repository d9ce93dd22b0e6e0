//! promtool for the tests, or a visible skip where it is absent.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// Runs `promtool ARGS` with `stdin` as its input and returns its output; where promtool is not
/// installed, says so past the test harness's capture and returns `None`, or fails the test
/// when `COHORT_REQUIRE_PROMTOOL=1`.
pub(crate) fn promtool(test: &str, args: &[&str], stdin: &str) -> Option<Output> {
    let child =
        Command::new("promtool").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("COHORT_REQUIRE_PROMTOOL").as_deref() == Ok("1") {
                panic!("{test}: promtool not found and COHORT_REQUIRE_PROMTOOL=1");
            }
            // Written past the test harness's capture, so that the skip is seen.
            let _ = writeln!(std::io::stderr(), "{test}: skipped: promtool not found (apt-get install prometheus)");
            return None;
        }
        Err(e) => panic!("{test}: cannot run promtool: {e}"),
    };
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Some(child.wait_with_output().unwrap())
}

/// Fails unless promtool succeeded, showing what it said.
pub(crate) fn assert_promtool_ok(output: &Output, input: &str) {
    assert!(
        output.status.success(),
        "promtool failed ({}):\n{}{}\n--- its input:\n{input}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}
