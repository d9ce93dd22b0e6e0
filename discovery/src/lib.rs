//! Cohort discovery: the protocol between actors and the per-host discovery daemon, the client,
//! the daemon and its registries (embedded for one host, Redis for many).
//!
//! Empty until the discovery issue; the crate exists so the dependency order of the workspace
//! (model ← ports ← discovery ← groups ← runtime ← apps) is fixed from the start.
