//! Values in the store: set, delete, get, history, rollback.

use super::{write_selector, Workspace};
use crate::config::Config;
use crate::model::{EnvRef, EnvType, SecretName, Selector, TypeSet};
use crate::store::{Target, VersionInfo};
use anyhow::Result;
use secretsync_core::SecretValue;
use serde::Serialize;

/// Which value a read refers to: a type's (overrides ignored), or what an environment resolves
/// to (its override, else its type's).
pub fn read_scope(cfg: &Config, env_type: Option<EnvType>, env: Option<&str>) -> Result<Target> {
    Ok(match (env_type, env) {
        (Some(t), _) => Target::Type(t),
        (None, Some(e)) => match cfg.env(e)? {
            EnvRef::Implicit(t) => Target::Type(t),
            env => Target::Env(env),
        },
        (None, None) => anyhow::bail!("give a type (--type) or an environment (--env)"),
    })
}

/// What `set` takes. The value never comes from an argument: the caller reads it.
pub struct SetOptions {
    /// The secret.
    pub name: SecretName,
    /// The types the value is for…
    pub types: Option<TypeSet>,
    /// …or the environment.
    pub env: Option<String>,
    /// The value.
    pub value: SecretValue,
    /// What the secret is for.
    pub description: Option<String>,
}

/// A value that kept only some of its types when another was set.
#[derive(Debug, Serialize)]
pub struct Split {
    /// Its selector before.
    pub from: String,
    /// Its selector now.
    pub to: String,
}

/// What `set` did.
#[derive(Debug, Serialize)]
pub struct SetOutcome {
    /// The secret.
    pub name: String,
    /// The selector the value was stored under.
    pub selector: String,
    /// Its new version.
    pub version: u64,
    /// Values that kept only some of their types.
    pub split: Vec<Split>,
    /// Values whose types all moved to the new value (kept in its history).
    pub absorbed: Vec<String>,
    /// Whether the app declares the secret.
    pub declared: bool,
}

/// `set`: stores a value for types or an environment, splitting it off any value it shared
/// types with, in one locked write.
pub async fn set(ws: &Workspace, opts: SetOptions) -> Result<SetOutcome> {
    let cfg = ws.config()?;
    let sel = write_selector(&cfg, opts.types, opts.env.as_deref())?;
    let mut w = ws.writer(&cfg).await?;
    let r = w.set(&opts.name, &sel, opts.value, opts.description)?;
    w.commit()?;
    // A declaration that cannot be scanned is `check`'s business, not a reason to fail a set.
    let declared = ws
        .declared(&cfg)
        .map_or(true, |d| d.iter().any(|d| d.name == opts.name));
    Ok(SetOutcome {
        name: opts.name.to_string(),
        selector: r.selector.to_string(),
        version: r.version,
        split: r
            .split
            .iter()
            .map(|(a, b)| Split {
                from: a.to_string(),
                to: b.to_string(),
            })
            .collect(),
        absorbed: r.absorbed.iter().map(ToString::to_string).collect(),
        declared,
    })
}

/// One value a delete touched.
#[derive(Debug, Serialize)]
pub struct Deleted {
    /// Its selector before.
    pub selector: String,
    /// What is left of it (`None`: removed).
    pub remaining: Option<String>,
}

/// What `delete` did.
#[derive(Debug, Serialize)]
pub struct DeleteOutcome {
    /// The secret.
    pub name: String,
    /// Each touched value.
    pub changes: Vec<Deleted>,
    /// What was asked to be deleted (`None`: the whole secret), for people.
    #[serde(skip)]
    pub what: Option<String>,
}

/// `delete`: the whole secret, some types of its value (the rest keep it), or an override.
pub async fn delete(
    ws: &Workspace,
    name: &SecretName,
    types: Option<TypeSet>,
    env: Option<&str>,
) -> Result<DeleteOutcome> {
    let cfg = ws.config()?;
    let scope = match (types, env) {
        (Some(t), _) => Some(Selector::Types(t)),
        (None, Some(e)) => Some(match cfg.env(e)? {
            EnvRef::Implicit(t) => Selector::Types(TypeSet::of([t])),
            EnvRef::Declared(n, _) => Selector::Env(n),
        }),
        (None, None) => None,
    };
    let mut w = ws.writer(&cfg).await?;
    let report = w.delete(name, scope.as_ref())?;
    w.commit()?;
    Ok(DeleteOutcome {
        name: name.to_string(),
        changes: report
            .iter()
            .map(|(from, left)| Deleted {
                selector: from.to_string(),
                remaining: left.as_ref().map(ToString::to_string),
            })
            .collect(),
        what: scope.as_ref().map(ToString::to_string),
    })
}

/// What `undelete` brought back.
#[derive(Debug, Serialize)]
pub struct Undeleted {
    /// The secret.
    pub name: String,
    /// How many values it has again.
    pub values: usize,
}

/// `undelete`: brings back a secret deleted whole, until the next `key rotate` purges it.
pub async fn undelete(ws: &Workspace, name: &SecretName) -> Result<Undeleted> {
    let cfg = ws.config()?;
    let mut w = ws.writer(&cfg).await?;
    let values = w.undelete(name)?;
    w.commit()?;
    Ok(Undeleted {
        name: name.to_string(),
        values,
    })
}

/// `get`: the value `scope` refers to, and the selector it is stored under.
pub async fn get(
    ws: &Workspace,
    name: &SecretName,
    scope: &Target,
) -> Result<(Selector, SecretValue)> {
    let cfg = ws.config()?;
    let store = ws.unlocked(&cfg).await?;
    let selector = store.selector_for(name, scope)?;
    Ok((selector, store.get(name, scope)?))
}

/// The kept versions of a value.
#[derive(Debug, Serialize)]
pub struct History {
    /// The secret.
    pub name: String,
    /// The value's selector.
    pub selector: String,
    /// Newest first; `replaced` is null for the current one.
    pub versions: Vec<VersionInfo>,
}

/// `history`: the versions kept for the value `scope` refers to.
pub async fn history(ws: &Workspace, name: &SecretName, scope: &Target) -> Result<History> {
    let cfg = ws.config()?;
    let store = ws.unlocked(&cfg).await?;
    let (sel, versions) = store.history(name, scope)?;
    Ok(History {
        name: name.to_string(),
        selector: sel.to_string(),
        versions,
    })
}

/// What `rollback` did.
#[derive(Debug, Serialize)]
pub struct Rollback {
    /// The secret.
    pub name: String,
    /// The value's selector.
    pub selector: String,
    /// The version whose value was restored.
    pub restored: u64,
    /// The new current version.
    pub version: u64,
}

/// `rollback`: makes version `to` (default: the previous one) current again, as a new version.
pub async fn rollback(
    ws: &Workspace,
    name: &SecretName,
    scope: &Target,
    to: Option<u64>,
) -> Result<Rollback> {
    let cfg = ws.config()?;
    let mut w = ws.writer(&cfg).await?;
    let (sel, restored, version) = w.rollback(name, scope, to)?;
    w.commit()?;
    Ok(Rollback {
        name: name.to_string(),
        selector: sel.to_string(),
        restored,
        version,
    })
}
