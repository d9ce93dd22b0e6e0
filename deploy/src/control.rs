//! The control script copied with each version (`cohort-control.sh`): a host's settings as shell
//! variables and its launcher's command line, then the same POSIX shell code on every host
//! (`control.sh`) that starts, stops, watches and shows the log of the launcher, under systemd
//! or as a detached process. `deploy` runs it over SSH; an operator on the host can too.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::hosts::HostEntry;
use crate::plan::{unit_name, view_url, AppDir, Plan, Supervision, CONTROL_SCRIPT};
use crate::shell::{quote, quote_all};

/// The code after the settings, the same on every host.
const BODY: &str = include_str!("control.sh");

/// The control script of `host`, whose app folder is `dir`, supervised by `supervision`.
pub fn control_script(plan: &Plan, host: &HostEntry, dir: &AppDir, supervision: Supervision) -> String {
    let launcher = plan.launcher(host, dir);
    let view = host.metrics.as_deref().map(view_url).unwrap_or_default();
    let mut exports = String::new();
    for (key, value) in &launcher.env {
        exports.push_str(&format!("    export {key}={}\n", quote(value)));
    }
    let mut command = vec![launcher.program.clone()];
    command.extend(launcher.args.iter().cloned());
    format!(
        "#!/bin/sh\n\
         # Controls app {app}'s launcher on host {host}: start, stop, status, logs. Written by\n\
         # `cohort deploy` (docs/deployment.md); each deploy writes it anew.\n\
         APP={q_app}\n\
         HOST={q_host}\n\
         DIR={q_dir}\n\
         BINARY={q_binary}\n\
         SUPERVISION={supervision}\n\
         UNIT={q_unit}\n\
         VIEW_URL={q_view}\n\
         \n\
         # The launcher, in the foreground.\n\
         launch() {{\n\
         {exports}    cd \"$DIR\" || exit 1\n\
         \x20   exec {command}\n\
         }}\n\
         {BODY}",
        app = plan.app,
        host = host.name,
        q_app = quote(&plan.app),
        q_host = quote(&host.name),
        q_dir = quote(dir.path()),
        q_binary = quote(&launcher.program),
        supervision = supervision.script_name(),
        q_unit = quote(&unit_name(&plan.app, &host.name)),
        q_view = quote(&view),
        command = quote_all(&command),
    )
}

/// The script that runs `command` of the control script of `app` on `host`, if the app is
/// deployed there, and prints `otherwise` if not.
pub(crate) fn control_call(host: &HostEntry, app: &str, command: &str, otherwise: &str) -> String {
    let script = quote(&format!("{}/current/{CONTROL_SCRIPT}", host.dir_for(app)));
    format!("s={script}\nif [ -f \"$s\" ]; then exec sh \"$s\" {command}; fi\necho {}\n", quote(otherwise))
}

/// The first line of the note written with each version: what, when, from where.
pub(crate) fn deployed_note(plan: &Plan) -> String {
    let size = plan.uploads.first().map_or(0, |u| u.size);
    let from = local_host_name();
    format!("{} ({size} bytes) at {} from {from}\n", plan.binary, utc_now())
}

/// This machine's host name, for the note.
fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "?".into())
}

/// The time now as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::Machine;
    use crate::hosts::HostsFile;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    #[test]
    fn days_become_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_513), (2026, 3, 1));
    }

    /// A folder for one test, removed at the end.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A plan whose "binary" is a shell script that logs `actor started` and waits for SIGTERM,
    /// or exits at once with `fails`; the control script of host `h` in a fresh folder.
    fn setup(tag: &str, fails: bool) -> (Scratch, String) {
        let root = std::env::temp_dir().join(format!("cohort-deploy-control-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("current")).unwrap();
        let scratch = Scratch(root.clone());
        let fake = if fails {
            "#!/bin/sh\necho 'error: unknown option --registry' >&2\nexit 2\n".to_owned()
        } else {
            "#!/bin/sh\ntrap 'echo stopping; exit 0' TERM\necho \"actor started actor=Unit1 args=$*\"\n\
             while :; do sleep 0.05; done\n"
                .to_owned()
        };
        let binary = root.join("current/app");
        std::fs::write(&binary, fake).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let hosts =
            HostsFile::parse(Path::new("h.toml"), "[hosts.h]\naddress = \"x\"\n", Path::new("/"), None).unwrap();
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
        let dir = AppDir(root.display().to_string());
        let script = control_script(&plan, &plan.hosts[0], &dir, Supervision::Process);
        let path = root.join("current").join(crate::plan::CONTROL_SCRIPT);
        std::fs::write(&path, script).unwrap();
        (scratch, path.display().to_string())
    }

    fn control(script: &str, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("sh").arg(script).args(args).env("COHORT_START_TIMEOUT", "10").output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn field(status: &str, key: &str) -> Option<String> {
        status.lines().find_map(|l| l.strip_prefix(&format!("{key} ")).map(str::to_owned))
    }

    #[test]
    fn a_detached_launcher_starts_shows_stops_and_leaves_nothing() {
        let (scratch, script) = setup("detached", false);
        let (ok, out, err) = control(&script, &["start"]);
        assert!(ok, "start failed: {out}{err}");
        let pid: i32 = out.trim().strip_prefix("started ").unwrap().parse().unwrap();
        let (_, status, _) = control(&script, &["status"]);
        assert_eq!(field(&status, "state").as_deref(), Some("running"), "{status}");
        assert_eq!(field(&status, "pid"), Some(pid.to_string()));
        assert_eq!(field(&status, "supervision").as_deref(), Some("process"));
        let (ok, _, err) = control(&script, &["start"]);
        assert!(!ok && err.contains("runs already"), "{err}");
        let (_, log, _) = control(&script, &["logs", "5"]);
        assert!(log.contains("actor started actor=Unit1 args=run --deployment"), "{log}");
        // An ipc file that a killed actor left behind is removed by the stop.
        std::fs::create_dir_all(scratch.0.join("run")).unwrap();
        let socket = scratch.0.join("run/left.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let (ok, out, err) = control(&script, &["stop"]);
        assert!(ok, "{out}{err}");
        assert_eq!(out.trim(), format!("stopped {pid}"));
        assert!(!socket.exists() && !scratch.0.join("launcher.pid").exists());
        let (_, status, _) = control(&script, &["status"]);
        assert_eq!(field(&status, "state").as_deref(), Some("stopped"), "{status}");
        assert_eq!(control(&script, &["stop"]).1.trim(), "not running");
    }

    #[test]
    fn a_killed_launcher_shows_as_dead_and_a_stop_clears_it() {
        let (_scratch, script) = setup("killed", false);
        let (ok, out, err) = control(&script, &["start"]);
        assert!(ok, "{out}{err}");
        let pid: i32 = out.trim().strip_prefix("started ").unwrap().parse().unwrap();
        assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
        let give_up = Instant::now() + Duration::from_secs(5);
        let status = loop {
            let (_, status, _) = control(&script, &["status"]);
            if field(&status, "state").as_deref() == Some("dead") || Instant::now() > give_up {
                break status;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(field(&status, "state").as_deref(), Some("dead"), "{status}");
        assert_eq!(control(&script, &["stop"]).1.trim(), "not running");
        assert_eq!(field(&control(&script, &["status"]).1, "state").as_deref(), Some("stopped"));
    }

    #[test]
    fn a_launcher_that_exits_fails_the_start_with_its_log() {
        let (_scratch, script) = setup("fails", true);
        let (ok, out, err) = control(&script, &["start"]);
        assert!(!ok, "started: {out}");
        assert!(err.starts_with("the launcher exited; its log says:"), "{err}");
        assert!(err.contains("error: unknown option --registry"), "{err}");
        assert_eq!(field(&control(&script, &["status"]).1, "state").as_deref(), Some("stopped"));
    }
}
