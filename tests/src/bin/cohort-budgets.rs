//! `cohort-budgets`: the resource budgets example app (`apps/budgets`), built in this crate so
//! the budget tests can run it (a test can only run the binaries of its own package). The same
//! program as `cohort-apps`'s `budgets`.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(cohort_apps::budgets::app_model(), cohort_apps::budgets::components())
}
