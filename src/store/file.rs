//! The store file's lifecycle: create, load and validate, unlock (the data key), lock for
//! writing, and the atomic write that commits a change.

use super::format::{self, Header, StoreFile, WrappedKey, FORMAT};
use super::info::{secret_info, SecretInfo};
use super::{crypto, fsio, Result, StoreError};
use crate::model::{SecretName, Selector, TypeSet};
use chrono::{DateTime, SubsecRound, Utc};
use secretsync_core::{DataKey, Identity, Recipient, SecretValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The parsed store file.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) path: PathBuf,
    pub(super) file: StoreFile,
}

pub(super) fn now() -> DateTime<Utc> {
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

    pub(super) fn validate(&self) -> Result<()> {
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
            .filter(|(_, e)| e.deleted.is_none())
            .map(|(name, e)| secret_info(name, e))
            .collect()
    }

    /// A secret that is not deleted.
    pub(super) fn live(&self, name: &str) -> Option<&super::format::SecretEntry> {
        self.file.secrets.get(name).filter(|e| e.deleted.is_none())
    }

    /// Names of deleted secrets that `undelete` can still bring back.
    pub fn deleted(&self) -> Vec<String> {
        self.file
            .secrets
            .iter()
            .filter(|(_, e)| e.deleted.is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// One stored secret.
    pub fn secret(&self, name: &SecretName) -> Option<SecretInfo> {
        self.live(name.as_str())
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
            mine: identities.iter().map(|i| i.public_id()).collect(),
        }))
    }

    pub(super) fn render(&self) -> Result<String> {
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

pub(super) fn seal(key: &DataKey, aad: &[u8], pt: &[u8]) -> Result<String> {
    crypto::seal(key, aad, pt).map_err(|_| StoreError::Invalid("encryption failed".into()))
}

/// The store with its data key, and the write lock when opened for writing.
#[derive(Debug)]
pub struct Unlocked {
    pub(super) store: Store,
    pub(super) key: DataKey,
    pub(super) lock: Option<fsio::StoreLock>,
}

impl std::ops::Deref for Unlocked {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Unlocked {
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
