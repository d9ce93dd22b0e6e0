//! The systemd unit of a host's launcher: what `deploy up` installs on hosts where systemd runs,
//! and what `deploy --emit-systemd DIR` writes for installing by hand.

use std::path::{Path, PathBuf};

use crate::hosts::HostEntry;
use crate::plan::{unit_name, AppDir, Plan, Supervision};

/// Why the units could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The folder or a file in it could not be written: check the path and its permissions.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The unit of `host`'s launcher, whose app folder is `dir`: a system unit (run as root) or a
/// user unit (`systemctl --user`).
///
/// The launcher runs in the foreground (`Type=exec`) and is restarted when it fails. On stop,
/// systemd sends SIGTERM to the launcher alone (`KillMode=process`), which stops its actors, and
/// SIGKILL after `TimeoutStopSec`, whereupon its actors get SIGTERM (they ask for it when their
/// parent dies). The host's discovery daemon, which the launcher starts when none runs, is
/// shared with the host's other launchers and ends by itself once idle: it must not die with
/// this unit, which is why the rest of the unit's processes are left alone. Its output is
/// appended to `DIR/launcher.log`, which `deploy logs` shows, whichever supervisor runs it.
pub fn unit_text(plan: &Plan, host: &HostEntry, dir: &AppDir, supervision: Supervision) -> String {
    let launcher = plan.launcher(host, dir);
    let name = unit_name(&plan.app, &host.name);
    let user_unit = supervision == Supervision::UserUnit;
    let (install_dir, systemctl, wanted_by) = if user_unit {
        ("~/.config/systemd/user/", "systemctl --user", "default.target")
    } else {
        ("/etc/systemd/system/", "systemctl", "multi-user.target")
    };
    let network = if user_unit {
        // A user's service manager does not see the system's network-online.target.
        String::new()
    } else {
        "Wants=network-online.target\nAfter=network-online.target\n".to_owned()
    };
    let mut environment = String::new();
    for (key, value) in &launcher.env {
        environment.push_str(&format!("Environment={}\n", quote(&format!("{key}={value}"))));
    }
    let mut command = vec![launcher.program.clone()];
    command.extend(launcher.args.iter().cloned());
    let exec: Vec<String> = command.iter().map(|w| quote(w)).collect();
    format!(
        "# App {app}'s launcher on host {host}, written by `cohort deploy` (docs/deployment.md).\n\
         # `cohort deploy up` installs it in {install_dir}; by hand, with the app's files in\n\
         # {dir}/current/:\n\
         #   cp {name} {install_dir} && {systemctl} daemon-reload && {systemctl} enable --now {name}\n\
         [Unit]\n\
         Description=Cohort app {app} on host {host}\n\
         {network}\
         \n\
         [Service]\n\
         Type=exec\n\
         WorkingDirectory={workdir}\n\
         {environment}\
         ExecStart={exec}\n\
         # SIGTERM to the launcher only: it stops its actors, and the host's discovery daemon it\n\
         # may have started is shared with other launchers (it ends by itself when idle).\n\
         KillMode=process\n\
         TimeoutStopSec=20\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         UMask=0077\n\
         StandardOutput=append:{log}\n\
         StandardError=inherit\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        app = plan.app,
        host = host.name,
        dir = dir.path(),
        workdir = quote(dir.path()),
        exec = exec.join(" "),
        log = escape(&dir.join("launcher.log")),
    )
}

/// Writes the unit of every host of `plan` into `out` (created if needed), and a README that
/// says where each host's files go. Hosts whose `dir` is relative are taken to have their home
/// at `/root` (user root, or no user given) or `/home/USER`. The files written.
pub fn emit_units(plan: &Plan, out: &Path) -> Result<Vec<PathBuf>, EmitError> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| EmitError::Write { path: path.to_owned(), source })
    };
    std::fs::create_dir_all(out).map_err(|source| EmitError::Write { path: out.to_owned(), source })?;
    let mut written = Vec::new();
    let mut readme = format!(
        "Units of app {}'s launchers, written by `cohort deploy --emit-systemd` (docs/deployment.md).\n\
         On each host, put the app's files in DIR/current/ and the unit in /etc/systemd/system/ (root)\n\
         or ~/.config/systemd/user/ (other users, with `loginctl enable-linger USER`), then\n\
         `systemctl [--user] daemon-reload && systemctl [--user] enable --now UNIT`.\n\n",
        plan.app
    );
    for host in &plan.hosts {
        let dir = emitted_dir(plan, host);
        let supervision = if host.user.as_deref().is_none_or(|u| u == "root") {
            Supervision::SystemUnit
        } else {
            Supervision::UserUnit
        };
        let name = unit_name(&plan.app, &host.name);
        let path = out.join(&name);
        write(&path, &unit_text(plan, host, &dir, supervision))?;
        written.push(path);
        let files: Vec<&str> = plan.uploads.iter().map(|u| u.name.as_str()).collect();
        readme.push_str(&format!(
            "{name}: host {} ({}), DIR = {}, as a {supervision}; DIR/current/ holds {}\n",
            host.name,
            host.destination(),
            dir.path(),
            files.join(", ")
        ));
    }
    let path = out.join("README");
    write(&path, &readme)?;
    written.push(path);
    Ok(written)
}

/// The app folder of `host` as an absolute path, for units written without asking the host.
fn emitted_dir(plan: &Plan, host: &HostEntry) -> AppDir {
    let dir = host.dir_for(&plan.app);
    if dir.starts_with('/') {
        return AppDir(dir);
    }
    let home = match host.user.as_deref() {
        None | Some("root") => "/root".to_owned(),
        Some(user) => format!("/home/{user}"),
    };
    AppDir(format!("{home}/{dir}"))
}

/// `word` escaped for a unit file: `%` specifiers and `$` variables taken literally.
fn escape(word: &str) -> String {
    word.replace('%', "%%").replace('$', "$$")
}

/// `word` as one word of a unit file's command line or `Environment=`: escaped, and in double
/// quotes when it holds what would split it.
fn quote(word: &str) -> String {
    let escaped = escape(word).replace('\\', "\\\\");
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || "\"'\\;".contains(c)) {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::Machine;
    use crate::hosts::HostsFile;

    #[test]
    fn words_are_quoted_and_escaped_for_systemd() {
        assert_eq!(quote("/opt/app"), "/opt/app");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("50%"), "50%%");
        assert_eq!(quote("$HOME"), "$$HOME");
        assert_eq!(quote("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn a_user_unit_has_no_network_target_and_a_system_unit_has() {
        let hosts = HostsFile::parse(
            Path::new("h.toml"),
            "[hosts.h]\naddress = \"x\"\nenv = { GREETING = \"a b\" }\n",
            Path::new("/"),
            None,
        )
        .unwrap();
        let plan = Plan {
            app: "App".into(),
            machine: Machine { e_machine: 62, wide: true, little_endian: true },
            binary: "app".into(),
            deployment: "app.depl".into(),
            model: None,
            keys: None,
            registry: None,
            uploads: Vec::new(),
            hosts: hosts.hosts.into_values().collect(),
        };
        let dir = AppDir("/srv/app".into());
        let system = unit_text(&plan, &plan.hosts[0], &dir, Supervision::SystemUnit);
        assert!(system.contains("After=network-online.target"), "{system}");
        assert!(system.contains("WantedBy=multi-user.target"));
        assert!(system.contains("ExecStart=/srv/app/current/app run --deployment /srv/app/current/app.depl --host h --insecure --metrics 127.0.0.1:9464\n"), "{system}");
        assert!(system.contains("Environment=\"GREETING=a b\"\n"), "{system}");
        assert!(system.contains("StandardOutput=append:/srv/app/launcher.log\n"));
        let user = unit_text(&plan, &plan.hosts[0], &dir, Supervision::UserUnit);
        assert!(!user.contains("network-online") && user.contains("WantedBy=default.target"), "{user}");
        assert_eq!(emitted_dir(&plan, &plan.hosts[0]).path(), "/root/cohort/App");
    }
}
