//! `file://PATH`: secrets in one local JSON file (mode 0600), written atomically under a lock.
//! For local runs, caches and tests. PATH is the JSON file when it ends in `.json`; otherwise
//! it is a folder holding `secrets.json`.

use crate::backend::SecretBackend;
use crate::error::{BackendError, ErrorKind, Op, Result};
use crate::fsio;
use crate::types::*;
use crate::value::SecretValue;
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

#[derive(Serialize, Deserialize)]
struct FileData {
    format: u32,
    secrets: BTreeMap<String, FileSecret>,
}

#[derive(Serialize, Deserialize)]
struct FileSecret {
    /// The current version id: the write's token when it had one, else a counter.
    version: String,
    /// Writes so far (numbers the versions written without a token).
    seq: u64,
    updated: u64,
    #[serde(default)]
    labels: Labels,
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl FileSecret {
    fn meta(&self, name: &str) -> SecretMeta {
        SecretMeta {
            name: name.into(),
            labels: self.labels.clone(),
            version: Some(self.version.clone()),
            updated: Some(UNIX_EPOCH + Duration::from_secs(self.updated)),
        }
    }
}

/// The file backend.
#[derive(Debug, Clone)]
pub struct FileBackend {
    path: PathBuf,
}

impl FileBackend {
    /// A backend at `path`: the JSON file itself when it ends in `.json`, else a folder that
    /// holds `secrets.json`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path: PathBuf = path.into();
        let is_file = path.extension().is_some_and(|e| e == "json") && !path.is_dir();
        Self {
            path: if is_file {
                path
            } else {
                path.join("secrets.json")
            },
        }
    }

    /// The JSON file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, kind: ErrorKind, op: Op, msg: impl Into<String>) -> BackendError {
        BackendError::new(kind, op, msg)
    }

    fn read(&self, op: Op) -> Result<FileData> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                serde_json::from_slice(&bytes).map_err(|e| {
                    self.err(
                        ErrorKind::Config,
                        op,
                        format!(
                            "{} is not a secretsync file backend: {e}",
                            self.path.display()
                        ),
                    )
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(FileData {
                format: 1,
                secrets: BTreeMap::new(),
            }),
            Err(e) => Err(self
                .err(
                    ErrorKind::PermissionDenied,
                    op,
                    format!("cannot read {}", self.path.display()),
                )
                .source(e)),
        }
    }

    /// Runs `f` on the file's data under the write lock, and writes the result atomically.
    async fn update<T>(&self, op: Op, f: impl FnOnce(&mut FileData) -> Result<T>) -> Result<T> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                self.err(
                    ErrorKind::Config,
                    op,
                    format!("cannot create {}", dir.display()),
                )
                .source(e)
            })?;
        }
        let _lock = fsio::lock_async(&self.path).await.map_err(|e| {
            let kind = match e {
                fsio::LockError::Busy(..) => ErrorKind::Transient,
                _ => ErrorKind::Config,
            };
            self.err(kind, op, e.to_string())
        })?;
        let mut data = self.read(op)?;
        let out = f(&mut data)?;
        let text = Zeroizing::new(serde_json::to_vec_pretty(&data).expect("serializable"));
        fsio::write_atomic(&self.path, &text, Some(0o600)).map_err(|e| {
            self.err(
                ErrorKind::PermissionDenied,
                op,
                format!("cannot write {}", self.path.display()),
            )
            .source(e)
        })?;
        Ok(out)
    }

    fn decode(&self, name: &str, s: &FileSecret) -> Result<SecretValue> {
        B64.decode(&s.value).map(SecretValue::new).map_err(|_| {
            self.err(
                ErrorKind::Config,
                Op::Get,
                "a stored value is not valid base64",
            )
            .name(name)
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl SecretBackend for FileBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "file".into(),
            target: self.path.display().to_string(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            if_version: true,
            soft_delete: false,
            free_reads: true,
            max_batch_get: 1000,
            ..Capabilities::baseline()
        }
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        let data = self.read(Op::List)?;
        let size = self.capabilities().max_page_size;
        let mut items: Vec<SecretMeta> = data
            .secrets
            .range(page.clone().unwrap_or_else(|| prefix.to_string())..)
            .filter(|(n, _)| Some(*n) != page.as_ref())
            .take_while(|(n, _)| n.starts_with(prefix))
            .take(size + 1)
            .map(|(n, s)| s.meta(n))
            .collect();
        let next = if items.len() > size {
            items.pop();
            items.last().map(|m| m.name.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        Ok(self.read(Op::Head)?.secrets.get(name).map(|s| s.meta(name)))
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        // One read of the file for the whole batch.
        let data = self.read(Op::BatchGet)?;
        names
            .iter()
            .map(|name| match data.secrets.get(name) {
                None => Ok(None),
                Some(s) => Ok(Some(Secret {
                    name: name.clone(),
                    value: self.decode(name, s)?,
                    version: Some(s.version.clone()),
                })),
            })
            .collect()
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        let data = self.read(Op::Get)?;
        match data.secrets.get(name) {
            None => Ok(None),
            Some(s) => Ok(Some(Secret {
                name: name.into(),
                value: self.decode(name, s)?,
                version: Some(s.version.clone()),
            })),
        }
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        let err = |kind, msg: &str| Err(self.err(kind, Op::Put, msg).name(name));
        self.update(Op::Put, |data| {
            let encoded = Zeroizing::new(B64.encode(value.expose()));
            match data.secrets.get_mut(name) {
                Some(s) if opts.mode == PutMode::CreateOnly => {
                    // A retried create (same token, same value) succeeds again, as on AWS.
                    if s.seq == 1
                        && opts.token.is_some()
                        && s.token == opts.token
                        && s.value == *encoded
                    {
                        Ok(PutOutcome {
                            created: true,
                            version: Some(s.version.clone()),
                        })
                    } else {
                        err(ErrorKind::AlreadyExists, "the secret already exists")
                    }
                }
                Some(s) => {
                    // A repeated write (same token) is answered before any condition: it landed.
                    let repeat = opts.token.is_some() && s.token == opts.token;
                    if let (PutMode::IfVersion(v), false) = (&opts.mode, repeat) {
                        if &s.version != v {
                            return err(
                                ErrorKind::Conflict,
                                "the current version is not the one expected",
                            );
                        }
                    }
                    if repeat && s.value != *encoded {
                        return err(
                            ErrorKind::Conflict,
                            "the idempotency token was already used with another value",
                        );
                    }
                    if !repeat {
                        s.seq += 1;
                        s.version = opts.token.clone().unwrap_or_else(|| s.seq.to_string());
                        s.value = encoded.to_string();
                        s.updated = now_secs();
                        s.token = opts.token.clone();
                    }
                    s.labels.extend(opts.labels.clone());
                    Ok(PutOutcome {
                        created: false,
                        version: Some(s.version.clone()),
                    })
                }
                None if matches!(opts.mode, PutMode::IfVersion(_)) => err(
                    ErrorKind::NotFound,
                    "no such secret to update conditionally",
                ),
                None => {
                    let version = opts.token.clone().unwrap_or_else(|| "1".into());
                    data.secrets.insert(
                        name.into(),
                        FileSecret {
                            version: version.clone(),
                            seq: 1,
                            updated: now_secs(),
                            labels: opts.labels.clone(),
                            value: encoded.to_string(),
                            token: opts.token.clone(),
                        },
                    );
                    Ok(PutOutcome {
                        created: true,
                        version: Some(version),
                    })
                }
            }
        })
        .await
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        if let DeleteMode::Soft { .. } = opts.mode {
            return Err(self
                .err(
                    ErrorKind::Unsupported,
                    Op::Delete,
                    "the file backend has no soft delete",
                )
                .name(name));
        }
        self.update(Op::Delete, |data| match data.secrets.remove(name) {
            Some(_) => Ok(()),
            None => Err(self
                .err(ErrorKind::NotFound, Op::Delete, "no such secret")
                .name(name)),
        })
        .await
    }
}
