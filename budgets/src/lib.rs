//! Resource budgets of Cohort actors: RIAPS's `uses { cpu ...; mem ...; space ...; net ...; }`.
//!
//! - [`Budget`]: what an actor may use, from its model.
//! - [`Cgroups`] (the launcher's side): a cgroup per actor process, v2 where the host has a
//!   unified hierarchy with the `cpu` and `memory` controllers, v1 otherwise, in which the
//!   kernel enforces the CPU quota and the memory limit; [`ActorCgroup::oom_kills`] tells the
//!   launcher that the kernel killed an actor over its memory.
//! - [`CgroupUsage`] and [`SpaceMeter`] (the actor's side): what the actor uses, and the
//!   kernel's notice that its memory reached 90 % of the budget.
//! - [`NetShaper`] (the launcher's side): an HTB class per actor process with `tc`, which a
//!   `net_cls` cgroup sends the process's packets to, where the host has both.
//! - [`Detector`]: a pure state machine that turns samples of use into the [`Limit`]s the
//!   components hear of (`on_limit`).
//!
//! The crate knows no sockets and no components: the runtime's launcher and actors use it.

mod budget;
mod cgroup;
mod detect;
mod limit;
mod net;
mod space;
mod usage;

pub use budget::{Budget, CpuBudget, NetBudget};
pub use cgroup::{ActorCgroup, CgroupError, Cgroups, Hierarchy, DEFAULT_ROOT, ROOT_VARIABLE};
pub use detect::{Detector, Sample, MEMORY_NOTICE_PERCENT, WINDOW};
pub use limit::{Bytes, Limit};
pub use net::{NetClass, NetError, NetShaper};
pub use space::SpaceMeter;
pub use usage::CgroupUsage;
