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
    /// The endpoint from `env_endpoint` and anonymous auth from `SECRETSYNC_GCP_AUTH=none`.
    pub fn from_env(env_endpoint: &str) -> Self {
        GcpOptions {
            endpoint: std::env::var(env_endpoint).ok().filter(|v| !v.is_empty()),
            anonymous: std::env::var("SECRETSYNC_GCP_AUTH").is_ok_and(|v| v == "none"),
        }
    }

    /// Takes one URL query option if it is one of these (`endpoint`, `auth`): `Ok(false)` for
    /// any other, which the caller then handles or refuses.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match (key, value) {
            ("endpoint", v) => self.endpoint = Some(v.to_string()),
            ("auth", "none") => self.anonymous = true,
            ("auth", "adc") => self.anonymous = false,
            ("auth", v) => return Err(format!("auth={v}: use auth=adc (default) or auth=none")),
            _ => return Ok(false),
        }
        Ok(true)
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
    fn query_options_are_taken_or_left_to_the_caller() {
        let mut o = GcpOptions::default();
        assert_eq!(o.set("endpoint", "http://127.0.0.1:9"), Ok(true));
        assert_eq!(o.set("auth", "none"), Ok(true));
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert!(o.anonymous);
        assert_eq!(o.set("auth", "adc"), Ok(true));
        assert!(!o.anonymous);
        assert_eq!(o.set("colour", "red"), Ok(false), "left to the caller");
        let err = o.set("auth", "basic").unwrap_err();
        assert!(err.contains("auth=basic"), "{err}");
    }
}
