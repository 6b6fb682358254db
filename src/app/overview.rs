//! What is set where, without values: `list` (the secrets × environments matrix) and `check`
//! (declared secrets missing a value). Neither needs a key.

use super::Workspace;
use crate::config::Config;
use crate::declare::Declared;
use crate::model::{EnvRef, EnvType, Selector};
use crate::store::{SecretInfo, Store};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Where an environment's value of a secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The type's own value (for an implicit environment).
    Set,
    /// The environment's override.
    Override,
    /// Its type's value (for a declared environment).
    Type,
    /// None.
    Missing,
}

/// One cell of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Where the value comes from.
    pub source: Source,
    /// The value's version, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// A stored value, without its plaintext.
#[derive(Debug, Clone, Serialize)]
pub struct ValueRow {
    /// What it applies to.
    pub selector: String,
    /// Its version.
    pub version: u64,
    /// When it was set.
    pub updated: DateTime<Utc>,
    /// How many earlier versions are kept.
    pub history: usize,
}

/// One secret: declared, stored, or both.
#[derive(Debug, Clone, Serialize)]
pub struct SecretRow {
    /// Its name.
    pub name: String,
    /// Whether the app declares it.
    pub declared: bool,
    /// From `set --description` (the latest word), else the manifest or the Go comment.
    pub description: Option<String>,
    /// Environment name → cell.
    pub environments: BTreeMap<String, Cell>,
    /// Its stored values.
    pub values: Vec<ValueRow>,
}

/// The matrix `list` shows.
#[derive(Debug, Clone, Serialize)]
pub struct ListReport {
    /// The app.
    pub app: String,
    /// Every declared or stored secret, sorted.
    pub secrets: Vec<SecretRow>,
    /// The environments, in column order: the four types, then the declared ones.
    #[serde(skip)]
    pub env_names: Vec<String>,
}

pub(super) fn cell(info: Option<&SecretInfo>, env: &EnvRef) -> Cell {
    let Some(v) = info.and_then(|i| i.resolve(env)) else {
        return Cell {
            source: Source::Missing,
            version: None,
        };
    };
    let source = match (&v.selector, env) {
        (Selector::Env(_), _) => Source::Override,
        (_, EnvRef::Implicit(_)) => Source::Set,
        (_, EnvRef::Declared(..)) => Source::Type,
    };
    Cell {
        source,
        version: Some(v.version),
    }
}

/// `list`: every declared or stored secret × every environment, and the stored values.
pub fn list(ws: &Workspace) -> Result<ListReport> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let declared = ws.declared(&cfg)?;
    Ok(list_of(&cfg, &store, &declared))
}

fn list_of(cfg: &Config, store: &Store, declared: &[Declared]) -> ListReport {
    let stored: BTreeMap<_, _> = store
        .secrets()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut names: Vec<_> = declared
        .iter()
        .map(|d| d.name.clone())
        .chain(stored.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    let envs = cfg.all_envs();
    let by_name: HashMap<_, _> = declared.iter().map(|d| (&d.name, d)).collect();
    let secrets = names
        .iter()
        .map(|n| {
            let info = stored.get(n);
            let decl = by_name.get(n);
            SecretRow {
                name: n.to_string(),
                declared: decl.is_some(),
                description: info
                    .and_then(|i| i.description.clone())
                    .or_else(|| decl.and_then(|d| d.description.clone())),
                environments: envs
                    .iter()
                    .map(|e| (e.name().to_string(), cell(info, e)))
                    .collect(),
                values: info.map_or_else(Vec::new, |i| {
                    i.values
                        .iter()
                        .map(|v| ValueRow {
                            selector: v.selector.to_string(),
                            version: v.version,
                            updated: v.updated,
                            history: v.history,
                        })
                        .collect()
                }),
            }
        })
        .collect();
    ListReport {
        app: cfg.app.clone(),
        secrets,
        env_names: envs.iter().map(|e| e.name().to_string()).collect(),
    }
}

/// What `check` takes: environments and types to check (both empty: all of them).
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Environments (a type's name is its implicit environment).
    pub envs: Vec<String>,
    /// Types, ignoring overrides.
    pub types: Vec<EnvType>,
}

/// One environment's check.
#[derive(Debug, Clone, Serialize)]
pub struct EnvCheck {
    /// The environment.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub env_type: &'static str,
    /// Declared secrets with no value there.
    pub missing: Vec<String>,
}

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// No declared secret is missing anywhere checked.
    pub ok: bool,
    /// How many secrets are declared.
    pub declared: usize,
    /// One entry per environment checked.
    pub environments: Vec<EnvCheck>,
    /// Stored but not declared.
    pub undeclared: Vec<String>,
}

/// `check`: every declared secret has a value for each environment checked.
pub fn check(ws: &Workspace, opts: &CheckOptions) -> Result<CheckReport> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let declared = ws.declared(&cfg)?;
    check_of(&cfg, &store, &declared, opts)
}

fn check_of(
    cfg: &Config,
    store: &Store,
    declared: &[Declared],
    opts: &CheckOptions,
) -> Result<CheckReport> {
    let mut envs: Vec<EnvRef> = opts
        .envs
        .iter()
        .map(|e| cfg.env(e))
        .collect::<Result<_, _>>()?;
    envs.extend(opts.types.iter().map(|t| EnvRef::Implicit(*t)));
    if envs.is_empty() {
        envs = cfg.all_envs();
    }
    envs.dedup();
    let environments: Vec<EnvCheck> = envs
        .into_iter()
        .map(|env| EnvCheck {
            name: env.name().to_string(),
            env_type: env.env_type().as_str(),
            missing: declared
                .iter()
                .filter(|d| {
                    store
                        .secret(&d.name)
                        .and_then(|s| s.resolve(&env).cloned())
                        .is_none()
                })
                .map(|d| d.name.to_string())
                .collect(),
        })
        .collect();
    Ok(CheckReport {
        ok: environments.iter().all(|e| e.missing.is_empty()),
        declared: declared.len(),
        environments,
        undeclared: {
            let declared: HashSet<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            store
                .names()
                .filter(|n| !declared.contains(n))
                .map(str::to_string)
                .collect()
        },
    })
}

/// One environment as the dashboard lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EnvRow {
    /// Its name (a type's name for an implicit one).
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub env_type: &'static str,
    /// Whether it is declared in secretsync.toml (an implicit one only runs locally).
    pub declared: bool,
    /// Its backend URL, if it replicates.
    pub backend: Option<String>,
    /// The prefix of its names in the backend.
    pub prefix: String,
    /// The scope whose recipients can read its values.
    pub scope: String,
    /// A template: its instances (`NAME:ID`) are the environments that replicate.
    pub template: bool,
}

/// Every environment: the four types' implicit ones, then the declared ones.
pub fn environments(ws: &Workspace) -> Result<Vec<EnvRow>> {
    Ok(environments_of(&ws.config()?))
}

fn environments_of(cfg: &Config) -> Vec<EnvRow> {
    cfg.all_envs()
        .into_iter()
        .map(|e| {
            let decl = match &e {
                EnvRef::Declared(n, _) => cfg.environments.get(n),
                EnvRef::Implicit(_) => None,
            };
            EnvRow {
                name: e.name().to_string(),
                env_type: e.env_type().as_str(),
                declared: decl.is_some(),
                backend: decl.and_then(|d| d.backend.clone()),
                prefix: decl.and_then(|d| d.prefix.clone()).unwrap_or_default(),
                scope: cfg.scopes.scope_of(e.env_type()).to_string(),
                template: decl.is_some_and(|d| d.is_template()),
            }
        })
        .collect()
}

/// The matrix, the check of every environment and the environments, from one read of the
/// config, the store and the declarations (the dashboard's overview).
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// What `list` shows.
    pub list: ListReport,
    /// What `check` of every environment finds.
    pub check: CheckReport,
    /// The environments.
    pub environments: Vec<EnvRow>,
}

/// [`list`], [`check`] of everything and [`environments`] at once.
pub fn overview(ws: &Workspace) -> Result<Overview> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let declared = ws.declared(&cfg)?;
    Ok(Overview {
        list: list_of(&cfg, &store, &declared),
        check: check_of(&cfg, &store, &declared, &CheckOptions::default())?,
        environments: environments_of(&cfg),
    })
}
