//! Cohort runtime: the component API, actors, timers and the launcher.
//!
//! The `cohort` command-line tool is this crate's binary. The component API, actors and the
//! launcher arrive with the runtime issue; the library is empty until then.
