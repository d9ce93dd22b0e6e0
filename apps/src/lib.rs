//! Example Cohort applications that users copy.
//!
//! Each folder under `apps/` holds one application: its model (`.riaps`) and a deployment
//! (`.depl`); its component code is a module of this crate and its program a binary of it.
//! `apps/estimator` is RIAPS's DistributedEstimator: a sensor and a local estimator in one
//! actor, a global estimator in another; [`estimator`] holds its components and the
//! `estimator` binary runs it. `apps/microgrid` is a feeder of five generating units whose
//! controllers form a group with a leader and vote on setpoints; [`microgrid`] holds its
//! component and the `microgrid` binary runs it. `apps/budgets` has two actors that go over
//! their resource budgets (`uses`), one its CPU quota and one its memory; [`budgets`] holds its
//! components and the `budgets` binary runs it. The tests make sure every example model and
//! deployment checks cleanly, and run the estimator's two actors in one process.

pub mod budgets;
pub mod estimator;
pub mod microgrid;
