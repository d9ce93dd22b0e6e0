//! `deploy stop`: the app's launcher stopped on every host at once (its actors with it, its ipc
//! files removed, its systemd unit disabled and removed; with `remove`, its folder too).

use std::fmt;

use crate::control::control_call;
use crate::hosts::HostEntry;
use crate::parallel::each;
use crate::shell::quote;
use crate::ssh::{Failure, Ssh, Step, StepError};

/// What a stop found on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "stopped")]
pub enum Stopped {
    /// The launcher stopped its actors and exited.
    Stopped {
        /// Its process id.
        pid: u32,
    },
    /// The launcher did not exit in time and was killed, its process group with it.
    Killed {
        /// Its process id.
        pid: u32,
    },
    /// No launcher ran.
    NotRunning,
    /// The app was never deployed there.
    NothingDeployed,
}

/// The outcome of `deploy stop`, host by host.
#[derive(Debug, Clone)]
pub struct StopReport {
    /// Each host, in the order of their names, with what the stop found or why it failed.
    pub hosts: Vec<(String, Result<Stopped, StepError>)>,
}

impl StopReport {
    /// Whether the stop succeeded on every host.
    pub fn all_stopped(&self) -> bool {
        self.hosts.iter().all(|(_, r)| r.is_ok())
    }
}

impl fmt::Display for StopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (host, result) in &self.hosts {
            match result {
                Ok(Stopped::Stopped { pid }) => writeln!(f, "{host}: stopped (pid {pid})")?,
                Ok(Stopped::Killed { pid }) => writeln!(f, "{host}: killed (pid {pid} did not stop in time)")?,
                Ok(Stopped::NotRunning) => writeln!(f, "{host}: was not running")?,
                Ok(Stopped::NothingDeployed) => writeln!(f, "{host}: nothing deployed")?,
                Err(e) => writeln!(f, "{e}")?,
            }
        }
        Ok(())
    }
}

/// Stops app `app` on every host of `hosts`; with `remove`, then removes its folder there.
pub fn stop(hosts: &[HostEntry], app: &str, remove: bool) -> StopReport {
    let ssh: Vec<Ssh<'_>> = hosts.iter().map(Ssh::new).collect();
    let results = each(&ssh, |ssh| {
        let out = ssh.run(Step::Stop, &control_call(ssh.host(), app, "stop", "nothing deployed"))?;
        let last = out.lines().last().unwrap_or_default().trim();
        let pid = |prefix: &str| last.strip_prefix(prefix).and_then(|p| p.trim().parse().ok());
        let stopped = if let Some(pid) = pid("stopped ") {
            Stopped::Stopped { pid }
        } else if let Some(pid) = pid("killed ") {
            Stopped::Killed { pid }
        } else if last == "not running" {
            Stopped::NotRunning
        } else if last == "nothing deployed" {
            Stopped::NothingDeployed
        } else {
            return Err(ssh.error(Step::Stop, Failure::Unexpected(out)));
        };
        if remove {
            ssh.run(Step::Stop, &format!("rm -rf {}\n", quote(&ssh.host().dir_for(app))))?;
        }
        Ok(stopped)
    });
    StopReport { hosts: hosts.iter().map(|h| h.name.clone()).zip(results).collect() }
}
