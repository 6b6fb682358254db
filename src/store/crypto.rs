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

/// Seals `plaintext` as base64(nonce || ciphertext).
pub fn seal(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Result<String, AeadError> {
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
    Ok(B64.encode(out))
}

/// Opens a sealed value; `Err(AeadError)` when it is malformed or fails authentication.
pub fn open(key: &DataKey, aad: &[u8], sealed: &str) -> Result<SecretValue, AeadError> {
    let raw = Zeroizing::new(B64.decode(sealed.trim()).map_err(|_| AeadError)?);
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
