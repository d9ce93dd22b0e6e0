//! Socket options: timeouts, queue limits, dead-peer detection, message size, linger, batches.

use std::time::Duration;

/// Options the factory applies to every socket it makes. [`Default`] gives the documented
/// defaults; every field can be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    /// How long a send may wait when the peer's queue is full (`ZMQ_SNDTIMEO`). Default 1 s;
    /// after it the send fails with [`crate::PortError::SendTimeout`] instead of hanging.
    pub send_timeout: Duration,
    /// Outgoing queue limit in messages, per peer (`ZMQ_SNDHWM`). Default 1000.
    pub send_hwm: i32,
    /// Incoming queue limit in messages, per peer (`ZMQ_RCVHWM`). Default 1000.
    pub recv_hwm: i32,
    /// Interval of ZMTP heartbeats (`ZMQ_HEARTBEAT_IVL`). Default 1 s; zero turns heartbeats off.
    /// TCP keepalive is not used: the libzmq Cohort's zmq-sys builds has it compiled out.
    pub heartbeat_interval: Duration,
    /// How long to wait for a heartbeat reply before the peer counts as dead and its connection
    /// is dropped (`ZMQ_HEARTBEAT_TIMEOUT`). Default 3 s.
    pub heartbeat_timeout: Duration,
    /// How long the peer may go without hearing from us before it drops the connection
    /// (`ZMQ_HEARTBEAT_TTL`, rounded down to 100 ms). Default 3 s.
    pub heartbeat_ttl: Duration,
    /// Largest message accepted (`ZMQ_MAXMSGSIZE`); a bigger one drops the connection.
    /// Default 16 MiB.
    pub max_message_size: i64,
    /// How long unsent messages are kept when a socket closes (`ZMQ_LINGER`). Default 200 ms.
    pub linger: Duration,
    /// How long a connect-side socket waits before reconnecting (`ZMQ_RECONNECT_IVL`).
    /// Default 100 ms.
    pub reconnect_interval: Duration,
    /// Deadline of a `req`, `clt` or `qry` request unless the call gives its own. Default 5 s.
    pub request_timeout: Duration,
    /// Whether a publisher blocks (up to `send_timeout`) instead of dropping messages for a
    /// subscriber whose queue is full (`ZMQ_XPUB_NODROP`). Default false: a slow subscriber
    /// must not stall the publisher.
    pub publish_no_drop: bool,
    /// How many bytes a connection reads from the network, and writes to it, at once
    /// (`ZMQ_IN_BATCH_SIZE` and `ZMQ_OUT_BATCH_SIZE`). Default [`DEFAULT_BATCH_SIZE`], 8 KiB,
    /// libzmq's own. A batch holds only what is already queued, so a larger one delays nothing;
    /// when small messages queue up it takes fewer system calls per message (group members use
    /// 256 KiB). Must be positive. These are draft options of libzmq 4.3: the libzmq Cohort's
    /// zmq-sys builds has them; a libzmq without the draft API (Debian's) keeps its 8 KiB.
    pub batch_size: i32,
}

/// libzmq's own batch size, in bytes: the default of [`SocketOptions::batch_size`].
pub const DEFAULT_BATCH_SIZE: i32 = 8192;

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            send_timeout: Duration::from_secs(1),
            send_hwm: 1000,
            recv_hwm: 1000,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            heartbeat_ttl: Duration::from_secs(3),
            max_message_size: 16 * 1024 * 1024,
            linger: Duration::from_millis(200),
            reconnect_interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
            publish_no_drop: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// A duration as the `int` milliseconds ZeroMQ options take, saturating.
pub(crate) fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
