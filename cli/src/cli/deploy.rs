//! `cohort deploy`: the command line of `up`, `status`, `logs`, `stop` and `--emit-systemd`,
//! over the `cohort-deploy` library, which does the work and says what happened on each host.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand};
use cohort_deploy::{
    emit_units, follow_logs, logs, preflight, status, stop, up, DeployedHosts, HostEntry, HostsFile, Keys, Plan,
    PreflightError, Registry, UpRequest,
};

use super::Failure;

/// The long help of `cohort deploy`.
pub(crate) const LONG_ABOUT: &str = "\
Deploy an app to the hosts its deployment names, over SSH, and start, watch and stop it there.

A hosts file (TOML) maps each host name of the .depl to an SSH destination: address, user,
port, identity file, and the app's folder on the host (default: cohort/APP under the remote
user's home). `deploy up` copies the app's binary, the deployment, the model (--model) and the
app's key file there, and starts the host's launcher (`APP run --deployment … --host NAME
--registry URL`), which starts the host's discovery daemon on the shared Redis registry when
none runs. The launcher runs under a supervisor that outlives the SSH session: a systemd unit
where systemd runs (root, or a user with lingering), else a detached process with a pidfile.

Before connecting anywhere, `up` checks that the deployment and the hosts file name the same
hosts, that the binary is an ELF binary and the key file the app's and private. It then asks
every host its machine (the binary must be built for it) and free space, copies the new
version to every host beside the running one, and only then replaces the running version host
by host (stop, swap, start, wait for the first actor). If a host fails, the hosts this deploy
started are stopped again, and the report says per host what happened and what runs there.

ssh and scp run in batch mode (no prompts) with a connection timeout of 10 s. See
docs/deployment.md.";

/// The examples and exit status of `cohort deploy`.
pub(crate) const AFTER_HELP: &str = "\
Examples:
  cohort deploy up --hosts hosts.toml --deployment grid.depl --app target/release/microgrid \\
                   --keys Microgrid.key --registry redis://10.0.0.9:6379/
  cohort deploy status --hosts hosts.toml --deployment grid.depl
  cohort deploy logs host-a --hosts hosts.toml --deployment grid.depl --follow
  cohort deploy stop --hosts hosts.toml --deployment grid.depl
  cohort deploy --emit-systemd units/ --hosts hosts.toml --deployment grid.depl \\
                --app target/release/microgrid --keys Microgrid.key --registry redis://10.0.0.9:6379/

Exit status: 0 on success (every host started, stopped, or runs with all its actors), 1 when a
host failed or is not running (the report says which and what runs where), 2 when nothing was
done (a usage error, or a check before connecting failed).";

/// Arguments of `cohort deploy`: a subcommand, or `--emit-systemd DIR` with what `up` takes.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true, arg_required_else_help = true)]
pub(crate) struct DeployArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Option<DeployCommand>,
    /// Write each host's systemd unit (and a README of where the files go) into DIR, for
    /// installing by hand, instead of deploying; nothing is contacted.
    #[arg(long, value_name = "DIR", required = true)]
    pub(crate) emit_systemd: Option<PathBuf>,
    /// The app, its hosts and its version, as `up` takes them.
    #[command(flatten)]
    pub(crate) version: VersionArgs,
}

/// The subcommands of `cohort deploy`.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// Copy the app to its hosts and start it there, replacing the running version host by host.
    Up(UpArgs),
    /// Show each host's launcher (running or not, supervisor, version) and its actors and groups.
    Status(StatusArgs),
    /// Show a host's log (the launcher's and its actors').
    Logs(LogsArgs),
    /// Stop the app on every host (its launcher, its actors; their ipc files are removed).
    Stop(StopArgs),
}

/// The hosts file and the deployment, which every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// The hosts file: each host name of the deployment, with its SSH destination.
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) hosts: Option<PathBuf>,
    /// The deployment (.depl): the app, and which actors run on which host.
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) deployment: Option<PathBuf>,
}

/// What `up` (and `--emit-systemd`) deploys.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// The hosts and the deployment.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// The app's binary, built for the hosts' machine.
    #[arg(long = "app", value_name = "BINARY", required = true)]
    pub(crate) binary: Option<PathBuf>,
    /// A model file the launchers use instead of the one built into the binary.
    #[arg(long, value_name = "FILE")]
    pub(crate) model: Option<PathBuf>,
    /// The app's key file, copied to every host (mode 0600) [default: the app's file in this
    /// user's key directory, which `cohort keygen APP` makes].
    #[arg(long, value_name = "FILE")]
    pub(crate) keys: Option<PathBuf>,
    /// Run the app without CURVE (`APP run --insecure`).
    #[arg(long, conflicts_with = "keys")]
    pub(crate) insecure: bool,
    /// The Redis server the hosts' discovery daemons share: redis://HOST[:PORT][/DB] or
    /// rediss://… (TLS); needed for more than one host. No password in it: see
    /// --redis-password-file.
    #[arg(long, value_name = "URL")]
    pub(crate) registry: Option<String>,
    /// The Redis ACL user (needs --redis-password-file).
    #[arg(long, value_name = "NAME", requires = "registry")]
    pub(crate) redis_user: Option<String>,
    /// A local file with the Redis password (mode 0600), copied to every host.
    #[arg(long, value_name = "FILE", requires = "registry")]
    pub(crate) redis_password_file: Option<PathBuf>,
    /// A local PEM file with the CA certificate of a rediss:// server, copied to every host.
    #[arg(long, value_name = "FILE", requires = "registry")]
    pub(crate) redis_ca: Option<PathBuf>,
}

/// Arguments of `cohort deploy up`.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The app, its hosts and its version.
    #[command(flatten)]
    pub(crate) version: VersionArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cohort deploy status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The hosts and the deployment.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Print JSON: per host its state, pid, supervisor, version and its monitor's view.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Arguments of `cohort deploy logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The host, by its name in the deployment.
    #[arg(value_name = "HOST")]
    pub(crate) host: String,
    /// The hosts and the deployment.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// How many of the last lines to show.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100)]
    pub(crate) lines: u32,
    /// Keep showing what is logged, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub(crate) follow: bool,
}

/// Arguments of `cohort deploy stop`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// The hosts and the deployment.
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Also remove the app's folder on every host (its versions and its log).
    #[arg(long)]
    pub(crate) remove: bool,
}

/// Runs `cohort deploy`.
pub(crate) fn run(args: &DeployArgs) -> Result<(), Failure> {
    match (&args.command, &args.emit_systemd) {
        (Some(DeployCommand::Up(up)), _) => run_up(up),
        (Some(DeployCommand::Status(status)), _) => run_status(status),
        (Some(DeployCommand::Logs(logs)), _) => run_logs(logs),
        (Some(DeployCommand::Stop(stop)), _) => run_stop(stop),
        (None, Some(dir)) => run_emit(&args.version, dir),
        (None, None) => Err(anyhow!("give a subcommand (up, status, logs, stop) or --emit-systemd DIR").into()),
    }
}

/// A required option's value (clap has checked it is there).
fn given<'a, T>(value: &'a Option<T>, flag: &str) -> anyhow::Result<&'a T> {
    value.as_ref().ok_or_else(|| anyhow!("{flag} is required"))
}

/// The app, and the hosts of the hosts file it runs on: the deployment and the hosts file read,
/// and checked to name the same hosts.
fn targets(target: &TargetArgs) -> Result<(String, Vec<HostEntry>), Failure> {
    let hosts = HostsFile::read(given(&target.hosts, "--hosts")?).map_err(message)?;
    let deployed = DeployedHosts::read(given(&target.deployment, "--deployment")?).map_err(message)?;
    let entries = deployed.match_hosts(&hosts).map_err(fatal)?.into_iter().cloned().collect();
    Ok((deployed.app, entries))
}

/// Every pre-flight error, as the failure that prints them all.
fn fatal(errors: Vec<PreflightError>) -> Failure {
    Failure::Fatal(errors.into_iter().map(message).collect())
}

/// A library error as its message only: the deploy's errors say their cause in their message,
/// which `main`'s `{:#}` would print twice from the error's source chain.
fn message(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{error}")
}

/// The checked plan of `up` and `--emit-systemd`.
fn plan(version: &VersionArgs) -> Result<Plan, Failure> {
    let hosts = HostsFile::read(given(&version.target.hosts, "--hosts")?).map_err(message)?;
    let keys = match (&version.keys, version.insecure) {
        (_, true) => Keys::Insecure,
        (Some(file), false) => Keys::File(file.clone()),
        (None, false) => Keys::Default,
    };
    let request = UpRequest {
        deployment: given(&version.target.deployment, "--deployment")?.clone(),
        binary: given(&version.binary, "--app")?.clone(),
        model: version.model.clone(),
        keys,
        registry: version.registry.as_ref().map(|url| Registry {
            url: url.clone(),
            user: version.redis_user.clone(),
            password_file: version.redis_password_file.clone(),
            ca: version.redis_ca.clone(),
        }),
    };
    preflight(&request, &hosts).map_err(fatal)
}

/// Writes `text` to standard output; a closed pipe is no error.
fn print(text: &str) -> Result<(), Failure> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::from(e).into()),
        _ => Ok(()),
    }
}

fn run_up(args: &UpArgs) -> Result<(), Failure> {
    let plan = plan(&args.version)?;
    let started = std::time::Instant::now();
    let progress = |host: &str, what: &str| {
        let at = started.elapsed().as_secs_f64();
        let _ = writeln!(std::io::stderr().lock(), "[{at:5.1}s] {host}: {what}");
    };
    let report = up(&plan, &progress).map_err(message)?;
    print_report(&report, args.json)?;
    if report.all_started() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}

/// Prints a report as text, or as pretty JSON with `json`.
fn print_report<R: serde::Serialize + std::fmt::Display>(report: &R, json: bool) -> Result<(), Failure> {
    let text = if json {
        let mut text = serde_json::to_string_pretty(report).context("cannot write JSON")?;
        text.push('\n');
        text
    } else {
        report.to_string()
    };
    print(&text)
}

fn run_status(args: &StatusArgs) -> Result<(), Failure> {
    let (app, hosts) = targets(&args.target)?;
    let report = status(&hosts, &app);
    print_report(&report, args.json)?;
    if report.healthy() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}

fn run_logs(args: &LogsArgs) -> Result<(), Failure> {
    let (app, hosts) = targets(&args.target)?;
    let Some(host) = hosts.iter().find(|h| h.name == args.host) else {
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(anyhow!("no host {:?} in the deployment; it has {}", args.host, names.join(", ")).into());
    };
    if args.follow {
        follow_logs(host, &app, args.lines).map_err(message)?;
        return Ok(());
    }
    let text = logs(host, &app, args.lines).map_err(message)?;
    print(&text)
}

fn run_stop(args: &StopArgs) -> Result<(), Failure> {
    let (app, hosts) = targets(&args.target)?;
    let report = stop(&hosts, &app, args.remove);
    print(&report.to_string())?;
    if report.all_stopped() {
        Ok(())
    } else {
        Err(Failure::Invalid)
    }
}

fn run_emit(version: &VersionArgs, dir: &std::path::Path) -> Result<(), Failure> {
    let plan = plan(version)?;
    let written = emit_units(&plan, dir).map_err(message)?;
    let text: String = written.iter().map(|p| format!("wrote {}\n", p.display())).collect();
    print(&text)
}
