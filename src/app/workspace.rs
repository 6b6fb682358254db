//! Where a use case runs: the config it finds, the store it names, the identities that open it.

use crate::config::Config;
use crate::declare::{self, Declared};
use crate::store::{Store, Unlocked};
use anyhow::{Context, Result};
use secretsync_core::Identity;
use std::path::{Path, PathBuf};

/// The folder a command runs in and how it finds its config and identities.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The config file given explicitly (`--config`, `SECRETSYNC_CONFIG`), relative to `cwd`.
    pub config_arg: Option<PathBuf>,
    /// The folder it runs in.
    pub cwd: PathBuf,
    /// An identity file to use instead of the usual ones.
    pub identity_file: Option<PathBuf>,
}

impl Workspace {
    /// A workspace in `cwd`, with the config given explicitly or found from there.
    pub fn new(cwd: PathBuf, config_arg: Option<PathBuf>) -> Self {
        Self {
            config_arg,
            cwd,
            identity_file: None,
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
        let recipients: Vec<String> = store.recipients().into_iter().map(|(r, _)| r).collect();
        crate::registry::identities(self.identity_file.as_deref(), &recipients).await
    }

    /// Loads the store named by the config (no key needed).
    pub fn store(&self, cfg: &Config) -> Result<Store> {
        Ok(Store::load(&cfg.store_path)?)
    }

    /// Loads and unlocks the store for reading.
    pub async fn unlocked(&self, cfg: &Config) -> Result<Unlocked> {
        let store = self.store(cfg)?;
        let ids = self.identities(&store).await?;
        Ok(store.unlock(&ids).await?)
    }

    /// Locks, loads and unlocks the store for writing.
    pub async fn writer(&self, cfg: &Config) -> Result<Unlocked> {
        let ids = self.identities(&self.store(cfg)?).await?;
        Ok(Store::open_for_write(&cfg.store_path, &ids).await?)
    }

    /// The declared secrets.
    pub fn declared(&self, cfg: &Config) -> Result<Vec<Declared>> {
        Ok(declare::declared(cfg)?)
    }
}
