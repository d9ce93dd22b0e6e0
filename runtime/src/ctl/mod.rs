//! Control of a running app from outside: `cohort ctl APP ...` asks the app's launcher, over a
//! ROUTER socket the launcher binds at `ipc://<app runtime dir>/<launcher pid>-control.sock`, to
//! passivate or activate component instances, restart an actor, stop the app, or say how its
//! actors are. The runtime directory has mode 0700, so only the user who runs the launcher (and
//! root) can reach the socket.
//!
//! ```no_run
//! use std::time::Duration;
//! use cohort_runtime::ctl::{find_launchers, ask, Command, Target};
//!
//! let dir = cohort_ports::default_runtime_dir("DistributedEstimator");
//! let launchers = find_launchers(&dir).unwrap();
//! let target = Target { actor: "Estimator".into(), instance: Some("sensor".into()) };
//! let reply = ask(&launchers[0], Command::Passivate(target), Duration::from_secs(10)).unwrap();
//! println!("{reply:?}");
//! ```

mod client;
mod protocol;

pub use client::{ask, control_endpoint, find_launchers, AskError, Launcher};
pub use protocol::{
    ActorLine, ActorMessage, Command, CtlError, Done, LauncherMessage, Reply, Request, Target, PROTOCOL_VERSION,
};
