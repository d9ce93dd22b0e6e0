//! OpenSSH as child processes: `ssh` runs a shell script on a host (the script on its standard
//! input, so the remote login shell never parses it), `scp` copies files there. Both run in
//! batch mode (no password or host-key prompt), give up connecting after [`CONNECT_TIMEOUT`]
//! seconds and notice a dead link within about 15 s. Every failure names the host and the step.

use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::hosts::{HostEntry, HostKeyChecking};

/// Seconds ssh and scp wait for a host to answer.
pub const CONNECT_TIMEOUT: u32 = 10;

/// A step of a deploy on one host, named in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Connecting, and asking the host its machine, home, supervisor and free space.
    Probe,
    /// Checking what the host answered: the binary's machine, room for the new version.
    Check,
    /// Copying the new version into `DIR/incoming/`.
    Upload,
    /// Stopping the version that ran before.
    StopPrevious,
    /// Moving the new version into place (`incoming/` → `current/` → `previous/`).
    Swap,
    /// Starting the new version's launcher.
    Start,
    /// Stopping a host this deploy started, because another host failed.
    RollBack,
    /// Removing a copied version that will not run.
    CleanUp,
    /// `deploy stop`.
    Stop,
    /// `deploy status`.
    Status,
    /// `deploy logs`.
    Logs,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Probe => "connect",
            Step::Check => "check",
            Step::Upload => "upload",
            Step::StopPrevious => "stop the previous version",
            Step::Swap => "swap in the new version",
            Step::Start => "start",
            Step::RollBack => "roll back",
            Step::CleanUp => "clean up",
            Step::Stop => "stop",
            Step::Status => "status",
            Step::Logs => "logs",
        })
    }
}

/// What went wrong in a step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// `ssh` or `scp` could not be run here: install OpenSSH's client.
    Spawn(String),
    /// The host could not be reached (refused, timed out, no route, unknown name): check
    /// `address` and `port`, and that sshd runs there.
    Unreachable(String),
    /// The host refused the key: check `identity` and the host's `authorized_keys`.
    KeyRefused(String),
    /// The host's key is unknown or has changed: add it to `known_hosts`, or (first contact
    /// only) set `host_key_checking = "accept-new"`.
    HostKey(String),
    /// A command on the host failed: what it wrote on its standard error.
    Remote {
        /// The exit status.
        status: Option<i32>,
        /// Its standard error (or output, when that is empty).
        stderr: String,
    },
    /// The binary is built for another machine than the host's: build it for the host
    /// (`cargo build --target …`).
    WrongMachine {
        /// The binary's machine.
        binary: String,
        /// The host's `uname -m`.
        host: String,
    },
    /// The host has not enough free space for the new version: free some.
    NoSpace {
        /// The folder (or its closest existing parent).
        dir: String,
        /// Free kibibytes there.
        free_kib: u64,
        /// Kibibytes the upload needs.
        needed_kib: u64,
    },
    /// The host answered something the deploy cannot read.
    Unexpected(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Spawn(why) => write!(f, "cannot run OpenSSH's client here ({why}); install openssh-client"),
            Failure::Unreachable(why) => write!(f, "unreachable: {why}"),
            Failure::KeyRefused(why) => {
                write!(f, "the SSH key was refused ({why}); check `identity` in the hosts file and the host's authorized_keys")
            }
            Failure::HostKey(why) => write!(
                f,
                "the host's key is not known or has changed ({why}); add it to `known_hosts`, or set host_key_checking = \"accept-new\" for a first contact"
            ),
            Failure::Remote { status, stderr } => {
                let text = stderr.trim_end();
                match status {
                    Some(code) if text.is_empty() => write!(f, "exit status {code}, nothing on standard error"),
                    Some(code) => write!(f, "{text} (exit status {code})"),
                    None => write!(f, "{text} (killed by a signal)"),
                }
            }
            Failure::WrongMachine { binary, host } => write!(
                f,
                "the binary is built for {binary}, but the host is {host} (uname -m); build it for the host (cargo build --target …)"
            ),
            Failure::NoSpace { dir, free_kib, needed_kib } => write!(
                f,
                "not enough space: {} MiB free in {dir}, the new version needs {} MiB",
                free_kib / 1024,
                needed_kib.div_ceil(1024)
            ),
            Failure::Unexpected(what) => write!(f, "unexpected answer: {what}"),
        }
    }
}

/// A step that failed on a host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host}: {step} failed: {failure}")]
pub struct StepError {
    /// The host.
    pub host: String,
    /// The step.
    pub step: Step,
    /// What went wrong.
    pub failure: Failure,
}

/// One host, reached with OpenSSH.
#[derive(Debug, Clone, Copy)]
pub struct Ssh<'h> {
    host: &'h HostEntry,
}

impl<'h> Ssh<'h> {
    /// The host `host`.
    pub fn new(host: &'h HostEntry) -> Ssh<'h> {
        Ssh { host }
    }

    /// The host.
    pub fn host(&self) -> &'h HostEntry {
        self.host
    }

    /// An error of `step` on this host.
    pub fn error(&self, step: Step, failure: Failure) -> StepError {
        StepError { host: self.host.name.clone(), step, failure }
    }

    /// The options ssh and scp share: batch mode, time-outs, and the host's settings.
    fn options(&self) -> Vec<String> {
        let mut options: Vec<String> = Vec::new();
        if let Some(config) = &self.host.ssh_config {
            options.extend(["-F".into(), config.display().to_string()]);
        }
        let mut set = |option: String| options.extend(["-o".into(), option]);
        set("BatchMode=yes".into());
        set(format!("ConnectTimeout={CONNECT_TIMEOUT}"));
        set("ServerAliveInterval=5".into());
        set("ServerAliveCountMax=3".into());
        // No "Warning: Permanently added …" among a step's errors.
        set("LogLevel=ERROR".into());
        if let Some(identity) = &self.host.identity {
            set(format!("IdentityFile={}", config_word(&identity.display().to_string())));
            set("IdentitiesOnly=yes".into());
        }
        if let Some(known) = &self.host.known_hosts {
            set(format!("UserKnownHostsFile={}", config_word(&known.display().to_string())));
        }
        match self.host.host_key_checking {
            HostKeyChecking::Default => {}
            HostKeyChecking::Yes => set("StrictHostKeyChecking=yes".into()),
            HostKeyChecking::AcceptNew => set("StrictHostKeyChecking=accept-new".into()),
        }
        if let Some(user) = &self.host.user {
            set(format!("User={user}"));
        }
        if let Some(port) = self.host.port {
            set(format!("Port={port}"));
        }
        options
    }

    /// The `ssh` command that runs `sh -s` on the host.
    fn shell_command(&self) -> Command {
        let mut command = Command::new("ssh");
        command.args(self.options()).arg("--").arg(&self.host.address).args(["sh", "-s"]);
        command
    }

    /// Runs `script` on the host with `sh`; its standard output when it succeeds.
    pub fn run(&self, step: Step, script: &str) -> Result<String, StepError> {
        self.run_keeping_output(step, script).map_err(|(error, _)| error)
    }

    /// Runs `script` on the host with `sh`; its standard output, also when it fails (a script
    /// of several steps says there which it reached).
    pub fn run_keeping_output(&self, step: Step, script: &str) -> Result<String, (StepError, String)> {
        let spawn_error = |e: std::io::Error| (self.error(step, Failure::Spawn(e.to_string())), String::new());
        let mut child = self
            .shell_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdin = child.stdin.take();
        let output = std::thread::scope(|scope| {
            // Written from a thread, so a script that prints much before it has read itself
            // cannot block on a full pipe.
            scope.spawn(move || {
                if let Some(mut stdin) = stdin {
                    let _ = stdin.write_all(script.as_bytes());
                }
            });
            child.wait_with_output()
        })
        .map_err(spawn_error)?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        match self.outcome(step, &output) {
            Ok(()) => Ok(stdout),
            Err(error) => Err((error, stdout)),
        }
    }

    /// Runs `script` on the host with its standard output going to this process's (for
    /// `deploy logs --follow`).
    pub fn run_streaming(&self, step: Step, script: &str) -> Result<(), StepError> {
        let mut child = self
            .shell_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.error(step, Failure::Spawn(e.to_string())))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(script.as_bytes());
        }
        let output = child.wait_with_output().map_err(|e| self.error(step, Failure::Spawn(e.to_string())))?;
        self.outcome(step, &output)
    }

    /// Copies `files` into the folder `remote_dir` (absolute) on the host, keeping their modes.
    pub fn copy(&self, step: Step, files: &[&Path], remote_dir: &str) -> Result<(), StepError> {
        let address = if self.host.address.contains(':') {
            format!("[{}]", self.host.address)
        } else {
            self.host.address.clone()
        };
        let output = Command::new("scp")
            .args(["-q", "-p", "-B"])
            .args(self.options())
            .arg("--")
            .args(files)
            .arg(format!("{address}:{}/", remote_dir.trim_end_matches('/')))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.error(step, Failure::Spawn(e.to_string())))?;
        self.outcome(step, &output)
    }

    /// Ok, or the failure an ssh or scp that ended with `output` stands for.
    fn outcome(&self, step: Step, output: &Output) -> Result<(), StepError> {
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let stderr = if stderr.is_empty() { String::from_utf8_lossy(&output.stdout).trim().to_owned() } else { stderr };
        // ssh exits with 255 for its own errors (connection, authentication, host key).
        let failure = if output.status.code() == Some(255) {
            classify_ssh_error(stderr)
        } else {
            Failure::Remote { status: output.status.code(), stderr }
        };
        Err(self.error(step, failure))
    }
}

/// What an ssh error message (exit status 255) means.
fn classify_ssh_error(stderr: String) -> Failure {
    let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
    if has(&["Permission denied", "Too many authentication failures", "no such identity"]) {
        Failure::KeyRefused(stderr)
    } else if has(&["Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "host key is known"]) {
        Failure::HostKey(stderr)
    } else if has(&[
        "Connection refused",
        "Connection timed out",
        "timed out",
        "No route to host",
        "Network is unreachable",
        "Could not resolve hostname",
        "Name or service not known",
        "Connection closed by",
        "Connection reset",
    ]) {
        Failure::Unreachable(stderr)
    } else {
        Failure::Remote { status: Some(255), stderr }
    }
}

/// A value of an ssh `-o` option, in double quotes when it has spaces.
fn config_word(value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::HostsFile;

    #[test]
    fn ssh_errors_say_what_to_fix() {
        let refused = classify_ssh_error("root@10.0.0.1: Permission denied (publickey).".into());
        assert!(matches!(refused, Failure::KeyRefused(_)));
        assert!(refused.to_string().contains("check `identity`"));
        let down = classify_ssh_error("ssh: connect to host 10.0.0.1 port 22: Connection refused".into());
        assert!(matches!(down, Failure::Unreachable(_)), "{down:?}");
        let timeout = classify_ssh_error("ssh: connect to host 10.9.9.9 port 22: Connection timed out".into());
        assert!(matches!(timeout, Failure::Unreachable(_)));
        let key = classify_ssh_error("Host key verification failed.".into());
        assert!(matches!(key, Failure::HostKey(_)));
    }

    #[test]
    fn the_hosts_settings_become_ssh_options() {
        let text = "[hosts.a]\naddress = \"10.0.0.1\"\nuser = \"root\"\nport = 2222\nidentity = \"/k/id\"\n\
                    known_hosts = \"/k/known hosts\"\nhost_key_checking = \"yes\"\nssh_config = \"/dev/null\"\n";
        let hosts = HostsFile::parse(Path::new("h.toml"), text, Path::new("/"), None).unwrap();
        let options = Ssh::new(&hosts.hosts["a"]).options().join(" ");
        assert!(options.starts_with("-F /dev/null -o BatchMode=yes -o ConnectTimeout=10"), "{options}");
        for expected in [
            "-o IdentityFile=/k/id -o IdentitiesOnly=yes",
            "-o UserKnownHostsFile=\"/k/known hosts\"",
            "-o StrictHostKeyChecking=yes",
            "-o User=root",
            "-o Port=2222",
        ] {
            assert!(options.contains(expected), "no {expected} in {options}");
        }
    }

    #[test]
    fn a_remote_error_shows_its_standard_error_and_status() {
        let failure = Failure::Remote { status: Some(1), stderr: "the launcher exited\n".into() };
        let error = StepError { host: "host-c".into(), step: Step::Start, failure };
        assert_eq!(error.to_string(), "host-c: start failed: the launcher exited (exit status 1)");
    }
}
