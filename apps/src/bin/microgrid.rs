//! The microgrid example: runs the units its deployment places on this host.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(
        cohort_runtime::AppModel::embedded("microgrid.riaps", include_str!("../../microgrid/microgrid.riaps")),
        cohort_apps::microgrid::components(),
    )
}
