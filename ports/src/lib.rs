//! Cohort ports: the kinds of port a component can have, the port factory that turns a port of
//! the model into a ZeroMQ socket, the wire format and socket security.
//!
//! The port kinds and the factory arrive with the ports issue; for now this crate only reports
//! what the linked libzmq can do, which the CLI shows and later security checks rely on.

/// What the linked libzmq is and which optional mechanisms it was built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibzmqInfo {
    /// libzmq version as (major, minor, patch).
    pub version: (i32, i32, i32),
    /// Whether CURVE security is available (false for the vendored build of `zmq` 0.10).
    pub curve: bool,
    /// Whether the ipc transport is available.
    pub ipc: bool,
}

/// Reports the version and capabilities of the libzmq this binary is linked against.
pub fn libzmq_info() -> LibzmqInfo {
    let (major, minor, patch) = zmq::version();
    LibzmqInfo {
        version: (major, minor, patch),
        curve: zmq::has("curve").unwrap_or(false),
        ipc: zmq::has("ipc").unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_libzmq_is_4_3_with_ipc() {
        let info = libzmq_info();
        assert_eq!((info.version.0, info.version.1), (4, 3));
        assert!(info.ipc, "libzmq without ipc cannot carry local ports");
    }
}
