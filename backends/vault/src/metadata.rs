//! KV v2 metadata: the current version, custom metadata (ownership labels and the last write's
//! token), and whether the current version is deleted.

use secretsync_core::Labels;
use serde_json::Value;

/// Custom-metadata key holding the idempotency token of the last write.
pub(crate) const TOKEN_KEY: &str = "secretsync-token";
/// Custom-metadata key holding the version that write produced.
pub(crate) const TOKEN_VERSION_KEY: &str = "secretsync-token-version";
/// A write's claim, recorded before its value: the version it will create…
const NEXT_VERSION_KEY: &str = "secretsync-next-version";
/// …its token…
const NEXT_TOKEN_KEY: &str = "secretsync-next-token";
/// …and its labels, each under this prefix.
const NEXT_LABEL_PREFIX: &str = "secretsync-next:";

/// KV v2 writes a value and its custom metadata in two calls. So that a process killed between
/// them leaves a secret that reads as entirely old or entirely new, a write first records what
/// it is about to write (the version its value will create, its token and labels) beside the
/// current labels, then writes the value, then the labels. This is what the metadata says:
/// the claim, once its version is current (the value landed); else the labels as they were.
pub(crate) fn settle(current: u64, raw: &Labels) -> Labels {
    let landed = raw.get(NEXT_VERSION_KEY) == Some(&current.to_string()) && current > 0;
    let is_claim =
        |k: &str| k == NEXT_VERSION_KEY || k == NEXT_TOKEN_KEY || k.starts_with(NEXT_LABEL_PREFIX);
    let mut out: Labels = raw
        .iter()
        .filter(|(k, _)| !is_claim(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if landed {
        for (k, v) in raw {
            if let Some(label) = k.strip_prefix(NEXT_LABEL_PREFIX) {
                out.insert(label.to_string(), v.clone());
            }
        }
        match raw.get(NEXT_TOKEN_KEY) {
            Some(t) => {
                out.insert(TOKEN_KEY.into(), t.clone());
                out.insert(TOKEN_VERSION_KEY.into(), current.to_string());
            }
            None => {
                out.remove(TOKEN_KEY);
                out.remove(TOKEN_VERSION_KEY);
            }
        }
    }
    out
}

/// `custom` (settled) plus the claim of a write that will create version `next`.
pub(crate) fn claim(custom: &Labels, next: u64, token: Option<&str>, labels: &Labels) -> Labels {
    let mut out = custom.clone();
    out.insert(NEXT_VERSION_KEY.into(), next.to_string());
    if let Some(t) = token {
        out.insert(NEXT_TOKEN_KEY.into(), t.to_string());
    }
    for (k, v) in labels {
        out.insert(format!("{NEXT_LABEL_PREFIX}{k}"), v.clone());
    }
    out
}

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
            custom: settle(current, &custom),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_claim_counts_once_its_value_landed_and_never_before() {
        let old = labels(&[
            ("secretsync-fp", "old"),
            (TOKEN_KEY, "t1"),
            (TOKEN_VERSION_KEY, "3"),
        ]);
        let c = claim(&old, 4, Some("t2"), &labels(&[("secretsync-fp", "new")]));
        // Killed before the value: still version 3, old labels and token.
        assert_eq!(settle(3, &c), old);
        // Killed after it: version 4 is the claim's, with its labels and token.
        let new = settle(4, &c);
        assert_eq!(new["secretsync-fp"], "new");
        assert_eq!(new[TOKEN_KEY], "t2");
        assert_eq!(new[TOKEN_VERSION_KEY], "4");
        assert!(new.keys().all(|k| !k.starts_with("secretsync-next")));
        // Someone else's later version: not the claim's; the old labels do not match it either.
        assert_eq!(settle(5, &c), old);
    }
}
