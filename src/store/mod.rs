//! The canonical store: `secrets.enc.toml`. Names, selectors, descriptions and times are clear
//! text; every value is sealed for the scopes its selector touches (production, development…),
//! each scope's private key wrapped once per recipient of that scope.
//!
//! [`Store`] is the parsed file (enough for `list` and `check`, no key needed); [`Unlocked`] adds
//! the scope keys this user can open (for `get`) and, when opened for writing, the write lock
//! (for `set` and friends). Sealing needs only a scope's public key, so a user who cannot open
//! production can still set production values.

pub mod age_key;
mod canonical;
mod codec;
pub mod crypto;
mod file;
mod format;
mod info;
mod keys;
pub mod merge;
mod validate;
mod values;
pub use secretsync_core::fsio;

use crate::model::{EnvRef, EnvType};
use secretsync_core::{KeyError, MAX_VALUE_BYTES};
use std::path::PathBuf;

pub use file::{Locked, RecipientInfo, Store, Unlocked};
pub use format::{FORMAT, FORMAT_V1, LEGACY_SCOPE};
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
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error(transparent)]
    Lock(#[from] fsio::LockError),
    #[error("{}", no_identity(path, recipients, mine))]
    NoIdentity {
        path: PathBuf,
        recipients: String,
        /// The public ids of the identities tried.
        mine: Vec<String>,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what} in {path} failed authentication: it was edited by hand, moved from another secret, selector or scope, or copied from another store. Restore the file from version control")]
    Tampered { path: PathBuf, what: String },
    #[error("{}", scope_locked(path, scope, recipients, mine, cause.as_deref()))]
    ScopeLocked {
        path: PathBuf,
        scope: String,
        recipients: String,
        mine: Vec<String>,
        cause: Option<String>,
    },
    #[error("{WRONG_KEY} {0} does not match the store's record of it (key id or scope public key): the recipient entry or the public key was replaced. Restore the file from version control")]
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

/// The message of [`StoreError::NoIdentity`]: who can open the store, what was tried, and the
/// exact command that lets this user in.
fn no_identity(path: &std::path::Path, recipients: &str, mine: &[String]) -> String {
    let looked = match age_key::default_identity_path() {
        Some(p) => format!("$SECRETSYNC_AGE_IDENTITY and {}", p.display()),
        None => "$SECRETSYNC_AGE_IDENTITY".into(),
    };
    match mine.first() {
        Some(first) => format!(
            "none of your identities can open {}.\n  it is readable by: {recipients}\n  your identities: {}\n  ask someone who can open it to run `secretsync key add {first}`",
            path.display(),
            mine.join(", ")
        ),
        None => format!(
            "you have no identity that can open {} (looked in {looked}).\n  it is readable by: {recipients}\n  if you have a key, point SECRETSYNC_AGE_IDENTITY at it (the key itself or its file); if you have none, `secretsync init` creates one and prints its public key for someone who can open the store to add with `secretsync key add`",
            path.display()
        ),
    }
}

/// The message of [`StoreError::ScopeLocked`]: which scope, who can open it, and how to get in.
fn scope_locked(
    path: &std::path::Path,
    scope: &str,
    recipients: &str,
    mine: &[String],
    cause: Option<&str>,
) -> String {
    let mut msg = format!(
        "you cannot open scope {scope} of {}, so its values cannot be read here (you can still set them).\n  scope {scope} is readable by: {recipients}",
        path.display()
    );
    if let Some(cause) = cause {
        msg.push_str(&format!("\n  your key for it failed: {cause}"));
        if cause.contains("permission denied: ") {
            msg.push_str(&format!(
                "\n  `secretsync policy --for open {scope}` prints the KMS policy that opens it"
            ));
        }
    }
    match mine.first() {
        Some(first) => msg.push_str(&format!(
            "\n  your identities: {}\n  if you should read it, ask a recipient of {scope} to run `secretsync key add {first} --scope {scope}`",
            mine.join(", ")
        )),
        None => {
            let looked = match age_key::default_identity_path() {
                Some(p) => format!("$SECRETSYNC_AGE_IDENTITY and {}", p.display()),
                None => "$SECRETSYNC_AGE_IDENTITY".into(),
            };
            return format!(
                "you have no identity that can open scope {scope} of {} (looked in {looked}).\n  scope {scope} is readable by: {recipients}\n  if you have a key, point SECRETSYNC_AGE_IDENTITY at it (the key itself or its file); if you have none, `secretsync init` creates one and prints its public key for someone who can open the store to add with `secretsync key add`",
                path.display()
            );
        }
    }
    msg
}

/// How a [`StoreError::WrongKey`] message starts.
pub(crate) const WRONG_KEY: &str = "the key unwrapped for";

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which value a read refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The value holding this type (overrides ignored).
    Type(EnvType),
    /// The value this environment resolves to (its override, else its type's).
    Env(EnvRef),
}

impl Target {
    /// The environment type whose scope holds the value.
    pub fn env_type(&self) -> EnvType {
        match self {
            Target::Type(t) => *t,
            Target::Env(e) => e.env_type(),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Type(t) => write!(f, "type {t}"),
            Target::Env(e) => write!(f, "environment {e}"),
        }
    }
}

#[cfg(test)]
mod tamper_tests;
#[cfg(test)]
mod tests;
