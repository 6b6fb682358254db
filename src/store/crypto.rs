//! Sealing values: XChaCha20-Poly1305 with a random 192-bit nonce, the associated data binding
//! each ciphertext to its store, secret, selector and version.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use rand::RngCore;
use secretsync_core::{DataKey, SecretValue};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 24;

/// Sealing or opening failed: for `open`, the ciphertext is malformed or not authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("AEAD seal/open failed")]
pub struct AeadError;

/// A fresh random data key.
pub fn new_data_key() -> DataKey {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let key = DataKey::from_bytes(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    key
}

/// Random bytes as lowercase hex (store ids).
pub fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A short public id of a data key: tells "wrong key" apart from "tampered value".
pub fn key_id(key: &DataKey) -> String {
    let mut h = Sha256::new();
    h.update(b"secretsync/key-id/v1\0");
    h.update(key.expose());
    hex::encode(&h.finalize()[..8])
}

/// Associated data of a stored value.
pub fn value_aad(store_id: &str, name: &str, selector: &str, version: u64) -> Vec<u8> {
    format!("secretsync/value/v1\0{store_id}\0{name}\0{selector}\0{version}").into_bytes()
}

/// Associated data of the sealed fingerprint key.
pub fn fingerprint_key_aad(store_id: &str) -> Vec<u8> {
    format!("secretsync/fingerprint-key/v1\0{store_id}").into_bytes()
}

/// Associated data of a retired (rotated-out) fingerprint key.
pub fn retired_fingerprint_key_aad(store_id: &str) -> Vec<u8> {
    format!("secretsync/retired-fingerprint-key/v1\0{store_id}").into_bytes()
}

/// The public id of a fingerprint key: a hash that reveals nothing about the key.
pub fn fingerprint_key_id(key: &SecretValue) -> String {
    let mut h = Sha256::new();
    h.update(b"secretsync/fingerprint-key-id/v1\0");
    h.update(key.expose());
    hex::encode(&h.finalize()[..8])
}

/// True for a store id of the shape secretsync makes: 32 lowercase hex digits.
pub fn is_store_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Associated data of a format-2 value: bound to its store, scope, secret and the part of its
/// selector in the scope (the types of the scope it holds, or its override). Not to its version
/// or whole selector, so that a value can be moved between versions and split across scopes
/// without opening it (by someone who can seal for a scope but not open it).
pub fn value_aad_v2(store_id: &str, scope: &str, name: &str, part: &str) -> Vec<u8> {
    format!("secretsync/value/v2\0{store_id}\0{scope}\0{name}\0{part}").into_bytes()
}

/// Associated data of a scope's sealed fingerprint key (`retired`: a rotated-out one).
pub fn scope_fingerprint_key_aad(store_id: &str, scope: &str, retired: bool) -> Vec<u8> {
    let what = if retired { "retired-" } else { "" };
    format!("secretsync/{what}fingerprint-key/v2\0{store_id}\0{scope}").into_bytes()
}

/// What a scope's private key is wrapped for (KMS encryption context, age payload binding):
/// the store and the scope, so a wrapped key cannot be moved to another scope or store.
pub fn scope_wrap_context(store_id: &str, scope: &str) -> String {
    format!("{store_id}/{scope}")
}

/// The public key (hex) of a scope's private key.
pub fn scope_public_key(secret: &DataKey) -> String {
    let s = x25519_dalek::StaticSecret::from(*secret.expose());
    hex::encode(x25519_dalek::PublicKey::from(&s).as_bytes())
}

const SEAL_INFO: &[u8] = b"secretsync/scope-seal/v2";

fn sealing_key(shared: &[u8; 32], eph: &[u8; 32], public: &[u8; 32]) -> DataKey {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph);
    salt[32..].copy_from_slice(public);
    let hk = hkdf::Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = [0u8; 32];
    hk.expand(SEAL_INFO, &mut okm)
        .expect("32 bytes is a valid HKDF length");
    let key = DataKey::from_bytes(okm);
    zeroize::Zeroize::zeroize(&mut okm);
    key
}

/// Seals `plaintext` for the holder of the private key of `public_hex`: base64(ephemeral public
/// key || nonce || ciphertext). Needs no secret: anyone can seal for a scope.
pub fn seal_to(public_hex: &str, aad: &[u8], plaintext: &[u8]) -> Result<String, AeadError> {
    SealCache::default().seal_to(public_hex, aad, plaintext)
}

/// Opens what [`seal_to`] sealed, with the scope's private key.
pub fn open_with(secret: &DataKey, aad: &[u8], sealed: &str) -> Result<SecretValue, AeadError> {
    SealCache::default().open_with(secret, aad, sealed)
}

/// Remembers Diffie-Hellman results for one store session, so that sealing or opening N values
/// of a scope costs one key agreement, not N:
/// - sealing uses one ephemeral key per scope public key for the whole session (every value
///   still gets its own random 192-bit nonce, and its AAD binds it to its secret and selector);
/// - opening remembers the key of each (scope key, ephemeral public key) pair it has met, so the
///   values one write sealed open with one agreement.
///
/// The ciphertext format is [`seal_to`]'s, so either side can be with or without it.
#[derive(Default)]
pub struct SealCache {
    /// Scope public key → this session's ephemeral public key and the agreed key.
    sealers: std::sync::Mutex<std::collections::HashMap<[u8; 32], Agreed>>,
    /// sha256(scope private key ‖ ephemeral public key) → the agreed key.
    opened: std::sync::Mutex<std::collections::HashMap<[u8; 32], DataKey>>,
}

/// An ephemeral public key and the key agreed with it.
type Agreed = ([u8; 32], DataKey);

impl std::fmt::Debug for SealCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealCache")
    }
}

impl SealCache {
    /// [`seal_to`], with this session's ephemeral key for `public_hex`.
    pub fn seal_to(
        &self,
        public_hex: &str,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<String, AeadError> {
        let public: [u8; 32] = hex::decode(public_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(AeadError)?;
        let mut sealers = self.sealers.lock().unwrap_or_else(|e| e.into_inner());
        let (eph_pub, key) = match sealers.get(&public) {
            Some(s) => s,
            None => {
                let eph = x25519_dalek::StaticSecret::random_from_rng(OsRng);
                let eph_pub = *x25519_dalek::PublicKey::from(&eph).as_bytes();
                let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(public));
                if !shared.was_contributory() {
                    return Err(AeadError);
                }
                let key = sealing_key(shared.as_bytes(), &eph_pub, &public);
                sealers.entry(public).or_insert((eph_pub, key))
            }
        };
        let mut out = eph_pub.to_vec();
        out.extend_from_slice(&seal_raw(key, aad, plaintext)?);
        Ok(B64.encode(out))
    }

    /// [`open_with`], remembering the key of each ephemeral public key met.
    pub fn open_with(
        &self,
        secret: &DataKey,
        aad: &[u8],
        sealed: &str,
    ) -> Result<SecretValue, AeadError> {
        let raw = Zeroizing::new(B64.decode(sealed.trim()).map_err(|_| AeadError)?);
        if raw.len() < 32 + NONCE_LEN + 16 {
            return Err(AeadError);
        }
        let (eph, inner) = raw.split_at(32);
        let eph: [u8; 32] = eph.try_into().map_err(|_| AeadError)?;
        // The scope key and the ephemeral key together name the agreement (a rotated scope key
        // is another entry).
        let id: [u8; 32] = Sha256::new()
            .chain_update(secret.expose())
            .chain_update(eph)
            .finalize()
            .into();
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        let key = match opened.get(&id) {
            Some(k) => k,
            None => {
                let key = agreed_key(secret, &eph)?;
                opened.entry(id).or_insert(key)
            }
        };
        open_raw(key, aad, inner)
    }
}

/// The key [`seal_to`] derived for the ephemeral public key `eph`, from the scope's private key.
fn agreed_key(secret: &DataKey, eph: &[u8; 32]) -> Result<DataKey, AeadError> {
    let s = x25519_dalek::StaticSecret::from(*secret.expose());
    let public = x25519_dalek::PublicKey::from(&s);
    let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(*eph));
    if !shared.was_contributory() {
        return Err(AeadError);
    }
    Ok(sealing_key(shared.as_bytes(), eph, public.as_bytes()))
}

/// Seals `plaintext` as base64(nonce || ciphertext).
pub fn seal(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Result<String, AeadError> {
    Ok(B64.encode(seal_raw(key, aad, plaintext)?))
}

/// nonce || ciphertext.
fn seal_raw(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, AeadError> {
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| AeadError)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a sealed value; `Err(AeadError)` when it is malformed or fails authentication.
pub fn open(key: &DataKey, aad: &[u8], sealed: &str) -> Result<SecretValue, AeadError> {
    let raw = Zeroizing::new(B64.decode(sealed.trim()).map_err(|_| AeadError)?);
    open_raw(key, aad, &raw)
}

/// Opens nonce || ciphertext.
fn open_raw(key: &DataKey, aad: &[u8], raw: &[u8]) -> Result<SecretValue, AeadError> {
    if raw.len() < NONCE_LEN + 16 {
        return Err(AeadError);
    }
    let (nonce, ct) = raw.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.expose().into());
    let pt = cipher
        .decrypt(nonce.into(), Payload { msg: ct, aad })
        .map_err(|_| AeadError)?;
    Ok(SecretValue::new(pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_for_a_scope_needs_only_its_public_key() {
        let secret = new_data_key();
        let public = scope_public_key(&secret);
        let aad = value_aad_v2("s1", "production", "A", "production");
        let sealed = seal_to(&public, &aad, b"hello").unwrap();
        assert_eq!(
            open_with(&secret, &aad, &sealed).unwrap().expose(),
            b"hello"
        );
        let other = value_aad_v2("s1", "development", "A", "production");
        assert!(open_with(&secret, &other, &sealed).is_err());
        assert!(open_with(&new_data_key(), &aad, &sealed).is_err());
        assert!(seal_to("00", &aad, b"x").is_err());
        // The all-zero point would make the shared secret public.
        assert!(seal_to(&"00".repeat(32), &aad, b"x").is_err());
    }

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = new_data_key();
        let aad = value_aad("s1", "A", "production", 1);
        let sealed = seal(&key, &aad, b"hello").unwrap();
        assert_eq!(open(&key, &aad, &sealed).unwrap().expose(), b"hello");
        assert!(open(&key, &value_aad("s1", "B", "production", 1), &sealed).is_err());
        assert!(open(&key, &value_aad("s1", "A", "local", 1), &sealed).is_err());
        assert!(open(&key, &value_aad("s1", "A", "production", 2), &sealed).is_err());
        assert!(open(&key, &value_aad("s2", "A", "production", 1), &sealed).is_err());
        assert!(open(&new_data_key(), &aad, &sealed).is_err());
        assert!(open(&key, &aad, "not base64!").is_err());
    }
}

#[cfg(test)]
mod seal_cache_tests {
    use super::*;

    #[test]
    fn one_session_seals_with_one_agreement_and_each_value_still_opens_alone() {
        let secret = new_data_key();
        let public = scope_public_key(&secret);
        let cache = SealCache::default();
        let a = cache.seal_to(&public, b"aad-a", b"value-a").unwrap();
        let b = cache.seal_to(&public, b"aad-b", b"value-b").unwrap();
        let eph = |s: &str| B64.decode(s).unwrap()[..32].to_vec();
        assert_eq!(eph(&a), eph(&b), "one ephemeral key per session");
        assert_ne!(a, b);
        // Another session, another ephemeral key.
        let c = SealCache::default()
            .seal_to(&public, b"aad-a", b"value-a")
            .unwrap();
        assert_ne!(eph(&a), eph(&c));
        // Each opens alone, with or without a cache; the AAD still binds each one.
        assert_eq!(
            open_with(&secret, b"aad-b", &b).unwrap().expose(),
            b"value-b"
        );
        let opener = SealCache::default();
        assert_eq!(
            opener.open_with(&secret, b"aad-a", &a).unwrap().expose(),
            b"value-a"
        );
        assert_eq!(
            opener.open_with(&secret, b"aad-b", &b).unwrap().expose(),
            b"value-b"
        );
        assert!(opener.open_with(&secret, b"aad-a", &b).is_err());
        // Another scope key never opens them, even after the cache met their ephemeral key.
        assert!(opener.open_with(&new_data_key(), b"aad-a", &a).is_err());
    }
}
