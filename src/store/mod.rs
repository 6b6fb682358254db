//! The canonical store: `secrets.enc.toml`. Names, selectors, descriptions and times are clear
//! text; every value is sealed under the store's data key, which is wrapped once per recipient.
//!
//! [`Store`] is the parsed file (enough for `list` and `check`, no key needed); [`Unlocked`] adds
//! the data key (for `get`) and, when opened for writing, the write lock (for `set` and friends).

pub mod age_key;
pub mod crypto;
mod file;
mod format;
mod info;
mod keys;
pub mod merge;
mod values;
pub use secretsync_core::fsio;

use crate::model::{EnvRef, EnvType};
use secretsync_core::{KeyError, MAX_VALUE_BYTES};
use std::path::PathBuf;

pub use file::{Store, Unlocked};
pub use format::FORMAT;
pub use info::{DeleteReport, SecretInfo, SetReport, ValueInfo, VersionInfo};

/// How many previous values each stored value keeps.
pub const HISTORY_LIMIT: usize = 10;

/// What can go wrong with the store. Messages name the file or secret and say what to do; none
/// ever contains a value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "no store at {0}: run `secretsync init` first, or point `store` in secretsync.toml at it"
    )]
    Missing(PathBuf),
    #[error("a store already exists at {0}")]
    Exists(PathBuf),
    #[error("cannot access {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error(transparent)]
    Lock(#[from] fsio::LockError),
    #[error("none of your identities can open {path}.\n  it is readable by: {recipients}\n  your identities: {mine}\n  ask someone who can open it to run `secretsync key add <your public key>`")]
    NoIdentity {
        path: PathBuf,
        recipients: String,
        mine: String,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what} in {path} failed authentication: it was edited by hand, moved from another secret, selector or version, or copied from another store. Restore the file from version control")]
    Tampered { path: PathBuf, what: String },
    #[error("the data key unwrapped for {0} does not match this store's key id: the recipient entry was replaced. Restore the file from version control")]
    WrongKey(String),
    #[error("secret {0} has no value {1}")]
    NotFound(String, String),
    #[error("the value of {0} is {1} bytes; the limit is {MAX_VALUE_BYTES} bytes (64 KiB)")]
    TooLarge(String, usize),
    #[error("the value of {0} is empty; give a non-empty value")]
    Empty(String),
    #[error("{0}")]
    Invalid(String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which value a read refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The value holding this type (overrides ignored).
    Type(EnvType),
    /// The value this environment resolves to (its override, else its type's).
    Env(EnvRef),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Type(t) => write!(f, "type {t}"),
            Scope::Env(e) => write!(f, "environment {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
