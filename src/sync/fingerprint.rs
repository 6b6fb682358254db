//! Ownership labels, value fingerprints and write tokens.
//!
//! Every secret secretsync writes carries:
//! - `managed-by=secretsync` and `secretsync-store=<store id>`;
//! - `secretsync-env=<environment>`: the environment that wrote it. Prune, drift and adoption act
//!   only on the environment's own secrets, so two environments that share a backend never touch
//!   each other's;
//! - `secretsync-fp=<fingerprint>`: the first 32 hex digits of HMAC-SHA256 over the backend name
//!   and the value, keyed by the store's fingerprint key. Equal fingerprints mean equal values, so a
//!   plan decides from list metadata alone; the label reveals nothing about the value;
//! - `secretsync-key=<key id>`: the public id of the fingerprint key that wrote it. The backends
//!   witness which key the store had: a store that cannot open that key (a replaced store) is
//!   refused (see [`Fingerprinter::continuity`]).
//!
//! A write's idempotency token is 16 hex digits of nonce followed by 32 hex digits of a MAC of
//! (name, fingerprint, nonce) under the fingerprint key. Backends that honour tokens make it the
//! version id, so the current version tells whether secretsync wrote it for that fingerprint
//! (anything else is drift), and only a holder of the key can make or check one: the public
//! fingerprint label alone proves nothing. A retried write reuses its token and never adds a
//! second version.

use hmac::{Hmac, Mac};
use rand::RngCore;
use secretsync_core::{Labels, SecretMeta, SecretValue};
use sha2::{Digest, Sha256};

/// Label naming the tool.
pub const MANAGED_BY: &str = "managed-by";
/// Its value.
pub const MANAGED_BY_VALUE: &str = "secretsync";
/// Label naming the owning store.
pub const STORE_LABEL: &str = "secretsync-store";
/// Label naming the environment that wrote the secret.
pub const ENV_LABEL: &str = "secretsync-env";
/// Label holding the value's fingerprint.
pub use secretsync_core::FP_LABEL;
/// Label holding the id of the fingerprint key that wrote the secret.
pub const KEY_LABEL: &str = "secretsync-key";
/// On an instance of a template (`pr:7`): the template's label (`pr`), by which its instances
/// are found without reading a value.
pub const TEMPLATE_LABEL: &str = "secretsync-template";
/// On an instance's secret: its id's label (the id itself when it is lowercase).
pub const INSTANCE_LABEL: &str = "secretsync-instance";
/// On an instance's secret: when it was last written (Unix seconds), for `teardown --older-than`.
pub const APPLIED_LABEL: &str = "secretsync-applied";

const FP_HEX: usize = 32;
const NONCE_HEX: usize = 16;

/// Who owns a secret found in a backend, as seen from one environment of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// This store and this environment.
    Us,
    /// This store, written before secretsync recorded the environment: never pruned, relabelled
    /// when written.
    Legacy,
    /// This store, another environment (its label).
    OtherEnv(String),
    /// Another secretsync store (its id).
    OtherStore(String),
    /// Not written by secretsync.
    Unmanaged,
}

/// A fingerprint key with its public id.
#[derive(Clone)]
pub struct FpKey {
    id: String,
    /// The HMAC keyed once (a plan makes a few MACs per secret; each clones this).
    keyed: Hmac<Sha256>,
}

impl FpKey {
    /// Wraps a key and computes its id.
    pub fn new(key: SecretValue) -> Self {
        Self {
            id: crate::store::crypto::fingerprint_key_id(&key),
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(key.expose())
                .expect("HMAC takes any key length"),
        }
    }

    /// Its public id (16 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
            mac.update(b"\0");
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// The value of the environment label for `env`: the name itself when every backend accepts it
/// as a label value (lowercase letters, digits, `-`, `_`; at most 63), else `h-` and a hash.
pub fn env_label(env: &str) -> String {
    let plain = !env.is_empty()
        && env.len() <= 63
        && env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if plain {
        env.to_string()
    } else {
        let h = Sha256::digest(format!("secretsync/env/v1\0{env}").as_bytes());
        format!("h-{}", hex::encode(&h[..12]))
    }
}

/// Computes fingerprints, tokens and ownership labels for one environment of one store.
pub struct Fingerprinter {
    current: FpKey,
    retired: Vec<FpKey>,
    store_id: String,
    env: String,
    /// For an instance of a template: the template's label and the id's.
    instance: Option<(String, String)>,
    /// A throwaway key (a migration without a store): nothing it wrote earlier can be verified,
    /// so the key-history check does not apply.
    ephemeral: bool,
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Fingerprinter(store {}, env {}, key {})",
            self.store_id, self.env, self.current.id
        )
    }
}

/// A managed secret carries a fingerprint-key id this store cannot open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} was written by store {store_id} under fingerprint key {found}, which this store cannot open (its keys: {known}). The store file was replaced or is older than the one that wrote the backend: use the store from version control's main branch. If every key was lost and the store was re-created on purpose, move the old secrets away or delete them, then apply again")]
pub struct ContinuityError {
    /// The backend name of the witness.
    pub name: String,
    /// The store id.
    pub store_id: String,
    /// The key id found on it.
    pub found: String,
    /// The key ids this store can open.
    pub known: String,
}

impl Fingerprinter {
    /// The fingerprinter of an unlocked store for values of type `t`: the current and retired
    /// fingerprint keys of the scope holding `t` (which must be open).
    pub fn of(
        store: &crate::store::Unlocked,
        t: crate::model::EnvType,
    ) -> Result<Self, crate::store::StoreError> {
        let scope = if store.format() == crate::store::FORMAT_V1 {
            crate::store::LEGACY_SCOPE.to_string()
        } else {
            store.scope_of(t)
        };
        let (current, retired) = store.fingerprint_keys(&scope)?;
        Ok(Self::new(current, retired, store.id()))
    }

    /// A fingerprinter for store `store_id`, with its current fingerprint key and the retired
    /// ones it can still open (from earlier fingerprint-key rotations). Plan and apply use it
    /// through [`Fingerprinter::for_env`] for the environment they sync.
    pub fn new(current: SecretValue, retired: Vec<SecretValue>, store_id: &str) -> Self {
        Self {
            current: FpKey::new(current),
            retired: retired.into_iter().map(FpKey::new).collect(),
            store_id: store_id.into(),
            env: String::new(),
            instance: None,
            ephemeral: false,
        }
    }

    /// A fingerprinter with a fresh random key that labels as owner `owner_id`: for a
    /// migration without a store. Its fingerprints mean something within this run only, so
    /// what an earlier run wrote is recognised by its owner label and compared by value.
    pub fn ephemeral(owner_id: &str) -> Self {
        let mut key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            ephemeral: true,
            ..Self::new(SecretValue::new(key), Vec::new(), owner_id)
        }
    }

    /// True for [`Fingerprinter::ephemeral`].
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// The same keys, labelling and owning as environment `env`. An instance of a template
    /// (`pr:7`) is an environment of its own, whose secrets also carry the template's and the
    /// id's labels and when they were written.
    pub fn for_env(&self, env: &str) -> Self {
        Self {
            current: self.current.clone(),
            retired: self.retired.clone(),
            store_id: self.store_id.clone(),
            env: env_label(env),
            instance: env
                .split_once(':')
                .map(|(t, id)| (env_label(t), env_label(id))),
            ephemeral: self.ephemeral,
        }
    }

    /// True for an instance of a template.
    pub fn is_instance(&self) -> bool {
        self.instance.is_some()
    }

    /// The id of the current fingerprint key.
    pub fn key_id(&self) -> &str {
        self.current.id()
    }

    fn keys(&self) -> impl Iterator<Item = &FpKey> {
        std::iter::once(&self.current).chain(&self.retired)
    }

    /// The fingerprint of `value` stored as `name`: 32 lowercase hex digits.
    pub fn fingerprint(&self, name: &str, value: &SecretValue) -> String {
        let mac = self
            .current
            .mac(&[b"secretsync/fp/v1", name.as_bytes(), value.expose()]);
        let mut out = hex::encode(mac);
        out.truncate(FP_HEX);
        out
    }

    /// A fresh write token for `name` with fingerprint `fp`: a nonce and a MAC only a holder
    /// of the fingerprint key can make (48 characters, within AWS's 32–64).
    pub fn new_token(&self, name: &str, fp: &str) -> String {
        let mut nonce = [0u8; NONCE_HEX / 2];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let nonce = hex::encode(nonce);
        let tag = token_tag(&self.current, name, fp, &nonce);
        format!("{nonce}{tag}")
    }

    /// True when version id `version` is a token this store made for `name` with fingerprint
    /// `fp` (under its current or a retired fingerprint key).
    pub fn version_is(&self, version: &str, name: &str, fp: &str) -> bool {
        if version.len() != NONCE_HEX + FP_HEX || !version.is_char_boundary(NONCE_HEX) {
            return false;
        }
        let (nonce, tag) = version.split_at(NONCE_HEX);
        self.keys().any(|k| {
            let want = token_tag(k, name, fp, nonce);
            // Constant-time enough: equal lengths, compare every byte.
            want.len() == tag.len()
                && want
                    .bytes()
                    .zip(tag.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }

    /// The labels a write of a value with fingerprint `fp` carries.
    pub fn labels(&self, fp: &str) -> Labels {
        let mut labels: Labels = [
            (MANAGED_BY, MANAGED_BY_VALUE),
            (STORE_LABEL, self.store_id.as_str()),
            (ENV_LABEL, self.env.as_str()),
            (FP_LABEL, fp),
            (KEY_LABEL, self.current.id()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some((template, id)) = &self.instance {
            labels.insert(TEMPLATE_LABEL.into(), template.clone());
            labels.insert(INSTANCE_LABEL.into(), id.clone());
            labels.insert(APPLIED_LABEL.into(), unix_now().to_string());
        }
        labels
    }

    /// The environment label of the secret `meta` describes when it belongs to an instance of
    /// `template` that this store wrote (whichever instance).
    pub fn instance_of<'m>(&self, meta: &'m SecretMeta, template: &str) -> Option<&'m str> {
        let l = &meta.labels;
        (l.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_VALUE)
            && l.get(STORE_LABEL) == Some(&self.store_id)
            && l.get(TEMPLATE_LABEL).map(String::as_str) == Some(env_label(template).as_str()))
        .then(|| l.get(ENV_LABEL).map(String::as_str))
        .flatten()
    }

    /// Who owns the secret `meta` describes.
    pub fn owner(&self, meta: &SecretMeta) -> Owner {
        if meta.labels.get(MANAGED_BY).map(String::as_str) != Some(MANAGED_BY_VALUE) {
            return Owner::Unmanaged;
        }
        match meta.labels.get(STORE_LABEL) {
            Some(s) if *s == self.store_id => match meta.labels.get(ENV_LABEL) {
                Some(e) if *e == self.env => Owner::Us,
                Some(e) => Owner::OtherEnv(e.clone()),
                None => Owner::Legacy,
            },
            Some(s) => Owner::OtherStore(s.clone()),
            None => Owner::Unmanaged,
        }
    }

    /// Checks that every secret of this store in `listed` (any environment) was written under a
    /// fingerprint key this store can open: the backend witnesses the store's key history, so a
    /// store made by someone who could not open the previous one is refused.
    pub fn continuity<'a>(
        &self,
        listed: impl IntoIterator<Item = &'a SecretMeta>,
    ) -> Result<(), ContinuityError> {
        if self.ephemeral {
            return Ok(());
        }
        for meta in listed {
            if meta.labels.get(STORE_LABEL) != Some(&self.store_id) {
                continue;
            }
            let Some(found) = meta.labels.get(KEY_LABEL) else {
                continue;
            };
            if !self.keys().any(|k| k.id() == found) {
                return Err(ContinuityError {
                    name: meta.name.clone(),
                    store_id: self.store_id.clone(),
                    found: found.clone(),
                    known: self.keys().map(|k| k.id()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }
}

fn token_tag(key: &FpKey, name: &str, fp: &str, nonce: &str) -> String {
    let mac = key.mac(&[
        b"secretsync/token/v1",
        name.as_bytes(),
        fp.as_bytes(),
        nonce.as_bytes(),
    ]);
    let mut out = hex::encode(mac);
    out.truncate(FP_HEX);
    out
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When the secret `meta` describes was last written by an instance (its applied label).
pub fn applied(meta: &SecretMeta) -> Option<u64> {
    meta.labels.get(APPLIED_LABEL)?.parse().ok()
}

/// The fingerprint label of a secret, if any.
pub fn label_fp(meta: &SecretMeta) -> Option<&str> {
    meta.labels.get(FP_LABEL).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fpr(store: &str) -> Fingerprinter {
        Fingerprinter::new(SecretValue::from("k".repeat(32).as_str()), vec![], store)
            .for_env("prod")
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
        let other_key =
            Fingerprinter::new(SecretValue::from("x".repeat(32).as_str()), vec![], "s1")
                .for_env("p");
        assert_ne!(a, other_key.fingerprint("app/A", &"v".into()), "keyed");
    }

    #[test]
    fn tokens_are_keyed_name_and_fp_bound_and_differ_per_write() {
        let f = fpr("s");
        let fp = f.fingerprint("n", &"v".into());
        let (t1, t2) = (f.new_token("n", &fp), f.new_token("n", &fp));
        assert_ne!(t1, t2);
        assert_eq!(t1.len(), 48);
        assert!(f.version_is(&t1, "n", &fp));
        assert!(!f.version_is(&t1, "m", &fp), "bound to the name");
        assert!(!f.version_is(&t1, "n", &"0".repeat(32)), "bound to the fp");
        assert!(!f.version_is("1", "n", &fp));
        assert!(
            !f.version_is(&"é".repeat(24), "n", &fp),
            "no panic on UTF-8"
        );
        // The old, forgeable shape: the public fingerprint plus any 16 hex digits.
        let forged = format!("{fp}0123456789abcdef");
        assert!(!f.version_is(&forged, "n", &fp));
        // A token made with another key does not verify.
        let other = Fingerprinter::new(SecretValue::from("x".repeat(32).as_str()), vec![], "s")
            .for_env("p");
        assert!(!f.version_is(&other.new_token("n", &fp), "n", &fp));
    }

    #[test]
    fn retired_keys_still_verify_their_tokens() {
        let old = fpr("s");
        let fp = old.fingerprint("n", &"v".into());
        let tok = old.new_token("n", &fp);
        let rotated = Fingerprinter::new(
            SecretValue::from("z".repeat(32).as_str()),
            vec![SecretValue::from("k".repeat(32).as_str())],
            "s",
        )
        .for_env("prod");
        assert!(rotated.version_is(&tok, "n", &fp));
        assert_ne!(rotated.key_id(), old.key_id());
    }

    #[test]
    fn ownership_is_read_from_labels_per_environment() {
        let f = fpr("store-a");
        let meta = |labels: Labels| SecretMeta {
            name: "n".into(),
            labels,
            ..Default::default()
        };
        assert_eq!(f.owner(&meta(f.labels("ab"))), Owner::Us);
        assert_eq!(
            f.owner(&meta(f.for_env("staging").labels("ab"))),
            Owner::OtherEnv("staging".into())
        );
        let mut legacy = f.labels("ab");
        legacy.remove(ENV_LABEL);
        assert_eq!(f.owner(&meta(legacy)), Owner::Legacy);
        assert_eq!(
            f.owner(&meta(fpr("store-b").labels("ab"))),
            Owner::OtherStore("store-b".into())
        );
        assert_eq!(f.owner(&meta(Labels::new())), Owner::Unmanaged);
    }

    #[test]
    fn an_instance_owns_its_secrets_and_labels_its_template_id_and_time() {
        let f = fpr("s");
        let seven = f.for_env("pr:7");
        let eight = f.for_env("pr:8");
        let meta = |labels: Labels| SecretMeta {
            name: "web/pr-7/A".into(),
            labels,
            ..Default::default()
        };
        let m = meta(seven.labels("ab"));
        assert_eq!(seven.owner(&m), Owner::Us);
        assert_eq!(eight.owner(&m), Owner::OtherEnv(env_label("pr:7")));
        assert_eq!(m.labels[TEMPLATE_LABEL], "pr");
        assert_eq!(m.labels[INSTANCE_LABEL], "7");
        assert!(applied(&m).is_some_and(|t| t + 60 > unix_now()));
        assert_eq!(f.instance_of(&m, "pr"), Some(env_label("pr:7").as_str()));
        assert_eq!(f.instance_of(&m, "preview"), None, "another template");
        assert_eq!(fpr("t").instance_of(&m, "pr"), None, "another store");
        // A plain environment's secret is no instance's, and carries no time.
        let plain = meta(f.for_env("pr-7").labels("ab"));
        assert_eq!(f.instance_of(&plain, "pr"), None);
        assert!(applied(&plain).is_none());
        assert_ne!(
            env_label("pr:7"),
            env_label("pr-7"),
            "no instance is a declared environment"
        );
        // Ids that are not lowercase still label apart.
        assert_ne!(
            f.for_env("pr:Ab").labels("x")[INSTANCE_LABEL],
            f.for_env("pr:ab").labels("x")[INSTANCE_LABEL]
        );
    }

    #[test]
    fn env_labels_fit_every_backend() {
        assert_eq!(env_label("prod-eu"), "prod-eu");
        let h = env_label("Prod.EU");
        assert!(h.starts_with("h-") && h.len() == 26);
        assert_ne!(env_label("Prod"), env_label("prod"));
        assert_ne!(env_label(&"a".repeat(64)), env_label(&"a".repeat(63)));
    }

    #[test]
    fn continuity_refuses_an_unknown_key_of_this_store() {
        let f = fpr("s");
        let meta = |labels: Labels| SecretMeta {
            name: "app/A".into(),
            labels,
            ..Default::default()
        };
        let forged = Fingerprinter::new(SecretValue::from("f".repeat(32).as_str()), vec![], "s")
            .for_env("prod");
        let other_store =
            Fingerprinter::new(SecretValue::from("f".repeat(32).as_str()), vec![], "t")
                .for_env("prod");
        assert!(f.continuity([&meta(f.labels("ab"))]).is_ok());
        assert!(f.continuity([&meta(other_store.labels("ab"))]).is_ok());
        let err = f.continuity([&meta(forged.labels("ab"))]).unwrap_err();
        assert_eq!(err.found, forged.key_id());
        assert!(err.to_string().contains("app/A"));
    }
}
