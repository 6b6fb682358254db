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

impl GcpKmsRecipient {
    /// The key error of a failed `what` (`Encrypt`, `Decrypt`); a refusal names the permission.
    fn fail(&self, recipient: &str, what: &str, e: google_cloud_gax::error::Error) -> KeyError {
        if crate::errors::kind(&e) == secretsync_core::ErrorKind::PermissionDenied {
            let permission = match what {
                "Encrypt" => "cloudkms.cryptoKeyVersions.useToEncrypt",
                _ => "cloudkms.cryptoKeyVersions.useToDecrypt",
            };
            return KeyError::new(
                recipient,
                format!(
                    "permission denied: {}",
                    secretsync_core::permissions::denied(permission, &self.key)
                ),
            );
        }
        KeyError::new(recipient, format!("Cloud KMS {what} failed: {e}"))
    }
}

/// The custom role that lets a principal open a scope wrapped for Cloud KMS key `key`
/// (`projects/P/locations/L/keyRings/R/cryptoKeys/K`): decrypting with that key, bound on the
/// key itself.
pub fn open_policy(key: &str, scope: &str) -> secretsync_core::permissions::Policy {
    let parts: Vec<&str> = key.split('/').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("?");
    let (project, location, ring, name) = (part(1), part(3), part(5), part(7));
    let role_id: String = format!("secretsync_open_{scope}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let title = format!("secretsync open {scope}");
    let description = format!("Opens scope {scope} of a secretsync store: decrypts with {key}");
    let document = serde_json::json!({
        "title": title,
        "description": description,
        "stage": "GA",
        "includedPermissions": ["cloudkms.cryptoKeyVersions.useToDecrypt"],
    });
    let text = format!(
        "# Opens scope {scope} of the store: decrypting with Cloud KMS key {name}. Create the role,\n\
         # then bind it on the key itself to the service account secretsync runs as:\n\
         #   gcloud iam roles create {role_id} --project={project} --file=role.yaml\n\
         #   gcloud kms keys add-iam-policy-binding {name} --keyring={ring} --location={location} \\\n\
         #     --project={project} --member=serviceAccount:SERVICE_ACCOUNT_EMAIL \\\n\
         #     --role=projects/{project}/roles/{role_id}\n\
         title: \"{title}\"\n\
         description: \"{description}\"\n\
         stage: GA\n\
         includedPermissions:\n\
         - cloudkms.cryptoKeyVersions.useToDecrypt\n"
    );
    secretsync_core::permissions::Policy {
        granted: vec!["cloudkms.cryptoKeyVersions.useToDecrypt".into()],
        format: "gcp-role",
        document,
        condition: None,
        notes: vec![
            "Cloud KMS checks the store id as the ciphertext's additional authenticated data, not IAM: a principal holding this role on the key can decrypt anything else wrapped by it, so keep the key for secretsync".into(),
            "adding recipients and `key rotate` also need cloudkms.cryptoKeyVersions.useToEncrypt on the key".into(),
        ],
        text,
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
            .map_err(|e| self.fail(&self.id(), "Encrypt", e))?;
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
            .map_err(|e| self.fail(recipient_id, "Decrypt", e))?;
        DataKey::unwrapped(recipient_id, &out.plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_scope_is_decrypting_with_the_key_bound_on_the_key() {
        let p = open_policy(
            "projects/p1/locations/europe/keyRings/ring/cryptoKeys/store",
            "production",
        );
        assert_eq!(
            p.document["includedPermissions"],
            serde_json::json!(["cloudkms.cryptoKeyVersions.useToDecrypt"])
        );
        assert!(p.text.contains(
            "gcloud kms keys add-iam-policy-binding store --keyring=ring --location=europe"
        ));
        assert!(p
            .text
            .contains("--role=projects/p1/roles/secretsync_open_production"));
        assert!(p
            .text
            .ends_with("- cloudkms.cryptoKeyVersions.useToDecrypt\n"));
    }
}
