//! GCP for secretsync: the `gcp-sm://PROJECT` backend on Secret Manager and the
//! `gcp-kms:projects/…/cryptoKeys/K` recipient on Cloud KMS, both on the official client crates
//! over REST with Application Default Credentials.

mod config;
mod errors;
pub mod kms;
pub mod sm;

pub use config::GcpOptions;
pub use kms::GcpKmsRecipient;
pub use sm::{GcpSmBackend, GcpSmOptions};
