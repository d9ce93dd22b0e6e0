//! `cohort deploy` across three hosts made of network namespaces, each running its own `sshd`
//! on its own address, with Redis on the bridge: the microgrid (five units, one group) is
//! deployed from the root namespace over SSH, two units on host-a, two on host-b, one on host-c.
//!
//! Checked: one leader among all units; deploys that must fail (a refused key, an unreachable
//! host, a binary for another machine, a full disk on one host) fail on the host at fault with
//! its error and leave every launcher as it was; after kill -9 of every process of the leader's
//! host but sshd, the remaining units elect one leader; a deploy whose last host cannot start
//! rolls back the hosts it started, and nothing of the app runs anywhere; a new deploy brings all
//! five back under one leader; after `deploy stop`, no process of the app is left on any host and
//! no ipc file remains. And the systemd units `--emit-systemd` writes pass `systemd-analyze
//! verify`.
//!
//! The hosts share this machine's file system, so each has its own folder for the app (its
//! `XDG_RUNTIME_DIR`, hence its ipc files, lies in it) and its own key directory.
//!
//! Needs root (for `ip netns`), iproute2, redis-server and OpenSSH's server and client
//! (`apt-get install -y openssh-server`); without them it prints why it skips, and fails instead
//! with `COHORT_REQUIRE_NETNS`, `COHORT_REQUIRE_REDIS` or `COHORT_REQUIRE_SSHD` set. The systemd
//! check needs `systemd-analyze` (Debian's `systemd`), or fails with `COHORT_REQUIRE_SYSTEMD`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cohort_tests::skip;
use cohort_tests::{exited, installed, netns_unavailable, Hosts, Proc, RedisServer, TempDir};
use serde_json::Value;

const MICROGRID: &str = env!("CARGO_BIN_EXE_cohort-microgrid");
const COHORT: &str = env!("CARGO_BIN_EXE_cohort-cli");
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/microgrid.riaps");
const SSHD: &str = "/usr/sbin/sshd";
/// The deployment: five units over three hosts; host-c alone cannot make a quorum of 5.
const DEPLOYMENT: &str = "\
// Written by tests/tests/deploy.rs: the microgrid over three hosts.
app Microgrid {
    on (host-a) Unit1, Unit2;
    on (host-b) Unit3, Unit4;
    on (host-c) Unit5;
}
";
const HOST_NAMES: [&str; 3] = ["host-a", "host-b", "host-c"];
/// How long the units may take to agree on a leader after a deploy.
const SETTLE: Duration = Duration::from_secs(20);

/// What a `cohort deploy …` run printed, and how it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Ran {
    fn text(&self) -> String {
        format!("exit {:?}\n--- stdout:\n{}--- stderr:\n{}", self.code, self.stdout, self.stderr)
    }
}

fn cohort(args: &[&str]) -> Ran {
    let started = Instant::now();
    let out = Command::new(COHORT).args(args).output().unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Runs `program` with `args`; panics with its output unless it succeeds.
fn must(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// An ed25519 keypair at `path` and `path.pub`, without a passphrase.
fn keygen(path: &Path) {
    must("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", "cohort-test", "-f", path.to_str().unwrap()]);
}

/// A tmpfs with room for 5 files and folders, mounted at `path` until dropped: a full disk.
struct TinyDisk(PathBuf);

impl TinyDisk {
    fn mount(path: &Path) -> Option<TinyDisk> {
        std::fs::create_dir_all(path).unwrap();
        let path_text = path.to_str().unwrap();
        let out =
            Command::new("mount").args(["-t", "tmpfs", "-o", "size=256m,nr_inodes=5", "tmpfs", path_text]).output();
        match out {
            Ok(out) if out.status.success() => Some(TinyDisk(path.to_owned())),
            Ok(out) => {
                eprintln!("deploy: no full-disk case: mount failed: {}", String::from_utf8_lossy(&out.stderr));
                None
            }
            Err(e) => {
                eprintln!("deploy: no full-disk case: mount: {e}");
                None
            }
        }
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// One host's sshd, in its namespace, on its address, port 22; killed when dropped.
fn start_sshd(hosts: &Hosts, letter: &str, place: &Path) -> Proc {
    let dir = place.join(format!("sshd-{letter}"));
    std::fs::create_dir_all(&dir).unwrap();
    let host_key = dir.join("ssh_host_ed25519_key");
    keygen(&host_key);
    let address = hosts.address(letter);
    let config = format!(
        "ListenAddress {address}\nPort 22\nHostKey {key}\nPidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {place}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
         StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
        key = host_key.display(),
        dir = dir.display(),
        place = place.display(),
    );
    let config_file = dir.join("sshd_config");
    std::fs::write(&config_file, config).unwrap();
    // Where sshd separates privileges; Debian makes it at boot.
    std::fs::create_dir_all("/run/sshd").unwrap();
    let args = ["-D", "-e", "-f", config_file.to_str().unwrap()];
    let sshd = Proc::in_ns(&format!("sshd {letter}"), &hosts.ns(letter), SSHD, &args).unwrap();
    let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
    let mut known = std::fs::OpenOptions::new().create(true).append(true).open(place.join("known_hosts")).unwrap();
    writeln!(known, "{address} {}", public.trim()).unwrap();
    let target: SocketAddr = format!("{address}:22").parse().unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < give_up, "sshd of host {letter} does not listen on {target}");
        std::thread::sleep(Duration::from_millis(20));
    }
    sshd
}

/// The test's setting: hosts, their sshd, Redis, files.
struct Setting {
    hosts: Hosts,
    place: TempDir,
    redis: String,
    depl: String,
    keys: String,
}

impl Setting {
    /// A hosts file with every host's settings plus `extra(host)` lines, and `defaults` lines.
    fn hosts_file(&self, name: &str, defaults: &str, extra: impl Fn(&str) -> String) -> String {
        let place = self.place.path().display();
        let mut text = format!(
            "[defaults]\nuser = \"root\"\nidentity = \"{place}/client_key\"\nknown_hosts = \"{place}/known_hosts\"\n\
             host_key_checking = \"yes\"\nssh_config = \"/dev/null\"\ndir = \"{place}/remote/{{host}}\"\n{defaults}\n"
        );
        for (letter, host) in self.hosts.names().iter().zip(HOST_NAMES) {
            // The launcher's discovery daemon ends 1 s after its last client (not 10 s).
            let extra = extra(host);
            let args =
                if extra.contains("args =") { String::new() } else { "args = [\"--daemon-idle\", \"1\"]\n".into() };
            text.push_str(&format!(
                "\n[hosts.{host}]\naddress = \"{}\"\nenv = {{ XDG_CONFIG_HOME = \"{place}/remote/{host}/config\" }}\n{args}{extra}",
                self.hosts.address(letter),
            ));
        }
        let path = self.place.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// `cohort deploy up` with `hosts_file`, `binary` and `more` arguments.
    fn up(&self, hosts_file: &str, binary: &str, more: &[&str]) -> Ran {
        let args = [
            "deploy",
            "up",
            "--hosts",
            hosts_file,
            "--deployment",
            &self.depl,
            "--app",
            binary,
            "--model",
            MODEL,
            "--keys",
            &self.keys,
            "--registry",
            &self.redis,
        ];
        cohort(&[&args[..], more].concat())
    }

    /// `cohort deploy status --json`.
    fn status(&self, hosts_file: &str) -> Value {
        let ran = cohort(&["deploy", "status", "--hosts", hosts_file, "--deployment", &self.depl, "--json"]);
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", ran.text()))
    }

    /// Asks the status until `done` finds what it wants in it; panics after `within`.
    fn wait_status<T>(&self, hosts_file: &str, what: &str, within: Duration, done: impl Fn(&Value) -> Option<T>) -> T {
        let give_up = Instant::now() + within;
        loop {
            let status = self.status(hosts_file);
            if let Some(found) = done(&status) {
                return found;
            }
            assert!(Instant::now() < give_up, "not {what} within {within:?}; status: {status:#}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The processes in host `letter`'s namespace other than sshd's, as `(pid, name)`.
    fn app_processes(&self, letter: &str) -> Vec<(i32, String)> {
        let out = Command::new("ip").args(["netns", "pids", &self.hosts.ns(letter)]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|pid| !exited(*pid))
            .filter_map(|pid| {
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_owned();
                (name != "sshd").then_some((pid, name))
            })
            .collect()
    }

    /// Waits until no process of the app is left on any host; panics with those left after
    /// `within`.
    fn wait_nothing_runs(&self, within: Duration) {
        let give_up = Instant::now() + within;
        loop {
            let left: Vec<(i32, String)> = self.hosts.names().iter().flat_map(|h| self.app_processes(h)).collect();
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < give_up, "processes left on the hosts after {within:?}: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Setting {
    /// Kills what a failed test left in the namespaces (detached launchers outlive the test
    /// otherwise), before the namespaces and the folder go.
    fn drop(&mut self) {
        for letter in self.hosts.names() {
            for (pid, _) in self.app_processes(letter) {
                let _ = cohort_tests::signal(pid, libc::SIGKILL);
            }
        }
    }
}

/// One group member as a host's view shows it.
#[derive(Debug, Clone)]
struct Member {
    host: String,
    actor: String,
    id: String,
    leader: Option<String>,
    is_leader: bool,
}

/// Every group member of every host's view.
fn members(status: &Value) -> Vec<Member> {
    let mut out = Vec::new();
    for host in status["hosts"].as_array().into_iter().flatten() {
        for actor in host["view"]["actors"].as_array().into_iter().flatten() {
            for group in actor["groups"].as_array().into_iter().flatten() {
                out.push(Member {
                    host: host["host"].as_str().unwrap_or_default().to_owned(),
                    actor: actor["name"].as_str().unwrap_or_default().to_owned(),
                    id: group["member"].as_str().unwrap_or_default().to_owned(),
                    leader: group["leader"].as_str().map(str::to_owned),
                    is_leader: group["is_leader"] == true,
                });
            }
        }
    }
    out
}

/// The launcher state of each host, by name.
fn states(status: &Value) -> Vec<(String, String)> {
    let hosts = status["hosts"].as_array().into_iter().flatten();
    hosts
        .map(|h| {
            (h["host"].as_str().unwrap_or_default().to_owned(), h["state"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// The launcher's pid on each host.
fn pids(status: &Value) -> Vec<Option<u64>> {
    status["hosts"].as_array().into_iter().flatten().map(|h| h["pid"].as_u64()).collect()
}

/// If exactly `units` members on `hosts` show, exactly one of them leads, and all follow it:
/// the leader.
fn one_leader(status: &Value, hosts: &[&str], units: usize) -> Option<Member> {
    let members: Vec<Member> = members(status).into_iter().filter(|m| hosts.contains(&m.host.as_str())).collect();
    let leaders: Vec<&Member> = members.iter().filter(|m| m.is_leader).collect();
    let [leader] = leaders[..] else { return None };
    let agree = members.iter().all(|m| m.leader.as_deref() == Some(leader.id.as_str()));
    (members.len() == units && agree).then(|| leader.clone())
}

/// The ipc files (sockets) under `dir`.
fn sockets(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_socket() {
                found.push(entry.path());
            }
        }
    }
    found
}

/// A binary for a machine other than this one's: an ELF header, and nothing that runs.
fn foreign_binary(path: &Path) -> String {
    let machine: u16 = if std::env::consts::ARCH == "aarch64" { 62 } else { 183 };
    let mut header = b"\x7fELF\x02\x01\x01".to_vec();
    header.resize(16, 0);
    header.extend(2u16.to_le_bytes());
    header.extend(machine.to_le_bytes());
    header.resize(64, 0);
    std::fs::write(path, header).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn the_microgrid_deploys_to_three_ssh_hosts_recovers_rolls_back_and_stops_clean() {
    const TEST: &str = "deploy";
    if let Some(why) = netns_unavailable() {
        return skip(TEST, &why, "COHORT_REQUIRE_NETNS");
    }
    if !Path::new(SSHD).exists() || !installed("ssh-keygen") || !Path::new("/usr/bin/scp").exists() {
        return skip(
            TEST,
            "OpenSSH's server or client not found (apt-get install -y openssh-server)",
            "COHORT_REQUIRE_SSHD",
        );
    }
    if !installed("redis-server") {
        return skip(TEST, "redis-server not found (apt-get install -y redis-server)", "COHORT_REQUIRE_REDIS");
    }
    let hosts = match Hosts::create_n(3) {
        Ok(hosts) => hosts,
        Err(why) => return skip(TEST, &format!("cannot create network namespaces: {why}"), "COHORT_REQUIRE_NETNS"),
    };
    let server = RedisServer::start(&hosts.bridge_address()).unwrap();
    let place = TempDir::new("deploy-test").unwrap();
    let p = place.path().to_owned();
    let setting = Setting {
        place,
        redis: server.url(),
        depl: p.join("grid.depl").display().to_string(),
        keys: p.join("Microgrid.key").display().to_string(),
        hosts,
    };
    keygen(&p.join("client_key"));
    std::fs::copy(p.join("client_key.pub"), p.join("authorized_keys")).unwrap();
    keygen(&p.join("stranger_key"));
    // Mounted before the sshds start, whose mount namespaces copy it; unmounted (after the sshds
    // are killed) before the folder is removed.
    let tiny = TinyDisk::mount(&p.join("tiny"));
    let _sshd: Vec<Proc> = setting.hosts.names().iter().map(|h| start_sshd(&setting.hosts, h, &p)).collect();
    let made = cohort(&["keygen", "Microgrid", "--out", &setting.keys]);
    assert_eq!(made.code, Some(0), "{}", made.text());
    std::fs::write(&setting.depl, DEPLOYMENT).unwrap();
    let hosts_file = setting.hosts_file("hosts.toml", "", |_| String::new());

    // Up: every host starts, and the five units agree on one leader.
    let ran = setting.up(&hosts_file, MICROGRID, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.text());
    for host in HOST_NAMES {
        assert!(ran.stdout.contains(&format!("{host}: started (pid ")), "{}", ran.text());
    }
    eprintln!("deploy: up on 3 hosts in {:?}:\n{}", ran.took, ran.stderr);
    let started = Instant::now();
    let leader =
        setting.wait_status(&hosts_file, "five units under one leader", SETTLE, |s| one_leader(s, &HOST_NAMES, 5));
    eprintln!("deploy: 5 units follow {} (on {}) {:?} after the deploy", leader.actor, leader.host, started.elapsed());
    let running = setting.status(&hosts_file);
    let before = pids(&running);
    let text = cohort(&["deploy", "status", "--hosts", &hosts_file, "--deployment", &setting.depl]);
    assert_eq!(text.code, Some(0), "{}", text.text());
    assert!(text.stdout.contains("leader, term") && text.stdout.contains("follows "), "{}", text.text());
    eprintln!("deploy: status:\n{}", text.stdout);
    let logs =
        cohort(&["deploy", "logs", "host-b", "--hosts", &hosts_file, "--deployment", &setting.depl, "-n", "500"]);
    assert!(logs.stdout.contains("actor started") && logs.stdout.contains("Unit3"), "{}", logs.text());

    // Deploys that fail before anything changes: each says why on the host at fault, and every
    // launcher keeps running as it was.
    let unchanged = |case: &str, ran: &Ran, expected: &[&str]| {
        assert_eq!(ran.code, Some(1), "{case}: {}", ran.text());
        for line in expected {
            assert!(ran.stdout.contains(line), "{case}: no {line:?} in\n{}", ran.text());
        }
        let now = setting.status(&hosts_file);
        assert_eq!(pids(&now), before, "{case}: the launchers changed: {now:#}");
        eprintln!("deploy: {case}: refused in {:?}, nothing changed:\n{}", ran.took, ran.stdout);
    };
    let stranger = setting.hosts_file("stranger.toml", "", |host| {
        if host == "host-b" {
            format!("identity = \"{}/stranger_key\"\n", p.display())
        } else {
            String::new()
        }
    });
    unchanged(
        "a refused key",
        &setting.up(&stranger, MICROGRID, &[]),
        &[
            "host-b: connect failed: the SSH key was refused",
            "host-a: unchanged because host-b failed; the version deployed before still runs there",
        ],
    );
    let closed =
        setting.hosts_file(
            "closed.toml",
            "",
            |host| if host == "host-c" { "port = 2222\n".into() } else { String::new() },
        );
    unchanged(
        "an unreachable host",
        &setting.up(&closed, MICROGRID, &[]),
        &["host-c: connect failed: unreachable: ", "Connection refused", "host-b: unchanged because host-c failed"],
    );
    let foreign = foreign_binary(&p.join("microgrid-foreign"));
    let machine = format!("but the host is {} (uname -m)", std::env::consts::ARCH);
    unchanged(
        "a binary for another machine",
        &setting.up(&hosts_file, &foreign, &[]),
        &["host-a: check failed: the binary is built for ", &machine],
    );
    if tiny.is_some() {
        let full = setting.hosts_file("full.toml", "", |host| {
            if host == "host-c" {
                format!("dir = \"{}/tiny/{{host}}\"\n", p.display())
            } else {
                String::new()
            }
        });
        unchanged(
            "a full disk",
            &setting.up(&full, MICROGRID, &[]),
            &["host-c: upload failed: ", "No space left on device", "host-a: unchanged because host-c failed"],
        );
    }
    // A deployment without host-c: refused before any host is contacted.
    let two_hosts = concat!(env!("CARGO_MANIFEST_DIR"), "/../apps/microgrid/partition.depl");
    let args = ["deploy", "up", "--hosts", &hosts_file, "--deployment", two_hosts, "--app", MICROGRID, "--insecure"];
    let refused = cohort(&[&args[..], &["--registry", &setting.redis]].concat());
    assert_eq!(refused.code, Some(2), "{}", refused.text());
    assert!(refused.stderr.contains("has `host-c`, on which the deployment"), "{}", refused.text());

    // kill -9 of every process of the leader's host but sshd: the others elect a leader.
    let letter = &setting.hosts.names()[HOST_NAMES.iter().position(|h| *h == leader.host).unwrap()];
    let remaining: Vec<&str> = HOST_NAMES.iter().copied().filter(|h| *h != leader.host).collect();
    let units_left = members(&running).iter().filter(|m| m.host != leader.host).count();
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let left = setting.app_processes(letter);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < give_up, "processes of {} survive kill -9: {left:?}", leader.host);
        for (pid, _) in left {
            let _ = cohort_tests::signal(pid, libc::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = Instant::now();
    let new_leader = setting.wait_status(&hosts_file, "a leader among the remaining units", SETTLE, |s| {
        let dead = states(s).iter().any(|(h, state)| *h == leader.host && state == "dead");
        one_leader(s, &remaining, units_left).filter(|_| dead)
    });
    eprintln!(
        "deploy: {} killed; its {units_left} remaining units follow {} {:?} later",
        leader.host,
        new_leader.actor,
        killed.elapsed()
    );

    // A deploy whose last host cannot start: the hosts it started are stopped again.
    let broken = setting.hosts_file("broken.toml", "", |host| {
        if host == "host-c" {
            "args = [\"--daemon-idle\", \"1\", \"--no-such-option\"]\n".into()
        } else {
            String::new()
        }
    });
    let ran = setting.up(&broken, MICROGRID, &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.text());
    for line in [
        "host-a: rolled back (stopped again because host-c failed); nothing of the app runs there",
        "host-b: rolled back (stopped again because host-c failed); nothing of the app runs there",
        "host-c: start failed: the launcher exited; its log says:",
        "--no-such-option",
        "nothing of the app runs there",
    ] {
        assert!(ran.stdout.contains(line), "no {line:?} in\n{}", ran.text());
    }
    setting.wait_nothing_runs(Duration::from_secs(15));
    eprintln!("deploy: a failed start on host-c rolled back host-a and host-b in {:?}:\n{}", ran.took, ran.stdout);

    // Deployed again (reported as JSON): all five under one leader.
    let ran = setting.up(&hosts_file, MICROGRID, &["--json"]);
    assert_eq!(ran.code, Some(0), "{}", ran.text());
    let report: Value = serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.text()));
    let outcomes: Vec<&str> =
        report["hosts"].as_array().unwrap().iter().map(|h| h["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["started", "started", "started"], "{report:#}");
    let again = Instant::now();
    let leader = setting
        .wait_status(&hosts_file, "five units under one leader again", SETTLE, |s| one_leader(s, &HOST_NAMES, 5));
    eprintln!("deploy: redeployed in {:?}; 5 units follow {} {:?} later", ran.took, leader.actor, again.elapsed());

    // Stop: nothing of the app left on any host, no ipc file.
    let ran = cohort(&["deploy", "stop", "--hosts", &hosts_file, "--deployment", &setting.depl]);
    assert_eq!(ran.code, Some(0), "{}", ran.text());
    for host in HOST_NAMES {
        assert!(ran.stdout.contains(&format!("{host}: stopped (pid ")), "{}", ran.text());
    }
    let stopped = Instant::now();
    setting.wait_nothing_runs(Duration::from_secs(15));
    eprintln!("deploy: stopped in {:?}; no process left {:?} later", ran.took, stopped.elapsed());
    let left = sockets(&p.join("remote"));
    assert!(left.is_empty(), "ipc files left: {left:?}");
    let status = setting.status(&hosts_file);
    assert!(states(&status).iter().all(|(_, s)| s == "stopped"), "{status:#}");
}

#[test]
fn emitted_systemd_units_pass_systemd_analyze_verify() {
    const TEST: &str = "deploy systemd units";
    if !installed("systemd-analyze") {
        return skip(TEST, "systemd-analyze not found (apt-get install -y systemd)", "COHORT_REQUIRE_SYSTEMD");
    }
    let place = TempDir::new("deploy-units").unwrap();
    let p = place.path();
    std::fs::write(p.join("grid.depl"), DEPLOYMENT).unwrap();
    let hosts = format!(
        "[hosts.host-a]\naddress = \"10.0.0.1\"\nuser = \"root\"\ndir = \"{p}/a/{{app}}\"\n\
         [hosts.host-b]\naddress = \"10.0.0.2\"\nuser = \"cohort\"\ndir = \"{p}/b/{{app}}\"\nenv = {{ RUST_LOG = \"a b%\" }}\n\
         [hosts.host-c]\naddress = \"10.0.0.3\"\ndir = \"{p}/c/{{app}}\"\nargs = [\"--interface\", \"eth 1\"]\n",
        p = p.display()
    );
    std::fs::write(p.join("hosts.toml"), hosts).unwrap();
    let out = p.join("units");
    let ran = cohort(&[
        "deploy",
        "--emit-systemd",
        out.to_str().unwrap(),
        "--hosts",
        p.join("hosts.toml").to_str().unwrap(),
        "--deployment",
        p.join("grid.depl").to_str().unwrap(),
        "--app",
        MICROGRID,
        "--insecure",
        "--registry",
        "redis://10.0.0.9:6379/",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.text());
    assert!(out.join("README").exists());
    // systemd-analyze checks that each unit's program exists: put the binary where the units
    // say the current version is.
    for letter in ["a", "b", "c"] {
        let current = p.join(letter).join("Microgrid/current");
        std::fs::create_dir_all(&current).unwrap();
        std::os::unix::fs::symlink(MICROGRID, current.join("cohort-microgrid")).unwrap();
    }
    let runtime = p.join("xdg");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (host, user_unit) in [("host-a", false), ("host-b", true), ("host-c", false)] {
        let unit = out.join(format!("cohort-Microgrid-{host}.service"));
        let text = std::fs::read_to_string(&unit).unwrap();
        assert!(
            text.contains("KillMode=process")
                && text.contains("--host ")
                && text.contains("--registry redis://10.0.0.9:6379/"),
            "{text}"
        );
        let mut verify = Command::new("systemd-analyze");
        verify.arg("verify");
        if user_unit {
            assert!(text.contains("WantedBy=default.target"), "{text}");
            verify.arg("--user").env("XDG_RUNTIME_DIR", &runtime);
        } else {
            assert!(text.contains("WantedBy=multi-user.target"), "{text}");
        }
        let result = verify.arg(&unit).output().unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&result.stdout), String::from_utf8_lossy(&result.stderr));
        assert!(
            result.status.success() && said.trim().is_empty(),
            "systemd-analyze verify {host}: {said}\n--- unit:\n{text}"
        );
    }
    eprintln!("deploy: 3 emitted units pass systemd-analyze verify");
}
