//! `cohort-probe`: a tiny actor for the multi-process tests, until the runtime's actors exist.
//!
//! ```text
//! cohort-probe provide DAEMON APP ACTOR MESSAGE   publish a counter on a global pub port
//! cohort-probe consume DAEMON APP ACTOR MESSAGE   subscribe through discovery and report
//! cohort-probe disco ENDPOINT HOST [REDIS_URL]    run a discovery daemon (memory, or Redis with a 1 s TTL)
//! ```
//!
//! Each prints one line per event on standard output, flushed at once:
//! `READY <endpoint>`, `ADDED <endpoint>`, `REMOVED <endpoint>`, `MSG <n> FROM <endpoint>` (the
//! first message after each addition), so a test can follow what happens.

use std::io::Write as _;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use cohort_discovery::{
    ClientConfig, Daemon, DiscoveryClient, MemoryBackend, RedisBackend, RedisConfig, RegistryConfig,
};
use cohort_ports::{Addressing, Interface, PortFactory, PortKind, PortSpec, Scope, Security, SocketOptions};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn logger() -> slog::Logger {
    use slog::Drain as _;
    let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
    slog::Logger::root(slog_term::FullFormat::new(decorator).build().fuse(), slog::o!())
}

fn factory(app: &str, actor: &str) -> anyhow::Result<PortFactory> {
    let dir = std::env::temp_dir().join(format!("cohort-probe-{}", std::process::id()));
    let addressing = Addressing::with_runtime_dir(&Interface::Auto, dir, actor)?;
    let _ = app;
    Ok(PortFactory::new(addressing, SocketOptions::default(), Security::None, logger())?)
}

fn client(daemon: &str, app: &str, actor: &str) -> anyhow::Result<DiscoveryClient> {
    let mut config = ClientConfig::new(app, actor);
    config.daemon = daemon.to_owned();
    config.request_timeout = Duration::from_secs(5);
    Ok(DiscoveryClient::connect(&zmq::Context::new(), config, logger())?)
}

fn wait(socket: &zmq::Socket, until: Instant) -> anyhow::Result<()> {
    let left = until.saturating_duration_since(Instant::now());
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    match zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX)) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn provide(daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = factory(app, actor)?;
    let mut publisher = factory.publisher(&PortSpec::new("probe", "out", PortKind::Pub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    disco.provide("probe.out", PortKind::Pub, message, Scope::Global, publisher.endpoint())?;
    say(&format!("READY {}", publisher.endpoint()));
    let mut n: u64 = 0;
    loop {
        n += 1;
        publisher.send(&n)?;
        disco.poll()?;
        wait(disco.socket(), Instant::now() + Duration::from_millis(10))?;
    }
}

fn consume(daemon: &str, app: &str, actor: &str, message: &str) -> anyhow::Result<()> {
    let factory = factory(app, actor)?;
    let mut sub = factory.subscriber(&PortSpec::new("probe", "in", PortKind::Sub, Scope::Global, message))?;
    let mut disco = client(daemon, app, actor)?;
    let mut fresh = Vec::new();
    for endpoint in disco.lookup("probe.in", PortKind::Sub, message, Scope::Global)? {
        sub.add_endpoint(&endpoint)?;
        say(&format!("ADDED {endpoint}"));
        fresh.push(endpoint);
    }
    say("READY");
    loop {
        for update in disco.poll()? {
            for endpoint in update.added {
                sub.add_endpoint(&endpoint)?;
                say(&format!("ADDED {endpoint}"));
                fresh.push(endpoint);
            }
            for endpoint in update.removed {
                sub.remove_endpoint(&endpoint)?;
                fresh.retain(|e| *e != endpoint);
                say(&format!("REMOVED {endpoint}"));
            }
        }
        while let Some(m) = sub.recv::<u64>()? {
            if !fresh.is_empty() {
                // One provider in these tests: the first message after an addition is its.
                say(&format!("MSG {} FROM {}", m.value, fresh.remove(0)));
            }
        }
        let until = disco.next_deadline().min(Instant::now() + Duration::from_millis(10));
        let mut items = [disco.socket().as_poll_item(zmq::POLLIN), sub.socket().as_poll_item(zmq::POLLIN)];
        let left = until.saturating_duration_since(Instant::now());
        match zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn disco(endpoint: &str, host: &str, redis: Option<&str>) -> anyhow::Result<()> {
    let log = logger();
    let config = RegistryConfig::new(host);
    let backend: Box<dyn cohort_discovery::Backend + Send> = match redis {
        None => Box::new(MemoryBackend),
        Some(url) => {
            let mut redis = RedisConfig::new(host);
            redis.url = url.to_owned();
            redis.ttl = Duration::from_millis(1000);
            Box::new(RedisBackend::connect(redis, log.clone())?)
        }
    };
    let ctx = zmq::Context::new();
    let mut daemon = Daemon::bind(&ctx, endpoint, config, backend, log)?;
    say(&format!("READY {}", daemon.endpoint()));
    let stop = AtomicBool::new(false);
    daemon.run(&stop)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg =
        |i: usize| args.get(i).map(String::as_str).context("missing argument; see the doc comment of cohort-probe");
    match arg(0)? {
        "provide" => provide(arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "consume" => consume(arg(1)?, arg(2)?, arg(3)?, arg(4)?),
        "disco" => disco(arg(1)?, arg(2)?, args.get(3).map(String::as_str)),
        other => bail!("unknown command {other:?}: provide, consume or disco"),
    }
}
