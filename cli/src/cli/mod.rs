//! The `cohort` command line: the clap definitions (their doc comments are the help text), the
//! dispatch to each subcommand, and [`Failure`], the one way a subcommand reports that it failed.

mod check;
mod compile;
mod ctl;
mod deploy;
mod disco;
mod graph;
mod keygen;
mod load;
mod ls;
mod new;
mod output;
mod record;
mod top;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

const LONG_ABOUT: &str = "\
Cohort runs RIAPS-style distributed component applications over ZeroMQ.

An application is described by a model (.riaps): message types, components with their ports
(pub/sub, req/rep, clt/srv, qry/ans, timers), and actors that group component instances into
processes. A deployment (.depl) says which actors run on which hosts, with which arguments.
These commands read both file kinds, written exactly as for RIAPS.";

const AFTER_HELP: &str = "\
Examples:
  cohort new hello                       Write an example app crate into ./hello
  cohort check app.riaps app.depl        Check a model and a deployment of it
  cohort compile app.riaps -o App.json   Write the model as RIAPS JSON
  cohort graph app.riaps | dot -Tsvg > app.svg

Exit status: 0 on success, 1 when an input has errors, 2 on a usage error
(bad arguments, unreadable file, unknown file kind).";

const CHECK_LONG_ABOUT: &str = "\
Check .riaps models and .depl deployments and report every problem found.

Each file is parsed and checked; all errors and warnings go to standard error as
`FILE:LINE:COL: error: MESSAGE`, followed by the source line and a caret. Warnings do not fail
the check. A deployment given together with the model that declares its app is also checked
against that app: known actors, known and required parameters, matching argument types.
Nothing is written to standard output.";

const COMPILE_LONG_ABOUT: &str = "\
Compile a .riaps model or a .depl deployment to RIAPS's JSON.

A model gives the app's <App>.json, a deployment gives <App>-deplo.json, both as RIAPS's own
compiler writes them, pretty-printed. When a model declares several apps and --app is not
given, the output is one JSON object mapping \"<App>.json\" to each app's JSON. Errors and
warnings go to standard error; on error nothing is written.";

const GRAPH_LONG_ABOUT: &str = "\
Draw an app's actors, components and message flows as a Graphviz dot graph.

Each actor is a cluster holding one record per component instance, labelled
`instance : Component` and listing its ports. An edge joins every pair of matching ports:
pub to sub with the same message type; req to rep, clt to srv and qry to ans with the same
(request, reply) types, drawn from the client to the server. Timers and inside ports have no
edges. A model that declares several apps needs --app.";

const CHECK_AFTER_HELP: &str = "\
Examples:
  cohort check app.riaps                 Check one model
  cohort check app.riaps app.depl        Also check the deployment against the app it deploys
  cohort check apps/*/*.riaps            Check many models at once

Exit status: 0 when every file is valid (warnings allowed), 1 when any file has an error,
2 when a file cannot be read or is neither .riaps nor .depl.";

const COMPILE_AFTER_HELP: &str = "\
Examples:
  cohort compile app.riaps               Print the app's JSON
  cohort compile app.riaps -o App.json   Write it to App.json
  cohort compile app.riaps --app Hello   Pick one app of a model that declares several
  cohort compile app.depl                Print the deployment's JSON

Exit status: 0 on success, 1 when the input has errors (nothing is written),
2 on a usage error.";

const GRAPH_AFTER_HELP: &str = "\
Examples:
  cohort graph app.riaps | dot -Tsvg > app.svg
  cohort graph app.riaps --app Hello -o hello.dot

Edges follow RIAPS's discovery rules: a port only reaches ports whose message scope (set by
the `local` and `internal` lists of the hosting actor) is the same. Local flows, which stay on
one host, are dashed; internal flows, which stay inside one actor, are dotted.

Exit status: 0 on success, 1 when the model has errors, 2 on a usage error.";

const DISCO_LONG_ABOUT: &str = "\
Run this host's discovery daemon until interrupted (Ctrl-C, SIGTERM or SIGHUP).

An app's launcher (`APP run`) starts a daemon for its host by itself when none answers, which
exits once idle; run `cohort disco` for a daemon that stays up (under a service manager), which
the launchers then use.

Actors register the endpoints of their providing ports (pub, rep, srv, ans, group pub) with the
daemon of their host and look up the providers of their consuming ports; the daemon pushes every
later change, so ports connect and disconnect by themselves. Providers match consumers by app,
message type(s), port kind and scope: local services stay on this host, internal ones inside
their actor. Actors heartbeat; an actor silent for --timeout-ms is dropped and every consumer of
its providers is told. If the daemon restarts, actors register again by themselves.

With --registry memory (the default) the daemon serves this host only. With --registry redis the
daemons of several hosts share their global providers through one Redis server: each writes its
host's providers under keys that expire unless refreshed (--redis-ttl-ms), and learns the other
hosts' changes from Redis keyspace notifications, so a dead host's providers vanish within the TTL
and every consumer is told.

A Redis server that requires a password gets it from a file (--redis-password-file, mode 0600)
or from the COHORT_REDIS_PASSWORD environment variable, never from the command line; an ACL user
is named with --redis-user. A rediss:// URL connects with TLS, trusting the system's roots or the
CA certificate given with --redis-ca. A wrong or missing password and an untrusted certificate
stop the daemon at start (exit status 2), before anything is shared.

The daemon is secured (CURVE) with the key directory (--keys-dir): it admits only clients on
this host that hold the key of an app with a key file there, and an actor may register only for
the app of its key. The daemon makes its own keypair there (daemon.key) on first use; actors and
`cohort ls` read its public key from it. --insecure serves without CURVE, with a warning (the
apps must then run with --insecure too); a libzmq without CURVE refuses to start without it. See
docs/security.md.";

const DISCO_AFTER_HELP: &str = "\
Examples:
  cohort disco                                   Serve at tcp://127.0.0.1:9700
  cohort disco --endpoint tcp://127.0.0.1:9800   Serve elsewhere
  cohort disco --log-level debug --log-json      Log every request, as JSON lines
  cohort disco --registry redis --redis-url redis://10.0.0.1:6379/ --host node-1
  cohort disco --registry redis --redis-url rediss://redis.lan:6380/ --redis-ca /etc/cohort/redis-ca.pem \\
               --redis-user cohort --redis-password-file /etc/cohort/redis.password
  cohort disco --keys-dir /etc/cohort/keys       Admit the apps whose key files are there
  cohort disco --insecure                        Serve unencrypted, to apps run with --insecure
  cohort disco --metrics 127.0.0.1:9465          Serve Prometheus metrics at http://127.0.0.1:9465/metrics

Exit status: 0 when stopped by a signal, 2 when the daemon cannot start (address in use, Redis
refused the password or its certificate is not trusted, …).";

const KEYGEN_LONG_ABOUT: &str = "\
Make an app's CURVE keypair and write it to the app's key file.

An app's ports and its discovery daemon admit only holders of the app's keys (CURVE). The launcher (`APP run`) makes the key file on first run when there is none, so
one host needs no step; for several hosts, make the keys once and copy the file (keeping mode
0600) to the same place on every host, or give its path with `APP run --keys FILE`. The file
is written with mode 0600 and never replaced unless --force is given. See docs/security.md.";

const KEYGEN_AFTER_HELP: &str = "\
Examples:
  cohort keygen DistributedEstimator            Write ~/.config/cohort/keys/DistributedEstimator.key
  cohort keygen Microgrid --out mg.key          Write mg.key
  cohort keygen Microgrid --force               Replace the keys (copy the new file to every host)

Exit status: 0 when written, 2 when not (the file exists, libzmq has no CURVE, …).";

const NEW_LONG_ABOUT: &str = "\
Write a new Cohort app crate that builds and runs as it is.

From a model (--from app.riaps), or else from a small example model (a sensor publishing on a
timer and a logger subscribing, in one actor, written as NAME.riaps), `cohort new` writes a cargo
crate into ./NAME (or --dir):

  Cargo.toml         cohort-runtime, serde and slog; cohort-build, which generates code at build time
  build.rs           generates the app's typed layer from the model, at every build
  MODEL.riaps        the model, copied
  NAME.depl          every actor on every host, so that `run` starts them all on this one
  src/main.rs        includes the generated code and launches the app
  src/messages.rs    a serde struct per message: add the fields each carries
  src/components/    a file per component type, every handler a stub that logs what it got
  tests/app.rs       runs the app for 3 s and checks that every component instance logged
  README.md          how to build and run it, and where to write code

The crate depends on the Cohort checkout this `cohort` was built from, while it is still there
(path dependencies), else on the published version (Cargo.toml says how to point it at a
checkout); --cohort-path names another checkout. The model is checked first, as `cohort check`
does it: on an error, its diagnostics are printed and nothing is written. A folder that exists
and is not empty is written into only with --force.";

const NEW_AFTER_HELP: &str = "\
Examples:
  cohort new hello                                An example app in ./hello
  cohort new tankfarm --from tankfarm.riaps       A crate for the model's app in ./tankfarm
  cohort new tf --from tankfarm.riaps --dir apps/tf --cohort-path ~/src/cohort
  cd hello && cargo run -- run --deployment hello.depl

Exit status: 0 when written, 1 when the model has errors (nothing is written), 2 on a usage
error (a name cargo refuses, an unreadable model, a folder that is not empty, ...).";

const LS_LONG_ABOUT: &str = "\
Ask a discovery daemon what it knows: the apps and actors registered with it, the endpoints
their ports provide, the lookups of their consuming ports, and providers on other hosts.";

const LS_AFTER_HELP: &str = "\
Examples:
  cohort ls                                   Ask the daemon at tcp://127.0.0.1:9700
  cohort ls --json | jq '.actors[].actor'

A daemon secured with CURVE answers only this host's user: `ls` then authenticates with the
daemon's own key, daemon.key in the key directory (--keys-dir).

Exit status: 0 on success, 2 when the daemon does not answer.";

const TOP_LONG_ABOUT: &str = "\
Show a running app in the terminal: its actors, their ports' message rates, its groups and its
latest warnings, redrawn every second until Ctrl-C.

`top` reads the view that an app's launcher serves when run with `--metrics ADDR` (at
/api/view, the data of the live page at the same address), so it sees the actors of that
launcher's host. Per actor it shows the supervision state, pid, restarts, resident memory (RSS)
and CPU (100% is one core); under each actor, per component instance and port, the port's kind,
messages per second sent and received, bytes per second out and in, and frames dropped
so far. Then each group instance once, whichever actors' components joined it: its leader, term,
number of members and the actor.instance that leads it. Then the latest warnings. Rates are
worked out between an actor's last two reports, about half a second apart.

--once prints one view and exits; --once --json prints the view as JSON, as /api/view serves it
but pretty-printed, with every port's counters and `rates`, for scripts. While watching, a view
that cannot be read is reported at the top and read again at the next refresh.";

const TOP_AFTER_HELP: &str = "\
Examples:
  APP run --metrics 127.0.0.1:9464              Run an app with its monitor (another terminal)
  cohort top                                    Watch it at http://127.0.0.1:9464
  cohort top --url 10.0.0.2:9464 --interval 2   Another host's launcher, every 2 s
  cohort top --once --json | jq '.actors[].instances[].ports[] | {name, rates}'

Exit status: 0 after --once or when stopped with Ctrl-C, 1 when the app's view cannot be read
(nothing listens at URL, or it is not an app's monitor), 2 on a usage error.";

/// The `cohort` command line.
#[derive(Debug, Parser)]
#[command(
    name = "cohort",
    version,
    about = "Cohort: check, compile and draw RIAPS-style distributed component applications, and start new ones",
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check .riaps models and .depl deployments and report every problem found.
    #[command(long_about = CHECK_LONG_ABOUT, after_help = CHECK_AFTER_HELP)]
    Check(CheckArgs),
    /// Compile a .riaps model or a .depl deployment to RIAPS's JSON.
    #[command(long_about = COMPILE_LONG_ABOUT, after_help = COMPILE_AFTER_HELP)]
    Compile(CompileArgs),
    /// Draw an app's actors, components and message flows as a Graphviz dot graph.
    #[command(long_about = GRAPH_LONG_ABOUT, after_help = GRAPH_AFTER_HELP)]
    Graph(GraphArgs),
    /// Run this host's discovery daemon.
    #[command(long_about = DISCO_LONG_ABOUT, after_help = DISCO_AFTER_HELP)]
    Disco(DiscoArgs),
    /// List what a discovery daemon knows: actors, providers, lookups.
    #[command(long_about = LS_LONG_ABOUT, after_help = LS_AFTER_HELP)]
    Ls(LsArgs),
    /// Make an app's CURVE keypair and write its key file.
    #[command(long_about = KEYGEN_LONG_ABOUT, after_help = KEYGEN_AFTER_HELP)]
    Keygen(KeygenArgs),
    /// Write a new app crate that builds and runs: from a model, or a small example.
    #[command(long_about = NEW_LONG_ABOUT, after_help = NEW_AFTER_HELP)]
    New(NewArgs),
    /// Watch a running app: actors, per-port message rates, groups, warnings.
    #[command(long_about = TOP_LONG_ABOUT, after_help = TOP_AFTER_HELP)]
    Top(TopArgs),
    /// Deploy an app to its hosts over SSH; show, follow and stop it there.
    #[command(long_about = deploy::LONG_ABOUT, after_help = deploy::AFTER_HELP)]
    Deploy(Box<deploy::DeployArgs>),
    /// Control a running app: passivate, activate, restart an actor, stop, status.
    #[command(long_about = ctl::LONG_ABOUT, after_help = ctl::AFTER_HELP)]
    Ctl(ctl::CtlArgs),
    /// Record a running app's messages into an MCAP file.
    #[command(long_about = record::RECORD_LONG_ABOUT, after_help = record::RECORD_AFTER_HELP)]
    Record(record::RecordArgs),
    /// Publish a recording's messages into a running app.
    #[command(long_about = record::REPLAY_LONG_ABOUT, after_help = record::REPLAY_AFTER_HELP)]
    Replay(record::ReplayArgs),
    /// Read a recording: its channels and losses, or its messages as JSON.
    #[command(long_about = record::BAG_LONG_ABOUT)]
    Bag(record::BagArgs),
}

/// Arguments of `cohort top`.
#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// The app's monitor: the address given to `APP run --metrics ADDR`, as http://HOST:PORT or
    /// HOST:PORT.
    #[arg(long, value_name = "URL", default_value = top::DEFAULT_URL)]
    pub(crate) url: String,
    /// Print one view and exit.
    #[arg(long)]
    pub(crate) once: bool,
    /// Print the view as JSON, with every port's rates (needs --once).
    #[arg(long, requires = "once")]
    pub(crate) json: bool,
    /// Seconds between two refreshes (at least 0.1).
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = top::parse_interval)]
    pub(crate) interval: Duration,
}

/// Arguments of `cohort new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The crate's name, which also names its binary, its folder and its deployment (NAME.depl).
    #[arg(value_name = "NAME")]
    pub(crate) name: String,
    /// The app's model [default: a small example model, written as NAME.riaps].
    #[arg(long, value_name = "MODEL")]
    pub(crate) from: Option<PathBuf>,
    /// Write the crate into DIR instead of ./NAME.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Write into a folder that is not empty, replacing files of the same names.
    #[arg(long)]
    pub(crate) force: bool,
    /// Depend on the Cohort checkout at PATH [default: the one this `cohort` was built from,
    /// while it is still there, else the published version].
    #[arg(long, value_name = "PATH")]
    pub(crate) cohort_path: Option<PathBuf>,
}

/// Arguments of `cohort keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// The app's name, as its model declares it.
    #[arg(value_name = "APP")]
    pub(crate) app: String,
    /// Write the key file here [default: $XDG_CONFIG_HOME/cohort/keys/APP.key, else ~/.config/...].
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Replace an existing key file.
    #[arg(long)]
    pub(crate) force: bool,
}

/// Which registry the daemon shares with other hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum RegistryKind {
    /// This host only, in memory.
    Memory,
    /// Shared with the daemons of other hosts through a Redis server (--redis-url).
    Redis,
}

/// Arguments of `cohort disco`.
#[derive(Debug, Args)]
pub(crate) struct DiscoArgs {
    /// The endpoint to serve at.
    #[arg(long, value_name = "ENDPOINT", default_value = cohort_discovery::protocol::DEFAULT_DAEMON_ENDPOINT)]
    pub(crate) endpoint: String,
    /// This host's id, which keys its local services [default: the host name].
    #[arg(long, value_name = "ID")]
    pub(crate) host: Option<String>,
    /// Where providers are shared with other hosts.
    #[arg(long, value_enum, default_value = "memory")]
    pub(crate) registry: RegistryKind,
    /// The Redis server of `--registry redis`: redis://HOST[:PORT][/DB], or rediss://… for TLS.
    /// Never put a password in it (the command line is visible to every user in `ps`).
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379/")]
    pub(crate) redis_url: String,
    /// The Redis login and TLS options, shared with `APP run --registry`.
    #[command(flatten)]
    pub(crate) redis: cohort_runtime::launcher::RedisArgs,
    /// How long this host's entries outlive it in Redis (milliseconds); refreshed every third of it.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub(crate) redis_ttl_ms: u64,
    /// How often actors heartbeat, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub(crate) heartbeat_ms: u64,
    /// An actor silent this long (milliseconds) is dropped with all its providers.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub(crate) timeout_ms: u64,
    /// How much to log.
    #[arg(long, value_enum, default_value = "info")]
    pub(crate) log_level: cohort_runtime::logging::Level,
    /// Log JSON objects, one per line, instead of text.
    #[arg(long)]
    pub(crate) log_json: bool,
    /// The key directory, with CURVE: admit the apps whose key files are there
    /// [default: $XDG_CONFIG_HOME/cohort/keys, else ~/.config/cohort/keys].
    #[arg(long, value_name = "DIR")]
    pub(crate) keys_dir: Option<PathBuf>,
    /// Serve without encryption or authentication (no CURVE): anyone who can reach the
    /// endpoint can register and read. Warns at start-up. Without it, a libzmq without CURVE
    /// refuses to start.
    #[arg(long, conflicts_with = "keys_dir")]
    pub(crate) insecure: bool,
    /// Serve the daemon's Prometheus metrics at /metrics on this address (HOST:PORT; port 0
    /// picks a free one, which the log gives): requests, refusals, actors, providers, lookups,
    /// pushes. See docs/operations.md.
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
}

/// Arguments of `cohort ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// The daemon to ask.
    #[arg(long, value_name = "ENDPOINT", default_value = cohort_discovery::protocol::DEFAULT_DAEMON_ENDPOINT)]
    pub(crate) daemon: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// How long to wait for the daemon, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub(crate) timeout_ms: u64,
    /// The key directory of a daemon secured with CURVE (its daemon.key authenticates `ls`)
    /// [default: $XDG_CONFIG_HOME/cohort/keys, else ~/.config/cohort/keys].
    #[arg(long, value_name = "DIR")]
    pub(crate) keys_dir: Option<PathBuf>,
    /// Ask a daemon that runs with --insecure (no CURVE), whatever the key directory holds.
    #[arg(long, conflicts_with = "keys_dir")]
    pub(crate) insecure: bool,
}

/// Arguments of `cohort check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Models (.riaps) and deployments (.depl) to check.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
}

/// Arguments of `cohort compile`.
#[derive(Debug, Args)]
pub(crate) struct CompileArgs {
    /// The model (.riaps) or deployment (.depl) to compile.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Write the JSON to OUT instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub(crate) output: Option<PathBuf>,
    /// Compile only the app NAME of a model that declares several.
    #[arg(long, value_name = "NAME")]
    pub(crate) app: Option<String>,
}

/// Arguments of `cohort graph`.
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// The model (.riaps) to draw.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Write the dot text to OUT instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub(crate) output: Option<PathBuf>,
    /// Draw the app NAME; needed when the model declares several apps.
    #[arg(long, value_name = "NAME")]
    pub(crate) app: Option<String>,
}

/// Why a subcommand did not succeed; `main` turns it into the exit status.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An input has errors, and its diagnostics have been printed; or `cohort top` cannot read
    /// the app's view, and has said why; or `cohort deploy` failed on a host, or found one not
    /// running, and its report says so; or `cohort ctl`'s launcher refused or did not answer,
    /// and it has said why. Exit status 1.
    Invalid,
    /// The command could not do its work: a file cannot be read or written, is of an unknown
    /// kind, or the arguments do not fit the input. Exit status 2; `main` prints each error.
    Fatal(Vec<anyhow::Error>),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Fatal(vec![error])
    }
}

/// Runs the subcommand the command line asks for.
pub(crate) fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Check(args) => check::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Disco(args) => disco::run(args),
        Command::Ls(args) => ls::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::New(args) => new::run(args),
        Command::Top(args) => top::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Ctl(args) => ctl::run(args),
        Command::Record(args) => record::record(args),
        Command::Replay(args) => record::replay(args),
        Command::Bag(args) => record::bag(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
