//! Ownership labels and value fingerprints.
//!
//! Every secret secretsync writes carries `managed-by=secretsync`, `secretsync-store=<store id>`
//! and `secretsync-fp=<fingerprint>`: the first 32 hex digits of HMAC-SHA256 over the backend
//! name and the value, keyed by the store's fingerprint key (sealed in the store, stable across
//! data-key rotation). Equal fingerprints mean equal values, so a plan decides from list
//! metadata alone; the label reveals nothing about the value.
//!
//! A write's idempotency token is the fingerprint followed by 16 hex digits of nonce. Backends
//! that honour tokens make it the version id, so the current version tells whether it is the
//! one secretsync wrote for that fingerprint (anything else is drift), while a retried write
//! reuses its token and never adds a second version.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secretsync_core::{Labels, SecretMeta, SecretValue};
use sha2::Sha256;

/// Label naming the tool.
pub const MANAGED_BY: &str = "managed-by";
/// Its value.
pub const MANAGED_BY_VALUE: &str = "secretsync";
/// Label naming the owning store.
pub const STORE_LABEL: &str = "secretsync-store";
/// Label holding the value's fingerprint.
pub const FP_LABEL: &str = "secretsync-fp";

const FP_HEX: usize = 32;

/// Who owns a secret found in a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This store.
    Us,
    /// Another secretsync store (its id).
    OtherStore(String),
    /// Not written by secretsync.
    Unmanaged,
}

/// Computes fingerprints and ownership labels for one store.
pub struct Fingerprinter {
    key: SecretValue,
    store_id: String,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprinter({})", self.store_id)
    }
}

impl Fingerprinter {
    /// A fingerprinter for the store `store_id` with its fingerprint key.
    pub fn new(key: SecretValue, store_id: &str) -> Self {
        Self {
            key,
            store_id: store_id.into(),
        }
    }

    /// The store's id.
    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    /// The fingerprint of `value` stored as `name`: 32 lowercase hex digits.
    pub fn fingerprint(&self, name: &str, value: &SecretValue) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.expose())
            .expect("HMAC takes any key length");
        mac.update(b"secretsync/fp/v1\0");
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(value.expose());
        let mut out = hex::encode(mac.finalize().into_bytes());
        out.truncate(FP_HEX);
        out
    }

    /// The labels a write of a value with fingerprint `fp` carries.
    pub fn labels(&self, fp: &str) -> Labels {
        [
            (MANAGED_BY, MANAGED_BY_VALUE),
            (STORE_LABEL, self.store_id.as_str()),
            (FP_LABEL, fp),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Who owns the secret `meta` describes.
    pub fn owner(&self, meta: &SecretMeta) -> Owner {
        if meta.labels.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
            return Owner::Unmanaged;
        }
        match meta.labels.get(STORE_LABEL) {
            Some(s) if *s == self.store_id => Owner::Us,
            Some(s) => Owner::OtherStore(s.clone()),
            None => Owner::Unmanaged,
        }
    }
}

/// The fingerprint label of a secret, if any.
pub fn label_fp(meta: &SecretMeta) -> Option<&str> {
    meta.labels.get(FP_LABEL).map(String::as_str)
}

/// A fresh idempotency token for a write of a value with fingerprint `fp`.
pub fn new_token(fp: &str) -> String {
    let mut nonce = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    format!("{fp}{}", hex::encode(nonce))
}

/// True when version id `version` was written by secretsync for fingerprint `fp`.
pub fn version_is(version: &str, fp: &str) -> bool {
    version.len() == FP_HEX + 16 && version.starts_with(fp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fpr(store: &str) -> Fingerprinter {
        Fingerprinter::new(SecretValue::from("k".repeat(32).as_str()), store)
    }

    #[test]
    fn fingerprints_are_short_keyed_and_name_bound() {
        let f = fpr("s1");
        let a = f.fingerprint("app/A", &"v".into());
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a, f.fingerprint("app/A", &"v".into()));
        assert_ne!(a, f.fingerprint("app/B", &"v".into()), "bound to the name");
        assert_ne!(a, f.fingerprint("app/A", &"w".into()));
        let other_key = Fingerprinter::new(SecretValue::from("x".repeat(32).as_str()), "s1");
        assert_ne!(a, other_key.fingerprint("app/A", &"v".into()), "keyed");
    }

    #[test]
    fn tokens_carry_the_fingerprint_and_differ_per_write() {
        let fp = fpr("s").fingerprint("n", &"v".into());
        let (t1, t2) = (new_token(&fp), new_token(&fp));
        assert_ne!(t1, t2);
        assert!(version_is(&t1, &fp) && t1.len() == 48);
        assert!(!version_is("1", &fp) && !version_is(&t1, &"0".repeat(32)));
    }

    #[test]
    fn ownership_is_read_from_labels() {
        let f = fpr("store-a");
        let meta = |labels: Labels| SecretMeta {
            name: "n".into(),
            labels,
            ..Default::default()
        };
        assert_eq!(f.owner(&meta(f.labels("ab"))), Owner::Us);
        assert_eq!(
            f.owner(&meta(fpr("store-b").labels("ab"))),
            Owner::OtherStore("store-b".into())
        );
        assert_eq!(f.owner(&meta(Labels::new())), Owner::Unmanaged);
    }
}
