//! `cohort-microgrid`: the microgrid example app (`apps/microgrid`), built in this crate so the
//! partition test can run it on hosts made of network namespaces (a test can only run the
//! binaries of its own package). The same program as `cohort-apps`'s `microgrid`.

fn main() -> std::process::ExitCode {
    cohort_runtime::launch(
        cohort_runtime::AppModel::embedded("microgrid.riaps", include_str!("../../../apps/microgrid/microgrid.riaps")),
        cohort_apps::microgrid::components(),
    )
}
