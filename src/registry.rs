//! Opening what URLs and ids name: backends (through the [`Scheme`] table) and recipients
//! (`age1…`, `aws-kms:…`, `gcp-kms:…`). Cloud kinds are compiled in by cargo features.

use crate::scheme::Scheme;
use crate::store::age_key::{self, AgeIdentity, AgeRecipient};
use anyhow::{bail, Context, Result};
use secretsync_core::{Identity, Recipient, SecretBackend};
use std::path::Path;
use std::sync::Arc;

/// Opens the backend a URL names (see [`Scheme`]). Relative `file://` paths are taken from
/// `base` (the config's folder).
pub async fn backend(url: &str, base: &Path) -> Result<Arc<dyn SecretBackend>> {
    let (scheme, _) = Scheme::of_url(url).map_err(anyhow::Error::msg)?;
    scheme.open(url, base).await
}

/// Builds the recipient for an id (`age1…`, `aws-kms:KEY`).
pub async fn recipient(id: &str) -> Result<Box<dyn Recipient>> {
    let id = id.trim();
    if id.starts_with("age1") {
        return Ok(Box::new(id.parse::<AgeRecipient>()?));
    }
    #[cfg(feature = "aws")]
    if let Some(key) = id.strip_prefix("aws-kms:") {
        return Ok(Box::new(secretsync_aws::AwsKmsRecipient::new(key).await?));
    }
    #[cfg(feature = "gcp")]
    if let Some(key) = id.strip_prefix("gcp-kms:") {
        return Ok(Box::new(secretsync_gcp::GcpKmsRecipient::new(key).await?));
    }
    if let Some((kind, _)) = id.split_once(':') {
        if kind == "aws-kms" || kind == "gcp-kms" {
            bail!("{kind} recipients are not built into this secretsync (build with its cargo feature)");
        }
    }
    bail!("unknown recipient {id:?}: give an age public key (age1…), aws-kms:KEY-ARN-OR-ALIAS or gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K")
}

/// The local age identities: from `identity_file` if given, else `SECRETSYNC_AGE_IDENTITY`, else
/// the default identity file. Empty when there are none.
pub fn local_identities(identity_file: Option<&Path>) -> Result<Vec<AgeIdentity>> {
    if let Some(p) = identity_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read identity file {}", p.display()))?;
        return Ok(AgeIdentity::parse_all(&text, &p.display().to_string())?);
    }
    Ok(age_key::load_identities()?
        .map(|(_, ids)| ids)
        .unwrap_or_default())
}

/// The identities to try on a store whose recipients are `recipients`: the local age identities
/// that match one; if none does, a KMS identity for each KMS recipient (using the ambient cloud
/// credentials).
pub async fn identities(
    identity_file: Option<&Path>,
    recipients: &[String],
) -> Result<Vec<Box<dyn Identity>>> {
    let local = local_identities(identity_file)?;
    let matching = local
        .iter()
        .any(|i| recipients.iter().any(|r| i.matches(r)));
    #[cfg_attr(not(any(feature = "aws", feature = "gcp")), allow(unused_mut))]
    let mut out: Vec<Box<dyn Identity>> = local
        .into_iter()
        .map(|i| Box::new(i) as Box<dyn Identity>)
        .collect();
    if matching {
        return Ok(out);
    }
    #[cfg_attr(not(any(feature = "aws", feature = "gcp")), allow(unused_variables))]
    for r in recipients {
        #[cfg(feature = "aws")]
        if let Some(key) = r.strip_prefix("aws-kms:") {
            out.push(Box::new(secretsync_aws::AwsKmsRecipient::new(key).await?));
        }
        #[cfg(feature = "gcp")]
        if let Some(key) = r.strip_prefix("gcp-kms:") {
            out.push(Box::new(secretsync_gcp::GcpKmsRecipient::new(key).await?));
        }
    }
    Ok(out)
}
