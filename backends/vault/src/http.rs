//! The HTTP side: what a status means, redirects kept to one origin, bounded bodies.

use secretsync_core::ErrorKind;

/// What a Vault error status (with its `errors` text) means. Vault reports a lost
/// check-and-set as a 400 whose only mark is its text.
pub(crate) fn classify(status: u16, msg: &str, has_token: bool) -> ErrorKind {
    match status {
        400 if msg.contains("check-and-set") => ErrorKind::Conflict,
        400 | 405 | 413 => ErrorKind::InvalidInput,
        401 => ErrorKind::Unauthenticated,
        403 if msg.contains("permission denied") && !has_token => ErrorKind::Unauthenticated,
        403 => ErrorKind::PermissionDenied,
        409 => ErrorKind::Conflict,
        412 | 500..=599 => ErrorKind::Transient,
        429 => ErrorKind::Throttled,
        _ => ErrorKind::InvalidInput,
    }
}

/// The most bytes of a response body read (a KV listing of 100,000 names fits).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Redirects are followed only within the origin (scheme, host and port) they come from: the
/// `X-Vault-Token` header and request bodies (values, AppRole secret ids) never go to another host
/// or from https to http.
pub(crate) fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same && attempt.previous().len() < 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Reads a response body, refusing one over [`MAX_RESPONSE_BYTES`].
pub(crate) async fn read_bounded(
    mut resp: reqwest::Response,
) -> std::result::Result<String, String> {
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if buf.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("the body is over {MAX_RESPONSE_BYTES} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| "the body is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (
                400,
                "check-and-set parameter did not match the current version",
                true,
                ErrorKind::Conflict,
            ),
            (400, "invalid request", true, ErrorKind::InvalidInput),
            (401, "", true, ErrorKind::Unauthenticated),
            (403, "permission denied", false, ErrorKind::Unauthenticated),
            (403, "permission denied", true, ErrorKind::PermissionDenied),
            (409, "", true, ErrorKind::Conflict),
            (412, "", true, ErrorKind::Transient),
            (413, "", true, ErrorKind::InvalidInput),
            (429, "", true, ErrorKind::Throttled),
            (500, "", true, ErrorKind::Transient),
            (503, "sealed", true, ErrorKind::Transient),
            (418, "", true, ErrorKind::InvalidInput),
        ];
        for (status, msg, token, want) in cases {
            assert_eq!(
                classify(status, msg, token),
                want,
                "{status} {msg:?} token={token}"
            );
        }
    }
}
