//! RIAPS's DistributedEstimator: runs the actors its deployment places on this host.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(
        cohort_runtime::AppModel::embedded("estimator.riaps", include_str!("../../estimator/estimator.riaps")),
        cohort_apps::estimator::components(),
    )
}
