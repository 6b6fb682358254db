//! The sync engine: plan the difference between the canonical set and a backend, apply it, and
//! the jobs built on that (migrate, import, reconcile).

pub mod apply;
pub mod fingerprint;
pub mod metrics;
pub mod migrate;
pub mod plan;
pub mod teardown;

pub use apply::{apply, ApplyReport, ItemResult, Status};
pub use fingerprint::Fingerprinter;
pub use plan::{plan, Action, DriftPolicy, Plan, PlanError, PlanItem, PlanOptions};

#[cfg(test)]
mod tests;
