//! KV v2 metadata: the current version, custom metadata (ownership labels and the last write's
//! token), and whether the current version is deleted.

use secretsync_core::Labels;
use serde_json::Value;

/// Custom-metadata key holding the idempotency token of the last write.
pub(crate) const TOKEN_KEY: &str = "secretsync-token";
/// Custom-metadata key holding the version that write produced.
pub(crate) const TOKEN_VERSION_KEY: &str = "secretsync-token-version";

/// Secret metadata as KV v2 returns it.
pub(crate) struct Meta {
    /// The current version number (0: none).
    pub(crate) current: u64,
    /// Custom metadata: labels and the last write's token.
    pub(crate) custom: Labels,
    /// The current version is deleted or destroyed.
    pub(crate) deleted: bool,
}

impl Meta {
    pub(crate) fn from_json(d: &Value) -> Meta {
        let current = d["current_version"].as_u64().unwrap_or(0);
        let custom = d["custom_metadata"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let v = &d["versions"][current.to_string()];
        let deleted = current == 0
            || v["destroyed"].as_bool() == Some(true)
            || v["deletion_time"].as_str().is_some_and(|t| !t.is_empty());
        Meta {
            current,
            custom,
            deleted,
        }
    }

    /// The version id secretsync reports: the last write's token while its version is current.
    pub(crate) fn reported_version(&self) -> String {
        match (
            self.custom.get(TOKEN_KEY),
            self.custom.get(TOKEN_VERSION_KEY),
        ) {
            (Some(t), Some(v)) if *v == self.current.to_string() => t.clone(),
            _ => self.current.to_string(),
        }
    }

    pub(crate) fn labels(&self) -> Labels {
        self.custom
            .iter()
            .filter(|(k, _)| *k != TOKEN_KEY && *k != TOKEN_VERSION_KEY)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
