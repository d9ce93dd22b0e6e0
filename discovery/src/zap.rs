//! Who may talk to a secured discovery daemon: the ZAP policy of its CURVE server socket.
//!
//! A client is admitted when it is on this host (a loopback address, or ipc) and presents the
//! public key of an app key file in the daemon's key directory (its `User-Id` is then the app's
//! name) or the daemon's own public key (tools such as `cohort ls`, [`TOOL_USER_ID`]). A key
//! not known yet makes the daemon read the directory again, so a key made with `cohort keygen`
//! while the daemon runs is admitted. (Every time: libzmq gives up on a connection whose
//! handshake was refused, so a refusal cannot wait for a later read.)

use std::collections::BTreeMap;
use std::path::PathBuf;

use cohort_ports::keyfile::scan_app_keys;
use cohort_ports::zap::{ZapReply, ZapRequest};
use slog::{info, warn};

/// The ZAP domain of the discovery daemon's socket.
pub const DISCOVERY_ZAP_DOMAIN: &str = "cohort-discovery";

/// The user id of a client holding the daemon's own key: a tool, which may only list. Not a
/// valid app name, so no app can be mistaken for it.
pub const TOOL_USER_ID: &str = "(tool)";

/// The decisions of one daemon's ZAP handler.
pub(crate) struct Authority {
    dir: PathBuf,
    daemon_key: [u8; 32],
    /// Keys given besides the directory's (the launcher's app key from elsewhere).
    extra: BTreeMap<[u8; 32], String>,
    /// The directory's keys as last read.
    known: BTreeMap<[u8; 32], String>,
    refused: u64,
    log: slog::Logger,
}

impl Authority {
    pub(crate) fn new(dir: PathBuf, daemon_key: [u8; 32], extra: &[(String, [u8; 32])], log: slog::Logger) -> Self {
        let extra = extra.iter().map(|(app, key)| (*key, app.clone())).collect();
        let mut authority = Authority { dir, daemon_key, extra, known: BTreeMap::new(), refused: 0, log };
        authority.rescan();
        authority
    }

    fn rescan(&mut self) {
        let (keys, problems) = scan_app_keys(&self.dir);
        for problem in problems {
            warn!(self.log, "ignoring a key file"; "error" => %problem);
        }
        let mut known = BTreeMap::new();
        for cohort_ports::keyfile::AppPublicKey { app, public: key, path } in keys {
            if let Some(other) = known.insert(key, app.clone()) {
                if other != app {
                    warn!(self.log, "two apps share a key; the later file wins";
                        "file" => %path.display(), "app" => &app, "other" => &other);
                }
            }
        }
        self.known = known;
    }

    fn app_of(&self, key: &[u8; 32]) -> Option<String> {
        self.extra.get(key).or_else(|| self.known.get(key)).cloned()
    }

    /// The user a request is admitted as, or why it is refused.
    pub(crate) fn decide(&mut self, request: &ZapRequest) -> ZapReply {
        let reply = self.judge(request);
        if let ZapReply::Deny { reason } = &reply {
            self.refused += 1;
            // 1st, 2nd, 4th, 8th, …: a client retrying forever cannot flood the log.
            if self.refused.is_power_of_two() {
                info!(self.log, "refused a discovery client"; "address" => &request.address, "why" => reason,
                    "refused" => self.refused);
            }
        }
        reply
    }

    fn judge(&mut self, request: &ZapRequest) -> ZapReply {
        if request.domain != DISCOVERY_ZAP_DOMAIN {
            return ZapReply::Deny { reason: format!("unknown ZAP domain {:?}", request.domain) };
        }
        let Some(key) = request.curve_key() else {
            return ZapReply::Deny { reason: format!("mechanism {} is not accepted", request.mechanism) };
        };
        if !request.is_local() {
            return ZapReply::Deny { reason: format!("{} is not on this host", request.address) };
        }
        if key == self.daemon_key {
            return ZapReply::Allow { user_id: TOOL_USER_ID.to_owned() };
        }
        if let Some(app) = self.app_of(&key) {
            return ZapReply::Allow { user_id: app };
        }
        self.rescan();
        if let Some(app) = self.app_of(&key) {
            return ZapReply::Allow { user_id: app };
        }
        ZapReply::Deny { reason: format!("the key is not in {}", self.dir.display()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_ports::{AppKeys, KeyFile};

    const PUBLIC: &str = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const SECRET: &str = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

    fn request(address: &str, key: [u8; 32]) -> ZapRequest {
        ZapRequest {
            domain: DISCOVERY_ZAP_DOMAIN.into(),
            address: address.into(),
            routing_id: Vec::new(),
            mechanism: "CURVE".into(),
            credentials: vec![key.to_vec()],
        }
    }

    #[test]
    fn local_known_keys_are_admitted_as_their_app() {
        let dir = std::env::temp_dir().join(format!("cohort-disco-zap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let keys = AppKeys::from_z85(PUBLIC, SECRET).unwrap();
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let mut authority = Authority::new(dir.clone(), [9; 32], &[("Extra".into(), [5; 32])], log);
        let app = keys.public_key();
        assert!(matches!(authority.decide(&request("127.0.0.1", app)), ZapReply::Deny { .. }));

        // A key file written while the daemon runs is found on the next unknown key.
        KeyFile::for_app("App", keys).unwrap().write(&cohort_ports::keyfile::app_key_path(&dir, "App"), false).unwrap();
        assert_eq!(authority.decide(&request("127.0.0.1", app)), ZapReply::Allow { user_id: "App".into() });
        assert_eq!(authority.decide(&request("", app)), ZapReply::Allow { user_id: "App".into() });
        assert_eq!(authority.decide(&request("::1", [5; 32])), ZapReply::Allow { user_id: "Extra".into() });
        assert_eq!(authority.decide(&request("127.0.0.1", [9; 32])), ZapReply::Allow { user_id: TOOL_USER_ID.into() });

        // Not from this host, another domain, another mechanism, an unknown key: refused.
        let refused = |authority: &mut Authority, r: &ZapRequest| matches!(authority.decide(r), ZapReply::Deny { .. });
        assert!(refused(&mut authority, &request("10.0.0.2", app)));
        assert!(refused(&mut authority, &ZapRequest { domain: String::new(), ..request("127.0.0.1", app) }));
        assert!(refused(&mut authority, &ZapRequest { mechanism: "NULL".into(), ..request("127.0.0.1", app) }));
        assert!(refused(&mut authority, &request("127.0.0.1", [1; 32])));
        assert_eq!(authority.refused, 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
