//! One KV request: built under the backend's path, sent through the wire (sent again after a
//! passing fault), its answer read within bounds, and its failure as a backend error (a
//! refusal naming the capability and path it lacked).

use super::VaultBackend;
use crate::http::{classify, read_bounded};
use crate::options::config;
use reqwest::{Method, StatusCode};
use secretsync_core::error::Result;
use secretsync_core::*;
use serde_json::Value;
use std::time::Duration;

/// A response as [`VaultBackend::call`] reads it.
struct Reply {
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<String>,
    text: String,
}

/// Why an attempt of a request got no answer worth reading.
enum Failed {
    /// No response: the connection, a timeout, a reset.
    Send(reqwest::Error),
    /// The body broke off or was unreadable.
    Body(String),
    /// A server error (5xx, or 412 from a standby behind on its index).
    Status(Reply),
}

impl Failed {
    /// Whether the wire may send the request again at once (see [`wire::Fault`]).
    fn fault(&self) -> wire::Fault {
        match self {
            Failed::Send(e) if e.is_timeout() => wire::Fault::TimedOut,
            Failed::Send(e) if e.is_builder() => wire::Fault::Settled,
            Failed::Send(e) if e.is_connect() => wire::Fault::NotSent,
            Failed::Send(_) | Failed::Body(_) | Failed::Status(_) => wire::Fault::Unknown,
        }
    }
}

impl VaultBackend {
    /// `/v1/SEGS…` and, for KV calls (`rel` given), the backend's path and `rel`.
    fn url(&self, segs: &[&str], rel: Option<&str>, list: bool) -> Result<reqwest::Url> {
        let mut u = reqwest::Url::parse(&self.opts.addr)
            .map_err(|e| config(format!("bad Vault address {}: {e}", self.opts.addr)))?;
        {
            let mut p = u
                .path_segments_mut()
                .map_err(|_| config("the Vault address cannot take a path"))?;
            p.push("v1");
            p.extend(segs);
            if let Some(rel) = rel {
                p.extend(self.opts.path.split('/').filter(|s| !s.is_empty()));
                p.extend(rel.split('/').filter(|s| !s.is_empty()));
            }
            if list {
                p.push("");
            }
        }
        if list {
            u.set_query(Some("list=true"));
        }
        Ok(u)
    }

    /// One API call; `Ok(Value::Null)` for 404 and empty bodies.
    pub(super) async fn call(
        &self,
        method: Method,
        segs: &[&str],
        rel: Option<&str>,
        body: Option<Value>,
        op: Op,
        name: &str,
    ) -> Result<Value> {
        let list = method == Method::GET
            && segs.last() == Some(&"metadata")
            && rel.is_some_and(|r| r.is_empty() || r.ends_with('/'));
        let url = self.url(segs, rel, list)?;
        // Counted as `LIST metadata`, `GET data`, `POST metadata`, … (the verb and the KV
        // endpoint; names stay out of the counter).
        let (class, verb) = match method {
            _ if list => (OpClass::List, "LIST"),
            Method::GET => (OpClass::Read, "GET"),
            _ => (OpClass::Write, method.as_str()),
        };
        let request = format!("{verb} {}", segs.last().unwrap_or(&""));
        let request_name = request.clone();
        let patch = method == Method::PATCH;
        // One attempt; the wire sends it again after a passing fault (every KV request may be
        // sent twice: reads, merge patches, and data writes whose check-and-set refuses a
        // second landing, which `put` then recognises as its own).
        let attempt = || {
            let mut req = self.http.request(method.clone(), url.clone());
            if !self.token.is_empty() {
                req = req.header("X-Vault-Token", &self.token);
            }
            if let Some(ns) = &self.opts.namespace {
                req = req.header("X-Vault-Namespace", ns);
            }
            if let Some(b) = &body {
                req = if patch {
                    // KV v2 takes PATCH as a JSON merge patch.
                    req.header("Content-Type", "application/merge-patch+json")
                        .body(b.to_string())
                } else {
                    req.json(b)
                };
            }
            async move {
                let resp = req.send().await.map_err(Failed::Send)?;
                let status = resp.status();
                let header = |h: &str| {
                    resp.headers()
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let retry_after = header("retry-after")
                    .and_then(|v| v.parse().ok())
                    .map(Duration::from_secs);
                let location = header("location");
                let text = if status.is_redirection() {
                    String::new()
                } else {
                    read_bounded(resp).await.map_err(Failed::Body)?
                };
                let reply = Reply {
                    status,
                    retry_after,
                    location,
                    text,
                };
                if status.is_server_error() || status == StatusCode::PRECONDITION_FAILED {
                    Err(Failed::Status(reply))
                } else {
                    Ok(reply)
                }
            }
        };
        let err = |kind, msg: String| BackendError::new(kind, op, msg).name(name);
        let reply = match self
            .wire
            .send_again(
                class,
                request,
                wire::Resend::Idempotent,
                Failed::fault,
                attempt,
            )
            .await
        {
            Ok(r) | Err(Failed::Status(r)) => r,
            Err(Failed::Send(e)) => {
                let kind = if e.is_builder() {
                    ErrorKind::Config
                } else {
                    ErrorKind::Transient
                };
                return Err(err(kind, format!("cannot reach {}: {e}", self.opts.addr)));
            }
            Err(Failed::Body(e)) => {
                return Err(err(
                    ErrorKind::Transient,
                    format!("unreadable response: {e}"),
                ))
            }
        };
        let Reply {
            status,
            retry_after,
            location,
            text,
        } = reply;
        if status.is_redirection() {
            let to = location.unwrap_or_else(|| "?".into());
            return Err(err(
                ErrorKind::Config,
                format!("{} redirected to another origin ({to}); secretsync does not follow it, so the token and values stay with the server named in the URL. Point the URL at that server if it is yours", self.opts.addr),
            ));
        }
        if status == StatusCode::NOT_FOUND {
            return Ok(Value::Null);
        }
        if status.is_success() {
            return Ok(if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::Null)
            });
        }
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["errors"].as_array().map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_default();
        let kind = classify(status.as_u16(), &msg, !self.token.is_empty());
        let e = err(kind, format!("HTTP {}: {msg}", status.as_u16())).retry_after(retry_after);
        // A refusal names the capability the request needs and the path it was refused on.
        let denied = (kind == ErrorKind::PermissionDenied)
            .then(|| {
                crate::permissions::denied(&request_name, url.path().trim_start_matches("/v1/"))
            })
            .flatten();
        Err(match denied {
            Some(d) => {
                // Vault says "permission denied" and nothing more.
                let mut e = e.denied(d);
                e.message.clear();
                e
            }
            None => e,
        })
    }
}
