//! Getting a Vault token: given, or by logging in with AppRole or Kubernetes.

use secretsync_core::{BackendError, ErrorKind, Op};
use serde_json::json;

/// How to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// A token (`VAULT_TOKEN`).
    Token(String),
    /// AppRole login at `auth/{mount}/login`.
    AppRole {
        /// Role id.
        role_id: String,
        /// Secret id.
        secret_id: String,
        /// Auth mount (default `approle`).
        mount: String,
    },
    /// Kubernetes login at `auth/{mount}/login` with the service account's JWT.
    Kubernetes {
        /// Vault role.
        role: String,
        /// Path of the service account token.
        jwt_path: String,
        /// Auth mount (default `kubernetes`).
        mount: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Auth::Token([REDACTED])"),
            Auth::AppRole { mount, .. } => write!(f, "Auth::AppRole(auth/{mount}, [REDACTED])"),
            Auth::Kubernetes { role, mount, .. } => {
                write!(f, "Auth::Kubernetes(auth/{mount}, role {role})")
            }
        }
    }
}

fn config(msg: impl Into<String>) -> BackendError {
    BackendError::new(ErrorKind::Config, Op::List, msg)
}

impl Auth {
    /// Chooses the method from the URL's `auth` parameter and the environment.
    pub fn from_params(
        method: Option<&str>,
        role: Option<&str>,
        mount: Option<&str>,
    ) -> Result<Auth, BackendError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match method.unwrap_or("token") {
            "token" => env("VAULT_TOKEN")
                .map(Auth::Token)
                .ok_or_else(|| config("no Vault token: set VAULT_TOKEN, or use ?auth=approle or ?auth=kubernetes&role=ROLE")),
            "approle" => Ok(Auth::AppRole {
                role_id: env("VAULT_ROLE_ID").ok_or_else(|| config("?auth=approle needs VAULT_ROLE_ID and VAULT_SECRET_ID"))?,
                secret_id: env("VAULT_SECRET_ID").ok_or_else(|| config("?auth=approle needs VAULT_ROLE_ID and VAULT_SECRET_ID"))?,
                mount: mount.unwrap_or("approle").to_string(),
            }),
            "kubernetes" => Ok(Auth::Kubernetes {
                role: role.ok_or_else(|| config("?auth=kubernetes needs &role=ROLE"))?.to_string(),
                jwt_path: env("VAULT_K8S_TOKEN_PATH").unwrap_or_else(|| "/var/run/secrets/kubernetes.io/serviceaccount/token".into()),
                mount: mount.unwrap_or("kubernetes").to_string(),
            }),
            other => Err(config(format!("unknown auth method {other:?}: use token, approle or kubernetes"))),
        }
    }

    /// The login request for this method: `(auth mount, body)`; `None` for a plain token.
    pub(crate) fn login_request(
        &self,
    ) -> Result<Option<(String, serde_json::Value)>, BackendError> {
        match self {
            Auth::Token(_) => Ok(None),
            Auth::AppRole {
                role_id,
                secret_id,
                mount,
            } => Ok(Some((
                mount.clone(),
                json!({"role_id": role_id, "secret_id": secret_id}),
            ))),
            Auth::Kubernetes {
                role,
                jwt_path,
                mount,
            } => {
                let jwt = std::fs::read_to_string(jwt_path).map_err(|e| {
                    config(format!(
                        "cannot read the Kubernetes service account token {jwt_path}: {e}"
                    ))
                })?;
                Ok(Some((
                    mount.clone(),
                    json!({"role": role, "jwt": jwt.trim()}),
                )))
            }
        }
    }
}
