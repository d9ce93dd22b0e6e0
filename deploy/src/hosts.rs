//! The hosts file: which SSH destination runs each host of a deployment, and how the app is laid
//! out and supervised there.
//!
//! ```toml
//! # Every host's settings unless it gives its own (all optional).
//! [defaults]
//! user = "cohort"
//! identity = "~/.ssh/cohort_ed25519"
//!
//! # One table per host name of the .depl.
//! [hosts.host-a]
//! address = "10.0.0.1"
//!
//! [hosts.host-b]
//! address = "10.0.0.2"
//! port = 2222
//! dir = "/opt/cohort/{app}"
//! ```
//!
//! Relative paths of local files (`identity`, `known_hosts`, `ssh_config`) are taken from the
//! hosts file's folder, and `~/` from the home folder; `dir` is a path on the host, relative to
//! the remote user's home unless absolute, where `{app}` and `{host}` stand for the app's and the
//! host's names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The remote folder of an app when the hosts file gives none: under the remote user's home.
pub const DEFAULT_DIR: &str = "cohort/{app}";

/// The launcher's monitor when the hosts file gives no `metrics`: on the host's loopback, where
/// `deploy status` reads it over SSH.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9464";

/// A problem with the hosts file; each message names the file, and the host when it is about one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostsError {
    /// The file could not be read: fix the path or its permissions.
    #[error("cannot read the hosts file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape (an unknown key, a wrong type); the message
    /// shows the line and column.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, with the line, column and a caret.
        message: String,
    },
    /// A value is wrong: the message says which and how to fix it.
    #[error("{path}: {place}: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `[defaults]` or `host NAME`.
        place: String,
        /// What is wrong.
        why: String,
    },
}

/// How the launcher is kept running on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Supervisor {
    /// systemd where it runs as PID 1 and the user may have units that outlive the SSH
    /// session (root, or a user with lingering enabled); a detached process otherwise.
    #[default]
    Auto,
    /// A systemd unit: a system unit for root, a user unit (`systemctl --user`) otherwise.
    Systemd,
    /// A detached process (its own session, standard streams to the log file) with a pidfile.
    Process,
}

/// How ssh treats a host key it does not know (`StrictHostKeyChecking`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyChecking {
    /// Whatever the user's ssh configuration says (ssh's own default refuses unknown keys in
    /// batch mode).
    #[default]
    Default,
    /// Only known host keys (`yes`).
    Yes,
    /// Unknown hosts are trusted on first use and remembered; changed keys are refused.
    AcceptNew,
}

/// One host of the deployment: where ssh reaches it and how the app runs there.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEntry {
    /// The host's name in the deployment (`on (NAME) ...`).
    pub name: String,
    /// The address or host name ssh connects to.
    pub address: String,
    /// The remote user [default: ssh's: its configuration, else the local user].
    pub user: Option<String>,
    /// The SSH port [default: ssh's].
    pub port: Option<u16>,
    /// The private key ssh logs in with (`-i`, only that key) [default: ssh's].
    pub identity: Option<PathBuf>,
    /// The known-hosts file that holds the host's key (`UserKnownHostsFile`).
    pub known_hosts: Option<PathBuf>,
    /// How an unknown host key is treated.
    pub host_key_checking: HostKeyChecking,
    /// The ssh configuration file (`-F`) [default: the user's].
    pub ssh_config: Option<PathBuf>,
    /// The app's folder on the host, with `{app}` and `{host}` still in it; relative to the
    /// remote user's home unless absolute.
    pub dir: String,
    /// How the launcher is kept running.
    pub supervisor: Supervisor,
    /// Where the launcher serves its monitor (`APP run --metrics`), which `deploy status`
    /// reads on the host; `None` for no monitor.
    pub metrics: Option<String>,
    /// Environment variables of the launcher (and its actors).
    pub env: BTreeMap<String, String>,
    /// More arguments of `APP run` on this host (`--interface eth1`, `--log-level debug`).
    pub args: Vec<String>,
}

impl HostEntry {
    /// The app's folder on this host for app `app`, `{app}` and `{host}` replaced; relative to
    /// the remote user's home unless absolute.
    pub fn dir_for(&self, app: &str) -> String {
        let dir = self.dir.strip_prefix("~/").unwrap_or(&self.dir);
        dir.replace("{app}", app).replace("{host}", &self.name)
    }

    /// The destination for messages: `user@address:port` with what is known.
    pub fn destination(&self) -> String {
        let user = self.user.as_ref().map_or_else(String::new, |u| format!("{u}@"));
        match self.port {
            Some(port) if self.address.contains(':') => format!("{user}[{}]:{port}", self.address),
            Some(port) => format!("{user}{}:{port}", self.address),
            None => format!("{user}{}", self.address),
        }
    }
}

/// A hosts file, read and checked: every host with the defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct HostsFile {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// The hosts, by name (a deploy goes through them in the order of their names).
    pub hosts: BTreeMap<String, HostEntry>,
}

impl HostsFile {
    /// Reads and checks the hosts file at `path`.
    pub fn read(path: &Path) -> Result<HostsFile, HostsError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| HostsError::Read { path: path.to_owned(), source })?;
        let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        HostsFile::parse(path, &text, &base, home().as_deref())
    }

    /// Checks the hosts file `text`; `path` is for messages, relative local paths are taken
    /// from `base` and `~/` from `home`.
    pub fn parse(path: &Path, text: &str, base: &Path, home: Option<&Path>) -> Result<HostsFile, HostsError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| HostsError::Syntax { path: path.to_owned(), message: e.to_string() })?;
        let invalid =
            |place: &str, why: String| HostsError::Invalid { path: path.to_owned(), place: place.to_owned(), why };
        let defaults = raw.defaults.unwrap_or_default();
        if defaults.address.is_some() {
            return Err(invalid("[defaults]", "`address` belongs to each host, not to [defaults]".into()));
        }
        if raw.hosts.is_empty() {
            return Err(invalid("[hosts]", "no host: add a `[hosts.NAME]` table with an `address` per host".into()));
        }
        let resolve = |place: &str, p: Option<&String>| -> Result<Option<PathBuf>, HostsError> {
            p.map(|p| local_path(p, base, home).map_err(|why| invalid(place, why))).transpose()
        };
        let mut hosts = BTreeMap::new();
        for (name, own) in raw.hosts {
            let place = format!("host {name}");
            let place = place.as_str();
            if !valid_host_name(&name) {
                return Err(invalid(place, "a host name is letters, digits, `-`, `_` and `.`".into()));
            }
            let address = own.address.clone().filter(|a| !a.trim().is_empty());
            let address =
                address.ok_or_else(|| invalid(place, "no `address` (the address or name ssh connects to)".into()))?;
            if address.starts_with('-') || address.chars().any(char::is_whitespace) {
                return Err(invalid(place, format!("{address:?} is not an address")));
            }
            let pick = |own: &Option<String>, default: &Option<String>| own.clone().or_else(|| default.clone());
            let port = match own.port.or(defaults.port) {
                Some(0) => return Err(invalid(place, "port 0 is not a port".into())),
                Some(port) => {
                    Some(u16::try_from(port).map_err(|_| invalid(place, format!("port {port} is not a port")))?)
                }
                None => None,
            };
            let user = pick(&own.user, &defaults.user);
            if user.as_deref().is_some_and(|u| u.is_empty() || u.starts_with('-') || u.contains(['@', ' '])) {
                return Err(invalid(place, format!("{:?} is not a user name", user.unwrap_or_default())));
            }
            let dir = pick(&own.dir, &defaults.dir).unwrap_or_else(|| DEFAULT_DIR.to_owned());
            if !valid_remote_dir(&dir) {
                return Err(invalid(
                    place,
                    format!("dir {dir:?} is not a plain path (letters, digits and `/._-+@,:`, `{{app}}`, `{{host}}`)"),
                ));
            }
            let metrics = match pick(&own.metrics, &defaults.metrics).as_deref() {
                None => Some(DEFAULT_METRICS.to_owned()),
                Some("off") => None,
                Some(addr) if valid_metrics_address(addr) => Some(addr.to_owned()),
                Some(addr) => return Err(invalid(place, format!("metrics {addr:?} is not HOST:PORT (or \"off\")"))),
            };
            let mut env = defaults.env.clone().unwrap_or_default();
            env.extend(own.env.clone().unwrap_or_default());
            if let Some(key) = env.keys().find(|k| !valid_env_name(k)) {
                return Err(invalid(place, format!("{key:?} is not an environment variable name")));
            }
            let args = own.args.clone().or_else(|| defaults.args.clone()).unwrap_or_default();
            let entry = HostEntry {
                name: name.clone(),
                address,
                user,
                port,
                identity: resolve(place, own.identity.as_ref().or(defaults.identity.as_ref()))?,
                known_hosts: resolve(place, own.known_hosts.as_ref().or(defaults.known_hosts.as_ref()))?,
                host_key_checking: own.host_key_checking.or(defaults.host_key_checking).unwrap_or_default(),
                ssh_config: resolve(place, own.ssh_config.as_ref().or(defaults.ssh_config.as_ref()))?,
                dir,
                supervisor: own.supervisor.or(defaults.supervisor).unwrap_or_default(),
                metrics,
                env,
                args,
            };
            hosts.insert(name, entry);
        }
        Ok(HostsFile { path: path.to_owned(), hosts })
    }
}

/// The home folder of this user, from `HOME`.
fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// A local path of the hosts file: `~/` from `home`, relative ones from `base`.
fn local_path(text: &str, base: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("an empty path".into());
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return home.map(|h| h.join(rest)).ok_or_else(|| format!("{text}: HOME is not set"));
    }
    let path = Path::new(text);
    Ok(if path.is_absolute() { path.to_owned() } else { base.join(path) })
}

/// Whether `name` can name a host: what a `.depl` writes, and safe in file and unit names.
fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Whether `dir` is a remote folder that needs no quoting anywhere (shell, scp, unit files): a
/// path of plain characters, with `{app}` and `{host}`, and not `/` itself.
fn valid_remote_dir(dir: &str) -> bool {
    let plain = dir.replace("{app}", "a").replace("{host}", "h");
    let plain = plain.strip_prefix("~/").unwrap_or(&plain);
    !plain.is_empty()
        && !plain.trim_end_matches('/').is_empty()
        && !plain.starts_with('-')
        && !plain.split('/').any(|part| part == "..")
        && plain.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+@,:".contains(c))
}

/// Whether `name` is a portable environment variable name.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `addr` is `HOST:PORT` with a port number.
fn valid_metrics_address(addr: &str) -> bool {
    addr.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

/// The hosts file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawHost>,
    #[serde(default)]
    hosts: BTreeMap<String, RawHost>,
}

/// One host's table, or `[defaults]`, as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    address: Option<String>,
    user: Option<String>,
    port: Option<i64>,
    identity: Option<String>,
    known_hosts: Option<String>,
    host_key_checking: Option<HostKeyChecking>,
    ssh_config: Option<String>,
    dir: Option<String>,
    supervisor: Option<Supervisor>,
    metrics: Option<String>,
    env: Option<BTreeMap<String, String>>,
    args: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HostsFile, HostsError> {
        HostsFile::parse(Path::new("hosts.toml"), text, Path::new("/etc/cohort"), Some(Path::new("/home/me")))
    }

    #[test]
    fn a_host_takes_the_defaults_it_does_not_override() {
        let file = parse(
            r#"
            [defaults]
            user = "cohort"
            identity = "~/.ssh/cohort"
            env = { RUST_BACKTRACE = "1", A = "x" }
            args = ["--interface", "eth0"]

            [hosts.host-a]
            address = "10.0.0.1"

            [hosts.host-b]
            address = "10.0.0.2"
            user = "root"
            port = 2222
            identity = "keys/b"
            dir = "/opt/{app}/{host}"
            supervisor = "process"
            metrics = "off"
            env = { A = "y" }
            args = []
            "#,
        )
        .unwrap();
        let a = &file.hosts["host-a"];
        assert_eq!(a.user.as_deref(), Some("cohort"));
        assert_eq!(a.identity.as_deref(), Some(Path::new("/home/me/.ssh/cohort")));
        assert_eq!(a.port, None);
        assert_eq!(a.dir_for("Microgrid"), "cohort/Microgrid");
        assert_eq!(a.supervisor, Supervisor::Auto);
        assert_eq!(a.metrics.as_deref(), Some(DEFAULT_METRICS));
        assert_eq!(a.args, ["--interface", "eth0"]);
        assert_eq!(a.destination(), "cohort@10.0.0.1");
        let b = &file.hosts["host-b"];
        assert_eq!(b.user.as_deref(), Some("root"));
        assert_eq!(b.identity.as_deref(), Some(Path::new("/etc/cohort/keys/b")));
        assert_eq!(b.dir_for("Microgrid"), "/opt/Microgrid/host-b");
        assert_eq!(b.supervisor, Supervisor::Process);
        assert_eq!(b.metrics, None);
        assert_eq!(b.env["A"], "y");
        assert_eq!(b.env["RUST_BACKTRACE"], "1");
        assert!(b.args.is_empty());
        assert_eq!(b.destination(), "root@10.0.0.2:2222");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let e = parse("[hosts.a]\naddress = \"h\"\nidentiy = \"k\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("hosts.toml: ") && text.contains("identiy") && text.contains("line 3"), "{text}");
    }

    #[test]
    fn wrong_values_name_the_host_and_the_fix() {
        let cases = [
            ("[hosts.a]\n", "host a: no `address`"),
            ("[hosts.a]\naddress = \"h\"\nport = 70000\n", "host a: port 70000 is not a port"),
            ("[hosts.a]\naddress = \"h\"\nport = 0\n", "host a: port 0 is not a port"),
            ("[hosts.a]\naddress = \"-oProxyCommand=x\"\n", "is not an address"),
            ("[hosts.a]\naddress = \"h\"\nuser = \"a@b\"\n", "is not a user name"),
            ("[hosts.a]\naddress = \"h\"\nmetrics = \"9464\"\n", "is not HOST:PORT"),
            ("[hosts.a]\naddress = \"h\"\nenv = { \"A-B\" = \"x\" }\n", "is not an environment variable name"),
            ("[hosts.\"a b\"]\naddress = \"h\"\n", "a host name is"),
            ("[defaults]\naddress = \"h\"\n[hosts.a]\naddress = \"h\"\n", "[defaults]: `address` belongs"),
            ("[defaults]\nuser = \"u\"\n", "[hosts]: no host"),
            ("[hosts.a]\naddress = \"h\"\ndir = \"/opt/my app\"\n", "is not a plain path"),
            ("[hosts.a]\naddress = \"h\"\ndir = \"/\"\n", "is not a plain path"),
            ("[hosts.a]\naddress = \"h\"\ndir = \"../x\"\n", "is not a plain path"),
            ("[hosts.a]\naddress = \"h\"\ndir = \"$HOME/x\"\n", "is not a plain path"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?} gave {e:?}, expected {expected:?}");
        }
    }

    #[test]
    fn supervisor_and_host_key_checking_take_their_names() {
        let file = parse(
            "[hosts.a]\naddress = \"h\"\nsupervisor = \"systemd\"\nhost_key_checking = \"accept-new\"\n\
             known_hosts = \"kh\"\nssh_config = \"/dev/null\"\n",
        )
        .unwrap();
        let a = &file.hosts["a"];
        assert_eq!(a.supervisor, Supervisor::Systemd);
        assert_eq!(a.host_key_checking, HostKeyChecking::AcceptNew);
        assert_eq!(a.known_hosts.as_deref(), Some(Path::new("/etc/cohort/kh")));
        assert_eq!(a.ssh_config.as_deref(), Some(Path::new("/dev/null")));
        let e = parse("[hosts.a]\naddress = \"h\"\nsupervisor = \"runit\"\n").unwrap_err().to_string();
        assert!(e.contains("runit"), "{e}");
    }

    #[test]
    fn an_ipv6_address_is_bracketed_with_its_port() {
        let file = parse("[hosts.a]\naddress = \"fd00::1\"\nport = 22\n").unwrap();
        assert_eq!(file.hosts["a"].destination(), "[fd00::1]:22");
    }
}
