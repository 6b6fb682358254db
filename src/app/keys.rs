//! Who can open the store: recipients, and rotation of the data and fingerprint keys.

use super::Workspace;
use crate::registry;
use crate::store::{Store, FORMAT};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One recipient of the store.
#[derive(Debug, Serialize)]
pub struct RecipientRow {
    /// Its id (`age1…`, `aws-kms:…`, `gcp-kms:…`).
    pub id: String,
    /// When it was first added.
    pub added: DateTime<Utc>,
    /// The scopes it can open.
    pub scopes: Vec<String>,
    /// Whether one of this machine's identities is it.
    pub yours: bool,
}

/// One scope of the store.
#[derive(Debug, Serialize)]
pub struct ScopeRow {
    /// Its name.
    pub name: String,
    /// The environment types whose values it holds.
    pub types: Vec<String>,
    /// How many recipients can open it.
    pub recipients: usize,
}

/// What `key list` shows.
#[derive(Debug, Serialize)]
pub struct KeyList {
    /// The store's id.
    pub store_id: String,
    /// The store's format (1: before scopes).
    pub format: u32,
    /// Its scopes.
    pub scopes: Vec<ScopeRow>,
    /// Its recipients.
    pub recipients: Vec<RecipientRow>,
}

/// `key list`: the scopes and the recipients that can open each (no key needed).
pub fn list(ws: &Workspace) -> Result<KeyList> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let mine: Vec<String> = registry::local_identities(ws.identity_file.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|i| i.public().to_string())
        .collect();
    let recipients = store.recipients();
    Ok(KeyList {
        store_id: store.id().to_string(),
        format: store.format(),
        scopes: store
            .layout()
            .iter()
            .map(|(name, types)| ScopeRow {
                name: name.to_string(),
                types: types.iter().map(|t| t.as_str().to_string()).collect(),
                recipients: recipients
                    .iter()
                    .filter(|r| r.scopes.iter().any(|s| s == name))
                    .count(),
            })
            .collect(),
        recipients: recipients
            .into_iter()
            .map(|r| RecipientRow {
                yours: mine.contains(&r.id),
                id: r.id,
                added: r.added,
                scopes: r.scopes,
            })
            .collect(),
    })
}

/// The scopes a `--scope` argument names: a comma-separated list, or `all`. Without one,
/// `default` (None: the argument is required because the store has several scopes).
fn scopes_arg(
    store: &Store,
    arg: Option<&str>,
    default: Option<Vec<String>>,
    what: &str,
) -> Result<Vec<String>> {
    let all: Vec<String> = store.layout().names().map(String::from).collect();
    let Some(arg) = arg else {
        if all.len() == 1 {
            return Ok(all);
        }
        return default.ok_or_else(|| {
            anyhow::anyhow!(
                "say which scopes {what}: --scope development (what a developer needs), --scope production, or --scope all (this store has scopes {})",
                all.join(", ")
            )
        });
    };
    if arg.trim() == "all" {
        return Ok(all);
    }
    arg.split(',')
        .map(|s| {
            let s = s.trim();
            if all.iter().any(|a| a == s) {
                Ok(s.to_string())
            } else {
                anyhow::bail!(
                    "unknown scope {s:?}: this store has scopes {} (or say `all`)",
                    all.join(", ")
                )
            }
        })
        .collect()
}

/// `key add`: wraps the keys of `scopes` for one more recipient (needs each scope open).
/// Returns its id and the scopes it was added to.
/// What `key add` did.
#[derive(Debug, Serialize)]
pub struct KeyAdded {
    /// The recipient added.
    pub added: String,
    /// The scopes it can open now.
    pub scopes: Vec<String>,
}

/// What `key remove` did.
#[derive(Debug, Serialize)]
pub struct KeyRemoved {
    /// The recipient removed.
    pub removed: String,
    /// The scopes it was removed from.
    pub scopes: Vec<String>,
}

pub async fn add(ws: &Workspace, recipient: &str, scopes: Option<&str>) -> Result<KeyAdded> {
    let cfg = ws.config()?;
    let r = registry::recipient(recipient).await?;
    let mut w = ws.writer(&cfg).await?;
    let scopes = scopes_arg(&w, scopes, None, "the recipient may open")?;
    for scope in &scopes {
        w.add_recipient(scope, r.as_ref()).await?;
    }
    w.commit()?;
    Ok(KeyAdded {
        added: r.id(),
        scopes,
    })
}

/// `key remove`: stops wrapping the keys of `scopes` (default: every scope it has) for a
/// recipient. Removing one of this machine's own identities locks its user out, so that needs
/// `force`. Run `key rotate` afterwards so it cannot open what it copied before.
pub async fn remove(
    ws: &Workspace,
    recipient: &str,
    scopes: Option<&str>,
    force: bool,
) -> Result<KeyRemoved> {
    let cfg = ws.config()?;
    let id = recipient.trim();
    let mine = registry::local_identities(ws.identity_file.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|i| i.public() == id);
    if mine && !force {
        anyhow::bail!(
            "{id} is your own key: without it you cannot open those scopes any more (another recipient would have to add you again). Pass --force if that is what you want"
        );
    }
    let mut w = ws.writer(&cfg).await?;
    let has: Vec<String> = w
        .recipients()
        .into_iter()
        .find(|r| r.id == id)
        .map(|r| r.scopes)
        .unwrap_or_default();
    if has.is_empty() {
        anyhow::bail!("{id} is not a recipient of this store (see `secretsync key list`)");
    }
    let scopes = scopes_arg(&w, scopes, Some(has), "to remove it from")?;
    for scope in &scopes {
        w.remove_recipient(scope, id)?;
    }
    w.commit()?;
    Ok(KeyRemoved {
        removed: id.to_string(),
        scopes,
    })
}

/// What `key rotate` did.
#[derive(Debug, Serialize)]
pub struct Rotated {
    /// Always true.
    pub rotated: bool,
    /// The scopes whose keys were replaced.
    pub scopes: Vec<String>,
    /// Ciphertexts re-sealed.
    pub values: usize,
    /// Recipients the new keys are wrapped for (counted once per scope).
    pub recipients: usize,
    /// The fingerprint keys were replaced too.
    pub fingerprint_key: bool,
}

/// `key rotate`: new key pairs for `scopes` (default: all; each must be open), and with
/// `fingerprint`, new fingerprint keys.
pub async fn rotate(ws: &Workspace, scopes: Option<&str>, fingerprint: bool) -> Result<Rotated> {
    let cfg = ws.config()?;
    let mut w = ws.writer(&cfg).await?;
    let all: Vec<String> = w.layout().names().map(String::from).collect();
    let scopes = scopes_arg(&w, scopes, Some(all), "to rotate")?;
    if let Some(locked) = scopes.iter().find(|s| !w.can_open(s)) {
        let open = w.opened();
        anyhow::bail!(
            "you cannot open scope {locked}, so you cannot rotate it: ask one of its recipients ({}), or rotate only the scopes you can open with --scope {}",
            w.scope_recipients(locked).join(", "),
            if open.is_empty() { "…".into() } else { open.join(",") }
        );
    }
    let (mut values, mut count) = (0, 0);
    for scope in &scopes {
        let mut recipients = Vec::new();
        for id in w.scope_recipients(scope) {
            recipients.push(registry::recipient(&id).await?);
        }
        count += recipients.len();
        values += w.rotate(scope, &recipients, fingerprint).await?;
    }
    w.commit()?;
    Ok(Rotated {
        rotated: true,
        scopes,
        values,
        recipients: count,
        fingerprint_key: fingerprint,
    })
}

/// What `upgrade` did.
#[derive(Debug, Serialize)]
pub struct Upgraded {
    /// The format before.
    pub from_format: u32,
    /// The format now.
    pub format: u32,
    /// The scopes now.
    pub scopes: Vec<String>,
    /// Whether anything changed.
    pub changed: bool,
}

/// `upgrade`: moves the store to the current format and to the config's scopes.
pub async fn upgrade(ws: &Workspace) -> Result<Upgraded> {
    let cfg = ws.config()?;
    let mut w = ws.open_writer(&cfg).await?;
    let from_format = w.format();
    let changed = from_format != FORMAT || w.layout() != cfg.scopes;
    let scopes = if changed {
        let s = super::workspace::upgrade_in(&mut w, &cfg).await?;
        w.commit()?;
        s
    } else {
        w.layout().names().map(String::from).collect()
    };
    Ok(Upgraded {
        from_format,
        format: FORMAT,
        scopes,
        changed,
    })
}
