//! Values: opening and sealing them, and the edits `set`, `delete` and `rollback` make, history
//! included.
//!
//! A value is sealed once per scope its selector touches, each ciphertext bound to its store,
//! scope, secret and the part of the selector in that scope. Splitting a value across scopes,
//! absorbing another's history or rolling back moves ciphertexts without opening them whenever
//! that part stays the same, so a user who can only seal for a scope can still do it.

use super::file::{now, Store, Unlocked};
use super::format::{HistoryEntry, SealedMap, ValueEntry, FORMAT_V1, LEGACY_SCOPE};
use super::info::{DeleteReport, SecretInfo, SetReport, VersionInfo};
use super::{crypto, Result, StoreError, Target, HISTORY_LIMIT};
use crate::model::{plan_set, EnvRef, EnvType, SecretName, Selector};
use chrono::{DateTime, Utc};
use secretsync_core::{SecretValue, MAX_VALUE_BYTES};

/// One version of a value as stored: its ciphertext per scope.
#[derive(Debug, Clone)]
pub(super) struct Sealed {
    pub version: u64,
    pub updated: DateTime<Utc>,
    pub replaced: Option<DateTime<Utc>>,
    pub sealed: SealedMap,
}

/// The versions of a stored value, oldest first; the last is current.
pub(super) fn versions(e: &ValueEntry) -> Vec<Sealed> {
    let mut out: Vec<Sealed> = e
        .history
        .iter()
        .map(|h| Sealed {
            version: h.version,
            updated: h.updated,
            replaced: Some(h.replaced),
            sealed: h.sealed.clone(),
        })
        .collect();
    out.push(Sealed {
        version: e.version,
        updated: e.updated,
        replaced: None,
        sealed: e.sealed.clone(),
    });
    out
}

/// A stored value from its versions (the last is current), keeping [`HISTORY_LIMIT`] earlier.
pub(super) fn entry_from(mut versions: Vec<Sealed>) -> Result<ValueEntry> {
    let cur = versions
        .pop()
        .ok_or_else(|| StoreError::Invalid("no value".into()))?;
    let skip = versions.len().saturating_sub(HISTORY_LIMIT);
    let history = versions
        .into_iter()
        .skip(skip)
        .filter(|v| !v.sealed.is_empty())
        .map(|v| HistoryEntry {
            version: v.version,
            updated: v.updated,
            replaced: v.replaced.unwrap_or(cur.updated),
            sealed: v.sealed,
        })
        .collect();
    Ok(ValueEntry {
        version: cur.version,
        updated: cur.updated,
        sealed: cur.sealed,
        history,
    })
}

impl Store {
    /// The scopes `sel`'s value is sealed for, with the part of `sel` each binds (no key needed).
    pub fn parts(&self, name: &str, sel: &Selector) -> Result<Vec<(String, String)>> {
        if self.format() == FORMAT_V1 {
            return Ok(vec![(LEGACY_SCOPE.to_string(), sel.to_string())]);
        }
        let env_type = match sel {
            Selector::Env(n) => Some(self.env_types.get(n.as_str()).copied().ok_or_else(|| {
                StoreError::Invalid(format!(
                    "secret {name}: the override for environment {n} needs {n} declared in secretsync.toml: its type decides which scope may read it"
                ))
            })?),
            Selector::Types(_) => None,
        };
        Ok(self.layout().parts(sel, env_type))
    }
}

/// Stores of at least this many secrets open their values on every core.
const PARALLEL_FROM: usize = 2_000;

impl Unlocked {
    fn v1(&self) -> bool {
        self.format() == FORMAT_V1
    }

    /// The part of `sel` a ciphertext in `scope` binds.
    fn part(&self, scope: &str, sel: &Selector) -> String {
        match (sel, self.layout().types(scope)) {
            (Selector::Types(t), Some(s)) if !self.v1() => t.intersection(s).to_string(),
            _ => sel.to_string(),
        }
    }

    fn aad(&self, scope: &str, name: &str, sel: &Selector, version: u64) -> Vec<u8> {
        if self.v1() {
            crypto::value_aad(self.id(), name, &sel.to_string(), version)
        } else {
            crypto::value_aad_v2(self.id(), scope, name, &self.part(scope, sel))
        }
    }

    /// Opens one ciphertext of version `version` of `name`'s value for `sel`.
    fn open_ct(
        &self,
        scope: &str,
        name: &str,
        sel: &Selector,
        version: u64,
        ct: &str,
    ) -> Result<SecretValue> {
        let key = self.key(scope)?;
        let aad = self.aad(scope, name, sel, version);
        let opened = if self.v1() {
            crypto::open(key, &aad, ct)
        } else {
            self.seal_cache.open_with(key, &aad, ct)
        };
        opened.map_err(|_| StoreError::Tampered {
            path: self.path.clone(),
            what: format!("the value of {name} for {sel} (version {version}, scope {scope})"),
        })
    }

    /// Seals `value` for `scope` (its public key: no secret needed).
    pub(super) fn seal_ct(
        &self,
        scope: &str,
        name: &str,
        sel: &Selector,
        value: &SecretValue,
    ) -> Result<String> {
        let public = &self
            .file
            .scopes
            .get(scope)
            .ok_or_else(|| StoreError::Invalid(format!("the store has no scope {scope}")))?
            .public_key;
        // A key unwrapped for this scope that does not match its public key means the public
        // key was replaced (to harvest what others seal): never seal for it.
        if self
            .failures
            .get(scope)
            .is_some_and(|f| f.starts_with(super::WRONG_KEY))
        {
            return Err(StoreError::Invalid(format!(
                "the public key of scope {scope} does not match the key its recipients hold: the store file was edited to make values sealed for {scope} readable by someone else. Restore it from version control"
            )));
        }
        self.seal_cache
            .seal_to(public, &self.aad(scope, name, sel, 0), value.expose())
            .map_err(|_| StoreError::Invalid(format!("cannot seal for scope {scope}: its public key is damaged. Restore the file from version control")))
    }

    /// Seals `value` for every scope `sel` touches.
    fn seal_all(&self, name: &str, sel: &Selector, value: &SecretValue) -> Result<SealedMap> {
        self.parts(name, sel)?
            .into_iter()
            .map(|(scope, _)| Ok((scope.clone(), self.seal_ct(&scope, name, sel, value)?)))
            .collect()
    }

    /// Opens one version from whichever of its scopes this user can open (`prefer` first).
    pub(super) fn open_version(
        &self,
        name: &str,
        sel: &Selector,
        v: &Sealed,
        prefer: &str,
    ) -> Result<SecretValue> {
        let (scope, ct) = match v.sealed.get(prefer) {
            Some(ct) => (prefer, ct),
            None => v
                .sealed
                .iter()
                .find(|(s, _)| self.can_open(s))
                .or_else(|| v.sealed.first())
                .map(|(s, ct)| (s.as_str(), ct))
                .ok_or_else(|| StoreError::NotFound(name.into(), format!("for {sel}")))?,
        };
        self.open_ct(scope, name, sel, v.version, ct)
    }

    fn entry(&self, name: &SecretName, sel: &Selector) -> Result<&ValueEntry> {
        self.live(name.as_str())
            .and_then(|s| s.values.get(&sel.to_string()))
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {sel}")))
    }

    /// The current value of `name` for `sel`, opened in the scope of type `t`.
    fn open_current(
        &self,
        name: &str,
        sel: &Selector,
        t: EnvType,
        e: &ValueEntry,
    ) -> Result<SecretValue> {
        let scope = if self.v1() {
            LEGACY_SCOPE.to_string()
        } else {
            self.scope_of(t)
        };
        let Some(ct) = e.sealed.get(&scope) else {
            let held = e.sealed.keys().cloned().collect::<Vec<_>>().join(",");
            return Err(StoreError::Invalid(format!(
                "the value of {name} for {sel} is sealed for scope {held}, but {t} values belong to scope {scope} (the environment's type or the scopes changed): set it again with `secretsync set {name}`"
            )));
        };
        self.open_ct(&scope, name, sel, e.version, ct)
    }

    /// The selector `target` refers to in `name`: for a type, the value that holds the type.
    pub fn selector_for(&self, name: &SecretName, target: &Target) -> Result<Selector> {
        let info = self.secret(name).ok_or_else(|| {
            StoreError::NotFound(name.to_string(), "(it is not set at all)".into())
        })?;
        let found = match target {
            Target::Type(t) => info.for_type(*t),
            Target::Env(env) => info.resolve(env),
        };
        found
            .map(|v| v.selector.clone())
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {target}")))
    }

    /// The current value `target` resolves to.
    pub fn get(&self, name: &SecretName, target: &Target) -> Result<SecretValue> {
        let sel = self.selector_for(name, target)?;
        let e = self.entry(name, &sel)?;
        self.open_current(name.as_str(), &sel, target.env_type(), e)
    }

    /// The current value stored under exactly `sel`, if there is one.
    pub fn get_exact(&self, name: &SecretName, sel: &Selector) -> Result<Option<SecretValue>> {
        match self.entry(name, sel) {
            Ok(e) => {
                let cur = versions(e).pop().expect("a current version");
                let prefer = self.opened().into_iter().next().unwrap_or_default();
                Ok(Some(self.open_version(
                    name.as_str(),
                    sel,
                    &cur,
                    &prefer,
                )?))
            }
            Err(StoreError::NotFound(..)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The versions kept for the value `target` resolves to, newest first.
    pub fn history(
        &self,
        name: &SecretName,
        target: &Target,
    ) -> Result<(Selector, Vec<VersionInfo>)> {
        let sel = self.selector_for(name, target)?;
        let versions = self
            .versions(name, &sel)
            .ok_or_else(|| StoreError::NotFound(name.to_string(), format!("for {sel}")))?;
        Ok((sel, versions))
    }

    /// Moves one version from selector `from` to `to`: ciphertexts of scopes `to` no longer
    /// touches are dropped; those whose bound part is unchanged are kept as they are; the others
    /// are opened and sealed again (which needs that scope).
    fn rebind(&self, name: &str, from: &Selector, to: &Selector, v: Sealed) -> Result<Sealed> {
        let mut sealed = SealedMap::new();
        for (scope, part_to) in self.parts(name, to)? {
            let Some(ct) = v.sealed.get(&scope) else {
                continue;
            };
            if self.part(&scope, from) == part_to {
                sealed.insert(scope, ct.clone());
                continue;
            }
            let plain = self.open_ct(&scope, name, from, v.version, ct).map_err(|e| match e {
                StoreError::ScopeLocked { recipients, .. } => StoreError::Invalid(format!(
                    "secret {name}: this change moves the value for {from} to {to}, which re-seals its {scope} part, and you cannot open scope {scope}: ask one of its recipients ({recipients}) to make it"
                )),
                e => e,
            })?;
            sealed.insert(scope.clone(), self.seal_ct(&scope, name, to, &plain)?);
        }
        Ok(Sealed { sealed, ..v })
    }

    fn rebind_all(
        &self,
        name: &str,
        from: &Selector,
        to: &Selector,
        e: &ValueEntry,
    ) -> Result<Vec<Sealed>> {
        versions(e)
            .into_iter()
            .map(|v| self.rebind(name, from, to, v))
            .collect()
    }

    fn writable(&self) -> Result<()> {
        if self.v1() {
            return Err(StoreError::Invalid(
                "this store is in format 1: upgrade it first with `secretsync upgrade`".into(),
            ));
        }
        Ok(())
    }

    /// Sets `name` for `target`, splitting it off any value it shared types with. Needs no key
    /// unless a split re-seals a part of a value (see [`Unlocked::rebind`]).
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
        self.writable()?;
        let sealed = self.seal_all(name.as_str(), target, &value)?;
        self.put(name, target, sealed, description)
    }

    /// Makes `sealed` the new current value of `name` for `target`.
    fn put(
        &mut self,
        name: &SecretName,
        target: &Selector,
        sealed: SealedMap,
        description: Option<String>,
    ) -> Result<SetReport> {
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
            let moved = self.rebind_all(n, old, rest, &e)?;
            entry.values.insert(rest.to_string(), entry_from(moved)?);
        }
        let mut all = match entry.values.remove(&target.to_string()) {
            Some(e) => versions(&e),
            None => Vec::new(),
        };
        for old in &plan.absorbed {
            let e = entry
                .values
                .remove(&old.to_string())
                .expect("planned from entry");
            let mut moved = self.rebind_all(n, old, target, &e)?;
            if let Some(last) = moved.last_mut() {
                last.replaced = Some(now);
            }
            all.extend(moved);
        }
        if !plan.absorbed.is_empty() {
            all.sort_by_key(|p| p.updated);
            for (i, p) in all.iter_mut().enumerate() {
                p.version = i as u64 + 1;
            }
        }
        if let Some(last) = all.last_mut() {
            last.replaced.get_or_insert(now);
        }
        let version = all.last().map_or(1, |p| p.version + 1);
        all.push(Sealed {
            version,
            updated: now,
            replaced: None,
            sealed,
        });
        entry.values.insert(target.to_string(), entry_from(all)?);
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

    /// Deletes a secret (`sel: None`), types from the values that hold them (`Types`: the rest
    /// keep their value), or an override (`Env`).
    pub fn delete(&mut self, name: &SecretName, sel: Option<&Selector>) -> Result<DeleteReport> {
        self.writable()?;
        let n = name.as_str();
        let Some(mut entry) = self.live(n).cloned() else {
            return Err(StoreError::NotFound(
                n.into(),
                "(it is not set at all)".into(),
            ));
        };
        let Some(del) = sel else {
            // The whole secret: kept, sealed, for `undelete` until the next `key rotate`.
            let report = entry
                .values
                .keys()
                .map(|k| (k.parse().expect("validated"), None))
                .collect();
            entry.deleted = Some(now());
            self.store.file.secrets.insert(n.into(), entry);
            return Ok(report);
        };
        let mut report = Vec::new();
        let keys: Vec<Selector> = entry
            .values
            .keys()
            .map(|k| k.parse().expect("validated"))
            .collect();
        for have in keys {
            let left = match (del, &have) {
                (Selector::Types(del), Selector::Types(types)) => {
                    if types.intersection(*del).is_empty() {
                        continue;
                    }
                    Some(types.difference(*del))
                        .filter(|r| !r.is_empty())
                        .map(Selector::Types)
                }
                (Selector::Env(e), Selector::Env(h)) if e == h => None,
                _ => continue,
            };
            let e = entry
                .values
                .remove(&have.to_string())
                .expect("key from entry");
            if let Some(rest) = &left {
                let moved = self.rebind_all(n, &have, rest, &e)?;
                entry.values.insert(rest.to_string(), entry_from(moved)?);
            }
            report.push((have, left));
        }
        if report.is_empty() {
            return Err(StoreError::NotFound(n.into(), format!("for {del}")));
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
        self.writable()?;
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
    /// before the current. Copies its ciphertexts; opens it only to seal it for a scope it was
    /// never sealed for (a version that came with another value's history).
    pub fn rollback(
        &mut self,
        name: &SecretName,
        target: &Target,
        to: Option<u64>,
    ) -> Result<(Selector, u64, u64)> {
        self.writable()?;
        let sel = self.selector_for(name, target)?;
        let e = self.entry(name, &sel)?.clone();
        let n = name.as_str();
        let found = match to {
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
        let from = found.version;
        let old = Sealed {
            version: found.version,
            updated: found.updated,
            replaced: Some(found.replaced),
            sealed: found.sealed.clone(),
        };
        let mut sealed = SealedMap::new();
        let mut plain = None;
        for (scope, _) in self.parts(n, &sel)? {
            let ct = match old.sealed.get(&scope) {
                Some(ct) => ct.clone(),
                None => {
                    if plain.is_none() {
                        plain = Some(self.open_version(n, &sel, &old, &scope)?);
                    }
                    self.seal_ct(&scope, n, &sel, plain.as_ref().expect("opened"))?
                }
            };
            sealed.insert(scope, ct);
        }
        let report = self.put(name, &sel, sealed, None)?;
        Ok((sel, from, report.version))
    }

    /// Every secret's value for `env` (its override, else its type's), sorted by name. Needs
    /// the scope of `env`'s type.
    pub fn resolve_all(&self, env: &EnvRef) -> Result<Vec<(SecretName, SecretValue)>> {
        let infos = self.secrets();
        let open = |infos: &[SecretInfo]| -> Result<Vec<(SecretName, SecretValue)>> {
            let mut out = Vec::with_capacity(infos.len());
            for info in infos {
                if let Some(v) = info.resolve(env) {
                    let e = self.entry(&info.name, &v.selector)?;
                    let value =
                        self.open_current(info.name.as_str(), &v.selector, env.env_type(), e)?;
                    out.push((info.name.clone(), value));
                }
            }
            Ok(out)
        };
        // Opening is the cost here (a decryption each): a large store opens on every core.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if infos.len() < PARALLEL_FROM || threads < 2 {
            return open(&infos);
        }
        let chunk = infos.len().div_ceil(threads);
        let parts: Vec<Result<Vec<_>>> = std::thread::scope(|s| {
            let open = &open;
            let handles: Vec<_> = infos
                .chunks(chunk)
                .map(|c| s.spawn(move || open(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a value-opening thread panicked"))
                .collect()
        });
        let mut out = Vec::with_capacity(infos.len());
        for part in parts {
            out.extend(part?);
        }
        Ok(out)
    }
}
