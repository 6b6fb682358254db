//! Who may talk to the dashboard: the loopback `Host` it was started with, the holder of the
//! one-time token (then of its session cookie), and for every POST, whatever its route (routes
//! added later too), the page's CSRF token in the form. Every response carries the security
//! headers. The stylesheet alone is served before a session: the pages refusing a request use
//! it too.

use super::pages;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The session cookie's name.
const COOKIE: &str = "secretsync_session";

/// The one-time token and the one session it turns into.
#[derive(Debug)]
pub struct Auth {
    /// The token in the printed URL; `None` once exchanged.
    token: Option<String>,
    session: Option<Session>,
}

/// The browser's session.
#[derive(Debug, Clone)]
pub struct Session {
    cookie: String,
    /// The token every form carries.
    pub csrf: String,
    /// A message for the next page (what a POST did), shown once.
    pub flash: Option<String>,
}

/// 32 random bytes, hex.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Equal without telling, by timing, how much of a guess was right.
pub fn same(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

impl Auth {
    /// A fresh token, no session.
    pub fn new(token: String) -> Self {
        Self {
            token: Some(token),
            session: None,
        }
    }
}

/// Where the guard checks requests against.
#[derive(Debug)]
pub struct Gate {
    /// The `Host` header every request must carry (`127.0.0.1:PORT`).
    pub host: String,
    /// The origin a browser's POST comes from (`http://127.0.0.1:PORT`).
    pub origin: String,
    /// The token and the session.
    pub auth: Mutex<Auth>,
}

impl Gate {
    /// The session, if the request's cookie is its.
    fn session_of(&self, headers: &HeaderMap) -> Option<Session> {
        let cookie = cookie(headers)?;
        let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        auth.session
            .as_ref()
            .filter(|s| same(&s.cookie, &cookie))
            .cloned()
    }

    /// Whether `csrf` is the session's CSRF token.
    pub fn csrf_ok(&self, csrf: &str) -> bool {
        let auth = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        auth.session.as_ref().is_some_and(|s| same(&s.csrf, csrf))
    }

    /// Leaves a message for the next page.
    pub fn flash(&self, msg: String) {
        let mut auth = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = auth.session.as_mut() {
            s.flash = Some(msg);
        }
    }

    /// Takes the message left for this page.
    pub fn take_flash(&self) -> Option<String> {
        let mut auth = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        auth.session.as_mut().and_then(|s| s.flash.take())
    }

    /// Exchanges the one-time token for a session; `None` if it is not the token (or was used).
    fn exchange(&self, token: &str) -> Option<Session> {
        let mut auth = self.auth.lock().unwrap_or_else(|e| e.into_inner());
        let t = auth.token.as_deref()?;
        if !same(t, token) {
            return None;
        }
        auth.token = None;
        let s = Session {
            cookie: random_token(),
            csrf: random_token(),
            flash: None,
        };
        auth.session = Some(s.clone());
        Some(s)
    }
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
}

fn refuse(status: StatusCode, title: &str, why: &str) -> Response {
    (status, pages::refusal(title, why)).into_response()
}

/// The session's CSRF token, for the handler's forms (the guard puts it there).
#[derive(Debug, Clone)]
pub struct Csrf(pub String);

/// The largest form the dashboard takes: a value of the largest size, twice (a textarea and a
/// file), and the other fields.
pub const MAX_FORM_BYTES: usize = secretsync_core::MAX_VALUE_BYTES * 2 + 16 * 1024;

/// Checks every request (and every POST's CSRF token), then adds the security headers to every
/// response.
pub async fn guard(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    let mut resp = match checked(&gate, req).await {
        Ok(req) => next.run(req).await,
        Err(refused) => *refused,
    };
    secure(resp.headers_mut());
    resp
}

/// The request, let through with its session's CSRF token for the handler's forms, or the
/// response that refuses it.
async fn checked(gate: &Gate, mut req: Request) -> Result<Request, Box<Response>> {
    let csrf = check(gate, &req)?;
    if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| {
                Box::new(refuse(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too large",
                    "the form is larger than the dashboard takes (a value is at most 64 KiB)",
                ))
            })?;
        let sent = form_token(&parts.headers, &bytes).await;
        if !sent.is_some_and(|t| gate.csrf_ok(&t)) {
            return Err(Box::new(refuse(
                StatusCode::FORBIDDEN,
                "Stale form",
                "this form's CSRF token is missing or stale: reload the page and send it again",
            )));
        }
        req = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    req.extensions_mut().insert(csrf);
    Ok(req)
}

/// The `csrf` field of a posted form (URL-encoded or multipart).
async fn form_token(headers: &HeaderMap, body: &axum::body::Bytes) -> Option<String> {
    let ctype = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if ctype.starts_with("application/x-www-form-urlencoded") {
        return url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
    }
    let boundary = multer::parse_boundary(ctype).ok()?;
    let stream = futures::stream::once(std::future::ready(Ok::<_, std::convert::Infallible>(
        body.clone(),
    )));
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("csrf") {
            return field.text().await.ok();
        }
    }
    None
}

/// The session's CSRF token for the handler, or the response to send instead.
fn check(gate: &Gate, req: &Request) -> Result<Csrf, Box<Response>> {
    // DNS rebinding: a foreign name that resolves to 127.0.0.1 brings a foreign Host.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if host != Some(gate.host.as_str()) {
        return Err(Box::new(refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "Wrong host",
            &format!("this dashboard only answers requests for {}", gate.host),
        )));
    }
    // The stylesheet holds nothing of anyone's; the refusal pages below need it.
    if req.uri().path() == "/style.css" && req.method() == Method::GET {
        return Ok(Csrf(String::new()));
    }
    // The one-time token from the printed URL becomes the session cookie.
    let token = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    });
    if let Some(token) = token {
        if let Some(s) = gate.exchange(&token) {
            let mut r = Redirect::to(req.uri().path()).into_response();
            let c = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", s.cookie);
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return Err(Box::new(r));
        }
        if gate.session_of(req.headers()).is_some() {
            return Err(Box::new(Redirect::to(req.uri().path()).into_response()));
        }
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "This link was used already",
            "the token in the URL works once, in one browser. Restart `secretsync ui` for a new link",
        )));
    }
    let Some(session) = gate.session_of(req.headers()) else {
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "open the URL `secretsync ui` printed (it carries a one-time token)",
        )));
    };
    if req.method() == Method::POST {
        // A form posted from another site: SameSite already keeps the cookie away; this says so.
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|h| h.to_str().ok());
        if origin.is_some_and(|o| o != gate.origin) {
            return Err(Box::new(refuse(
                StatusCode::FORBIDDEN,
                "Foreign origin",
                "this form was not sent from the dashboard",
            )));
        }
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(Box::new(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            "the dashboard takes GET and POST only",
        )));
    }
    Ok(Csrf(session.csrf))
}

fn secure(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    // `no-referrer` would make Chromium send `Origin: null` with our own forms.
    set(h, "referrer-policy", "same-origin");
    set(h, "cache-control", "no-store");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cross-origin-resource-policy", "same-origin");
}
