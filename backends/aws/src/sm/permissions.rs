//! What each Secrets Manager request needs: the one table the policies, the refusal messages
//! and the tests read. A request the backend sends must be here, under the operations that
//! send it (the moto tests check it).

use super::SmOptions;
use crate::iam::{self, Need, On, Resources, With};
use secretsync_core::permissions::{Policy, PolicyScope, Request, Table};
use secretsync_core::Op;

/// Every request `aws-sm://` sends.
pub static REQUESTS: Table<Need> = Table(&[
    Request {
        name: "ListSecrets",
        ops: &[Op::List],
        needs: &[Need::on("secretsmanager:ListSecrets", On::Any)],
    },
    Request {
        name: "DescribeSecret",
        // Metadata of one secret; on error paths of writes, deletes and reads (is it
        // scheduled for deletion? what replicas does it have?).
        ops: &[Op::Head, Op::Get, Op::Put, Op::Delete],
        needs: &[Need::on("secretsmanager:DescribeSecret", On::Secrets)],
    },
    Request {
        name: "GetSecretValue",
        ops: &[Op::Get],
        needs: &[
            Need::on("secretsmanager:GetSecretValue", On::Secrets),
            Need::key("kms:Decrypt", With::KmsKey),
        ],
    },
    Request {
        name: "BatchGetSecretValue",
        ops: &[Op::BatchGet],
        needs: &[
            Need::on("secretsmanager:BatchGetSecretValue", On::Any),
            // AWS checks GetSecretValue on each secret the batch reads.
            Need::on("secretsmanager:GetSecretValue", On::Secrets).implicit(),
            Need::key("kms:Decrypt", With::KmsKey),
        ],
    },
    Request {
        name: "CreateSecret",
        ops: &[Op::Put],
        needs: &[
            Need::on("secretsmanager:CreateSecret", On::Secrets),
            // The tags and replica regions given at create.
            Need::on("secretsmanager:TagResource", On::Secrets).implicit(),
            Need::on("secretsmanager:ReplicateSecretToRegions", On::Secrets)
                .implicit()
                .with(With::Replicas),
            Need::key("kms:GenerateDataKey", With::KmsKey),
            Need::key("kms:Decrypt", With::KmsKey),
        ],
    },
    Request {
        name: "PutSecretValue",
        ops: &[Op::Put],
        needs: &[
            Need::on("secretsmanager:PutSecretValue", On::Secrets),
            Need::key("kms:GenerateDataKey", With::KmsKey),
            Need::key("kms:Decrypt", With::KmsKey),
        ],
    },
    Request {
        name: "TagResource",
        ops: &[Op::Put],
        needs: &[Need::on("secretsmanager:TagResource", On::Secrets)],
    },
    Request {
        name: "DeleteSecret",
        ops: &[Op::Delete],
        needs: &[Need::on("secretsmanager:DeleteSecret", On::Owned)],
    },
    Request {
        name: "RemoveRegionsFromReplication",
        // AWS deletes no secret that has replicas: they are removed first.
        ops: &[Op::Delete],
        needs: &[
            Need::on("secretsmanager:RemoveRegionsFromReplication", On::Owned).with(With::Replicas),
        ],
    },
    Request {
        name: "RestoreSecret",
        ops: &[Op::Restore],
        needs: &[Need::on("secretsmanager:RestoreSecret", On::Owned)],
    },
]);

/// The refusal of a batch read on `name`: AWS checks `GetSecretValue` on each secret.
pub(crate) fn denied_batch_read(name: &str) -> String {
    secretsync_core::permissions::denied("secretsmanager:GetSecretValue", name)
}

/// The IAM policy `scope`'s job needs on the `aws-sm://` backend of `opts`: Secrets Manager
/// actions on the prefix's secrets in the primary and replica regions, deletes only on secrets
/// tagged as this store's, and the `kms-key=` key through Secrets Manager only.
pub fn policy(opts: &SmOptions, scope: &PolicyScope) -> Policy {
    let ops = scope
        .job
        .ops(&super::AwsSmBackend::capabilities_of(opts), scope.verify);
    let needs = iam::applicable(REQUESTS.needs(&ops), |w| match w {
        With::Always => true,
        With::Replicas => !opts.replicas.is_empty(),
        With::KmsKey => opts.kms_key.is_some(),
        With::KmsKeyStandard | With::KmsKeyAdvanced => false,
    });
    let region = opts.aws.region.as_deref();
    let part = iam::partition(region);
    let secrets = std::iter::once(region.unwrap_or("*"))
        .chain(opts.replicas.iter().map(String::as_str))
        .map(|r| format!("arn:{part}:secretsmanager:{r}:*:secret:{}*", scope.prefix))
        .collect();
    iam::policy(
        &needs,
        &Resources {
            service: "secretsmanager",
            secrets,
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

    fn scope(job: Job) -> PolicyScope<'static> {
        PolicyScope {
            job,
            verify: false,
            env: "prod-eu",
            prefix: "billing/",
            store_id: Some("0123abcd"),
            force_delete: false,
        }
    }

    fn actions(p: &Policy) -> Vec<String> {
        p.document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().clone())
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    }

    fn opts(url: &str) -> SmOptions {
        SmOptions::from_url(&url::Url::parse(url).unwrap()).unwrap()
    }

    #[test]
    fn plan_lists_and_reads_nothing_else() {
        let p = policy(&opts("aws-sm://?region=eu-west-1"), &scope(Job::Plan));
        assert_eq!(actions(&p), ["secretsmanager:ListSecrets"]);
        // With replicas the listing lacks placement: each secret's metadata is read.
        let p = policy(
            &opts("aws-sm://?region=eu-west-1&replicas=us-east-1"),
            &scope(Job::Plan),
        );
        assert_eq!(
            actions(&p),
            [
                "secretsmanager:ListSecrets",
                "secretsmanager:DescribeSecret"
            ]
        );
    }

    #[test]
    fn apply_writes_on_the_prefix_and_deletes_only_what_the_store_owns() {
        let p = policy(&opts("aws-sm://?region=eu-west-1"), &scope(Job::Apply));
        let st = &p.document["Statement"];
        assert_eq!(st[0]["Resource"], "*");
        assert_eq!(
            st[1]["Resource"],
            serde_json::json!(["arn:aws:secretsmanager:eu-west-1:*:secret:billing/*"])
        );
        assert_eq!(
            st[1]["Action"],
            serde_json::json!([
                "secretsmanager:CreateSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:TagResource"
            ])
        );
        assert_eq!(
            st[2]["Action"],
            serde_json::json!(["secretsmanager:DeleteSecret"])
        );
        assert_eq!(
            st[2]["Condition"]["StringEquals"]["aws:ResourceTag/secretsync-store"],
            "0123abcd"
        );
        assert!(
            !actions(&p).iter().any(|a| a.contains("GetSecretValue")),
            "apply reads no value"
        );
        // --verify and reconcile read values.
        let verify = PolicyScope {
            verify: true,
            ..scope(Job::Apply)
        };
        let a = actions(&policy(&opts("aws-sm://?region=eu-west-1"), &verify));
        assert!(a.contains(&"secretsmanager:BatchGetSecretValue".to_string()));
        assert!(a.contains(&"secretsmanager:GetSecretValue".to_string()));
    }

    #[test]
    fn replicas_and_a_kms_key_add_their_regions_actions_and_key() {
        let p = policy(
            &opts("aws-sm://?region=eu-west-1&replicas=us-east-1&kms-key=arn:aws:kms:eu-west-1:111122223333:key/k1"),
            &scope(Job::Apply),
        );
        let st = &p.document["Statement"];
        assert_eq!(
            st[1]["Resource"],
            serde_json::json!([
                "arn:aws:secretsmanager:eu-west-1:*:secret:billing/*",
                "arn:aws:secretsmanager:us-east-1:*:secret:billing/*"
            ])
        );
        let a = actions(&p);
        assert!(a.contains(&"secretsmanager:ReplicateSecretToRegions".to_string()));
        assert!(a.contains(&"secretsmanager:RemoveRegionsFromReplication".to_string()));
        assert_eq!(st[3]["Sid"], "KmsKey");
        assert_eq!(
            st[3]["Action"],
            serde_json::json!(["kms:Decrypt", "kms:GenerateDataKey"])
        );
        assert_eq!(
            st[3]["Resource"],
            "arn:aws:kms:eu-west-1:111122223333:key/k1"
        );
    }
}
