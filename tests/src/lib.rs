//! Cohort's multi-process, fault and network tests live in this crate's `tests/` folder; the
//! library holds helpers they share. Empty until the first multi-process test arrives.
