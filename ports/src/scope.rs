//! Scopes of ports and the transports they map to.
//!
//! | scope | transport | bound at | visible to |
//! |---|---|---|---|
//! | global | tcp | `tcp://<interface address>:<ephemeral>` | every host of the app |
//! | local | ipc | `ipc://<runtime dir>/<unique>.sock` | actors on this host |
//! | internal | inproc | `inproc://<actor>/<instance>.<port>` | this actor process only |

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use crate::endpoint::Endpoint;
use crate::error::PortError;

/// The scope of a port: that of its message types in the hosting actor. It has one home, the
/// model ([`cohort_model::Scope`]); this crate maps it to a transport.
pub use cohort_model::Scope;

/// Which network interface global ports bind to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Interface {
    /// The first non-loopback IPv4 interface that is up, else loopback.
    #[default]
    Auto,
    /// The IPv4 address of the interface with this name (`eth0`).
    Named(String),
    /// This address.
    Address(IpAddr),
}

impl Interface {
    /// The address this choice stands for on this host.
    pub fn resolve(&self) -> Result<IpAddr, PortError> {
        match self {
            Interface::Address(addr) => Ok(*addr),
            Interface::Auto => {
                let found = ipv4_interfaces()?;
                Ok(found
                    .iter()
                    .find(|(_, addr)| !addr.is_loopback())
                    .map(|(_, addr)| IpAddr::V4(*addr))
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)))
            }
            Interface::Named(name) => {
                let found = ipv4_interfaces()?;
                found.iter().find(|(n, _)| n == name).map(|(_, addr)| IpAddr::V4(*addr)).ok_or_else(|| {
                    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                    PortError::Interface(format!(
                        "no interface named {name:?} with an IPv4 address is up (up: {})",
                        names.join(", ")
                    ))
                })
            }
        }
    }

    /// The name of the interface this choice stands for on this host (`eth0`): the named one,
    /// the one that holds the address, or the one [`Interface::Auto`] picks (`lo` when only
    /// loopback is up). None when no interface that is up holds the address.
    pub fn device(&self) -> Result<Option<String>, PortError> {
        if let Interface::Named(name) = self {
            return Ok(Some(name.clone()));
        }
        let address = self.resolve()?;
        Ok(ipv4_interfaces()?.into_iter().find(|(_, addr)| IpAddr::V4(*addr) == address).map(|(name, _)| name))
    }
}

/// The IPv4 interfaces that are up, in the order the kernel lists them.
fn ipv4_interfaces() -> Result<Vec<(String, Ipv4Addr)>, PortError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head that we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(PortError::Interface(format!("getifaddrs failed: {}", std::io::Error::last_os_error())));
    }
    let mut found = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: cursor is a non-null node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cursor };
        let up = ifa.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        // SAFETY: when non-null, ifa_addr points to a sockaddr whose family field is valid.
        if up && !ifa.ifa_addr.is_null() && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET {
            // SAFETY: the family is AF_INET, so the address is a sockaddr_in; ifa_name is a C string.
            let (addr, name) = unsafe {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                (Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)), std::ffi::CStr::from_ptr(ifa.ifa_name))
            };
            found.push((name.to_string_lossy().into_owned(), addr));
        }
        cursor = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

/// Where an actor's ports bind: the interface for global ports, the directory for local ones,
/// and the actor's name for internal ones.
#[derive(Debug, Clone)]
pub struct Addressing {
    global_ip: IpAddr,
    runtime_dir: PathBuf,
    actor: String,
}

impl Addressing {
    /// Addressing for `actor` of `app`: global ports on `interface`, local ports under
    /// [`default_runtime_dir`]`(app)`.
    pub fn new(app: &str, actor: &str, interface: &Interface) -> Result<Addressing, PortError> {
        Addressing::with_runtime_dir(interface, default_runtime_dir(app), actor)
    }

    /// Addressing with an explicit runtime directory for ipc endpoints (created if missing, mode 0700).
    pub fn with_runtime_dir(
        interface: &Interface,
        runtime_dir: impl Into<PathBuf>,
        actor: &str,
    ) -> Result<Addressing, PortError> {
        let runtime_dir = runtime_dir.into();
        create_private_dir(&runtime_dir)?;
        Ok(Addressing { global_ip: interface.resolve()?, runtime_dir, actor: actor.to_owned() })
    }

    /// The address global ports bind to.
    pub fn global_ip(&self) -> IpAddr {
        self.global_ip
    }

    /// The directory that holds this app's ipc endpoints.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// The endpoint to bind a port of `scope` at; `owner` and `port` name it (`instance`, `port`).
    pub(crate) fn bind_endpoint(&self, scope: Scope, owner: &str, port: &str) -> String {
        match scope {
            Scope::Global => match self.global_ip {
                IpAddr::V4(ip) => format!("tcp://{ip}:*"),
                IpAddr::V6(ip) => format!("tcp://[{ip}]:*"),
            },
            // A Unix socket path is limited to 107 bytes, so the file name is short and unique;
            // the port it belongs to is known from discovery, not from the name.
            // The name starts with the process id, so files of dead processes can be found.
            Scope::Local => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                format!("ipc://{}/{}-{}.sock", self.runtime_dir.display(), std::process::id(), &id[..12])
            }
            Scope::Internal => format!("inproc://{}/{owner}.{port}", self.actor),
        }
    }
}

impl Addressing {
    /// Removes the ipc files that processes which no longer exist left in the runtime
    /// directory (an actor killed with SIGKILL cannot remove its own); returns how many.
    pub fn remove_stale_ipc(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.runtime_dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_suffix(".sock")).and_then(|n| n.split_once('-')) else {
                continue;
            };
            let Ok(pid) = pid.0.parse::<libc::pid_t>() else {
                continue;
            };
            // SAFETY: signal 0 only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// The file behind an ipc endpoint a port bound, removed when the port is dropped (after its
/// socket, which is declared before it): ZeroMQ leaves the file behind.
#[derive(Debug)]
pub(crate) struct IpcFile(Option<PathBuf>);

impl IpcFile {
    /// The file of `endpoint`, if it is an ipc endpoint.
    pub(crate) fn of(endpoint: &Endpoint) -> IpcFile {
        IpcFile(endpoint.as_str().strip_prefix("ipc://").map(PathBuf::from))
    }
}

impl Drop for IpcFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The default runtime directory of `app`: `$XDG_RUNTIME_DIR/cohort/<app>` when that variable is
/// set, else `<temp dir>/cohort-<uid>/<app>`.
pub fn default_runtime_dir(app: &str) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("cohort").join(app),
        _ => {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("cohort-{uid}")).join(app)
        }
    }
}

/// Creates `dir` and its parents, readable only by this user (mode 0700).
pub fn create_private_dir(dir: &Path) -> Result<(), PortError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PortError::RuntimeDir { path: dir.to_owned(), source })
}

/// The bound endpoint of a socket, as ZeroMQ reports it after binding.
pub(crate) fn last_endpoint(socket: &zmq::Socket) -> Result<Endpoint, PortError> {
    let text =
        socket.get_last_endpoint().map_err(|e| PortError::zmq("reading the bound endpoint", e))?.map_err(|raw| {
            PortError::InvalidEndpoint { endpoint: String::from_utf8_lossy(&raw).into_owned(), why: "not UTF-8".into() }
        })?;
    Endpoint::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_resolve() {
        let auto = Interface::Auto.resolve().unwrap();
        assert!(auto.is_ipv4());
        assert_eq!(Interface::Named("lo".into()).resolve().unwrap(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        let err = Interface::Named("no-such-nic".into()).resolve().unwrap_err().to_string();
        assert!(err.contains("no-such-nic") && err.contains("lo"), "{err}");
    }

    #[test]
    fn bind_endpoints_follow_the_scope() {
        let dir = std::env::temp_dir().join(format!("cohort-scope-test-{}", std::process::id()));
        let a = Addressing::with_runtime_dir(&Interface::Address(Ipv4Addr::LOCALHOST.into()), &dir, "A1").unwrap();
        assert_eq!(a.bind_endpoint(Scope::Global, "s", "p"), "tcp://127.0.0.1:*");
        assert_eq!(a.bind_endpoint(Scope::Internal, "s", "p"), "inproc://A1/s.p");
        let local = a.bind_endpoint(Scope::Local, "s", "p");
        assert!(local.starts_with(&format!("ipc://{}/", dir.display())) && local.ends_with(".sock"));
        assert_ne!(local, a.bind_endpoint(Scope::Local, "s", "p"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
