//! Client errors → backend error kinds.

use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::error::Error;
use secretsync_core::{BackendError, ErrorKind, Op};

/// What a client error means for secretsync.
pub fn kind(e: &Error) -> ErrorKind {
    if let Some(s) = e.status() {
        return match s.code {
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists => ErrorKind::AlreadyExists,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::ResourceExhausted => ErrorKind::Throttled,
            Code::FailedPrecondition | Code::Aborted => ErrorKind::Conflict,
            Code::Unavailable | Code::Internal | Code::DeadlineExceeded | Code::Unknown => {
                ErrorKind::Transient
            }
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidInput,
            Code::Unimplemented => ErrorKind::Unsupported,
            _ => ErrorKind::Transient,
        };
    }
    match e.http_status_code() {
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::AlreadyExists,
        Some(403) => ErrorKind::PermissionDenied,
        Some(401) => ErrorKind::Unauthenticated,
        Some(429) => ErrorKind::Throttled,
        Some(400) | Some(422) => ErrorKind::InvalidInput,
        Some(c) if c >= 500 => ErrorKind::Transient,
        _ if e.is_authentication() => ErrorKind::Unauthenticated,
        _ if e.is_timeout() || e.is_io() || e.is_connect() || e.is_transport() => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Transient,
    }
}

/// Builds the backend error for a failed call.
pub fn to_backend(op: Op, name: &str, e: Error) -> BackendError {
    let k = kind(&e);
    let msg = e
        .status()
        .map_or_else(|| e.to_string(), |s| s.message.clone());
    BackendError::new(k, op, msg)
        .backend("gcp-sm")
        .name(name)
        .source(e)
}
