//! `gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K`: the store's data key wrapped by
//! Cloud KMS `Encrypt` with the store id as additional authenticated data, unwrapped by
//! `Decrypt` with the same AAD. Endpoint: `SECRETSYNC_GCP_KMS_ENDPOINT`; `SECRETSYNC_GCP_AUTH=none`
//! for emulators.

use crate::config::GcpOptions;
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_kms_v1::client::KeyManagementService;
use secretsync_core::{DataKey, Identity, KeyError, Recipient};

/// A Cloud KMS key the data key is wrapped for; also the identity that unwraps it.
#[derive(Debug, Clone)]
pub struct GcpKmsRecipient {
    key: String,
    client: KeyManagementService,
}

impl GcpKmsRecipient {
    /// The recipient for the crypto key resource name `key`, with the endpoint and credentials
    /// from the environment (`SECRETSYNC_GCP_KMS_ENDPOINT`, `SECRETSYNC_GCP_AUTH`, ADC).
    pub async fn new(key: &str) -> Result<Self, KeyError> {
        Self::with_options(key, &GcpOptions::from_env("SECRETSYNC_GCP_KMS_ENDPOINT")).await
    }

    /// The recipient for `key` with explicit options.
    pub async fn with_options(key: &str, opts: &GcpOptions) -> Result<Self, KeyError> {
        let id = format!("gcp-kms:{key}");
        let parts: Vec<&str> = key.split('/').collect();
        if parts.len() != 8
            || parts[0] != "projects"
            || parts[2] != "locations"
            || parts[4] != "keyRings"
            || parts[6] != "cryptoKeys"
        {
            return Err(KeyError::new(
                id,
                "give the key as gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K",
            ));
        }
        let creds = opts
            .credentials()
            .await
            .map_err(|e| KeyError::new(&id, e))?;
        let mut b = KeyManagementService::builder()
            .with_credentials(creds)
            .with_retry_policy(NeverRetry)
            // A KMS server that never answers must not hang a reconcile round.
            .with_attempt_timeout(std::time::Duration::from_secs(30));
        if let Some(e) = &opts.endpoint {
            b = b.with_endpoint(e.clone());
        }
        let client = b
            .build()
            .await
            .map_err(|e| KeyError::new(&id, format!("cannot build the Cloud KMS client: {e}")))?;
        Ok(Self {
            key: key.into(),
            client,
        })
    }
}

#[async_trait]
impl Recipient for GcpKmsRecipient {
    fn id(&self) -> String {
        format!("gcp-kms:{}", self.key)
    }

    async fn wrap(&self, key: &DataKey, store_id: &str) -> Result<String, KeyError> {
        let out = self
            .client
            .encrypt()
            .set_name(&self.key)
            .set_plaintext(key.expose().to_vec())
            .set_additional_authenticated_data(store_id.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| KeyError::new(self.id(), format!("Cloud KMS Encrypt failed: {e}")))?;
        Ok(B64.encode(&out.ciphertext))
    }
}

#[async_trait]
impl Identity for GcpKmsRecipient {
    fn public_id(&self) -> String {
        Recipient::id(self)
    }

    fn matches(&self, recipient_id: &str) -> bool {
        recipient_id == self.id()
    }

    async fn unwrap(
        &self,
        recipient_id: &str,
        wrapped: &str,
        store_id: &str,
    ) -> Result<DataKey, KeyError> {
        let ct = secretsync_core::recipient::decode_wrapped(recipient_id, wrapped)?;
        let out = self
            .client
            .decrypt()
            .set_name(&self.key)
            .set_ciphertext(ct)
            .set_additional_authenticated_data(store_id.as_bytes().to_vec())
            .send()
            .await
            .map_err(|e| KeyError::new(recipient_id, format!("Cloud KMS Decrypt failed: {e}")))?;
        DataKey::unwrapped(recipient_id, &out.plaintext)
    }
}
