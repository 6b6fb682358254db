//! `gcp-sm://PROJECT[?endpoint=URL&auth=none&locations=L1,L2]`: GCP Secret Manager.
//!
//! - list: `ListSecrets` pages (page size always set, so an emulator's "0" token cannot loop)
//!   with labels and no values; names filtered by prefix on our side.
//! - put: `CreateSecret` (automatic replication, labels) when absent, then `AddSecretVersion`
//!   with the payload's CRC32C, then the labels. `AddSecretVersion` is not idempotent and the
//!   client will not retry it, so before adding a version the latest one is read back: if it
//!   already holds this value (an earlier attempt landed and its response was lost), it is
//!   reused instead of adding a duplicate. For the same reason the wire does not resend it
//!   blind after a fault that leaves unknown whether it landed: the latest version is read,
//!   and the request is sent again only when no newer version holds the value
//!   (`wire::Wire::send_unless_landed`). Every other request is resent after a passing
//!   fault (`wire::Wire::send_again`).
//! - versions: GCP numbers versions itself; the token of the last write and the version it
//!   produced are kept in labels, and the token is reported as the version id while that version
//!   is the latest. Listing shows no versions (`version_in_list: false`): drift needs `--verify`
//!   or `head`, and costs nothing when not asked for.
//! - delete: GCP deletes a secret and all its versions at once; there is no soft delete.
//! - replication: automatic, or user-managed in the `?locations=` given. GCP fixes it at create;
//!   a listing returns it, so a secret whose replication differs from the URL's is reported as
//!   placement drift at no extra call.

mod options;
pub mod permissions;

pub use options::GcpSmOptions;
use options::{location_drift, replication};

use crate::config::GcpOptions;
use crate::errors::{fault, idempotent, to_backend};
use async_trait::async_trait;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::{Secret as GSecret, SecretPayload, SecretVersion};
use secretsync_core::error::Result;
use secretsync_core::*;

const TOKEN_LABEL: &str = "secretsync-token";
const TOKEN_VERSION_LABEL: &str = "secretsync-token-version";
/// Secrets a list page asks for: the most `ListSecrets` gives (its documented maximum), so a
/// no-change plan of 25,000 secrets is one request. It was 500.
const PAGE: i32 = 25_000;
/// GCP's quota for `AccessSecretVersion`, apart from the other reads' (Secret Manager quotas
/// page: 90,000 access requests a minute per project).
const ACCESS_QUOTA: pace::Rate = pace::Rate::per_minute(90_000);

/// The Secret Manager backend of one project.
#[derive(Debug, Clone)]
pub struct GcpSmBackend {
    client: SecretManagerService,
    project: String,
    target: String,
    locations: Vec<String>,
    wire: wire::Wire,
}

fn config(msg: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Config, Op::List, msg)
}

fn version_number(version_name: &str) -> Option<u64> {
    version_name.rsplit('/').next()?.parse().ok()
}

fn reported(labels: &Labels, latest: u64) -> String {
    match (labels.get(TOKEN_LABEL), labels.get(TOKEN_VERSION_LABEL)) {
        (Some(t), Some(v)) if *v == latest.to_string() => t.clone(),
        _ => latest.to_string(),
    }
}

fn user_labels(all: &std::collections::HashMap<String, String>) -> Labels {
    all.iter()
        .filter(|(k, _)| *k != TOKEN_LABEL && *k != TOKEN_VERSION_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl GcpSmBackend {
    /// Opens `gcp-sm://PROJECT`; the endpoint and anonymous auth may come from the URL or
    /// `SECRETSYNC_GCP_SECRETMANAGER_ENDPOINT` / `SECRETSYNC_GCP_AUTH=none`.
    pub async fn from_url(url: &url::Url) -> Result<Self> {
        let o = GcpSmOptions::from_url(url).map_err(config)?;
        Ok(Self::new(&o.project, &o.gcp)
            .await?
            .with_locations(o.locations))
    }

    /// Creates secrets with user-managed replication in `locations` (sorted) and reports those
    /// whose replication differs; empty for automatic replication, not checked.
    pub fn with_locations(mut self, locations: Vec<String>) -> Self {
        if !locations.is_empty() {
            self.target = format!(
                "{}{}locations={}",
                self.target,
                if self.target.contains('?') { '&' } else { '?' },
                locations.join(",")
            );
        }
        self.locations = locations;
        self
    }

    /// Opens the backend of `project`.
    pub async fn new(project: &str, opts: &GcpOptions) -> Result<Self> {
        let creds = opts.credentials().await.map_err(config)?;
        let mut b = SecretManagerService::builder()
            .with_credentials(creds)
            .with_retry_policy(NeverRetry)
            .with_attempt_timeout(secretsync_core::duration::http_timeout().map_err(config)?);
        if let Some(e) = &opts.endpoint {
            b = b.with_endpoint(e.clone());
        }
        let client = b
            .build()
            .await
            .map_err(|e| config(format!("cannot build the Secret Manager client: {e}")))?;
        let target = match &opts.endpoint {
            Some(e) => format!("{project}?endpoint={e}"),
            None => project.to_string(),
        };
        Ok(Self {
            client,
            project: project.into(),
            target,
            locations: Vec::new(),
            // Value reads have a quota of their own, apart from the other reads' 600 a minute.
            wire: wire::Wire::new().own_quota("AccessSecretVersion", ACCESS_QUOTA),
        })
    }

    fn path(&self, name: &str) -> String {
        format!("projects/{}/secrets/{name}", self.project)
    }

    /// What the backend can do (known without connecting, for policies).
    pub fn capabilities_of() -> Capabilities {
        Capabilities {
            version_in_list: false,
            max_page_size: PAGE as usize,
            names: NameRules {
                max_len: 255,
                extra_chars: "_-",
                rooted_paths: false,
                reserved_prefixes: &[],
            },
            labels: LabelRules {
                max_labels: 62,
                max_key_len: 63,
                max_value_len: 63,
                lowercase_only: true,
            },
            soft_delete: false,
            ..Capabilities::baseline()
        }
    }

    /// The backend error of `request` failing for `op` on `name`; a refusal names the
    /// permission it lacked, on the resource GCP checks it on.
    fn fail(
        &self,
        request: &str,
        op: Op,
        name: &str,
        e: google_cloud_gax::error::Error,
    ) -> BackendError {
        let mut e = to_backend(op, name, e);
        if e.kind != ErrorKind::PermissionDenied {
            return e;
        }
        let on_project = permissions::REQUESTS
            .get(request)
            .and_then(|r| r.needs.first())
            .is_some_and(|n| n.on_project);
        let resource = if on_project || name.is_empty() || op == Op::List {
            format!("projects/{}", self.project)
        } else {
            self.path(name)
        };
        match permissions::denied(request, &resource, &e.message) {
            Some(d) => {
                // GCP's words say no more than the permission and the resource.
                e.message.clear();
                e.denied(d)
            }
            None => e,
        }
    }

    async fn secret(&self, name: &str, op: Op) -> Result<Option<GSecret>> {
        let req = self.client.get_secret().set_name(self.path(name));
        match idempotent(&self.wire, OpClass::Read, "GetSecret", || {
            req.clone().send()
        })
        .await
        {
            Ok(s) => Ok(Some(s)),
            Err(e) => match self.fail("GetSecret", op, name, e) {
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    /// Creates the secret, empty, with the labels of `opts` but the fingerprint (a secret made
    /// but not filled must not look up to date). False when it already exists.
    async fn create(&self, name: &str, opts: &PutOptions) -> Result<bool> {
        let secret = GSecret::new()
            .set_replication(replication(&self.locations))
            .set_labels(
                opts.labels
                    .iter()
                    .filter(|(k, _)| k.as_str() != secretsync_core::FP_LABEL)
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        let req = self
            .client
            .create_secret()
            .set_parent(format!("projects/{}", self.project))
            .set_secret_id(name)
            .set_secret(secret);
        let r = idempotent(&self.wire, OpClass::Write, "CreateSecret", || {
            req.clone().send()
        })
        .await;
        match r.map_err(|e| self.fail("CreateSecret", Op::Put, name, e)) {
            Ok(_) => Ok(true),
            Err(e) if e.kind == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The latest enabled version's number and payload, if any.
    async fn latest(&self, name: &str, op: Op) -> Result<Option<(u64, Vec<u8>)>> {
        let req = self
            .client
            .access_secret_version()
            .set_name(format!("{}/versions/latest", self.path(name)));
        let r = idempotent(&self.wire, OpClass::Read, "AccessSecretVersion", || {
            req.clone().send()
        })
        .await;
        match r {
            Ok(r) => {
                let n = version_number(&r.name).unwrap_or(0);
                Ok(Some((
                    n,
                    r.payload.map(|p| p.data.to_vec()).unwrap_or_default(),
                )))
            }
            Err(e) => match self.fail("AccessSecretVersion", op, name, e) {
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn latest_number(&self, name: &str, op: Op) -> Result<Option<u64>> {
        let req = self
            .client
            .get_secret_version()
            .set_name(format!("{}/versions/latest", self.path(name)));
        let r = idempotent(&self.wire, OpClass::Read, "GetSecretVersion", || {
            req.clone().send()
        })
        .await;
        match r {
            Ok(v) => Ok(version_number(&v.name)),
            Err(e) => match self.fail("GetSecretVersion", op, name, e) {
                e if e.kind == ErrorKind::NotFound => Ok(None),
                e => Err(e),
            },
        }
    }

    /// Adds a version holding `value`; `before` is the latest version's number before it.
    /// `AddSecretVersion` is not idempotent: after a fault that leaves it unknown whether the
    /// request landed, the latest version tells (a newer one holding this value is it), and
    /// only when it did not land is the request sent again.
    async fn add_version(
        &self,
        name: &str,
        value: &SecretValue,
        before: Option<u64>,
    ) -> Result<u64> {
        let payload = SecretPayload::new()
            .set_data(value.expose().to_vec())
            .set_data_crc32c(i64::from(crc32c::crc32c(value.expose())));
        let req = self
            .client
            .add_secret_version()
            .set_parent(self.path(name))
            .set_payload(payload);
        let latest = self
            .client
            .access_secret_version()
            .set_name(format!("{}/versions/latest", self.path(name)));
        let landed = || async {
            let r = idempotent(&self.wire, OpClass::Read, "AccessSecretVersion", || {
                latest.clone().send()
            })
            .await;
            match r {
                Ok(r)
                    if version_number(&r.name) > before
                        && r.payload.as_ref().map(|p| p.data.as_ref()) == Some(value.expose()) =>
                {
                    Ok(Some(SecretVersion::new().set_name(r.name)))
                }
                Ok(_) => Ok(None),
                Err(e) if crate::errors::kind(&e) == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        };
        let v = self
            .wire
            .send_unless_landed(
                OpClass::Write,
                "AddSecretVersion",
                fault,
                || req.clone().send(),
                landed,
            )
            .await
            .map_err(|e| self.fail("AddSecretVersion", Op::Put, name, e))?;
        version_number(&v.name).ok_or_else(|| {
            BackendError::new(
                ErrorKind::Transient,
                Op::Put,
                "the new version has no number",
            )
            .name(name)
        })
    }

    async fn set_labels(
        &self,
        name: &str,
        labels: std::collections::HashMap<String, String>,
    ) -> Result<()> {
        let secret = GSecret::new().set_name(self.path(name)).set_labels(labels);
        let mask = google_cloud_wkt::FieldMask::default().set_paths(["labels"]);
        let req = self
            .client
            .update_secret()
            .set_secret(secret)
            .set_update_mask(mask);
        idempotent(&self.wire, OpClass::Write, "UpdateSecret", || {
            req.clone().send()
        })
        .await
        .map_err(|e| self.fail("UpdateSecret", Op::Put, name, e))?;
        Ok(())
    }
}

#[async_trait]
impl SecretBackend for GcpSmBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "gcp-sm".into(),
            target: self.target.clone(),
        }
    }

    fn wire(&self) -> Option<&wire::Wire> {
        Some(&self.wire)
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        let req = self
            .client
            .list_secrets()
            .set_parent(format!("projects/{}", self.project))
            .set_page_size(PAGE)
            .set_page_token(page.unwrap_or_default());
        let out = idempotent(&self.wire, OpClass::List, "ListSecrets", || {
            req.clone().send()
        })
        .await
        .map_err(|e| self.fail("ListSecrets", Op::List, prefix, e))?;
        let items = out
            .secrets
            .iter()
            .filter_map(|s| {
                let id = s.name.rsplit('/').next()?;
                id.starts_with(prefix).then(|| SecretMeta {
                    name: id.to_string(),
                    labels: user_labels(&s.labels),
                    version: None,
                    updated: None,
                    placement_drift: location_drift(&self.locations, s.replication.as_ref()),
                })
            })
            .collect();
        Ok(Page {
            items,
            next: Some(out.next_page_token).filter(|t| !t.is_empty()),
        })
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        let Some(s) = self.secret(name, Op::Head).await? else {
            return Ok(None);
        };
        let all: Labels = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let version = self
            .latest_number(name, Op::Head)
            .await?
            .map(|n| reported(&all, n));
        Ok(Some(SecretMeta {
            name: name.into(),
            labels: user_labels(&s.labels),
            version,
            updated: None,
            placement_drift: location_drift(&self.locations, s.replication.as_ref()),
        }))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        let Some((n, data)) = self.latest(name, Op::Get).await? else {
            return Ok(None);
        };
        let labels: Labels = self
            .secret(name, Op::Get)
            .await?
            .map(|s| s.labels.into_iter().collect())
            .unwrap_or_default();
        Ok(Some(Secret {
            name: name.into(),
            value: SecretValue::new(data),
            version: Some(reported(&labels, n)),
        }))
    }

    /// Values only: the version secretsync reports comes from the labels, a `GetSecret` more
    /// per secret, and that read has GCP's 600-a-minute quota while value reads have 90,000.
    /// An export of 300 secrets took 30 s with it.
    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(
                self.latest(name, Op::BatchGet)
                    .await?
                    .map(|(_, data)| Secret {
                        name: name.clone(),
                        value: SecretValue::new(data),
                        version: None,
                    }),
            );
        }
        Ok(out)
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        // A create the plan expects to be new tries the create first: one request fewer than
        // reading the secret first. One that exists answers AlreadyExists and is read then.
        let created_now = opts.mode == PutMode::CreateOnly && self.create(name, opts).await?;
        let existing = if created_now {
            None
        } else {
            self.secret(name, Op::Put).await?
        };
        let mut labels = existing
            .as_ref()
            .map(|s| s.labels.clone())
            .unwrap_or_default();
        let token_matches = opts.token.is_some() && labels.get(TOKEN_LABEL) == opts.token.as_ref();
        // An earlier attempt of this create made the secret (with these labels) but did not
        // finish: carry on with it rather than call it someone else's.
        let our_unfinished_create = existing.is_some()
            && !labels.contains_key(TOKEN_LABEL)
            && !opts.labels.is_empty()
            && opts
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != secretsync_core::FP_LABEL)
                .all(|(k, v)| labels.get(k) == Some(v));
        if opts.mode == PutMode::CreateOnly
            && existing.is_some()
            && !token_matches
            && !our_unfinished_create
        {
            return Err(BackendError::new(
                ErrorKind::AlreadyExists,
                Op::Put,
                "the secret already exists",
            )
            .name(name));
        }
        let created = existing.is_none();
        if created && !created_now {
            self.create(name, opts).await?;
        }
        // Did an earlier attempt of this write land? Then reuse its version.
        let latest = if created {
            None
        } else {
            self.latest(name, Op::Put).await?
        };
        let landed = latest
            .as_ref()
            .filter(|(_, data)| data.as_slice() == value.expose())
            .map(|(n, _)| *n);
        let version = match landed {
            Some(n) if opts.token.is_some() => n,
            _ => {
                self.add_version(name, value, latest.as_ref().map(|(n, _)| *n))
                    .await?
            }
        };
        labels.extend(opts.labels.clone());
        match &opts.token {
            Some(t) => {
                labels.insert(TOKEN_LABEL.into(), t.clone());
                labels.insert(TOKEN_VERSION_LABEL.into(), version.to_string());
            }
            None => {
                labels.remove(TOKEN_LABEL);
                labels.remove(TOKEN_VERSION_LABEL);
            }
        }
        self.set_labels(name, labels).await?;
        Ok(PutOutcome {
            created,
            version: Some(opts.token.clone().unwrap_or_else(|| version.to_string())),
        })
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        if let DeleteMode::Soft { .. } = opts.mode {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                Op::Delete,
                "GCP Secret Manager has no soft delete",
            )
            .name(name));
        }
        let req = self.client.delete_secret().set_name(self.path(name));
        idempotent(&self.wire, OpClass::Write, "DeleteSecret", || {
            req.clone().send()
        })
        .await
        .map_err(|e| self.fail("DeleteSecret", Op::Delete, name, e))?;
        Ok(())
    }
}
