//! `aws-kms:KEY` recipients: the store's data key wrapped by AWS KMS `Encrypt`, with the store id
//! as encryption context, and unwrapped by `Decrypt` with the same context. KEY is a key ARN,
//! an alias ARN, or `alias/NAME`; the region comes from the ARN, else the standard chain.

use crate::config::AwsOptions;
use crate::errors::classify;
use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::Client;
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use secretsync_core::permissions::{denied, Policy};
use secretsync_core::ErrorKind;
use secretsync_core::{DataKey, Identity, KeyError, Recipient};
use serde_json::json;

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
        // A refusal of the call itself (not a ciphertext that does not open) names what is
        // missing: `kms:Decrypt` on this key.
        if kind == ErrorKind::PermissionDenied && msg.starts_with("AccessDenied") {
            return KeyError::new(
                self.id(),
                format!(
                    "permission denied: {}",
                    denied(&format!("kms:{what}"), &self.key)
                ),
            );
        }
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

/// The IAM policy that lets a principal open a scope wrapped for `key`: `kms:Decrypt` on that
/// key, only with the encryption context this store's data keys are wrapped with.
pub fn open_policy(key: &str, store_id: &str, scope: &str) -> Policy {
    let mut notes = Vec::new();
    let mut condition = serde_json::Map::new();
    condition.insert(
        format!("kms:EncryptionContext:{CONTEXT_KEY}"),
        json!(store_id),
    );
    let resource = if key.starts_with("arn:") && key.contains(":key/") {
        key.to_string()
    } else {
        // An alias or a bare key id: IAM names keys by ARN; secretsync asks for the key by the
        // name it was given, so an alias is matched by the request's alias.
        let arn = key.strip_prefix("arn:");
        let f: Vec<&str> = arn.map(|a| a.split(':').collect()).unwrap_or_default();
        let (part, region, account) = (
            f.first().copied().unwrap_or("aws"),
            f.get(2).copied().unwrap_or("*"),
            f.get(3).copied().unwrap_or("*"),
        );
        match key.find("alias/") {
            Some(i) => {
                condition.insert("kms:RequestAlias".into(), json!(&key[i..]));
                notes.push(format!("{key} is an alias: the policy allows kms:Decrypt on any key asked for by that alias; give the recipient as the key's ARN (`secretsync key add aws-kms:arn:…:key/…`) to name the key itself"));
                format!("arn:{part}:kms:{region}:{account}:key/*")
            }
            None => format!("arn:{part}:kms:*:*:key/{key}"),
        }
    };
    let sid: String = format!("OpenScope{scope}")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    notes.push("the key's own key policy must let the account's IAM policies grant it (AWS's default key policy does); adding recipients and `key rotate` also need kms:Encrypt on the key".into());
    crate::iam::document(
        vec![crate::iam::Statement {
            sid,
            effect: "Allow",
            action: vec!["kms:Decrypt"],
            resource: json!(resource),
            condition: Some(json!({ "StringEquals": condition })),
        }],
        notes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_scope_is_decrypt_on_the_key_for_this_store_only() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd";
        let p = open_policy(arn, "5t0re1d", "production");
        let st = &p.document["Statement"][0];
        assert_eq!(st["Sid"], "OpenScopeproduction");
        assert_eq!(st["Action"], json!(["kms:Decrypt"]));
        assert_eq!(st["Resource"], arn);
        assert_eq!(
            st["Condition"]["StringEquals"]["kms:EncryptionContext:secretsync:store-id"],
            "5t0re1d"
        );
        let p = open_policy("alias/secretsync", "s", "production");
        let st = &p.document["Statement"][0];
        assert_eq!(st["Resource"], "arn:aws:kms:*:*:key/*");
        assert_eq!(
            st["Condition"]["StringEquals"]["kms:RequestAlias"],
            "alias/secretsync"
        );
        let p = open_policy("arn:aws:kms:us-east-1:1:alias/app", "s", "dev");
        assert_eq!(
            p.document["Statement"][0]["Resource"],
            "arn:aws:kms:us-east-1:1:key/*"
        );
    }
}
