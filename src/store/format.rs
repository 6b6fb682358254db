//! The on-disk shape of `secrets.enc.toml`. Maps are `BTreeMap`s so the file is written sorted
//! and deterministic: one block per secret value, nothing that spans the whole file, so that two
//! branches adding different secrets merge like any other text.
//!
//! Format 2 (written by this build) has scopes: each holds some environment types, an X25519
//! key pair (the public half in clear, so anyone can seal a value for the scope; the private half
//! wrapped for the scope's recipients) and its own fingerprint key. A value is sealed once per
//! scope its selector touches. Format 1 (one symmetric data key for everything) is still read:
//! it loads as a single scope [`LEGACY_SCOPE`], and its first write upgrades it.

use chrono::{DateTime, Utc};
use litemap::LiteMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The store format this build writes.
pub const FORMAT: u32 = 2;
/// The format before scopes, still read.
pub const FORMAT_V1: u32 = 1;
/// How format-2 values are sealed: an ephemeral X25519 agreement with the scope's public key,
/// HKDF-SHA256, then XChaCha20-Poly1305.
pub const CIPHER: &str = "x25519-hkdf-sha256-xchacha20poly1305";
/// How format-1 values were sealed (under the symmetric data key).
pub const CIPHER_V1: &str = "xchacha20poly1305";
/// The one scope a format-1 store is read as.
pub const LEGACY_SCOPE: &str = "all";

/// A value's ciphertexts by scope. One or two entries: a sorted vector, where a `BTreeMap`
/// allocated a whole node (about 0.5 KB) for each.
pub(crate) type SealedMap = LiteMap<String, String>;
/// A secret's values by selector. Usually one: a sorted vector, where a `BTreeMap` allocated a
/// whole node (about 1 KB) for each secret.
pub(crate) type ValueMap = LiteMap<String, ValueEntry>;

/// The file, in the shape this build works on (format 2; a format-1 file converts to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreFile {
    pub secretsync: Header,
    #[serde(default)]
    pub scopes: BTreeMap<String, ScopeEntry>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub format: u32,
    pub store_id: String,
    pub cipher: String,
}

/// One scope: its types, its keys and who can open it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeEntry {
    /// The environment types whose values it holds.
    pub types: Vec<String>,
    /// The scope's public key (hex); for a format-1 store, the data key's id.
    pub public_key: String,
    /// The key of value fingerprints, sealed for the scope.
    pub fingerprint_key: String,
    /// The public id of the fingerprint key (checked when it is opened); backends carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint_key_id: Option<String>,
    /// Fingerprint keys replaced by a rotation, sealed for the scope.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_fingerprint_keys: Vec<String>,
    /// The scope's private key (format 1: the data key), wrapped for each recipient.
    #[serde(default)]
    pub recipients: BTreeMap<String, WrappedKey>,
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
    pub values: ValueMap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValueEntry {
    pub version: u64,
    pub updated: DateTime<Utc>,
    /// The value sealed once per scope it touches.
    pub sealed: SealedMap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryEntry {
    pub version: u64,
    pub updated: DateTime<Utc>,
    pub replaced: DateTime<Utc>,
    pub sealed: SealedMap,
}

/// Format 1, as written before scopes.
pub(crate) mod v1 {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct StoreFile {
        pub secretsync: Header,
        #[serde(default)]
        pub recipients: BTreeMap<String, WrappedKey>,
        #[serde(default)]
        pub secrets: BTreeMap<String, SecretEntry>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Header {
        pub format: u32,
        pub store_id: String,
        pub cipher: String,
        pub key_id: String,
        pub fingerprint_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fingerprint_key_id: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub retired_fingerprint_keys: Vec<String>,
    }

    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SecretEntry {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub deleted: Option<DateTime<Utc>>,
        #[serde(default)]
        pub values: BTreeMap<String, ValueEntry>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ValueEntry {
        pub version: u64,
        pub updated: DateTime<Utc>,
        pub sealed: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub history: Vec<HistoryV1>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HistoryV1 {
        pub version: u64,
        pub updated: DateTime<Utc>,
        pub replaced: DateTime<Utc>,
        pub sealed: String,
    }

    fn one(s: String) -> SealedMap {
        SealedMap::from_iter([(LEGACY_SCOPE.to_string(), s)])
    }

    fn take(mut m: SealedMap) -> String {
        m.remove(LEGACY_SCOPE).unwrap_or_default()
    }

    impl StoreFile {
        /// The same store as one scope holding every type.
        pub fn into_current(self) -> super::StoreFile {
            let h = self.secretsync;
            let scope = ScopeEntry {
                types: ["production", "development", "preview", "local"]
                    .map(String::from)
                    .to_vec(),
                public_key: h.key_id,
                fingerprint_key: h.fingerprint_key,
                fingerprint_key_id: h.fingerprint_key_id,
                retired_fingerprint_keys: h.retired_fingerprint_keys,
                recipients: self.recipients,
            };
            let secrets = self
                .secrets
                .into_iter()
                .map(|(n, e)| {
                    let values = e
                        .values
                        .into_iter()
                        .map(|(sel, v)| {
                            let history = v
                                .history
                                .into_iter()
                                .map(|h| super::HistoryEntry {
                                    version: h.version,
                                    updated: h.updated,
                                    replaced: h.replaced,
                                    sealed: one(h.sealed),
                                })
                                .collect();
                            let v = super::ValueEntry {
                                version: v.version,
                                updated: v.updated,
                                sealed: one(v.sealed),
                                history,
                            };
                            (sel, v)
                        })
                        .collect();
                    let e = super::SecretEntry {
                        description: e.description,
                        deleted: e.deleted,
                        values,
                    };
                    (n, e)
                })
                .collect();
            super::StoreFile {
                secretsync: super::Header {
                    format: FORMAT_V1,
                    store_id: h.store_id,
                    cipher: h.cipher,
                },
                scopes: BTreeMap::from([(LEGACY_SCOPE.to_string(), scope)]),
                secrets,
            }
        }

        /// Back to format 1 (for the merge driver, which writes what it read).
        pub fn from_current(f: super::StoreFile) -> StoreFile {
            let mut scopes = f.scopes;
            let scope = scopes.remove(LEGACY_SCOPE).unwrap_or_else(|| ScopeEntry {
                types: Vec::new(),
                public_key: String::new(),
                fingerprint_key: String::new(),
                fingerprint_key_id: None,
                retired_fingerprint_keys: Vec::new(),
                recipients: BTreeMap::new(),
            });
            let secrets = f
                .secrets
                .into_iter()
                .map(|(n, e)| {
                    let values = e
                        .values
                        .into_iter()
                        .map(|(sel, v)| {
                            let history = v
                                .history
                                .into_iter()
                                .map(|h| HistoryV1 {
                                    version: h.version,
                                    updated: h.updated,
                                    replaced: h.replaced,
                                    sealed: take(h.sealed),
                                })
                                .collect();
                            let v = ValueEntry {
                                version: v.version,
                                updated: v.updated,
                                sealed: take(v.sealed),
                                history,
                            };
                            (sel, v)
                        })
                        .collect();
                    let e = SecretEntry {
                        description: e.description,
                        deleted: e.deleted,
                        values,
                    };
                    (n, e)
                })
                .collect();
            StoreFile {
                secretsync: Header {
                    format: FORMAT_V1,
                    store_id: f.secretsync.store_id,
                    cipher: f.secretsync.cipher,
                    key_id: scope.public_key,
                    fingerprint_key: scope.fingerprint_key,
                    fingerprint_key_id: scope.fingerprint_key_id,
                    retired_fingerprint_keys: scope.retired_fingerprint_keys,
                },
                recipients: scope.recipients,
                secrets,
            }
        }
    }
}
