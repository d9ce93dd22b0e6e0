//! RIAPS's DistributedEstimator: runs the actors its deployment places on this host.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(cohort_apps::estimator::app_model(), cohort_apps::estimator::components())
}
