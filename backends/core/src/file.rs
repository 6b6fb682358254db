//! `file://PATH`: secrets in one local JSON file (mode 0600), written atomically under a lock.
//! For local runs, caches and tests. PATH is the JSON file when it ends in `.json`; otherwise
//! it is a folder holding `secrets.json`.
//!
//! Linear, not quadratic: the parsed file is kept while its size, time and inode stay the same
//! (so a command parses it once, and an edit by hand is still seen), and concurrent writes are
//! committed together: a writer task applies every write queued since its last rewrite and
//! rewrites the file once, atomically and under the lock, then answers each of them.

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
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroizing;

#[derive(Clone, Serialize, Deserialize)]
struct FileData {
    format: u32,
    secrets: BTreeMap<String, FileSecret>,
}

#[derive(Clone, Serialize, Deserialize)]
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
            placement_drift: None,
        }
    }
}

/// What tells one version of the file from another without reading it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    ino: u64,
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let ino = 0;
        Ok(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            ino,
        })
    }
}

/// A queued write. Given the data (`None`: the rewrite failed before any write was applied), it
/// makes its change and returns what answers its caller once the file is written, or not.
type Job = Box<dyn FnOnce(Option<&mut FileData>) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Option<&Failure>) + Send>;

/// Why a rewrite failed, for every write it carried.
struct Failure {
    kind: ErrorKind,
    message: String,
}

#[derive(Default)]
struct Shared {
    /// The last parsed file and its stamp.
    cache: Mutex<Option<(Stamp, Arc<FileData>)>>,
    /// Writes waiting for the next rewrite, and whether a writer task is running.
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    writing: bool,
}

/// The file backend.
#[derive(Clone)]
pub struct FileBackend {
    path: PathBuf,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBackend")
            .field("path", &self.path)
            .finish()
    }
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
            shared: Arc::default(),
        }
    }

    /// The JSON file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, kind: ErrorKind, op: Op, msg: impl Into<String>) -> BackendError {
        BackendError::new(kind, op, msg)
    }

    /// The file's data: the parsed copy while the file is unchanged, else read and parsed again.
    fn read(&self, op: Op) -> Result<Arc<FileData>> {
        let stamp = match Stamp::of(&self.path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Arc::new(FileData {
                    format: 1,
                    secrets: BTreeMap::new(),
                }))
            }
            Err(e) => return Err(self.cannot_read(op, e)),
        };
        let mut cache = self.shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, data)) = cache.as_ref() {
            if *s == stamp {
                return Ok(data.clone());
            }
        }
        let bytes = Zeroizing::new(std::fs::read(&self.path).map_err(|e| self.cannot_read(op, e))?);
        let data: Arc<FileData> = Arc::new(serde_json::from_slice(&bytes).map_err(|e| {
            self.err(
                ErrorKind::Config,
                op,
                format!(
                    "{} is not a secretsync file backend: {e}",
                    self.path.display()
                ),
            )
        })?);
        // Only a file that did not change while it was read is worth keeping.
        if Stamp::of(&self.path).ok() == Some(stamp) {
            *cache = Some((stamp, data.clone()));
        }
        Ok(data)
    }

    fn cannot_read(&self, op: Op, e: std::io::Error) -> BackendError {
        self.err(
            ErrorKind::PermissionDenied,
            op,
            format!("cannot read {}", self.path.display()),
        )
        .source(e)
    }

    /// Runs `f` on the file's data with every other write queued meanwhile, rewriting the file
    /// once for all of them, atomically and under the lock. `f`'s error leaves the data as it
    /// was (it checks before it changes anything); a failed rewrite fails every write in it.
    async fn update<T: Send + 'static>(
        &self,
        op: Op,
        f: impl FnOnce(&mut FileData) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |data| {
            let out = data.map(f);
            Box::new(move |failed: Option<&Failure>| {
                let out = match (out, failed) {
                    // A write's own refusal stands: it had nothing to write.
                    (Some(Err(e)), _) => Err(e),
                    (_, Some(f)) => Err(BackendError::new(f.kind, op, f.message.clone())),
                    (Some(out), None) => out,
                    (None, None) => Err(BackendError::new(
                        ErrorKind::Transient,
                        op,
                        "the write was not applied; retry",
                    )),
                };
                let _ = tx.send(out);
            })
        });
        let start_writer = {
            let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.jobs.push(job);
            !std::mem::replace(&mut q.writing, true)
        };
        if start_writer {
            let this = self.clone();
            tokio::spawn(async move { this.write_queued().await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(self.err(ErrorKind::Transient, op, "the write was dropped; retry"))
        })
    }

    /// The writer task: rewrites the file for every write queued since its last rewrite, until
    /// none is left. While it writes (on a blocking thread), the next writes queue up, so the
    /// batches grow with the load.
    async fn write_queued(&self) {
        loop {
            let jobs = {
                let mut q = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                if q.jobs.is_empty() {
                    q.writing = false;
                    return;
                }
                std::mem::take(&mut q.jobs)
            };
            let this = self.clone();
            // A panic drops the jobs' senders: their callers get a transient error.
            let _ = tokio::task::spawn_blocking(move || this.commit(jobs)).await;
        }
    }

    /// Applies `jobs` and rewrites the file once, under the lock; answers each job.
    fn commit(&self, jobs: Vec<Job>) {
        match self.rewrite(jobs) {
            Ok(answers) => answers.into_iter().for_each(|a| a(None)),
            Err((answers, failure)) => answers.into_iter().for_each(|a| a(Some(&failure))),
        }
    }

    /// The rewrite: the answers of `jobs`, and why it failed if it did (jobs that were never
    /// applied are answered with the failure alone).
    fn rewrite(&self, jobs: Vec<Job>) -> std::result::Result<Vec<Answer>, (Vec<Answer>, Failure)> {
        let not_applied = |jobs: Vec<Job>, kind, message: String| {
            let answers = jobs.into_iter().map(|j| j(None)).collect();
            Err((answers, Failure { kind, message }))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                let msg = format!("cannot create {}: {e}", dir.display());
                return not_applied(jobs, ErrorKind::Config, msg);
            }
        }
        let _lock = match fsio::lock(&self.path) {
            Ok(l) => l,
            Err(e) => {
                // Another writer held the file for the whole wait: worth a retry.
                let kind = match e {
                    fsio::LockError::Busy(..) => ErrorKind::Transient,
                    _ => ErrorKind::Config,
                };
                return not_applied(jobs, kind, e.to_string());
            }
        };
        let mut data = match self.read(Op::Put) {
            Ok(d) => {
                // The cache's copy is about to change: take it rather than clone it.
                drop(
                    self.shared
                        .cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take(),
                );
                Arc::unwrap_or_clone(d)
            }
            Err(e) => {
                let message = match std::error::Error::source(&e) {
                    Some(cause) => format!("{}: {cause}", e.message),
                    None => e.message.clone(),
                };
                return not_applied(jobs, e.kind, message);
            }
        };
        let answers: Vec<Answer> = jobs.into_iter().map(|j| j(Some(&mut data))).collect();
        let text = Zeroizing::new(serde_json::to_vec_pretty(&data).expect("serializable"));
        let mut cache = self.shared.cache.lock().unwrap_or_else(|e| e.into_inner());
        match fsio::write_atomic(&self.path, &text, Some(0o600)) {
            Ok(()) => {
                *cache = Stamp::of(&self.path).ok().map(|s| (s, Arc::new(data)));
                Ok(answers)
            }
            Err(e) => {
                *cache = None;
                let message = format!("cannot write {}: {e}", self.path.display());
                Err((
                    answers,
                    Failure {
                        kind: ErrorKind::PermissionDenied,
                        message,
                    },
                ))
            }
        }
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
            batched_writes: true,
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
        let name = name.to_string();
        let encoded = Zeroizing::new(B64.encode(value.expose()));
        let opts = opts.clone();
        self.update(Op::Put, move |data| {
            let err = |kind, msg: &str| Err(BackendError::new(kind, Op::Put, msg).name(&name));
            match data.secrets.get_mut(&name) {
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
                        name.clone(),
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
        let name = name.to_string();
        self.update(Op::Delete, move |data| match data.secrets.remove(&name) {
            Some(_) => Ok(()),
            None => Err(
                BackendError::new(ErrorKind::NotFound, Op::Delete, "no such secret").name(&name),
            ),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rewrite that fails before any write is applied answers every write with that failure,
    /// never with what the write would have said of data it never saw.
    #[tokio::test]
    async fn a_failed_rewrite_answers_each_write_with_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let b = FileBackend::new(dir.path());
        b.put("A", &"a".into(), &PutOptions::default())
            .await
            .unwrap();
        std::fs::write(b.path(), "not json").unwrap();
        let (v, put_opts, del_opts) = ("b".into(), PutOptions::default(), DeleteOptions::default());
        let (put, del) = tokio::join!(b.put("B", &v, &put_opts), b.delete("A", &del_opts));
        for e in [put.unwrap_err(), del.unwrap_err()] {
            assert_eq!(e.kind, ErrorKind::Config, "{e}");
            assert!(
                e.message.contains("is not a secretsync file backend"),
                "{e}"
            );
        }
        // A write's own refusal still stands when the rewrite works.
        std::fs::remove_file(b.path()).unwrap();
        let e = b.delete("A", &DeleteOptions::default()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
