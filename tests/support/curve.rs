//! What the CURVE tests share (`runtime/tests/security.rs`, `cli/tests/security.rs`, included
//! with `#[path]`): whether the linked libzmq has CURVE, the `SKIPPED` line when it has not, and
//! a test directory.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use cohort_ports::{Addressing, AppKeys, Interface, PortError, PortFactory, Security, SocketOptions};

pub(crate) fn log() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

pub(crate) fn has_curve() -> bool {
    zmq::has("curve") == Some(true)
}

/// Whether the linked libzmq has CURVE; when not, says `SKIPPED` where `cargo test` shows it
/// and checks that a secured factory is refused.
pub(crate) fn curve_available(test: &str) -> bool {
    if has_curve() {
        return true;
    }
    assert!(
        std::env::var_os("COHORT_REQUIRE_CURVE").is_none(),
        "COHORT_REQUIRE_CURVE is set but the linked libzmq has no CURVE"
    );
    let line = format!("SKIPPED {test}: the linked libzmq has no CURVE (zmq-sys/README.md)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let keys =
        AppKeys::from_z85("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
            .unwrap();
    let dir = Dir::new(&format!("{test}-refused"));
    let addressing = Addressing::with_runtime_dir(&loopback(), &dir.0, "A").unwrap();
    let refused = PortFactory::new(addressing, SocketOptions::default(), Security::Curve(keys), log());
    assert!(matches!(refused, Err(PortError::CurveUnavailable { .. })), "{:?}", refused.err().map(|e| e.to_string()));
    false
}

/// A directory of a test, removed when dropped.
pub(crate) struct Dir(pub(crate) PathBuf);

impl Dir {
    pub(crate) fn new(test: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("cohort-rt-sec-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn loopback() -> Interface {
    Interface::Address(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
