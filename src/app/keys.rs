//! Who can open the store: recipients, and rotation of the data and fingerprint keys.

use super::Workspace;
use crate::registry;
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One recipient of the store.
#[derive(Debug, Serialize)]
pub struct RecipientRow {
    /// Its id (`age1…`, `aws-kms:…`, `gcp-kms:…`).
    pub id: String,
    /// When it was added.
    pub added: DateTime<Utc>,
    /// Whether one of this machine's identities is it.
    pub yours: bool,
}

/// What `key list` shows.
#[derive(Debug, Serialize)]
pub struct KeyList {
    /// The store's id.
    pub store_id: String,
    /// Its recipients.
    pub recipients: Vec<RecipientRow>,
}

/// `key list`: the recipients that can open the store (no key needed).
pub fn list(ws: &Workspace) -> Result<KeyList> {
    let cfg = ws.config()?;
    let store = ws.store(&cfg)?;
    let mine: Vec<String> = registry::local_identities(ws.identity_file.as_deref())
        .unwrap_or_default()
        .iter()
        .map(|i| i.public().to_string())
        .collect();
    Ok(KeyList {
        store_id: store.id().to_string(),
        recipients: store
            .recipients()
            .into_iter()
            .map(|(id, added)| RecipientRow {
                yours: mine.contains(&id),
                id,
                added,
            })
            .collect(),
    })
}

/// `key add`: wraps the data key for one more recipient. Returns its id.
pub async fn add(ws: &Workspace, recipient: &str) -> Result<String> {
    let cfg = ws.config()?;
    let r = registry::recipient(recipient).await?;
    let mut w = ws.writer(&cfg).await?;
    w.add_recipient(r.as_ref()).await?;
    w.commit()?;
    Ok(r.id())
}

/// `key remove`: stops wrapping the data key for a recipient. Removing one of this machine's own
/// identities locks its user out, so that needs `force`.
pub async fn remove(ws: &Workspace, recipient: &str, force: bool) -> Result<String> {
    let cfg = ws.config()?;
    let id = recipient.trim();
    let mine = registry::local_identities(ws.identity_file.as_deref())
        .unwrap_or_default()
        .iter()
        .any(|i| i.public() == id);
    if mine && !force {
        anyhow::bail!(
            "{id} is your own key: without it you cannot open the store any more (another recipient would have to add you again). Pass --force if that is what you want"
        );
    }
    let mut w = ws.writer(&cfg).await?;
    w.remove_recipient(id)?;
    w.commit()?;
    Ok(recipient.trim().to_string())
}

/// What `key rotate` did.
#[derive(Debug, Serialize)]
pub struct Rotated {
    /// Always true.
    pub rotated: bool,
    /// Values re-sealed.
    pub values: usize,
    /// Recipients the new key is wrapped for.
    pub recipients: usize,
    /// The fingerprint key was replaced too.
    pub fingerprint_key: bool,
}

/// `key rotate`: a new data key (and, with `fingerprint`, a new fingerprint key).
pub async fn rotate(ws: &Workspace, fingerprint: bool) -> Result<Rotated> {
    let cfg = ws.config()?;
    let mut w = ws.writer(&cfg).await?;
    let mut recipients = Vec::new();
    for (id, _) in w.recipients() {
        recipients.push(registry::recipient(&id).await?);
    }
    let values = w.rotate(&recipients, fingerprint).await?;
    w.commit()?;
    Ok(Rotated {
        rotated: true,
        values,
        recipients: recipients.len(),
        fingerprint_key: fingerprint,
    })
}
