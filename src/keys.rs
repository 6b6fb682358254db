//! The registry of recipient kinds: turns a recipient id from the store or the command line into
//! something that can wrap the data key, and gathers the identities that can unwrap it.

use crate::store::age_key::{self, AgeIdentity, AgeRecipient};
use anyhow::{bail, Context, Result};
use secretsync_core::{Identity, Recipient};
use std::path::Path;

/// Builds the recipient for an id (`age1…`).
pub fn recipient(id: &str) -> Result<Box<dyn Recipient>> {
    let id = id.trim();
    if id.starts_with("age1") {
        return Ok(Box::new(id.parse::<AgeRecipient>()?));
    }
    if let Some((kind, _)) = id.split_once(':') {
        if kind == "aws-kms" || kind == "gcp-kms" {
            bail!("{kind} recipients are not built into this secretsync yet");
        }
    }
    bail!("unknown recipient {id:?}: give an age public key (age1…)")
}

/// The local age identities: from `identity_file` if given, else `SECRETSYNC_AGE_IDENTITY`, else
/// the default identity file. Empty when there are none.
pub fn local_identities(identity_file: Option<&Path>) -> Result<Vec<AgeIdentity>> {
    if let Some(p) = identity_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read identity file {}", p.display()))?;
        return Ok(AgeIdentity::parse_all(&text, &p.display().to_string())?);
    }
    Ok(age_key::load_identities()?
        .map(|(_, ids)| ids)
        .unwrap_or_default())
}

/// Every identity that may open a store: the local age identities (boxed).
pub fn identities(identity_file: Option<&Path>) -> Result<Vec<Box<dyn Identity>>> {
    Ok(local_identities(identity_file)?
        .into_iter()
        .map(|i| Box::new(i) as Box<dyn Identity>)
        .collect())
}
