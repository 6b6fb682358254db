use super::InvalidInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A secret's name: valid as an environment variable name, `^[A-Za-z_][A-Za-z0-9_]{0,127}$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut chars = s.chars();
        let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if first_ok && rest_ok && s.len() <= 128 {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidInput(format!(
                "invalid secret name {s:?}: a name must be usable as an environment variable: \
                 a letter or '_' first, then letters, digits or '_', at most 128 characters \
                 (e.g. GitHubAPIToken, DB_PASSWORD)"
            )))
        }
    }
}

impl TryFrom<String> for SecretName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SecretName> for String {
    fn from(n: SecretName) -> String {
        n.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_env_var_names_and_refuses_others() {
        for ok in [
            "A",
            "_x",
            "GitHubAPIToken",
            "DB_PASSWORD_2",
            &"a".repeat(128),
        ] {
            assert!(ok.parse::<SecretName>().is_ok(), "{ok}");
        }
        for bad in ["", "1ABC", "a-b", "a.b", "é", "a b", &"a".repeat(129)] {
            let err = bad.parse::<SecretName>().unwrap_err();
            assert!(err.0.contains("invalid secret name"), "{err}");
        }
    }
}
