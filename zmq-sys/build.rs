//! Builds libzmq from the source `zeromq-src` carries, with CURVE through the libsodium that
//! `libsodium-sys-stable` built, and with libzmq's draft API (for two socket options), and
//! links both statically.
//!
//! Not run when the package's `links` key is overridden to link a libzmq of the system
//! (`target.<triple>.zmq.rustc-link-lib = ["zmq"]`, docs/security.md).

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Set by libsodium-sys-stable's build script (`links = "sodium"`) for its direct dependents.
    let (Some(include), Some(lib)) = (env::var_os("DEP_SODIUM_INCLUDE"), env::var_os("DEP_SODIUM_LIB")) else {
        // A build script reports a misconfiguration by panicking: cargo prints the message.
        panic!(
            "libsodium-sys-stable did not say where libsodium is (DEP_SODIUM_INCLUDE and DEP_SODIUM_LIB are unset); \
             with SODIUM_USE_PKG_CONFIG, install libsodium's development files"
        );
    };
    // Cargo prints every warning a path package's build script reports, and cc reports the
    // compiler's: libzmq's C++ gives dozens, none of them ours to fix. `-w` silences them,
    // after whatever flags the user set.
    let flags = env::var("CXXFLAGS").map(|f| format!("{f} -w")).unwrap_or_else(|_| "-w".to_owned());
    // The build script is one thread; cc reads the variable when it compiles, below.
    env::set_var("CXXFLAGS", flags);
    // The draft API for its socket options ZMQ_IN_BATCH_SIZE and ZMQ_OUT_BATCH_SIZE (how many
    // bytes a connection reads and writes at once), which group members raise: nothing else
    // changes for the sockets Cohort uses (draft socket types and functions are only added).
    zeromq_src::Build::new()
        .enable_draft(true)
        .with_libsodium(Some(zeromq_src::LibLocation::new(lib, include)))
        .build();
}
