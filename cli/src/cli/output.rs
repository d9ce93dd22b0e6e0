//! Writing a command's result to standard output or to the file named by `-o`.

use anyhow::Context as _;
use std::io::{self, Write as _};
use std::path::Path;

/// Writes `text` to `out`, or to standard output when there is no `out`.
pub(crate) fn write_output(text: &str, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display())),
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("cannot write to standard output")
        }
    }
}

/// A JSON value pretty-printed, with a trailing newline.
pub(crate) fn pretty_json(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value).context("cannot format the JSON output")?;
    text.push('\n');
    Ok(text)
}
