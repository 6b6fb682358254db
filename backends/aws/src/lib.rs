//! AWS for secretsync: the `aws-sm://` backend on Secrets Manager, the `aws-ssm://` backend on
//! Systems Manager Parameter Store, and the `aws-kms:` recipient that wraps a store's data key
//! with a KMS key.
//!
//! Both build their clients from the standard AWS configuration chain (environment, profiles,
//! SSO, web identity / IRSA, instance metadata), with explicit timeouts and the SDK's own retries
//! off: secretsync's retry and rate-limit layers own that policy.

mod config;
mod errors;
pub mod iam;
pub mod kms;
pub mod sm;
pub mod ssm;

pub use config::AwsOptions;
pub use kms::AwsKmsRecipient;
pub use sm::{AwsSmBackend, SmOptions};
pub use ssm::{AwsSsmBackend, SsmOptions};
