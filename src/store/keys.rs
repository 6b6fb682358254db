//! Keys: recipients of the data key, rotation of the data key and the fingerprint key, and
//! the fingerprint keys the sync engine uses.

use super::file::{now, seal, Unlocked};
use super::format::WrappedKey;
use super::{crypto, Result, StoreError};
use crate::model::Selector;
use secretsync_core::{Recipient, SecretValue};
use std::collections::BTreeMap;

impl Unlocked {
    /// Wraps the data key for one more recipient.
    pub async fn add_recipient(&mut self, r: &dyn Recipient) -> Result<()> {
        let id = r.id();
        if self.file.recipients.contains_key(&id) {
            return Err(StoreError::Invalid(format!(
                "{id} is already a recipient of this store"
            )));
        }
        let wrapped = r.wrap(&self.key, self.id()).await?;
        self.store.file.recipients.insert(
            id,
            WrappedKey {
                added: now(),
                wrapped,
            },
        );
        Ok(())
    }

    /// Removes a recipient's wrapped key. Refuses to remove the last one.
    pub fn remove_recipient(&mut self, id: &str) -> Result<()> {
        if !self.file.recipients.contains_key(id) {
            return Err(StoreError::Invalid(format!(
                "{id} is not a recipient of this store (see `secretsync key list`)"
            )));
        }
        if self.file.recipients.len() == 1 {
            return Err(StoreError::Invalid(
                "refusing to remove the last recipient: nobody could open the store. Add another first".into(),
            ));
        }
        self.store.file.recipients.remove(id);
        Ok(())
    }

    /// Replaces the data key: re-seals every value (and its history) and the fingerprint keys,
    /// and wraps the new key for `recipients` (which must be the store's recipients). With
    /// `new_fingerprint_key`, the fingerprint key is replaced too and the old one retired (kept,
    /// sealed, so secrets written under it are still recognised), so that a removed recipient
    /// cannot confirm guesses of future values against the backends' labels.
    pub async fn rotate(
        &mut self,
        recipients: &[Box<dyn Recipient>],
        new_fingerprint_key: bool,
    ) -> Result<usize> {
        let store_id = self.id().to_string();
        let fp_aad = crypto::fingerprint_key_aad(&store_id);
        let retired_aad = crypto::retired_fingerprint_key_aad(&store_id);
        let (mut fp, mut retired) = self.fingerprint_keys()?;
        if new_fingerprint_key {
            let fresh = crypto::new_data_key();
            retired.insert(0, fp);
            fp = SecretValue::new(fresh.expose().to_vec());
        }
        let mut plain = Vec::new();
        // Deleted secrets are purged: their values are not carried under the new key.
        self.store.file.secrets.retain(|_, e| e.deleted.is_none());
        for (name, entry) in &self.file.secrets {
            for (sel, e) in &entry.values {
                let sel: Selector = sel.parse().expect("validated");
                plain.push((name.clone(), sel.clone(), self.plain_entry(name, &sel, e)?));
            }
        }
        let new_key = crypto::new_data_key();
        let mut wrapped = BTreeMap::new();
        for r in recipients {
            let w = r.wrap(&new_key, &store_id).await?;
            let added = self
                .file
                .recipients
                .get(&r.id())
                .map_or_else(now, |w| w.added);
            wrapped.insert(r.id(), WrappedKey { added, wrapped: w });
        }
        self.key = new_key;
        let count = plain.len();
        for (name, sel, versions) in plain {
            let e = self.seal_entry(&name, &sel, versions)?;
            let entry = self.store.file.secrets.get_mut(&name).expect("exists");
            entry.values.insert(sel.to_string(), e);
        }
        let retired = retired
            .iter()
            .map(|k| seal(&self.key, &retired_aad, k.expose()))
            .collect::<Result<Vec<_>>>()?;
        let h = &mut self.store.file.secretsync;
        h.key_id = crypto::key_id(&self.key);
        h.fingerprint_key = seal(&self.key, &fp_aad, fp.expose())?;
        h.fingerprint_key_id = Some(crypto::fingerprint_key_id(&fp));
        h.retired_fingerprint_keys = retired;
        self.store.file.recipients = wrapped;
        Ok(count)
    }

    /// The key of value fingerprints (stable across data-key rotation), checked against the id
    /// the header records, and the retired ones, newest first.
    pub fn fingerprint_keys(&self) -> Result<(SecretValue, Vec<SecretValue>)> {
        let h = &self.file.secretsync;
        let tampered = |what: &str| StoreError::Tampered {
            path: self.path.clone(),
            what: what.into(),
        };
        let current = crypto::open(
            &self.key,
            &crypto::fingerprint_key_aad(self.id()),
            &h.fingerprint_key,
        )
        .map_err(|_| tampered("the fingerprint key"))?;
        if h.fingerprint_key_id
            .as_ref()
            .is_some_and(|id| *id != crypto::fingerprint_key_id(&current))
        {
            return Err(tampered("the fingerprint key id"));
        }
        let aad = crypto::retired_fingerprint_key_aad(self.id());
        let retired = h
            .retired_fingerprint_keys
            .iter()
            .map(|k| {
                crypto::open(&self.key, &aad, k).map_err(|_| tampered("a retired fingerprint key"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((current, retired))
    }

    /// The current fingerprint key.
    pub fn fingerprint_key(&self) -> Result<SecretValue> {
        Ok(self.fingerprint_keys()?.0)
    }
}
