//! `aws-sm://?region=R[&endpoint=URL][&profile=P][&replicas=R1,R2][&kms-key=K]`: AWS Secrets
//! Manager.
//!
//! - list: `ListSecrets` (name-prefix filter, 100 a page) gives tags and the version id staged
//!   `AWSCURRENT`, so a plan reads no values.
//! - put: `PutSecretValue`, or `CreateSecret` when absent, always with the caller's
//!   `ClientRequestToken` (it becomes the version id), so a retried write never adds a second
//!   version; then `TagResource` with the labels. The value is written before the tags, so a
//!   failure in between never leaves a new fingerprint on an old value.
//! - delete: soft with a recovery window (7–30 days, default 30) or forced; `restore` undoes a
//!   soft delete. A secret pending deletion is reported as `PendingDeletion`, naming `restore`.
//! - replicas: `?replicas=` regions are added at create (`AddReplicaRegions`); later writes
//!   replicate by themselves. `ListSecrets` does not return replication, so with replicas set a
//!   listing reads each secret's `DescribeSecret` (through the layers, counted) and reports
//!   regions that differ as placement drift. Replica copies listed in their own region are not
//!   this region's secrets and are left out. A delete removes the replicas first, as AWS requires.
//! - `kms-key=`: new secrets are encrypted with that key instead of `aws/secretsmanager`.
//! - permissions: every request is in [`permissions::REQUESTS`]; a refused one names the
//!   action it lacked.

mod options;
pub mod permissions;

pub use options::SmOptions;

use crate::errors::Sends;
use crate::iam::Need;
use async_trait::async_trait;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, ReplicaRegionType, Tag};
use aws_sdk_secretsmanager::Client;
use secretsync_core::error::Result;
use secretsync_core::permissions::Table;
use secretsync_core::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// AWS's quota for `BatchGetSecretValue`, below the read class's 10,000 a second (Secrets
/// Manager quotas page: 100 a second, not adjustable).
const BATCH_GET_QUOTA: pace::Rate = pace::Rate::per_second(100);

/// The Secrets Manager backend.
#[derive(Debug, Clone)]
pub struct AwsSmBackend {
    client: Client,
    target: String,
    region: String,
    replicas: Vec<String>,
    kms_key: Option<String>,
    wire: wire::Wire,
}

fn config_err(msg: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Config, Op::List, msg)
}

fn to_system_time(t: Option<&aws_sdk_secretsmanager::primitives::DateTime>) -> Option<SystemTime> {
    let t = t?;
    let secs = u64::try_from(t.secs()).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, t.subsec_nanos()))
}

fn tags_to_labels(tags: &[Tag]) -> Labels {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// A value as Secrets Manager stores it: UTF-8 text in `SecretString`, anything else in
/// `SecretBinary`.
fn payload(value: &SecretValue) -> (Option<String>, Option<Blob>) {
    match value.as_str() {
        Some(s) => (Some(s.to_string()), None),
        None => (None, Some(Blob::new(value.expose()))),
    }
}

fn tags(labels: &Labels) -> Vec<Tag> {
    labels
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn current_version(
    stages: Option<&std::collections::HashMap<String, Vec<String>>>,
) -> Option<String> {
    stages?
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT"))
        .map(|(v, _)| v.clone())
}

impl Sends for AwsSmBackend {
    const REQUESTS: &'static Table<Need> = &permissions::REQUESTS;

    fn through(&self) -> &wire::Wire {
        &self.wire
    }
}

impl AwsSmBackend {
    /// Opens the backend named by an `aws-sm://` URL.
    pub async fn from_url(url: &url::Url) -> Result<Self> {
        let opts = SmOptions::from_url(url).map_err(config_err)?;
        Self::new(&opts).await
    }

    /// Opens the backend with explicit options.
    pub async fn new(opts: &SmOptions) -> Result<Self> {
        let conf = opts.aws.load().await.map_err(config_err)?;
        let region = conf.region().map(ToString::to_string).unwrap_or_default();
        if opts.replicas.contains(&region) {
            return Err(config_err(format!(
                "replicas= names the primary region {region}: list only the other regions"
            )));
        }
        let mut target = match &opts.aws.endpoint {
            Some(e) => format!("?region={region}&endpoint={e}"),
            None => format!("?region={region}"),
        };
        if !opts.replicas.is_empty() {
            target.push_str(&format!("&replicas={}", opts.replicas.join(",")));
        }
        Ok(Self {
            client: Client::new(&conf),
            target,
            region,
            replicas: opts.replicas.clone(),
            kms_key: opts.kms_key.clone(),
            wire: wire::Wire::per_api().own_quota("BatchGetSecretValue", BATCH_GET_QUOTA),
        })
    }

    /// What the backend of `opts` can do (known without connecting, for policies).
    pub fn capabilities_of(opts: &SmOptions) -> Capabilities {
        Capabilities {
            max_batch_get: 20,
            placement_in_list: opts.replicas.is_empty(),
            ..Capabilities::baseline()
        }
    }

    /// `DescribeSecret` of `name`, for `op`.
    async fn describe(
        &self,
        name: &str,
        op: Op,
    ) -> Result<aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput> {
        let req = self.client.describe_secret().secret_id(name);
        self.send(OpClass::Read, "DescribeSecret", op, name, || {
            req.clone().send()
        })
        .await
    }

    /// Removes every replica of `name` (AWS refuses to delete a secret that has some); false
    /// when it has none.
    async fn remove_replicas(&self, name: &str) -> Result<bool> {
        let d = self.describe(name, Op::Delete).await?;
        let regions: Vec<String> = d
            .replication_status()
            .iter()
            .filter_map(|s| s.region().map(str::to_string))
            .collect();
        if regions.is_empty() {
            return Ok(false);
        }
        self.send(
            OpClass::Write,
            "RemoveRegionsFromReplication",
            Op::Delete,
            name,
            || {
                self.client
                    .remove_regions_from_replication()
                    .secret_id(name)
                    .set_remove_replica_regions(Some(regions.clone()))
                    .send()
            },
        )
        .await?;
        Ok(true)
    }

    fn check_token(name: &str, token: &Option<String>) -> Result<()> {
        match token {
            Some(t) if !(32..=64).contains(&t.len()) => Err(BackendError::new(
                ErrorKind::InvalidInput,
                Op::Put,
                "an AWS ClientRequestToken must be 32 to 64 characters",
            )
            .name(name)),
            _ => Ok(()),
        }
    }

    async fn create(
        &self,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        let (text, binary) = payload(value);
        let out = self
            .send(OpClass::Write, "CreateSecret", Op::Put, name, || {
                self.client
                    .create_secret()
                    .name(name)
                    .set_kms_key_id(self.kms_key.clone())
                    .set_client_request_token(opts.token.clone())
                    .set_secret_string(text.clone())
                    .set_secret_binary(binary.clone())
                    .set_tags(Some(tags(&opts.labels)))
                    .set_add_replica_regions((!self.replicas.is_empty()).then(|| {
                        self.replicas
                            .iter()
                            .map(|r| ReplicaRegionType::builder().region(r).build())
                            .collect()
                    }))
                    .send()
            })
            .await?;
        Ok(PutOutcome {
            created: true,
            version: out.version_id().map(str::to_string),
        })
    }

    async fn put_value(
        &self,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        let (text, binary) = payload(value);
        let out = self
            .send(OpClass::Write, "PutSecretValue", Op::Put, name, || {
                self.client
                    .put_secret_value()
                    .secret_id(name)
                    .set_client_request_token(opts.token.clone())
                    .set_secret_string(text.clone())
                    .set_secret_binary(binary.clone())
                    .send()
            })
            .await?;
        if !opts.labels.is_empty() {
            self.send(OpClass::Write, "TagResource", Op::Put, name, || {
                self.client
                    .tag_resource()
                    .secret_id(name)
                    .set_tags(Some(tags(&opts.labels)))
                    .send()
            })
            .await?;
        }
        Ok(PutOutcome {
            created: false,
            version: out.version_id().map(str::to_string),
        })
    }

    /// `e` as [`ErrorKind::PendingDeletion`] when the secret turns out to be scheduled for
    /// deletion (AWS answers such writes with a generic `InvalidRequestException`, so it is
    /// asked, on this error path only, rather than guessed from the message). When the
    /// question itself is refused, the refusal is the answer: it names the missing action.
    async fn pending_or(&self, name: &str, op: Op, e: BackendError) -> BackendError {
        let maybe = matches!(
            e.kind,
            ErrorKind::InvalidInput | ErrorKind::Conflict | ErrorKind::AlreadyExists
        );
        if !maybe {
            return e;
        }
        match self.describe(name, op).await {
            Ok(d) if d.deleted_date().is_some() => Self::pending_deletion(name, op),
            Err(denied) if denied.kind == ErrorKind::PermissionDenied => denied,
            _ => e,
        }
    }

    fn pending_deletion(name: &str, op: Op) -> BackendError {
        BackendError::new(
            ErrorKind::PendingDeletion,
            op,
            "the secret is scheduled for deletion: restore it (`secretsync restore --env ENV NAME`) or wait for the deletion to finish",
        )
        .name(name)
    }
}

#[async_trait]
impl SecretBackend for AwsSmBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "aws-sm".into(),
            target: self.target.clone(),
        }
    }

    fn wire(&self) -> Option<&wire::Wire> {
        Some(&self.wire)
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of(&SmOptions {
            replicas: self.replicas.clone(),
            ..SmOptions::default()
        })
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        let mut req = self
            .client
            .list_secrets()
            .max_results(100)
            .set_next_token(page);
        if !prefix.is_empty() {
            req = req.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            );
        }
        let out = self
            .send(OpClass::List, "ListSecrets", Op::List, prefix, || {
                req.clone().send()
            })
            .await?;
        let items = out
            .secret_list()
            .iter()
            // The name filter is case-insensitive on AWS; keep exact prefix matches only.
            // A replica of another region's secret is that region's, not this one's.
            .filter(|s| {
                s.name().is_some_and(|n| n.starts_with(prefix))
                    && s.deleted_date().is_none()
                    && s.primary_region().is_none_or(|p| p == self.region)
            })
            .map(|s| SecretMeta {
                name: s.name().unwrap_or_default().to_string(),
                labels: tags_to_labels(s.tags()),
                version: current_version(s.secret_versions_to_stages()),
                updated: to_system_time(s.last_changed_date()),
                placement_drift: None,
            })
            .collect();
        Ok(Page {
            items,
            next: out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        match self.describe(name, Op::Head).await {
            Ok(d) if d.deleted_date().is_some() => Ok(None),
            Ok(d) => Ok(Some(SecretMeta {
                name: d.name().unwrap_or(name).to_string(),
                labels: tags_to_labels(d.tags()),
                version: current_version(d.version_ids_to_stages()),
                updated: to_system_time(d.last_changed_date()),
                placement_drift: (!self.replicas.is_empty())
                    .then(|| options::replica_drift(name, &self.replicas, d.replication_status()))
                    .flatten(),
            })),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        match self
            .send(OpClass::Read, "GetSecretValue", Op::Get, name, || {
                self.client.get_secret_value().secret_id(name).send()
            })
            .await
        {
            Ok(out) => {
                let value = match (out.secret_string(), out.secret_binary()) {
                    (Some(s), _) => SecretValue::from(s),
                    (None, Some(b)) => SecretValue::new(b.as_ref().to_vec()),
                    (None, None) => return Ok(None),
                };
                Ok(Some(Secret {
                    name: name.into(),
                    value,
                    version: out.version_id().map(str::to_string),
                }))
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            // A secret pending deletion has no readable value.
            Err(e) => match self.pending_or(name, Op::Get, e).await {
                e if e.kind == ErrorKind::PendingDeletion => Ok(None),
                e => Err(e),
            },
        }
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        let first = names.first().map(String::as_str).unwrap_or_default();
        let out = self
            .send(
                OpClass::Read,
                "BatchGetSecretValue",
                Op::BatchGet,
                first,
                || {
                    self.client
                        .batch_get_secret_value()
                        .set_secret_id_list(Some(names.to_vec()))
                        .send()
                },
            )
            .await?;
        if let Some(e) = out
            .errors()
            .iter()
            .find(|e| e.error_code() != Some("ResourceNotFoundException"))
        {
            let code = e.error_code().unwrap_or("Unknown");
            let kind = match code {
                "AccessDeniedException" => ErrorKind::PermissionDenied,
                "DecryptionFailure" => ErrorKind::PermissionDenied,
                "InternalServiceError" => ErrorKind::Transient,
                _ => ErrorKind::InvalidInput,
            };
            let name = e.secret_id().unwrap_or(first);
            let err = BackendError::new(
                kind,
                Op::BatchGet,
                format!("{code}: {}", e.message().unwrap_or("")),
            )
            .name(name);
            // A batch read checks GetSecretValue on each secret it reads.
            return Err(match code {
                "AccessDeniedException" => err.denied(permissions::denied_batch_read(name)),
                _ => err,
            });
        }
        let mut by_name: std::collections::HashMap<&str, Secret> = std::collections::HashMap::new();
        for v in out.secret_values() {
            let Some(name) = v.name() else { continue };
            let value = match (v.secret_string(), v.secret_binary()) {
                (Some(s), _) => SecretValue::from(s),
                (None, Some(b)) => SecretValue::new(b.as_ref().to_vec()),
                (None, None) => continue,
            };
            by_name.insert(
                name,
                Secret {
                    name: name.to_string(),
                    value,
                    version: v.version_id().map(str::to_string),
                },
            );
        }
        Ok(names.iter().map(|n| by_name.remove(n.as_str())).collect())
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        Self::check_token(name, &opts.token)?;
        let r = if opts.mode == PutMode::CreateOnly {
            self.create(name, value, opts).await
        } else {
            match self.put_value(name, value, opts).await {
                Err(e) if e.kind == ErrorKind::NotFound => {
                    match self.create(name, value, opts).await {
                        // Created by someone else in between: write a version instead.
                        Err(e) if e.kind == ErrorKind::AlreadyExists => {
                            self.put_value(name, value, opts).await
                        }
                        r => r,
                    }
                }
                r => r,
            }
        };
        match r {
            Err(e) => Err(self.pending_or(name, Op::Put, e).await),
            ok => ok,
        }
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        let req = self.client.delete_secret().secret_id(name);
        let req = match opts.mode {
            DeleteMode::Default => req,
            DeleteMode::Soft { days } if (7..=30).contains(&days) => {
                req.recovery_window_in_days(i64::from(days))
            }
            DeleteMode::Soft { days } => {
                return Err(BackendError::new(
                    ErrorKind::InvalidInput,
                    Op::Delete,
                    format!("a recovery window of {days} days: AWS allows 7 to 30"),
                )
                .name(name))
            }
            DeleteMode::Force => req.force_delete_without_recovery(true),
        };
        let e = match self
            .send(OpClass::Write, "DeleteSecret", Op::Delete, name, || {
                req.clone().send()
            })
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // AWS deletes no secret that still has replicas (a refusal of the request): remove
        // them, then delete. A refusal for any other reason stands.
        let e = if e.kind == ErrorKind::InvalidInput && self.remove_replicas(name).await? {
            match self
                .send(OpClass::Write, "DeleteSecret", Op::Delete, name, || {
                    req.clone().send()
                })
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) => e,
            }
        } else {
            e
        };
        match opts.mode {
            DeleteMode::Force => Err(e),
            _ => Err(self.pending_or(name, Op::Delete, e).await),
        }
    }

    async fn restore(&self, name: &str) -> Result<()> {
        self.send(OpClass::Write, "RestoreSecret", Op::Restore, name, || {
            self.client.restore_secret().secret_id(name).send()
        })
        .await?;
        Ok(())
    }
}
