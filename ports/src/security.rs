//! CURVE security for app sockets.
//!
//! Like RIAPS, an app has one CURVE keypair. Every bound socket is a CURVE server with the app's
//! secret key; every connecting socket is a CURVE client that uses the same keypair and expects
//! the app's public key as the server key. A peer without the app's keys cannot complete the
//! handshake, so it can neither send nor receive. Inproc sockets need no security and get none.
//!
//! A CURVE server on its own accepts any client that knows the server's public key, and the
//! app's public key is not secret. So a factory with [`Security::Curve`] also binds a ZAP handler
//! in its context ([`crate::zap`]) that completes a handshake only for a client presenting the
//! app's own public key, which only a holder of the app's secret key can do.
//!
//! The libzmq that Cohort's `zmq-sys` builds has CURVE (`zmq-sys/README.md`); with a libzmq
//! without it, [`Security::Curve`] fails with [`PortError::CurveUnavailable`]. See
//! `docs/ports.md` for where libzmq comes from and `docs/security.md` for how apps get their keys.

use crate::error::PortError;
use crate::zap::{self, Served, ZapPolicy, ZapReply, ZapRequest};

/// The ZAP domain of app ports (libzmq's default, the empty domain).
pub const PORTS_ZAP_DOMAIN: &str = "";

/// The user id the ZAP handler of app ports gives the app's own clients.
pub const PORTS_USER_ID: &str = "app";

/// An app's CURVE keypair.
#[derive(Clone, PartialEq, Eq)]
pub struct AppKeys {
    public: [u8; 32],
    secret: [u8; 32],
}

impl std::fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret key.
        f.debug_struct("AppKeys").field("public", &zmq::z85_encode(&self.public).ok()).finish_non_exhaustive()
    }
}

impl AppKeys {
    /// A new random keypair. Fails when the linked libzmq has no CURVE.
    pub fn generate() -> Result<AppKeys, PortError> {
        require_curve()?;
        let pair = zmq::CurveKeyPair::new().map_err(|e| PortError::zmq("generating a CURVE keypair", e))?;
        Ok(AppKeys { public: pair.public_key, secret: pair.secret_key })
    }

    /// The keypair from its two keys as 40-character Z85 text.
    pub fn from_z85(public: &str, secret: &str) -> Result<AppKeys, PortError> {
        Ok(AppKeys { public: decode_key(public, "public")?, secret: decode_key(secret, "secret")? })
    }

    /// The public key as Z85 text.
    pub fn public_z85(&self) -> String {
        zmq::z85_encode(&self.public).unwrap_or_default()
    }

    /// The secret key as Z85 text (store it where only the app's user can read it).
    pub fn secret_z85(&self) -> String {
        zmq::z85_encode(&self.secret).unwrap_or_default()
    }

    /// The public key's 32 bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// Whether the public key belongs to the secret key; `None` when the linked libzmq cannot
    /// tell (it has no CURVE).
    pub fn is_consistent(&self) -> Option<bool> {
        if require_curve().is_err() {
            return None;
        }
        let secret = zmq::z85_encode(&self.secret).ok()?;
        let secret = std::ffi::CString::new(secret).ok()?;
        let mut public = [0 as std::ffi::c_char; 41];
        // SAFETY: `public` has room for the 40 characters and the NUL that zmq_curve_public
        // writes; `secret` is a NUL-terminated 40-character Z85 string.
        let rc = unsafe { zmq_curve_public(public.as_mut_ptr(), secret.as_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: zmq_curve_public wrote a NUL-terminated string into `public`.
        let derived = unsafe { std::ffi::CStr::from_ptr(public.as_ptr()) };
        Some(derived.to_bytes() == self.public_z85().as_bytes())
    }

    /// Makes `socket` (not yet bound) a CURVE server with this keypair.
    pub fn secure_server(&self, socket: &zmq::Socket) -> Result<(), PortError> {
        let set = |what: &str, r: zmq::Result<()>| r.map_err(|e| PortError::zmq(format!("setting {what}"), e));
        set("ZMQ_CURVE_SERVER", socket.set_curve_server(true))?;
        set("ZMQ_CURVE_SECRETKEY", socket.set_curve_secretkey(&self.secret))
    }

    /// Makes `socket` (not yet connected) a CURVE client with this keypair, expecting a server
    /// whose public key is `server_key`.
    pub fn secure_client(&self, socket: &zmq::Socket, server_key: &[u8; 32]) -> Result<(), PortError> {
        let set = |what: &str, r: zmq::Result<()>| r.map_err(|e| PortError::zmq(format!("setting {what}"), e));
        set("ZMQ_CURVE_SERVERKEY", socket.set_curve_serverkey(server_key))?;
        set("ZMQ_CURVE_PUBLICKEY", socket.set_curve_publickey(&self.public))?;
        set("ZMQ_CURVE_SECRETKEY", socket.set_curve_secretkey(&self.secret))
    }

    pub(crate) fn public(&self) -> &[u8; 32] {
        &self.public
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

extern "C" {
    /// libzmq's `zmq_curve_public` (in the library since 4.2; `zmq-sys` does not re-export it).
    fn zmq_curve_public(
        z85_public_key: *mut std::ffi::c_char,
        z85_secret_key: *const std::ffi::c_char,
    ) -> std::ffi::c_int;
}

/// A public key from its 40-character Z85 text.
pub fn public_key_from_z85(text: &str) -> Result<[u8; 32], PortError> {
    decode_key(text, "public")
}

fn decode_key(text: &str, which: &str) -> Result<[u8; 32], PortError> {
    let bytes = zmq::z85_decode(text)
        .map_err(|_| PortError::InvalidKey(format!("the {which} key is not Z85 text of 40 characters")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| PortError::InvalidKey(format!("the {which} key is {} bytes, expected 32", bytes.len())))
}

/// Whether and how sockets are secured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Security {
    /// No security (the `Default`): what the launcher's `--insecure` uses.
    #[default]
    None,
    /// CURVE with the app's keypair on every tcp and ipc socket.
    Curve(AppKeys),
}

impl Security {
    /// Checks that this setting can work with the linked libzmq.
    pub fn check(&self) -> Result<(), PortError> {
        match self {
            Security::None => Ok(()),
            Security::Curve(_) => require_curve(),
        }
    }

    /// Checks this setting, and for CURVE makes sure `ctx` authenticates clients: binds a ZAP
    /// handler that accepts only the app's own public key on app ports, or, if the context has a
    /// handler already (another factory of the same actor), checks that it accepts the app's key.
    pub(crate) fn prepare(&self, ctx: &zmq::Context) -> Result<(), PortError> {
        self.check()?;
        let Security::Curve(keys) = self else {
            return Ok(());
        };
        let public = keys.public;
        let policy: ZapPolicy = Box::new(move |request: &ZapRequest| ports_policy(&public, request));
        if zap::serve(ctx, "cohort-zap", policy)? == Served::Started {
            return Ok(());
        }
        let probe = ZapRequest {
            domain: PORTS_ZAP_DOMAIN.to_owned(),
            address: String::new(),
            routing_id: Vec::new(),
            mechanism: "CURVE".to_owned(),
            credentials: vec![public.to_vec()],
        };
        match zap::ask(ctx, &probe, std::time::Duration::from_secs(5))? {
            Some(ZapReply::Allow { .. }) => Ok(()),
            // Another handler in this context would refuse this app's own clients.
            _ => Err(PortError::zmq(
                "securing the factory: the context's ZAP handler refuses this app's key",
                zmq::Error::EADDRINUSE,
            )),
        }
    }
}

/// The ZAP policy of app ports: a CURVE client must present the app's public key.
fn ports_policy(app_public: &[u8; 32], request: &ZapRequest) -> ZapReply {
    if request.domain != PORTS_ZAP_DOMAIN {
        return ZapReply::Deny { reason: format!("unknown ZAP domain {:?}", request.domain) };
    }
    match request.mechanism.as_str() {
        "CURVE" if request.curve_key().as_ref() == Some(app_public) => {
            ZapReply::Allow { user_id: PORTS_USER_ID.to_owned() }
        }
        "CURVE" => ZapReply::Deny { reason: "not the app's key".to_owned() },
        // Cohort secures every port with CURVE or nothing; libzmq asks about NULL sockets only
        // when they set a ZAP domain, which Cohort's never do.
        _ => ZapReply::Deny { reason: format!("mechanism {} is not accepted", request.mechanism) },
    }
}

/// Fails with [`PortError::CurveUnavailable`] unless the linked libzmq has CURVE.
pub fn require_curve() -> Result<(), PortError> {
    if zmq::has("curve").unwrap_or(false) {
        Ok(())
    } else {
        let (a, b, c) = zmq::version();
        Err(PortError::CurveUnavailable { version: format!("{a}.{b}.{c}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_z85_and_bad_keys_are_refused() {
        let public = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let secret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
        let keys = AppKeys::from_z85(public, secret).unwrap();
        assert_eq!((keys.public_z85().as_str(), keys.secret_z85().as_str()), (public, secret));
        assert!(!format!("{keys:?}").contains(secret));
        assert!(matches!(AppKeys::from_z85("short", secret), Err(PortError::InvalidKey(_))));
    }

    #[test]
    fn ports_accept_only_the_app_key_over_curve() {
        let app = [1; 32];
        let request = |domain: &str, mechanism: &str, key: [u8; 32]| ZapRequest {
            domain: domain.into(),
            address: "10.0.0.9".into(),
            routing_id: Vec::new(),
            mechanism: mechanism.into(),
            credentials: vec![key.to_vec()],
        };
        assert_eq!(ports_policy(&app, &request("", "CURVE", app)), ZapReply::Allow { user_id: "app".into() });
        assert!(matches!(ports_policy(&app, &request("", "CURVE", [2; 32])), ZapReply::Deny { .. }));
        assert!(matches!(ports_policy(&app, &request("other", "CURVE", app)), ZapReply::Deny { .. }));
        assert!(matches!(ports_policy(&app, &request("", "PLAIN", app)), ZapReply::Deny { .. }));
    }

    #[test]
    fn asking_for_curve_matches_what_libzmq_has() {
        let has = zmq::has("curve").unwrap_or(false);
        match AppKeys::generate() {
            Ok(keys) => assert!(has && Security::Curve(keys).check().is_ok()),
            Err(e) => {
                assert!(!has);
                assert!(e.to_string().contains("has no CURVE"), "{e}");
            }
        }
    }
}
