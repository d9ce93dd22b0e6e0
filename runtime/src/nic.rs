//! Follows the state of one network interface through netlink: an `AF_NETLINK` /
//! `NETLINK_ROUTE` socket subscribed to `RTMGRP_LINK`, which the kernel tells about every change
//! of every link. The actor's main thread polls the socket beside its others and hands each
//! change of the interface its global ports bind to to its components ([`NicState`]).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::events::NicState;

/// Why the interface cannot be followed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NicError {
    /// The interface name is not a valid C string, or no interface has it.
    #[error("no interface named {0:?}")]
    NoSuchInterface(String),
    /// A system call failed.
    #[error("{call} failed: {source}")]
    Os {
        /// The call.
        call: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

fn os(call: &'static str) -> NicError {
    NicError::Os { call, source: std::io::Error::last_os_error() }
}

/// A netlink socket that follows one interface.
pub(crate) struct NicMonitor {
    socket: OwnedFd,
    name: String,
    index: i32,
    last: NicState,
}

/// The size of `nlmsghdr` and of `ifinfomsg`, as the kernel lays them out.
const NLMSG_HEADER: usize = 16;
const IFINFO: usize = 16;

impl NicMonitor {
    /// Opens a netlink socket that follows interface `name`, whose current state it reads.
    pub(crate) fn open(name: &str) -> Result<NicMonitor, NicError> {
        let c_name = CString::new(name).map_err(|_| NicError::NoSuchInterface(name.to_owned()))?;
        // SAFETY: if_nametoindex reads a valid C string.
        let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
        let index =
            i32::try_from(index).ok().filter(|i| *i > 0).ok_or_else(|| NicError::NoSuchInterface(name.to_owned()))?;
        // SAFETY: socket(2) with constant arguments; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(os("socket(AF_NETLINK)"));
        }
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = libc::RTMGRP_LINK as u32;
        // SAFETY: addr is a sockaddr_nl of the size given.
        let rc = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(os("bind(RTMGRP_LINK)"));
        }
        let last = current_state(&c_name)?;
        Ok(NicMonitor { socket, name: name.to_owned(), index, last })
    }

    /// The interface's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The interface's state when last read.
    pub(crate) fn state(&self) -> NicState {
        self.last
    }

    /// The descriptor to poll for readability.
    pub(crate) fn fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Reads what the kernel sent, without blocking; the interface's new state if it changed.
    pub(crate) fn read(&mut self) -> Result<Option<NicState>, NicError> {
        let mut buf = vec![0u8; 16 * 1024];
        let before = self.last;
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::recv(self.socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => break,
                    // The kernel dropped messages: read the state itself.
                    Some(libc::ENOBUFS) => {
                        let c_name = CString::new(self.name.as_str())
                            .map_err(|_| NicError::NoSuchInterface(self.name.clone()))?;
                        self.last = current_state(&c_name).unwrap_or(NicState::Down);
                        continue;
                    }
                    _ => return Err(NicError::Os { call: "recv(netlink)", source: e }),
                }
            }
            let n = usize::try_from(n).unwrap_or(0);
            for (index, state) in link_states(buf.get(..n).unwrap_or_default()) {
                if index == self.index {
                    self.last = state;
                }
            }
        }
        Ok((self.last != before).then_some(self.last))
    }
}

/// The interface's state from its flags (`SIOCGIFFLAGS`).
fn current_state(name: &CString) -> Result<NicState, NicError> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os("socket(AF_INET)"));
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (to, from) in req.ifr_name.iter_mut().zip(name.as_bytes().iter().take(libc::IFNAMSIZ - 1)) {
        *to = *from as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into req.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut req) } != 0 {
        return Err(os("ioctl(SIOCGIFFLAGS)"));
    }
    // SAFETY: SIOCGIFFLAGS filled in the flags member of the union.
    let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
    Ok(state_of(flags as u32))
}

/// The state that link flags stand for.
fn state_of(flags: u32) -> NicState {
    let wanted = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    if flags & wanted == wanted {
        NicState::Up
    } else {
        NicState::Down
    }
}

/// The links and their states that a buffer of netlink messages tells about, in order: new
/// links by their flags, deleted links as down.
fn link_states(mut buf: &[u8]) -> Vec<(i32, NicState)> {
    let mut found = Vec::new();
    while buf.len() >= NLMSG_HEADER {
        let len = u32_at(buf, 0) as usize;
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < NLMSG_HEADER || len > buf.len() {
            break;
        }
        if (kind == libc::RTM_NEWLINK || kind == libc::RTM_DELLINK) && len >= NLMSG_HEADER + IFINFO {
            let body = &buf[NLMSG_HEADER..len];
            let index = u32_at(body, 4) as i32;
            let flags = u32_at(body, 8);
            found.push((index, if kind == libc::RTM_DELLINK { NicState::Down } else { state_of(flags) }));
        }
        let aligned = (len + 3) & !3;
        buf = buf.get(aligned..).unwrap_or_default();
    }
    found
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = buf.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_ne_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, index: i32, flags: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&32u32.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[0, 0, 1, 0]);
        m.extend_from_slice(&index.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m
    }

    #[test]
    fn link_messages_give_states() {
        let up = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
        let mut buf = message(libc::RTM_NEWLINK, 3, up);
        buf.extend(message(libc::RTM_NEWLINK, 4, libc::IFF_UP as u32));
        buf.extend(message(libc::RTM_DELLINK, 5, up));
        buf.extend(message(libc::RTM_NEWADDR, 6, up));
        buf.extend_from_slice(&[1, 2, 3]);
        assert_eq!(link_states(&buf), [(3, NicState::Up), (4, NicState::Down), (5, NicState::Down)]);
    }

    #[test]
    fn loopback_is_followed() {
        let monitor = NicMonitor::open("lo").expect("netlink");
        assert_eq!(monitor.state(), NicState::Up);
        assert!(NicMonitor::open("no-such-nic0").is_err());
    }
}
