//! `cohort-cli`: the `cohort` command (`cohort-cli`'s binary), built in this crate so the tests
//! can run it against a running app (a test can only run the binaries of its own package).

fn main() -> std::process::ExitCode {
    cohort_cli::main()
}
