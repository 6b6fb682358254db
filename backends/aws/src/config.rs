//! Loading the SDK configuration the same way for every AWS client.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// Where and how to reach AWS. Anything unset comes from the standard chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Region (else `AWS_REGION` / the profile).
    pub region: Option<String>,
    /// Endpoint URL (else `AWS_ENDPOINT_URL_<SERVICE>` / `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// Named profile (else `AWS_PROFILE`).
    pub profile: Option<String>,
}

impl AwsOptions {
    /// Takes one URL query option if it is one of these (`region`, `endpoint`, `profile`);
    /// false for any other, which the caller then handles or refuses.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        let field = match key {
            "region" => &mut self.region,
            "endpoint" => &mut self.endpoint,
            "profile" => &mut self.profile,
            _ => return false,
        };
        *field = Some(value.to_string());
        true
    }

    /// Loads the SDK configuration: the standard chain plus these options, with timeouts set
    /// and the SDK's retries off. Fails when no region can be found.
    pub async fn load(&self) -> Result<SdkConfig, String> {
        let t = secretsync_core::duration::http_timeout()?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3).min(t))
            .read_timeout(t)
            .operation_attempt_timeout(t)
            .operation_timeout(t * 2)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(1));
        if let Some(r) = &self.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(e) = &self.endpoint {
            loader = loader.endpoint_url(e);
        }
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        let conf = loader.load().await;
        if conf.region().is_none() {
            return Err("no AWS region: add ?region=REGION to the URL, or set AWS_REGION".into());
        }
        Ok(conf)
    }
}
