//! `cohort`: the command-line tool ([`cohort_cli::main`]).

fn main() -> std::process::ExitCode {
    cohort_cli::main()
}
