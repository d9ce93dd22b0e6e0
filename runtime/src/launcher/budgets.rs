//! How the launcher enforces its actors' budgets ([`Enforcement`]): a cgroup per process with
//! its CPU quota and memory limit ([`cohort_budgets::Cgroups`]), and an HTB class per process
//! for its network budget ([`cohort_budgets::NetShaper`]), each made only when an actor's budget
//! has such a part. Where one cannot be made, the launcher warns once, and the actors measure
//! their use themselves. [`Placement`] is where one process goes.

use std::path::PathBuf;

use cohort_budgets::{ActorCgroup, Bytes, Cgroups, NetClass, NetShaper, DEFAULT_ROOT, ROOT_VARIABLE};
use slog::{info, warn};

use super::supervise::ChildSpec;

/// What the launcher enforces budgets with.
#[derive(Debug, Default)]
pub(crate) struct Enforcement {
    cgroups: Option<Cgroups>,
    shaper: Option<NetShaper>,
}

impl Enforcement {
    /// Makes what the budgets of `children` need, for app `app`, whose ports bind to
    /// `interface` (its name, if known): cgroups if one has a CPU quota or a memory limit, a
    /// shaper of the interface if one has a network budget. One warning for each that cannot be
    /// made, naming the processes whose budgets go unenforced.
    pub(crate) fn open(app: &str, interface: Option<&str>, children: &[ChildSpec], log: &slog::Logger) -> Enforcement {
        let root = std::env::var_os(ROOT_VARIABLE).map_or_else(|| PathBuf::from(DEFAULT_ROOT), PathBuf::from);
        let names = |wanted: fn(&ChildSpec) -> bool| -> String {
            children.iter().filter(|c| wanted(c)).map(ChildSpec::name).collect::<Vec<_>>().join(", ")
        };
        let mut enforcement = Enforcement::default();
        let limited = names(|c| c.budget.needs_cgroup());
        if !limited.is_empty() {
            match Cgroups::open(&root, app) {
                Ok(cgroups) => {
                    info!(log, "resource budgets are enforced with cgroups"; "hierarchy" => ?cgroups.hierarchy());
                    enforcement.cgroups = Some(cgroups);
                }
                Err(e) => {
                    warn!(log, "resource budgets are not enforced: cgroups cannot be made here; the actors only measure their use and tell their components";
                        "actors" => limited, "error" => %e);
                }
            }
        }
        let shaped = names(|c| c.budget.net.is_some());
        if !shaped.is_empty() {
            match interface
                .ok_or_else(|| "the interface the ports bind to is not known".to_owned())
                .and_then(|i| NetShaper::open(&root, app, i).map_err(|e| e.to_string()))
            {
                Ok(shaper) => {
                    info!(log, "network budgets are shaped with tc"; "interface" => shaper.interface(), "classifier" => shaper.classifier());
                    enforcement.shaper = Some(shaper);
                }
                Err(e) => {
                    warn!(log, "network budgets are not shaped; the actors only measure what their ports send and tell their components";
                        "actors" => shaped, "error" => e);
                }
            }
        }
        enforcement
    }

    /// Where process `spec` goes: a cgroup and a class for the parts of its budget that are
    /// enforced here. A part that cannot be made is left out, with a warning.
    pub(crate) fn place(&self, spec: &ChildSpec, log: &slog::Logger) -> Placement {
        let name = spec.name();
        let cgroup = self.cgroups.as_ref().filter(|_| spec.budget.needs_cgroup()).and_then(|cgroups| {
            cgroups
                .create(&name, &spec.budget)
                .map_err(|e| warn!(log, "cannot make the actor's cgroup: its budget is not enforced"; "actor" => &name, "error" => %e))
                .ok()
        });
        let net = self.shaper.as_ref().zip(spec.budget.net).and_then(|(shaper, net)| {
            shaper
                .shape(&name, &net)
                .map_err(|e| warn!(log, "cannot shape the actor's traffic"; "actor" => &name, "error" => %e))
                .ok()
        });
        if cgroup.is_some() || net.is_some() {
            info!(log, "the actor's budget is enforced"; "actor" => &name, "budget" => %spec.budget,
                "cgroup" => ?cgroup.as_ref().map(ActorCgroup::dirs), "class" => net.as_ref().map(NetClass::classid));
        }
        let oom_kills = cgroup.as_ref().and_then(ActorCgroup::oom_kills).unwrap_or(0);
        Placement { cgroup, net, oom_kills }
    }

    /// Removes the launcher's cgroups and the interface's discipline it made (once its processes
    /// have exited and their placements are removed).
    pub(crate) fn remove(&self) {
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove();
        }
        if let Some(shaper) = &self.shaper {
            shaper.remove();
        }
    }
}

/// Where one process goes so that its budget is enforced; kept across its restarts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    cgroup: Option<ActorCgroup>,
    net: Option<NetClass>,
    /// The OOM kills of the cgroup seen so far.
    oom_kills: u64,
}

impl Placement {
    /// The cgroup folders the actor reads its use from (`--cgroup`).
    pub(crate) fn dirs(&self) -> &[PathBuf] {
        self.cgroup.as_ref().map(ActorCgroup::dirs).unwrap_or_default()
    }

    /// Moves the calling process into the cgroups: for the forked child before `exec` (only
    /// async-signal-safe calls, no allocation).
    pub(crate) fn join_self(&self) -> std::io::Result<()> {
        if let Some(cgroup) = &self.cgroup {
            cgroup.join_self()?;
        }
        if let Some(net) = &self.net {
            net.join_self()?;
        }
        Ok(())
    }

    /// Says so in the log if the kernel killed process `name` for going over its memory budget
    /// of `budget` bytes (the OOM kills of its cgroup went up).
    pub(crate) fn tell_oom_kill(&mut self, name: &str, budget: Option<u64>, log: &slog::Logger) {
        let Some(cgroup) = &self.cgroup else { return };
        let Some(kills) = cgroup.oom_kills().filter(|k| *k > self.oom_kills) else { return };
        self.oom_kills = kills;
        let budget = budget.or_else(|| cgroup.memory_limit()).map(|b| Bytes(b).to_string());
        warn!(log, "the kernel killed the actor: it went over its memory budget"; "actor" => name, "budget" => budget);
    }

    /// Removes the cgroup and the class (once the process has exited).
    pub(crate) fn remove(&self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove();
        }
        if let Some(net) = &self.net {
            net.remove();
        }
    }
}
