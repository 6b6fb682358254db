//! The store file's lifecycle: create, load and validate, unlock (the data key), lock for
//! writing, and the atomic write that commits a change.

use super::format::{self, Header, ScopeEntry, StoreFile, WrappedKey, FORMAT, FORMAT_V1};
use super::info::{secret_info, SecretInfo, VersionInfo};
use super::{crypto, fsio, Result, StoreError};
use crate::model::{EnvType, ScopeLayout, SecretName, Selector, TypeSet};
use chrono::{DateTime, SubsecRound, Utc};
use secretsync_core::{DataKey, Identity, Recipient, SecretValue};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The parsed store file.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) path: PathBuf,
    pub(super) file: StoreFile,
    /// The type of each declared environment (from the config), for the scope of an override.
    pub(super) env_types: BTreeMap<String, EnvType>,
}

pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A fingerprint key (`retired`: a rotated-out one) sealed for scope `scope`.
pub(super) fn seal_fingerprint_key(
    store_id: &str,
    scope: &str,
    public: &str,
    key: &SecretValue,
    retired: bool,
) -> Result<String> {
    crypto::seal_to(
        public,
        &crypto::scope_fingerprint_key_aad(store_id, scope, retired),
        key.expose(),
    )
    .map_err(|_| StoreError::Invalid("encryption failed".into()))
}

/// A fresh scope: a new key pair and fingerprint key, the private key wrapped for `recipients`.
pub(super) async fn new_scope(
    store_id: &str,
    name: &str,
    types: TypeSet,
    recipients: &[&dyn Recipient],
    retired: &[SecretValue],
) -> Result<(ScopeEntry, DataKey)> {
    let key = crypto::new_data_key();
    let public = crypto::scope_public_key(&key);
    let fp = SecretValue::new(crypto::new_data_key().expose().to_vec());
    let seal_fp =
        |k: &SecretValue, retired: bool| seal_fingerprint_key(store_id, name, &public, k, retired);
    let mut entry = ScopeEntry {
        types: types.iter().map(|t| t.as_str().to_string()).collect(),
        public_key: public.clone(),
        fingerprint_key: seal_fp(&fp, false)?,
        fingerprint_key_id: Some(crypto::fingerprint_key_id(&fp)),
        retired_fingerprint_keys: retired
            .iter()
            .map(|k| seal_fp(k, true))
            .collect::<Result<_>>()?,
        recipients: BTreeMap::new(),
    };
    let context = crypto::scope_wrap_context(store_id, name);
    for r in recipients {
        let wrapped = r.wrap(&key, &context).await?;
        entry.recipients.insert(
            r.id(),
            WrappedKey {
                added: now(),
                wrapped,
            },
        );
    }
    Ok((entry, key))
}

impl Store {
    /// Creates a new store at `path` with one key pair per scope of `layout`, each wrapped for
    /// every one of `recipients`.
    pub async fn create(
        path: &Path,
        layout: &ScopeLayout,
        recipients: &[&dyn Recipient],
    ) -> Result<Store> {
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
        let store_id = crypto::random_hex(16);
        let mut scopes = BTreeMap::new();
        for (name, types) in layout.iter() {
            let (entry, _) = new_scope(&store_id, name, types, recipients, &[]).await?;
            scopes.insert(name.to_string(), entry);
        }
        let store = Store {
            path: path.into(),
            file: StoreFile {
                secretsync: Header {
                    format: FORMAT,
                    store_id,
                    cipher: format::CIPHER.into(),
                },
                scopes,
                secrets: BTreeMap::new(),
            },
            env_types: BTreeMap::new(),
        };
        store.write()?;
        Ok(store)
    }

    /// Reads and validates the store at `path` (either format). Needs no key.
    pub fn load(path: &Path) -> Result<Store> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing(path.into()))
            }
            Err(e) => return Err(StoreError::Io(path.into(), e)),
        };
        Store::parse(path, &text)
    }

    /// Parses and validates store text (either format); `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Store> {
        let file = super::codec::parse(text).map_err(|e| StoreError::Parse(path.into(), e))?;
        let store = Store {
            path: path.into(),
            file,
            env_types: BTreeMap::new(),
        };
        store.validate()?;
        Ok(store)
    }

    /// The file's text as this build writes it (format 1 stays format 1).
    pub fn to_text(&self) -> Result<String> {
        self.render()
    }

    /// Tells the store each declared environment's type, so it knows an override's scope.
    pub fn set_env_types(&mut self, types: impl IntoIterator<Item = (String, EnvType)>) {
        self.env_types = types.into_iter().collect();
    }

    /// The store's format (1: before scopes, read only until upgraded; 2: current).
    pub fn format(&self) -> u32 {
        self.file.secretsync.format
    }

    /// The store's scopes and the types each holds.
    pub fn layout(&self) -> ScopeLayout {
        ScopeLayout::new(
            self.file
                .scopes
                .iter()
                .map(|(n, s)| {
                    let types = s.types.iter().filter_map(|t| t.parse::<EnvType>().ok());
                    (n.clone(), TypeSet::of(types))
                })
                .collect(),
        )
        .expect("validated at load")
    }

    /// The scope an environment type's values are sealed for.
    pub fn scope_of(&self, t: EnvType) -> String {
        self.layout().scope_of(t).to_string()
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's id (random, fixed at creation).
    pub fn id(&self) -> &str {
        &self.file.secretsync.store_id
    }

    /// Every recipient: its id, when it was first added, and the scopes it can open.
    pub fn recipients(&self) -> Vec<RecipientInfo> {
        let mut out: BTreeMap<&str, RecipientInfo> = BTreeMap::new();
        for (scope, entry) in &self.file.scopes {
            for (id, w) in &entry.recipients {
                let r = out.entry(id).or_insert_with(|| RecipientInfo {
                    id: id.clone(),
                    added: w.added,
                    scopes: Vec::new(),
                });
                r.added = r.added.min(w.added);
                r.scopes.push(scope.clone());
            }
        }
        out.into_values().collect()
    }

    /// The recipients of one scope.
    pub fn scope_recipients(&self, scope: &str) -> Vec<String> {
        self.file
            .scopes
            .get(scope)
            .map(|s| s.recipients.keys().cloned().collect())
            .unwrap_or_default()
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

    /// The names of every stored secret, sorted (no per-secret detail built).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.file
            .secrets
            .iter()
            .filter(|(_, e)| e.deleted.is_none())
            .map(|(n, _)| n.as_str())
    }

    /// A secret that is not deleted.
    pub(super) fn live(&self, name: &str) -> Option<&super::format::SecretEntry> {
        self.file.secrets.get(name).filter(|e| e.deleted.is_none())
    }

    /// The versions kept of `name`'s value stored under exactly `sel`, newest first (no key
    /// needed).
    pub fn versions(&self, name: &SecretName, sel: &Selector) -> Option<Vec<VersionInfo>> {
        let e = self.live(name.as_str())?.values.get(&sel.to_string())?;
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
        Some(out)
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

    /// Opens every scope one of `identities` can open. A format-1 store needs its one key, as
    /// before; a format-2 store opens with none (its user can still set values: sealing needs
    /// only a scope's public key), and reading a scope that did not open says who can.
    pub async fn unlock(self, identities: &[Box<dyn Identity>]) -> Result<Unlocked> {
        let (keys, failures) = self.unwrap_keys(identities).await;
        if self.format() == FORMAT_V1 && keys.is_empty() {
            return Err(failures
                .into_values()
                .next()
                .unwrap_or_else(|| self.no_identity(format::LEGACY_SCOPE, identities)));
        }
        let mine = identities.iter().map(|i| i.public_id()).collect();
        Ok(Unlocked {
            store: self,
            keys,
            failures: failures
                .into_iter()
                .map(|(s, e)| (s, e.to_string()))
                .collect(),
            mine,
            lock: None,
            seal_cache: Default::default(),
        })
    }

    /// Locks the store against other writers, reads it fresh, and unlocks it.
    pub async fn open_for_write(
        path: &Path,
        env_types: impl IntoIterator<Item = (String, EnvType)>,
        identities: &[Box<dyn Identity>],
    ) -> Result<Unlocked> {
        let mut locked = Store::load_locked(path).await?;
        locked.set_env_types(env_types);
        locked.unlock(identities).await
    }

    /// Locks the store against other writers and reads it fresh, once: the caller learns its
    /// recipients from it before unlocking it for writing (a 100,000-secret store is 30 MB).
    pub async fn load_locked(path: &Path) -> Result<Locked> {
        let lock = fsio::lock_async(path).await?;
        let store = Store::load(path)?;
        Ok(Locked { store, lock })
    }

    fn no_identity(&self, scope: &str, identities: &[Box<dyn Identity>]) -> StoreError {
        StoreError::NoIdentity {
            path: self.path.clone(),
            recipients: self.scope_recipients(scope).join(", "),
            mine: identities.iter().map(|i| i.public_id()).collect(),
        }
    }

    /// Each scope's private key (format 1: the data key) that an identity could unwrap, and
    /// for the others why not when an identity tried.
    async fn unwrap_keys(
        &self,
        identities: &[Box<dyn Identity>],
    ) -> (BTreeMap<String, DataKey>, BTreeMap<String, StoreError>) {
        let v1 = self.format() == FORMAT_V1;
        let mut keys = BTreeMap::new();
        let mut failures = BTreeMap::new();
        'scopes: for (name, scope) in &self.file.scopes {
            let context = if v1 {
                self.id().to_string()
            } else {
                crypto::scope_wrap_context(self.id(), name)
            };
            for (rid, wk) in &scope.recipients {
                for id in identities.iter().filter(|i| i.matches(rid)) {
                    match id.unwrap(rid, &wk.wrapped, &context).await {
                        Ok(key) => {
                            let check = if v1 {
                                crypto::key_id(&key)
                            } else {
                                crypto::scope_public_key(&key)
                            };
                            if check == scope.public_key {
                                keys.insert(name.clone(), key);
                                failures.remove(name);
                                continue 'scopes;
                            }
                            failures.insert(name.clone(), StoreError::WrongKey(rid.clone()));
                        }
                        Err(e) => {
                            failures.insert(name.clone(), StoreError::Key(e));
                        }
                    }
                }
            }
        }
        (keys, failures)
    }

    pub(super) fn render(&self) -> Result<String> {
        super::codec::render(&self.file).map_err(StoreError::Invalid)
    }

    pub(super) fn write(&self) -> Result<()> {
        let text = self.render()?;
        fsio::write_atomic(&self.path, text.as_bytes(), None)
            .map_err(|e| StoreError::Io(self.path.clone(), e))
    }
}

/// The store read under the write lock, not unlocked yet.
#[derive(Debug)]
pub struct Locked {
    store: Store,
    lock: fsio::StoreLock,
}

impl std::ops::Deref for Locked {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Locked {
    /// Tells the store each declared environment's type (see [`Store::set_env_types`]).
    pub fn set_env_types(&mut self, types: impl IntoIterator<Item = (String, EnvType)>) {
        self.store.set_env_types(types);
    }

    /// Opens the scopes `identities` can open, keeping the lock until [`Unlocked::commit`].
    pub async fn unlock(self, identities: &[Box<dyn Identity>]) -> Result<Unlocked> {
        let mut u = self.store.unlock(identities).await?;
        u.lock = Some(self.lock);
        Ok(u)
    }
}

impl Drop for Store {
    /// A large store's secrets are freed on a thread of their own: at 100,000 secrets freeing
    /// their million allocations took a tenth of `check`, and a command that is done exits
    /// without waiting for it.
    fn drop(&mut self) {
        if self.file.secrets.len() >= 10_000 {
            let secrets = std::mem::take(&mut self.file.secrets);
            let _ = std::thread::Builder::new().spawn(move || drop(secrets));
        }
    }
}

/// A recipient and the scopes it can open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientInfo {
    /// Its id (`age1…`, `aws-kms:…`, `gcp-kms:…`).
    pub id: String,
    /// When it was first added.
    pub added: DateTime<Utc>,
    /// The scopes it can open, sorted.
    pub scopes: Vec<String>,
}

/// The store with the scope keys this user could open, and the write lock when opened for
/// writing.
#[derive(Debug)]
pub struct Unlocked {
    pub(super) store: Store,
    /// Private keys of the scopes opened (format 1: the data key, under [`format::LEGACY_SCOPE`]).
    pub(super) keys: BTreeMap<String, DataKey>,
    /// Why an identity that tried a scope could not open it.
    pub(super) failures: BTreeMap<String, String>,
    /// The public ids of this user's identities.
    pub(super) mine: Vec<String>,
    pub(super) lock: Option<fsio::StoreLock>,
    /// Key agreements of this session, shared by the values it seals and opens.
    pub(super) seal_cache: crypto::SealCache,
}

impl std::ops::Deref for Unlocked {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl Unlocked {
    /// The scopes this user can open.
    pub fn opened(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// True when this user can open `scope`.
    pub fn can_open(&self, scope: &str) -> bool {
        self.keys.contains_key(scope)
    }

    /// Ok when this user can open the values of type `t`; else an error naming their scope and
    /// who can open it.
    pub fn check_open(&self, t: EnvType) -> Result<()> {
        let scope = if self.format() == FORMAT_V1 {
            format::LEGACY_SCOPE.to_string()
        } else {
            self.scope_of(t)
        };
        self.key(&scope).map(|_| ())
    }

    /// The private key of `scope`, or an error naming the scope and who can open it.
    pub(super) fn key(&self, scope: &str) -> Result<&DataKey> {
        self.keys.get(scope).ok_or_else(|| StoreError::ScopeLocked {
            path: self.path.clone(),
            scope: scope.to_string(),
            recipients: self.scope_recipients(scope).join(", "),
            mine: self.mine.clone(),
            cause: self.failures.get(scope).cloned(),
        })
    }

    /// Writes the changes atomically and releases the lock.
    pub fn commit(self) -> Result<()> {
        if self.lock.is_none() {
            return Err(StoreError::Invalid(
                "store was not opened for writing".into(),
            ));
        }
        if self.format() == FORMAT_V1 {
            return Err(StoreError::Invalid(
                "a format-1 store must be upgraded before it is written (`secretsync upgrade`)"
                    .into(),
            ));
        }
        self.store.validate()?;
        self.store.write()
    }
}
