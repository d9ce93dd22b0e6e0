//! Resource budgets: runs the actors its deployment places on this host.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(cohort_apps::budgets::app_model(), cohort_apps::budgets::components())
}
