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
            Ok(Err(e)) => Err(format!("no working Google credentials (Application Default Credentials: {e}): set GOOGLE_APPLICATION_CREDENTIALS to a key file, run `gcloud auth application-default login`, or run where workload identity provides them; for an emulator, add auth=none")),
            Err(_) => Err("the Application Default Credentials did not answer within 10 s (is the metadata server reachable?)".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_options_or_clear_errors() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        // An endpoint variable no one sets, so only the URL speaks.
        let var = "SECRETSYNC_TEST_NEVER_SET_ENDPOINT";
        let o = GcpOptions::from_parts(
            Some(&u("gcp-sm://p?endpoint=http://127.0.0.1:9&auth=none")),
            var,
        )
        .unwrap();
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert!(o.anonymous);
        let o = GcpOptions::from_parts(Some(&u("gcp-sm://p?auth=adc")), var).unwrap();
        assert!(!o.anonymous);
        for (bad, want) in [
            ("gcp-sm://p?auth=basic", "auth=basic"),
            ("gcp-sm://p?colour=red", "colour"),
        ] {
            let err = GcpOptions::from_parts(Some(&u(bad)), var).unwrap_err();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }
}
