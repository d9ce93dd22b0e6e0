//! The microgrid example: runs the units its deployment places on this host.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(cohort_apps::microgrid::app_model(), cohort_apps::microgrid::components())
}
