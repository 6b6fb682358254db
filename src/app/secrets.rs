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
/// A value, as `get --json` prints it: the one report that holds a value (`get` exists to
/// print it).
#[derive(Serialize)]
pub struct GotValue {
    /// The secret.
    pub name: String,
    /// What was asked for, in words (`type production`, `environment prod-eu`).
    pub scope: String,
    /// The stored value's selector.
    pub selector: String,
    /// The value, when it is UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The value in base64, when it is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

impl std::fmt::Debug for GotValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GotValue({} {}, [REDACTED])", self.name, self.selector)
    }
}

impl GotValue {
    /// The report of `value` of `name`, stored under `selector`, asked for as `scope`.
    pub fn new(
        name: &SecretName,
        scope: &Target,
        selector: &Selector,
        value: &SecretValue,
    ) -> Self {
        use base64::Engine;
        let text = value.as_str();
        Self {
            name: name.to_string(),
            scope: scope.to_string(),
            selector: selector.to_string(),
            value: text.map(str::to_string),
            value_base64: text
                .is_none()
                .then(|| base64::engine::general_purpose::STANDARD.encode(value.expose())),
        }
    }
}

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

/// One stored value of a secret and its kept versions, without plaintext.
#[derive(Debug, Serialize)]
pub struct ValueDetails {
    /// What it applies to.
    pub selector: String,
    /// The scopes it is sealed for (the recipients of one of them can read it).
    pub scopes: Vec<String>,
    /// Newest first; the first is current.
    pub versions: Vec<VersionInfo>,
}

/// A secret as its page shows it: never a value.
#[derive(Debug, Serialize)]
pub struct SecretDetails {
    /// The secret.
    pub name: String,
    /// Whether the app declares it.
    pub declared: bool,
    /// What it is for.
    pub description: Option<String>,
    /// Environment name → where its value comes from, in `list`'s column order.
    pub environments: Vec<(String, super::overview::Cell)>,
    /// Its stored values (empty: declared, not set).
    pub values: Vec<ValueDetails>,
}

/// A secret's stored values and their history, without opening any (no key needed).
pub fn details(ws: &Workspace, name: &SecretName) -> Result<SecretDetails> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let declared = ws.declared(&cfg).unwrap_or_default();
    let decl = declared.iter().find(|d| &d.name == name);
    let info = store.secret(name);
    if info.is_none() && decl.is_none() {
        anyhow::bail!(
            "secret {name} is neither stored nor declared: `secretsync list` shows the secrets there are"
        );
    }
    let values = info
        .as_ref()
        .map(|i| {
            i.values
                .iter()
                .map(|v| ValueDetails {
                    selector: v.selector.to_string(),
                    scopes: store
                        .parts(name.as_str(), &v.selector)
                        .map(|p| p.into_iter().map(|(scope, _)| scope).collect())
                        .unwrap_or_default(),
                    versions: store.versions(name, &v.selector).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let environments = cfg
        .all_envs()
        .iter()
        .map(|e| {
            let c = super::overview::cell(info.as_ref(), e);
            (e.name().to_string(), c)
        })
        .collect();
    Ok(SecretDetails {
        name: name.to_string(),
        declared: decl.is_some(),
        environments,
        description: info
            .and_then(|i| i.description)
            .or_else(|| decl.and_then(|d| d.description.clone())),
        values,
    })
}

/// What one environment would read after a `set`.
#[derive(Debug, Serialize)]
pub struct AfterSet {
    /// The environment.
    pub env: String,
    /// The selector its value would be stored under (`None`: no value).
    pub selector: Option<String>,
    /// Whether that is the value being set.
    pub new_value: bool,
}

/// What a `set` would do, before it is made: the split rule spelled out.
#[derive(Debug, Serialize)]
pub struct SetPreview {
    /// The secret.
    pub name: String,
    /// The selector the value would be stored under.
    pub selector: String,
    /// The version it replaces under the same selector, if any.
    pub replaces: Option<u64>,
    /// Values that would keep only some of their types.
    pub split: Vec<Split>,
    /// Values all of whose types would move to the new value.
    pub absorbed: Vec<String>,
    /// The selectors the secret would have afterwards.
    pub selectors_after: Vec<String>,
    /// Each environment's value afterwards.
    pub environments: Vec<AfterSet>,
}

/// Plans a `set` of `name` for `types` or `env` without making it (no value, no key needed).
pub fn preview_set(
    ws: &Workspace,
    name: &SecretName,
    types: Option<TypeSet>,
    env: Option<&str>,
) -> Result<SetPreview> {
    let cfg = ws.config()?;
    let target = write_selector(&cfg, types, env)?;
    let store = ws.store(&cfg)?;
    let values = store.secret(name).map(|i| i.values).unwrap_or_default();
    let existing: Vec<Selector> = values.iter().map(|v| v.selector.clone()).collect();
    let plan = crate::model::plan_set(&existing, &target);
    let mut after: Vec<Selector> = existing
        .iter()
        .filter(|s| !plan.absorbed.contains(s))
        .map(|s| {
            plan.shrunk
                .iter()
                .find(|(from, _)| from == s)
                .map_or_else(|| s.clone(), |(_, to)| to.clone())
        })
        .collect();
    if !after.contains(&target) {
        after.push(target.clone());
    }
    let environments = cfg
        .all_envs()
        .iter()
        .map(|e| {
            let sel = Selector::resolve(after.iter(), e);
            AfterSet {
                env: e.name().to_string(),
                selector: sel.map(ToString::to_string),
                new_value: sel == Some(&target),
            }
        })
        .collect();
    let mut selectors_after: Vec<String> = after.iter().map(ToString::to_string).collect();
    selectors_after.sort();
    Ok(SetPreview {
        name: name.to_string(),
        selector: target.to_string(),
        replaces: values
            .iter()
            .find(|v| v.selector == target)
            .map(|v| v.version),
        split: plan
            .shrunk
            .iter()
            .map(|(a, b)| Split {
                from: a.to_string(),
                to: b.to_string(),
            })
            .collect(),
        absorbed: plan.absorbed.iter().map(ToString::to_string).collect(),
        selectors_after,
        environments,
    })
}
