//! The `cohort` command as a library: [`main`] is the whole program, so that the test crate
//! can build the same command as a binary of its own (a test can only run its own package's
//! binaries).
//!
//! `cohort`: check, compile and draw RIAPS-style application models, run and list discovery,
//! write new apps, make keys, watch a running app.
//!
//! `main` parses the command line, runs the subcommand and turns the outcome into an exit status
//! in one place: 0 on success, 1 when an input file has errors (the diagnostics are printed
//! already), 2 when the command could not do its work (usage errors, unreadable files, output
//! not written). Clap's own usage errors also exit with 2.

mod cli;

use clap::Parser as _;
use cli::{Cli, Failure};
use std::io::{self, Write as _};
use std::process::ExitCode;

/// Runs the `cohort` command line of this process.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(1),
        // Output cut short by a closed pipe (`cohort graph app.riaps | head`) is not an error.
        Err(Failure::Fatal(errors)) if errors.iter().all(is_broken_pipe) => ExitCode::SUCCESS,
        Err(Failure::Fatal(errors)) => {
            let mut stderr = io::stderr().lock();
            for error in &errors {
                let _ = writeln!(stderr, "cohort: error: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}

/// Whether an error comes from writing to a pipe whose reader has gone away.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}
