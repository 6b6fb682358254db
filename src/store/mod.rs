//! The canonical store: `secrets.enc.toml`. Names, selectors, descriptions and times are clear
//! text; every value is sealed under the store's data key, which is wrapped once per recipient.
//!
//! [`Store`] is the parsed file (enough for `list` and `check`, no key needed); [`Unlocked`] adds
//! the data key (for `get`) and, when opened for writing, the write lock (for `set` and friends).

pub mod age_key;
pub mod crypto;
mod format;
pub mod merge;
pub use secretsync_core::fsio;

use crate::model::{plan_set, EnvRef, EnvType, SecretName, Selector, TypeSet};
use chrono::{DateTime, SubsecRound, Utc};
use format::{Header, HistoryEntry, SecretEntry, StoreFile, ValueEntry, WrappedKey};
use secretsync_core::{DataKey, Identity, KeyError, Recipient, SecretValue, MAX_VALUE_BYTES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use format::FORMAT;

/// How many previous values each stored value keeps.
pub const HISTORY_LIMIT: usize = 10;

/// What can go wrong with the store. Messages name the file or secret and say what to do; none
/// ever contains a value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no store at {0}: run `secretsync init` first, or point `store` in secretsync.toml at it"
    )]
    Missing(PathBuf),
    #[error("a store already exists at {0}")]
    Exists(PathBuf),
    #[error("cannot access {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error(transparent)]
    Lock(#[from] fsio::LockError),
    #[error("none of your identities can open {path}.\n  it is readable by: {recipients}\n  your identities: {mine}\n  ask someone who can open it to run `secretsync key add <your public key>`")]
    NoIdentity {
        path: PathBuf,
        recipients: String,
        mine: String,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what} in {path} failed authentication: it was edited by hand, moved from another secret, selector or version, or copied from another store. Restore the file from version control")]
    Tampered { path: PathBuf, what: String },
    #[error("the data key unwrapped for {0} does not match this store's key id: the recipient entry was replaced. Restore the file from version control")]
    WrongKey(String),
    #[error("secret {0} has no value {1}")]
    NotFound(String, String),
    #[error("the value of {0} is {1} bytes; the limit is {MAX_VALUE_BYTES} bytes (64 KiB)")]
    TooLarge(String, usize),
    #[error("the value of {0} is empty; give a non-empty value")]
    Empty(String),
    #[error("{0}")]
    Invalid(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A stored value, without its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// What the value applies to.
    pub selector: Selector,
    /// Its version, counting from 1.
    pub version: u64,
    /// When this version was set.
    pub updated: DateTime<Utc>,
    /// How many previous versions are kept.
    pub history: usize,
}

/// A stored secret, without values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its name.
    pub name: SecretName,
    /// The description given with `set --description`.
    pub description: Option<String>,
    /// Its values, one per selector.
    pub values: Vec<ValueInfo>,
}

impl SecretInfo {
    /// The value `env` resolves to, if any.
    pub fn resolve(&self, env: &EnvRef) -> Option<&ValueInfo> {
        let sel = Selector::resolve(self.values.iter().map(|v| &v.selector), env)?;
        self.values.iter().find(|v| &v.selector == sel)
    }

    /// The value holding type `t` (ignoring overrides), if any.
    pub fn for_type(&self, t: EnvType) -> Option<&ValueInfo> {
        self.values
            .iter()
            .find(|v| matches!(v.selector, Selector::Types(s) if s.contains(t)))
    }
}

/// One version of a value, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// When it was set.
    pub updated: DateTime<Utc>,
    /// When a later version replaced it (`None` for the current one).
    pub replaced: Option<DateTime<Utc>>,
}

/// What `set` did, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// The selector the value was stored under.
    pub selector: Selector,
    /// Its new version.
    pub version: u64,
    /// Values that kept only some of their types: `(old, remaining)`.
    pub split: Vec<(Selector, Selector)>,
    /// Values whose types all moved to the new value (kept in its history).
    pub absorbed: Vec<Selector>,
}

/// What `delete` did: each touched value and what is left of it (`None`: removed).
pub type DeleteReport = Vec<(Selector, Option<Selector>)>;

/// The parsed store file.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    file: StoreFile,
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

impl Store {
    /// Creates a new store at `path` with a fresh data key wrapped for `recipients`.
    pub async fn create(path: &Path, recipients: &[&dyn Recipient]) -> Result<Store> {
        if recipients.is_empty() {
            return Err(StoreError::Invalid(
                "a store needs at least one recipient".into(),
            ));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(dir.into(), e))?;
        }
        let _lock = fsio::lock_async(path).await?;
        if path.exists() {
            return Err(StoreError::Exists(path.into()));
        }
        let key = crypto::new_data_key();
        let store_id = crypto::random_hex(16);
        let fp_key = crypto::new_data_key();
        let header = Header {
            format: FORMAT,
            store_id: store_id.clone(),
            cipher: format::CIPHER.into(),
            key_id: crypto::key_id(&key),
            fingerprint_key: seal(
                &key,
                &crypto::fingerprint_key_aad(&store_id),
                fp_key.expose(),
            )?,
            fingerprint_key_id: Some(crypto::fingerprint_key_id(&SecretValue::new(
                fp_key.expose().to_vec(),
            ))),
            retired_fingerprint_keys: Vec::new(),
        };
        let mut file = StoreFile {
            secretsync: header,
            recipients: BTreeMap::new(),
            secrets: BTreeMap::new(),
        };
        for r in recipients {
            let wrapped = r.wrap(&key, &store_id).await?;
            file.recipients.insert(
                r.id(),
                WrappedKey {
                    added: now(),
                    wrapped,
                },
            );
        }
        let store = Store {
            path: path.into(),
            file,
        };
        store.write()?;
        Ok(store)
    }

    /// Reads and validates the store at `path`. Needs no key.
    pub fn load(path: &Path) -> Result<Store> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(path.into()))
            }
            Err(e) => return Err(StoreError::Io(path.into(), e)),
        };
        let file: StoreFile =
            toml::from_str(&text).map_err(|e| StoreError::Parse(path.into(), e.to_string()))?;
        let store = Store {
            path: path.into(),
            file,
        };
        store.validate()?;
        Ok(store)
    }

    fn validate(&self) -> Result<()> {
        let bad = |msg: String| StoreError::Parse(self.path.clone(), msg);
        let h = &self.file.secretsync;
        if h.format != FORMAT {
            return Err(bad(format!(
                "store format {} is not supported by this secretsync (it reads format {FORMAT}); upgrade secretsync",
                h.format
            )));
        }
        if !crypto::is_store_id(&h.store_id) {
            return Err(bad(format!(
                "store_id {:?} is not a store id (32 lowercase hex digits): the header was edited. Restore the file from version control",
                h.store_id
            )));
        }
        if h.cipher != format::CIPHER {
            return Err(bad(format!("unknown cipher {:?}", h.cipher)));
        }
        if self.file.recipients.is_empty() {
            return Err(bad(
                "the store has no recipients, so nobody can open it".into()
            ));
        }
        for (name, entry) in &self.file.secrets {
            name.parse::<SecretName>().map_err(|e| bad(e.0))?;
            let mut seen = TypeSet::of([]);
            for key in entry.values.keys() {
                let sel: Selector = key.parse().map_err(|e: crate::model::InvalidInput| {
                    bad(format!("secret {name}: selector {key:?}: {e}"))
                })?;
                if sel.to_string() != *key {
                    return Err(bad(format!(
                        "secret {name}: selector {key:?} should be written {:?}",
                        sel.to_string()
                    )));
                }
                if let Selector::Types(t) = sel {
                    if !seen.intersection(t).is_empty() {
                        return Err(bad(format!(
                            "secret {name}: type {} has more than one value",
                            seen.intersection(t)
                        )));
                    }
                    seen = TypeSet::of(seen.iter().chain(t.iter()));
                }
            }
        }
        Ok(())
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's id (random, fixed at creation).
    pub fn id(&self) -> &str {
        &self.file.secretsync.store_id
    }

    /// The recipients' ids and when each was added.
    pub fn recipients(&self) -> Vec<(String, DateTime<Utc>)> {
        self.file
            .recipients
            .iter()
            .map(|(id, w)| (id.clone(), w.added))
            .collect()
    }

    /// Every stored secret, sorted by name.
    pub fn secrets(&self) -> Vec<SecretInfo> {
        self.file
            .secrets
            .iter()
            .map(|(name, e)| secret_info(name, e))
            .collect()
    }

    /// One stored secret.
    pub fn secret(&self, name: &SecretName) -> Option<SecretInfo> {
        self.file
            .secrets
            .get(name.as_str())
            .map(|e| secret_info(name.as_str(), e))
    }

    /// Unwraps the data key with the first identity that can; errors say who can open the store.
    pub async fn unlock(self, identities: &[Box<dyn Identity>]) -> Result<Unlocked> {
        let key = self.unwrap_key(identities).await?;
        Ok(Unlocked {
            store: self,
            key,
            lock: None,
        })
    }

    /// Locks the store against other writers, reads it fresh, and unlocks it.
    pub async fn open_for_write(path: &Path, identities: &[Box<dyn Identity>]) -> Result<Unlocked> {
        let lock = fsio::lock_async(path).await?;
        let store = Store::load(path)?;
        let key = store.unwrap_key(identities).await?;
        Ok(Unlocked {
            store,
            key,
            lock: Some(lock),
        })
    }

    async fn unwrap_key(&self, identities: &[Box<dyn Identity>]) -> Result<DataKey> {
        let mut last_err = None;
        for (rid, wk) in &self.file.recipients {
            for id in identities.iter().filter(|i| i.matches(rid)) {
                match id.unwrap(rid, &wk.wrapped, self.id()).await {
                    Ok(key) if crypto::key_id(&key) == self.file.secretsync.key_id => {
                        return Ok(key)
                    }
                    Ok(_) => last_err = Some(StoreError::WrongKey(rid.clone())),
                    Err(e) => last_err = Some(StoreError::Key(e)),
                }
            }
        }
        Err(last_err.unwrap_or_else(|| StoreError::NoIdentity {
            path: self.path.clone(),
            recipients: self
                .file
                .recipients
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            mine: if identities.is_empty() {
                "none found (run `secretsync init`, or set SECRETSYNC_AGE_IDENTITY)".into()
            } else {
                identities
                    .iter()
                    .map(|i| format!("{i:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }))
    }

    fn render(&self) -> Result<String> {
        let body = toml::to_string(&self.file)
            .map_err(|e| StoreError::Invalid(format!("cannot serialize the store: {e}")))?;
        Ok(format!(
            "# secretsync canonical store: names and selectors in clear, every value sealed.\n\
             # Change it with `secretsync set/delete/key`, not by hand.\n\n{body}"
        ))
    }

    fn write(&self) -> Result<()> {
        let text = self.render()?;
        fsio::write_atomic(&self.path, text.as_bytes(), None)
            .map_err(|e| StoreError::Io(self.path.clone(), e))
    }
}

fn secret_info(name: &str, e: &SecretEntry) -> SecretInfo {
    SecretInfo {
        name: name.parse().expect("validated at load"),
        description: e.description.clone(),
        values: e
            .values
            .iter()
            .map(|(sel, v)| ValueInfo {
                selector: sel.parse().expect("validated at load"),
                version: v.version,
                updated: v.updated,
                history: v.history.len(),
            })
            .collect(),
    }
}

fn seal(key: &DataKey, aad: &[u8], pt: &[u8]) -> Result<String> {
    crypto::seal(key, aad, pt).map_err(|_| StoreError::Invalid("encryption failed".into()))
}

/// The store with its data key, and the write lock when opened for writing.
#[derive(Debug)]
pub struct Unlocked {
    store: Store,
    key: DataKey,
    lock: Option<fsio::StoreLock>,
}

impl std::ops::Deref for Unlocked {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// A value in the clear while it is being moved between selectors.
struct Plain {
    version: u64,
    updated: DateTime<Utc>,
    replaced: Option<DateTime<Utc>>,
    value: SecretValue,
}

impl Unlocked {
    fn aad(&self, name: &str, sel: &Selector, version: u64) -> Vec<u8> {
        crypto::value_aad(self.id(), name, &sel.to_string(), version)
    }

    fn open(&self, name: &str, sel: &Selector, version: u64, sealed: &str) -> Result<SecretValue> {
        crypto::open(&self.key, &self.aad(name, sel, version), sealed).map_err(|_| {
            StoreError::Tampered {
                path: self.path.clone(),
                what: format!("the value of {name} for {sel} (version {version})"),
            }
        })
    }

    fn seal(
        &self,
        name: &str,
        sel: &Selector,
        version: u64,
        value: &SecretValue,
    ) -> Result<String> {
        seal(&self.key, &self.aad(name, sel, version), value.expose())
    }

    fn entry(&self, name: &SecretName, sel: &Selector) -> Result<&ValueEntry> {
        self.file
            .secrets
            .get(name.as_str())
            .and_then(|s| s.values.get(&sel.to_string()))
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {sel}")))
    }

    /// The selector `scope` refers to in `name`: for a type, the value that holds the type.
    pub fn selector_for(&self, name: &SecretName, scope: &Scope) -> Result<Selector> {
        let info = self.secret(name).ok_or_else(|| {
            StoreError::NotFound(name.to_string(), "(it is not set at all)".into())
        })?;
        let found = match scope {
            Scope::Type(t) => info.for_type(*t),
            Scope::Env(env) => info.resolve(env),
        };
        found
            .map(|v| v.selector.clone())
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {scope}")))
    }

    /// The current value `scope` resolves to.
    pub fn get(&self, name: &SecretName, scope: &Scope) -> Result<SecretValue> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?;
        self.open(name.as_str(), &sel, e.version, &e.sealed)
    }

    /// The current value stored under exactly `sel`, if there is one.
    pub fn get_exact(&self, name: &SecretName, sel: &Selector) -> Result<Option<SecretValue>> {
        match self.entry(name, sel) {
            Ok(e) => Ok(Some(self.open(name.as_str(), sel, e.version, &e.sealed)?)),
            Err(StoreError::NotFound(..)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The versions kept for the value `scope` resolves to, newest first.
    pub fn history(
        &self,
        name: &SecretName,
        scope: &Scope,
    ) -> Result<(Selector, Vec<VersionInfo>)> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?;
        let mut out = vec![VersionInfo {
            version: e.version,
            updated: e.updated,
            replaced: None,
        }];
        out.extend(e.history.iter().rev().map(|h| VersionInfo {
            version: h.version,
            updated: h.updated,
            replaced: Some(h.replaced),
        }));
        Ok((sel, out))
    }

    /// Decrypts a value and its history (oldest first, then the current one).
    fn plain_entry(&self, name: &str, sel: &Selector, e: &ValueEntry) -> Result<Vec<Plain>> {
        let mut out = Vec::with_capacity(e.history.len() + 1);
        for h in &e.history {
            out.push(Plain {
                version: h.version,
                updated: h.updated,
                replaced: Some(h.replaced),
                value: self.open(name, sel, h.version, &h.sealed)?,
            });
        }
        out.push(Plain {
            version: e.version,
            updated: e.updated,
            replaced: None,
            value: self.open(name, sel, e.version, &e.sealed)?,
        });
        Ok(out)
    }

    /// Seals plain versions (oldest first, the last is current) under `sel`.
    fn seal_entry(
        &self,
        name: &str,
        sel: &Selector,
        mut versions: Vec<Plain>,
    ) -> Result<ValueEntry> {
        let cur = versions
            .pop()
            .ok_or_else(|| StoreError::Invalid("no value".into()))?;
        let skip = versions.len().saturating_sub(HISTORY_LIMIT);
        let history = versions
            .into_iter()
            .skip(skip)
            .map(|p| {
                Ok(HistoryEntry {
                    version: p.version,
                    updated: p.updated,
                    replaced: p.replaced.unwrap_or(cur.updated),
                    sealed: self.seal(name, sel, p.version, &p.value)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ValueEntry {
            version: cur.version,
            updated: cur.updated,
            sealed: self.seal(name, sel, cur.version, &cur.value)?,
            history,
        })
    }

    /// Moves a stored value (with its history) from one selector to another, re-sealing it.
    fn reseal(
        &self,
        name: &str,
        from: &Selector,
        to: &Selector,
        e: &ValueEntry,
    ) -> Result<ValueEntry> {
        let plain = self.plain_entry(name, from, e)?;
        self.seal_entry(name, to, plain)
    }

    /// Sets `name` for `target`, splitting it off any value it shared types with.
    pub fn set(
        &mut self,
        name: &SecretName,
        target: &Selector,
        value: SecretValue,
        description: Option<String>,
    ) -> Result<SetReport> {
        if value.is_empty() {
            return Err(StoreError::Empty(name.to_string()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(name.to_string(), value.len()));
        }
        let n = name.as_str();
        let now = now();
        let mut entry = self.file.secrets.get(n).cloned().unwrap_or_default();
        let existing: Vec<Selector> = entry
            .values
            .keys()
            .map(|k| k.parse().expect("validated"))
            .collect();
        let plan = plan_set(&existing, target);

        for (old, rest) in &plan.shrunk {
            let e = entry
                .values
                .remove(&old.to_string())
                .expect("planned from entry");
            let moved = self.reseal(n, old, rest, &e)?;
            entry.values.insert(rest.to_string(), moved);
        }
        let mut versions = match entry.values.remove(&target.to_string()) {
            Some(e) => self.plain_entry(n, target, &e)?,
            None => Vec::new(),
        };
        for old in &plan.absorbed {
            let e = entry
                .values
                .remove(&old.to_string())
                .expect("planned from entry");
            let mut plain = self.plain_entry(n, old, &e)?;
            if let Some(last) = plain.last_mut() {
                last.replaced = Some(now);
            }
            versions.extend(plain);
        }
        if !plan.absorbed.is_empty() {
            versions.sort_by_key(|p| p.updated);
            for (i, p) in versions.iter_mut().enumerate() {
                p.version = i as u64 + 1;
            }
        }
        if let Some(last) = versions.last_mut() {
            last.replaced.get_or_insert(now);
        }
        let version = versions.last().map_or(1, |p| p.version + 1);
        versions.push(Plain {
            version,
            updated: now,
            replaced: None,
            value,
        });
        let sealed = self.seal_entry(n, target, versions)?;
        entry.values.insert(target.to_string(), sealed);
        if description.is_some() {
            entry.description = description;
        }
        self.store.file.secrets.insert(n.to_string(), entry);
        Ok(SetReport {
            selector: target.clone(),
            version,
            split: plan.shrunk,
            absorbed: plan.absorbed,
        })
    }

    /// Deletes a secret (`scope: None`), a type from the value that holds it, or an override.
    pub fn delete(
        &mut self,
        name: &SecretName,
        scope: Option<&DeleteScope>,
    ) -> Result<DeleteReport> {
        let n = name.as_str();
        let Some(mut entry) = self.file.secrets.get(n).cloned() else {
            return Err(StoreError::NotFound(
                n.into(),
                "(it is not set at all)".into(),
            ));
        };
        let mut report = Vec::new();
        let keys: Vec<Selector> = entry
            .values
            .keys()
            .map(|k| k.parse().expect("validated"))
            .collect();
        for sel in keys {
            let left = match (scope, &sel) {
                (None, _) => None,
                (Some(DeleteScope::Types(del)), Selector::Types(have)) => {
                    if have.intersection(*del).is_empty() {
                        continue;
                    }
                    Some(have.difference(*del))
                        .filter(|r| !r.is_empty())
                        .map(Selector::Types)
                }
                (Some(DeleteScope::Env(e)), Selector::Env(have)) if e == have => None,
                _ => continue,
            };
            let e = entry
                .values
                .remove(&sel.to_string())
                .expect("key from entry");
            if let Some(rest) = &left {
                let moved = self.reseal(n, &sel, rest, &e)?;
                entry.values.insert(rest.to_string(), moved);
            }
            report.push((sel, left));
        }
        if report.is_empty() {
            let what = scope.map_or(String::new(), |s| format!("for {s}"));
            return Err(StoreError::NotFound(n.into(), what));
        }
        if entry.values.is_empty() {
            self.store.file.secrets.remove(n);
        } else {
            self.store.file.secrets.insert(n.into(), entry);
        }
        Ok(report)
    }

    /// Makes an earlier version current again (as a new version). `to: None` takes the one
    /// before the current.
    pub fn rollback(
        &mut self,
        name: &SecretName,
        scope: &Scope,
        to: Option<u64>,
    ) -> Result<(Selector, u64, u64)> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?.clone();
        let n = name.as_str();
        let target = match to {
            Some(v) => e.history.iter().find(|h| h.version == v).ok_or_else(|| {
                let kept: Vec<String> = e.history.iter().map(|h| h.version.to_string()).collect();
                StoreError::NotFound(
                    n.into(),
                    format!(
                        "version {v} for {sel} (kept earlier versions: {})",
                        if kept.is_empty() {
                            "none".into()
                        } else {
                            kept.join(", ")
                        }
                    ),
                )
            })?,
            None => e.history.last().ok_or_else(|| {
                StoreError::NotFound(
                    n.into(),
                    format!("earlier version for {sel}: it has only one"),
                )
            })?,
        };
        let from = target.version;
        let value = self.open(n, &sel, target.version, &target.sealed)?;
        let report = self.set(name, &sel, value, None)?;
        Ok((sel, from, report.version))
    }

    /// Wraps the data key for one more recipient.
    pub async fn add_recipient(&mut self, r: &dyn Recipient) -> Result<()> {
        let id = r.id();
        if self.file.recipients.contains_key(&id) {
            return Err(StoreError::Invalid(format!(
                "{id} is already a recipient of this store"
            )));
        }
        let wrapped = r.wrap(&self.key, self.id()).await?;
        self.store.file.recipients.insert(
            id,
            WrappedKey {
                added: now(),
                wrapped,
            },
        );
        Ok(())
    }

    /// Removes a recipient's wrapped key. Refuses to remove the last one.
    pub fn remove_recipient(&mut self, id: &str) -> Result<()> {
        if !self.file.recipients.contains_key(id) {
            return Err(StoreError::Invalid(format!(
                "{id} is not a recipient of this store (see `secretsync key list`)"
            )));
        }
        if self.file.recipients.len() == 1 {
            return Err(StoreError::Invalid(
                "refusing to remove the last recipient: nobody could open the store. Add another first".into(),
            ));
        }
        self.store.file.recipients.remove(id);
        Ok(())
    }

    /// Replaces the data key: re-seals every value (and its history) and the fingerprint keys,
    /// and wraps the new key for `recipients` (which must be the store's recipients). With
    /// `new_fingerprint_key`, the fingerprint key is replaced too and the old one retired (kept,
    /// sealed, so secrets written under it are still recognised), so that a removed recipient
    /// cannot confirm guesses of future values against the backends' labels.
    pub async fn rotate(
        &mut self,
        recipients: &[Box<dyn Recipient>],
        new_fingerprint_key: bool,
    ) -> Result<usize> {
        let store_id = self.id().to_string();
        let fp_aad = crypto::fingerprint_key_aad(&store_id);
        let retired_aad = crypto::retired_fingerprint_key_aad(&store_id);
        let (mut fp, mut retired) = self.fingerprint_keys()?;
        if new_fingerprint_key {
            let fresh = crypto::new_data_key();
            retired.insert(0, fp);
            fp = SecretValue::new(fresh.expose().to_vec());
        }
        let mut plain = Vec::new();
        for (name, entry) in &self.file.secrets {
            for (sel, e) in &entry.values {
                let sel: Selector = sel.parse().expect("validated");
                plain.push((name.clone(), sel.clone(), self.plain_entry(name, &sel, e)?));
            }
        }
        let new_key = crypto::new_data_key();
        let mut wrapped = BTreeMap::new();
        for r in recipients {
            let w = r.wrap(&new_key, &store_id).await?;
            let added = self
                .file
                .recipients
                .get(&r.id())
                .map_or_else(now, |w| w.added);
            wrapped.insert(r.id(), WrappedKey { added, wrapped: w });
        }
        self.key = new_key;
        let count = plain.len();
        for (name, sel, versions) in plain {
            let e = self.seal_entry(&name, &sel, versions)?;
            let entry = self.store.file.secrets.get_mut(&name).expect("exists");
            entry.values.insert(sel.to_string(), e);
        }
        let retired = retired
            .iter()
            .map(|k| seal(&self.key, &retired_aad, k.expose()))
            .collect::<Result<Vec<_>>>()?;
        let h = &mut self.store.file.secretsync;
        h.key_id = crypto::key_id(&self.key);
        h.fingerprint_key = seal(&self.key, &fp_aad, fp.expose())?;
        h.fingerprint_key_id = Some(crypto::fingerprint_key_id(&fp));
        h.retired_fingerprint_keys = retired;
        self.store.file.recipients = wrapped;
        Ok(count)
    }

    /// Every secret's value for `env` (its override, else its type's), sorted by name.
    pub fn resolve_all(&self, env: &EnvRef) -> Result<Vec<(SecretName, SecretValue)>> {
        let mut out = Vec::new();
        for info in self.secrets() {
            if let Some(v) = info.resolve(env) {
                let e = self.entry(&info.name, &v.selector)?;
                out.push((
                    info.name.clone(),
                    self.open(info.name.as_str(), &v.selector, e.version, &e.sealed)?,
                ));
            }
        }
        Ok(out)
    }

    /// The key of value fingerprints (stable across data-key rotation), checked against the id
    /// the header records, and the retired ones, newest first.
    pub fn fingerprint_keys(&self) -> Result<(SecretValue, Vec<SecretValue>)> {
        let h = &self.file.secretsync;
        let tampered = |what: &str| StoreError::Tampered {
            path: self.path.clone(),
            what: what.into(),
        };
        let current = crypto::open(
            &self.key,
            &crypto::fingerprint_key_aad(self.id()),
            &h.fingerprint_key,
        )
        .map_err(|_| tampered("the fingerprint key"))?;
        if h.fingerprint_key_id
            .as_ref()
            .is_some_and(|id| *id != crypto::fingerprint_key_id(&current))
        {
            return Err(tampered("the fingerprint key id"));
        }
        let aad = crypto::retired_fingerprint_key_aad(self.id());
        let retired = h
            .retired_fingerprint_keys
            .iter()
            .map(|k| {
                crypto::open(&self.key, &aad, k).map_err(|_| tampered("a retired fingerprint key"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((current, retired))
    }

    /// The current fingerprint key.
    pub fn fingerprint_key(&self) -> Result<SecretValue> {
        Ok(self.fingerprint_keys()?.0)
    }

    /// Writes the changes atomically and releases the lock. A store written before fingerprint
    /// key ids existed gets its id recorded.
    pub fn commit(mut self) -> Result<()> {
        if self.lock.is_none() {
            return Err(StoreError::Invalid(
                "store was not opened for writing".into(),
            ));
        }
        if self.file.secretsync.fingerprint_key_id.is_none() {
            let id = crypto::fingerprint_key_id(&self.fingerprint_key()?);
            self.store.file.secretsync.fingerprint_key_id = Some(id);
        }
        self.store.write()
    }
}

/// Which value a read refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The value holding this type (overrides ignored).
    Type(EnvType),
    /// The value this environment resolves to (its override, else its type's).
    Env(EnvRef),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Type(t) => write!(f, "type {t}"),
            Scope::Env(e) => write!(f, "environment {e}"),
        }
    }
}

/// What `delete` removes from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteScope {
    /// These types (the values holding them shrink, or go when left empty).
    Types(TypeSet),
    /// This environment's override.
    Env(crate::model::EnvName),
}

impl std::fmt::Display for DeleteScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeleteScope::Types(t) => write!(f, "{t}"),
            DeleteScope::Env(e) => write!(f, "env:{e}"),
        }
    }
}

#[cfg(test)]
mod tests;
