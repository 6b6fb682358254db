//! Shared vocabulary of secretsync: secret values that never print, the store's data key, and
//! the traits that key recipients (age, AWS KMS, GCP KMS) and backends implement.

pub mod recipient;
pub mod value;

pub use recipient::{DataKey, Identity, KeyError, Recipient};
pub use value::{SecretValue, MAX_VALUE_BYTES};
