//! The launcher's own registration with the host's discovery daemon, for as long as it runs:
//! a daemon that ends when idle counts it as a client, so it never ends under a launcher whose
//! actors are all between a crash and their restart. It registers as actor `$supervisor-<pid>`
//! of its app (`$` cannot start a model name) and provides nothing.

use cohort_discovery::{ClientConfig, ClientSecurity, DiscoveryClient};
use slog::{debug, warn};

/// A launcher registered with its host's daemon; see the module documentation.
pub(crate) struct Presence {
    client: DiscoveryClient,
    /// Whether the last poll failed (to warn once per failure, not every tick).
    failing: bool,
    /// The context of the client's socket.
    _ctx: zmq::Context,
}

impl Presence {
    /// Registers the launcher of `app` with the daemon at `daemon`; an error says why the
    /// daemon refused it (its actors would be refused alike).
    pub(crate) fn join(
        app: &str,
        daemon: &str,
        security: ClientSecurity,
        log: &slog::Logger,
    ) -> Result<Presence, String> {
        let ctx = zmq::Context::new();
        let mut config = ClientConfig::new(app, &format!("$supervisor-{}", std::process::id()));
        config.daemon = daemon.to_owned();
        config.security = security;
        let client = DiscoveryClient::connect(&ctx, config, log.clone())
            .map_err(|e| format!("cannot register with the discovery daemon at {daemon}: {e}"))?;
        Ok(Presence { client, failing: false, _ctx: ctx })
    }

    /// Heartbeats when due (and registers again after a daemon restart); never waits long.
    pub(crate) fn tick(&mut self, log: &slog::Logger) {
        match self.client.poll() {
            Ok(_) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                warn!(log, "the launcher cannot reach the discovery daemon"; "error" => %e);
            }
            Err(_) => {}
        }
    }

    /// Unregisters (after the actors stopped).
    pub(crate) fn leave(self, log: &slog::Logger) {
        if let Err(e) = self.client.goodbye() {
            debug!(log, "the launcher's goodbye to the discovery daemon was not answered"; "error" => %e);
        }
    }
}
