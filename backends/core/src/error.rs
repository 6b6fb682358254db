//! Backend errors: a kind that decides retries and messages, the operation and secret name, and
//! never a value.

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// What went wrong, independent of the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The secret does not exist.
    NotFound,
    /// A create-only write found the secret already there.
    AlreadyExists,
    /// A conditional write lost (version changed, token reused).
    Conflict,
    /// The secret is scheduled for deletion (AWS's recovery window): restore it or wait.
    PendingDeletion,
    /// The credentials lack a permission.
    PermissionDenied,
    /// No valid credentials.
    Unauthenticated,
    /// Rate limited; retryable.
    Throttled,
    /// A passing fault (5xx, timeout, connection); retryable.
    Transient,
    /// The request is invalid (name, size, label rules).
    InvalidInput,
    /// The backend cannot do what was asked.
    Unsupported,
    /// The backend is misconfigured (URL, region, endpoint).
    Config,
}

impl ErrorKind {
    /// Only throttling and transient faults are worth retrying.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Transient)
    }

    /// The snake_case name used in metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PendingDeletion => "pending_deletion",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "config",
        }
    }
}

/// The backend operation an error or a metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A page of metadata.
    List,
    /// Metadata of one secret.
    Head,
    /// A value.
    Get,
    /// Several values in one call.
    BatchGet,
    /// A write.
    Put,
    /// A delete.
    Delete,
    /// Undoing a soft delete.
    Restore,
}

/// Operations grouped the way cloud quotas group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpClass {
    /// List calls.
    List,
    /// Reads of values or metadata.
    Read,
    /// Writes and deletes.
    Write,
}

impl Op {
    /// The name used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Head => "head",
            Op::Get => "get",
            Op::BatchGet => "batch_get",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::Restore => "restore",
        }
    }

    /// Its quota class.
    pub fn class(self) -> OpClass {
        match self {
            Op::List => OpClass::List,
            Op::Head | Op::Get | Op::BatchGet => OpClass::Read,
            Op::Put | Op::Delete | Op::Restore => OpClass::Write,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed backend operation.
#[derive(Debug, thiserror::Error)]
pub struct BackendError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Which operation.
    pub op: Op,
    /// The backend (`aws-sm`, `memory`, …), filled in by the backend.
    pub backend: String,
    /// The secret concerned, if any.
    pub name: Option<Box<str>>,
    /// A message for people. Never contains a value.
    pub message: String,
    /// How long the server asked us to wait before retrying.
    pub retry_after: Option<Duration>,
    /// For [`ErrorKind::PermissionDenied`]: the permission the request lacked and on what
    /// (`secretsmanager:CreateSecret on app/A`), from the backend's permission table.
    pub denied: Option<Box<str>>,
    /// The underlying error.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BackendError {
    /// A new error of `kind` for `op`.
    pub fn new(kind: ErrorKind, op: Op, message: impl Into<String>) -> Self {
        Self {
            kind,
            op,
            backend: String::new(),
            name: None,
            message: message.into(),
            retry_after: None,
            denied: None,
            source: None,
        }
    }

    /// Names the backend.
    pub fn backend(mut self, backend: impl Into<String>) -> Self {
        self.backend = backend.into();
        self
    }

    /// Names the secret.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// Sets the server's retry-after hint.
    pub fn retry_after(mut self, d: Option<Duration>) -> Self {
        self.retry_after = d;
        self
    }

    /// Names the permission a refused request lacked (see [`BackendError::denied`]).
    pub fn denied(mut self, permission: impl Into<String>) -> Self {
        self.denied = Some(permission.into().into_boxed_str());
        self
    }

    /// Attaches the underlying error.
    pub fn source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }

    /// True for throttling and transient faults.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.backend.is_empty() {
            write!(f, "{}: ", self.backend)?;
        }
        // A configuration problem of the backend as a whole (its URL, its credentials) says
        // what to fix; the operation it stopped and the kind add nothing.
        if self.kind == ErrorKind::Config && self.name.is_none() {
            return write!(f, "{}", self.message);
        }
        // A refusal says what was missing, and who was refused when the service said.
        if let (ErrorKind::PermissionDenied, Some(d)) = (self.kind, &self.denied) {
            write!(f, "permission denied: {d}")?;
            if !self.message.is_empty() {
                write!(f, " ({})", self.message)?;
            }
            return Ok(());
        }
        write!(f, "{}", self.op)?;
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            write!(f, " {n}")?;
        }
        write!(f, ": {} ({})", self.message, self.kind.as_str())
    }
}

/// Results of backend operations.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;
