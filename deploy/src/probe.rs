//! The first contact with a host: one SSH session that asks its machine, the remote user's home
//! (where a relative `dir` lies), whether systemd runs and may keep a unit of this user after
//! the session, the free space where the app goes, and whether a version of the app runs.

use crate::hosts::{HostEntry, Supervisor};
use crate::plan::{AppDir, Supervision, CONTROL_SCRIPT};
use crate::shell::quote;
use crate::ssh::{Failure, Ssh, Step, StepError};

/// What the probe learnt about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probed {
    /// `uname -m`.
    pub(crate) arch: String,
    /// The app's folder, absolute.
    pub(crate) dir: AppDir,
    /// How the launcher will be supervised there.
    pub(crate) supervision: Supervision,
    /// Free kibibytes where the app's folder is (or will be).
    pub(crate) free_kib: u64,
    /// Whether a version of the app runs there now.
    pub(crate) runs: Runs,
}

/// What runs on a host, as far as the deploy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runs {
    /// No launcher of the app.
    Nothing,
    /// The launcher of the version deployed before this deploy.
    Previous,
    /// Unknown: the host could not be asked.
    Unknown,
}

/// The probe's script: `key value` lines.
fn script(dir: &str) -> String {
    format!(
        "printf 'arch %s\\n' \"$(uname -m)\"\n\
         printf 'uid %s\\n' \"$(id -u)\"\n\
         if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then echo 'systemd yes'; else echo 'systemd no'; fi\n\
         if [ -e \"/var/lib/systemd/linger/$(id -un)\" ]; then echo 'linger yes'; else echo 'linger no'; fi\n\
         d={dir}\n\
         case \"$d\" in /*) ;; *) d=\"$HOME/$d\" ;; esac\n\
         printf 'dir %s\\n' \"$d\"\n\
         p=\"$d\"\n\
         while [ ! -d \"$p\" ]; do p=$(dirname \"$p\"); done\n\
         printf 'free_kib %s\\n' \"$(df -Pk \"$p\" | awk 'NR == 2 {{ print $4 }}')\"\n\
         if [ -f \"$d/current/{CONTROL_SCRIPT}\" ]; then sh \"$d/current/{CONTROL_SCRIPT}\" status; else echo 'state none'; fi\n",
        dir = quote(dir)
    )
}

/// Connects to `host` and asks it what a deploy of `app` needs to know.
pub(crate) fn probe(ssh: &Ssh<'_>, app: &str) -> Result<Probed, StepError> {
    let host = ssh.host();
    let out = ssh.run(Step::Probe, &script(&host.dir_for(app)))?;
    parse(&out, host).map_err(|why| ssh.error(Step::Probe, Failure::Unexpected(why)))
}

/// The probe's answer, read.
fn parse(out: &str, host: &HostEntry) -> Result<Probed, String> {
    let field = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("no `{key}` in {out:?}"))
    };
    let arch = field("arch")?.to_owned();
    let dir = field("dir")?;
    if !dir.starts_with('/') {
        return Err(format!("the app's folder {dir:?} is not absolute (is HOME set on the host?)"));
    }
    let free_kib =
        field("free_kib")?.parse().map_err(|_| format!("free space {:?} is not a number", field("free_kib")))?;
    let root = field("uid")? == "0";
    let systemd = field("systemd")? == "yes";
    let linger = field("linger")? == "yes";
    let supervision = match host.supervisor {
        Supervisor::Process => Supervision::Process,
        Supervisor::Systemd if root => Supervision::SystemUnit,
        Supervisor::Systemd => Supervision::UserUnit,
        Supervisor::Auto if systemd && root => Supervision::SystemUnit,
        Supervisor::Auto if systemd && linger => Supervision::UserUnit,
        Supervisor::Auto => Supervision::Process,
    };
    if host.supervisor == Supervisor::Systemd && !systemd {
        return Err(
            "supervisor = \"systemd\", but systemd does not run on the host (use \"auto\" or \"process\")".into()
        );
    }
    let runs = match field("state")? {
        "running" => Runs::Previous,
        _ => Runs::Nothing,
    };
    Ok(Probed { arch, dir: AppDir(dir.trim_end_matches('/').to_owned()), supervision, free_kib, runs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosts::HostsFile;
    use std::path::Path;
    use std::process::Command;

    fn host(supervisor: &str) -> HostEntry {
        let text = format!("[hosts.h]\naddress = \"x\"\nsupervisor = \"{supervisor}\"\n");
        HostsFile::parse(Path::new("h.toml"), &text, Path::new("/"), None).unwrap().hosts["h"].clone()
    }

    #[test]
    fn the_script_answers_every_field_here() {
        let out = Command::new("sh").arg("-c").arg(script("cohort-probe-test/App")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let probed = parse(&text, &host("auto")).unwrap();
        assert_eq!(
            probed.arch,
            std::process::Command::new("uname")
                .arg("-m")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap()
        );
        assert!(probed.dir.path().ends_with("/cohort-probe-test/App"), "{probed:?}");
        assert!(probed.free_kib > 0);
        assert_eq!(probed.runs, Runs::Nothing);
    }

    #[test]
    fn the_supervisor_follows_systemd_root_and_lingering() {
        let answer = |uid: u32, systemd: &str, linger: &str| {
            format!(
                "arch x86_64\nuid {uid}\nsystemd {systemd}\nlinger {linger}\ndir /root/a\nfree_kib 100\nstate none\n"
            )
        };
        let with = |supervisor: &str, text: &str| parse(text, &host(supervisor)).map(|p| p.supervision);
        assert_eq!(with("auto", &answer(0, "yes", "no")), Ok(Supervision::SystemUnit));
        assert_eq!(with("auto", &answer(1000, "yes", "yes")), Ok(Supervision::UserUnit));
        assert_eq!(with("auto", &answer(1000, "yes", "no")), Ok(Supervision::Process));
        assert_eq!(with("auto", &answer(0, "no", "no")), Ok(Supervision::Process));
        assert_eq!(with("process", &answer(0, "yes", "no")), Ok(Supervision::Process));
        assert!(with("systemd", &answer(0, "no", "no")).unwrap_err().contains("systemd does not run"));
        let running = answer(0, "no", "no").replace("state none", "supervision process\nstate running\npid 12");
        assert_eq!(parse(&running, &host("auto")).unwrap().runs, Runs::Previous);
    }
}
