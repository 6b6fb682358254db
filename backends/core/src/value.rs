//! [`SecretValue`]: bytes that are zeroed on drop and never shown by `Debug`.

use std::fmt;
use zeroize::Zeroizing;

/// Largest value secretsync accepts (the common limit of AWS and GCP secret managers).
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A secret's value. Its `Debug` output is redacted and it has no `Display`, so it cannot end
/// up in a log line, an error or a panic message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Wraps raw bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The raw bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as UTF-8 text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the value has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for SecretValue {
    fn from(s: &str) -> Self {
        Self::new(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for SecretValue {
    fn from(v: Vec<u8>) -> Self {
        Self::new(v)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::from("canary-7f3a9b");
        let shown = format!("{v:?} {:#?}", Some(&v));
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }
}
