//! `cohort deploy` as a library: an app's binary, model, deployment and key file copied over
//! SSH to each host its deployment names, its launcher started there under a supervisor that
//! outlives the SSH session (a systemd unit, or a detached process with a pidfile), watched,
//! and stopped; with a clear error per host and no half-started app.
//!
//! The hosts file maps the deployment's host names to SSH destinations ([`HostsFile`]). The
//! pre-flight checks ([`preflight`]) need no host: both files name the same hosts, the binary is
//! an ELF binary, the key file is the app's and private. [`up`] then probes every host (reachable,
//! its machine, its free space), uploads everywhere, and replaces the running version host by
//! host, rolling back the hosts it started if a later one fails. OpenSSH's `ssh` and `scp` do
//! the work, as child processes in batch mode ([`Ssh`]); on each host a generated POSIX shell
//! script ([`control_script`]) starts, stops and reports the launcher.
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! use cohort_deploy::{preflight, up, HostsFile, Keys, Registry, UpRequest};
//!
//! let hosts = HostsFile::read(Path::new("hosts.toml"))?;
//! let request = UpRequest {
//!     deployment: PathBuf::from("microgrid.depl"),
//!     binary: PathBuf::from("target/release/microgrid"),
//!     model: None,
//!     keys: Keys::File(PathBuf::from("Microgrid.key")),
//!     registry: Some(Registry { url: "redis://10.0.0.9:6379/".into(), user: None, password_file: None, ca: None }),
//! };
//! let plan = match preflight(&request, &hosts) {
//!     Ok(plan) => plan,
//!     Err(problems) => {
//!         problems.iter().for_each(|p| eprintln!("{p}"));
//!         return Ok(());
//!     }
//! };
//! let report = up(&plan, &|host, what| eprintln!("{host}: {what}"))?;
//! print!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod control;
mod elf;
mod hosts;
mod logs;
mod parallel;
mod plan;
mod preflight;
mod probe;
mod shell;
mod ssh;
mod staging;
mod status;
mod stop;
mod systemd;
mod up;

pub use control::control_script;
pub use elf::{ElfError, Machine};
pub use hosts::{HostEntry, HostKeyChecking, HostsError, HostsFile, Supervisor, DEFAULT_DIR, DEFAULT_METRICS};
pub use logs::{follow_logs, logs};
pub use plan::{unit_name, AppDir, LauncherCommand, Plan, RegistryFiles, Supervision, Upload, CONTROL_SCRIPT};
pub use preflight::{preflight, DeployedHosts, Keys, PreflightError, Registry, UpRequest};
pub use probe::Runs;
pub use ssh::{Failure, Ssh, Step, StepError, CONNECT_TIMEOUT};
pub use status::{status, HostStatus, LauncherState, StatusReport};
pub use stop::{stop, StopReport, Stopped};
pub use systemd::{emit_units, unit_text, EmitError};
pub use up::{up, HostOutcome, Outcome, Progress, UpError, UpReport};
