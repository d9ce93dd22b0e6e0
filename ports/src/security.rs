//! CURVE security for app sockets.
//!
//! Like RIAPS, an app has one CURVE keypair. Every bound socket is a CURVE server with the app's
//! secret key; every connecting socket is a CURVE client that uses the same keypair and expects
//! the app's public key as the server key. A peer without the app's keys cannot complete the
//! handshake, so it can neither send nor receive. Inproc sockets need no security and get none.
//!
//! The vendored libzmq of `zmq` 0.10 has no CURVE; see `docs/ports.md` for the security build.

use crate::error::PortError;

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

    pub(crate) fn public(&self) -> &[u8; 32] {
        &self.public
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
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
    /// No security (the default, as the vendored libzmq has no CURVE).
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
