//! `vault://` URLs: the server, KV mount, path, namespace and how to log in.

use crate::auth::Auth;
use secretsync_core::error::Result;
use secretsync_core::{BackendError, ErrorKind, Op};

/// A configuration problem, before any call.
pub(crate) fn config(msg: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Config, Op::List, msg)
}

/// Where the backend is and how to log in.
#[derive(Debug, Clone)]
pub struct VaultOptions {
    /// Server address, e.g. `http://127.0.0.1:8200`.
    pub addr: String,
    /// KV v2 mount, e.g. `secret`.
    pub mount: String,
    /// Path under the mount that names are relative to (may be empty).
    pub path: String,
    /// Enterprise / OpenBao namespace.
    pub namespace: Option<String>,
    /// How to authenticate.
    pub auth: Auth,
}

/// Where a `vault://` URL writes: the KV v2 mount, the path under it and the namespace. Read
/// without credentials or a server (for policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// KV v2 mount, e.g. `secret`.
    pub mount: String,
    /// Path under the mount that names are relative to (may be empty).
    pub path: String,
    /// Enterprise / OpenBao namespace.
    pub namespace: Option<String>,
}

impl Location {
    /// Reads the mount, path and namespace of a `vault://` or `vault+http://` URL.
    pub fn from_url(url: &url::Url) -> Result<Self> {
        if !matches!(url.scheme(), "vault" | "vault+http") {
            return Err(config(format!("{}:// is not a Vault URL", url.scheme())));
        }
        let mut segs = url.path().trim_matches('/').splitn(2, '/');
        let mount = segs
            .next()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| config("the URL names no KV mount: vault://HOST/MOUNT[/PATH]"))?;
        let path = segs.next().unwrap_or("").trim_matches('/').to_string();
        let mut namespace = std::env::var("VAULT_NAMESPACE").ok();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "auth" | "role" | "auth_mount" => {}
                "namespace" => namespace = Some(v.into_owned()),
                other => return Err(config(format!("unknown parameter {other:?}: vault URLs take auth, role, auth_mount and namespace"))),
            }
        }
        Ok(Location {
            mount: mount.into(),
            path,
            namespace,
        })
    }
}

impl VaultOptions {
    /// Reads a `vault://` or `vault+http://` URL.
    pub fn from_url(url: &url::Url) -> Result<Self> {
        let scheme = match url.scheme() {
            "vault" => "https",
            "vault+http" => "http",
            other => return Err(config(format!("{other}:// is not a Vault URL"))),
        };
        let loc = Location::from_url(url)?;
        let addr = match url.host_str().filter(|h| !h.is_empty()) {
            Some(h) => format!(
                "{scheme}://{h}{}",
                url.port().map_or(String::new(), |p| format!(":{p}"))
            ),
            None => {
                let addr = std::env::var("VAULT_ADDR")
                    .map_err(|_| config("the URL names no server and VAULT_ADDR is not set"))?;
                if scheme == "https" && !addr.trim().to_ascii_lowercase().starts_with("https://") {
                    return Err(config(format!(
                        "VAULT_ADDR {addr:?} is not https://: the token and values would cross the network in clear. Use https, or opt into plain HTTP explicitly with a vault+http:// URL"
                    )));
                }
                addr
            }
        };
        let (mut method, mut role, mut auth_mount) = (None, None, None);
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "auth" => method = Some(v.into_owned()),
                "role" => role = Some(v.into_owned()),
                "auth_mount" => auth_mount = Some(v.into_owned()),
                _ => {}
            }
        }
        let auth = Auth::from_params(method.as_deref(), role.as_deref(), auth_mount.as_deref())?;
        Ok(VaultOptions {
            addr: addr.trim_end_matches('/').to_string(),
            mount: loc.mount,
            path: loc.path,
            namespace: loc.namespace,
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_options_or_clear_errors() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let o = VaultOptions::from_url(&u("vault://v.example:8200/kv/team/app?auth=token"))
            .unwrap_or_else(|e| {
                // No VAULT_TOKEN here: only the token check may fail.
                assert!(e.to_string().contains("VAULT_TOKEN"), "{e}");
                VaultOptions {
                    addr: "https://v.example:8200".into(),
                    mount: "kv".into(),
                    path: "team/app".into(),
                    namespace: None,
                    auth: Auth::Token(String::new()),
                }
            });
        assert_eq!(
            (o.addr.as_str(), o.mount.as_str(), o.path.as_str()),
            ("https://v.example:8200", "kv", "team/app")
        );
        for (bad, want) in [
            ("vault://v.example/", "names no KV mount"),
            ("vault://v.example/kv?colour=red", "unknown parameter"),
            ("vault://v.example/kv?auth=ldap", "unknown auth method"),
            ("http://v.example/kv", "is not a Vault URL"),
        ] {
            let err = VaultOptions::from_url(&u(bad)).unwrap_err().to_string();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }
}
