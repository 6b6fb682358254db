//! The KV v2 backend.

use crate::auth::Auth;
use crate::http::{classify, read_bounded, same_origin_redirects};
use crate::metadata::{Meta, TOKEN_KEY, TOKEN_VERSION_KEY};
use crate::options::{config, VaultOptions};
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use reqwest::{Method, StatusCode};
use secretsync_core::error::Result;
use secretsync_core::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A response as [`VaultBackend::call`] reads it.
struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<String>,
    text: String,
}

/// Why an attempt of a request got no answer worth reading.
enum Failed {
    /// No response: the connection, a timeout, a reset.
    Send(reqwest::Error),
    /// The body broke off or was unreadable.
    Body(String),
    /// A server error (5xx, or 412 from a standby behind on its index).
    Status(Reply),
}

impl Failed {
    /// Whether the wire may send the request again at once (see [`layers::Fault`]).
    fn fault(&self) -> layers::Fault {
        match self {
            Failed::Send(e) if e.is_timeout() => layers::Fault::TimedOut,
            Failed::Send(e) if e.is_builder() => layers::Fault::Settled,
            Failed::Send(e) if e.is_connect() => layers::Fault::NotSent,
            Failed::Send(_) | Failed::Body(_) | Failed::Status(_) => layers::Fault::Unknown,
        }
    }
}

/// The Vault / OpenBao KV v2 backend.
#[derive(Clone)]
pub struct VaultBackend {
    http: reqwest::Client,
    opts: VaultOptions,
    token: String,
    wire: layers::Wire,
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
            wire: layers::Wire::new(),
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

    /// `/v1/SEGS…` and, for KV calls (`rel` given), the backend's path and `rel`.
    fn url(&self, segs: &[&str], rel: Option<&str>, list: bool) -> Result<reqwest::Url> {
        let mut u = reqwest::Url::parse(&self.opts.addr)
            .map_err(|e| config(format!("bad Vault address {}: {e}", self.opts.addr)))?;
        {
            let mut p = u
                .path_segments_mut()
                .map_err(|_| config("the Vault address cannot take a path"))?;
            p.push("v1");
            p.extend(segs);
            if let Some(rel) = rel {
                p.extend(self.opts.path.split('/').filter(|s| !s.is_empty()));
                p.extend(rel.split('/').filter(|s| !s.is_empty()));
            }
            if list {
                p.push("");
            }
        }
        if list {
            u.set_query(Some("list=true"));
        }
        Ok(u)
    }

    /// One API call; `Ok(Value::Null)` for 404 and empty bodies.
    async fn call(
        &self,
        method: Method,
        segs: &[&str],
        rel: Option<&str>,
        body: Option<Value>,
        op: Op,
        name: &str,
    ) -> Result<Value> {
        let list = method == Method::GET
            && segs.last() == Some(&"metadata")
            && rel.is_some_and(|r| r.is_empty() || r.ends_with('/'));
        let url = self.url(segs, rel, list)?;
        // Counted as `LIST metadata`, `GET data`, `POST metadata`, … (the verb and the KV
        // endpoint; names stay out of the counter).
        let (class, verb) = match method {
            _ if list => (OpClass::List, "LIST"),
            Method::GET => (OpClass::Read, "GET"),
            _ => (OpClass::Write, method.as_str()),
        };
        let request = format!("{verb} {}", segs.last().unwrap_or(&""));
        let request_name = request.clone();
        let patch = method == Method::PATCH;
        // One attempt; the wire sends it again after a passing fault (every KV request may be
        // sent twice: reads, merge patches, and data writes whose check-and-set refuses a
        // second landing, which `put` then recognises as its own).
        let attempt = || {
            let mut req = self.http.request(method.clone(), url.clone());
            if !self.token.is_empty() {
                req = req.header("X-Vault-Token", &self.token);
            }
            if let Some(ns) = &self.opts.namespace {
                req = req.header("X-Vault-Namespace", ns);
            }
            if let Some(b) = &body {
                req = if patch {
                    // KV v2 takes PATCH as a JSON merge patch.
                    req.header("Content-Type", "application/merge-patch+json")
                        .body(b.to_string())
                } else {
                    req.json(b)
                };
            }
            async move {
                let resp = req.send().await.map_err(Failed::Send)?;
                let status = resp.status();
                let header = |h: &str| {
                    resp.headers()
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let retry_after = header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_secs);
                let location = header("location");
                let text = if status.is_redirection() {
                    String::new()
                } else {
                    read_bounded(resp).await.map_err(Failed::Body)?
                };
                let reply = Reply {
                    status,
                    retry_after,
                    location,
                    text,
                };
                if status.is_server_error() || status == StatusCode::PRECONDITION_FAILED {
                    Err(Failed::Status(reply))
                } else {
                    Ok(reply)
                }
            }
        };
        let err = |kind, msg: String| BackendError::new(kind, op, msg).name(name);
        let reply = match self
            .wire
            .send_again(
                class,
                request,
                layers::Resend::Idempotent,
                Failed::fault,
                attempt,
            )
            .await
        {
            Ok(r) | Err(Failed::Status(r)) => r,
            Err(Failed::Send(e)) => {
                let kind = if e.is_builder() {
                    ErrorKind::Config
                } else {
                    ErrorKind::Transient
                };
                return Err(err(kind, format!("cannot reach {}: {e}", self.opts.addr)));
            }
            Err(Failed::Body(e)) => {
                return Err(err(
                    ErrorKind::Transient,
                    format!("unreadable response: {e}"),
                ))
            }
        };
        let Reply {
            status,
            retry_after,
            location,
            text,
        } = reply;
        if status.is_redirection() {
            let to = location.unwrap_or_else(|| "?".into());
            return Err(err(
                ErrorKind::Config,
                format!("{} redirected to another origin ({to}); secretsync does not follow it, so the token and values stay with the server named in the URL. Point the URL at that server if it is yours", self.opts.addr),
            ));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(Value::Null);
        }
        if status.is_success() {
            return Ok(if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            });
        }
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["errors"].as_array().map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_default();
        let kind = classify(status.as_u16(), &msg, !self.token.is_empty());
        let e = err(kind, format!("HTTP {}: {msg}", status.as_u16())).retry_after(retry_after);
        // A refusal names the capability the request needs and the path it was refused on.
        let denied = (kind == ErrorKind::PermissionDenied)
            .then(|| {
                crate::permissions::denied(&request_name, url.path().trim_start_matches("/v1/"))
            })
            .flatten();
        Err(match denied {
            Some(d) => {
                // Vault says "permission denied" and nothing more.
                let mut e = e.denied(d);
                e.message.clear();
                e
            }
            None => e,
        })
    }

    fn check_name(&self, op: Op, name: &str) -> Result<()> {
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

    async fn metadata(&self, name: &str, op: Op) -> Result<Option<Meta>> {
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

    /// Every name under `prefix`, sorted (LIST walks folders).
    /// One folder's names under `prefix` (sorted) and its subfolders that can hold some: one
    /// `LIST` request.
    async fn folder(&self, prefix: &str, dir: &str) -> Result<(Vec<String>, Vec<String>)> {
        let v = self
            .call(
                Method::GET,
                &[&self.opts.mount, "metadata"],
                Some(dir),
                None,
                Op::List,
                prefix,
            )
            .await?;
        let (mut names, mut dirs) = (Vec::new(), Vec::new());
        for key in v["data"]["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let full = format!("{dir}{key}");
            if full.ends_with('/') {
                if full.starts_with(prefix) || prefix.starts_with(&full) {
                    dirs.push(full);
                }
            } else if full.starts_with(prefix) {
                names.push(full);
            }
        }
        names.sort();
        Ok((names, dirs))
    }

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

    fn wire(&self) -> Option<&layers::Wire> {
        Some(&self.wire)
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        // A page is one folder (one LIST, which Vault does not paginate); the token holds the
        // folders still to read, so no folder is listed twice.
        let mut dirs: Vec<String> = match &page {
            None => vec![prefix.rfind('/').map_or("", |i| &prefix[..=i]).to_string()],
            Some(t) => serde_json::from_str(t).map_err(|_| {
                BackendError::new(
                    ErrorKind::InvalidInput,
                    Op::List,
                    "not a page token of this backend",
                )
                .name(prefix)
            })?,
        };
        let Some(dir) = dirs.pop() else {
            return Ok(Page::default());
        };
        let (chunk, subdirs) = self.folder(prefix, &dir).await?;
        dirs.extend(subdirs);
        let next =
            (!dirs.is_empty()).then(|| serde_json::to_string(&dirs).expect("strings serialize"));
        // Names only: LIST gives nothing else. `list_all` reads each one's metadata through
        // the layers (`labels_in_list: false`), so those reads are counted and rate limited.
        Ok(Page {
            items: chunk
                .into_iter()
                .map(|name| SecretMeta {
                    name,
                    labels: Labels::new(),
                    version: None,
                    updated: None,
                    placement_drift: None,
                })
                .collect(),
            next,
        })
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
