//! SDK errors → backend error kinds.

use crate::iam::Need;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secretsync_core::permissions::Table;
use secretsync_core::wire::{Fault, Resend, Wire};
use secretsync_core::{BackendError, ErrorKind, Op, OpClass};

/// What an SDK error means for secretsync. Messages carry AWS's code and message, which never
/// include a secret value.
pub fn classify<E>(err: &SdkError<E, HttpResponse>) -> (ErrorKind, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => (ErrorKind::Transient, "the request timed out".into()),
        SdkError::DispatchFailure(d) => {
            let ctx = short(&DisplayErrorContext(err).to_string());
            if ctx.contains("no credentials found") {
                (ErrorKind::Unauthenticated, NO_CREDENTIALS.into())
            } else if ctx.contains("credentials") || ctx.contains("identity") {
                (
                    ErrorKind::Unauthenticated,
                    format!("no usable AWS credentials: {ctx}"),
                )
            } else if d.is_user() {
                (ErrorKind::Config, format!("cannot send the request: {ctx}"))
            } else {
                (ErrorKind::Transient, format!("cannot reach AWS: {ctx}"))
            }
        }
        // An answer the SDK could not parse at all: a refusal or another answer of the
        // service's all the same, when its status says so (a proxy's or an emulator's body).
        SdkError::ResponseError(r) if r.raw().status().is_client_error() => {
            let status = r.raw().status().as_u16();
            let (code, message) = xml_error(r.raw().body().bytes().unwrap_or_default())
                .unwrap_or_else(|| ("Unknown".into(), format!("HTTP {status}")));
            (kind_of(&code, status), format!("{code}: {message}"))
        }
        SdkError::ResponseError(_) => (ErrorKind::Transient, "an unreadable response".into()),
        SdkError::ConstructionFailure(_) => (
            ErrorKind::Config,
            format!("cannot build the request: {}", DisplayErrorContext(err)),
        ),
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = se.raw().status().as_u16();
            // An answer the SDK could not read as its protocol's error (moto answers the JSON
            // protocol's refusals in XML) still has its code and message in the body.
            let (code, message) = match e.code() {
                Some(c) => (c.to_string(), e.message().unwrap_or("").to_string()),
                None => xml_error(se.raw().body().bytes().unwrap_or_default())
                    .unwrap_or_else(|| ("Unknown".into(), format!("HTTP {status}"))),
            };
            (kind_of(&code, status), format!("{code}: {message}"))
        }
        _ => (ErrorKind::Transient, DisplayErrorContext(err).to_string()),
    }
}

/// Whether the wire may send a failed request again at once (see `wire::Fault`): after a
/// broken connection, an unreadable response or a 5xx (each request secretsync sends to AWS
/// is idempotent or carries its write's `ClientRequestToken`, but `PutParameter`, which the
/// wire sends again only when it never left); never after an answer, a throttle or a timeout,
/// which the retry layer takes. The SDK does not say whether a broken connection was ever
/// made, so no AWS failure counts as never sent.
pub fn fault<E>(err: &SdkError<E, HttpResponse>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Fault::TimedOut,
        SdkError::DispatchFailure(d) if d.is_timeout() => Fault::TimedOut,
        SdkError::DispatchFailure(d) if d.is_io() => Fault::Unknown,
        SdkError::ResponseError(r) if r.raw().status().is_client_error() => Fault::Settled,
        SdkError::ResponseError(_) => Fault::Unknown,
        SdkError::ServiceError(se)
            if se.raw().status().is_server_error()
                && kind_of(
                    se.err().code().unwrap_or("Unknown"),
                    se.raw().status().as_u16(),
                ) == ErrorKind::Transient =>
        {
            Fault::Unknown
        }
        _ => Fault::Settled,
    }
}

/// The `<Code>` and `<Message>` of an XML error body.
fn xml_error(body: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(
            text[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    };
    Some((tag("Code")?, tag("Message").unwrap_or_default()))
}

/// Sends a request that does the same when sent twice through `wire`, which resends it after a
/// passing fault (see [`fault`]).
pub(crate) async fn idempotent<T, E, Fut>(
    wire: &Wire,
    class: OpClass,
    request: &'static str,
    send: impl FnMut() -> Fut,
) -> std::result::Result<T, SdkError<E, HttpResponse>>
where
    Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    wire.send_again(class, request, Resend::Idempotent, fault, send)
        .await
}

/// A backend that sends its requests through a wire and names a refusal's missing action from
/// its permission table.
pub(crate) trait Sends {
    /// The requests the backend makes and the actions each needs.
    const REQUESTS: &'static Table<Need>;

    /// The wire its requests go through.
    fn through(&self) -> &Wire;

    /// Sends `request` (which does the same when sent twice) through the wire; a failure is a
    /// backend error of `op` on `name`, a refusal naming the action it lacked.
    async fn send<T, E, Fut>(
        &self,
        class: OpClass,
        request: &'static str,
        op: Op,
        name: &str,
        send: impl FnMut() -> Fut,
    ) -> Result<T, BackendError>
    where
        Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        idempotent(self.through(), class, request, send)
            .await
            .map_err(|e| to_backend_for(Self::REQUESTS, request, op, name, e))
    }
}

/// What to do when the standard chain found no credentials at all.
const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role provides them (IRSA, an ECS task role, an EC2 instance profile); to try secretsync without a cloud, use a file:// environment";

/// The SDK's error context without the Debug dump it ends with (` (DispatchFailure(…))`).
fn short(ctx: &str) -> String {
    let cut = ctx
        .match_indices(" (")
        .find(|(i, _)| ctx[i + 2..].starts_with(|c: char| c.is_ascii_uppercase()))
        .map_or(ctx.len(), |(i, _)| i);
    ctx[..cut].lines().next().unwrap_or_default().to_string()
}

/// What an AWS error code (or, for codes not listed, the HTTP status) means.
pub(crate) fn kind_of(code: &str, status: u16) -> ErrorKind {
    match code {
        "ResourceNotFoundException"
        | "NotFoundException"
        | "ParameterNotFound"
        | "ParameterVersionNotFound" => ErrorKind::NotFound,
        "ResourceExistsException" | "ParameterAlreadyExists" => ErrorKind::AlreadyExists,
        // SSM: another write to the same parameter is in progress.
        "TooManyUpdates" => ErrorKind::Throttled,
        "InvalidKeyId" => ErrorKind::Config,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => ErrorKind::Throttled,
        "InternalServiceError"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "KMSInternalException" => ErrorKind::Transient,
        "AccessDeniedException" | "AccessDenied" => ErrorKind::PermissionDenied,
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => ErrorKind::Unauthenticated,
        "PreconditionNotMetException" => ErrorKind::Conflict,
        "InvalidParameterException"
        | "InvalidRequestException"
        | "LimitExceededException"
        | "MalformedPolicyDocumentException"
        | "ValidationException" => ErrorKind::InvalidInput,
        "DecryptionFailure"
        | "EncryptionFailure"
        | "InvalidCiphertextException"
        | "IncorrectKeyException" => ErrorKind::PermissionDenied,
        "DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException" => {
            ErrorKind::Config
        }
        _ if status >= 500 => ErrorKind::Transient,
        _ if status == 429 => ErrorKind::Throttled,
        _ if status == 403 => ErrorKind::PermissionDenied,
        _ if status == 401 => ErrorKind::Unauthenticated,
        _ => ErrorKind::InvalidInput,
    }
}

/// Builds the backend error for a failed SDK call.
pub fn to_backend<E>(op: Op, name: &str, err: SdkError<E, HttpResponse>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let (kind, msg) = classify(&err);
    BackendError::new(kind, op, msg).name(name).source(err)
}

/// [`to_backend`] for `request`, whose refusal names the action it lacked from `table` (or
/// from AWS's message, when it says).
pub(crate) fn to_backend_for<E>(
    table: &Table<Need>,
    request: &str,
    op: Op,
    name: &str,
    err: SdkError<E, HttpResponse>,
) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut e = to_backend(op, name, err);
    if e.kind != ErrorKind::PermissionDenied {
        return e;
    }
    match crate::iam::denied(table, request, name, &e.message) {
        Some(d) => {
            // Who was refused is worth saying (which role did the job assume?).
            e.message = crate::iam::principal(&e.message)
                .map(|p| format!("as {p}"))
                .unwrap_or_default();
            e.denied(d)
        }
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_kinds() {
        let cases = [
            ("ResourceNotFoundException", 400, ErrorKind::NotFound),
            ("ResourceExistsException", 400, ErrorKind::AlreadyExists),
            ("ThrottlingException", 400, ErrorKind::Throttled),
            ("InternalServiceError", 500, ErrorKind::Transient),
            ("AccessDeniedException", 400, ErrorKind::PermissionDenied),
            ("ExpiredTokenException", 400, ErrorKind::Unauthenticated),
            ("PreconditionNotMetException", 400, ErrorKind::Conflict),
            ("InvalidRequestException", 400, ErrorKind::InvalidInput),
            (
                "InvalidCiphertextException",
                400,
                ErrorKind::PermissionDenied,
            ),
            ("KMSInvalidStateException", 400, ErrorKind::Config),
            ("SomethingNew", 503, ErrorKind::Transient),
            ("SomethingNew", 429, ErrorKind::Throttled),
            ("Unknown", 403, ErrorKind::PermissionDenied),
            ("SignatureDoesNotMatch", 403, ErrorKind::Unauthenticated),
            ("Unknown", 401, ErrorKind::Unauthenticated),
            ("SomethingNew", 400, ErrorKind::InvalidInput),
        ];
        for (code, status, want) in cases {
            assert_eq!(kind_of(code, status), want, "{code} {status}");
        }
    }

    #[test]
    fn an_xml_refusal_is_read_for_its_code_and_message() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci is not authorized to perform: secretsmanager:CreateSecret</Message></Error></Errors></ErrorResponse>"#;
        let (code, message) = xml_error(body).unwrap();
        assert_eq!(code, "AccessDenied");
        assert!(message.ends_with("perform: secretsmanager:CreateSecret"));
        assert_eq!(xml_error(b"{\"__type\": \"x\"}"), None);
        assert_eq!(
            xml_error(b"<Code>A&amp;B</Code>"),
            Some(("A&B".into(), String::new()))
        );
    }

    #[test]
    fn only_a_passing_fault_may_be_sent_again() {
        use aws_sdk_secretsmanager::error::{ConnectorError, ErrorMetadata};
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError as E;
        use aws_smithy_types::body::SdkBody;
        let raw = |status: u16| HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        let service = |code: &str, status: u16| {
            let meta = ErrorMetadata::builder().code(code).build();
            SdkError::service_error(E::generic(meta), raw(status))
        };
        let io = || Box::new(std::io::Error::other("connection reset"));
        for (e, want) in [
            (
                SdkError::dispatch_failure(ConnectorError::io(io())),
                Fault::Unknown,
            ),
            (SdkError::response_error(io(), raw(200)), Fault::Unknown),
            (service("InternalServiceError", 500), Fault::Unknown),
            (service("ServiceUnavailable", 503), Fault::Unknown),
            // Answers go to the caller; a throttle to the retry layer and its budget.
            (service("ThrottlingException", 400), Fault::Settled),
            (service("ResourceNotFoundException", 400), Fault::Settled),
            // A timeout too: a service that hangs must not cost three timeouts a request.
            (SdkError::timeout_error(io()), Fault::TimedOut),
            (
                SdkError::dispatch_failure(ConnectorError::timeout(io())),
                Fault::TimedOut,
            ),
        ] {
            assert_eq!(fault(&e), want, "{e:?}");
        }
    }
}
