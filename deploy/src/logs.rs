//! `deploy logs`: a host's `launcher.log` (the launcher's and its actors' output), its last lines
//! or followed.

use crate::control::control_call;
use crate::hosts::HostEntry;
use crate::ssh::{Ssh, Step, StepError};

/// The last `lines` lines of app `app`'s log on `host`.
pub fn logs(host: &HostEntry, app: &str, lines: u32) -> Result<String, StepError> {
    let ssh = Ssh::new(host);
    ssh.run(Step::Logs, &control_call(host, app, &format!("logs {lines}"), "nothing deployed"))
}

/// The last `lines` lines of app `app`'s log on `host`, then what follows, written to this
/// process's standard output until the connection ends (Ctrl-C).
pub fn follow_logs(host: &HostEntry, app: &str, lines: u32) -> Result<(), StepError> {
    let ssh = Ssh::new(host);
    ssh.run_streaming(Step::Logs, &control_call(host, app, &format!("logs {lines} follow"), "nothing deployed"))
}
