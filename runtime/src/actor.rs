//! An actor: one process hosting component instances, one thread each, and one group
//! coordination thread (`<actor>.groups`) that holds the group members of all of them. The
//! actor's main thread talks to the host's discovery daemon for all of them and relays endpoint
//! updates: those of ports to their components, those of groups to the coordination thread. It
//! also tells every component when its interface or another actor of the app goes up or down
//! (`watches.rs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use cohort_budgets::Budget;
use cohort_discovery::{port_messages, ClientConfig, ClientSecurity, DiscoveryClient};
use cohort_groups::MemberId;
use cohort_model::{ast, describe_ports};
use cohort_monitor::WarningRing;
use cohort_ports::{Addressing, Endpoint, Interface, PortFactory, PortKind, Scope, Security, SocketOptions};
use slog::{debug, info, o, warn};

use crate::actor_ctl::LauncherLink;
use crate::context::Identity;
use crate::control::{self, ActorEnd, DiscoveredPort, FromComponent, ToComponent};
use crate::coordinator::Coordinator;
use crate::executor::Plan;
use crate::group::GroupName;
use crate::hosted::Components;
use crate::limits::{LimitTally, LimitWatch};
use crate::metrics::{InstanceProbe, Reporter};
use crate::params::ComponentArgs;
use crate::portset::compare_shapes;
use crate::watches::Watches;

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
    /// The launcher's endpoint for the actor's reports ([`crate::metrics`]); none: the actor
    /// does not report.
    pub monitor: Option<String>,
    /// The launcher's endpoint for `cohort ctl` requests relayed to the actor
    /// ([`crate::ctl`]); none: the actor cannot be controlled from outside.
    pub control: Option<String>,
    /// The warnings of the actor's log, which its reports carry (the launcher taps its log
    /// into it: [`cohort_monitor::WarningTap`]).
    pub warnings: Arc<WarningRing>,
    /// Which of the actor's instances this process runs.
    pub part: Part,
    /// The cgroup folders the launcher put the process in, from which it reads its use
    /// against its budget; none: the launcher enforces no budget (the process measures its use
    /// itself).
    pub cgroup: Vec<PathBuf>,
}

/// Which of an actor's component instances a process runs. The launcher runs each device
/// instance (a `device` component type) in a process of its own and the actor's other
/// instances in another; then every port the model makes `internal` in the actor becomes
/// `local` (ipc), in both processes, so that the device and its actor still reach each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Part {
    /// Every instance, devices included, in this process: ports keep their scopes.
    #[default]
    Whole,
    /// Every instance but the devices (the launcher's actor process).
    WithoutDevices,
    /// The device instance of this name alone (the launcher's process for that device).
    Device(String),
}

impl Part {
    /// Whether this process runs `instance`, of a device type if `device`.
    fn runs(&self, instance: &str, device: bool) -> bool {
        match self {
            Part::Whole => true,
            Part::WithoutDevices => !device,
            Part::Device(name) => device && name == instance,
        }
    }
}

/// The device instances of `actor`, in the actor's order.
pub(crate) fn device_instances(app: &ast::App, actor: &ast::Actor) -> Vec<String> {
    actor
        .instances
        .iter()
        .filter(|i| app.component(&i.component.name).is_some_and(|c| c.is_device))
        .map(|i| i.name.name.clone())
        .collect()
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
            monitor: None,
            control: None,
            warnings: WarningRing::new(),
            part: Part::Whole,
            cgroup: Vec::new(),
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
    /// The actor has no device instance of this name.
    #[error("actor {actor:?} has no device instance {instance:?}")]
    UnknownDevice {
        /// The actor.
        actor: String,
        /// The instance asked for.
        instance: String,
    },
    /// Ports, discovery or threads failed.
    #[error("{0}")]
    Setup(String),
}

/// A component thread of the actor, with the actor's end of its control channel.
struct Hosted {
    instance: String,
    control: ActorEnd,
    thread: Option<JoinHandle<()>>,
}

/// Where discovery's updates for a lookup go. Discovery names lookups by text on the wire
/// (`<instance>.<port>`); inside the actor they are routed by this.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// A consuming port of a component.
    Port {
        /// The component, by its position in the actor.
        component: usize,
        /// The port's index in the component's port list.
        index: usize,
    },
    /// A group member on the coordination thread (its subscriber connects to the others).
    Group(MemberId),
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
    // The devices run in processes of their own: what is internal to the actor crosses them.
    let split = settings.part != Part::Whole && !device_instances(app, model).is_empty();
    if let Part::Device(name) = &settings.part {
        if !device_instances(app, model).contains(name) {
            return Err(ActorError::UnknownDevice { actor: actor.to_owned(), instance: name.clone() });
        }
    }
    // A device process reports to the launcher as `ACTOR.INSTANCE`.
    let reported = match &settings.part {
        Part::Device(name) => format!("{actor}.{name}"),
        _ => actor.to_owned(),
    };
    let log = log.new(o!("actor" => actor.to_owned()));
    // Before any socket sends: ZeroMQ messages of up to 112 bytes then come from glibc's fast
    // bins (`cohort_ports::allocator`).
    let tuning = cohort_ports::allocator::tune_for_messages();
    debug!(log, "allocator tuned for messages"; "outcome" => ?tuning);
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
    // One factory per component, and one for the group coordination thread: all on the actor's
    // context.
    let make_factory = || {
        PortFactory::with_context(
            ctx.clone(),
            addressing.clone(),
            settings.options.clone(),
            settings.security.clone(),
            log.clone(),
        )
        .map_err(|e| ActorError::Setup(e.to_string()))
    };
    // The limit events the budget watch tells, which the reports count.
    let tally = Arc::new(LimitTally::default());
    let mut reporter = match &settings.monitor {
        Some(endpoint) => {
            match Reporter::connect(&ctx, endpoint, &reported, Arc::clone(&settings.warnings), Arc::clone(&tally), &log)
            {
                Ok(reporter) => Some(reporter),
                Err(e) => {
                    warn!(log, "cannot report to the launcher; the actor runs unseen"; "endpoint" => endpoint, "error" => %e);
                    None
                }
            }
        }
        None => None,
    };
    // `cohort ctl` reaches the actor's process, not its devices'.
    let control = settings.control.as_ref().filter(|_| !matches!(settings.part, Part::Device(_)));
    let mut launcher = match control {
        Some(endpoint) => match LauncherLink::connect(&ctx, endpoint, actor, &log) {
            Ok(link) => Some(link),
            Err(e) => {
                warn!(log, "cannot take control requests from the launcher"; "endpoint" => endpoint, "error" => %e);
                None
            }
        },
        None => None,
    };
    let group_factory = make_factory()?;
    // Started before the components, stopped after them (also when this returns early).
    let mut coordinator =
        Coordinator::start(group_factory, actor, &log).map_err(|e| ActorError::Setup(e.to_string()))?;

    let mut routes: BTreeMap<String, Route> = BTreeMap::new();
    // The counters of the actor's ports, whose bytes sent its network budget is measured by.
    let mut sent_by_ports = Vec::new();
    let mut hosted = Vec::new();
    let mut result = Ok(());
    for (instance, args) in model.instances.iter().zip(args) {
        let name = instance.name.name.clone();
        let component_type = instance.component.name.clone();
        let failed =
            |why: String| ActorError::Component { instance: name.clone(), component: component_type.clone(), why };
        let Some(component) = app.component(&component_type) else {
            result = Err(failed("the model has no such component type".into()));
            break;
        };
        if !settings.part.runs(&name, component.is_device) {
            continue;
        }
        let Some(entry) = components.entry(&component_type) else {
            let known: Vec<&str> = components.names().collect();
            result = Err(failed(format!(
                "no implementation of component type {component_type} is registered (registered: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
            break;
        };
        let mut ports = describe_ports(component, Some(model));
        if split {
            for port in ports.iter_mut().filter(|p| p.scope == Scope::Internal) {
                port.scope = Scope::Local;
            }
        }
        if let Some(shapes) = entry.shapes {
            if let Err(why) = compare_shapes(&component_type, shapes, &ports) {
                result = Err(failed(why));
                break;
            }
        }
        let factory = make_factory()?;
        let component_log = log.new(o!("component" => format!("{actor}.{name}")));
        let (ours, theirs) = control::pair(&ctx, &format!("{actor}/{name}"), &component_log)
            .map_err(|e| ActorError::Setup(format!("cannot make a control channel: {e}")))?;
        let group_link = coordinator.attach(&name, &component_log).map_err(|e| ActorError::Setup(e.to_string()))?;
        let plan = Plan {
            identity: Identity {
                app: app.name.name.clone(),
                actor: actor.to_owned(),
                instance: name.clone(),
                component: component_type.clone(),
            },
            ports,
            scheduler: component.scheduler,
            groups: app.groups.clone(),
            args,
            factory,
            group_link,
            count_calls: reporter.is_some(),
            log: component_log,
        };
        let run = entry.run;
        let thread = std::thread::Builder::new()
            .name(format!("{actor}.{name}"))
            .spawn(move || run(plan, theirs))
            .map_err(|e| ActorError::Setup(format!("cannot start a thread: {e}")))?;
        let h = Hosted { instance: name.clone(), control: ours, thread: Some(thread) };
        match wait_ready(&h.control, settings.start_timeout) {
            Ok((discovered, probe)) => {
                sent_by_ports.extend(probe.ports.iter().map(|p| Arc::clone(&p.stats)));
                if let Some(reporter) = &mut reporter {
                    reporter.add_instance(&name, &component_type, probe);
                }
                for d in discovered {
                    let key = format!("{name}.{}", d.port.name);
                    let messages = port_messages(&d.port.messages);
                    match &d.endpoint {
                        Some(endpoint) => {
                            if let Err(e) = disco.provide(&key, d.kind, &messages, d.port.scope, endpoint) {
                                result = Err(ActorError::Setup(format!("cannot register a provider: {e}")));
                            }
                        }
                        None => match disco.lookup(&key, d.kind, &messages, d.port.scope) {
                            Ok(endpoints) => {
                                let index = d.port.index;
                                h.control.send(ToComponent::Update {
                                    port: index,
                                    added: endpoints,
                                    removed: Vec::new(),
                                });
                                routes.insert(key, Route::Port { component: hosted.len(), index });
                            }
                            Err(e) => result = Err(ActorError::Setup(format!("cannot look up providers: {e}"))),
                        },
                    }
                }
            }
            Err(why) => result = Err(failed(why)),
        }
        hosted.push(h);
        if result.is_err() {
            break;
        }
    }

    if result.is_ok() {
        for h in &hosted {
            h.control.send(ToComponent::Activate);
        }
        info!(log, "actor running"; "instances" => hosted.len());
        // NIC and peer events: after `Activate`, so the first ones find the components active.
        let limits = LimitWatch::start(&reported, Budget::of(model), &settings.cgroup, sent_by_ports, tally, &log);
        let (mut watches, found) = Watches::start(&mut disco, actor, &settings.interface, limits, &log);
        broadcast(&hosted, found);
        let outside = Outside { reporter: reporter.as_mut(), launcher: launcher.as_mut(), watches: Some(&mut watches) };
        result = serve(&mut disco, &coordinator, &hosted, &mut routes, outside, stop, &log);
    }

    for h in &hosted {
        h.control.send(ToComponent::Stop);
    }
    for h in &mut hosted {
        if let Some(t) = h.thread.take() {
            if t.join().is_err() {
                warn!(log, "a component thread panicked while stopping"; "instance" => &h.instance);
            }
        }
    }
    // The components have left their groups; the thread leaves any that remain.
    coordinator.stop();
    if let Err(e) = disco.goodbye() {
        warn!(log, "cannot unregister from discovery"; "error" => %e);
    }
    info!(log, "actor stopped");
    result
}

/// Waits for a component's first report: the ports discovery must know about, and the
/// counters of its ports and handlers.
fn wait_ready(control: &ActorEnd, timeout: Duration) -> Result<(Vec<DiscoveredPort>, InstanceProbe), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match control.try_recv() {
            Some(FromComponent::Ready(discovered, probe)) => return Ok((discovered, probe)),
            Some(FromComponent::Failed(why)) => return Err(why),
            Some(FromComponent::Stopped) => return Err("the component thread ended".into()),
            // Group registrations are sent only after `Ready`.
            Some(FromComponent::Join { .. } | FromComponent::Leave { .. }) => continue,
            None => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("the component did not start within {timeout:?}"));
        }
        let mut items = [control.socket().as_poll_item(zmq::POLLIN)];
        let _ = zmq::poll(&mut items, i64::try_from(left.as_millis() + 1).unwrap_or(i64::MAX));
    }
}

/// The discovery key of a joined group in component `instance`.
fn group_key(instance: &str, group: &GroupName) -> String {
    format!("{instance}.{}", group.port())
}

/// A group member that discovery must know about: its publisher, and its lookup of the
/// others'.
struct JoinedMember<'a> {
    /// The discovery key of the member's lookup.
    key: String,
    /// The group's discovery message key.
    messages: String,
    member: MemberId,
    endpoint: &'a Endpoint,
}

/// Registers a joined group's publisher with discovery and looks up the other members', whose
/// endpoints go to the member on the coordination thread.
fn join_group(
    disco: &mut DiscoveryClient,
    coordinator: &Coordinator,
    joined: &JoinedMember<'_>,
    log: &slog::Logger,
) -> bool {
    let JoinedMember { key, messages, member, endpoint } = joined;
    if let Err(e) = disco.provide(key, PortKind::GroupPub, messages, Scope::Global, endpoint) {
        warn!(log, "cannot register a group member with discovery"; "group" => key, "error" => %e);
        return false;
    }
    match disco.lookup(key, PortKind::GroupSub, messages, Scope::Global) {
        Ok(endpoints) => {
            coordinator.update_peers(*member, endpoints, Vec::new());
            true
        }
        Err(e) => {
            warn!(log, "cannot look up group members"; "group" => key, "error" => %e);
            false
        }
    }
}

/// The actor's links to its launcher: its reports, and `cohort ctl` requests; and what it
/// watches for its components besides discovery's port updates (NIC and peer events).
struct Outside<'a> {
    reporter: Option<&'a mut Reporter>,
    launcher: Option<&'a mut LauncherLink>,
    watches: Option<&'a mut Watches>,
}

/// Sends each of `events` to every component.
fn broadcast(hosted: &[Hosted], events: Vec<ToComponent>) {
    for event in events {
        for h in hosted {
            h.control.send(event.clone());
        }
    }
}

/// Relays discovery updates to the components and the coordination thread, sends the
/// launcher its reports and carries out the `cohort ctl` requests it relays, until `stop` is
/// set.
fn serve(
    disco: &mut DiscoveryClient,
    coordinator: &Coordinator,
    hosted: &[Hosted],
    routes: &mut BTreeMap<String, Route>,
    outside: Outside<'_>,
    stop: &AtomicBool,
    log: &slog::Logger,
) -> Result<(), ActorError> {
    let Outside { mut reporter, mut launcher, mut watches } = outside;
    while !stop.load(Ordering::Relaxed) {
        if let Some(watches) = watches.as_deref_mut() {
            broadcast(hosted, watches.nic_event().into_iter().collect());
            broadcast(hosted, watches.limit_events(Instant::now()));
        }
        if let Some(launcher) = launcher.as_deref_mut() {
            launcher.serve(hosted.iter().map(|h| (h.instance.as_str(), &h.control)));
        }
        if let Some(reporter) = reporter.as_deref_mut() {
            reporter.report_if_due(Instant::now(), || coordinator.report());
        }
        let updates = disco.poll().map_err(|e| ActorError::Setup(format!("discovery failed: {e}")))?;
        for update in updates {
            let ours = match watches.as_deref_mut() {
                Some(w) => w.peer_events(update),
                None => Err(update),
            };
            let update = match ours {
                Ok(events) => {
                    broadcast(hosted, events);
                    continue;
                }
                Err(update) => update,
            };
            let Some(route) = routes.get(&update.port) else {
                warn!(log, "discovery sent an update for a lookup the actor did not make"; "lookup" => &update.port);
                continue;
            };
            match route {
                Route::Port { component, index } => {
                    if let Some(h) = hosted.get(*component) {
                        h.control.send(ToComponent::Update {
                            port: *index,
                            added: update.added,
                            removed: update.removed,
                        });
                    }
                }
                Route::Group(member) => coordinator.update_peers(*member, update.added, update.removed),
            }
        }
        for h in hosted {
            while let Some(report) = h.control.try_recv() {
                match report {
                    FromComponent::Stopped => warn!(log, "a component thread ended"; "instance" => &h.instance),
                    FromComponent::Join { group, key, member, endpoint } => {
                        let joined = JoinedMember {
                            key: group_key(&h.instance, &group),
                            messages: key.service_messages(),
                            member,
                            endpoint: &endpoint,
                        };
                        if join_group(disco, coordinator, &joined, log) {
                            routes.insert(joined.key, Route::Group(member));
                        }
                    }
                    FromComponent::Leave { group, endpoint } => {
                        let key = group_key(&h.instance, &group);
                        routes.remove(&key);
                        let withdrawn = disco.withdraw(&endpoint).and_then(|()| disco.unlookup(&key));
                        if let Err(e) = withdrawn {
                            warn!(log, "cannot unregister a group member"; "group" => &key, "error" => %e);
                        }
                    }
                    FromComponent::Ready(..) | FromComponent::Failed(_) => {}
                }
            }
        }
        let mut next = reporter.as_deref().map_or(disco.next_deadline(), |r| disco.next_deadline().min(r.next_due()));
        if let Some(due) = watches.as_deref().and_then(Watches::next_due) {
            next = next.min(due);
        }
        let wait = next.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        let mut items = vec![disco.socket().as_poll_item(zmq::POLLIN)];
        items.extend(hosted.iter().map(|h| h.control.socket().as_poll_item(zmq::POLLIN)));
        items.extend(launcher.as_deref().map(|l| l.socket().as_poll_item(zmq::POLLIN)));
        for item in watches.as_deref().map(Watches::poll_items).unwrap_or_default() {
            items.push(item);
        }
        match zmq::poll(&mut items, i64::try_from(wait.as_millis() + 1).unwrap_or(i64::MAX)) {
            Ok(_) | Err(zmq::Error::EINTR) => {}
            Err(e) => return Err(ActorError::Setup(format!("poll failed: {e}"))),
        }
    }
    Ok(())
}
