//! KV v2 metadata: the current version, custom metadata (ownership labels and the last write's
//! token), and whether the current version is deleted.

use secretsync_core::Labels;
use serde_json::Value;

/// Custom-metadata key holding the idempotency token of the last write.
pub(crate) const TOKEN_KEY: &str = "secretsync-token";
/// Custom-metadata key holding the version that write produced.
pub(crate) const TOKEN_VERSION_KEY: &str = "secretsync-token-version";
/// A write's claim, recorded (under this prefix and the write's id) before its value: the
/// version it will create, its token and its labels, as JSON.
pub(crate) const CLAIM_PREFIX: &str = "secretsync-claim-";

#[derive(serde::Serialize, serde::Deserialize)]
struct Claim {
    /// The version the write will create.
    v: u64,
    /// Its token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    /// Its labels.
    l: Labels,
}

/// KV v2 writes a value and its custom metadata in separate calls, and metadata writes are not
/// conditional. So that a write interrupted anywhere, or racing another, leaves a secret that
/// reads as entirely old or entirely new: a write adds its claim (PATCH, beside the others'),
/// writes the value (check-and-set), then its labels and token (PATCH), removing its claim.
/// This is what the metadata says about the current version: the labels, when their token
/// names it; else the one claim that names it (the value landed, the labels did not); else, if
/// no claim or several do, nothing of ours (the plan reports it, never guesses).
pub(crate) fn settle(current: u64, raw: &Labels) -> Labels {
    let mut out: Labels = raw
        .iter()
        .filter(|(k, _)| !k.starts_with(CLAIM_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if current == 0 || out.get(TOKEN_VERSION_KEY) == Some(&current.to_string()) {
        return out;
    }
    let landed: Vec<Claim> = raw
        .iter()
        .filter(|(k, _)| k.starts_with(CLAIM_PREFIX))
        .filter_map(|(_, v)| serde_json::from_str::<Claim>(v).ok())
        .filter(|c| c.v == current)
        .collect();
    if let [c] = landed.as_slice() {
        out.extend(c.l.clone());
        match &c.t {
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

/// The claim key and value of a write `id` that will create version `next`.
pub(crate) fn claim(id: &str, next: u64, token: Option<&str>, labels: &Labels) -> (String, String) {
    let c = Claim {
        v: next,
        t: token.map(str::to_string),
        l: labels.clone(),
    };
    (
        format!("{CLAIM_PREFIX}{id}"),
        serde_json::to_string(&c).expect("a claim serializes"),
    )
}

/// The claims in `raw` for versions up to `current`: settled or lost, safe to remove.
pub(crate) fn spent_claims(current: u64, raw: &Labels) -> Vec<String> {
    raw.iter()
        .filter(|(k, _)| k.starts_with(CLAIM_PREFIX))
        .filter(|(_, v)| serde_json::from_str::<Claim>(v).map_or(true, |c| c.v <= current))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Secret metadata as KV v2 returns it.
pub(crate) struct Meta {
    /// The current version number (0: none).
    pub(crate) current: u64,
    /// Custom metadata as it reads for the current version (see [`settle`]).
    pub(crate) custom: Labels,
    /// Custom metadata as stored, claims included.
    pub(crate) raw: Labels,
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
            raw: custom,
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

    fn with(mut raw: Labels, claims: &[(&str, u64, &str, &str)]) -> Labels {
        for (id, v, t, fp) in claims {
            let (k, c) = claim(id, *v, Some(t), &labels(&[("secretsync-fp", fp)]));
            raw.insert(k, c);
        }
        raw
    }

    #[test]
    fn a_claim_counts_once_its_value_landed_and_only_if_it_alone_names_it() {
        let old = labels(&[
            ("secretsync-fp", "old"),
            (TOKEN_KEY, "t1"),
            (TOKEN_VERSION_KEY, "3"),
        ]);
        let c = with(old.clone(), &[("a", 4, "t2", "new")]);
        // Killed before the value: still version 3, old labels and token.
        assert_eq!(settle(3, &c), old);
        // Killed after it: version 4 is the claim's, with its labels and token.
        let new = settle(4, &c);
        assert_eq!(new["secretsync-fp"], "new");
        assert_eq!(new[TOKEN_KEY], "t2");
        assert_eq!(new[TOKEN_VERSION_KEY], "4");
        assert!(new.keys().all(|k| !k.starts_with(CLAIM_PREFIX)));
        // Two writers claimed version 4 and one crashed: nobody can tell whose it is.
        let two = with(
            old.clone(),
            &[("a", 4, "t2", "new"), ("b", 4, "t3", "other")],
        );
        assert_eq!(settle(4, &two)[TOKEN_VERSION_KEY], "3");
        // Labels that name the current version win over any claim (a loser's leftover).
        let done = with(
            labels(&[
                ("secretsync-fp", "a"),
                (TOKEN_KEY, "ta"),
                (TOKEN_VERSION_KEY, "4"),
            ]),
            &[("b", 4, "tb", "b")],
        );
        assert_eq!(settle(4, &done)["secretsync-fp"], "a");
        assert_eq!(spent_claims(4, &done).len(), 1);
    }
}
