//! Where a use case runs: the config it finds, the store it names, the identities that open it.

use crate::config::Config;
use crate::declare::{self, Declared};
use crate::store::{Store, Unlocked, FORMAT, FORMAT_V1};
use anyhow::{Context, Result};
use async_trait::async_trait;
use secretsync_core::{DataKey, Identity, KeyError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The folder a command runs in and how it finds its config and identities.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The config file given explicitly (`--config`, `SECRETSYNC_CONFIG`), relative to `cwd`.
    pub config_arg: Option<PathBuf>,
    /// The folder it runs in.
    pub cwd: PathBuf,
    /// An identity file to use instead of the usual ones.
    pub identity_file: Option<PathBuf>,
    /// For a long-running process (the dashboard): the scope keys its KMS identities
    /// unwrapped, kept so that each is unwrapped once (one KMS call, not one per page).
    pub key_cache: Option<Arc<KeyCache>>,
}

/// Scope keys unwrapped by KMS identities, by (recipient, wrapped key, store): a key rotated
/// or re-wrapped is another entry, and a cache dropped (the dashboard stopped) zeroes them.
#[derive(Default)]
pub struct KeyCache(Mutex<HashMap<(String, String, String), DataKey>>);

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "KeyCache({n} keys)")
    }
}

/// An identity whose unwrapped keys are kept in a [`KeyCache`].
#[derive(Debug)]
struct Cached {
    inner: Box<dyn Identity>,
    cache: Arc<KeyCache>,
}

#[async_trait]
impl Identity for Cached {
    fn matches(&self, recipient_id: &str) -> bool {
        self.inner.matches(recipient_id)
    }

    fn public_id(&self) -> String {
        self.inner.public_id()
    }

    async fn unwrap(
        &self,
        recipient_id: &str,
        wrapped: &str,
        store_id: &str,
    ) -> Result<DataKey, KeyError> {
        let k = (recipient_id.into(), wrapped.into(), store_id.into());
        if let Some(key) = self
            .cache
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&k)
        {
            return Ok(key.clone());
        }
        let key = self.inner.unwrap(recipient_id, wrapped, store_id).await?;
        self.cache
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, key.clone());
        Ok(key)
    }
}

impl Workspace {
    /// A workspace in `cwd`, with the config given explicitly or found from there.
    pub fn new(cwd: PathBuf, config_arg: Option<PathBuf>) -> Self {
        Self {
            config_arg,
            cwd,
            identity_file: None,
            key_cache: None,
        }
    }

    /// The workspace of the current process.
    pub fn current(config_arg: Option<PathBuf>) -> Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        Ok(Self::new(cwd, config_arg))
    }

    /// The config path: the explicit one, else found from the current folder.
    pub fn config_path(&self) -> Result<PathBuf> {
        match &self.config_arg {
            Some(p) => Ok(self.cwd.join(p)),
            None => Ok(Config::find(&self.cwd)?),
        }
    }

    /// The loaded config.
    pub fn config(&self) -> Result<Config> {
        Ok(Config::load(&self.config_path()?)?)
    }

    /// The folder relative paths (of `file://` URLs) are taken from: the config's folder when
    /// there is a config, else the current folder.
    pub fn base_dir(&self) -> PathBuf {
        self.config_path()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| self.cwd.clone())
    }

    /// The identities that may open `store`.
    pub async fn identities(&self, store: &Store) -> Result<Vec<Box<dyn Identity>>> {
        let recipients: Vec<String> = store.recipients().into_iter().map(|r| r.id).collect();
        let ids = crate::registry::identities(self.identity_file.as_deref(), &recipients).await?;
        let Some(cache) = &self.key_cache else {
            return Ok(ids);
        };
        // KMS calls cost a round trip (and money); age keys open locally.
        Ok(ids
            .into_iter()
            .map(|i| -> Box<dyn Identity> {
                let id = i.public_id();
                if id.starts_with("aws-kms:") || id.starts_with("gcp-kms:") {
                    Box::new(Cached {
                        inner: i,
                        cache: cache.clone(),
                    })
                } else {
                    i
                }
            })
            .collect())
    }

    /// Loads the store named by the config (no key needed), told the environments' types.
    pub fn store(&self, cfg: &Config) -> Result<Store> {
        let mut store = Store::load(&cfg.store_path)?;
        store.set_env_types(env_types(cfg));
        Ok(store)
    }

    /// Loads and unlocks the store for reading: every scope this user can open.
    pub async fn unlocked(&self, cfg: &Config) -> Result<Unlocked> {
        let store = self.store(cfg)?;
        check_layout(cfg, &store)?;
        let ids = self.identities(&store).await?;
        Ok(store.unlock(&ids).await?)
    }

    /// Locks, loads and unlocks the store for writing. A format-1 store is upgraded to the
    /// scopes of the config first (said on stderr): its every recipient can open it, so any
    /// writer can.
    pub async fn writer(&self, cfg: &Config) -> Result<Unlocked> {
        let mut w = self.open_writer(cfg).await?;
        if w.format() == FORMAT_V1 {
            let scopes = upgrade_in(&mut w, cfg).await?;
            eprintln!(
                "note: {} upgraded to store format {FORMAT} with scopes {}; every recipient can still open every scope: remove developers from production with `secretsync key remove RECIPIENT --scope production`",
                cfg.store_path.display(),
                scopes.join(", ")
            );
        } else {
            check_layout(cfg, &w)?;
        }
        Ok(w)
    }

    /// Locks, loads and unlocks the store for writing, as it is.
    pub(super) async fn open_writer(&self, cfg: &Config) -> Result<Unlocked> {
        let mut locked = Store::load_locked(&cfg.store_path).await?;
        locked.set_env_types(env_types(cfg));
        let ids = self.identities(&locked).await?;
        Ok(locked.unlock(&ids).await?)
    }

    /// The declared secrets.
    pub fn declared(&self, cfg: &Config) -> Result<Vec<Declared>> {
        Ok(declare::declared(cfg)?)
    }
}

/// Each declared environment's type.
fn env_types(cfg: &Config) -> Vec<(String, crate::model::EnvType)> {
    cfg.environments
        .iter()
        .map(|(n, e)| (n.to_string(), e.env_type))
        .collect()
}

/// Refuses a format-2 store whose scopes differ from the config's: values would be sealed for
/// scopes the config does not mean.
fn check_layout(cfg: &Config, store: &Store) -> Result<()> {
    if store.format() != FORMAT_V1 && store.layout() != cfg.scopes {
        anyhow::bail!(
            "the scopes in {} ({}) differ from those of {} ({}): run `secretsync upgrade` to move the store to the config's scopes (it needs a recipient of each scope that changes), or put [scopes] back as they were",
            cfg.path.display(),
            cfg.scopes,
            store.path().display(),
            store.layout()
        );
    }
    Ok(())
}

/// Lays `w` out in the config's scopes (upgrading a format-1 store); returns the scopes.
pub(super) async fn upgrade_in(w: &mut Unlocked, cfg: &Config) -> Result<Vec<String>> {
    let mut recipients = std::collections::BTreeMap::new();
    for r in w.recipients() {
        let wrap = crate::registry::recipient(&r.id).await?;
        recipients.insert(r.id, wrap);
    }
    Ok(w.relayout(&cfg.scopes, &recipients).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A KMS-like identity that counts its unwraps.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    #[async_trait]
    impl Identity for Counting {
        fn matches(&self, _: &str) -> bool {
            true
        }
        fn public_id(&self) -> String {
            "aws-kms:alias/test".into()
        }
        async fn unwrap(&self, _: &str, wrapped: &str, _: &str) -> Result<DataKey, KeyError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(DataKey::from_bytes([wrapped.len() as u8; 32]))
        }
    }

    #[tokio::test]
    async fn a_cached_identity_unwraps_each_key_once() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = Arc::new(KeyCache::default());
        let id = Cached {
            inner: Box::new(Counting(calls.clone())),
            cache: cache.clone(),
        };
        for _ in 0..3 {
            id.unwrap("aws-kms:alias/test", "wrapped-1", "store")
                .await
                .unwrap();
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one KMS call for three opens"
        );
        // Another wrapped key (a rotation) or another store is another call.
        let k = id
            .unwrap("aws-kms:alias/test", "wrapped-22", "store")
            .await
            .unwrap();
        assert_eq!(k.expose()[0], 10);
        id.unwrap("aws-kms:alias/test", "wrapped-1", "other")
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(format!("{cache:?}"), "KeyCache(3 keys)", "no key in Debug");
    }
}
