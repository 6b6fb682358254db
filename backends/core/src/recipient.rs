//! Envelope-encryption roles: a [`Recipient`] wraps the store's [`DataKey`], an [`Identity`]
//! unwraps it. An age public key is only a recipient; an age secret key is an identity; a KMS key
//! is both (the cloud holds the key material).

use async_trait::async_trait;
use std::fmt;
use zeroize::Zeroizing;

/// Length of a data key in bytes (256-bit AEAD key).
pub const DATA_KEY_LEN: usize = 32;

/// The random per-store key every value is sealed under. Zeroed on drop; `Debug` redacts it.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    /// Builds a key from raw bytes.
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Builds a key from a slice, refusing a wrong length.
    pub fn try_from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; DATA_KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(arr))
    }

    /// The raw key bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    /// A key a recipient returned, refusing a wrong length.
    pub fn unwrapped(recipient: &str, bytes: &[u8]) -> Result<Self, KeyError> {
        Self::try_from_slice(bytes)
            .ok_or_else(|| KeyError::new(recipient, "the unwrapped data key has the wrong length"))
    }
}

/// Decodes a wrapped key as the store keeps it (base64).
pub fn decode_wrapped(recipient: &str, wrapped: &str) -> Result<Vec<u8>, KeyError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(wrapped.trim())
        .map_err(|_| KeyError::new(recipient, "the wrapped key is not valid base64"))
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

/// A failure to wrap or unwrap a data key, naming the recipient it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{recipient}: {message}")]
pub struct KeyError {
    /// The recipient id (`age1…`, `aws-kms:…`).
    pub recipient: String,
    /// What went wrong and, where known, what to do.
    pub message: String,
}

impl KeyError {
    /// Builds an error for `recipient`.
    pub fn new(recipient: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            recipient: recipient.into(),
            message: message.into(),
        }
    }
}

/// Something the data key can be wrapped for.
#[async_trait]
pub trait Recipient: Send + Sync + fmt::Debug {
    /// The stable id written in the store (`age1…`, `aws-kms:ARN`, `gcp-kms:projects/…`).
    fn id(&self) -> String;

    /// Wraps `key` so that only this recipient can unwrap it; `store_id` is bound to the result
    /// (KMS encryption context / additional authenticated data) so it cannot be replayed into
    /// another store.
    async fn wrap(&self, key: &DataKey, store_id: &str) -> Result<String, KeyError>;
}

/// Something that can unwrap a data key wrapped for one or more recipients.
#[async_trait]
pub trait Identity: Send + Sync + fmt::Debug {
    /// True when this identity can try to unwrap keys wrapped for `recipient_id`.
    fn matches(&self, recipient_id: &str) -> bool;

    /// The recipient id this identity answers to (its public key or key name): what an owner
    /// passes to `key add` to let it in. Never secret.
    fn public_id(&self) -> String;

    /// Unwraps a key that was wrapped for `recipient_id` in the store `store_id`.
    async fn unwrap(
        &self,
        recipient_id: &str,
        wrapped: &str,
        store_id: &str,
    ) -> Result<DataKey, KeyError>;
}
