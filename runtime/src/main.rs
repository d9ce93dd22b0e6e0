//! The `cohort` command-line tool (being written).
fn main() {}
