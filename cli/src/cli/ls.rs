//! `cohort ls`: asks a discovery daemon what it knows and prints it.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{bail, Context as _};
use cohort_discovery::protocol::Listing;
use cohort_discovery::{ClientSecurity, Reach, Service};
use cohort_ports::keyfile::{daemon_key_path, default_keys_dir};

use super::{Failure, LsArgs};

/// Prints the daemon's apps, actors, providers and lookups.
pub(crate) fn run(args: &LsArgs) -> Result<(), Failure> {
    let security = security(args)?;
    let ctx = zmq::Context::new();
    let listing = cohort_discovery::list_with(&ctx, &args.daemon, Duration::from_millis(args.timeout_ms), &security)
        .with_context(|| format!("cannot list the discovery daemon at {}", args.daemon))?;
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&listing).context("cannot write JSON")?;
        text.push('\n');
        text
    } else {
        render(&listing)
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::from(e).into()),
        _ => Ok(()),
    }
}

/// As a tool with the daemon's key when libzmq has CURVE and the key directory has a daemon key
/// (a secured daemon made it); plain with `--insecure` or otherwise.
fn security(args: &LsArgs) -> anyhow::Result<ClientSecurity> {
    if args.insecure {
        return Ok(ClientSecurity::None);
    }
    if !cohort_ports::libzmq_info().curve {
        if let Some(dir) = &args.keys_dir {
            bail!("--keys-dir {}: the linked libzmq has no CURVE; see docs/security.md", dir.display());
        }
        return Ok(ClientSecurity::None);
    }
    let dir = match (&args.keys_dir, default_keys_dir()) {
        (Some(dir), _) => dir.clone(),
        (None, Ok(dir)) => dir,
        (None, Err(_)) => return Ok(ClientSecurity::None),
    };
    if args.keys_dir.is_none() && !daemon_key_path(&dir).exists() {
        return Ok(ClientSecurity::None);
    }
    Ok(ClientSecurity::tool(&dir)?)
}

fn reach(service: &Service) -> String {
    match &service.reach {
        Reach::Global => "global".to_owned(),
        Reach::Host(host) => format!("local@{host}"),
        Reach::Actor(host, actor) => format!("internal@{host}/{actor}"),
    }
}

/// The listing as text: one block per app and actor.
fn render(listing: &Listing) -> String {
    let mut out = String::new();
    let mut actors: Vec<_> = listing.actors.iter().collect();
    actors.sort_by(|a, b| (&a.app, &a.actor).cmp(&(&b.app, &b.actor)));
    if actors.is_empty() && listing.remote.is_empty() {
        out.push_str("no actors registered\n");
    }
    let mut app = None;
    for actor in actors {
        if app != Some(&actor.app) {
            out.push_str(&format!("app {}\n", actor.app));
            app = Some(&actor.app);
        }
        out.push_str(&format!("  actor {} (pid {})\n", actor.actor, actor.pid));
        for (port, service, endpoint) in &actor.provides {
            out.push_str(&format!(
                "    provides {port}: {} {} {} at {endpoint}\n",
                service.kind,
                service.messages,
                reach(service)
            ));
        }
        for (port, service) in &actor.lookups {
            out.push_str(&format!("    looks up {port}: {} {} {}\n", service.kind, service.messages, reach(service)));
        }
    }
    if !listing.remote.is_empty() {
        out.push_str("other hosts\n");
        for (service, endpoint) in &listing.remote {
            out.push_str(&format!(
                "  {} {} {} of app {} at {endpoint}\n",
                service.kind,
                service.messages,
                reach(service),
                service.app
            ));
        }
    }
    out
}
