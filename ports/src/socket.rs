//! Making configured ZeroMQ sockets: the one place options and security are applied.

use crate::endpoint::Transport;
use crate::error::PortError;
use crate::kind::{PortKind, Side};
use crate::options::{millis, SocketOptions, DEFAULT_BATCH_SIZE};
use crate::security::Security;

/// Creates a socket of `kind`'s type with `options`, secured by `security` unless it will use
/// `transport` inproc. Options are set before the socket binds or connects, as ZeroMQ requires.
pub(crate) fn make_socket(
    ctx: &zmq::Context,
    kind: PortKind,
    transport: Transport,
    options: &SocketOptions,
    security: &Security,
) -> Result<zmq::Socket, PortError> {
    let mut socket = ctx.socket(kind.socket_type()).map_err(|e| PortError::zmq("creating a socket", e))?;
    let set = |what: &str, r: zmq::Result<()>| r.map_err(|e| PortError::zmq(format!("setting {what}"), e));
    set("ZMQ_SNDTIMEO", socket.set_sndtimeo(millis(options.send_timeout)))?;
    set("ZMQ_SNDHWM", socket.set_sndhwm(options.send_hwm))?;
    set("ZMQ_RCVHWM", socket.set_rcvhwm(options.recv_hwm))?;
    set("ZMQ_MAXMSGSIZE", socket.set_maxmsgsize(options.max_message_size))?;
    if options.batch_size != DEFAULT_BATCH_SIZE {
        set_batch_size(&mut socket, options.batch_size)?;
    }
    set("ZMQ_LINGER", socket.set_linger(millis(options.linger)))?;
    set("ZMQ_RECONNECT_IVL", socket.set_reconnect_ivl(millis(options.reconnect_interval)))?;
    if !options.heartbeat_interval.is_zero() && transport != Transport::Inproc {
        set("ZMQ_HEARTBEAT_IVL", socket.set_heartbeat_ivl(millis(options.heartbeat_interval)))?;
        set("ZMQ_HEARTBEAT_TIMEOUT", socket.set_heartbeat_timeout(millis(options.heartbeat_timeout)))?;
        // The TTL travels in the PING in units of 100 ms, up to 6553.5 s.
        let ttl = millis(options.heartbeat_ttl).clamp(0, 6_553_500) / 100 * 100;
        set("ZMQ_HEARTBEAT_TTL", socket.set_heartbeat_ttl(ttl))?;
    }
    match kind.socket_type() {
        zmq::ROUTER => {
            set("ZMQ_ROUTER_MANDATORY", socket.set_router_mandatory(true))?;
            // A peer that reconnects with the same routing id (a group member finding the same
            // leader again, a DEALER whose connection broke) takes its id over; without this
            // the ROUTER keeps the dead connection and silently ignores the new one.
            set("ZMQ_ROUTER_HANDOVER", socket.set_router_handover(true))?;
        }
        zmq::SUB => set("ZMQ_SUBSCRIBE", socket.set_subscribe(b""))?,
        zmq::PUB if options.publish_no_drop => {
            set_int_option(&mut socket, zmq_sys::ZMQ_XPUB_NODROP, 1, "ZMQ_XPUB_NODROP")?
        }
        _ => {}
    }
    if transport != Transport::Inproc {
        apply_security(&socket, kind.side(), security)?;
    }
    Ok(socket)
}

fn apply_security(socket: &zmq::Socket, side: Side, security: &Security) -> Result<(), PortError> {
    let Security::Curve(keys) = security else {
        return Ok(());
    };
    let set = |what: &str, r: zmq::Result<()>| r.map_err(|e| PortError::zmq(format!("setting {what}"), e));
    match side {
        Side::Bind => {
            set("ZMQ_CURVE_SERVER", socket.set_curve_server(true))?;
            set("ZMQ_CURVE_SECRETKEY", socket.set_curve_secretkey(keys.secret()))?;
        }
        Side::Connect => {
            set("ZMQ_CURVE_SERVERKEY", socket.set_curve_serverkey(keys.public()))?;
            set("ZMQ_CURVE_PUBLICKEY", socket.set_curve_publickey(keys.public()))?;
            set("ZMQ_CURVE_SECRETKEY", socket.set_curve_secretkey(keys.secret()))?;
        }
    }
    Ok(())
}

/// zmq.h's numbers of the draft options `ZMQ_IN_BATCH_SIZE` and `ZMQ_OUT_BATCH_SIZE` (zmq-sys
/// declares the stable API only).
const BATCH_SIZE_OPTIONS: [(u32, &str); 2] = [(101, "ZMQ_IN_BATCH_SIZE"), (102, "ZMQ_OUT_BATCH_SIZE")];

/// Sets how many bytes `socket`'s connections read and write at once. A libzmq built without
/// the draft API refuses both options (EINVAL for a positive size); it keeps its own size.
fn set_batch_size(socket: &mut zmq::Socket, bytes: i32) -> Result<(), PortError> {
    if bytes <= 0 {
        return Err(PortError::zmq(format!("setting the batch size to {bytes} bytes"), zmq::Error::EINVAL));
    }
    for (option, name) in BATCH_SIZE_OPTIONS {
        match set_int_option(socket, option, bytes, name) {
            // No draft API in this libzmq.
            Err(PortError::Zmq { source: zmq::Error::EINVAL, .. }) => return Ok(()),
            other => other?,
        }
    }
    Ok(())
}

/// Sets an `int` option that `zmq` 0.10 has no setter for.
pub(crate) fn set_int_option(socket: &mut zmq::Socket, option: u32, value: i32, name: &str) -> Result<(), PortError> {
    let option = i32::try_from(option).map_err(|_| PortError::zmq(format!("setting {name}"), zmq::Error::EINVAL))?;
    // SAFETY: the socket pointer is valid for the life of `socket`; the value is an int of the
    // size we pass, as libzmq expects for this option.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(socket.as_mut_ptr(), option, (&value as *const i32).cast(), std::mem::size_of::<i32>())
    };
    if rc == 0 {
        Ok(())
    } else {
        // SAFETY: zmq_errno has no preconditions.
        Err(PortError::zmq(format!("setting {name}"), zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The int option `option` of `socket`.
    fn int_option(socket: &mut zmq::Socket, option: u32) -> i32 {
        let (mut value, mut size) = (0i32, std::mem::size_of::<i32>());
        // SAFETY: the socket is open; libzmq writes an int into `value` and its size into `size`.
        let rc = unsafe {
            zmq_sys::zmq_getsockopt(
                socket.as_mut_ptr(),
                i32::try_from(option).unwrap(),
                (&mut value as *mut i32).cast(),
                &mut size,
            )
        };
        assert_eq!(rc, 0, "getting option {option}");
        value
    }

    fn batch_sizes(batch_size: i32) -> [i32; 2] {
        let ctx = zmq::Context::new();
        let options = SocketOptions { batch_size, ..SocketOptions::default() };
        let mut socket = make_socket(&ctx, PortKind::Sub, Transport::Tcp, &options, &Security::None).unwrap();
        BATCH_SIZE_OPTIONS.map(|(option, _)| int_option(&mut socket, option))
    }

    /// The libzmq Cohort builds has the draft batch options, and sockets get the size asked for.
    #[test]
    fn sockets_read_and_write_batches_of_the_size_asked_for() {
        assert_eq!(batch_sizes(DEFAULT_BATCH_SIZE), [DEFAULT_BATCH_SIZE; 2], "libzmq's own default");
        assert_eq!(batch_sizes(256 * 1024), [256 * 1024; 2]);
    }
}
