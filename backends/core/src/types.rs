//! What backends take and give: metadata, pages, write and delete options, capabilities.

use crate::error::{BackendError, ErrorKind, Op};
use crate::value::SecretValue;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Tags (AWS), labels (GCP) or custom metadata (Vault).
pub type Labels = BTreeMap<String, String>;

/// What a list gives for free: never a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretMeta {
    /// Full name in the backend.
    pub name: String,
    /// Its labels.
    pub labels: Labels,
    /// Its current version id, when the backend reports it in metadata.
    pub version: Option<String>,
    /// When it last changed, when known.
    pub updated: Option<SystemTime>,
    /// Set when the secret's placement (AWS replica regions, GCP replication locations)
    /// differs from what the backend URL asks for: what differs and how to fix it, for people.
    pub placement_drift: Option<String>,
}

/// A value read from a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// Full name in the backend.
    pub name: String,
    /// The current value.
    pub value: SecretValue,
    /// The version the value belongs to.
    pub version: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page<T> {
    /// The items, in the backend's order.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// When a write may happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PutMode {
    /// Create, or add a new version.
    #[default]
    Upsert,
    /// Only create; `AlreadyExists` when present.
    CreateOnly,
    /// Only when the current version is this one; `Conflict` otherwise.
    IfVersion(String),
}

/// Options of a write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// When the write may happen.
    pub mode: PutMode,
    /// Labels to set (merged over the existing ones; others are left alone).
    pub labels: Labels,
    /// Idempotency token: a retried write with the same token and value creates no new version.
    /// Backends that honour tokens make it the new version's id (as AWS does), so a later
    /// listing tells which write produced the current version.
    pub token: Option<String>,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// The secret was created by this write.
    pub created: bool,
    /// The version now current.
    pub version: Option<String>,
}

/// How to delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeleteMode {
    /// The backend's usual delete (soft, with its default recovery window, where it has one).
    #[default]
    Default,
    /// Soft delete, recoverable for this many days.
    Soft {
        /// Recovery window in days.
        days: u32,
    },
    /// Delete now, without recovery.
    Force,
}

/// Options of a delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// How to delete.
    pub mode: DeleteMode,
}

/// The names a backend accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRules {
    /// Longest name.
    pub max_len: usize,
    /// Characters allowed besides ASCII letters and digits.
    pub extra_chars: &'static str,
    /// A name holding `/` must start with one (SSM Parameter Store's hierarchies).
    pub rooted_paths: bool,
    /// Prefixes no name may start with (after a leading `/`), in any case.
    pub reserved_prefixes: &'static [&'static str],
}

impl NameRules {
    /// Checks `name`; the error says which rule it breaks.
    pub fn check(&self, name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("the name is empty".into());
        }
        if name.len() > self.max_len {
            return Err(format!(
                "the name is {} characters; the limit is {}",
                name.len(),
                self.max_len
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !self.extra_chars.contains(*c))
        {
            return Err(format!(
                "the name has {c:?}; allowed are letters, digits and {:?}",
                self.extra_chars
            ));
        }
        if self.rooted_paths && name.contains('/') && !name.starts_with('/') {
            return Err("the name has '/' but does not start with one: a hierarchical name is a full path (use a prefix such as \"/app/\")".into());
        }
        let bare = name.trim_start_matches('/').to_ascii_lowercase();
        if let Some(p) = self.reserved_prefixes.iter().find(|p| bare.starts_with(*p)) {
            return Err(format!(
                "names starting with {p:?} are reserved by the backend"
            ));
        }
        Ok(())
    }
}

/// The labels a backend accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRules {
    /// Most labels on one secret.
    pub max_labels: usize,
    /// Longest key.
    pub max_key_len: usize,
    /// Longest value.
    pub max_value_len: usize,
    /// Keys and values must be lowercase letters, digits, `_` and `-` (GCP).
    pub lowercase_only: bool,
}

/// What a backend can do. A backend that cannot do something says so here and returns
/// `Unsupported` when asked; it never silently drops labels or options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// List returns labels and versions, so a plan needs no per-secret calls; otherwise list
    /// pages hold names only and [`crate::list_all`] reads each one's metadata with `head`
    /// through the layers.
    pub labels_in_list: bool,
    /// List shows each secret's placement (replicas), so `placement_drift` is filled without
    /// per-secret calls; otherwise [`crate::list_all`] reads it with `head` (AWS with
    /// `?replicas=`: `ListSecrets` does not return replication).
    pub placement_in_list: bool,
    /// List returns each secret's current version id.
    pub version_in_list: bool,
    /// Largest page a list returns.
    pub max_page_size: usize,
    /// Largest value accepted.
    pub max_value_bytes: usize,
    /// Most names one `get_many` call reads (1: no batch API).
    pub max_batch_get: usize,
    /// Arbitrary bytes (not only UTF-8 text) round-trip.
    pub binary_values: bool,
    /// What to do with a value refused for its size or for being binary (a larger tier,
    /// another backend), added to the refusal; empty for none.
    pub value_hint: &'static str,
    /// Name rules.
    pub names: NameRules,
    /// Label rules.
    pub labels: LabelRules,
    /// `PutMode::CreateOnly` is honoured.
    pub create_only: bool,
    /// `PutMode::IfVersion` is honoured.
    pub if_version: bool,
    /// `PutOptions::token` makes writes idempotent.
    pub idempotency_token: bool,
    /// Deletes can be soft (recoverable) and `restore` works.
    pub soft_delete: bool,
    /// Reading values costs nothing (a local file): a plan compares values every time, so an
    /// edit by hand is seen without `--verify`.
    pub free_reads: bool,
    /// Concurrent writes are committed together (one rewrite of a local file for many), so the
    /// engine keeps [`BATCH_IN_FLIGHT`] writes in flight whatever its concurrency is.
    pub batched_writes: bool,
}

/// Writes in flight against a backend with [`Capabilities::batched_writes`].
pub const BATCH_IN_FLIGHT: usize = 8192;

impl Capabilities {
    /// What a cloud secret manager usually offers (AWS's shape): 100 a page, 64 KiB values,
    /// binary, 512-character names of letters, digits and `/_+=.@-`, 50 free-form labels,
    /// labels and versions in list, create-only and idempotent writes, soft delete, no batch
    /// reads and no if-version. Backends start here and change what differs.
    pub fn baseline() -> Self {
        Capabilities {
            labels_in_list: true,
            placement_in_list: true,
            version_in_list: true,
            max_page_size: 100,
            max_value_bytes: crate::MAX_VALUE_BYTES,
            max_batch_get: 1,
            binary_values: true,
            value_hint: "",
            names: NameRules {
                max_len: 512,
                extra_chars: "/_+=.@-",
                rooted_paths: false,
                reserved_prefixes: &[],
            },
            labels: LabelRules {
                max_labels: 50,
                max_key_len: 128,
                max_value_len: 256,
                lowercase_only: false,
            },
            create_only: true,
            if_version: false,
            idempotency_token: true,
            soft_delete: true,
            free_reads: false,
            batched_writes: false,
        }
    }

    /// How many writes to keep in flight when `concurrency` were asked for: at least
    /// [`BATCH_IN_FLIGHT`] against a backend that batches writes.
    pub fn writes_in_flight(&self, concurrency: usize) -> usize {
        if self.batched_writes {
            concurrency.max(BATCH_IN_FLIGHT)
        } else {
            concurrency
        }
    }

    /// Checks a write against these capabilities before any call is made.
    pub fn check_put(
        &self,
        backend: &str,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> Result<(), BackendError> {
        let bad = |kind, msg: String| {
            Err(BackendError::new(kind, Op::Put, msg)
                .backend(backend)
                .name(name))
        };
        self.check_name(backend, Op::Put, name)?;
        if value.is_empty() {
            return bad(
                ErrorKind::InvalidInput,
                "empty values are not accepted".into(),
            );
        }
        let hint = if self.value_hint.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.value_hint)
        };
        if value.len() > self.max_value_bytes {
            return bad(
                ErrorKind::InvalidInput,
                format!(
                    "the value is {} bytes; the limit is {}{hint}",
                    value.len(),
                    self.max_value_bytes
                ),
            );
        }
        if !self.binary_values && value.as_str().is_none() {
            return bad(
                ErrorKind::InvalidInput,
                format!("this backend stores text only and the value is not UTF-8{hint}"),
            );
        }
        match opts.mode {
            PutMode::CreateOnly if !self.create_only => {
                return bad(
                    ErrorKind::Unsupported,
                    "create-only writes are not supported".into(),
                )
            }
            PutMode::IfVersion(_) if !self.if_version => {
                return bad(
                    ErrorKind::Unsupported,
                    "conditional (if-version) writes are not supported".into(),
                )
            }
            _ => {}
        }
        if opts.labels.len() > self.labels.max_labels {
            return bad(
                ErrorKind::InvalidInput,
                format!(
                    "{} labels; the limit is {}",
                    opts.labels.len(),
                    self.labels.max_labels
                ),
            );
        }
        for (k, v) in &opts.labels {
            if k.is_empty()
                || k.len() > self.labels.max_key_len
                || v.len() > self.labels.max_value_len
            {
                return bad(
                    ErrorKind::InvalidInput,
                    format!("label {k:?} is empty or too long"),
                );
            }
            let lower_ok = |s: &str| {
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            };
            if self.labels.lowercase_only
                && (!lower_ok(k)
                    || !lower_ok(v)
                    || !k.starts_with(|c: char| c.is_ascii_lowercase()))
            {
                return bad(
                    ErrorKind::InvalidInput,
                    format!("label {k:?}: keys and values must be lowercase letters, digits, '_' or '-' (keys start with a letter)"),
                );
            }
        }
        Ok(())
    }

    /// Checks a name against the rules.
    pub fn check_name(&self, backend: &str, op: Op, name: &str) -> Result<(), BackendError> {
        self.names.check(name).map_err(|m| {
            BackendError::new(ErrorKind::InvalidInput, op, m)
                .backend(backend)
                .name(name)
        })
    }
}

/// Which backend this is, for messages: the scheme and a target with no credentials in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// `aws-sm`, `gcp-sm`, `vault`, `file`, `memory`.
    pub scheme: String,
    /// Region/project/address/path, redacted of credentials.
    pub target: String,
}

impl std::fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.target)
    }
}
