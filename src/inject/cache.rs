//! The local cache: an environment of type `local` replicated into a file backend (mode 0600)
//! under the user's data dir, so `run --env local` works offline. It records the digest of the
//! store file it came from, so a changed store is noticed and the cache refreshed.

use crate::model::{EnvRef, EnvType};
use crate::store::Unlocked;
use crate::sync::{self, Fingerprinter, PlanOptions};
use anyhow::{bail, Context, Result};
use secretsync_core::file::FileBackend;
use secretsync_core::{get_all, list_all, SecretBackend, SecretValue};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Environment variable overriding the cache folder.
pub const CACHE_DIR_ENV: &str = "SECRETSYNC_CACHE_DIR";

/// One app's cache.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stamp {
    store_sha256: String,
    pulled_at: chrono::DateTime<chrono::Utc>,
}

/// The digest of the store file, to tell whether a cache is current.
pub fn store_digest(store: &Path) -> Result<String> {
    let bytes = std::fs::read(store).with_context(|| format!("cannot read {}", store.display()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Only environments of type `local` are cached on developers' machines.
pub fn check_local(env: &EnvRef) -> Result<()> {
    if env.env_type() != EnvType::Local {
        bail!("only environments of type local are cached on this machine; {env} is not");
    }
    Ok(())
}

impl Cache {
    /// The cache of the store `store_id` of app `app`.
    pub fn new(app: &str, store_id: &str) -> Result<Cache> {
        let base = match std::env::var_os(CACHE_DIR_ENV) {
            Some(d) => PathBuf::from(d),
            None => dirs::data_local_dir()
                .context("no data folder for the local cache; set SECRETSYNC_CACHE_DIR")?
                .join("secretsync"),
        };
        let safe: String = app
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Cache {
            dir: base.join(format!("{safe}-{store_id}")),
        })
    }

    fn backend(&self, env: &EnvRef) -> FileBackend {
        FileBackend::new(self.dir.join(format!("{}.json", env.name())))
    }

    fn stamp_path(&self, env: &EnvRef) -> PathBuf {
        self.dir.join(format!("{}.stamp.json", env.name()))
    }

    /// Where the cache of `env` lives.
    pub fn path(&self, env: &EnvRef) -> PathBuf {
        self.backend(env).path().to_path_buf()
    }

    /// Replicates `env`'s values from the unlocked store into the cache; returns how many.
    pub async fn pull(&self, store: &Unlocked, env: &EnvRef) -> Result<usize> {
        check_local(env)?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let backend = self.backend(env);
        let fpr = Fingerprinter::of(store, env.env_type())?;
        let desired: Vec<(String, SecretValue)> = store
            .resolve_all(env)?
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        let n = desired.len();
        let opts = PlanOptions {
            prune: true,
            max_deletes: usize::MAX,
            on_drift: sync::DriftPolicy::Revert,
            adopt: true,
            ..Default::default()
        };
        let plan = sync::plan(env.name(), &backend, "", desired, &fpr, &opts).await?;
        let report = sync::apply(&plan, std::sync::Arc::new(backend), &fpr, 1, &|_| {}).await;
        if report.count(sync::Status::Failed) > 0 {
            bail!(
                "could not write the local cache {}",
                self.path(env).display()
            );
        }
        let stamp = Stamp {
            store_sha256: store_digest(store.path())?,
            pulled_at: chrono::Utc::now(),
        };
        secretsync_core::fsio::write_atomic(
            &self.stamp_path(env),
            serde_json::to_string(&stamp)?.as_bytes(),
            Some(0o600),
        )?;
        Ok(n)
    }

    /// True when the cache of `env` was pulled from the store file as it is now.
    pub fn is_current(&self, env: &EnvRef, store: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(self.stamp_path(env)) else {
            return false;
        };
        let Ok(stamp) = serde_json::from_str::<Stamp>(&text) else {
            return false;
        };
        store_digest(store).is_ok_and(|d| d == stamp.store_sha256)
    }

    /// True when there is a cache of `env` at all.
    pub fn exists(&self, env: &EnvRef) -> bool {
        self.path(env).exists()
    }

    /// The cached values of `env`, sorted by name.
    pub async fn read(&self, env: &EnvRef) -> Result<Vec<(String, SecretValue)>> {
        let backend = self.backend(env);
        let names: Vec<String> = list_all(&backend, "")
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        let values = get_all(&backend as &dyn SecretBackend, &names, 1).await?;
        Ok(names
            .into_iter()
            .zip(values)
            .filter_map(|(n, v)| v.map(|s| (n, s.value)))
            .collect())
    }
}
