//! What `deploy up` does on each host, once the pre-flight checks passed: the files to copy,
//! the app's folder on the host and its layout, how the launcher is supervised, and the
//! launcher's command line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::elf::Machine;
use crate::hosts::HostEntry;

/// The control script in each version's folder (`start`, `stop`, `status`, `logs`).
pub const CONTROL_SCRIPT: &str = "cohort-control.sh";

/// The note in each version's folder that says what was deployed, when and from where.
pub(crate) const DEPLOYED_NOTE: &str = "cohort-deployed.txt";

/// The systemd unit of app `app`'s launcher on host `host`.
pub fn unit_name(app: &str, host: &str) -> String {
    format!("cohort-{app}-{host}.service")
}

/// Whether `name` is one of the files `deploy up` writes itself into a version's folder.
pub(crate) fn is_generated_name(name: &str) -> bool {
    name == CONTROL_SCRIPT || name == DEPLOYED_NOTE || (name.starts_with("cohort-") && name.ends_with(".service"))
}

/// The plan of `deploy up`, made by [`crate::preflight`]: the same files for every host.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The app (the deployment's).
    pub app: String,
    /// The machine the binary is built for.
    pub machine: Machine,
    /// The binary's name on the hosts.
    pub binary: String,
    /// The deployment's name on the hosts.
    pub deployment: String,
    /// The model's name on the hosts, if one is given.
    pub model: Option<String>,
    /// The key file's name on the hosts; `None` runs the app with `--insecure`.
    pub keys: Option<String>,
    /// The shared registry, with the names of its files on the hosts.
    pub registry: Option<RegistryFiles>,
    /// The files copied to each host.
    pub uploads: Vec<Upload>,
    /// The hosts, in the order of their names.
    pub hosts: Vec<HostEntry>,
}

/// The registry options of `APP run`, with its files as named on the hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryFiles {
    /// The Redis URL.
    pub url: String,
    /// The Redis ACL user.
    pub user: Option<String>,
    /// The password file's name on the hosts.
    pub password_file: Option<String>,
    /// The CA file's name on the hosts.
    pub ca: Option<String>,
}

/// A local file copied into each version's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The local file.
    pub local: PathBuf,
    /// Its name on the hosts.
    pub name: String,
    /// Its mode there.
    pub mode: u32,
    /// Its size in bytes.
    pub size: u64,
}

/// How a host's launcher is kept running, once decided for the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Supervision {
    /// A systemd system unit (the remote user is root).
    SystemUnit,
    /// A systemd user unit (`systemctl --user`; the user has lingering enabled).
    UserUnit,
    /// A detached process with a pidfile.
    Process,
}

impl Supervision {
    /// The name the control script uses for it.
    pub fn script_name(self) -> &'static str {
        match self {
            Supervision::SystemUnit => "system-unit",
            Supervision::UserUnit => "user-unit",
            Supervision::Process => "process",
        }
    }

    /// The supervision the control script calls `name`.
    pub fn from_script_name(name: &str) -> Option<Supervision> {
        [Supervision::SystemUnit, Supervision::UserUnit, Supervision::Process]
            .into_iter()
            .find(|s| s.script_name() == name)
    }
}

impl fmt::Display for Supervision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Supervision::SystemUnit => "systemd system unit",
            Supervision::UserUnit => "systemd user unit",
            Supervision::Process => "detached process",
        })
    }
}

/// An app's folder on a host, absolute, and what is in it.
///
/// ```text
/// DIR/current/     the version that runs: binary, deployment, model, key file, control script, unit
/// DIR/previous/    the version before it, kept until the next deploy
/// DIR/incoming/    a version being copied; it becomes current/ when the old one has stopped
/// DIR/run/         the launcher's XDG_RUNTIME_DIR: its ipc files
/// DIR/launcher.log the launcher's and its actors' log, every start appended
/// DIR/launcher.pid the launcher's process id (detached processes only)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDir(pub String);

impl AppDir {
    /// The folder itself.
    pub fn path(&self) -> &str {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, rest: &str) -> String {
        format!("{}/{rest}", self.0.trim_end_matches('/'))
    }

    /// File `name` of the running version.
    pub fn current(&self, name: &str) -> String {
        self.join(&format!("current/{name}"))
    }
}

/// A launcher's command line and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LauncherCommand {
    /// The binary, absolute.
    pub program: String,
    /// Its arguments, from `run` on.
    pub args: Vec<String>,
    /// Its environment, beyond what the supervisor gives.
    pub env: BTreeMap<String, String>,
}

impl Plan {
    /// The launcher of `host`, whose app folder is `dir`: `APP run --deployment … --host NAME`,
    /// the registry and key options, the monitor, then the host's own arguments; its
    /// `XDG_RUNTIME_DIR` is `DIR/run` unless the host's `env` says otherwise.
    pub fn launcher(&self, host: &HostEntry, dir: &AppDir) -> LauncherCommand {
        let mut args: Vec<String> = vec!["run".into(), "--deployment".into(), dir.current(&self.deployment)];
        args.extend(["--host".into(), host.name.clone()]);
        if let Some(model) = &self.model {
            args.extend(["--model".into(), dir.current(model)]);
        }
        match &self.keys {
            Some(keys) => args.extend(["--keys".into(), dir.current(keys)]),
            None => args.push("--insecure".into()),
        }
        if let Some(registry) = &self.registry {
            args.extend(["--registry".into(), registry.url.clone()]);
            if let Some(user) = &registry.user {
                args.extend(["--redis-user".into(), user.clone()]);
            }
            if let Some(file) = &registry.password_file {
                args.extend(["--redis-password-file".into(), dir.current(file)]);
            }
            if let Some(ca) = &registry.ca {
                args.extend(["--redis-ca".into(), dir.current(ca)]);
            }
        }
        if let Some(metrics) = &host.metrics {
            args.extend(["--metrics".into(), metrics.clone()]);
        }
        args.extend(host.args.iter().cloned());
        let mut env = BTreeMap::from([("XDG_RUNTIME_DIR".to_owned(), dir.join("run"))]);
        env.extend(host.env.clone());
        LauncherCommand { program: dir.current(&self.binary), args, env }
    }

    /// How many bytes are copied to each host.
    pub fn upload_size(&self) -> u64 {
        self.uploads.iter().map(|u| u.size).sum()
    }
}

/// Where `deploy status` reads a launcher's part of the view: its monitor's `/api/local`, on
/// the host's loopback when it listens on every address.
pub(crate) fn view_url(metrics: &str) -> String {
    let addr = match metrics.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => metrics.to_owned(),
    };
    format!("http://{addr}/api/local")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::HostsFile;
    use std::path::Path;

    fn plan(host_text: &str) -> Plan {
        let hosts = HostsFile::parse(Path::new("h.toml"), host_text, Path::new("/"), None).unwrap();
        Plan {
            app: "Microgrid".into(),
            machine: Machine { e_machine: 62, wide: true, little_endian: true },
            binary: "microgrid".into(),
            deployment: "grid.depl".into(),
            model: None,
            keys: Some("Microgrid.key".into()),
            registry: Some(RegistryFiles {
                url: "redis://10.0.0.9/".into(),
                user: None,
                password_file: Some("redis.password".into()),
                ca: None,
            }),
            uploads: Vec::new(),
            hosts: hosts.hosts.into_values().collect(),
        }
    }

    #[test]
    fn the_launcher_runs_the_current_version_with_the_hosts_options() {
        let plan =
            plan("[hosts.a]\naddress = \"x\"\nargs = [\"--interface\", \"eth1\"]\nenv = { RUST_BACKTRACE = \"1\" }\n");
        let dir = AppDir("/home/u/cohort/Microgrid".into());
        let launcher = plan.launcher(&plan.hosts[0], &dir);
        assert_eq!(launcher.program, "/home/u/cohort/Microgrid/current/microgrid");
        let args = launcher.args.join(" ");
        assert_eq!(
            args,
            "run --deployment /home/u/cohort/Microgrid/current/grid.depl --host a \
             --keys /home/u/cohort/Microgrid/current/Microgrid.key --registry redis://10.0.0.9/ \
             --redis-password-file /home/u/cohort/Microgrid/current/redis.password \
             --metrics 127.0.0.1:9464 --interface eth1"
        );
        assert_eq!(launcher.env["XDG_RUNTIME_DIR"], "/home/u/cohort/Microgrid/run");
        assert_eq!(launcher.env["RUST_BACKTRACE"], "1");
    }

    #[test]
    fn the_view_is_read_on_loopback_when_the_monitor_listens_everywhere() {
        assert_eq!(view_url("0.0.0.0:9464"), "http://127.0.0.1:9464/api/local");
        assert_eq!(view_url("10.0.0.1:9464"), "http://10.0.0.1:9464/api/local");
    }

    #[test]
    fn generated_names_are_reserved() {
        assert!(is_generated_name(CONTROL_SCRIPT) && is_generated_name(&unit_name("A", "h")));
        assert!(!is_generated_name("microgrid"));
    }
}
