//! Example Cohort applications that users copy.
//!
//! Each folder under `apps/` holds one application: its model (`.riaps`) and a deployment
//! (`.depl`). `apps/estimator` is RIAPS's DistributedEstimator: a sensor and a local estimator
//! in one actor, a global estimator in another. The component code arrives with the runtime;
//! for now the tests make sure every example model and deployment checks cleanly.
