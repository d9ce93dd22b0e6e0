//! Shaping an actor's traffic, as RIAPS does: an HTB class per actor process on the interface
//! its ports bind to, and the process in a `net_cls` cgroup whose class id sends its packets to
//! that class. It takes `tc` (iproute2), a v1 `net_cls` hierarchy and the right to change the
//! interface's queueing (root).
//!
//! The class id reaches the packets in one of two ways:
//! - the `cgroup` traffic classifier (`cls_cgroup`) on the root discipline, as RIAPS does;
//! - where the kernel lacks it, an nftables rule per class in a table of the launcher's
//!   (`inet cohort_<pid>`), which gives the packets of the cgroup (`meta cgroup`) the class as
//!   their priority (`meta priority set`), by which HTB classifies them. It takes `nft`.
//!
//! The interface's root queueing discipline becomes `htb 1:` with `default 0`: packets that no
//! class takes (every other process's) leave unshaped. It is made only where the root is the
//! kernel's default (`noqueue`, `pfifo_fast`, `fq_codel`, `mq`, ...), taken as it is where it is
//! `htb 1:` already (another launcher's), and left alone otherwise: someone else shapes that
//! interface. The launcher removes its classes when it stops, and the root discipline too when
//! it made it and no class is left.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::budget::NetBudget;
use crate::cgroup::{join, own_cgroup, remove_tree, sweep};

/// The least burst a class gets, in bytes: a whole Ethernet frame, or the class cannot send one.
const LEAST_BURST: u64 = 1600;

/// The root disciplines a kernel gives an interface by itself, which the shaper may replace.
const DEFAULT_ROOTS: [&str; 7] = ["noqueue", "pfifo_fast", "fq_codel", "mq", "fq", "pfifo", "noop"];

/// Why traffic cannot be shaped.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// No `net_cls` hierarchy (v1) is mounted under the root.
    #[error("no net_cls cgroup hierarchy under {0}")]
    NoNetCls(PathBuf),
    /// The interface's root discipline is someone else's.
    #[error("interface {interface} has a root queueing discipline of its own ({kind}); it is left as it is")]
    Taken {
        /// The interface.
        interface: String,
        /// Its root discipline.
        kind: String,
    },
    /// A `tc` command failed.
    #[error("tc {args}: {why}")]
    Tc {
        /// Its arguments.
        args: String,
        /// What it said.
        why: String,
    },
    /// A cgroup file or folder could not be made or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Runs `tc` with `args`; what it printed.
fn tc(args: &[&str]) -> Result<String, NetError> {
    let failed = |why: String| NetError::Tc { args: args.join(" "), why };
    let out = Command::new("tc").args(args).output().map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// How packets find their class.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Classifier {
    /// The `cgroup` classifier of the root discipline.
    Cgroup,
    /// The launcher's nftables table, of this name.
    Nft(String),
}

/// A launcher's shaping of one interface: its `net_cls` folder, `cohort/<app>.<launcher pid>`.
#[derive(Debug)]
pub struct NetShaper {
    interface: String,
    folder: PathBuf,
    /// Whether this launcher made the interface's root discipline.
    made_root: bool,
    classifier: Classifier,
}

impl NetShaper {
    /// Prepares shaping of `interface` for app `app`, with the `net_cls` hierarchy under
    /// `root` (normally [`crate::DEFAULT_ROOT`]).
    pub fn open(root: &Path, app: &str, interface: &str) -> Result<NetShaper, NetError> {
        let mount = ["net_cls", "net_cls,net_prio", "net_prio,net_cls"]
            .iter()
            .map(|m| root.join(m))
            .find(|m| m.join("net_cls.classid").exists())
            .ok_or_else(|| NetError::NoNetCls(root.to_path_buf()))?;
        let parent = mount.join(own_cgroup("net_cls").unwrap_or_default()).join("cohort");
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NetError::Io { path, source }
        };
        std::fs::create_dir_all(&parent).map_err(io_error(&parent))?;
        sweep(&parent);
        let folder = parent.join(format!("{app}.{}", std::process::id()));
        match std::fs::create_dir(&folder) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&folder)(e)),
        }
        let (made_root, classifier) = match ensure_root(interface) {
            Ok(made) => made,
            Err(e) => {
                remove_tree(&folder);
                return Err(e);
            }
        };
        Ok(NetShaper { interface: interface.to_owned(), folder, made_root, classifier })
    }

    /// How packets find their class: `cgroup` (the traffic classifier) or `nftables`.
    pub fn classifier(&self) -> &'static str {
        match self.classifier {
            Classifier::Cgroup => "cgroup",
            Classifier::Nft(_) => "nftables",
        }
    }

    /// The interface shaped.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Gives process `name` (`ACTOR`, or `ACTOR.INSTANCE` for a device) a class of `net`'s
    /// rate, ceiling and burst, and a `net_cls` cgroup that sends its packets there.
    pub fn shape(&self, name: &str, net: &NetBudget) -> Result<NetClass, NetError> {
        let dir = self.folder.join(name);
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NetError::Io { path, source }
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&dir)(e)),
        }
        let minor = free_minor(&self.interface)?;
        let classid = format!("1:{minor:x}");
        let burst = net.burst.unwrap_or(LEAST_BURST).max(LEAST_BURST);
        let (rate, ceil) = (format!("{}bps", net.rate.max(1)), format!("{}bps", net.ceil.max(net.rate).max(1)));
        let burst = format!("{burst}b");
        tc(&[
            "class",
            "add",
            "dev",
            &self.interface,
            "parent",
            "1:",
            "classid",
            &classid,
            "htb",
            "rate",
            &rate,
            "ceil",
            &ceil,
            "burst",
            &burst,
            "cburst",
            &burst,
        ])?;
        let class = NetClass::new(self.interface.clone(), minor, dir)?;
        let id = (1u32 << 16) | u32::from(minor);
        let file = class.dir.join("net_cls.classid");
        if let Err(e) = std::fs::write(&file, id.to_string()) {
            class.remove();
            return Err(io_error(&file)(e));
        }
        if let Classifier::Nft(table) = &self.classifier {
            let rule = format!("add rule inet {table} out meta cgroup {id} meta priority set {classid}");
            if let Err(e) = nft(&rule) {
                class.remove();
                return Err(e);
            }
        }
        Ok(class)
    }

    /// Removes the launcher's folder, and the interface's root discipline if the launcher made
    /// it and no class is left in it (once its processes have exited and their classes are
    /// removed).
    pub fn remove(&self) {
        remove_tree(&self.folder);
        if let Classifier::Nft(table) = &self.classifier {
            let _ = nft(&format!("delete table inet {table}"));
        }
        if self.made_root && classes(&self.interface).is_ok_and(|c| c.is_empty()) {
            let _ = tc(&["qdisc", "del", "dev", &self.interface, "root"]);
        }
    }
}

/// Runs `nft` with `command` (one line of its language); what it printed.
fn nft(command: &str) -> Result<String, NetError> {
    let failed = |why: String| NetError::Tc { args: format!("(nft) {command}"), why };
    let out = Command::new("nft").arg(command).output().map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Makes the root discipline `htb 1:` of `interface`, unless it is there, and the way packets
/// find their class: whether it made the root, and the classifier.
fn ensure_root(interface: &str) -> Result<(bool, Classifier), NetError> {
    let shown = tc(&["qdisc", "show", "dev", interface, "root"])?;
    let mut words = shown.split_whitespace().skip(1);
    let (kind, handle) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let made = if kind == "htb" && handle == "1:" {
        false
    } else if DEFAULT_ROOTS.contains(&kind) {
        tc(&["qdisc", "replace", "dev", interface, "root", "handle", "1:", "htb", "default", "0"])?;
        true
    } else {
        return Err(NetError::Taken { interface: interface.to_owned(), kind: kind.to_owned() });
    };
    match classifier(interface) {
        Ok(classifier) => Ok((made, classifier)),
        Err(e) => {
            if made {
                let _ = tc(&["qdisc", "del", "dev", interface, "root"]);
            }
            Err(e)
        }
    }
}

/// The cgroup classifier on the root of `interface`, there already or added; else the
/// launcher's nftables table, made (after removing those of launchers that are gone).
fn classifier(interface: &str) -> Result<Classifier, NetError> {
    if tc(&["filter", "show", "dev", interface, "parent", "1:"])?.contains("cgroup") {
        return Ok(Classifier::Cgroup);
    }
    let filter = ["filter", "add", "dev", interface, "parent", "1:", "protocol", "all", "prio", "10", "handle", "1:"];
    let without = match tc(&[&filter[..], &["cgroup"]].concat()) {
        Ok(_) => return Ok(Classifier::Cgroup),
        Err(e) => e,
    };
    let tables = nft("list tables").map_err(|e| NetError::Tc {
        args: "cannot classify by cgroup".to_owned(),
        why: format!("{without}; and nftables cannot stand in: {e}"),
    })?;
    for table in tables.lines().filter_map(|l| l.strip_prefix("table inet cohort_")) {
        let gone = table.parse::<i32>().is_ok_and(|pid| {
            // SAFETY: kill with signal 0 only asks whether the process exists.
            unsafe { libc::kill(pid, 0) != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) }
        });
        if gone {
            let _ = nft(&format!("delete table inet cohort_{table}"));
        }
    }
    let table = format!("cohort_{}", std::process::id());
    nft(&format!("add table inet {table}"))?;
    nft(&format!("add chain inet {table} out {{ type filter hook output priority 0; }}"))?;
    Ok(Classifier::Nft(table))
}

/// The minors of the HTB classes under `1:` of `interface`.
fn classes(interface: &str) -> Result<Vec<u16>, NetError> {
    let shown = tc(&["class", "show", "dev", interface])?;
    Ok(shown
        .lines()
        .filter_map(|line| {
            let id = line.split_whitespace().nth(2)?;
            u16::from_str_radix(id.strip_prefix("1:")?, 16).ok()
        })
        .collect())
}

/// The least class minor of `interface` from 0x10 on that no class has.
fn free_minor(interface: &str) -> Result<u16, NetError> {
    let taken = classes(interface)?;
    (0x10..u16::MAX).find(|m| !taken.contains(m)).ok_or_else(|| NetError::Tc {
        args: format!("class show dev {interface}"),
        why: "no class id is free".to_owned(),
    })
}

/// One process's class and `net_cls` cgroup.
#[derive(Debug, Clone)]
pub struct NetClass {
    interface: String,
    minor: u16,
    dir: PathBuf,
    procs: CString,
}

impl NetClass {
    fn new(interface: String, minor: u16, dir: PathBuf) -> Result<NetClass, NetError> {
        let path = dir.join("cgroup.procs");
        let procs = CString::new(path.as_os_str().as_bytes())
            .map_err(|e| NetError::Io { path: path.clone(), source: io::Error::other(e) })?;
        Ok(NetClass { interface, minor, dir, procs })
    }

    /// The class id, as `tc` writes it (`1:10`).
    pub fn classid(&self) -> String {
        format!("1:{:x}", self.minor)
    }

    /// Moves the calling process into the class's cgroup: for the forked child before it runs
    /// the actor, like [`crate::ActorCgroup::join_self`].
    pub fn join_self(&self) -> io::Result<()> {
        join(std::slice::from_ref(&self.procs))
    }

    /// Removes the class and its cgroup (once the process has exited).
    pub fn remove(&self) {
        let _ = tc(&["class", "del", "dev", &self.interface, "classid", &self.classid()]);
        let _ = std::fs::remove_dir(&self.dir);
    }
}
