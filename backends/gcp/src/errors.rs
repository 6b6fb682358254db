//! Client errors → backend error kinds.

use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::error::Error;
use secretsync_core::wire::{Fault, Resend, Wire};
use secretsync_core::{BackendError, ErrorKind, Op, OpClass};

/// What a client error means for secretsync.
pub fn kind(e: &Error) -> ErrorKind {
    if let Some(s) = e.status() {
        return code_kind(s.code);
    }
    match e.http_status_code().and_then(http_kind) {
        Some(k) => k,
        _ if e.is_authentication() => ErrorKind::Unauthenticated,
        _ if e.is_timeout() || e.is_io() || e.is_connect() || e.is_transport() => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Transient,
    }
}

/// What an RPC status code means.
fn code_kind(code: Code) -> ErrorKind {
    match code {
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
    }
}

/// What an HTTP status without an RPC status means (`None`: not decided by the status).
fn http_kind(status: u16) -> Option<ErrorKind> {
    Some(match status {
        404 => ErrorKind::NotFound,
        409 => ErrorKind::AlreadyExists,
        403 => ErrorKind::PermissionDenied,
        401 => ErrorKind::Unauthenticated,
        429 => ErrorKind::Throttled,
        400 | 422 => ErrorKind::InvalidInput,
        c if c >= 500 => ErrorKind::Transient,
        _ => return None,
    })
}

/// Whether the wire may send a failed request again at once: a connection never made always,
/// a passing fault after the request may have arrived when it is idempotent, anything the
/// service answered (a throttle included) or a timeout never (see `wire::Fault`).
pub fn fault(e: &Error) -> Fault {
    if e.is_connect() {
        Fault::NotSent
    } else if e.is_timeout() {
        Fault::TimedOut
    } else if kind(e) != ErrorKind::Transient {
        Fault::Settled
    } else {
        Fault::Unknown
    }
}

/// Sends a request that does the same when sent twice through `wire`, which resends it after a
/// passing fault (see [`fault`]).
pub(crate) async fn idempotent<T, Fut>(
    wire: &Wire,
    class: OpClass,
    request: &'static str,
    send: impl FnMut() -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    wire.send_again(class, request, Resend::Idempotent, fault, send)
        .await
}

/// Builds the backend error for a failed call.
pub fn to_backend(op: Op, name: &str, e: Error) -> BackendError {
    let k = kind(&e);
    let msg = e
        .status()
        .map_or_else(|| e.to_string(), |s| s.message.clone());
    BackendError::new(k, op, msg).name(name).source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_kinds() {
        for (code, want) in [
            (Code::NotFound, ErrorKind::NotFound),
            (Code::AlreadyExists, ErrorKind::AlreadyExists),
            (Code::PermissionDenied, ErrorKind::PermissionDenied),
            (Code::Unauthenticated, ErrorKind::Unauthenticated),
            (Code::ResourceExhausted, ErrorKind::Throttled),
            (Code::FailedPrecondition, ErrorKind::Conflict),
            (Code::Aborted, ErrorKind::Conflict),
            (Code::Unavailable, ErrorKind::Transient),
            (Code::DeadlineExceeded, ErrorKind::Transient),
            (Code::InvalidArgument, ErrorKind::InvalidInput),
            (Code::Unimplemented, ErrorKind::Unsupported),
        ] {
            assert_eq!(code_kind(code), want, "{code:?}");
        }
        for (status, want) in [
            (404, Some(ErrorKind::NotFound)),
            (409, Some(ErrorKind::AlreadyExists)),
            (429, Some(ErrorKind::Throttled)),
            (422, Some(ErrorKind::InvalidInput)),
            (503, Some(ErrorKind::Transient)),
            (302, None),
        ] {
            assert_eq!(http_kind(status), want, "{status}");
        }
    }

    #[test]
    fn only_a_passing_fault_may_be_sent_again() {
        use google_cloud_gax::error::rpc::Status;
        let http = |code: u16| Error::http(code, Default::default(), Default::default());
        let io = || std::io::Error::other("broken pipe");
        for (e, want) in [
            (Error::connect(io()), Fault::NotSent),
            (Error::io(io()), Fault::Unknown),
            (http(500), Fault::Unknown),
            (http(503), Fault::Unknown),
            (
                Error::service(Status::default().set_code(Code::Unavailable)),
                Fault::Unknown,
            ),
            // Answers: the caller's (a throttle goes to the retry layer and its budget).
            (http(429), Fault::Settled),
            (http(404), Fault::Settled),
            (
                Error::service(Status::default().set_code(Code::AlreadyExists)),
                Fault::Settled,
            ),
            // A timeout too: a service that hangs must not cost three timeouts a request.
            (Error::timeout(io()), Fault::TimedOut),
        ] {
            assert_eq!(fault(&e), want, "{e:?}");
        }
    }
}
