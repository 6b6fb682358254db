//! `init`: config, identity and store, each created only when missing.

use super::Workspace;
use crate::config::{Config, CONFIG_FILE};
use crate::registry;
use crate::store::age_key::{self, AgeIdentity};
use crate::store::{fsio, Store};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// What `init` found or created.
#[derive(Debug, Serialize)]
pub struct InitReport {
    /// The config file.
    pub config: String,
    /// It was created now.
    pub config_created: bool,
    /// The store file.
    pub store: String,
    /// It was created now.
    pub store_created: bool,
    /// The store's id.
    pub store_id: String,
    /// Where the identity comes from (a file, or the environment variable).
    pub identity: String,
    /// It was created now.
    pub identity_created: bool,
    /// The identity's public key.
    pub recipient: String,
    /// The identity can open the store.
    #[serde(skip)]
    pub can_open: bool,
    /// The merge driver's `.gitattributes` line was added now.
    #[serde(skip)]
    pub merge_attribute_added: bool,
    /// The config and store, relative to where `init` ran (for people).
    #[serde(skip)]
    pub shown: (String, String),
}

/// `init`: creates `secretsync.toml` (app `app`, default: the folder's name), the user's identity
/// (if they have none) and the store, each only if missing; keeps plaintext files out of git.
pub async fn init(ws: &Workspace, app: Option<String>, force: bool) -> Result<InitReport> {
    let config_path = match &ws.config_arg {
        Some(p) => ws.cwd.join(p),
        None => ws.cwd.join(CONFIG_FILE),
    };
    // A second app nested in the first would shadow it for every command run below here.
    if !config_path.exists() && !force {
        if let Some(outer) = ws.cwd.parent().and_then(|d| Config::find(d).ok()) {
            anyhow::bail!(
                "{} is inside the app configured by {}: run secretsync from anywhere in that app instead (it finds the config in a parent folder), or pass --force to start a separate app here",
                ws.cwd.display(),
                outer.display()
            );
        }
    }
    let dir = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let config_created = !config_path.exists();
    if config_created {
        let app = app.unwrap_or_else(|| {
            dir.file_name()
                .map_or("app".into(), |n| n.to_string_lossy().into_owned())
        });
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        fsio::write_atomic(&config_path, Config::template(&app).as_bytes(), None)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
    }
    let cfg = Config::load(&config_path)?;

    let (identity, identity_path, identity_created) = identity(ws)?;
    let store_created = !cfg.store_path.exists();
    let store = if store_created {
        Store::create(&cfg.store_path, &cfg.scopes, &[&identity.recipient()]).await?
    } else {
        Store::load(&cfg.store_path)?
    };
    ignore_local_files(&cfg)?;
    let merge_attribute_added = add_merge_attribute(&cfg.store_path)?;
    let shown = |p: &Path| p.strip_prefix(&ws.cwd).unwrap_or(p).display().to_string();
    Ok(InitReport {
        config: config_path.display().to_string(),
        config_created,
        store: cfg.store_path.display().to_string(),
        store_created,
        store_id: store.id().to_string(),
        identity: identity_path,
        identity_created,
        recipient: identity.public().to_string(),
        can_open: store.recipients().iter().any(|r| r.id == identity.public()),
        merge_attribute_added,
        shown: (shown(&config_path), shown(&cfg.store_path)),
    })
}

/// The user's identity: the one already configured, else a new identity file.
fn identity(ws: &Workspace) -> Result<(AgeIdentity, String, bool)> {
    let create = |path: &Path| -> Result<(AgeIdentity, String, bool)> {
        Ok((
            age_key::create_identity_file(path)?,
            path.display().to_string(),
            true,
        ))
    };
    let found = match &ws.identity_file {
        Some(p) if !p.exists() => return create(p),
        Some(p) => Some((
            p.display().to_string(),
            registry::local_identities(Some(p))?,
        )),
        None => age_key::load_identities()?.map(|(src, ids)| (src.to_string(), ids)),
    };
    // An identity source always holds at least one key (parsing refuses an empty one).
    if let Some((from, id)) =
        found.and_then(|(from, ids)| ids.into_iter().next().map(|id| (from, id)))
    {
        return Ok((id, from, false));
    }
    let path = age_key::default_identity_path().context(
        "cannot find your config folder for the identity file; set SECRETSYNC_AGE_IDENTITY",
    )?;
    create(&path)
}

/// Adds `STORE merge=secretsync` to the `.gitattributes` beside the store; true when added.
fn add_merge_attribute(store: &Path) -> Result<bool> {
    let (Some(dir), Some(name)) = (store.parent(), store.file_name()) else {
        return Ok(false);
    };
    let line = format!("{} merge=secretsync", name.to_string_lossy());
    Ok(!add_lines(&dir.join(".gitattributes"), &[line])?.is_empty())
}

/// Adds to the `.gitignore` beside the config what must never be committed: the store's lock
/// file, the atomic-write temp files, and the plaintext replicas of `file://` environments
/// inside the project. Returns the lines added.
fn ignore_local_files(cfg: &Config) -> Result<Vec<String>> {
    let dir = cfg.path.parent().unwrap_or(Path::new("."));
    let mut lines = vec![".secretsync-*.tmp".to_string()];
    if let Some(lock) = fsio::lock_path(&cfg.store_path).file_name() {
        lines.push(lock.to_string_lossy().into_owned());
    }
    for e in cfg.environments.values() {
        let Some(b) = e
            .backend
            .as_deref()
            .and_then(|u| crate::scheme::file_backend(u, dir))
        else {
            continue;
        };
        if let Ok(rel) = b.path().strip_prefix(dir) {
            lines.push(format!("/{}", rel.display()));
        }
    }
    add_lines(&dir.join(".gitignore"), &lines)
}

/// Appends each of `lines` that `file` does not hold yet; returns those added.
fn add_lines(file: &Path, lines: &[String]) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let new: Vec<String> = lines
        .iter()
        .filter(|l| !text.lines().any(|have| have.trim() == l.as_str()))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(new);
    }
    let sep = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    std::fs::write(file, format!("{text}{sep}{}\n", new.join("\n")))
        .with_context(|| format!("cannot update {}", file.display()))?;
    Ok(new)
}
