//! The control protocol: CBOR-encoded serde values, one frame each way.
//!
//! ```text
//!  cohort ctl (DEALER)                launcher (ROUTER, <pid>-control.sock)
//!    Request { version, command }  ──▶
//!                                  ◀──  Reply::Ok(Done) | Reply::Err(CtlError)
//!
//!  launcher (ROUTER, <pid>-actors.sock)        actor (DEALER, identity "<actor>:<pid>")
//!    LauncherMessage { id, command }  ──▶
//!                                     ◀──  ActorMessage { id, result }
//! ```
//!
//! Every request gets exactly one reply. A request of another protocol version gets
//! [`CtlError::Version`], whatever else it holds, so versions can be told apart as long as the
//! version field stays first and a number.

use serde::{Deserialize, Serialize};

/// The version of the protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// One request of `cohort ctl` to a launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// [`PROTOCOL_VERSION`] of the asker.
    pub version: u32,
    /// What to do.
    pub command: Command,
}

/// What `cohort ctl` asks of a launcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// The launcher's actors, their state, pid and passivated instances.
    Status,
    /// Passivate an instance, or every instance of an actor: `on_passivate`, then no messages
    /// or timers until activated.
    Passivate(Target),
    /// Activate a passivated instance, or every instance of an actor: timers start again and
    /// `on_activate` runs.
    Activate(Target),
    /// Stop an actor's process and start it again at once (not counted as a crash).
    Restart {
        /// The actor.
        actor: String,
    },
    /// Stop the app, as Ctrl-C does.
    Stop,
}

/// An actor, or one instance of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The actor.
    pub actor: String,
    /// The instance; none: every instance of the actor.
    pub instance: Option<String>,
}

impl Target {
    /// Parses `ACTOR` or `ACTOR.INSTANCE`.
    pub fn parse(text: &str) -> Target {
        match text.split_once('.') {
            Some((actor, instance)) => Target { actor: actor.to_owned(), instance: Some(instance.to_owned()) },
            None => Target { actor: text.to_owned(), instance: None },
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.instance {
            Some(i) => write!(f, "{}.{i}", self.actor),
            None => f.write_str(&self.actor),
        }
    }
}

/// A launcher's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Done.
    Ok(Done),
    /// Not done, and why.
    Err(CtlError),
}

/// What a launcher did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Done {
    /// The launcher's actors.
    Status {
        /// The launcher's pid.
        launcher: u32,
        /// One line per actor, in the order the launcher started them.
        actors: Vec<ActorLine>,
    },
    /// These instances were passivated (the actor confirmed it told them).
    Passivated {
        /// `actor.instance` of each.
        instances: Vec<String>,
    },
    /// These instances were activated (the actor confirmed it told them).
    Activated {
        /// `actor.instance` of each.
        instances: Vec<String>,
    },
    /// The actor was stopped and started again.
    Restarted {
        /// The actor.
        actor: String,
        /// Its process before.
        old_pid: Option<u32>,
        /// Its new process.
        new_pid: u32,
    },
    /// The app is stopping.
    Stopping,
}

/// An actor, as [`Done::Status`] tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorLine {
    /// The actor.
    pub name: String,
    /// `running`, or `restarting` (after a crash, or asked for).
    pub state: String,
    /// Its process.
    pub pid: Option<u32>,
    /// Restarts after crashes.
    pub crashes: u64,
    /// Restarts asked for with `cohort ctl restart`.
    pub restarts_asked: u64,
    /// Its instances that are passivated.
    pub passive: Vec<String>,
}

/// Why a launcher (or an actor) did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum CtlError {
    /// The request is of another protocol version: use a `cohort` of the same version as the app.
    #[error("the launcher speaks control protocol version {ours}, the request version {theirs}")]
    Version {
        /// The launcher's.
        ours: u32,
        /// The request's.
        theirs: u32,
    },
    /// The request did not decode.
    #[error("the launcher cannot read the request: {0}")]
    Malformed(String),
    /// No such actor runs under this launcher.
    #[error("unknown actor {actor:?} (this launcher runs: {})", known.join(", "))]
    UnknownActor {
        /// The actor asked for.
        actor: String,
        /// The launcher's actors.
        known: Vec<String>,
    },
    /// The actor has no such instance.
    #[error("actor {actor} has no instance {instance:?} (its instances: {})", known.join(", "))]
    UnknownInstance {
        /// The actor.
        actor: String,
        /// The instance asked for.
        instance: String,
        /// The actor's instances.
        known: Vec<String>,
    },
    /// The actor's process is not running (it is being restarted, or has failed), or has not
    /// connected to the launcher yet: try again.
    #[error("actor {0} is not running")]
    NotRunning(String),
    /// The actor did not confirm in time.
    #[error("actor {0} did not answer")]
    ActorDidNotAnswer(String),
    /// The app is stopping.
    #[error("the app is stopping")]
    Stopping,
}

/// What the launcher asks of an actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LauncherMessage {
    /// Names the exchange; the actor's answer carries it back.
    pub id: u64,
    /// Passivate (true) or activate (false).
    pub passivate: bool,
    /// The instance; none: every instance of the actor.
    pub instance: Option<String>,
}

/// An actor's answer to a [`LauncherMessage`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorMessage {
    /// The [`LauncherMessage::id`] answered.
    pub id: u64,
    /// The instances told; or why none was.
    pub result: Result<Vec<String>, CtlError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip_through_cbor() {
        let request =
            Request { version: PROTOCOL_VERSION, command: Command::Passivate(Target::parse("Estimator.sensor")) };
        let bytes = minicbor_serde::to_vec(&request).unwrap();
        assert_eq!(minicbor_serde::from_slice::<Request>(&bytes).unwrap(), request);
        let reply = Reply::Err(CtlError::UnknownActor { actor: "X".into(), known: vec!["A".into()] });
        let bytes = minicbor_serde::to_vec(&reply).unwrap();
        assert_eq!(minicbor_serde::from_slice::<Reply>(&bytes).unwrap(), reply);
        assert_eq!(Target::parse("Aggregator"), Target { actor: "Aggregator".into(), instance: None });
        assert!(minicbor_serde::from_slice::<Request>(b"\x01\x02").is_err());
    }
}
