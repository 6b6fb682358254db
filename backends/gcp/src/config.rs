//! Endpoints and credentials, the same for Secret Manager and KMS.

use google_cloud_auth::credentials::{anonymous, Builder as AdcBuilder, Credentials};
use std::time::Duration;

/// Where and how to reach a GCP service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpOptions {
    /// Endpoint override (an emulator, a private endpoint).
    pub endpoint: Option<String>,
    /// Anonymous credentials instead of Application Default Credentials.
    pub anonymous: bool,
}

impl GcpOptions {
    /// Reads `endpoint=` and `auth=none` from a URL's query, then the environment:
    /// `env_endpoint` (e.g. `SECRETSYNC_GCP_SECRETMANAGER_ENDPOINT`) and `SECRETSYNC_GCP_AUTH=none`.
    pub fn from_parts(url: Option<&url::Url>, env_endpoint: &str) -> Result<Self, String> {
        let mut o = GcpOptions {
            endpoint: std::env::var(env_endpoint).ok().filter(|v| !v.is_empty()),
            anonymous: std::env::var("SECRETSYNC_GCP_AUTH").is_ok_and(|v| v == "none"),
        };
        for (k, v) in url.into_iter().flat_map(|u| u.query_pairs()) {
            match k.as_ref() {
                "endpoint" => o.endpoint = Some(v.into_owned()),
                "auth" if v == "none" => o.anonymous = true,
                "auth" if v == "adc" => o.anonymous = false,
                "auth" => return Err(format!("auth={v}: use auth=adc (default) or auth=none")),
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}: gcp-sm:// takes endpoint and auth"
                    ))
                }
            }
        }
        Ok(o)
    }

    /// The credentials, checked now: with none configured, the client would otherwise fail
    /// only at its first call, about a minute later.
    pub async fn credentials(&self) -> Result<Credentials, String> {
        if self.anonymous {
            return Ok(anonymous::Builder::new().build());
        }
        let creds = AdcBuilder::default().build().map_err(|e| {
            format!("no Application Default Credentials ({e}); run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or use auth=none for an emulator")
        })?;
        match tokio::time::timeout(Duration::from_secs(10), creds.headers(http::Extensions::new())).await {
            Ok(Ok(_)) => Ok(creds),
            Ok(Err(e)) => Err(format!("the Application Default Credentials do not work: {e}")),
            Err(_) => Err("the Application Default Credentials did not answer within 10 s (is the metadata server reachable?)".into()),
        }
    }
}
