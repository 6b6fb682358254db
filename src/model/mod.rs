//! The words of secretsync: secret names, environment types and environments, selectors, and
//! which stored value an environment resolves to.

mod env;
mod name;
mod scope;
mod selector;

pub use env::{EnvName, EnvRef, EnvType};
pub use name::SecretName;
pub use scope::{is_scope_name, ScopeLayout, DEVELOPMENT_SCOPE, PRODUCTION_SCOPE};
pub use selector::{plan_set, Selector, SetPlan, TypeSet};

/// A value in the model that failed validation, with a message that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);
