//! The options of an `aws-sm://` URL, and how a secret's replicas differ from them.

use crate::config::AwsOptions;
use aws_sdk_secretsmanager::types::{ReplicationStatusType, StatusType};

/// The options of an `aws-sm://` URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmOptions {
    /// Region, endpoint and profile.
    pub aws: AwsOptions,
    /// Replica regions set at create, sorted; empty for none.
    pub replicas: Vec<String>,
    /// The KMS key new secrets are encrypted with (a key ARN, key id, alias or alias ARN);
    /// `None`: the account's `aws/secretsmanager` key.
    pub kms_key: Option<String>,
}

impl SmOptions {
    /// Reads an `aws-sm://` URL's query.
    pub fn from_url(url: &url::Url) -> std::result::Result<Self, String> {
        let mut o = SmOptions::default();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                _ if o.aws.set(&k, &v) => {}
                "replicas" => {
                    let r = secretsync_core::query::comma_set(&v);
                    if let Some(bad) = r.iter().find(|r| !is_region(r)) {
                        return Err(format!(
                            "replicas={v:?}: {bad:?} is not an AWS region (e.g. replicas=us-east-1,eu-central-1)"
                        ));
                    }
                    o.replicas = r;
                }
                "kms-key" if v.trim().is_empty() => {
                    return Err("kms-key= is empty: give a KMS key ARN, key id or alias (alias/NAME), or leave it out for the account's aws/secretsmanager key".into())
                }
                "kms-key" => o.kms_key = Some(v.trim().to_string()),
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}: aws-sm:// takes region, endpoint, profile, replicas and kms-key"
                    ))
                }
            }
        }
        if o.aws.region.is_some() && o.replicas.iter().any(|r| Some(r) == o.aws.region.as_ref()) {
            return Err(format!(
                "replicas= names the primary region {}: list only the other regions",
                o.aws.region.as_deref().unwrap_or_default()
            ));
        }
        Ok(o)
    }
}

/// Looks like an AWS region name: `xx-name-N` in lowercase letters, digits and dashes.
fn is_region(r: &str) -> bool {
    r.split('-').count() >= 3
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && r.ends_with(|c: char| c.is_ascii_digit())
}

/// How a secret's replicas differ from the wanted regions (sorted), with the fix, for people;
/// `None` when they match. A replica whose replication failed counts as missing.
pub(crate) fn replica_drift(
    name: &str,
    want: &[String],
    status: &[ReplicationStatusType],
) -> Option<String> {
    let have: Vec<&str> = status
        .iter()
        .filter(|s| s.status() != Some(&StatusType::Failed))
        .filter_map(|s| s.region())
        .collect();
    let missing: Vec<String> =
        want.iter()
            .filter(|w| !have.contains(&w.as_str()))
            .map(|w| {
                match status.iter().find(|s| {
                    s.region() == Some(w.as_str()) && s.status() == Some(&StatusType::Failed)
                }) {
                    Some(f) => format!(
                        "{w} (replication failed: {})",
                        f.status_message().unwrap_or("no reason given")
                    ),
                    None => w.clone(),
                }
            })
            .collect();
    let extra: Vec<&str> = have
        .iter()
        .copied()
        .filter(|h| !want.iter().any(|w| w == h))
        .collect();
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("no replica in {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("replicas not asked for in {}", extra.join(", ")));
    }
    Some(format!(
        "replica regions differ from replicas={}: {}; secretsync sets replicas at create only: fix with `aws secretsmanager replicate-secret-to-regions --secret-id {name} --add-replica-regions Region=…` or `remove-regions-from-replication`",
        want.join(","),
        parts.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_options_or_clear_errors() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let o = SmOptions::from_url(&u(
            "aws-sm://?region=eu-west-1&endpoint=http://127.0.0.1:9&profile=ops&replicas=us-east-1,eu-central-1&kms-key=alias/app",
        ))
        .unwrap();
        assert_eq!(
            o,
            SmOptions {
                aws: AwsOptions {
                    region: Some("eu-west-1".into()),
                    endpoint: Some("http://127.0.0.1:9".into()),
                    profile: Some("ops".into()),
                },
                replicas: vec!["eu-central-1".into(), "us-east-1".into()],
                kms_key: Some("alias/app".into()),
            }
        );
        assert_eq!(
            SmOptions::from_url(&u("aws-sm://")).unwrap(),
            SmOptions::default()
        );
        for (bad, want) in [
            ("aws-sm://?regoin=eu-west-1", "unknown parameter \"regoin\""),
            ("aws-sm://?kms-key=", "kms-key= is empty"),
            (
                "aws-sm://?replicas=us-east-1,Mars",
                "\"Mars\" is not an AWS region",
            ),
            (
                "aws-sm://?region=eu-west-1&replicas=eu-west-1",
                "names the primary region eu-west-1",
            ),
        ] {
            let err = SmOptions::from_url(&u(bad)).unwrap_err();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    fn status(region: &str, st: StatusType) -> ReplicationStatusType {
        ReplicationStatusType::builder()
            .region(region)
            .status(st)
            .status_message("a secret with this name already exists in this region")
            .build()
    }

    #[test]
    fn replicas_that_differ_are_named_with_the_fix() {
        let want = vec!["eu-central-1".to_string(), "us-east-1".to_string()];
        let ok = [
            status("us-east-1", StatusType::InSync),
            status("eu-central-1", StatusType::InProgress),
        ];
        assert_eq!(replica_drift("app/DB", &want, &ok), None);
        let d = replica_drift(
            "app/DB",
            &want,
            &[
                status("us-east-1", StatusType::InSync),
                status("eu-central-1", StatusType::Failed),
                status("ap-south-1", StatusType::InSync),
            ],
        )
        .unwrap();
        assert!(d.contains("no replica in eu-central-1 (replication failed: a secret with this name already exists"), "{d}");
        assert!(d.contains("replicas not asked for in ap-south-1"), "{d}");
        assert!(d.contains("--secret-id app/DB"), "{d}");
        let d = replica_drift("app/DB", &want, &[]).unwrap();
        assert!(d.contains("no replica in eu-central-1, us-east-1"), "{d}");
    }
}
