//! What each Parameter Store request needs: the one table the policies, the refusal messages
//! and the tests read.

use super::SsmOptions;
use crate::iam::{self, Need, On, Resources, With};
use secretsync_core::permissions::{Policy, PolicyScope, Request, Table};
use secretsync_core::Op;

/// Every request `aws-ssm://` sends.
pub static REQUESTS: Table<Need> = Table(&[
    Request {
        name: "DescribeParameters",
        // The listing, and each write's and read's look at the parameter's metadata.
        ops: &[Op::List, Op::Head, Op::Put, Op::Get, Op::BatchGet],
        needs: &[Need::on("ssm:DescribeParameters", On::Any)],
    },
    Request {
        name: "GetParameters",
        ops: &[Op::Get, Op::BatchGet],
        needs: &[
            Need::on("ssm:GetParameters", On::Secrets),
            Need::key("kms:Decrypt", With::KmsKey),
        ],
    },
    Request {
        name: "PutParameter",
        ops: &[Op::Put],
        needs: &[
            Need::on("ssm:PutParameter", On::Secrets),
            // The tags given at create.
            Need::on("ssm:AddTagsToResource", On::Secrets).implicit(),
            Need::key("kms:Encrypt", With::KmsKeyStandard),
            Need::key("kms:GenerateDataKey", With::KmsKeyAdvanced),
        ],
    },
    Request {
        name: "AddTagsToResource",
        ops: &[Op::Put],
        needs: &[Need::on("ssm:AddTagsToResource", On::Secrets)],
    },
    Request {
        name: "DeleteParameter",
        ops: &[Op::Delete],
        needs: &[Need::on("ssm:DeleteParameter", On::Owned)],
    },
]);

/// The ARN pattern of the parameters under `prefix` in `region` (`*`: any). A parameter's ARN
/// holds its name without the leading `/` of a path (`parameter/app/prod/A` for `/app/prod/A`).
fn parameters(partition: &str, region: &str, prefix: &str) -> String {
    format!(
        "arn:{partition}:ssm:{region}:*:parameter/{}*",
        prefix.trim_start_matches('/')
    )
}

/// The IAM policy `scope`'s job needs on the `aws-ssm://` backend of `opts`.
pub fn policy(opts: &SsmOptions, scope: &PolicyScope) -> Policy {
    let ops = scope
        .job
        .ops(&super::AwsSsmBackend::capabilities_of(opts), scope.verify);
    let key = opts.kms_key.is_some();
    let needs = iam::applicable(REQUESTS.needs(&ops), |w| match w {
        With::Always => true,
        With::Replicas => false,
        With::KmsKey => key,
        With::KmsKeyStandard => key && !opts.advanced,
        With::KmsKeyAdvanced => key && opts.advanced,
    });
    let region = opts.aws.region.as_deref();
    iam::policy(
        &needs,
        &Resources {
            service: "ssm",
            secrets: vec![parameters(
                iam::partition(region),
                region.unwrap_or("*"),
                scope.prefix,
            )],
            region,
            kms_key: opts.kms_key.as_deref(),
        },
        scope,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secretsync_core::permissions::Job;

    fn scope(job: Job, prefix: &'static str) -> PolicyScope<'static> {
        PolicyScope {
            job,
            verify: false,
            env: "prod",
            prefix,
            store_id: Some("5t0re"),
            force_delete: false,
        }
    }

    fn opts(url: &str) -> SsmOptions {
        SsmOptions::from_url(&url::Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn parameter_arns_drop_the_paths_leading_slash() {
        assert_eq!(
            parameters("aws", "eu-west-1", "/billing/prod/"),
            "arn:aws:ssm:eu-west-1:*:parameter/billing/prod/*"
        );
        assert_eq!(
            parameters("aws", "*", "billing-"),
            "arn:aws:ssm:*:*:parameter/billing-*"
        );
    }

    #[test]
    fn plan_describes_and_apply_writes_tags_and_deletes_what_it_owns() {
        let o = opts("aws-ssm://?region=eu-west-1");
        let p = policy(&o, &scope(Job::Plan, "/app/"));
        assert_eq!(
            p.document["Statement"],
            serde_json::json!([{
                "Sid": "Listing", "Effect": "Allow",
                "Action": ["ssm:DescribeParameters"], "Resource": "*"
            }])
        );
        let p = policy(&o, &scope(Job::Apply, "/app/"));
        let st = &p.document["Statement"];
        assert_eq!(
            st[1]["Action"],
            serde_json::json!(["ssm:AddTagsToResource", "ssm:PutParameter"])
        );
        assert_eq!(st[2]["Action"], serde_json::json!(["ssm:DeleteParameter"]));
        assert_eq!(
            st[2]["Condition"]["StringEquals"]["aws:ResourceTag/secretsync-store"],
            "5t0re"
        );
    }

    #[test]
    fn a_kms_key_is_used_through_parameter_store_as_the_tier_needs() {
        let standard = policy(
            &opts("aws-ssm://?region=eu-west-1&kms-key=arn:aws:kms:eu-west-1:1:key/k"),
            &PolicyScope {
                verify: true,
                ..scope(Job::Apply, "/app/")
            },
        );
        let key = &standard.document["Statement"][3];
        assert_eq!(
            key["Action"],
            serde_json::json!(["kms:Decrypt", "kms:Encrypt"])
        );
        assert_eq!(
            key["Condition"]["StringEquals"]["kms:ViaService"],
            "ssm.eu-west-1.amazonaws.com"
        );
        let advanced = policy(
            &opts(
                "aws-ssm://?region=eu-west-1&tier=advanced&kms-key=arn:aws:kms:eu-west-1:1:key/k",
            ),
            &scope(Job::Apply, "/app/"),
        );
        assert_eq!(
            advanced.document["Statement"][3]["Action"],
            serde_json::json!(["kms:GenerateDataKey"])
        );
    }
}
