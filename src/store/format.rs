//! The on-disk shape of `secrets.enc.toml`. Maps are `BTreeMap`s so the file is written sorted
//! and deterministic: one block per secret value, nothing that spans the whole file, so that two
//! branches adding different secrets merge like any other text.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The store format this build reads and writes.
pub const FORMAT: u32 = 1;
/// The AEAD every value is sealed with.
pub const CIPHER: &str = "xchacha20poly1305";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreFile {
    pub secretsync: Header,
    #[serde(default)]
    pub recipients: BTreeMap<String, WrappedKey>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub format: u32,
    pub store_id: String,
    pub cipher: String,
    /// A short hash of the data key, to tell a wrong key from a tampered value.
    pub key_id: String,
    /// The key of value fingerprints, sealed under the data key; survives data-key rotation.
    pub fingerprint_key: String,
    /// The public id of the fingerprint key (checked against the key when it is opened). The
    /// backends carry it on every managed secret, witnessing which key the store had. Absent in
    /// stores written before it existed; filled in by their next write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_key_id: Option<String>,
    /// Fingerprint keys replaced by `key rotate --fingerprint`, sealed under the data key, so
    /// that secrets written under them are still recognised as this store's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_fingerprint_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WrappedKey {
    pub added: DateTime<Utc>,
    pub wrapped: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the whole secret was deleted: its values stay (sealed) so `undelete` can bring
    /// them back, until the next `key rotate` purges them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DateTime<Utc>>,
    #[serde(default)]
    pub values: BTreeMap<String, ValueEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValueEntry {
    pub version: u64,
    pub updated: DateTime<Utc>,
    pub sealed: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryEntry {
    pub version: u64,
    pub updated: DateTime<Utc>,
    pub replaced: DateTime<Utc>,
    pub sealed: String,
}
