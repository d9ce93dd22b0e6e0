//! `cohort-estimator`: the DistributedEstimator example app (`apps/estimator`), built in this
//! crate so the fault tests can run it (a test can only run the binaries of its own package).
//! The same program as `cohort-apps`'s `estimator`.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(
        cohort_runtime::AppModel::embedded("estimator.riaps", include_str!("../../../apps/estimator/estimator.riaps")),
        cohort_apps::estimator::components(),
    )
}
