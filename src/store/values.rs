//! Values: opening and sealing them (each bound to its store, secret, selector and version),
//! and the edits `set`, `delete` and `rollback` make, history included.

use super::file::{now, seal, Unlocked};
use super::format::{HistoryEntry, ValueEntry};
use super::info::{DeleteReport, SetReport, VersionInfo};
use super::{crypto, Result, Scope, StoreError, HISTORY_LIMIT};
use crate::model::{plan_set, EnvRef, SecretName, Selector};
use chrono::{DateTime, Utc};
use secretsync_core::{SecretValue, MAX_VALUE_BYTES};

/// A value in the clear while it is being moved between selectors.
pub(super) struct Plain {
    version: u64,
    updated: DateTime<Utc>,
    replaced: Option<DateTime<Utc>>,
    value: SecretValue,
}

impl Unlocked {
    fn aad(&self, name: &str, sel: &Selector, version: u64) -> Vec<u8> {
        crypto::value_aad(self.id(), name, &sel.to_string(), version)
    }

    fn open(&self, name: &str, sel: &Selector, version: u64, sealed: &str) -> Result<SecretValue> {
        crypto::open(&self.key, &self.aad(name, sel, version), sealed).map_err(|_| {
            StoreError::Tampered {
                path: self.path.clone(),
                what: format!("the value of {name} for {sel} (version {version})"),
            }
        })
    }

    fn seal(
        &self,
        name: &str,
        sel: &Selector,
        version: u64,
        value: &SecretValue,
    ) -> Result<String> {
        seal(&self.key, &self.aad(name, sel, version), value.expose())
    }

    fn entry(&self, name: &SecretName, sel: &Selector) -> Result<&ValueEntry> {
        self.live(name.as_str())
            .and_then(|s| s.values.get(&sel.to_string()))
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {sel}")))
    }

    /// The selector `scope` refers to in `name`: for a type, the value that holds the type.
    pub fn selector_for(&self, name: &SecretName, scope: &Scope) -> Result<Selector> {
        let info = self.secret(name).ok_or_else(|| {
            StoreError::NotFound(name.to_string(), "(it is not set at all)".into())
        })?;
        let found = match scope {
            Scope::Type(t) => info.for_type(*t),
            Scope::Env(env) => info.resolve(env),
        };
        found
            .map(|v| v.selector.clone())
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {scope}")))
    }

    /// The current value `scope` resolves to.
    pub fn get(&self, name: &SecretName, scope: &Scope) -> Result<SecretValue> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?;
        self.open(name.as_str(), &sel, e.version, &e.sealed)
    }

    /// The current value stored under exactly `sel`, if there is one.
    pub fn get_exact(&self, name: &SecretName, sel: &Selector) -> Result<Option<SecretValue>> {
        match self.entry(name, sel) {
            Ok(e) => Ok(Some(self.open(name.as_str(), sel, e.version, &e.sealed)?)),
            Err(StoreError::NotFound(..)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The versions kept for the value `scope` resolves to, newest first.
    pub fn history(
        &self,
        name: &SecretName,
        scope: &Scope,
    ) -> Result<(Selector, Vec<VersionInfo>)> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?;
        let mut out = vec![VersionInfo {
            version: e.version,
            updated: e.updated,
            replaced: None,
        }];
        out.extend(e.history.iter().rev().map(|h| VersionInfo {
            version: h.version,
            updated: h.updated,
            replaced: Some(h.replaced),
        }));
        Ok((sel, out))
    }

    /// Decrypts a value and its history (oldest first, then the current one).
    pub(super) fn plain_entry(
        &self,
        name: &str,
        sel: &Selector,
        e: &ValueEntry,
    ) -> Result<Vec<Plain>> {
        let mut out = Vec::with_capacity(e.history.len() + 1);
        for h in &e.history {
            out.push(Plain {
                version: h.version,
                updated: h.updated,
                replaced: Some(h.replaced),
                value: self.open(name, sel, h.version, &h.sealed)?,
            });
        }
        out.push(Plain {
            version: e.version,
            updated: e.updated,
            replaced: None,
            value: self.open(name, sel, e.version, &e.sealed)?,
        });
        Ok(out)
    }

    /// Seals plain versions (oldest first, the last is current) under `sel`.
    pub(super) fn seal_entry(
        &self,
        name: &str,
        sel: &Selector,
        mut versions: Vec<Plain>,
    ) -> Result<ValueEntry> {
        let cur = versions
            .pop()
            .ok_or_else(|| StoreError::Invalid("no value".into()))?;
        let skip = versions.len().saturating_sub(HISTORY_LIMIT);
        let history = versions
            .into_iter()
            .skip(skip)
            .map(|p| {
                Ok(HistoryEntry {
                    version: p.version,
                    updated: p.updated,
                    replaced: p.replaced.unwrap_or(cur.updated),
                    sealed: self.seal(name, sel, p.version, &p.value)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ValueEntry {
            version: cur.version,
            updated: cur.updated,
            sealed: self.seal(name, sel, cur.version, &cur.value)?,
            history,
        })
    }

    /// Moves a stored value (with its history) from one selector to another, re-sealing it.
    fn reseal(
        &self,
        name: &str,
        from: &Selector,
        to: &Selector,
        e: &ValueEntry,
    ) -> Result<ValueEntry> {
        let plain = self.plain_entry(name, from, e)?;
        self.seal_entry(name, to, plain)
    }

    /// Sets `name` for `target`, splitting it off any value it shared types with.
    pub fn set(
        &mut self,
        name: &SecretName,
        target: &Selector,
        value: SecretValue,
        description: Option<String>,
    ) -> Result<SetReport> {
        if value.is_empty() {
            return Err(StoreError::Empty(name.to_string()));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(StoreError::TooLarge(name.to_string(), value.len()));
        }
        let n = name.as_str();
        let now = now();
        // A deleted secret set again starts afresh (its old values go with the tombstone).
        let mut entry = self.live(n).cloned().unwrap_or_default();
        let existing: Vec<Selector> = entry
            .values
            .keys()
            .map(|k| k.parse().expect("validated"))
            .collect();
        let plan = plan_set(&existing, target);

        for (old, rest) in &plan.shrunk {
            let e = entry
                .values
                .remove(&old.to_string())
                .expect("planned from entry");
            let moved = self.reseal(n, old, rest, &e)?;
            entry.values.insert(rest.to_string(), moved);
        }
        let mut versions = match entry.values.remove(&target.to_string()) {
            Some(e) => self.plain_entry(n, target, &e)?,
            None => Vec::new(),
        };
        for old in &plan.absorbed {
            let e = entry
                .values
                .remove(&old.to_string())
                .expect("planned from entry");
            let mut plain = self.plain_entry(n, old, &e)?;
            if let Some(last) = plain.last_mut() {
                last.replaced = Some(now);
            }
            versions.extend(plain);
        }
        if !plan.absorbed.is_empty() {
            versions.sort_by_key(|p| p.updated);
            for (i, p) in versions.iter_mut().enumerate() {
                p.version = i as u64 + 1;
            }
        }
        if let Some(last) = versions.last_mut() {
            last.replaced.get_or_insert(now);
        }
        let version = versions.last().map_or(1, |p| p.version + 1);
        versions.push(Plain {
            version,
            updated: now,
            replaced: None,
            value,
        });
        let sealed = self.seal_entry(n, target, versions)?;
        entry.values.insert(target.to_string(), sealed);
        if description.is_some() {
            entry.description = description;
        }
        self.store.file.secrets.insert(n.to_string(), entry);
        Ok(SetReport {
            selector: target.clone(),
            version,
            split: plan.shrunk,
            absorbed: plan.absorbed,
        })
    }

    /// Deletes a secret (`scope: None`), types from the values that hold them (`Types`: the
    /// rest keep their value), or an override (`Env`).
    pub fn delete(&mut self, name: &SecretName, scope: Option<&Selector>) -> Result<DeleteReport> {
        let n = name.as_str();
        let Some(mut entry) = self.live(n).cloned() else {
            return Err(StoreError::NotFound(
                n.into(),
                "(it is not set at all)".into(),
            ));
        };
        if scope.is_none() {
            // The whole secret: kept, sealed, for `undelete` until the next `key rotate`.
            let report = entry
                .values
                .keys()
                .map(|k| (k.parse().expect("validated"), None))
                .collect();
            entry.deleted = Some(now());
            self.store.file.secrets.insert(n.into(), entry);
            return Ok(report);
        }
        let mut report = Vec::new();
        let keys: Vec<Selector> = entry
            .values
            .keys()
            .map(|k| k.parse().expect("validated"))
            .collect();
        for sel in keys {
            let left = match (scope, &sel) {
                (None, _) => None,
                (Some(Selector::Types(del)), Selector::Types(have)) => {
                    if have.intersection(*del).is_empty() {
                        continue;
                    }
                    Some(have.difference(*del))
                        .filter(|r| !r.is_empty())
                        .map(Selector::Types)
                }
                (Some(Selector::Env(e)), Selector::Env(have)) if e == have => None,
                _ => continue,
            };
            let e = entry
                .values
                .remove(&sel.to_string())
                .expect("key from entry");
            if let Some(rest) = &left {
                let moved = self.reseal(n, &sel, rest, &e)?;
                entry.values.insert(rest.to_string(), moved);
            }
            report.push((sel, left));
        }
        if report.is_empty() {
            let what = scope.map_or(String::new(), |s| format!("for {s}"));
            return Err(StoreError::NotFound(n.into(), what));
        }
        if entry.values.is_empty() {
            self.store.file.secrets.remove(n);
        } else {
            self.store.file.secrets.insert(n.into(), entry);
        }
        Ok(report)
    }

    /// Brings back a secret deleted whole (before the next `key rotate`). Returns how many
    /// values it has.
    pub fn undelete(&mut self, name: &SecretName) -> Result<usize> {
        let n = name.as_str();
        match self.store.file.secrets.get_mut(n) {
            Some(e) if e.deleted.is_some() => {
                e.deleted = None;
                Ok(e.values.len())
            }
            Some(_) => Err(StoreError::Invalid(format!("{n} is not deleted"))),
            None => Err(StoreError::NotFound(
                n.into(),
                "to undelete (a `key rotate` purges deleted secrets)".into(),
            )),
        }
    }

    /// Makes an earlier version current again (as a new version). `to: None` takes the one
    /// before the current.
    pub fn rollback(
        &mut self,
        name: &SecretName,
        scope: &Scope,
        to: Option<u64>,
    ) -> Result<(Selector, u64, u64)> {
        let sel = self.selector_for(name, scope)?;
        let e = self.entry(name, &sel)?.clone();
        let n = name.as_str();
        let target = match to {
            Some(v) => e.history.iter().find(|h| h.version == v).ok_or_else(|| {
                let kept: Vec<String> = e.history.iter().map(|h| h.version.to_string()).collect();
                StoreError::NotFound(
                    n.into(),
                    format!(
                        "version {v} for {sel} (kept earlier versions: {})",
                        if kept.is_empty() {
                            "none".into()
                        } else {
                            kept.join(", ")
                        }
                    ),
                )
            })?,
            None => e.history.last().ok_or_else(|| {
                StoreError::NotFound(
                    n.into(),
                    format!("earlier version for {sel}: it has only one"),
                )
            })?,
        };
        let from = target.version;
        let value = self.open(n, &sel, target.version, &target.sealed)?;
        let report = self.set(name, &sel, value, None)?;
        Ok((sel, from, report.version))
    }

    /// Every secret's value for `env` (its override, else its type's), sorted by name.
    pub fn resolve_all(&self, env: &EnvRef) -> Result<Vec<(SecretName, SecretValue)>> {
        let mut out = Vec::new();
        for info in self.secrets() {
            if let Some(v) = info.resolve(env) {
                let e = self.entry(&info.name, &v.selector)?;
                out.push((
                    info.name.clone(),
                    self.open(info.name.as_str(), &v.selector, e.version, &e.sealed)?,
                ));
            }
        }
        Ok(out)
    }
}
