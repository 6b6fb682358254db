//! Secrets into programs: an environment's values (from the store, the local cache, or a
//! backend directly) for `run` and `export`, and `pull` into the local cache.

use super::{backends, Workspace};
use crate::inject::cache::{self, Cache};
use crate::model::{EnvType, SecretName};
use anyhow::{bail, Result};
use secretsync_core::{get_all, list_all, SecretValue};
use serde::Serialize;

/// Where the values come from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The environment (a type's implicit one or a declared one).
    pub env: String,
    /// A backend URL to read straight from instead of the store.
    pub from: Option<String>,
    /// With `from`: only secrets under this prefix (stripped from the names).
    pub prefix: String,
}

/// An environment's values, sorted by name, and what the user should know about them.
pub struct Values {
    /// Name → value.
    pub values: Vec<(String, SecretValue)>,
    /// Notes for people (never a value).
    pub notes: Vec<String>,
}

/// The values of `src`. For a `local` environment the local cache is refreshed when the store
/// changed, and used when the store cannot be opened here. From a backend, a name that would
/// change how a program starts (loader, shell or interpreter variables) is refused unless the
/// app declares it.
pub async fn values(ws: &Workspace, src: &Source) -> Result<Values> {
    let mut notes = Vec::new();
    if let Some(url) = &src.from {
        let (backend, _) = backends::open_url(url, &ws.base_dir(), 8).await?;
        let mut names = Vec::new();
        let mut unusable = Vec::new();
        for m in list_all(backend.as_ref(), &src.prefix).await? {
            let rel = m
                .name
                .strip_prefix(&src.prefix)
                .unwrap_or(&m.name)
                .to_string();
            match rel.parse::<SecretName>() {
                Ok(_) => names.push((m.name, rel)),
                Err(_) => unusable.push(m.name),
            }
        }
        if names.is_empty() && !unusable.is_empty() {
            // Most often the names carry a path: suggest stripping the first one's.
            let hint = unusable[0]
                .rfind('/')
                .map(|i| format!(": pass --prefix {} to strip their path", &unusable[0][..=i]))
                .unwrap_or_default();
            bail!(
                "none of the {} secrets in {url} is usable as an environment variable name (e.g. {}){hint}; nothing would be passed on",
                unusable.len(),
                unusable[0]
            );
        }
        notes.extend(
            unusable
                .iter()
                .map(|n| format!("note: skipping {n}: not usable as an environment variable name")),
        );
        let declared: Vec<String> = ws
            .config()
            .map(|c| c.secrets.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        let hijack: Vec<&str> = names
            .iter()
            .map(|(_, rel)| rel.as_str())
            .filter(|rel| crate::inject::hijacks_startup(rel) && !declared.iter().any(|d| d == rel))
            .collect();
        if !hijack.is_empty() {
            bail!(
                "{url} holds {}, which would change how the program starts (loader, shell or interpreter variables); refusing to pass it on. If the app really needs it, declare it under [secrets.NAME] in secretsync.toml",
                hijack.join(", ")
            );
        }
        let full: Vec<String> = names.iter().map(|(f, _)| f.clone()).collect();
        let got = get_all(backend.as_ref(), &full, 8).await?;
        let values = names
            .into_iter()
            .zip(got)
            .filter_map(|((_, rel), s)| s.map(|s| (rel, s.value)))
            .collect();
        return Ok(Values { values, notes });
    }
    let cfg = ws.config()?;
    let env = cfg.env(&src.env)?;
    let store = ws.store(&cfg)?;
    let named = |v: Vec<(SecretName, SecretValue)>| {
        v.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    };
    if env.env_type() != EnvType::Local {
        let values = named(ws.unlocked(&cfg).await?.resolve_all(&env)?);
        return Ok(Values { values, notes });
    }
    let cache = Cache::new(&cfg.app, store.id())?;
    let opened = match ws.unlocked(&cfg).await {
        Ok(u) => u
            .check_open(env.env_type())
            .map(|_| u)
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let values = match opened {
        Ok(u) => {
            if !cache.is_current(&env, &cfg.store_path) {
                if let Err(e) = cache.pull(&u, &env).await {
                    notes.push(format!("note: could not refresh the local cache: {e:#}"));
                }
            }
            named(u.resolve_all(&env)?)
        }
        Err(e) if cache.exists(&env) => {
            notes.push(format!(
                "note: using the local cache {} (the store cannot be opened here: {e})",
                cache.path(&env).display()
            ));
            if !cache.is_current(&env, &cfg.store_path) {
                notes.push("warning: the store changed since the cache was pulled; `secretsync pull` where the store can be opened refreshes it".into());
            }
            cache.read(&env).await?
        }
        Err(e) => return Err(e),
    };
    Ok(Values { values, notes })
}

/// Declared secrets with no value among `values` (empty when there is no config to declare).
pub fn missing_declared(ws: &Workspace, values: &[(String, SecretValue)]) -> Vec<String> {
    let Ok(cfg) = ws.config() else {
        return Vec::new();
    };
    let Ok(declared) = ws.declared(&cfg) else {
        return Vec::new();
    };
    declared
        .into_iter()
        .map(|d| d.name.to_string())
        .filter(|n| !values.iter().any(|(v, _)| v == n))
        .collect()
}

/// The default name of an exported Kubernetes Secret: APP-ENV, lowercased, safe.
pub fn default_export_name(ws: &Workspace, env: &str) -> String {
    let app = ws
        .config()
        .map(|c| c.app)
        .unwrap_or_else(|_| "secrets".into());
    format!("{app}-{env}")
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// What `pull` did.
#[derive(Debug, Serialize)]
pub struct Pulled {
    /// The environment.
    pub env: String,
    /// How many values were cached.
    pub values: usize,
    /// The cache file (mode 0600).
    pub cache: std::path::PathBuf,
}

/// `pull`: caches a `local`-type environment's values on this machine for offline runs.
pub async fn pull(ws: &Workspace, env: &str) -> Result<Pulled> {
    let cfg = ws.config()?;
    let env = cfg.env(env)?;
    cache::check_local(&env)?;
    let store = ws.unlocked(&cfg).await?;
    let c = Cache::new(&cfg.app, store.id())?;
    let values = c.pull(&store, &env).await?;
    Ok(Pulled {
        env: env.name().to_string(),
        values,
        cache: c.path(&env),
    })
}
