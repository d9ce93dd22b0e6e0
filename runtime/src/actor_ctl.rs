//! The actor's end of `cohort ctl` ([`crate::ctl`]): a DEALER, named `<actor>:<pid>`,
//! connected to its launcher's actor socket. The launcher relays passivations and activations
//! over it; the actor tells its component threads and confirms.

use std::collections::BTreeSet;

use slog::{info, warn};

use crate::control::{ActorEnd, ToComponent};
use crate::ctl::{ActorMessage, CtlError, LauncherMessage};

/// The actor's link to its launcher's control socket.
pub(crate) struct LauncherLink {
    socket: zmq::Socket,
    actor: String,
    /// The instances passivated, so that passivating twice calls `on_passivate` once.
    passive: BTreeSet<String>,
    log: slog::Logger,
}

impl LauncherLink {
    /// Connects actor `actor` to the launcher's actor socket `endpoint`.
    pub(crate) fn connect(
        ctx: &zmq::Context,
        endpoint: &str,
        actor: &str,
        log: &slog::Logger,
    ) -> Result<LauncherLink, zmq::Error> {
        let socket = ctx.socket(zmq::DEALER)?;
        socket.set_linger(0)?;
        socket.set_identity(format!("{actor}:{}", std::process::id()).as_bytes())?;
        socket.connect(endpoint)?;
        Ok(LauncherLink { socket, actor: actor.to_owned(), passive: BTreeSet::new(), log: log.clone() })
    }

    /// The socket to poll.
    pub(crate) fn socket(&self) -> &zmq::Socket {
        &self.socket
    }

    /// Carries out what the launcher asked, on `instances` (each instance's name and control
    /// channel), and confirms each request.
    pub(crate) fn serve<'a>(&mut self, instances: impl Iterator<Item = (&'a str, &'a ActorEnd)> + Clone) {
        while let Ok(frames) = self.socket.recv_multipart(zmq::DONTWAIT) {
            let Some(body) = frames.last() else { continue };
            let message = match minicbor_serde::from_slice::<LauncherMessage>(body) {
                Ok(m) => m,
                Err(e) => {
                    warn!(self.log, "a control request from the launcher does not decode; dropped"; "error" => %e);
                    continue;
                }
            };
            let result = self.apply(&message, instances.clone());
            let answer = ActorMessage { id: message.id, result };
            match minicbor_serde::to_vec(&answer) {
                Ok(bytes) => {
                    if let Err(e) = self.socket.send(bytes, zmq::DONTWAIT) {
                        warn!(self.log, "cannot confirm a control request"; "error" => %e);
                    }
                }
                Err(e) => warn!(self.log, "cannot encode a control answer"; "error" => %e),
            }
        }
    }

    /// Tells the instances `message` names; returns their names.
    fn apply<'a>(
        &mut self,
        message: &LauncherMessage,
        instances: impl Iterator<Item = (&'a str, &'a ActorEnd)>,
    ) -> Result<Vec<String>, CtlError> {
        let mut told = Vec::new();
        let mut known = Vec::new();
        for (name, control) in instances {
            known.push(name.to_owned());
            if message.instance.as_deref().is_some_and(|i| i != name) {
                continue;
            }
            told.push(name.to_owned());
            if message.passivate {
                if self.passive.insert(name.to_owned()) {
                    control.send(ToComponent::Passivate);
                }
            } else if self.passive.remove(name) {
                control.send(ToComponent::Activate);
            }
        }
        if told.is_empty() {
            return Err(CtlError::UnknownInstance {
                actor: self.actor.clone(),
                instance: message.instance.clone().unwrap_or_default(),
                known,
            });
        }
        let what = if message.passivate { "passivated on request" } else { "activated on request" };
        info!(self.log, "{}", what; "instances" => ?told);
        Ok(told)
    }
}
