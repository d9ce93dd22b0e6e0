//! Registries shared between hosts. The daemon tells its backend what this host provides
//! globally and learns from it what other hosts provide.

use crate::service::Service;

/// A change another host made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteChange {
    /// Another host provides `service` at the endpoint.
    Added(Service, String),
    /// Another host no longer provides it.
    Removed(Service, String),
}

/// An error of a backend.
#[derive(Debug, thiserror::Error)]
#[error("registry backend: {0}")]
pub struct BackendError(pub String);

/// A registry shared between the daemons of several hosts.
pub trait Backend {
    /// This host provides `service` at `endpoint`.
    fn share(&mut self, service: &Service, endpoint: &str) -> Result<(), BackendError>;
    /// This host no longer provides `service` at `endpoint`.
    fn unshare(&mut self, service: &Service, endpoint: &str) -> Result<(), BackendError>;
    /// Changes other hosts made since the last call.
    fn changes(&mut self) -> Result<Vec<RemoteChange>, BackendError>;
    /// A socket or file descriptor to poll for changes, if the backend has one.
    fn poll_fd(&self) -> Option<std::os::unix::io::RawFd> {
        None
    }
}

/// The embedded single-host registry: nothing is shared, there are no other hosts.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryBackend;

impl Backend for MemoryBackend {
    fn share(&mut self, _: &Service, _: &str) -> Result<(), BackendError> {
        Ok(())
    }

    fn unshare(&mut self, _: &Service, _: &str) -> Result<(), BackendError> {
        Ok(())
    }

    fn changes(&mut self) -> Result<Vec<RemoteChange>, BackendError> {
        Ok(Vec::new())
    }
}
