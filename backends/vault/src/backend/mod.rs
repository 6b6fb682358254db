//! The KV v2 backend: opening it (and logging in), and the operations, each made of the
//! requests in [`call`], the write protocol in [`write`] and the listing in [`listing`].

mod call;
mod listing;
mod write;

use crate::auth::Auth;
use crate::http::same_origin_redirects;
use crate::metadata::Meta;
use crate::options::{config, VaultOptions};
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use reqwest::Method;
use secretsync_core::error::Result;
use secretsync_core::*;
use serde_json::json;
use std::time::Duration;

/// The Vault / OpenBao KV v2 backend.
#[derive(Clone)]
pub struct VaultBackend {
    http: reqwest::Client,
    opts: VaultOptions,
    token: String,
    wire: wire::Wire,
}

impl std::fmt::Debug for VaultBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VaultBackend({}/{}/{}, {:?})",
            self.opts.addr, self.opts.mount, self.opts.path, self.opts.auth
        )
    }
}

impl VaultBackend {
    /// Opens the backend named by a URL, logging in if its auth method needs it.
    pub async fn from_url(url: &url::Url) -> Result<Self> {
        Self::new(VaultOptions::from_url(url)?).await
    }

    /// Opens the backend with explicit options.
    pub async fn new(opts: VaultOptions) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(secretsync_core::duration::http_timeout().map_err(config)?)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| config(format!("cannot build the HTTP client: {e}")))?;
        let mut b = VaultBackend {
            http,
            opts,
            token: String::new(),
            wire: wire::Wire::new(),
        };
        b.token = match b.opts.auth.login_request()? {
            None => match &b.opts.auth {
                Auth::Token(t) => t.clone(),
                _ => unreachable!("only tokens need no login"),
            },
            Some((mount, body)) => {
                let v = b
                    .call(
                        Method::POST,
                        &["auth", &mount, "login"],
                        None,
                        Some(body),
                        Op::List,
                        "",
                    )
                    .await
                    .map_err(|mut e| {
                        // A refused login is a credential problem, whatever status it came with
                        // (OpenBao answers a bad AppRole secret id with 400).
                        if matches!(
                            e.kind,
                            ErrorKind::InvalidInput | ErrorKind::PermissionDenied
                        ) {
                            e.kind = ErrorKind::Unauthenticated;
                        }
                        e
                    })?;
                v["auth"]["client_token"]
                    .as_str()
                    .ok_or_else(|| config(format!("login at auth/{mount} returned no token")))?
                    .to_string()
            }
        };
        Ok(b)
    }

    /// What the backend can do (known without connecting, for policies).
    pub fn capabilities_of() -> Capabilities {
        Capabilities {
            labels_in_list: false,
            version_in_list: true,
            // A folder's names come in one LIST, so in one page.
            max_page_size: usize::MAX,
            labels: LabelRules {
                max_labels: 62,
                max_key_len: 128,
                max_value_len: 512,
                lowercase_only: false,
            },
            if_version: true,
            ..Capabilities::baseline()
        }
    }

    pub(super) fn check_name(&self, op: Op, name: &str) -> Result<()> {
        if name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        {
            return Err(BackendError::new(
                ErrorKind::InvalidInput,
                op,
                "Vault paths cannot have empty, '.' or '..' segments",
            )
            .name(name));
        }
        Ok(())
    }

    pub(super) async fn metadata(&self, name: &str, op: Op) -> Result<Option<Meta>> {
        let v = self
            .call(
                Method::GET,
                &[&self.opts.mount, "metadata"],
                Some(name),
                None,
                op,
                name,
            )
            .await?;
        Ok((!v.is_null()).then(|| Meta::from_json(&v["data"])))
    }
}

#[async_trait]
impl SecretBackend for VaultBackend {
    fn info(&self) -> BackendInfo {
        let host = self
            .opts
            .addr
            .split("://")
            .nth(1)
            .unwrap_or(&self.opts.addr);
        let scheme = if self.opts.addr.starts_with("http://") {
            "vault+http"
        } else {
            "vault"
        };
        BackendInfo {
            scheme: scheme.into(),
            target: format!("{host}/{}/{}", self.opts.mount, self.opts.path),
        }
    }

    fn wire(&self) -> Option<&wire::Wire> {
        Some(&self.wire)
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        self.list_page(prefix, page).await
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        self.check_name(Op::Head, name)?;
        Ok(self
            .metadata(name, Op::Head)
            .await?
            .filter(|m| !m.deleted)
            .map(|m| SecretMeta {
                name: name.into(),
                labels: m.labels(),
                version: Some(m.reported_version()),
                updated: None,
                placement_drift: None,
            }))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        self.check_name(Op::Get, name)?;
        let v = self
            .call(
                Method::GET,
                &[&self.opts.mount, "data"],
                Some(name),
                None,
                Op::Get,
                name,
            )
            .await?;
        let data = &v["data"]["data"];
        let Some(raw) = data["value"].as_str() else {
            return Ok(None);
        };
        let value = if data["encoding"].as_str() == Some("base64") {
            SecretValue::new(B64.decode(raw).map_err(|_| {
                BackendError::new(
                    ErrorKind::InvalidInput,
                    Op::Get,
                    "the value is marked base64 but is not",
                )
                .name(name)
            })?)
        } else {
            SecretValue::from(raw)
        };
        let meta = v["data"]["metadata"].clone();
        let current = meta["version"].as_u64().unwrap_or(0);
        let raw = meta["custom_metadata"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let m = Meta {
            current,
            custom: crate::metadata::settle(current, &raw),
            raw,
            deleted: false,
        };
        Ok(Some(Secret {
            name: name.into(),
            value,
            version: Some(m.reported_version()),
        }))
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        self.write(name, value, opts).await
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        self.check_name(Op::Delete, name)?;
        let err = |kind, msg: &str| BackendError::new(kind, Op::Delete, msg).name(name);
        let Some(meta) = self.metadata(name, Op::Delete).await? else {
            return Err(err(ErrorKind::NotFound, "no such secret"));
        };
        match opts.mode {
            DeleteMode::Force => {
                self.call(
                    Method::DELETE,
                    &[&self.opts.mount, "metadata"],
                    Some(name),
                    None,
                    Op::Delete,
                    name,
                )
                .await?;
            }
            DeleteMode::Soft { .. } => {
                return Err(err(
                    ErrorKind::Unsupported,
                    "Vault soft deletes have no recovery window; use the default delete",
                ))
            }
            DeleteMode::Default if meta.deleted => {
                return Err(err(
                    ErrorKind::NotFound,
                    "the current version is already deleted",
                ))
            }
            DeleteMode::Default => {
                self.call(
                    Method::DELETE,
                    &[&self.opts.mount, "data"],
                    Some(name),
                    None,
                    Op::Delete,
                    name,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn restore(&self, name: &str) -> Result<()> {
        self.check_name(Op::Restore, name)?;
        let meta = self.metadata(name, Op::Restore).await?.ok_or_else(|| {
            BackendError::new(ErrorKind::NotFound, Op::Restore, "no such secret").name(name)
        })?;
        let body = json!({ "versions": [meta.current] });
        self.call(
            Method::POST,
            &[&self.opts.mount, "undelete"],
            Some(name),
            Some(body),
            Op::Restore,
            name,
        )
        .await?;
        Ok(())
    }
}
