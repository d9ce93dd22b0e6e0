//! `deploy status`: on every host at once, whether the app's launcher runs, under which
//! supervisor, which version, and the launcher's part of the app's view (its actors with their
//! state, restarts and groups), read from its monitor on the host.

use std::collections::BTreeMap;
use std::fmt;

use cohort_monitor::{ActorState, AppView};

use crate::control::control_call;
use crate::hosts::HostEntry;
use crate::parallel::each;
use crate::plan::Supervision;
use crate::ssh::{Ssh, Step};

/// Whether a host's launcher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LauncherState {
    /// It runs.
    Running,
    /// It was stopped (or never started).
    Stopped,
    /// It ended without being stopped (killed, crashed, or its unit failed).
    Dead,
    /// The app was never deployed to the host (or was removed).
    NotDeployed,
    /// The host could not be asked.
    Unknown,
}

/// One host's status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostStatus {
    /// The host.
    pub host: String,
    /// Whether its launcher runs.
    pub state: LauncherState,
    /// Its supervisor.
    pub supervision: Option<Supervision>,
    /// The launcher's process id (or the last one, when it is dead).
    pub pid: Option<u32>,
    /// What was deployed, when and from where.
    pub deployed: Option<String>,
    /// The launcher's part of the app's view, from its monitor.
    pub view: Option<AppView>,
    /// Why the host or its view could not be read.
    pub problem: Option<String>,
}

impl HostStatus {
    /// Whether the launcher runs and every actor of it too.
    pub fn healthy(&self) -> bool {
        self.state == LauncherState::Running
            && self.view.as_ref().is_none_or(|v| v.actors.iter().all(|a| a.state == ActorState::Running))
    }
}

/// Every host's status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusReport {
    /// In the order of their names.
    pub hosts: Vec<HostStatus>,
}

impl StatusReport {
    /// Whether every host's launcher and actors run.
    pub fn healthy(&self) -> bool {
        self.hosts.iter().all(HostStatus::healthy)
    }
}

/// Asks every host of `hosts` how app `app` runs there.
pub fn status(hosts: &[HostEntry], app: &str) -> StatusReport {
    let ssh: Vec<Ssh<'_>> = hosts.iter().map(Ssh::new).collect();
    let hosts =
        each(&ssh, |ssh| match ssh.run(Step::Status, &control_call(ssh.host(), app, "status view", "state none")) {
            Ok(out) => parse(&ssh.host().name, &out),
            Err(e) => HostStatus {
                host: ssh.host().name.clone(),
                state: LauncherState::Unknown,
                supervision: None,
                pid: None,
                deployed: None,
                view: None,
                problem: Some(e.failure.to_string()),
            },
        });
    StatusReport { hosts }
}

/// The control script's `status view` answer.
fn parse(host: &str, out: &str) -> HostStatus {
    let field = |key: &str| out.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')).map(str::to_owned);
    let state = match field("state").as_deref() {
        Some("running") => LauncherState::Running,
        Some("stopped") => LauncherState::Stopped,
        Some("dead") => LauncherState::Dead,
        Some("none") => LauncherState::NotDeployed,
        _ => LauncherState::Unknown,
    };
    let mut problem = field("view-error");
    let view = field("view").and_then(|json| match serde_json::from_str::<AppView>(&json) {
        Ok(view) => Some(view),
        Err(e) => {
            problem = Some(format!("the monitor's view is not readable: {e}"));
            None
        }
    });
    if state == LauncherState::Unknown {
        problem = Some(format!("unexpected answer: {out:?}"));
    }
    HostStatus {
        host: host.to_owned(),
        state,
        supervision: field("supervision").as_deref().and_then(Supervision::from_script_name),
        pid: field("pid").and_then(|p| p.parse().ok()),
        deployed: field("deployed"),
        view,
        problem,
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Group members by id, so a follower's leader is named by its actor.
        let mut members: BTreeMap<&str, &str> = BTreeMap::new();
        for view in self.hosts.iter().filter_map(|h| h.view.as_ref()) {
            for actor in &view.actors {
                for group in &actor.groups {
                    members.insert(&group.member.member, &actor.name);
                }
            }
        }
        for host in &self.hosts {
            let state = match host.state {
                LauncherState::Running => "running",
                LauncherState::Stopped => "stopped",
                LauncherState::Dead => "dead (ended without a stop)",
                LauncherState::NotDeployed => "not deployed",
                LauncherState::Unknown => "unknown",
            };
            write!(f, "{}: {state}", host.host)?;
            match (host.pid, host.supervision) {
                (Some(pid), Some(s)) => write!(f, " (pid {pid}, {s})")?,
                (None, Some(s)) => write!(f, " ({s})")?,
                _ => {}
            }
            if let Some(deployed) = &host.deployed {
                write!(f, "; deployed {deployed}")?;
            }
            writeln!(f)?;
            if let Some(problem) = &host.problem {
                writeln!(f, "  ! {problem}")?;
            }
            for actor in host.view.iter().flat_map(|v| &v.actors) {
                let pid = actor.pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
                let state = match actor.state {
                    ActorState::Starting => "starting",
                    ActorState::Running => "running",
                    ActorState::Restarting => "restarting",
                    ActorState::Failed => "failed",
                    ActorState::Stopped => "stopped",
                };
                write!(f, "  {:<14} {state:<10} pid {pid:<8} restarts {}", actor.name, actor.restarts)?;
                for g in &actor.groups {
                    let m = &g.member;
                    let role = if m.is_leader {
                        "leader".to_owned()
                    } else {
                        match &m.leader {
                            Some(leader) => format!("follows {}", members.get(leader.as_str()).copied().unwrap_or("?")),
                            None => "no leader".to_owned(),
                        }
                    };
                    write!(f, "  {}.{}: {role}, term {}, {} members", m.group_type, m.group, m.term, m.members.len())?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_of_a_running_host_is_read() {
        let out =
            "supervision process\nstate running\npid 4242\ndeployed app (10 bytes) at 2026-12-03T10:00:00Z from dev\n\
                   view-error curl: (7) Failed to connect (http://127.0.0.1:9464/api/local)\n";
        let status = parse("host-a", out);
        assert_eq!(status.state, LauncherState::Running);
        assert_eq!(status.pid, Some(4242));
        assert_eq!(status.supervision, Some(Supervision::Process));
        assert!(status.deployed.as_deref().unwrap().starts_with("app (10 bytes)"));
        assert!(status.problem.as_deref().unwrap().contains("Failed to connect"));
        let text = StatusReport { hosts: vec![status] }.to_string();
        assert!(text.starts_with("host-a: running (pid 4242, detached process); deployed app"), "{text}");
    }

    #[test]
    fn hosts_without_the_app_or_with_a_dead_launcher_say_so() {
        assert_eq!(parse("h", "state none\n").state, LauncherState::NotDeployed);
        let dead = parse("h", "supervision process\nstate dead\npid 7\n");
        assert_eq!(dead.state, LauncherState::Dead);
        assert!(!dead.healthy());
        assert_eq!(parse("h", "garbage").state, LauncherState::Unknown);
    }
}
