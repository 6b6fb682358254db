//! Shared vocabulary of secretsync: secret values that never print, the store's data key, the
//! traits that key recipients (age, AWS KMS, GCP KMS) and backends implement, the layers around
//! backends (retry, rate limits, concurrency, call counts), and the reference backends
//! (`memory://`, `file://`).

pub mod backend;
pub mod calls;
pub mod duration;
pub mod error;
pub mod file;
pub mod fsio;
pub mod layers;
pub mod memory;
pub mod pace;
pub mod permissions;
pub mod query;
pub mod recipient;
pub mod types;
pub mod value;
pub mod wire;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
#[cfg(any(test, feature = "conformance"))]
pub mod request_log;

pub use backend::{get_all, list_all, SecretBackend};
pub use error::{BackendError, ErrorKind, Op, OpClass};
pub use recipient::{DataKey, Identity, KeyError, Recipient};
pub use types::*;
pub use value::{SecretValue, MAX_VALUE_BYTES};

/// The label holding a managed secret's value fingerprint. A backend that cannot write a value
/// and its labels at once leaves it out until the value is there, so that a half-made secret
/// never looks up to date.
pub const FP_LABEL: &str = "secretsync-fp";
