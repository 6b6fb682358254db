//! The write protocol. KV v2 writes a value and its metadata in separate requests and metadata
//! writes are not conditional, so a write first merges its claim into the metadata (the version
//! it will make, its token and labels), then writes the value with check-and-set, then its
//! labels: interrupted anywhere, or racing another writer, a secret reads as entirely old or
//! entirely new (see [`crate::metadata`]).

use super::VaultBackend;
use crate::metadata::{Meta, TOKEN_KEY, TOKEN_VERSION_KEY};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use reqwest::Method;
use secretsync_core::error::Result;
use secretsync_core::*;
use serde_json::{json, Value};

impl VaultBackend {
    /// When the current version is the write with `token` (an earlier attempt landed), makes
    /// sure its labels are there and its claims gone, and says it is done.
    async fn finish_landed(
        &self,
        name: &str,
        m: &Meta,
        token: &str,
        labels: &Labels,
    ) -> Result<Option<PutOutcome>> {
        let current = m.current.to_string();
        if m.custom.get(TOKEN_KEY).map(String::as_str) != Some(token)
            || m.custom.get(TOKEN_VERSION_KEY) != Some(&current)
        {
            return Ok(None);
        }
        let spent = crate::metadata::spent_claims(m.current, &m.raw);
        if !spent.is_empty() || labels.iter().any(|(k, v)| m.custom.get(k) != Some(v)) {
            let patch = finishing_patch(labels, Some(token), m.current, spent);
            self.patch_metadata(name, patch, true).await?;
        }
        Ok(Some(PutOutcome {
            created: m.current == 1,
            version: Some(token.to_string()),
        }))
    }

    /// Merges into the custom metadata (JSON merge patch: `null` removes a key), leaving keys
    /// it does not name, and so other writers' claims, alone. Creates the metadata first if the
    /// secret has none (a POST without custom metadata keeps what a racing writer put there;
    /// a PATCH of metadata that does not exist does nothing).
    async fn patch_metadata(
        &self,
        name: &str,
        patch: serde_json::Map<String, Value>,
        exists: bool,
    ) -> Result<()> {
        if !exists {
            // An empty body creates nothing; a setting does (0: the mount's default).
            self.call(
                Method::POST,
                &[&self.opts.mount, "metadata"],
                Some(name),
                Some(json!({ "max_versions": 0 })),
                Op::Put,
                name,
            )
            .await?;
        }
        self.call(
            Method::PATCH,
            &[&self.opts.mount, "metadata"],
            Some(name),
            Some(json!({ "custom_metadata": patch })),
            Op::Put,
            name,
        )
        .await?;
        Ok(())
    }

    /// Writes `value` as the next version of `name` (see the module docs).
    pub(super) async fn write(
        &self,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        self.check_name(Op::Put, name)?;
        let err = |kind, msg: &str| BackendError::new(kind, Op::Put, msg).name(name);
        let meta = self.metadata(name, Op::Put).await?;
        let current = meta.as_ref().map_or(0, |m| m.current);
        // A repeated write: the token's version is still current, so it landed.
        if let (Some(t), Some(m)) = (&opts.token, &meta) {
            if let Some(done) = self.finish_landed(name, m, t, &opts.labels).await? {
                return Ok(done);
            }
        }
        match (&opts.mode, &meta) {
            (PutMode::CreateOnly, Some(m)) if !m.deleted => {
                return Err(err(ErrorKind::AlreadyExists, "the secret already exists"))
            }
            (PutMode::IfVersion(_), None) => {
                return Err(err(
                    ErrorKind::NotFound,
                    "no such secret to update conditionally",
                ))
            }
            (PutMode::IfVersion(v), Some(m)) if *v != m.reported_version() => {
                return Err(err(
                    ErrorKind::Conflict,
                    "the current version is not the one expected",
                ))
            }
            _ => {}
        }
        let data = match value.as_str() {
            Some(s) => json!({ "value": s }),
            None => json!({ "value": B64.encode(value.expose()), "encoding": "base64" }),
        };
        // The claim first (see `metadata::settle`), so that an interruption after the value
        // leaves a secret that reads as ours and new, and one before it as ours and old.
        let id = opts.token.as_deref().map_or_else(
            || format!("{:016x}", rand_id()),
            |t| t.chars().take(16).collect(),
        );
        let (claim_key, claim) =
            crate::metadata::claim(&id, current + 1, opts.token.as_deref(), &opts.labels);
        let mut patch = serde_json::Map::new();
        patch.insert(claim_key.clone(), json!(claim));
        self.patch_metadata(name, patch, meta.is_some()).await?;
        let body = json!({ "options": { "cas": current }, "data": data });
        let out = match self
            .call(
                Method::POST,
                &[&self.opts.mount, "data"],
                Some(name),
                Some(body),
                Op::Put,
                name,
            )
            .await
        {
            Ok(out) => out,
            Err(e) => {
                // The check-and-set failed: did an earlier attempt of this very write (its
                // response lost, or late) make the version? Then it is done. A claim is never
                // taken back here: that earlier attempt's version may rest on it.
                if e.kind == ErrorKind::Conflict {
                    if let (Some(t), Some(m)) = (&opts.token, self.metadata(name, Op::Put).await?) {
                        if let Some(done) = self.finish_landed(name, &m, t, &opts.labels).await? {
                            return Ok(done);
                        }
                    }
                }
                return Err(e);
            }
        };
        let version = out["data"]["version"]
            .as_u64()
            .ok_or_else(|| err(ErrorKind::Transient, "the write returned no version"))?;
        // Then the labels themselves, and the claims this one settles cleared.
        let mut remove = vec![claim_key];
        if let Some(m) = &meta {
            remove.extend(crate::metadata::spent_claims(m.current, &m.raw));
        }
        let patch = finishing_patch(&opts.labels, opts.token.as_deref(), version, remove);
        self.patch_metadata(name, patch, true).await?;
        Ok(PutOutcome {
            created: current == 0,
            version: Some(opts.token.clone().unwrap_or_else(|| version.to_string())),
        })
    }
}

/// The metadata patch that finishes a write: its labels, its token naming `version` (none: no
/// token), and the claims it settles removed.
fn finishing_patch(
    labels: &Labels,
    token: Option<&str>,
    version: u64,
    remove: impl IntoIterator<Item = String>,
) -> serde_json::Map<String, Value> {
    let mut patch = serde_json::Map::new();
    for (k, v) in labels {
        patch.insert(k.clone(), json!(v));
    }
    let (t, v) = match token {
        Some(t) => (json!(t), json!(version.to_string())),
        None => (Value::Null, Value::Null),
    };
    patch.insert(TOKEN_KEY.into(), t);
    patch.insert(TOKEN_VERSION_KEY.into(), v);
    for k in remove {
        patch.insert(k, Value::Null);
    }
    patch
}

/// A random id for a write without a token.
fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
