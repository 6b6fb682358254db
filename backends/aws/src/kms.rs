//! `aws-kms:KEY` recipients: the store's data key wrapped by AWS KMS `Encrypt`, with the store id
//! as encryption context, and unwrapped by `Decrypt` with the same context. KEY is a key ARN,
//! an alias ARN, or `alias/NAME`; the region comes from the ARN, else the standard chain.

use crate::config::AwsOptions;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::Client;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use secretsync_core::{DataKey, Identity, KeyError, Recipient};

const CONTEXT_KEY: &str = "secretsync:store-id";

/// A KMS key the data key is wrapped for; it is also the identity that unwraps it.
#[derive(Debug, Clone)]
pub struct AwsKmsRecipient {
    key: String,
    client: Client,
}

impl AwsKmsRecipient {
    /// The recipient for `key` (without the `aws-kms:` prefix), with the standard chain.
    pub async fn new(key: &str) -> Result<Self, KeyError> {
        Self::with_options(key, AwsOptions::default()).await
    }

    /// The recipient for `key` with explicit options (an endpoint, a profile); the region comes
    /// from a key ARN when the options give none.
    pub async fn with_options(key: &str, mut opts: AwsOptions) -> Result<Self, KeyError> {
        let id = format!("aws-kms:{key}");
        if key.is_empty() {
            return Err(KeyError::new(
                id,
                "give a key ARN or alias, e.g. aws-kms:alias/secretsync",
            ));
        }
        // arn:aws:kms:REGION:ACCOUNT:key/ID
        let region = key
            .strip_prefix("arn:")
            .and_then(|r| r.split(':').nth(2))
            .filter(|r| !r.is_empty());
        if opts.region.is_none() {
            opts.region = region.map(str::to_string);
        }
        let conf = opts.load().await.map_err(|e| KeyError::new(&id, e))?;
        Ok(Self {
            key: key.to_string(),
            client: Client::new(&conf),
        })
    }

    fn fail<E>(
        &self,
        what: &str,
        err: aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>,
    ) -> KeyError
    where
        E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (kind, msg) = classify(&err);
        KeyError::new(
            self.id(),
            format!("KMS {what} failed ({}): {msg}", kind.as_str()),
        )
    }
}

#[async_trait]
impl Recipient for AwsKmsRecipient {
    fn id(&self) -> String {
        format!("aws-kms:{}", self.key)
    }

    async fn wrap(&self, key: &DataKey, store_id: &str) -> Result<String, KeyError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key)
            .plaintext(Blob::new(key.expose().to_vec()))
            .encryption_context(CONTEXT_KEY, store_id)
            .send()
            .await
            .map_err(|e| self.fail("Encrypt", e))?;
        let blob = out
            .ciphertext_blob()
            .ok_or_else(|| KeyError::new(self.id(), "KMS Encrypt returned no ciphertext"))?;
        Ok(B64.encode(blob.as_ref()))
    }
}

#[async_trait]
impl Identity for AwsKmsRecipient {
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
        let blob = secretsync_core::recipient::decode_wrapped(recipient_id, wrapped)?;
        let out = self
            .client
            .decrypt()
            .key_id(&self.key)
            .ciphertext_blob(Blob::new(blob))
            .encryption_context(CONTEXT_KEY, store_id)
            .send()
            .await
            .map_err(|e| self.fail("Decrypt", e))?;
        let pt = out
            .plaintext()
            .ok_or_else(|| KeyError::new(recipient_id, "KMS Decrypt returned no plaintext"))?;
        DataKey::unwrapped(recipient_id, pt.as_ref())
    }
}
