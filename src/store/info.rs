//! What the store says about its secrets without opening a value (for `list`, `check`,
//! `history`), and what a change did.

use super::format::SecretEntry;
use crate::model::{EnvRef, EnvType, SecretName, Selector};
use chrono::{DateTime, Utc};

/// A stored value, without its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    /// What the value applies to.
    pub selector: Selector,
    /// Its version, counting from 1.
    pub version: u64,
    /// When this version was set.
    pub updated: DateTime<Utc>,
    /// How many previous versions are kept.
    pub history: usize,
}

/// A stored secret, without values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    /// Its name.
    pub name: SecretName,
    /// The description given with `set --description`.
    pub description: Option<String>,
    /// Its values, one per selector.
    pub values: Vec<ValueInfo>,
}

impl SecretInfo {
    /// The value `env` resolves to, if any.
    pub fn resolve(&self, env: &EnvRef) -> Option<&ValueInfo> {
        let sel = Selector::resolve(self.values.iter().map(|v| &v.selector), env)?;
        self.values.iter().find(|v| &v.selector == sel)
    }

    /// The value holding type `t` (ignoring overrides), if any.
    pub fn for_type(&self, t: EnvType) -> Option<&ValueInfo> {
        self.values
            .iter()
            .find(|v| matches!(v.selector, Selector::Types(s) if s.contains(t)))
    }
}

/// One version of a value, as `history` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// When it was set.
    pub updated: DateTime<Utc>,
    /// When a later version replaced it (`None` for the current one).
    pub replaced: Option<DateTime<Utc>>,
}

/// What `set` did, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// The selector the value was stored under.
    pub selector: Selector,
    /// Its new version.
    pub version: u64,
    /// Values that kept only some of their types: `(old, remaining)`.
    pub split: Vec<(Selector, Selector)>,
    /// Values whose types all moved to the new value (kept in its history).
    pub absorbed: Vec<Selector>,
}

/// What `delete` did: each touched value and what is left of it (`None`: removed).
pub type DeleteReport = Vec<(Selector, Option<Selector>)>;

pub(super) fn secret_info(name: &str, e: &SecretEntry) -> SecretInfo {
    SecretInfo {
        name: name.parse().expect("validated at load"),
        description: e.description.clone(),
        values: e
            .values
            .iter()
            .map(|(sel, v)| ValueInfo {
                selector: sel.parse().expect("validated at load"),
                version: v.version,
                updated: v.updated,
                history: v.history.len(),
            })
            .collect(),
    }
}
