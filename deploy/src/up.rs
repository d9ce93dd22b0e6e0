//! `deploy up`: the app's new version onto every host, in three phases.
//!
//! 1. **Probe** every host at once: reachable, the key accepted, the binary's machine, enough
//!    free space. Any failure stops here, and nothing has changed anywhere.
//! 2. **Upload** to every host at once, into `DIR/incoming/`, the version that runs stays as it
//!    is. Any failure (a full disk) removes what was copied, and nothing runs differently.
//! 3. **Replace** host by host, in the order of their names: stop the version that runs, move the
//!    new one into `current/` (the old one into `previous/`), start it and wait until its first
//!    actor started. When a host fails, the hosts this deploy started are stopped again (rolled
//!    back), the hosts not reached keep what they ran, and the report says so host by host.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::control::{control_script, deployed_note};
use crate::parallel::each;
use crate::plan::{unit_name, Plan, Supervision, CONTROL_SCRIPT, DEPLOYED_NOTE};
use crate::probe::{probe, Probed, Runs};
use crate::shell::quote;
use crate::ssh::{Failure, Ssh, Step, StepError};
use crate::staging::Staging;
use crate::systemd::unit_text;

/// Why `deploy up` could not begin; no host has been changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpError {
    /// The local folder for the generated files could not be written: check the temporary
    /// directory (`TMPDIR`).
    #[error("cannot write the files to copy in {path}: {source}")]
    Staging {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What `deploy up` did on each host, and what runs there now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpReport {
    /// The app.
    pub app: String,
    /// Every host, in the order of their names.
    pub hosts: Vec<HostOutcome>,
}

impl UpReport {
    /// Whether every host started the new version.
    pub fn all_started(&self) -> bool {
        self.hosts.iter().all(|h| matches!(h.outcome, Outcome::Started { .. }))
    }
}

impl fmt::Display for UpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for host in &self.hosts {
            writeln!(f, "{host}")?;
        }
        Ok(())
    }
}

/// One host's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostOutcome {
    /// The host.
    pub host: String,
    /// What happened there.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What happened on one host.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// The new version runs.
    Started {
        /// Its launcher's process id.
        pid: u32,
        /// Its supervisor.
        supervision: Supervision,
    },
    /// This deploy started the new version, then stopped it because another host failed.
    RolledBack {
        /// The host whose failure caused it.
        because: String,
        /// Why the stop failed, if it did (the new version may still run).
        #[serde(serialize_with = "maybe_error_text")]
        error: Option<StepError>,
    },
    /// This host failed.
    Failed {
        /// The failing step and what the host said.
        #[serde(serialize_with = "error_text")]
        error: StepError,
        /// What runs there now.
        runs: Runs,
    },
    /// Left as it was, because another host failed first.
    Unchanged {
        /// The host whose failure caused it.
        because: String,
        /// What runs there.
        runs: Runs,
    },
}

/// An error as its message, in the JSON report.
fn error_text<S: serde::Serializer>(error: &StepError, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&error.to_string())
}

/// An error, if any, as its message, in the JSON report.
fn maybe_error_text<S: serde::Serializer>(error: &Option<StepError>, s: S) -> Result<S::Ok, S::Error> {
    match error {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

impl fmt::Display for HostOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs = |runs: &Runs| match runs {
            Runs::Nothing => "nothing of the app runs there",
            Runs::Previous => "the version deployed before still runs there",
            Runs::Unknown => "what runs there is unknown",
        };
        match &self.outcome {
            Outcome::Started { pid, supervision } => write!(f, "{}: started (pid {pid}, {supervision})", self.host),
            Outcome::RolledBack { because, error: None } => {
                write!(
                    f,
                    "{}: rolled back (stopped again because {because} failed); nothing of the app runs there",
                    self.host
                )
            }
            Outcome::RolledBack { because, error: Some(e) } => write!(
                f,
                "{}: the roll-back after {because} failed: {}; the new version may still run there",
                self.host, e.failure
            ),
            Outcome::Failed { error, runs: r } => write!(f, "{error}; {}", runs(r)),
            Outcome::Unchanged { because, runs: r } => {
                write!(f, "{}: unchanged because {because} failed; {}", self.host, runs(r))
            }
        }
    }
}

/// Reports how a deploy goes, host by host, as it goes (`progress(host, what)`).
pub type Progress<'a> = &'a (dyn Fn(&str, &str) + Sync);

/// Deploys `plan`'s version to every host of it; see the module's documentation for the order
/// and what a failure leaves.
pub fn up(plan: &Plan, progress: Progress<'_>) -> Result<UpReport, UpError> {
    let hosts: Vec<Ssh<'_>> = plan.hosts.iter().map(Ssh::new).collect();
    let outcomes = match probe_all(plan, &hosts, progress) {
        Err(outcomes) => outcomes,
        Ok(probed) => match upload_all(plan, &hosts, &probed, progress)? {
            Err(outcomes) => outcomes,
            Ok(()) => replace_each(&hosts, &probed, progress),
        },
    };
    let hosts = plan.hosts.iter().zip(outcomes).map(|(h, outcome)| HostOutcome { host: h.name.clone(), outcome });
    Ok(UpReport { app: plan.app.clone(), hosts: hosts.collect() })
}

/// Phase 1: what every host answered; or, when a host failed, every host's outcome.
fn probe_all(plan: &Plan, hosts: &[Ssh<'_>], progress: Progress<'_>) -> Result<Vec<Probed>, Vec<Outcome>> {
    let probes = each(hosts, |ssh| {
        progress(&ssh.host().name, "connecting");
        // A host that could not be asked may run anything; one that answered said what runs.
        let probed = probe(ssh, &plan.app).map_err(|e| (e, Runs::Unknown))?;
        check(plan, ssh, &probed).map_err(|e| (e, probed.runs))?;
        Ok(probed)
    });
    let Some(first) = probes.iter().find_map(|r| r.as_ref().err().map(|(e, _)| e.host.clone())) else {
        return Ok(probes.into_iter().filter_map(Result::ok).collect());
    };
    Err(probes
        .into_iter()
        .map(|p| match p {
            Ok(probed) => Outcome::Unchanged { because: first.clone(), runs: probed.runs },
            Err((error, runs)) => Outcome::Failed { error, runs },
        })
        .collect())
}

/// Phase 2: the new version copied to every host's `incoming/`; or, when a copy failed, the
/// copies removed and every host's outcome.
fn upload_all(
    plan: &Plan,
    hosts: &[Ssh<'_>],
    probed: &[Probed],
    progress: Progress<'_>,
) -> Result<Result<(), Vec<Outcome>>, UpError> {
    let staging = Staging::new().map_err(|source| UpError::Staging { path: std::env::temp_dir(), source })?;
    let mut files = Vec::new();
    for (ssh, p) in hosts.iter().zip(probed) {
        let staged = stage(plan, ssh, p, &staging)
            .map_err(|source| UpError::Staging { path: staging.path().to_owned(), source })?;
        files.push(staged);
    }
    let work: Vec<(Ssh<'_>, &Probed, &Vec<PathBuf>)> =
        hosts.iter().zip(probed).zip(&files).map(|((s, p), f)| (*s, p, f)).collect();
    let uploads = each(&work, |(ssh, p, files)| {
        let mib = plan.upload_size().div_ceil(1 << 20);
        progress(&ssh.host().name, &format!("uploading {mib} MiB to {}", p.dir.join("incoming")));
        upload(ssh, p, files)
    });
    let Some(first) = first_failure(&uploads) else { return Ok(Ok(())) };
    each(&work, |(ssh, p, _)| clean_up(ssh, p));
    Ok(Err(uploads
        .into_iter()
        .zip(probed)
        .map(|(u, p)| match u {
            Ok(()) => Outcome::Unchanged { because: first.clone(), runs: p.runs },
            Err(error) => Outcome::Failed { error, runs: p.runs },
        })
        .collect()))
}

/// Phase 3: each host's running version replaced by the new one, host by host; when a host
/// fails, the hosts started before it are stopped again and those after it left as they are.
fn replace_each(hosts: &[Ssh<'_>], probed: &[Probed], progress: Progress<'_>) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::new();
    for (i, (ssh, p)) in hosts.iter().zip(probed).enumerate() {
        progress(&ssh.host().name, "replacing the running version");
        let (error, runs) = match replace(ssh, p) {
            Ok(pid) => {
                progress(&ssh.host().name, &format!("started (pid {pid})"));
                outcomes.push(Outcome::Started { pid, supervision: p.supervision });
                continue;
            }
            Err(failed) => failed,
        };
        let failed = ssh.host().name.clone();
        for (done, (ssh, p)) in outcomes.iter_mut().zip(hosts.iter().zip(probed)) {
            progress(&ssh.host().name, &format!("rolling back because {failed} failed"));
            let stopped = ssh.run(Step::RollBack, &control(p, "stop")).err();
            *done = Outcome::RolledBack { because: failed.clone(), error: stopped };
        }
        outcomes.push(Outcome::Failed { error, runs });
        for (ssh, p) in hosts.iter().zip(probed).skip(i + 1) {
            let _ = clean_up(ssh, p);
            outcomes.push(Outcome::Unchanged { because: failed.clone(), runs: p.runs });
        }
        break;
    }
    outcomes
}

/// The name of the first host that failed, if one did.
fn first_failure<T>(results: &[Result<T, StepError>]) -> Option<String> {
    results.iter().find_map(|r| r.as_ref().err().map(|e| e.host.clone()))
}

/// The binary must run on the host, and the new version fit in its free space.
fn check(plan: &Plan, ssh: &Ssh<'_>, probed: &Probed) -> Result<(), StepError> {
    if !plan.machine.runs_on(&probed.arch) {
        let failure = Failure::WrongMachine { binary: plan.machine.describe(), host: probed.arch.clone() };
        return Err(ssh.error(Step::Check, failure));
    }
    // The copy, and room for its log and ipc files.
    let needed_kib = plan.upload_size().div_ceil(1024) + 1024;
    if probed.free_kib < needed_kib {
        let failure = Failure::NoSpace { dir: probed.dir.path().to_owned(), free_kib: probed.free_kib, needed_kib };
        return Err(ssh.error(Step::Check, failure));
    }
    Ok(())
}

/// Every local file to copy to the host: the plan's (copied under their host names when these
/// differ) and the host's generated ones.
fn stage(plan: &Plan, ssh: &Ssh<'_>, probed: &Probed, staging: &Staging) -> std::io::Result<Vec<PathBuf>> {
    let host = ssh.host();
    let sub = format!("host-{}", host.name);
    let mut files = Vec::new();
    for upload in &plan.uploads {
        if upload.local.file_name().is_some_and(|n| n.to_string_lossy() == upload.name) {
            files.push(upload.local.clone());
        } else {
            files.push(staging.copy(&sub, &upload.name, &upload.local, upload.mode)?);
        }
    }
    let script = control_script(plan, host, &probed.dir, probed.supervision);
    files.push(staging.write(&sub, CONTROL_SCRIPT, &script, 0o700)?);
    files.push(staging.write(&sub, DEPLOYED_NOTE, &deployed_note(plan), 0o644)?);
    if probed.supervision != Supervision::Process {
        let unit = unit_text(plan, host, &probed.dir, probed.supervision);
        files.push(staging.write(&sub, &unit_name(&plan.app, &host.name), &unit, 0o644)?);
    }
    Ok(files)
}

/// A fresh `DIR/incoming/` with the new version in it.
fn upload(ssh: &Ssh<'_>, probed: &Probed, files: &[PathBuf]) -> Result<(), StepError> {
    let dir = quote(probed.dir.path());
    let prepare =
        format!("set -e\nmkdir -p {dir}\nchmod 700 {dir}\nrm -rf {dir}/incoming\nmkdir -m 700 {dir}/incoming\n");
    ssh.run(Step::Upload, &prepare)?;
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    ssh.copy(Step::Upload, &paths, &probed.dir.join("incoming")).map_err(|e| diagnose(ssh, probed, e))
}

/// A failed copy's error, with what the host says when a file is written where the copy went
/// and how much room is left there: scp's own message for a full disk can be as vague as
/// `Failure`.
fn diagnose(ssh: &Ssh<'_>, probed: &Probed, error: StepError) -> StepError {
    let Failure::Remote { status, stderr } = &error.failure else { return error };
    let incoming = quote(&probed.dir.join("incoming"));
    let script = format!(
        "f={incoming}/.cohort-write-check\n\
         (: >\"$f\") 2>&1\n\
         rm -f \"$f\"\n\
         df -Pk {incoming} | awk 'NR == 2 {{ print $4 \" KiB free\" }}'\n\
         df -Pi {incoming} | awk 'NR == 2 && $4 != \"-\" {{ print $4 \" inodes free\" }}'\n"
    );
    match ssh.run(Step::Upload, &script) {
        Ok(said) if !said.trim().is_empty() => {
            let said: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            // scp says what failed for each file; the first says enough.
            let mut lines = stderr.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().unwrap_or_default();
            let more = match lines.count() {
                0 => String::new(),
                n => format!(" (and {n} more lines)"),
            };
            let stderr = format!("{first}{more}; the host says: {}", said.join("; "));
            StepError { failure: Failure::Remote { status: *status, stderr }, ..error }
        }
        _ => error,
    }
}

/// Removes `DIR/incoming/`.
fn clean_up(ssh: &Ssh<'_>, probed: &Probed) -> Result<String, StepError> {
    ssh.run(Step::CleanUp, &format!("rm -rf {}\n", quote(&probed.dir.join("incoming"))))
}

/// The script that runs `command` of the current version's control script.
fn control(probed: &Probed, command: &str) -> String {
    format!("exec sh {} {command}\n", quote(&probed.dir.current(CONTROL_SCRIPT)))
}

/// Stops what runs, swaps the new version in and starts it, in one SSH session (the host runs
/// no version for as short a time as can be): its launcher's pid; or the failing step's error
/// and what runs on the host after it.
fn replace(ssh: &Ssh<'_>, probed: &Probed) -> Result<u32, (StepError, Runs)> {
    // The control script of the version that runs, then (after the swap) of the new one.
    let control = quote(&probed.dir.current(CONTROL_SCRIPT));
    let dir = quote(probed.dir.path());
    // Each step says its name first, so a failure is put down to the right one.
    let script = format!(
        "echo 'step {stop}'\n\
         if [ -f {control} ]; then sh {control} stop || exit 1; fi\n\
         echo 'step {swap}'\n\
         (set -e; cd {dir}; rm -rf previous; if [ -d current ]; then mv current previous; fi; mv incoming current) || exit 1\n\
         echo 'step {start}'\n\
         exec sh {control} start\n",
        stop = step_name(Step::StopPrevious),
        swap = step_name(Step::Swap),
        start = step_name(Step::Start),
    );
    let (out, failed) = match ssh.run_keeping_output(Step::StopPrevious, &script) {
        Ok(out) => (out, None),
        Err((error, out)) => (out, Some(error)),
    };
    let reached = out.lines().filter_map(|l| l.strip_prefix("step ")).filter_map(step_named).next_back();
    if let Some(error) = failed {
        let step = reached.unwrap_or(Step::StopPrevious);
        // A stop that failed may have left the previous version running; after it, the
        // control script leaves nothing running when the start fails.
        let runs = if step == Step::StopPrevious { Runs::Unknown } else { Runs::Nothing };
        return Err((StepError { step, ..error }, runs));
    }
    out.lines()
        .find_map(|l| l.strip_prefix("started ").and_then(|pid| pid.trim().parse().ok()))
        .ok_or_else(|| (ssh.error(Step::Start, Failure::Unexpected(out.clone())), Runs::Unknown))
}

/// The steps of [`replace`], as its script names them.
const REPLACE_STEPS: [(Step, &str); 3] =
    [(Step::StopPrevious, "stop-previous"), (Step::Swap, "swap"), (Step::Start, "start")];

/// The name of a step of [`replace`] in its script.
fn step_name(step: Step) -> &'static str {
    REPLACE_STEPS.iter().find(|(s, _)| *s == step).map_or("?", |(_, name)| name)
}

/// The step of [`replace`] its script calls `name`.
fn step_named(name: &str) -> Option<Step> {
    REPLACE_STEPS.iter().find(|(_, n)| *n == name.trim()).map(|(s, _)| *s)
}
