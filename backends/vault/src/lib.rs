//! `vault://HOST[:PORT]/MOUNT/PATH` (https) and `vault+http://…`: HashiCorp Vault or OpenBao,
//! KV version 2, over plain REST (`reqwest`): the surface is a handful of calls, and owning them
//! keeps check-and-set and custom metadata exactly as secretsync needs them.
//!
//! - Values are stored under one field, `value`; non-UTF-8 values as base64 with
//!   `encoding = "base64"` beside it.
//! - Labels (ownership, fingerprint) are KV v2 `custom_metadata` (Vault allows 64 keys, keys up
//!   to 128 bytes, values up to 512).
//! - Writes use check-and-set (`cas=0` creates, `cas=N` updates), so a concurrent writer is
//!   detected, never overwritten. Vault has no idempotency tokens, so the token of the last write
//!   and the version it produced are kept in custom metadata; while that version is current the
//!   backend reports the token as the version id, and a repeated write is answered without a
//!   second version.
//! - `LIST` returns key names only, so a listing reads each secret's metadata (bounded
//!   concurrency). It reads no values.
//! - Delete: the default soft-deletes the current version (`restore` undeletes it); forced
//!   deletes destroy the metadata and every version.
//! - Auth: `VAULT_TOKEN`; `?auth=approle` (`VAULT_ROLE_ID`, `VAULT_SECRET_ID`); `?auth=kubernetes&role=R`
//!   (the service account token). `VAULT_ADDR` when the URL has no host; `VAULT_NAMESPACE`.

mod auth;
mod backend;
mod http;
mod metadata;
mod options;
pub mod permissions;

pub use auth::Auth;
pub use backend::VaultBackend;
pub use http::MAX_RESPONSE_BYTES;
pub use options::{Location, VaultOptions};
