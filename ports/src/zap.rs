//! ZAP, the ZeroMQ Authentication Protocol (ZeroMQ RFC 27): who may complete a CURVE handshake.
//!
//! A CURVE server on its own checks only that the client knows the server's public key, and a
//! public key is public. With a ZAP handler bound at [`ZAP_ENDPOINT`] in a context, libzmq asks
//! it about every CURVE client of every server socket of that context (with the client's public
//! key, the peer address and the server socket's ZAP domain), and completes the handshake only
//! when the handler says 200. The handler also names the user, which libzmq attaches to every
//! message from that connection as the `User-Id` property.
//!
//! [`serve`] binds a handler in a context and answers on a thread of its own with a policy
//! function. The thread holds no reference to the context: it ends when the context is
//! terminated (its last handle dropped), as ZAP handlers should.

use std::time::Duration;

use crate::error::PortError;

/// Where libzmq looks for the ZAP handler of a context (RFC 27).
pub const ZAP_ENDPOINT: &str = "inproc://zeromq.zap.01";

/// The ZAP protocol version this handler speaks.
const VERSION: &[u8] = b"1.0";

/// One authentication request from libzmq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// The ZAP domain of the server socket (`ZMQ_ZAP_DOMAIN`, empty by default).
    pub domain: String,
    /// The peer's address: its IP address for tcp, empty or a path for ipc.
    pub address: String,
    /// The routing id the peer asked for.
    pub routing_id: Vec<u8>,
    /// `NULL`, `PLAIN` or `CURVE`.
    pub mechanism: String,
    /// The mechanism's credentials: for CURVE, the client's 32-byte public key.
    pub credentials: Vec<Vec<u8>>,
}

impl ZapRequest {
    /// The client's CURVE public key, for a CURVE request with one 32-byte credential.
    pub fn curve_key(&self) -> Option<[u8; 32]> {
        if self.mechanism != "CURVE" {
            return None;
        }
        match self.credentials.as_slice() {
            [key] => <[u8; 32]>::try_from(key.as_slice()).ok(),
            _ => None,
        }
    }

    /// Whether the peer is on this host: a loopback IP address, or not an IP address at all
    /// (ipc and inproc peers).
    pub fn is_local(&self) -> bool {
        match self.address.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => true,
        }
    }
}

/// A policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZapReply {
    /// Accept the peer as this user (its messages carry it as `User-Id`).
    Allow {
        /// The user id.
        user_id: String,
    },
    /// Refuse the handshake.
    Deny {
        /// Why, for the ZAP status text.
        reason: String,
    },
}

/// Whether [`serve`] bound a new handler or found one in the context already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The handler is ours and runs with the given policy.
    Started,
    /// Another handler was bound in this context before; the policy was not installed.
    AlreadyServed,
}

/// A policy: decides each request.
pub type ZapPolicy = Box<dyn FnMut(&ZapRequest) -> ZapReply + Send>;

fn zmq_err(op: &str) -> impl FnOnce(zmq::Error) -> PortError + '_ {
    move |e| PortError::zmq(op, e)
}

/// Binds a ZAP handler with `policy` in `ctx`, answering on a thread named `name` until the
/// context is terminated. Returns [`Served::AlreadyServed`] (and drops `policy`) when the
/// context has a handler already.
pub fn serve(ctx: &zmq::Context, name: &str, policy: ZapPolicy) -> Result<Served, PortError> {
    let socket = ctx.socket(zmq::REP).map_err(zmq_err("creating the ZAP handler socket"))?;
    socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER on the ZAP handler"))?;
    match socket.bind(ZAP_ENDPOINT) {
        Ok(()) => {}
        Err(zmq::Error::EADDRINUSE) => return Ok(Served::AlreadyServed),
        Err(e) => return Err(PortError::zmq(format!("binding {ZAP_ENDPOINT}"), e)),
    }
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            // Let go of the context, so that dropping its last handle terminates it, which
            // ends this thread (the receive fails with ETERM) instead of waiting for it.
            let raw = socket.into_raw();
            // SAFETY: `raw` comes from `into_raw` just above and is used by nothing else.
            let socket = unsafe { zmq::Socket::from_raw(raw) };
            answer(&socket, policy);
        })
        .map_err(|e| PortError::zmq(format!("starting the ZAP thread: {e}"), zmq::Error::EFAULT))?;
    Ok(Served::Started)
}

/// Answers requests until the context is terminated.
fn answer(socket: &zmq::Socket, mut policy: ZapPolicy) {
    loop {
        let frames = match socket.recv_multipart(0) {
            Ok(frames) => frames,
            Err(zmq::Error::EINTR) => continue,
            // ETERM (the context is ending) or a broken socket: nothing more to answer.
            Err(_) => return,
        };
        let reply = reply_to(&frames, &mut policy);
        match socket.send_multipart(reply, 0) {
            Ok(()) | Err(zmq::Error::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// The reply frames to one request's frames (RFC 27: version, request id, status code, status
/// text, user id, metadata).
fn reply_to(frames: &[Vec<u8>], policy: &mut ZapPolicy) -> Vec<Vec<u8>> {
    let id = frames.get(1).cloned().unwrap_or_default();
    let reply = |code: &str, text: &str, user: &str| {
        vec![
            VERSION.to_vec(),
            id.clone(),
            code.as_bytes().to_vec(),
            text.as_bytes().to_vec(),
            user.as_bytes().to_vec(),
            Vec::new(),
        ]
    };
    let Some(request) = parse(frames) else {
        return reply("500", "malformed ZAP request", "");
    };
    match policy(&request) {
        ZapReply::Allow { user_id } => reply("200", "OK", &user_id),
        ZapReply::Deny { reason } => reply("400", &reason, ""),
    }
}

fn parse(frames: &[Vec<u8>]) -> Option<ZapRequest> {
    let [version, _id, domain, address, routing_id, mechanism, credentials @ ..] = frames else {
        return None;
    };
    if version.as_slice() != VERSION {
        return None;
    }
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    Some(ZapRequest {
        domain: text(domain)?,
        address: text(address)?,
        routing_id: routing_id.clone(),
        mechanism: text(mechanism)?,
        credentials: credentials.to_vec(),
    })
}

/// Asks the ZAP handler of `ctx` about `request`, as libzmq would; `None` when no handler
/// answers within `timeout`.
pub fn ask(ctx: &zmq::Context, request: &ZapRequest, timeout: Duration) -> Result<Option<ZapReply>, PortError> {
    let socket = ctx.socket(zmq::REQ).map_err(zmq_err("creating a ZAP request socket"))?;
    socket.set_linger(0).map_err(zmq_err("setting ZMQ_LINGER"))?;
    socket.connect(ZAP_ENDPOINT).map_err(zmq_err("connecting to the ZAP handler"))?;
    let mut frames = vec![
        VERSION.to_vec(),
        b"cohort".to_vec(),
        request.domain.as_bytes().to_vec(),
        request.address.as_bytes().to_vec(),
        request.routing_id.clone(),
        request.mechanism.as_bytes().to_vec(),
    ];
    frames.extend(request.credentials.iter().cloned());
    socket.send_multipart(frames, 0).map_err(zmq_err("sending a ZAP request"))?;
    let mut items = [socket.as_poll_item(zmq::POLLIN)];
    let wait = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    zmq::poll(&mut items, wait).map_err(zmq_err("waiting for the ZAP handler"))?;
    if !items[0].is_readable() {
        return Ok(None);
    }
    let reply = socket.recv_multipart(0).map_err(zmq_err("receiving a ZAP reply"))?;
    let text = |i: usize| reply.get(i).map(|f| String::from_utf8_lossy(f).into_owned()).unwrap_or_default();
    Ok(Some(if text(2) == "200" { ZapReply::Allow { user_id: text(4) } } else { ZapReply::Deny { reason: text(3) } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(mechanism: &str, key: &[u8]) -> ZapRequest {
        ZapRequest {
            domain: "d".into(),
            address: "127.0.0.1".into(),
            routing_id: Vec::new(),
            mechanism: mechanism.into(),
            credentials: vec![key.to_vec()],
        }
    }

    /// The handler answers by its policy, a second one in the same context is not installed,
    /// and the thread ends with the context (dropping it would hang otherwise).
    #[test]
    fn handler_answers_by_policy_and_ends_with_its_context() {
        let ctx = zmq::Context::new();
        let policy: ZapPolicy = Box::new(|r: &ZapRequest| match r.curve_key() {
            Some(key) if key == [7; 32] && r.domain == "d" => ZapReply::Allow { user_id: "seven".into() },
            _ => ZapReply::Deny { reason: "no".into() },
        });
        assert_eq!(serve(&ctx, "zap-test", policy).unwrap(), Served::Started);
        let other: ZapPolicy = Box::new(|_: &ZapRequest| ZapReply::Allow { user_id: String::new() });
        assert_eq!(serve(&ctx, "zap-test", other).unwrap(), Served::AlreadyServed);
        let wait = Duration::from_secs(5);
        assert_eq!(
            ask(&ctx, &request("CURVE", &[7; 32]), wait).unwrap(),
            Some(ZapReply::Allow { user_id: "seven".into() })
        );
        assert_eq!(ask(&ctx, &request("CURVE", &[8; 32]), wait).unwrap(), Some(ZapReply::Deny { reason: "no".into() }));
        assert!(matches!(ask(&ctx, &request("CURVE", &[7; 3]), wait).unwrap(), Some(ZapReply::Deny { .. })));
        assert!(matches!(ask(&ctx, &request("NULL", &[7; 32]), wait).unwrap(), Some(ZapReply::Deny { .. })));
        drop(ctx);
    }

    #[test]
    fn malformed_requests_get_500_and_addresses_are_classified() {
        let mut policy: ZapPolicy = Box::new(|_: &ZapRequest| ZapReply::Allow { user_id: "u".into() });
        let reply = reply_to(&[b"1.0".to_vec(), b"id".to_vec()], &mut policy);
        assert_eq!((reply[1].as_slice(), reply[2].as_slice()), (&b"id"[..], &b"500"[..]));
        let mut frames: Vec<Vec<u8>> =
            ["2.0", "id", "", "", "", "CURVE"].iter().map(|s| s.as_bytes().to_vec()).collect();
        assert_eq!(reply_to(&frames, &mut policy)[2], b"500");
        frames[0] = b"1.0".to_vec();
        assert_eq!(reply_to(&frames, &mut policy)[2], b"200");
        let at = |address: &str| ZapRequest { address: address.into(), ..request("CURVE", &[0; 32]) };
        assert!(at("127.0.0.1").is_local() && at("::1").is_local() && at("").is_local());
        assert!(!at("10.1.2.3").is_local());
    }
}
