//! Whether the launcher can enforce its actors' budgets: it makes its cgroups
//! ([`cohort_budgets::Cgroups`]) when an actor's budget has a part the kernel enforces (a CPU
//! quota, a memory limit), and warns once when it cannot.

use std::path::PathBuf;

use cohort_budgets::{Cgroups, DEFAULT_ROOT, ROOT_VARIABLE};
use slog::{info, warn};

use super::supervise::ChildSpec;

/// The launcher's cgroups for app `app`, if one of `children` needs one and they can be made;
/// if they cannot, one warning names the processes whose budgets go unenforced (they still
/// measure their use and tell their components).
pub(crate) fn open(app: &str, children: &[ChildSpec], log: &slog::Logger) -> Option<Cgroups> {
    let budgeted: Vec<String> = children.iter().filter(|c| c.budget.needs_cgroup()).map(ChildSpec::name).collect();
    if budgeted.is_empty() {
        return None;
    }
    let root = std::env::var_os(ROOT_VARIABLE).map_or_else(|| PathBuf::from(DEFAULT_ROOT), PathBuf::from);
    match Cgroups::open(&root, app) {
        Ok(cgroups) => {
            info!(log, "resource budgets are enforced with cgroups"; "hierarchy" => ?cgroups.hierarchy());
            Some(cgroups)
        }
        Err(e) => {
            warn!(log, "resource budgets are not enforced: cgroups cannot be made here; the actors only measure their use and tell their components";
                "actors" => budgeted.join(", "), "error" => %e);
            None
        }
    }
}
