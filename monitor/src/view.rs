//! The launcher's view of its app: the [`Board`] it keeps, and the [`AppView`] copies that the
//! web page, `cohort top` and the Prometheus output read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use cohort_model::ast::PortKind;
use serde::{Deserialize, Serialize};

use crate::graph::AppGraph;
use crate::report::{ActorReport, GroupReport, HandlerReport, PortCounters, ProcessStats, Warning};
use crate::unix_ms_now;
use crate::warnings::WarningRing;

/// Warnings a view carries at most: the latest ones.
pub const WARNINGS_KEPT: usize = 50;

/// What the launcher knows of an actor's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Started; it has not reported yet.
    Starting,
    /// Running and reporting.
    Running,
    /// It exited; the launcher restarts it after a backoff.
    Restarting,
    /// It exited too often; the launcher gave up on it (and stops the app).
    Failed,
    /// Stopped with the app.
    Stopped,
}

/// A running app as one launcher sees it, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppView {
    /// The app.
    pub app: String,
    /// The launcher's host.
    pub host: String,
    /// When the view was made, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The app's actors, instances, ports and flows, from the model.
    pub graph: AppGraph,
    /// The hosts whose actors the view shows: this launcher's first, then those of the other
    /// launchers of the app it reached (see [`Board::set_remote`]).
    pub hosts: Vec<String>,
    /// The actors this launcher runs, in the order it started them, then those of the other
    /// hosts.
    pub actors: Vec<ActorView>,
    /// The latest warnings of the launcher and its actors, oldest first.
    pub warnings: Vec<Warning>,
}

/// One actor, as its launcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorView {
    /// The actor's name.
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// Its supervision state.
    pub state: ActorState,
    /// Its current process, if one runs.
    pub pid: Option<u32>,
    /// Times the launcher restarted it.
    pub restarts: u64,
    /// When its current process started, in milliseconds since the Unix epoch.
    pub started_ms: Option<u64>,
    /// When its latest report was made.
    pub reported_ms: Option<u64>,
    /// Memory and CPU, from the latest report.
    pub process: Option<ProcessStats>,
    /// CPU used per second of wall time between the last two reports (1.0: one core).
    pub cpu_rate: f64,
    /// Its component instances, from the latest report.
    pub instances: Vec<InstanceView>,
    /// Its group members, from the latest report.
    pub groups: Vec<GroupMemberView>,
}

/// One group member, with the rates of its traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMemberView {
    /// What the member reported.
    #[serde(flatten)]
    pub member: GroupReport,
    /// Its traffic's rates between the actor's last two reports.
    pub rates: PortRates,
}

/// One component instance, with message rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    /// The instance's name.
    pub name: String,
    /// Its component type.
    pub component: String,
    /// Its ports.
    pub ports: Vec<PortView>,
    /// Its handlers.
    pub handlers: Vec<HandlerReport>,
    /// It was passivated (`cohort ctl APP passivate`) and not activated since.
    #[serde(default)]
    pub passive: bool,
}

/// One port's counters and rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortView {
    /// The port's name.
    pub name: String,
    /// Its kind.
    pub kind: PortKind,
    /// Its counters.
    pub counters: PortCounters,
    /// Its rates between the actor's last two reports.
    pub rates: PortRates,
}

/// Per-second rates of a port.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct PortRates {
    /// Messages sent per second.
    pub sent: f64,
    /// Messages received per second.
    pub received: f64,
    /// Bytes sent per second (whole frames: header and payload).
    pub bytes_sent: f64,
    /// Bytes received per second (whole frames).
    pub bytes_received: f64,
}

/// One actor as the board keeps it.
#[derive(Debug, Clone)]
struct Entry {
    state: ActorState,
    pid: Option<u32>,
    restarts: u64,
    latest: Option<ActorReport>,
    previous: Option<ActorReport>,
    /// The current process's passivated instances.
    passive: BTreeSet<String>,
}

#[derive(Debug)]
struct BoardState {
    actors: Vec<(String, Entry)>,
}

/// The launcher's live picture of its actors: what the supervisor did to them and what they
/// reported. Shared between the supervisor, the thread that takes reports, and the HTTP server.
#[derive(Debug)]
pub struct Board {
    app: String,
    host: String,
    graph: AppGraph,
    /// The launcher's own warnings.
    warnings: Arc<WarningRing>,
    state: Mutex<BoardState>,
    /// The latest local views of the app's launchers on other hosts, by host.
    remote: Mutex<BTreeMap<String, AppView>>,
}

impl Board {
    /// A board for `actors` of `app` on `host`, none started yet; the launcher's own warnings
    /// are those of `warnings`.
    pub fn new(app: &str, host: &str, graph: AppGraph, actors: &[String], warnings: Arc<WarningRing>) -> Board {
        let entry = Entry {
            state: ActorState::Starting,
            pid: None,
            restarts: 0,
            latest: None,
            previous: None,
            passive: BTreeSet::new(),
        };
        Board {
            app: app.to_owned(),
            host: host.to_owned(),
            graph,
            warnings,
            state: Mutex::new(BoardState { actors: actors.iter().map(|a| (a.clone(), entry.clone())).collect() }),
            remote: Mutex::new(BTreeMap::new()),
        }
    }

    /// The app's name.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The launcher's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn lock(&self) -> MutexGuard<'_, BoardState> {
        // Every update writes whole values; a panic elsewhere cannot leave one half made.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn with_actor(&self, actor: &str, f: impl FnOnce(&mut Entry)) {
        if let Some((_, entry)) = self.lock().actors.iter_mut().find(|(name, _)| name == actor) {
            f(entry);
        }
    }

    /// Actor `actor` was started (or restarted: `restart`) as process `pid`.
    pub fn started(&self, actor: &str, pid: u32, restart: bool) {
        self.with_actor(actor, |e| {
            e.state = ActorState::Starting;
            e.pid = Some(pid);
            e.restarts += u64::from(restart);
            e.latest = None;
            e.previous = None;
            e.passive.clear();
        });
    }

    /// Instances `instances` of actor `actor` were passivated (`passive`) or activated.
    pub fn passivated(&self, actor: &str, instances: &[String], passive: bool) {
        self.with_actor(actor, |e| {
            for i in instances {
                if passive {
                    e.passive.insert(i.clone());
                } else {
                    e.passive.remove(i);
                }
            }
        });
    }

    /// Actor `actor`'s process exited; it will be restarted.
    pub fn exited(&self, actor: &str) {
        self.with_actor(actor, |e| {
            e.state = ActorState::Restarting;
            e.pid = None;
        });
    }

    /// The launcher gave up on actor `actor`.
    pub fn failed(&self, actor: &str) {
        self.with_actor(actor, |e| {
            e.state = ActorState::Failed;
            e.pid = None;
        });
    }

    /// Every actor was stopped.
    pub fn stopped(&self) {
        for (_, e) in &mut self.lock().actors {
            if e.state != ActorState::Failed {
                e.state = ActorState::Stopped;
            }
            e.pid = None;
        }
    }

    /// Takes in an actor's report. A report of an unknown actor, or of a process that is not
    /// the actor's current one (a late report of a process that died), is ignored: returns
    /// false.
    pub fn report(&self, report: ActorReport) -> bool {
        let mut state = self.lock();
        let Some((_, e)) = state.actors.iter_mut().find(|(name, _)| *name == report.actor) else { return false };
        if e.pid != Some(report.pid) {
            return false;
        }
        e.state = ActorState::Running;
        e.previous = e.latest.replace(report);
        true
    }

    /// Takes in the local view of the app's launcher on another host (what its
    /// [`Board::local_view`] gave); a view of this board's own host is ignored.
    pub fn set_remote(&self, view: AppView) {
        if view.host != self.host {
            self.remote_views().insert(view.host.clone(), view);
        }
    }

    /// Forgets the view of the launcher on `host` (it went away).
    pub fn forget_remote(&self, host: &str) {
        self.remote_views().remove(host);
    }

    fn remote_views(&self) -> MutexGuard<'_, BTreeMap<String, AppView>> {
        // Views are inserted and removed whole.
        self.remote.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the board now, with the actors and warnings of the other hosts' launchers it
    /// has views of.
    pub fn view(&self) -> AppView {
        let mut view = self.local_view();
        for (host, remote) in self.remote_views().iter() {
            view.hosts.push(host.clone());
            view.actors.extend(remote.actors.iter().cloned());
            view.warnings.extend(
                remote.warnings.iter().map(|w| Warning { source: format!("{host}/{}", w.source), ..w.clone() }),
            );
        }
        view.warnings.sort_by_key(|w| w.at_ms);
        let skip = view.warnings.len().saturating_sub(WARNINGS_KEPT);
        view.warnings = view.warnings.split_off(skip);
        view
    }

    /// A copy of the board now: this launcher's actors only.
    pub fn local_view(&self) -> AppView {
        let state = self.lock();
        let actors: Vec<ActorView> = state.actors.iter().map(|(name, e)| self.actor_view(name, e)).collect();
        let mut warnings: Vec<Warning> = self.warnings.latest();
        for (_, e) in &state.actors {
            warnings.extend(e.latest.iter().flat_map(|r| r.warnings.iter().cloned()));
        }
        warnings.sort_by_key(|w| w.at_ms);
        let skip = warnings.len().saturating_sub(WARNINGS_KEPT);
        AppView {
            app: self.app.clone(),
            host: self.host.clone(),
            at_ms: unix_ms_now(),
            graph: self.graph.clone(),
            hosts: vec![self.host.clone()],
            actors,
            warnings: warnings.split_off(skip),
        }
    }

    fn actor_view(&self, name: &str, e: &Entry) -> ActorView {
        let latest = e.latest.as_ref();
        // Rates need two reports of the same process.
        let previous = e.previous.as_ref().filter(|p| latest.is_some_and(|l| l.pid == p.pid && l.at_ms > p.at_ms));
        let seconds = match (latest, previous) {
            (Some(l), Some(p)) => (l.at_ms - p.at_ms) as f64 / 1000.0,
            _ => 0.0,
        };
        let per_second =
            |now: u64, before: u64| if seconds > 0.0 { now.saturating_sub(before) as f64 / seconds } else { 0.0 };
        let instances = latest
            .map(|l| {
                l.instances
                    .iter()
                    .map(|i| {
                        let before = previous.and_then(|p| p.instances.iter().find(|pi| pi.name == i.name));
                        InstanceView {
                            name: i.name.clone(),
                            component: i.component.clone(),
                            ports: i
                                .ports
                                .iter()
                                .map(|port| {
                                    let was = before
                                        .and_then(|b| b.ports.iter().find(|bp| bp.name == port.name))
                                        .map_or(port.counters, |bp| bp.counters);
                                    let now = port.counters;
                                    PortView {
                                        name: port.name.clone(),
                                        kind: port.kind,
                                        counters: now,
                                        rates: PortRates {
                                            sent: per_second(now.sent, was.sent),
                                            received: per_second(now.received, was.received),
                                            bytes_sent: per_second(now.bytes_sent, was.bytes_sent),
                                            bytes_received: per_second(now.bytes_received, was.bytes_received),
                                        },
                                    }
                                })
                                .collect(),
                            handlers: i.handlers.clone(),
                            passive: e.passive.contains(&i.name),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cpu_rate = match (latest, previous) {
            (Some(l), Some(p)) if seconds > 0.0 => (l.process.cpu_seconds - p.process.cpu_seconds).max(0.0) / seconds,
            _ => 0.0,
        };
        ActorView {
            name: name.to_owned(),
            host: self.host.clone(),
            state: e.state,
            pid: e.pid,
            restarts: e.restarts,
            started_ms: latest.map(|l| l.started_ms),
            reported_ms: latest.map(|l| l.at_ms),
            process: latest.map(|l| l.process),
            cpu_rate,
            instances,
            groups: latest
                .map(|l| {
                    l.groups
                        .iter()
                        .map(|g| {
                            let was = previous
                                .and_then(|p| p.groups.iter().find(|pg| pg.member == g.member))
                                .map_or(g.traffic, |pg| pg.traffic);
                            let now = g.traffic;
                            GroupMemberView {
                                member: g.clone(),
                                rates: PortRates {
                                    sent: per_second(now.sent, was.sent),
                                    received: per_second(now.received, was.received),
                                    bytes_sent: per_second(now.bytes_sent, was.bytes_sent),
                                    bytes_received: per_second(now.bytes_received, was.bytes_received),
                                },
                            }
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}
