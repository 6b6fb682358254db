//! What the emulators say they were sent: their own request logs, read back to check the
//! request counts a backend reports (tests and benchmarks). Each log names a request the way
//! the service does, as [`crate::wire::Wire`] counters do, so the two can be compared as maps.
//!
//! - moto: its recorder, one JSON line per request, named by the `X-Amz-Target` header. It
//!   records only while a [`MotoRecording`] lives: it would otherwise write every request body
//!   (values included) of every test to disk.
//! - OpenBao: a file audit device, one JSON `request` entry per request, named by the HTTP verb
//!   its operation comes from and the KV endpoint (`LIST metadata`, `POST data`, …).
//! - The GCP Secret Manager emulator: uvicorn's access log, one line per request served, named
//!   by the REST route's RPC (`CreateSecret`, `AccessSecretVersion`, …).

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// Which emulator wrote a log, and so how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    /// moto's recorder.
    Moto,
    /// An OpenBao file audit device.
    OpenBao,
    /// uvicorn's access log of the GCP Secret Manager emulator.
    GcpSecretManager,
}

/// A place in an emulator's request log: what comes after it is what a test caused.
#[derive(Debug, Clone)]
pub struct Mark {
    emulator: Emulator,
    path: PathBuf,
    offset: u64,
}

impl Mark {
    /// The end of the log at `path` now.
    pub fn now(emulator: Emulator, path: impl Into<PathBuf>) -> std::io::Result<Mark> {
        let path = path.into();
        let offset = std::fs::metadata(&path)?.len();
        Ok(Mark {
            emulator,
            path,
            offset,
        })
    }

    /// The requests logged since the mark whose entry contains `filter` (a name prefix, or a
    /// GCP project), counted by the service's name for each.
    pub fn requests_since(&self, filter: &str) -> std::io::Result<BTreeMap<String, u64>> {
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.offset))?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        let mut out = BTreeMap::new();
        for line in text.lines() {
            if let Some(name) = self.name_of(line, filter) {
                *out.entry(name).or_default() += 1;
            }
        }
        Ok(out)
    }

    fn name_of(&self, line: &str, filter: &str) -> Option<String> {
        match self.emulator {
            Emulator::Moto => moto(line, filter),
            Emulator::OpenBao => openbao(line, filter),
            Emulator::GcpSecretManager => gcp(line, filter),
        }
    }
}

/// moto's recorder, on while this lives: dropped (a test's assertion failing included), it
/// stops, so no later test's request bodies (values) are written to disk.
#[derive(Debug)]
pub struct MotoRecording {
    endpoint: String,
}

impl MotoRecording {
    /// Starts moto's recorder at `endpoint` (`http://HOST:PORT`).
    pub fn start(endpoint: &str) -> std::io::Result<Self> {
        moto_recorder(endpoint, "start-recording")?;
        Ok(Self {
            endpoint: endpoint.to_string(),
        })
    }
}

impl Drop for MotoRecording {
    fn drop(&mut self) {
        if let Err(e) = moto_recorder(&self.endpoint, "stop-recording") {
            eprintln!("moto's recorder did not stop: {e}");
        }
    }
}

/// Sends `POST /moto-api/recorder/{action}` to moto with a plain HTTP/1.1 request (this crate
/// has no HTTP client, and one call to a local test server does not warrant one).
fn moto_recorder(endpoint: &str, action: &str) -> std::io::Result<()> {
    use std::io::{Error, Write};
    let host = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| Error::other(format!("{endpoint} is not an http:// endpoint")))?
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host)?;
    write!(
        s,
        "POST /moto-api/recorder/{action} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    match answer.split(' ').nth(1) {
        Some(status) if status.starts_with('2') => Ok(()),
        _ => Err(Error::other(format!(
            "moto refused {action}: {}",
            answer.lines().next().unwrap_or_default()
        ))),
    }
}

fn moto(line: &str, filter: &str) -> Option<String> {
    use base64::Engine;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let target = v["headers"]["X-Amz-Target"].as_str()?;
    let body = v["body"].as_str().unwrap_or_default();
    let body = if v["body_encoded"].as_bool() == Some(true) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?;
        String::from_utf8_lossy(&raw).into_owned()
    } else {
        body.to_string()
    };
    body.contains(filter)
        .then(|| target.rsplit('.').next().unwrap_or(target).to_string())
}

fn openbao(line: &str, filter: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["type"] != "request" {
        return None;
    }
    let path = v["request"]["path"].as_str()?;
    if !path.contains(filter) {
        return None;
    }
    let verb = match v["request"]["operation"].as_str()? {
        "list" => "LIST",
        "read" => "GET",
        "create" | "update" => "POST",
        "patch" => "PATCH",
        "delete" => "DELETE",
        other => other,
    };
    // `MOUNT/ENDPOINT/…`, or `auth/METHOD/login`.
    let endpoint = if path.starts_with("auth/") {
        path.rsplit('/').next()
    } else {
        path.split('/').nth(1)
    }
    .unwrap_or_default();
    Some(format!("{verb} {endpoint}"))
}

fn gcp(line: &str, filter: &str) -> Option<String> {
    // `CLIENT "METHOD PATH HTTP/1.1" STATUS`
    let request = line.split('"').nth(1)?;
    let mut parts = request.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    if !target.contains(filter) {
        return None;
    }
    let path = target.split('?').next()?.replace("%3A", ":");
    let segs: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let name = match (method, segs.as_slice()) {
        ("GET", [_, _, "secrets"]) => "ListSecrets",
        ("POST", [_, _, "secrets"]) => "CreateSecret",
        ("POST", [_, _, "secrets", s]) if s.ends_with(":addVersion") => "AddSecretVersion",
        ("GET", [_, _, "secrets", _]) => "GetSecret",
        ("PATCH", [_, _, "secrets", _]) => "UpdateSecret",
        ("DELETE", [_, _, "secrets", _]) => "DeleteSecret",
        ("GET", [_, _, "secrets", _, "versions", v]) if v.ends_with(":access") => {
            "AccessSecretVersion"
        }
        ("GET", [_, _, "secrets", _, "versions", _]) => "GetSecretVersion",
        _ => return Some(format!("{method} {path}")),
    };
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_log_names_requests_as_the_service_does() {
        let m = r#"{"headers": {"X-Amz-Target": "secretsmanager.CreateSecret"}, "method": "POST", "url": "/", "body": "eyJOYW1lIjogInBfQSJ9", "body_encoded": true}"#;
        assert_eq!(moto(m, "p_A").as_deref(), Some("CreateSecret"));
        assert_eq!(moto(m, "q_"), None);
        let b = r#"{"type":"request","request":{"operation":"list","path":"secret/metadata/p/"}}"#;
        assert_eq!(openbao(b, "p/").as_deref(), Some("LIST metadata"));
        let b = r#"{"type":"response","request":{"operation":"list","path":"secret/metadata/p/"}}"#;
        assert_eq!(
            openbao(b, "p/"),
            None,
            "a response entry is the same request"
        );
        let b = r#"{"type":"request","request":{"operation":"update","path":"secret/data/p/A"}}"#;
        assert_eq!(openbao(b, "p/").as_deref(), Some("POST data"));
        let b =
            r#"{"type":"request","request":{"operation":"update","path":"auth/approle/login"}}"#;
        assert_eq!(openbao(b, "approle").as_deref(), Some("POST login"));
        for (line, want) in [
            (
                r#"1 "GET /v1/projects/pj/secrets?pageSize=9 HTTP/1.1" 200 OK"#,
                "ListSecrets",
            ),
            (
                r#"1 "POST /v1/projects/pj/secrets?secretId=A HTTP/1.1" 200 OK"#,
                "CreateSecret",
            ),
            (
                r#"1 "POST /v1/projects/pj/secrets/A:addVersion HTTP/1.1" 200 OK"#,
                "AddSecretVersion",
            ),
            (
                r#"1 "GET /v1/projects/pj/secrets/A/versions/latest%3Aaccess HTTP/1.1" 404"#,
                "AccessSecretVersion",
            ),
            (
                r#"1 "GET /v1/projects/pj/secrets/A/versions/latest HTTP/1.1" 200 OK"#,
                "GetSecretVersion",
            ),
            (
                r#"1 "PATCH /v1/projects/pj/secrets/A?updateMask=labels HTTP/1.1" 200 OK"#,
                "UpdateSecret",
            ),
        ] {
            assert_eq!(gcp(line, "projects/pj/").as_deref(), Some(want), "{line}");
        }
        assert_eq!(
            gcp(
                r#"1 "GET /v1/projects/other/secrets HTTP/1.1" 200"#,
                "projects/pj/"
            ),
            None
        );
    }
}
