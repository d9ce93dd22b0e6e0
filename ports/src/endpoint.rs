//! ZeroMQ endpoints and the transports behind them.

use crate::error::PortError;

/// The transport of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `tcp://host:port`, for global ports.
    Tcp,
    /// `ipc://path`, for local ports.
    Ipc,
    /// `inproc://name`, for internal ports inside one actor process.
    Inproc,
}

/// A ZeroMQ endpoint such as `tcp://10.0.0.2:40123`, as bound by a provider and connected to by
/// its consumers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint(String);

impl Endpoint {
    /// Parses `text`, which must start with `tcp://`, `ipc://` or `inproc://` and name something.
    pub fn parse(text: &str) -> Result<Endpoint, PortError> {
        let invalid = |why: &str| PortError::InvalidEndpoint { endpoint: text.to_owned(), why: why.to_owned() };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| invalid("expected tcp://, ipc:// or inproc://"))?;
        match scheme {
            "tcp" => {
                let (host, port) = rest.rsplit_once(':').ok_or_else(|| invalid("expected tcp://HOST:PORT"))?;
                if host.is_empty() {
                    return Err(invalid("the host is empty"));
                }
                if port != "*" && port.parse::<u16>().is_err() {
                    return Err(invalid("the port is not a number from 0 to 65535"));
                }
            }
            "ipc" | "inproc" if rest.is_empty() => return Err(invalid("the name is empty")),
            "ipc" | "inproc" => {}
            _ => return Err(invalid("expected tcp://, ipc:// or inproc://")),
        }
        Ok(Endpoint(text.to_owned()))
    }

    /// The endpoint as ZeroMQ writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The transport of the endpoint.
    pub fn transport(&self) -> Transport {
        if self.0.starts_with("tcp://") {
            Transport::Tcp
        } else if self.0.starts_with("ipc://") {
            Transport::Ipc
        } else {
            Transport::Inproc
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_checked() {
        assert_eq!(Endpoint::parse("tcp://10.0.0.2:4000").unwrap().transport(), Transport::Tcp);
        assert_eq!(Endpoint::parse("ipc:///tmp/x.sock").unwrap().transport(), Transport::Ipc);
        assert_eq!(Endpoint::parse("inproc://a.b").unwrap().transport(), Transport::Inproc);
        for bad in ["", "tcp://", "tcp://host", "tcp://:1", "tcp://h:99999", "udp://h:1", "ipc://", "inproc://"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
