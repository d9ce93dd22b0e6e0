//! The launcher every app binary offers: `run` starts this host's actors, one process each, and
//! supervises them; when no discovery daemon answers, it starts the host's daemon as a process
//! of its own that outlives it ([`host_daemon`]), so that the host's launchers share it.
//!
//! ```no_run
//! use cohort_runtime::{launch, AppModel, Components};
//!
//! fn main() -> std::process::ExitCode {
//!     let model = AppModel::embedded("hello.riaps", "app Hello { message M; }");
//!     launch(model, Components::new())
//! }
//! ```

mod budgets;
mod ctl_server;
mod host_daemon;
mod model;
mod monitor;
mod peers;
mod redis_args;
mod restart;
mod security;
mod supervise;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use cohort_budgets::Budget;
use cohort_model::Diagnostic;
use cohort_ports::Interface;
use slog::{error, info, o};

pub use model::AppModel;
pub use redis_args::RedisArgs;
pub use restart::{Decision, RestartPolicy, RestartState};

use crate::actor::{device_instances, run_actor, ActorSettings, Part};
use crate::hosted::Components;
use crate::logging::{logger_keeping_warnings, Level};
use cohort_monitor::WarningRing;
use host_daemon::{DaemonPlan, HostLink};
use monitor::LauncherMonitor;
use peers::PeerDiscovery;
pub use peers::MONITOR_SERVICE;

/// The command line of an app binary.
#[derive(Debug, Parser)]
#[command(
    about = "A Cohort app: runs this host's actors of the app and keeps them running",
    after_help = "Examples:\n  APP run                                    Run every actor of the app on this host\n  APP run --deployment app.depl --host h1    Run the actors the deployment places on h1\n  APP run --duration 10 --log-format json    Stop after 10 s; JSON log lines\n  APP run --insecure                         Run unencrypted (warns; for a libzmq without CURVE)\n  APP run --metrics 127.0.0.1:9464           Serve Prometheus metrics and the live page there\n  APP run --host h1 --registry redis://10.0.0.1:6379/   Share discovery with the app's other hosts\n\nDiscovery: when no daemon answers at --daemon, the launcher starts this host's daemon as a\nprocess of its own, which the host's other launchers use too; it exits by itself once no\nlauncher or actor has used it for --daemon-idle seconds. See docs/runtime.md.\n\nSecurity: every port and the discovery daemon are encrypted and authenticated (CURVE) with the\napp's key file (--keys, else <key directory>/<APP>.key, made on first run; copy it to the\napp's other hosts). --insecure turns this off, with a warning; a libzmq without CURVE refuses\nto start without it. See docs/security.md.\n\nExit status: 0 when stopped, 1 when the model, the deployment, an argument, the keys or a\ncomponent implementation is wrong (or an actor keeps crashing), 2 on a usage error."
)]
struct LaunchCli {
    #[command(subcommand)]
    command: LaunchCommand,
}

#[derive(Debug, Subcommand)]
enum LaunchCommand {
    /// Start this host's actors, supervise them, stop them on Ctrl-C or SIGTERM.
    Run(Common),
    /// Run one actor in this process, its device instances excepted (what `run` starts for
    /// each actor), or one device instance of it (`--device`).
    #[command(hide = true)]
    Actor {
        /// The actor.
        name: String,
        /// Run this device instance of the actor alone (what `run` starts for each device).
        #[arg(long, value_name = "INSTANCE")]
        device: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Serve as this host's discovery daemon (what `run` starts when none answers).
    #[command(hide = true)]
    DiscoDaemon(host_daemon::serve::DaemonArgs),
}

/// Options of `run` (and of the actor processes it starts).
#[derive(Debug, Clone, Args)]
struct Common {
    /// Use this model file instead of the one built into the app.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Run the actors this deployment places on this host, with its arguments.
    #[arg(long, value_name = "FILE")]
    deployment: Option<PathBuf>,
    /// This host's name in the deployment [default: the host name].
    #[arg(long, value_name = "NAME")]
    host: Option<String>,
    /// The discovery daemon; when none answers, this host's is started there, as a process of
    /// its own that the host's other launchers share.
    #[arg(long, value_name = "ENDPOINT", default_value = cohort_discovery::protocol::DEFAULT_DAEMON_ENDPOINT)]
    daemon: String,
    /// The Redis server through which a daemon started here shares this host's providers with
    /// the app's other hosts: redis://HOST[:PORT][/DB], or rediss://… for TLS, without a
    /// password [default: none, this host only]. A daemon that runs already is used as it is.
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    #[command(flatten)]
    redis: RedisArgs,
    /// A daemon started here exits once no launcher or actor has used it for this long.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_idle)]
    daemon_idle: f64,
    /// The network interface global ports bind to [default: the first non-loopback IPv4].
    #[arg(long, value_name = "NAME")]
    interface: Option<String>,
    /// Stop the app after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Log as human-readable lines or as one JSON object per line.
    #[arg(long, value_enum, default_value = "human")]
    log_format: LogFormat,
    /// How much to log.
    #[arg(long, value_enum, default_value = "info")]
    log_level: Level,
    /// The app's key file, with CURVE [default: <key directory>/<APP>.key, made if missing].
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// The key directory: the app keys the discovery daemon admits and its own key
    /// [default: $XDG_CONFIG_HOME/cohort/keys, else ~/.config/cohort/keys].
    #[arg(long, value_name = "DIR")]
    keys_dir: Option<PathBuf>,
    /// Run without encryption or authentication (no CURVE): anyone who can reach the app's
    /// ports can read and send. Warns at start-up. Without it, a libzmq without CURVE refuses
    /// to start.
    #[arg(long)]
    insecure: bool,
    /// Serve the app's metrics on this address (HOST:PORT): Prometheus at /metrics, a live page
    /// of the app at /, its data as JSON at /api/view (what `cohort top` reads). See
    /// docs/operations.md.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Where an actor sends its reports (the launcher gives it to the actors it starts).
    #[arg(long, value_name = "ENDPOINT", hide = true)]
    monitor: Option<String>,
    /// Where an actor takes `cohort ctl` requests from (the launcher gives it to the actors it
    /// starts).
    #[arg(long, value_name = "ENDPOINT", hide = true)]
    control: Option<String>,
    /// A cgroup folder the launcher put the actor in, to read its use from (the launcher gives
    /// them to the actors whose budgets it enforces).
    #[arg(long, value_name = "DIR", hide = true)]
    cgroup: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Json,
}

impl Common {
    fn host(&self) -> Result<String, String> {
        match &self.host {
            Some(h) => Ok(h.clone()),
            None => crate::host::hostname().map_err(|e| format!("cannot read this host's name ({e}); give --host")),
        }
    }

    fn settings(&self, app: &str) -> Result<ActorSettings, String> {
        let asked = security::Asked::now(self.insecure);
        let (security, discovery) = security::for_actor(app, self.keys.as_deref(), self.keys_dir.as_deref(), asked)?;
        Ok(ActorSettings {
            daemon: self.daemon.clone(),
            interface: self.interface.clone().map_or(Interface::Auto, Interface::Named),
            security,
            discovery,
            monitor: self.monitor.clone(),
            control: self.control.clone(),
            cgroup: self.cgroup.clone(),
            ..ActorSettings::default()
        })
    }

    /// The arguments that give a child actor process the same view.
    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let mut push = |flag: &str, value: String| {
            args.push(flag.to_owned());
            args.push(value);
        };
        if let Some(m) = &self.model {
            push("--model", m.display().to_string());
        }
        if let Some(d) = &self.deployment {
            push("--deployment", d.display().to_string());
        }
        if let Some(h) = &self.host {
            push("--host", h.clone());
        }
        push("--daemon", self.daemon.clone());
        if let Some(i) = &self.interface {
            push("--interface", i.clone());
        }
        push("--log-format", if self.log_format == LogFormat::Json { "json" } else { "human" }.to_owned());
        push("--log-level", format!("{:?}", self.log_level).to_lowercase());
        if let Some(k) = &self.keys {
            push("--keys", k.display().to_string());
        }
        if let Some(d) = &self.keys_dir {
            push("--keys-dir", d.display().to_string());
        }
        if self.insecure {
            args.push("--insecure".to_owned());
        }
        if let Some(m) = &self.monitor {
            args.push("--monitor".to_owned());
            args.push(m.clone());
        }
        if let Some(c) = &self.control {
            args.push("--control".to_owned());
            args.push(c.clone());
        }
        args
    }
}

/// `--daemon-idle`: a number of seconds that a [`Duration`] holds.
fn parse_idle(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if Duration::try_from_secs_f64(s).is_ok() => Ok(s),
        _ => Err(format!("expected a number of seconds, at least 0, found {text:?}")),
    }
}

/// `error` and its sources, as one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Runs an app binary's command line: `run` (the launcher), or internally one actor or the
/// host's discovery daemon.
pub fn launch(model: AppModel, components: Components) -> ExitCode {
    let cli = LaunchCli::parse();
    let (common, actor) = match &cli.command {
        LaunchCommand::Run(common) => (common, None),
        LaunchCommand::Actor { name, device, common } => {
            let part = device.clone().map_or(Part::WithoutDevices, Part::Device);
            (common, Some((name.clone(), part)))
        }
        LaunchCommand::DiscoDaemon(args) => return host_daemon::serve::serve(args),
    };
    let warnings = WarningRing::new();
    let source = if actor.is_some() { "actor" } else { "launcher" };
    let log =
        logger_keeping_warnings(common.log_level, common.log_format == LogFormat::Json, Arc::clone(&warnings), source);
    let model = match &common.model {
        Some(path) => match AppModel::from_file(path) {
            Ok(m) => m,
            Err(e) => return fail(&e),
        },
        None => model,
    };
    let loaded = match model::load(&model, common.deployment.as_deref()) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let host = match common.host() {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    let log = log.new(o!("app" => loaded.app.name.name.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        return fail(&format!("cannot install the signal handler: {e}"));
    }
    match actor {
        Some((name, part)) => match common.settings(&loaded.app.name.name) {
            Ok(settings) => {
                let settings = ActorSettings { warnings, part, ..settings };
                run_one(&loaded, &name, &host, &components, &settings, &stop, &log)
            }
            Err(e) => fail(&e),
        },
        None => {
            // Everything the model and the deployment can tell is checked before any actor
            // starts, and reported at once: an actor never fails on it, so nothing crash-loops.
            let problems: Vec<String> = [loaded.check(&host), check_components(&loaded, &host, &components)]
                .into_iter()
                .filter_map(Result::err)
                .collect();
            if !problems.is_empty() {
                return fail(&problems.concat());
            }
            let actors = loaded.actors_here(&host);
            if actors.is_empty() {
                return fail(&format!("the deployment places no actor on host {host:?} (give --host)"));
            }
            if let Some(url) = &common.registry {
                if let Err(e) = common.redis.options(url).check(&host) {
                    return fail(&format!("--registry {url}: {}", chain(&e)));
                }
            }
            let app = &loaded.app.name.name;
            let secured = match security::for_launcher(
                app,
                common.keys.as_deref(),
                common.keys_dir.as_deref(),
                security::Asked::now(common.insecure),
                &log,
            ) {
                Ok(s) => s,
                Err(e) => return fail(&e),
            };
            // The actors get the key file's path and the key directory, never a key.
            let mut child = common.clone();
            if let Some(s) = &secured {
                child.keys = Some(s.key_file.clone());
                child.keys_dir = Some(s.dir.clone());
            }
            let (discovery, host_link) = match open_discovery(common, &child, app, &host, secured.as_ref(), &log) {
                Ok(opened) => opened,
                Err(e) => return fail(&e),
            };
            let children = child_processes(&loaded.app, &actors);
            let names: Vec<String> = children.iter().map(supervise::ChildSpec::name).collect();
            let metrics = common.metrics.as_deref();
            let monitor = match LauncherMonitor::start(&loaded.app, &host, &names, metrics, discovery, warnings, &log) {
                Ok(m) => m,
                Err(e) => return fail(&e),
            };
            child.monitor = Some(monitor.endpoint().to_owned());
            child.metrics = None;
            let instances = actors
                .iter()
                .map(|a| {
                    let names = loaded.app.actor(a).map(|m| m.instances.iter().map(|i| i.name.name.clone()).collect());
                    (a.clone(), names.unwrap_or_default())
                })
                .collect();
            let mut ctl = match ctl_server::CtlServer::bind(app, instances, &log) {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            child.control = Some(ctl.actor_endpoint().to_owned());
            let duration = common.duration.map(Duration::from_secs_f64);
            let interface = common.interface.clone().map_or(Interface::Auto, Interface::Named).device();
            let interface = interface.ok().flatten();
            let enforcement = budgets::Enforcement::open(app, interface.as_deref(), &children, &log);
            let supervision = supervise::Supervision {
                children: &children,
                child_args: &child.to_args(),
                duration,
                board: monitor.board(),
                ctl: &mut ctl,
                enforcement: &enforcement,
            };
            let outcome = supervise::run(supervision, host_link, &stop, &log);
            enforcement.remove();
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    error!(log, "the app stopped"; "error" => &e);
                    ExitCode::from(1)
                }
            }
        }
    }
}

/// The processes that run `actors` of `app`: each actor's, then one per device instance of it.
/// Each gets the actor's budget.
fn child_processes(app: &cohort_model::ast::App, actors: &[String]) -> Vec<supervise::ChildSpec> {
    let mut children = Vec::new();
    for actor in actors {
        let Some(model) = app.actor(actor) else { continue };
        let budget = Budget::of(model);
        let child = |device| supervise::ChildSpec { actor: actor.clone(), device, budget: budget.clone() };
        children.push(child(None));
        children.extend(device_instances(app, model).into_iter().map(|d| child(Some(d))));
    }
    children
}

/// Finds or starts the host's discovery daemon for `run` and registers the launcher with it;
/// `child` holds the options the actors get (their key file and directory), with which the
/// launcher reaches discovery too.
fn open_discovery(
    common: &Common,
    child: &Common,
    app: &str,
    host: &str,
    secured: Option<&security::AppSecurity>,
    log: &slog::Logger,
) -> Result<(PeerDiscovery, HostLink), String> {
    let plan = DaemonPlan {
        endpoint: &common.daemon,
        app,
        host,
        security: secured,
        registry: common.registry.as_deref().map(|url| (url, &common.redis)),
        idle: Duration::from_secs_f64(common.daemon_idle),
        log_format: common.log_format,
        log_level: common.log_level,
    };
    // The daemon first: a secured one makes the key (daemon.key) its clients need.
    let daemon = host_daemon::ensure(&plan, log)?;
    let settings = child.settings(app)?;
    let discovery =
        PeerDiscovery { daemon: settings.daemon, security: settings.discovery, interface: settings.interface };
    let link = HostLink::join(daemon, &plan, discovery.security.clone(), log)?;
    Ok((discovery, link))
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{}", message.trim_end());
    ExitCode::from(1)
}

/// Every component type the host's actors use must have an implementation: each missing one is
/// reported at its first instance in the model, with the instances of the host's actors that
/// use it.
fn check_components(loaded: &model::Loaded, host: &str, components: &Components) -> Result<(), String> {
    let registered: Vec<&str> = components.names().collect();
    // Each missing type, with where it is first used and every instance of it.
    let mut missing: Vec<(&cohort_model::ast::Ident, Vec<String>)> = Vec::new();
    for actor in loaded.actors_here(host) {
        let Some(model) = loaded.app.actor(&actor) else { continue };
        for instance in &model.instances {
            let ty = &instance.component;
            if registered.contains(&ty.name.as_str()) {
                continue;
            }
            let user = format!("`{}` of actor `{actor}`", instance.name.name);
            match missing.iter_mut().find(|(t, _)| t.name == ty.name) {
                Some((_, users)) => users.push(user),
                None => missing.push((ty, vec![user])),
            }
        }
    }
    if missing.is_empty() {
        return check_generated(loaded, host, components);
    }
    let registered = match registered.as_slice() {
        [] => "no component type is registered".to_owned(),
        names => format!("registered: {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
    };
    let mut out = String::new();
    for (ty, users) in missing {
        let (s, users) = (if users.len() == 1 { "" } else { "s" }, users.join(", "));
        let diagnostic = Diagnostic::error(
            ty.span,
            format!("no implementation of component type `{}` is registered (instance{s} {users})", ty.name),
        )
        .with_help(format!("{registered}; add it to the `Components` given to `launch`"));
        out.push_str(&diagnostic.render(&loaded.model));
    }
    Err(out)
}

/// Every instance of a component type generated from the model fits the code: its ports are
/// those the code was generated for, and its arguments fit the generated parameters.
fn check_generated(loaded: &model::Loaded, host: &str, components: &Components) -> Result<(), String> {
    let mut out = String::new();
    for actor in loaded.actors_here(host) {
        let Some(model) = loaded.app.actor(&actor) else { continue };
        // Arguments that do not resolve are reported by the parameter checks.
        let Ok(args) = loaded.component_args(&actor, host) else { continue };
        for (instance, args) in model.instances.iter().zip(&args) {
            let Some(component) = loaded.app.component(&instance.component.name) else { continue };
            let ports = cohort_model::describe_ports(component, Some(model));
            if let Err(why) = components.check_instance(&component.name.name, &ports, args) {
                let diagnostic = Diagnostic::error(
                    instance.component.span,
                    format!("instance `{}` of actor `{actor}` cannot run: {why}", instance.name.name),
                );
                out.push_str(&diagnostic.render(&loaded.model));
            }
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

/// The body of an actor process.
fn run_one(
    loaded: &model::Loaded,
    actor: &str,
    host: &str,
    components: &Components,
    settings: &ActorSettings,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> ExitCode {
    // Die with the launcher, so a killed launcher leaves no actor behind.
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets a flag of this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    let args = match loaded.component_args(actor, host) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    match &settings.part {
        Part::Device(device) => {
            info!(log, "device starting"; "actor" => actor, "instance" => device, "pid" => std::process::id());
        }
        _ => info!(log, "actor starting"; "actor" => actor, "pid" => std::process::id()),
    }
    match run_actor(&loaded.app, actor, args, components, settings, stop, log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!(log, "the actor failed"; "actor" => actor, "error" => %e);
            ExitCode::from(1)
        }
    }
}
