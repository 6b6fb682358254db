//! `aws-ssm://?region=R[&endpoint=URL][&profile=P][&kms-key=K][&tier=standard|advanced]`: AWS
//! Systems Manager Parameter Store, every value a `SecureString`.
//!
//! - names: paths are prefixes (`/app/prod/`); a name holding `/` must start with one, and
//!   names may not start with `aws` or `ssm` (the service's rules, checked before any call).
//! - values: text only, at most 4 KiB (standard tier) or 8 KiB (`tier=advanced`, charged);
//!   the capabilities say so, and the `Checked` layer refuses anything else before any call,
//!   with a hint naming the tier and `aws-sm://`.
//! - ownership: the labels are written as the parameter's tags (for IAM conditions and the
//!   console) and, with the last write's token and the version it made, as JSON in its
//!   description, because `DescribeParameters` returns descriptions but not tags: a plan reads
//!   list pages only (50 a page), never a value or a tag.
//! - put: `PutParameter` writes the value and the description in one call, so a write is
//!   entirely old or entirely new. SSM has no conditional write or request token: a write first
//!   reads the parameter's metadata, and if its description already carries this write's token
//!   for the current version (an earlier attempt landed and its answer was lost), it is not
//!   repeated. The version a write makes is predicted as the current one plus one; if another
//!   writer raced it, the token no longer matches the version and the next plan reports drift.
//! - delete: `DeleteParameter`; there is no soft delete.
//! - permissions: every request is in [`permissions::REQUESTS`]; a refused one names the
//!   action it lacked.

pub mod permissions;

use crate::config::AwsOptions;
use crate::errors::{fault, to_backend_for, Sends};
use crate::iam::Need;
use async_trait::async_trait;
use aws_sdk_ssm::types::{
    ParameterMetadata, ParameterStringFilter, ParameterTier, ParameterType, Tag,
};
use aws_sdk_ssm::Client;
use secretsync_core::error::Result;
use secretsync_core::permissions::Table;
use secretsync_core::*;
use std::time::{Duration, UNIX_EPOCH};

/// The description's marker: what follows is secretsync's JSON.
const MARK: &str = "secretsync:";
/// Standard parameters hold 4 KiB, advanced ones 8 KiB.
const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
/// `DescribeParameters` returns at most 50 a page; `GetParameters` takes at most 10 names.
const PAGE: i32 = 50;
const BATCH: usize = 10;

/// Where the backend writes and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsmOptions {
    /// Region, endpoint and profile.
    pub aws: AwsOptions,
    /// The KMS key that encrypts the values (else the account's `alias/aws/ssm`).
    pub kms_key: Option<String>,
    /// `advanced` for values up to 8 KiB (charged by AWS); standard otherwise.
    pub advanced: bool,
}

impl SsmOptions {
    /// Reads the options from an `aws-ssm://` URL's query.
    pub fn from_url(url: &url::Url) -> std::result::Result<Self, String> {
        let mut o = SsmOptions::default();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                _ if o.aws.set(&k, &v) => {}
                "kms-key" => o.kms_key = Some(v.into_owned()),
                "tier" => {
                    o.advanced = match v.as_ref() {
                        "standard" => false,
                        "advanced" => true,
                        other => {
                            return Err(format!(
                                "tier={other:?}: aws-ssm:// takes tier=standard (values up to 4 KiB) or tier=advanced (up to 8 KiB)"
                            ))
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}: aws-ssm:// takes region, endpoint, profile, kms-key and tier"
                    ))
                }
            }
        }
        Ok(o)
    }

    fn max_value(&self) -> usize {
        if self.advanced {
            ADVANCED_MAX
        } else {
            STANDARD_MAX
        }
    }
}

/// What secretsync keeps in a parameter's description.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Note {
    /// The labels (the same as the tags).
    #[serde(default)]
    labels: Labels,
    /// The token of the last write…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// …and the version it made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
}

impl Note {
    fn read(description: Option<&str>) -> Self {
        description
            .and_then(|d| d.strip_prefix(MARK))
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }

    fn text(&self) -> String {
        format!(
            "{MARK}{}",
            serde_json::to_string(self).expect("labels serialize")
        )
    }

    /// The version id to report for a parameter at `version`: the token when the last write
    /// was ours, else the number.
    fn reported(&self, version: i64) -> String {
        match (&self.token, self.version) {
            (Some(t), Some(v)) if v == version => t.clone(),
            _ => version.to_string(),
        }
    }
}

fn meta_of(p: &ParameterMetadata) -> SecretMeta {
    let note = Note::read(p.description());
    SecretMeta {
        name: p.name().unwrap_or_default().to_string(),
        version: Some(note.reported(p.version())),
        labels: note.labels,
        updated: p.last_modified_date().and_then(|t| {
            let secs = u64::try_from(t.secs()).ok()?;
            Some(UNIX_EPOCH + Duration::new(secs, t.subsec_nanos()))
        }),
        placement_drift: None,
    }
}

fn tags(labels: &Labels) -> Vec<Tag> {
    labels
        .iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// The Parameter Store backend.
#[derive(Debug, Clone)]
pub struct AwsSsmBackend {
    client: Client,
    target: String,
    opts: SsmOptions,
    wire: wire::Wire,
}

impl Sends for AwsSsmBackend {
    const REQUESTS: &'static Table<Need> = &permissions::REQUESTS;

    fn through(&self) -> &wire::Wire {
        &self.wire
    }
}

impl AwsSsmBackend {
    /// Opens the backend named by an `aws-ssm://` URL.
    pub async fn from_url(url: &url::Url) -> Result<Self> {
        let opts = SsmOptions::from_url(url)
            .map_err(|m| BackendError::new(ErrorKind::Config, Op::List, m))?;
        Self::new(opts).await
    }

    /// Opens the backend with explicit options.
    pub async fn new(opts: SsmOptions) -> Result<Self> {
        let conf = opts
            .aws
            .load()
            .await
            .map_err(|m| BackendError::new(ErrorKind::Config, Op::List, m))?;
        let region = conf.region().map(ToString::to_string).unwrap_or_default();
        let target = match &opts.aws.endpoint {
            Some(e) => format!("?region={region}&endpoint={e}"),
            None => format!("?region={region}"),
        };
        Ok(Self {
            client: Client::new(&conf),
            target,
            opts,
            wire: wire::Wire::new(),
        })
    }

    /// What the backend of `opts` can do (known without connecting, for policies).
    pub fn capabilities_of(opts: &SsmOptions) -> Capabilities {
        Capabilities {
            max_page_size: PAGE as usize,
            max_value_bytes: opts.max_value(),
            max_batch_get: BATCH,
            binary_values: false,
            value_hint: if opts.advanced {
                "SSM Parameter Store holds text up to 8 KiB; aws-sm:// holds 64 KiB, binary too"
            } else {
                "SSM Parameter Store holds text up to 4 KiB, 8 KiB with tier=advanced (charged by AWS); aws-sm:// holds 64 KiB, binary too"
            },
            names: NameRules {
                // 1011 with the ARN's account and region; what is left for the name.
                max_len: 900,
                extra_chars: "/_.-",
                rooted_paths: true,
                reserved_prefixes: &["aws", "ssm"],
            },
            labels: LabelRules {
                max_labels: 50,
                max_key_len: 128,
                max_value_len: 256,
                lowercase_only: false,
            },
            idempotency_token: false,
            soft_delete: false,
            ..Capabilities::baseline()
        }
    }

    /// The metadata of the parameters of these names that exist (one call for up to 50).
    async fn describe_many(
        &self,
        names: &[String],
        op: Op,
    ) -> Result<std::collections::HashMap<String, ParameterMetadata>> {
        let first = names.first().map(String::as_str).unwrap_or_default();
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .set_values(Some(names.to_vec()))
            .build()
            .map_err(|e| BackendError::new(ErrorKind::InvalidInput, op, e.to_string()))?;
        let out = self
            .send(OpClass::List, "DescribeParameters", op, first, || {
                self.client
                    .describe_parameters()
                    .parameter_filters(filter.clone())
                    .max_results(PAGE)
                    .send()
            })
            .await?;
        Ok(out
            .parameters()
            .iter()
            .filter_map(|p| Some((p.name()?.to_string(), p.clone())))
            .filter(|(n, _)| names.contains(n))
            .collect())
    }

    /// The metadata of one parameter, if it exists.
    async fn describe(&self, name: &str, op: Op) -> Result<Option<ParameterMetadata>> {
        Ok(self
            .describe_many(&[name.to_string()], op)
            .await?
            .remove(name))
    }
}

#[async_trait]
impl SecretBackend for AwsSsmBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "aws-ssm".into(),
            target: self.target.clone(),
        }
    }

    fn wire(&self) -> Option<&wire::Wire> {
        Some(&self.wire)
    }

    fn capabilities(&self) -> Capabilities {
        Self::capabilities_of(&self.opts)
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        let mut req = self
            .client
            .describe_parameters()
            .max_results(PAGE)
            .set_next_token(page);
        // A path prefix (`/app/prod/`) selects by the hierarchy, which the service indexes;
        // any other by the name's beginning.
        let (key, option, value) = match prefix.strip_suffix('/') {
            Some(path) if prefix.starts_with('/') && !path.is_empty() => {
                ("Path", "Recursive", path)
            }
            _ => ("Name", "BeginsWith", prefix),
        };
        if !prefix.is_empty() {
            req = req.parameter_filters(
                ParameterStringFilter::builder()
                    .key(key)
                    .option(option)
                    .values(value)
                    .build()
                    .map_err(|e| {
                        BackendError::new(ErrorKind::InvalidInput, Op::List, e.to_string())
                    })?,
            );
        }
        let out = self
            .send(
                OpClass::List,
                "DescribeParameters",
                Op::List,
                prefix,
                || req.clone().send(),
            )
            .await?;
        Ok(Page {
            items: out
                .parameters()
                .iter()
                .filter(|p| p.name().is_some_and(|n| n.starts_with(prefix)))
                .map(meta_of)
                .collect(),
            next: out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_string),
        })
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        Ok(self.describe(name, Op::Head).await?.as_ref().map(meta_of))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        Ok(self.get_many(&[name.to_string()]).await?.pop().flatten())
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        let first = names.first().map(String::as_str).unwrap_or_default();
        let out = self
            .send(OpClass::Read, "GetParameters", Op::BatchGet, first, || {
                self.client
                    .get_parameters()
                    .set_names(Some(names.to_vec()))
                    .with_decryption(true)
                    .send()
            })
            .await?;
        let mut by_name: std::collections::HashMap<String, (String, i64)> = out
            .parameters()
            .iter()
            .filter_map(|p| Some((p.name()?.to_string(), (p.value()?.to_string(), p.version()))))
            .collect();
        // The version id must match what a listing reports: the token when ours. The
        // description is not in GetParameters' answer: one metadata call for the batch.
        let found: Vec<String> = names
            .iter()
            .filter(|n| by_name.contains_key(*n))
            .cloned()
            .collect();
        let metas = if found.is_empty() {
            Default::default()
        } else {
            self.describe_many(&found, Op::Get).await?
        };
        let mut res = Vec::with_capacity(names.len());
        for n in names {
            let Some((value, version)) = by_name.remove(n) else {
                res.push(None);
                continue;
            };
            let reported = match metas.get(n) {
                Some(m) if m.version() == version => Note::read(m.description()).reported(version),
                _ => version.to_string(),
            };
            res.push(Some(Secret {
                name: n.clone(),
                value: SecretValue::from(value.as_str()),
                version: Some(reported),
            }));
        }
        Ok(res)
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        // The Checked layer above refuses binary, empty and oversized values (with the
        // capabilities' hint); a value reaching here is text.
        let Some(text) = value.as_str() else {
            return Err(BackendError::new(
                ErrorKind::InvalidInput,
                Op::Put,
                "SSM Parameter Store holds text only",
            )
            .name(name));
        };
        let current = self.describe(name, Op::Put).await?;
        let note = current
            .as_ref()
            .map(|m| Note::read(m.description()))
            .unwrap_or_default();
        if let (Some(m), Some(t)) = (&current, &opts.token) {
            // An earlier attempt of this very write landed: done.
            if note.token.as_ref() == Some(t) && note.version == Some(m.version()) {
                return Ok(PutOutcome {
                    created: false,
                    version: Some(t.clone()),
                });
            }
        }
        if opts.mode == PutMode::CreateOnly && current.is_some() {
            return Err(BackendError::new(
                ErrorKind::AlreadyExists,
                Op::Put,
                "the parameter already exists",
            )
            .name(name));
        }
        let next = current.as_ref().map_or(1, |m| m.version() + 1);
        // Labels merge, as tags do: a write's labels add to and replace the ones there.
        let mut labels = note.labels;
        labels.extend(opts.labels.clone());
        let description = Note {
            labels,
            token: opts.token.clone(),
            version: opts.token.as_ref().map(|_| next),
        }
        .text();
        let mut req = self
            .client
            .put_parameter()
            .name(name)
            .value(text)
            .r#type(ParameterType::SecureString)
            .description(description)
            .set_key_id(self.opts.kms_key.clone())
            .tier(if self.opts.advanced {
                ParameterTier::Advanced
            } else {
                ParameterTier::Standard
            });
        // Tags go with a create; an overwrite takes none (AWS refuses both at once).
        req = match &current {
            None => req.overwrite(false).set_tags(Some(tags(&opts.labels))),
            Some(_) => req.overwrite(true),
        };
        let out = self
            .wire
            .send_again(
                OpClass::Write,
                "PutParameter",
                wire::Resend::IfNotSent,
                fault,
                || req.clone().send(),
            )
            .await
            .map_err(|e| {
                to_backend_for(&permissions::REQUESTS, "PutParameter", Op::Put, name, e)
            })?;
        if current.is_some() && !opts.labels.is_empty() {
            self.send(OpClass::Write, "AddTagsToResource", Op::Put, name, || {
                self.client
                    .add_tags_to_resource()
                    .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
                    .resource_id(name)
                    .set_tags(Some(tags(&opts.labels)))
                    .send()
            })
            .await?;
        }
        let made = out.version();
        let version = match &opts.token {
            Some(t) if made == next => t.clone(),
            _ => made.to_string(),
        };
        Ok(PutOutcome {
            created: current.is_none(),
            version: Some(version),
        })
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        if let DeleteMode::Soft { .. } = opts.mode {
            return Err(BackendError::new(
                ErrorKind::Unsupported,
                Op::Delete,
                "SSM Parameter Store has no soft delete",
            )
            .name(name));
        }
        self.send(OpClass::Write, "DeleteParameter", Op::Delete, name, || {
            self.client.delete_parameter().name(name).send()
        })
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_the_kms_key_and_tier_besides_the_aws_options() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let o = SsmOptions::from_url(&u(
            "aws-ssm://?region=eu-west-1&kms-key=alias/app&tier=advanced&endpoint=http://127.0.0.1:9",
        ))
        .unwrap();
        assert_eq!(o.aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(o.aws.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(o.kms_key.as_deref(), Some("alias/app"));
        assert!(o.advanced);
        let err = SsmOptions::from_url(&u("aws-ssm://?tier=huge")).unwrap_err();
        assert!(
            err.contains("tier=standard") && err.contains("tier=advanced"),
            "{err}"
        );
        let err = SsmOptions::from_url(&u("aws-ssm://?regoin=x")).unwrap_err();
        assert!(err.contains("unknown parameter \"regoin\""), "{err}");
    }

    #[test]
    fn the_description_reports_our_token_only_for_the_version_it_made() {
        let n = Note {
            labels: [("managed-by".to_string(), "secretsync".to_string())].into(),
            token: Some("t".repeat(48)),
            version: Some(3),
        };
        let back = Note::read(Some(&n.text()));
        assert_eq!(back.reported(3), "t".repeat(48));
        assert_eq!(back.reported(4), "4", "someone wrote after us");
        assert_eq!(
            back.labels.get("managed-by").map(String::as_str),
            Some("secretsync")
        );
        assert!(Note::read(Some("a person's description")).labels.is_empty());
        assert!(
            n.text().len() < 1024,
            "SSM descriptions hold 1024 characters"
        );
    }

    #[test]
    fn names_follow_the_services_rules() {
        let rules = NameRules {
            max_len: 900,
            extra_chars: "/_.-",
            rooted_paths: true,
            reserved_prefixes: &["aws", "ssm"],
        };
        assert!(rules.check("/app/prod/DatabaseURL").is_ok());
        assert!(rules.check("DatabaseURL").is_ok());
        assert!(rules
            .check("app/DatabaseURL")
            .unwrap_err()
            .contains("start with one"));
        assert!(rules.check("/AWS/x").unwrap_err().contains("reserved"));
        assert!(rules.check("ssmToken").unwrap_err().contains("reserved"));
        assert!(rules.check("/app/a b").is_err());
    }
}
