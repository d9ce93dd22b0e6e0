//! An actor: one process hosting component instances, one thread each. The actor's main thread
//! talks to the host's discovery daemon for all of them and relays endpoint updates.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cohort_discovery::{ClientConfig, ClientSecurity, DiscoveryClient};
use cohort_model::ast;
use cohort_ports::{Addressing, Interface, PortFactory, PortKind, Scope, Security, SocketOptions};
use slog::{info, o, warn};

use crate::context::Identity;
use crate::control::{self, FromComponent, ToComponent};
use crate::executor::{thread_main, Plan};
use crate::hosted::Components;
use crate::params::ComponentArgs;

/// How an actor reaches the world.
#[derive(Debug, Clone)]
pub struct ActorSettings {
    /// The discovery daemon's endpoint.
    pub daemon: String,
    /// The interface global ports bind to.
    pub interface: Interface,
    /// Socket options of every port.
    pub options: SocketOptions,
    /// Socket security of every port (and so of the actor's group members).
    pub security: Security,
    /// How the actor authenticates itself to the discovery daemon.
    pub discovery: ClientSecurity,
    /// How long a component may take to build its ports and itself.
    pub start_timeout: Duration,
}

impl Default for ActorSettings {
    fn default() -> Self {
        ActorSettings {
            daemon: cohort_discovery::protocol::DEFAULT_DAEMON_ENDPOINT.to_owned(),
            interface: Interface::Auto,
            options: SocketOptions::default(),
            security: Security::None,
            discovery: ClientSecurity::None,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// Why an actor could not run.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// The model has no such actor.
    #[error("the app has no actor {0:?}")]
    UnknownActor(String),
    /// A component instance could not start.
    #[error("instance {instance} of {component}: {why}")]
    Component {
        /// The instance.
        instance: String,
        /// Its component type.
        component: String,
        /// Why.
        why: String,
    },
    /// Ports, discovery or threads failed.
    #[error("{0}")]
    Setup(String),
}

struct Hosted {
    instance: String,
    control: zmq::Socket,
    thread: Option<JoinHandle<()>>,
}

/// Runs actor `actor` of `app`, with one [`ComponentArgs`] per instance (in the actor's
/// instance order), until `stop` is set; then deactivates its components, unregisters from
/// discovery and returns.
pub fn run_actor(
    app: &ast::App,
    actor: &str,
    args: Vec<ComponentArgs>,
    components: &Components,
    settings: &ActorSettings,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), ActorError> {
    let model = app.actor(actor).ok_or_else(|| ActorError::UnknownActor(actor.to_owned()))?;
    let log = log.new(o!("actor" => actor.to_owned()));
    let ctx = zmq::Context::new();
    let addressing = Addressing::new(&app.name.name, actor, &settings.interface)
        .map_err(|e| ActorError::Setup(format!("cannot choose where ports bind: {e}")))?;
    let swept = addressing.remove_stale_ipc();
    if swept > 0 {
        info!(log, "removed ipc files of dead processes"; "files" => swept);
    }
    let mut config = ClientConfig::new(&app.name.name, actor);
    config.daemon = settings.daemon.clone();
    config.security = settings.discovery.clone();
    let mut disco = DiscoveryClient::connect(&ctx, config, log.clone())
        .map_err(|e| ActorError::Setup(format!("cannot register with discovery: {e}")))?;

    let locals: Vec<String> = model.locals.iter().map(|m| m.name.clone()).collect();
    let internals: Vec<String> = model.internals.iter().map(|m| m.name.clone()).collect();
    let mut hosted = Vec::new();
    let mut result = Ok(());
    for (instance, args) in model.instances.iter().zip(args) {
        let name = instance.name.name.clone();
        let Some(component) = app.component(&instance.component.name) else {
            result = Err(ActorError::Component {
                instance: name,
                component: instance.component.name.clone(),
                why: "the model has no such component type".into(),
            });
            break;
        };
        let factory = PortFactory::with_context(
            ctx.clone(),
            addressing.clone(),
            settings.options.clone(),
            settings.security.clone(),
            log.clone(),
        )
        .map_err(|e| ActorError::Setup(e.to_string()))?;
        let endpoint = format!("inproc://cohort-control/{actor}/{name}");
        let ours = ctx.socket(zmq::PAIR).map_err(|e| ActorError::Setup(e.to_string()))?;
        ours.bind(&endpoint).map_err(|e| ActorError::Setup(e.to_string()))?;
        let theirs = ctx.socket(zmq::PAIR).map_err(|e| ActorError::Setup(e.to_string()))?;
        theirs.connect(&endpoint).map_err(|e| ActorError::Setup(e.to_string()))?;
        let plan = Plan {
            identity: Identity {
                app: app.name.name.clone(),
                actor: actor.to_owned(),
                instance: name.clone(),
                component: component.name.name.clone(),
            },
            component: component.clone(),
            locals: locals.clone(),
            internals: internals.clone(),
            groups: app.groups.clone(),
            args,
            factory,
            components: components.clone(),
            log: log.new(o!("component" => format!("{actor}.{name}"))),
        };
        let thread = std::thread::Builder::new()
            .name(format!("{actor}.{name}"))
            .spawn(move || thread_main(plan, theirs))
            .map_err(|e| ActorError::Setup(format!("cannot start a thread: {e}")))?;
        let h = Hosted { instance: name.clone(), control: ours, thread: Some(thread) };
        match wait_ready(&h.control, settings.start_timeout) {
            Ok((provides, wants)) => {
                for p in provides {
                    let kind = PortKind::from_name(&p.kind).unwrap_or(PortKind::Pub);
                    let endpoint =
                        cohort_ports::Endpoint::parse(&p.endpoint).map_err(|e| ActorError::Setup(e.to_string()));
                    let registered = endpoint.and_then(|e| {
                        disco
                            .provide(&format!("{name}.{}", p.port), kind, &p.messages, Scope::from(p.scope), &e)
                            .map_err(|e| ActorError::Setup(format!("cannot register a provider: {e}")))
                    });
                    if let Err(e) = registered {
                        result = Err(e);
                    }
                }
                for w in wants {
                    let kind = PortKind::from_name(&w.kind).unwrap_or(PortKind::Sub);
                    match disco.lookup(&format!("{name}.{}", w.port), kind, &w.messages, Scope::from(w.scope)) {
                        Ok(endpoints) => control::send(
                            &h.control,
                            &ToComponent::Update {
                                port: w.port.clone(),
                                added: endpoints.iter().map(|e| e.as_str().to_owned()).collect(),
                                removed: Vec::new(),
                            },
                        ),
                        Err(e) => result = Err(ActorError::Setup(format!("cannot look up providers: {e}"))),
                    }
                }
            }
            Err(why) => {
                result = Err(ActorError::Component { instance: name, component: component.name.name.clone(), why });
            }
        }
        hosted.push(h);
        if result.is_err() {
            break;
        }
    }

    if result.is_ok() {
        for h in &hosted {
            control::send(&h.control, &ToComponent::Activate);
        }
        info!(log, "actor running"; "instances" => hosted.len());
        result = serve(&mut disco, &hosted, stop, &log);
    }

    for h in &hosted {
        control::send(&h.control, &ToComponent::Stop);
    }
    for h in &mut hosted {
        if let Some(t) = h.thread.take() {
            if t.join().is_err() {
                warn!(log, "a component thread panicked while stopping"; "instance" => &h.instance);
            }
        }
    }
    if let Err(e) = disco.goodbye() {
        warn!(log, "cannot unregister from discovery"; "error" => %e);
    }
    info!(log, "actor stopped");
    result
}

/// Waits for a component's first report.
fn wait_ready(
    control: &zmq::Socket,
    timeout: Duration,
) -> Result<(Vec<control::Provided>, Vec<control::Wanted>), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut items = [control.as_poll_item(zmq::POLLIN)];
        let _ = zmq::poll(&mut items, i64::try_from(left.as_millis()).unwrap_or(i64::MAX));
        match control::try_recv::<FromComponent>(control) {
            Some(FromComponent::Ready { provides, wants }) => return Ok((provides, wants)),
            Some(FromComponent::Failed(why)) => return Err(why),
            Some(FromComponent::Stopped) => return Err("the component thread ended".into()),
            // Group registrations are sent only after `Ready`.
            Some(FromComponent::Join { .. } | FromComponent::Leave { .. }) => {}
            None if left.is_zero() => return Err(format!("the component did not start within {timeout:?}")),
            None => {}
        }
    }
}

/// Registers a joined group's publisher with discovery and looks up the other members'.
fn join_group(disco: &mut DiscoveryClient, h: &Hosted, port: &str, messages: &str, endpoint: &str, log: &slog::Logger) {
    let key = format!("{}.{port}", h.instance);
    let registered = cohort_ports::Endpoint::parse(endpoint)
        .map_err(|e| e.to_string())
        .and_then(|e| disco.provide(&key, PortKind::GroupPub, messages, Scope::Global, &e).map_err(|e| e.to_string()));
    if let Err(e) = registered {
        warn!(log, "cannot register a group member with discovery"; "group" => &key, "error" => e);
        return;
    }
    match disco.lookup(&key, PortKind::GroupSub, messages, Scope::Global) {
        Ok(endpoints) => control::send(
            &h.control,
            &ToComponent::Update {
                port: port.to_owned(),
                added: endpoints.iter().map(|e| e.as_str().to_owned()).collect(),
                removed: Vec::new(),
            },
        ),
        Err(e) => warn!(log, "cannot look up group members"; "group" => &key, "error" => %e),
    }
}

/// Relays discovery updates to the components until `stop` is set.
fn serve(
    disco: &mut DiscoveryClient,
    hosted: &[Hosted],
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), ActorError> {
    while !stop.load(Ordering::Relaxed) {
        let updates = disco.poll().map_err(|e| ActorError::Setup(format!("discovery failed: {e}")))?;
        for update in updates {
            let Some((instance, port)) = update.port.split_once('.') else {
                continue;
            };
            if let Some(h) = hosted.iter().find(|h| h.instance == instance) {
                control::send(
                    &h.control,
                    &ToComponent::Update {
                        port: port.to_owned(),
                        added: update.added.iter().map(|e| e.as_str().to_owned()).collect(),
                        removed: update.removed.iter().map(|e| e.as_str().to_owned()).collect(),
                    },
                );
            }
        }
        for h in hosted {
            while let Some(report) = control::try_recv::<FromComponent>(&h.control) {
                match report {
                    FromComponent::Stopped => warn!(log, "a component thread ended"; "instance" => &h.instance),
                    FromComponent::Join { port, messages, endpoint } => {
                        join_group(disco, h, &port, &messages, &endpoint, log);
                    }
                    FromComponent::Leave { port, endpoint } => {
                        let key = format!("{}.{port}", h.instance);
                        let withdrawn = cohort_ports::Endpoint::parse(&endpoint)
                            .map_err(|e| e.to_string())
                            .and_then(|e| disco.withdraw(&e).map_err(|e| e.to_string()));
                        if let Err(e) = withdrawn.and_then(|()| disco.unlookup(&key).map_err(|e| e.to_string())) {
                            warn!(log, "cannot unregister a group member"; "group" => &key, "error" => e);
                        }
                    }
                    FromComponent::Ready { .. } | FromComponent::Failed(_) => {}
                }
            }
        }
        let wait = disco.next_deadline().saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        let mut items = vec![disco.socket().as_poll_item(zmq::POLLIN)];
        items.extend(hosted.iter().map(|h| h.control.as_poll_item(zmq::POLLIN)));
        match zmq::poll(&mut items, i64::try_from(wait.as_millis() + 1).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(ActorError::Setup(format!("poll failed: {e}"))),
        }
    }
    Ok(())
}
