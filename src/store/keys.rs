//! Keys: recipients of each scope, rotation of a scope's key pair and fingerprint key, the
//! fingerprint keys the sync engine uses, and re-laying the store out into other scopes (which
//! is also how a format-1 store is upgraded).

use super::file::{new_scope, now, Unlocked};
use super::format::{self, ScopeEntry, SealedMap, WrappedKey, FORMAT};
use super::values::{entry_from, versions, Sealed};
use super::{crypto, Result, StoreError};
use crate::model::{EnvType, ScopeLayout, Selector, TypeSet};
use secretsync_core::{DataKey, Recipient, SecretValue};
use std::collections::BTreeMap;

impl Unlocked {
    fn scope_entry(&self, scope: &str) -> Result<&ScopeEntry> {
        self.file.scopes.get(scope).ok_or_else(|| {
            StoreError::Invalid(format!(
                "the store has no scope {scope} (it has {})",
                self.file
                    .scopes
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// What a scope's private key is wrapped for.
    fn wrap_context(&self, scope: &str) -> String {
        if self.format() == format::FORMAT_V1 {
            self.id().to_string()
        } else {
            crypto::scope_wrap_context(self.id(), scope)
        }
    }

    /// Wraps `scope`'s private key for one more recipient (needs the scope open).
    pub async fn add_recipient(&mut self, scope: &str, r: &dyn Recipient) -> Result<()> {
        let id = r.id();
        if self.scope_entry(scope)?.recipients.contains_key(&id) {
            return Err(StoreError::Invalid(format!(
                "{id} is already a recipient of scope {scope}"
            )));
        }
        let wrapped = r.wrap(self.key(scope)?, &self.wrap_context(scope)).await?;
        let entry = self.store.file.scopes.get_mut(scope).expect("checked");
        entry.recipients.insert(
            id,
            WrappedKey {
                added: now(),
                wrapped,
            },
        );
        Ok(())
    }

    /// Removes a recipient from a scope. Refuses to remove a scope's last recipient.
    pub fn remove_recipient(&mut self, scope: &str, id: &str) -> Result<()> {
        let entry = self.scope_entry(scope)?;
        if !entry.recipients.contains_key(id) {
            return Err(StoreError::Invalid(format!(
                "{id} is not a recipient of scope {scope} (see `secretsync key list`)"
            )));
        }
        if entry.recipients.len() == 1 {
            return Err(StoreError::Invalid(format!(
                "refusing to remove the last recipient of scope {scope}: nobody could open it. Add another first"
            )));
        }
        let entry = self.store.file.scopes.get_mut(scope).expect("checked");
        entry.recipients.remove(id);
        Ok(())
    }

    /// Replaces `scope`'s key pair: re-seals every value (and its history) in the scope and its
    /// fingerprint keys, and wraps the new key for `recipients` (the scope's recipients). With
    /// `new_fingerprint_key`, the fingerprint key is replaced too and the old one retired (kept,
    /// sealed, so secrets written under it are still recognised), so that a removed recipient
    /// cannot confirm guesses of future values against the backends' labels. Purges secrets
    /// deleted whole. Returns how many ciphertexts were re-sealed.
    pub async fn rotate(
        &mut self,
        scope: &str,
        recipients: &[Box<dyn Recipient>],
        new_fingerprint_key: bool,
    ) -> Result<usize> {
        if self.format() == format::FORMAT_V1 {
            return Err(StoreError::Invalid(
                "this store is in format 1: upgrade it first with `secretsync upgrade`".into(),
            ));
        }
        self.scope_entry(scope)?;
        let (mut fp, mut retired) = self.fingerprint_keys(scope)?;
        if new_fingerprint_key {
            retired.insert(0, fp);
            fp = SecretValue::new(crypto::new_data_key().expose().to_vec());
        }
        self.store.file.secrets.retain(|_, e| e.deleted.is_none());
        // Open everything in the scope under the old key…
        let mut plain = Vec::new();
        for (name, entry) in &self.file.secrets {
            for (sel, e) in &entry.values {
                let sel: Selector = sel.parse().expect("validated");
                for (i, v) in versions(e).iter().enumerate() {
                    if let Some(ct) = v.sealed.get(scope) {
                        let p = self.open_one(scope, name, &sel, v.version, ct)?;
                        plain.push((name.clone(), sel.clone(), i, p));
                    }
                }
            }
        }
        // …switch to the new key pair…
        let new_key = crypto::new_data_key();
        let context = self.wrap_context(scope);
        let mut wrapped = BTreeMap::new();
        for r in recipients {
            let w = r.wrap(&new_key, &context).await?;
            let added = self
                .scope_entry(scope)?
                .recipients
                .get(&r.id())
                .map_or_else(now, |w| w.added);
            wrapped.insert(r.id(), WrappedKey { added, wrapped: w });
        }
        let public = crypto::scope_public_key(&new_key);
        let store_id = self.id().to_string();
        let seal_fp = |k: &SecretValue, retired: bool| {
            super::file::seal_fingerprint_key(&store_id, scope, &public, k, retired)
        };
        let entry = ScopeEntry {
            types: self.scope_entry(scope)?.types.clone(),
            public_key: public.clone(),
            fingerprint_key: seal_fp(&fp, false)?,
            fingerprint_key_id: Some(crypto::fingerprint_key_id(&fp)),
            retired_fingerprint_keys: retired
                .iter()
                .map(|k| seal_fp(k, true))
                .collect::<Result<_>>()?,
            recipients: wrapped,
        };
        self.store.file.scopes.insert(scope.to_string(), entry);
        self.keys.insert(scope.to_string(), new_key);
        // …and seal it again under the new one.
        let count = plain.len();
        for (name, sel, i, p) in plain {
            let ct = self.seal_ct(scope, &name, &sel, &p)?;
            let e = self
                .store
                .file
                .secrets
                .get_mut(&name)
                .and_then(|s| s.values.get_mut(&sel.to_string()))
                .expect("exists");
            match e.history.get_mut(i) {
                Some(h) => h.sealed.insert(scope.to_string(), ct),
                None => e.sealed.insert(scope.to_string(), ct),
            };
        }
        Ok(count)
    }

    fn open_one(
        &self,
        scope: &str,
        name: &str,
        sel: &Selector,
        version: u64,
        ct: &str,
    ) -> Result<SecretValue> {
        let v = Sealed {
            version,
            updated: now(),
            replaced: None,
            sealed: SealedMap::from_iter([(scope.to_string(), ct.to_string())]),
        };
        self.open_version(name, sel, &v, scope)
    }

    /// The key of value fingerprints of `scope` (stable across rotation of its key pair),
    /// checked against the id the file records, and the retired ones, newest first.
    pub fn fingerprint_keys(&self, scope: &str) -> Result<(SecretValue, Vec<SecretValue>)> {
        let v1 = self.format() == format::FORMAT_V1;
        let s = self.scope_entry(scope)?;
        let key = self.key(scope)?;
        let tampered = |what: &str| StoreError::Tampered {
            path: self.path.clone(),
            what: format!("{what} of scope {scope}"),
        };
        let open = |k: &str, retired: bool| {
            if v1 {
                let aad = if retired {
                    crypto::retired_fingerprint_key_aad(self.id())
                } else {
                    crypto::fingerprint_key_aad(self.id())
                };
                crypto::open(key, &aad, k)
            } else {
                let aad = crypto::scope_fingerprint_key_aad(self.id(), scope, retired);
                crypto::open_with(key, &aad, k)
            }
        };
        let current =
            open(&s.fingerprint_key, false).map_err(|_| tampered("the fingerprint key"))?;
        if s.fingerprint_key_id
            .as_ref()
            .is_some_and(|id| *id != crypto::fingerprint_key_id(&current))
        {
            return Err(tampered("the fingerprint key id"));
        }
        let retired = s
            .retired_fingerprint_keys
            .iter()
            .map(|k| open(k, true).map_err(|_| tampered("a retired fingerprint key")))
            .collect::<Result<Vec<_>>>()?;
        Ok((current, retired))
    }

    /// The current fingerprint key of `scope`.
    pub fn fingerprint_key(&self, scope: &str) -> Result<SecretValue> {
        Ok(self.fingerprint_keys(scope)?.0)
    }

    /// Lays the store out in `layout`'s scopes, in format 2 (this is how a format-1 store is
    /// upgraded). A scope whose name and types stay is kept as it is; every other scope gets a
    /// fresh key pair and fingerprint key, wrapped for the recipients of the old scopes that
    /// held its types, with their fingerprint keys retired into it (so the backends' secrets are
    /// still recognised). Values move without being opened where their scope is kept; the rest
    /// are opened (which needs the old scopes they were in) and sealed for their new scopes.
    /// `recipients` gives each recipient id of the store its wrapping. Returns the new scopes.
    pub async fn relayout(
        &mut self,
        layout: &ScopeLayout,
        recipients: &BTreeMap<String, Box<dyn Recipient>>,
    ) -> Result<Vec<String>> {
        let old = self.layout();
        let v1 = self.format() == format::FORMAT_V1;
        let kept = |name: &str, types: TypeSet| !v1 && old.types(name) == Some(types);
        // The override of an environment the config no longer declares goes to production's
        // scope: the narrowest choice.
        let env_type = |n: &str| {
            self.env_types
                .get(n)
                .copied()
                .unwrap_or(EnvType::Production)
        };
        let new_parts = |sel: &Selector| -> Vec<(String, String)> {
            let t = match sel {
                Selector::Env(n) => Some(env_type(n.as_str())),
                Selector::Types(_) => None,
            };
            layout.parts(sel, t)
        };

        // Phase 1, in the old layout: keep what can be kept, open the rest.
        struct Moving {
            name: String,
            sel: Selector,
            index: usize,
            keep: SealedMap,
            reseal: Vec<String>,
            plain: Option<SecretValue>,
        }
        let mut moving = Vec::new();
        for (name, entry) in &self.file.secrets {
            for (sel, e) in &entry.values {
                let sel: Selector = sel.parse().expect("validated");
                for (index, v) in versions(e).into_iter().enumerate() {
                    let mut keep = SealedMap::new();
                    let mut reseal = Vec::new();
                    for (scope, _) in new_parts(&sel) {
                        let types = layout.types(&scope).expect("from layout");
                        match v.sealed.get(&scope) {
                            Some(ct) if kept(&scope, types) => {
                                keep.insert(scope, ct.clone());
                            }
                            _ => reseal.push(scope),
                        }
                    }
                    let plain = if reseal.is_empty() {
                        None
                    } else {
                        let prefer = v
                            .sealed
                            .keys()
                            .find(|s| self.can_open(s))
                            .cloned()
                            .unwrap_or_default();
                        Some(self.open_version(name, &sel, &v, &prefer).map_err(|e| match e {
                            StoreError::ScopeLocked { scope, recipients, .. } => StoreError::Invalid(format!(
                                "changing the scopes moves values out of scope {scope}, which you cannot open: ask one of its recipients ({recipients}) to run it"
                            )),
                            e => e,
                        })?)
                    };
                    moving.push(Moving {
                        name: name.clone(),
                        sel: sel.clone(),
                        index,
                        keep,
                        reseal,
                        plain,
                    });
                }
            }
        }
        let mut fps: BTreeMap<String, Vec<SecretValue>> = BTreeMap::new();
        for (name, types) in layout.iter().filter(|(n, t)| !kept(n, *t)) {
            let mut retired = Vec::new();
            for (old_name, _) in old.split(types) {
                let (cur, older) = self.fingerprint_keys(old_name)?;
                retired.push(cur);
                retired.extend(older);
            }
            fps.insert(name.to_string(), retired);
        }

        // Phase 2: the new scopes.
        let store_id = self.id().to_string();
        let mut scopes = BTreeMap::new();
        let mut keys: BTreeMap<String, DataKey> = BTreeMap::new();
        for (name, types) in layout.iter() {
            if kept(name, types) {
                scopes.insert(name.to_string(), self.file.scopes[name].clone());
                if let Some(k) = self.keys.get(name) {
                    keys.insert(name.to_string(), k.clone());
                }
                continue;
            }
            let mut ids: Vec<&str> = Vec::new();
            for (old_name, _) in old.split(types) {
                ids.extend(
                    self.file.scopes[old_name]
                        .recipients
                        .keys()
                        .map(String::as_str),
                );
            }
            ids.sort_unstable();
            ids.dedup();
            let rs = ids
                .iter()
                .map(|id| {
                    recipients.get(*id).map(|r| r.as_ref()).ok_or_else(|| {
                        StoreError::Invalid(format!("no wrapping given for recipient {id}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let (entry, key) = new_scope(&store_id, name, types, &rs, &fps[name]).await?;
            scopes.insert(name.to_string(), entry);
            keys.insert(name.to_string(), key);
        }
        let h = &mut self.store.file.secretsync;
        h.format = FORMAT;
        h.cipher = format::CIPHER.into();
        self.store.file.scopes = scopes;
        self.keys = keys;
        self.failures.clear();

        // Phase 3, in the new layout: seal what moved.
        let mut rebuilt: BTreeMap<(String, String), Vec<Sealed>> = BTreeMap::new();
        for (name, entry) in &self.file.secrets {
            for (sel, e) in &entry.values {
                rebuilt.insert((name.clone(), sel.clone()), versions(e));
            }
        }
        for m in moving {
            let mut sealed = m.keep;
            for scope in m.reseal {
                let p = m.plain.as_ref().expect("opened for resealing");
                sealed.insert(scope.clone(), self.seal_ct(&scope, &m.name, &m.sel, p)?);
            }
            let vs = rebuilt
                .get_mut(&(m.name.clone(), m.sel.to_string()))
                .expect("collected");
            vs[m.index].sealed = sealed;
        }
        for ((name, sel), vs) in rebuilt {
            let e = entry_from(vs)?;
            let s = self.store.file.secrets.get_mut(&name).expect("exists");
            s.values.insert(sel, e);
        }
        Ok(layout.names().map(String::from).collect())
    }
}
