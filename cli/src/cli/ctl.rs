//! `cohort ctl APP ...`: control of a running app through its launcher ([`cohort_runtime::ctl`]):
//! passivate and activate component instances, restart an actor, stop the app, list its actors.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use cohort_runtime::ctl::{ask, find_launchers, ActorLine, Command, Done, Launcher, Reply, Target};

use super::Failure;

pub(crate) const LONG_ABOUT: &str = "\
Control a running app through its launcher (`APP run`): passivate or activate component
instances, restart an actor, stop the app, or list its actors.

`ctl` finds the app's launchers by their control sockets, `<pid>-control.sock` in the app's
runtime directory ($XDG_RUNTIME_DIR/cohort/APP, else /tmp/cohort-UID/APP; --runtime-dir names
another), keeping those whose process lives. That directory has mode 0700: only the user who
runs the app (and root) can control it. With several launchers of the app on this machine, give
--launcher PID; `ctl` lists them.

passivate calls the instances' `on_passivate`; they then handle no messages and their timers
stop until `activate`, which starts the timers and calls `on_activate`. The launcher answers
once the actor confirmed it told them. restart stops the actor's process (SIGTERM, SIGKILL
after 5 s) and starts it again at once: not counted as a crash, no backoff. stop stops the app
as Ctrl-C does.";

pub(crate) const AFTER_HELP: &str = "\
Examples:
  cohort ctl DistributedEstimator status
  cohort ctl DistributedEstimator passivate Estimator.sensor    One instance
  cohort ctl DistributedEstimator activate Estimator            Every instance of an actor
  cohort ctl DistributedEstimator restart Aggregator
  cohort ctl DistributedEstimator stop --launcher 4242

Exit status: 0 when done, 1 when the launcher refused (unknown actor or instance, actor not
running), did not answer, or no single launcher of the app runs here; 2 on a usage error.";

/// Arguments of `cohort ctl`.
#[derive(Debug, Args)]
pub(crate) struct CtlArgs {
    /// The app, as its model names it.
    #[arg(value_name = "APP")]
    pub(crate) app: String,
    /// What to do.
    #[command(subcommand)]
    pub(crate) action: CtlAction,
    /// The app's runtime directory, where its launchers' control sockets are
    /// [default: $XDG_RUNTIME_DIR/cohort/APP, else /tmp/cohort-UID/APP].
    #[arg(long, value_name = "DIR", global = true)]
    pub(crate) runtime_dir: Option<PathBuf>,
    /// The launcher to ask, by pid, when several of the app run here.
    #[arg(long, value_name = "PID", global = true)]
    pub(crate) launcher: Option<u32>,
    /// How long to wait for the launcher's answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, global = true)]
    pub(crate) timeout_ms: u64,
}

/// What `cohort ctl` asks.
#[derive(Debug, Subcommand)]
pub(crate) enum CtlAction {
    /// List the launcher's actors: state, pid, restarts, passivated instances.
    Status,
    /// Passivate an instance (ACTOR.INSTANCE) or every instance of an actor (ACTOR).
    Passivate {
        /// ACTOR or ACTOR.INSTANCE.
        #[arg(value_name = "ACTOR[.INSTANCE]")]
        target: String,
    },
    /// Activate a passivated instance (ACTOR.INSTANCE) or every instance of an actor (ACTOR).
    Activate {
        /// ACTOR or ACTOR.INSTANCE.
        #[arg(value_name = "ACTOR[.INSTANCE]")]
        target: String,
    },
    /// Stop an actor's process and start it again at once.
    Restart {
        /// The actor.
        #[arg(value_name = "ACTOR")]
        actor: String,
    },
    /// Stop the app, as Ctrl-C does.
    Stop,
}

/// Runs `cohort ctl`.
pub(crate) fn run(args: &CtlArgs) -> Result<(), Failure> {
    let launcher = match choose(args) {
        Ok(l) => l,
        Err(why) => return refuse(&why),
    };
    let command = match &args.action {
        CtlAction::Status => Command::Status,
        CtlAction::Passivate { target } => Command::Passivate(Target::parse(target)),
        CtlAction::Activate { target } => Command::Activate(Target::parse(target)),
        CtlAction::Restart { actor } => Command::Restart { actor: actor.clone() },
        CtlAction::Stop => Command::Stop,
    };
    match ask(&launcher, command, Duration::from_millis(args.timeout_ms)) {
        Ok(Reply::Ok(done)) => {
            print!("{}", describe(&done));
            Ok(())
        }
        Ok(Reply::Err(e)) => refuse(&e.to_string()),
        Err(e) => refuse(&e.to_string()),
    }
}

/// Prints `why` as `ctl`'s error; exit status 1.
fn refuse(why: &str) -> Result<(), Failure> {
    eprintln!("cohort: error: {why}");
    Err(Failure::Invalid)
}

/// The launcher to ask: the one `--launcher` names, or the only one running.
fn choose(args: &CtlArgs) -> Result<Launcher, String> {
    let dir = args.runtime_dir.clone().unwrap_or_else(|| cohort_ports::default_runtime_dir(&args.app));
    let none = || format!("no launcher of {} runs here (none has a control socket in {})", args.app, dir.display());
    let launchers = find_launchers(&dir).map_err(|e| format!("{e}; is {} running as this user?", args.app))?;
    match (args.launcher, launchers.as_slice()) {
        (Some(pid), found) => found.iter().find(|l| l.pid == pid).cloned().ok_or_else(|| {
            let pids: Vec<String> = found.iter().map(|l| l.pid.to_string()).collect();
            format!("no launcher of {} with pid {pid} runs here (running: {})", args.app, or_none(&pids))
        }),
        (None, []) => Err(none()),
        (None, [only]) => Ok(only.clone()),
        (None, found) => {
            let pids: Vec<String> = found.iter().map(|l| l.pid.to_string()).collect();
            Err(format!(
                "{} launchers of {} run here (pids {}); choose one with --launcher PID",
                found.len(),
                args.app,
                pids.join(", ")
            ))
        }
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// What the launcher did, as lines for people.
fn describe(done: &Done) -> String {
    match done {
        Done::Status { launcher, actors } => status(*launcher, actors),
        Done::Passivated { instances } => format!("passivated {}\n", instances.join(", ")),
        Done::Activated { instances } => format!("activated {}\n", instances.join(", ")),
        Done::Restarted { actor, old_pid, new_pid } => match old_pid {
            Some(old) => format!("restarted {actor}: pid {old} -> {new_pid}\n"),
            None => format!("restarted {actor}: pid {new_pid}\n"),
        },
        Done::Stopping => "stopping\n".to_owned(),
        other => format!("{other:?}\n"),
    }
}

/// The status table.
fn status(launcher: u32, actors: &[ActorLine]) -> String {
    let mut out = format!(
        "launcher {launcher}\n{:<20} {:<11} {:>8} {:>7} {:>9}  passive\n",
        "ACTOR", "STATE", "PID", "CRASHES", "RESTARTS"
    );
    for a in actors {
        let pid = a.pid.map_or("-".to_owned(), |p| p.to_string());
        out.push_str(&format!(
            "{:<20} {:<11} {:>8} {:>7} {:>9}  {}\n",
            a.name,
            a.state,
            pid,
            a.crashes,
            a.restarts_asked,
            if a.passive.is_empty() { "-".to_owned() } else { a.passive.join(", ") }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table_has_a_line_per_actor() {
        let line = ActorLine {
            name: "Estimator".into(),
            state: "running".into(),
            pid: Some(7),
            crashes: 0,
            restarts_asked: 1,
            passive: vec!["sensor".into()],
        };
        let text = status(3, &[line]);
        assert!(text.starts_with("launcher 3\nACTOR"), "{text}");
        assert!(text.contains("Estimator") && text.contains("sensor"), "{text}");
    }
}
