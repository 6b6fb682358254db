//! The AWS backend and KMS recipient against moto, over real HTTP. Needs the emulators
//! (`scripts/emulators.sh up`); skips loudly without them, fails under CI=true.

use aws_sdk_secretsmanager::Client;
use secretsync_aws::{AwsKmsRecipient, AwsOptions, AwsSmBackend, SmOptions};
use secretsync_core::conformance::{self, emulator_endpoint};
use secretsync_core::request_log;
use secretsync_core::*;
use std::sync::Arc;

const ENDPOINT: &str = "SECRETSYNC_TEST_AWS_ENDPOINT";

fn aws(endpoint: String, region: &str) -> AwsOptions {
    AwsOptions {
        region: Some(region.into()),
        endpoint: Some(endpoint),
        profile: None,
    }
}

fn opts(endpoint: String) -> SmOptions {
    SmOptions {
        aws: aws(endpoint, "us-east-1"),
        replicas: vec![],
        kms_key: None,
    }
}

async fn raw_client(endpoint: &str) -> Client {
    Client::new(&opts(endpoint.into()).aws.load().await.unwrap())
}

async fn raw_client_in(endpoint: &str, region: &str) -> Client {
    Client::new(&aws(endpoint.into(), region).load().await.unwrap())
}

#[tokio::test]
async fn aws_sm_conforms_on_moto() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let b = AwsSmBackend::new(&opts(ep)).await.unwrap();
    conformance::run(Arc::new(b), &conformance::random_prefix("aws")).await;
}

#[tokio::test]
async fn an_independent_client_reads_what_the_backend_wrote() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let b = AwsSmBackend::new(&opts(ep.clone())).await.unwrap();
    let name = format!("{}indep/Token", conformance::random_prefix("aws"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    let token = "f".repeat(40);
    let out = b
        .put(
            &name,
            &"s3cret".into(),
            &PutOptions {
                labels,
                token: Some(token.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.version.as_deref(),
        Some(token.as_str()),
        "the request token is the version id"
    );

    let raw = raw_client(&ep).await;
    let v = raw
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some("s3cret"));
    let d = raw.describe_secret().secret_id(&name).send().await.unwrap();
    assert!(d
        .tags()
        .iter()
        .any(|t| t.key() == Some("managed-by") && t.value() == Some("secretsync")));

    // Binary values go to SecretBinary.
    b.put(
        &name,
        &SecretValue::new(vec![0, 255, 1]),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    let v = raw
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.secret_binary().map(|b| b.as_ref().to_vec()),
        Some(vec![0, 255, 1])
    );
    b.delete(
        &name,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn replicas_are_set_at_create_reported_when_they_differ_and_removed_before_a_delete() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let with = |replicas: &[&str]| SmOptions {
        aws: aws(ep.clone(), "us-east-1"),
        replicas: replicas.iter().map(|r| r.to_string()).collect(),
        kms_key: None,
    };
    let b = AwsSmBackend::new(&with(&["eu-central-1", "us-west-2"]))
        .await
        .unwrap();
    assert!(!b.capabilities().placement_in_list);
    assert!(b
        .info()
        .target
        .ends_with("&replicas=eu-central-1,us-west-2"));
    let prefix = conformance::random_prefix("awsrep");
    let name = format!("{prefix}DB");
    b.put(&name, &"v1".into(), &PutOptions::default())
        .await
        .unwrap();
    // The request asked for both replicas: each region holds a copy whose primary is us-east-1.
    for region in ["eu-central-1", "us-west-2"] {
        let d = raw_client_in(&ep, region)
            .await
            .describe_secret()
            .secret_id(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("no replica in {region}: {e:?}"));
        assert_eq!(d.primary_region(), Some("us-east-1"), "{region}");
    }
    let listed = list_all(&b, &prefix).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].placement_drift, None, "as asked: no drift");

    // The same secrets under an environment that asks for other regions: drift, with the fix.
    let other = AwsSmBackend::new(&with(&["ap-south-1", "us-west-2"]))
        .await
        .unwrap();
    let listed = list_all(&other, &prefix).await.unwrap();
    let drift = listed[0].placement_drift.clone().expect("placement drift");
    assert!(drift.contains("no replica in ap-south-1"), "{drift}");
    assert!(
        drift.contains("replicas not asked for in eu-central-1"),
        "{drift}"
    );
    assert!(drift.contains("replicate-secret-to-regions"), "{drift}");
    // Without replicas asked for, placement is not looked at (no per-secret reads).
    let plain = AwsSmBackend::new(&opts(ep.clone())).await.unwrap();
    assert!(plain.capabilities().placement_in_list);
    assert_eq!(
        list_all(&plain, &prefix).await.unwrap()[0].placement_drift,
        None
    );

    // A replica copy listed in its own region is not that region's secret.
    let in_replica_region = AwsSmBackend::new(&SmOptions {
        aws: aws(ep.clone(), "us-west-2"),
        replicas: vec![],
        kms_key: None,
    })
    .await
    .unwrap();
    assert!(list_all(&in_replica_region, &prefix)
        .await
        .unwrap()
        .is_empty());

    // AWS refuses to delete a secret with replicas; the backend removes them first.
    b.delete(
        &name,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .unwrap();
    assert!(b.head(&name).await.unwrap().is_none());
    for region in ["eu-central-1", "us-west-2"] {
        let r = raw_client_in(&ep, region)
            .await
            .describe_secret()
            .secret_id(&name)
            .send()
            .await;
        assert!(r.is_err(), "the replica in {region} outlived its primary");
    }
}

#[tokio::test]
async fn a_soft_deleted_secret_is_reported_and_can_be_restored() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let b = AwsSmBackend::new(&opts(ep)).await.unwrap();
    let name = format!("{}soft", conformance::random_prefix("aws"));
    b.put(&name, &"v1".into(), &PutOptions::default())
        .await
        .unwrap();
    b.delete(
        &name,
        &DeleteOptions {
            mode: DeleteMode::Soft { days: 7 },
        },
    )
    .await
    .unwrap();
    assert!(b.get(&name).await.unwrap().is_none());
    // Re-creating the name is refused with a clear message. (A plain PutSecretValue on a deleted
    // secret is refused by AWS but accepted by moto 5.2.5, so it is not asserted here.)
    let create = PutOptions {
        mode: PutMode::CreateOnly,
        ..Default::default()
    };
    let e = b.put(&name, &"v2".into(), &create).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::PendingDeletion, "{e}");
    assert!(e.to_string().contains("scheduled for deletion"), "{e}");
    b.restore(&name).await.unwrap();
    assert_eq!(
        b.get(&name).await.unwrap().unwrap().value,
        SecretValue::from("v1")
    );
    b.delete(
        &name,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error() {
    let Some(_) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let url = url::Url::parse("aws-sm://?regoin=eu-west-1").unwrap();
    let e = AwsSmBackend::from_url(&url).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.to_string().contains("regoin"), "{e}");
}

#[tokio::test]
async fn kms_wraps_and_unwraps_bound_to_the_store_id() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let kms = aws_sdk_kms::Client::new(&opts(ep.clone()).aws.load().await.unwrap());
    let key = kms.create_key().send().await.unwrap();
    let arn = key.key_metadata().unwrap().arn().unwrap().to_string();

    let r = AwsKmsRecipient::with_options(&arn, opts(ep.clone()).aws)
        .await
        .unwrap();
    assert_eq!(Recipient::id(&r), format!("aws-kms:{arn}"));
    assert!(r.matches(&format!("aws-kms:{arn}")));
    let dk = DataKey::from_bytes([7u8; 32]);
    let wrapped = r.wrap(&dk, "store-1").await.unwrap();
    let back = r
        .unwrap(&Recipient::id(&r), &wrapped, "store-1")
        .await
        .unwrap();
    assert_eq!(back.expose(), dk.expose());
    let err = r
        .unwrap(&Recipient::id(&r), &wrapped, "store-2")
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("KMS Decrypt failed (permission_denied): InvalidCiphertextException"),
        "a wrong encryption context must be refused: {err}"
    );
}

#[tokio::test]
async fn aws_ssm_conforms_on_moto() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let b = secretsync_aws::AwsSsmBackend::new(secretsync_aws::SsmOptions {
        aws: opts(ep).aws,
        ..Default::default()
    })
    .await
    .unwrap();
    conformance::run(Arc::new(b), &conformance::random_prefix("ssm")).await;
}

#[tokio::test]
async fn aws_ssm_writes_secure_strings_with_tags_and_refuses_what_does_not_fit() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let advanced = |advanced| secretsync_aws::SsmOptions {
        aws: opts(ep.clone()).aws,
        kms_key: None,
        advanced,
    };
    // As secretsync uses it: behind the layer that refuses what the capabilities rule out.
    let ssm = |advanced| async move {
        let b = secretsync_aws::AwsSsmBackend::new(advanced).await.unwrap();
        layers::Checked::new(Arc::new(b))
    };
    let b = ssm(advanced(false)).await;
    let name = format!("/{}app/Token", conformance::random_prefix("ssm"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    labels.insert("secretsync-fp".into(), "0a1b".into());
    let token = "e".repeat(48);
    let write = PutOptions {
        labels: labels.clone(),
        token: Some(token.clone()),
        ..Default::default()
    };
    let out = b.put(&name, &"s3cret".into(), &write).await.unwrap();
    assert_eq!(out.version.as_deref(), Some(token.as_str()));
    // A retried write whose first attempt landed is not repeated.
    let again = b.put(&name, &"s3cret".into(), &write).await.unwrap();
    assert_eq!(again.version.as_deref(), Some(token.as_str()));

    // What an independent client sees: a SecureString at version 1, with the labels as tags.
    let conf = opts(ep.clone()).aws.load().await.unwrap();
    let raw = aws_sdk_ssm::Client::new(&conf);
    let p = raw
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = p.parameter().unwrap();
    assert_eq!(p.value(), Some("s3cret"));
    assert_eq!(p.version(), 1, "the retried write made no second version");
    assert_eq!(
        p.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    let tags = raw
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(&name)
        .send()
        .await
        .unwrap();
    let tags: Labels = tags
        .tag_list()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(tags, labels);

    // A value written outside secretsync: the listing no longer reports our token.
    raw.put_parameter()
        .name(&name)
        .value("by hand")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let meta = b.head(&name).await.unwrap().unwrap();
    assert_eq!(meta.version.as_deref(), Some("2"));

    // Tiers: 4 KiB standard, 8 KiB advanced; binary refused; each with a clear error.
    let big = "x".repeat(5000);
    let err = b
        .put(&name, &big.as_str().into(), &PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("5000 bytes") && err.to_string().contains("tier=advanced"),
        "{err}"
    );
    let adv = ssm(advanced(true)).await;
    adv.put(&name, &big.as_str().into(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(adv.get(&name).await.unwrap().unwrap().value.len(), 5000);
    let err = b
        .put(
            &name,
            &SecretValue::new(vec![0, 255]),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("text only"), "{err}");
    b.delete(
        &name,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn every_request_is_counted_as_moto_logs_it() {
    let (Some(ep), Some(log)) = (
        emulator_endpoint(ENDPOINT),
        emulator_endpoint("SECRETSYNC_TEST_AWS_REQUEST_LOG"),
    ) else {
        return;
    };
    let sm = AwsSmBackend::new(&opts(ep.clone())).await.unwrap();
    let ssm = secretsync_aws::AwsSsmBackend::new(secretsync_aws::SsmOptions {
        aws: opts(ep.clone()).aws,
        ..Default::default()
    })
    .await
    .unwrap();
    let backends: [(Arc<dyn SecretBackend>, &str); 2] =
        [(Arc::new(sm), "awsreq"), (Arc::new(ssm), "ssmreq")];
    let recording = request_log::MotoRecording::start(&ep).unwrap();
    for (b, tag) in backends {
        let mark = request_log::Mark::now(request_log::Emulator::Moto, &log).unwrap();
        let prefix = conformance::random_prefix(tag);
        conformance::requests_match_the_log(b, &prefix, mark, &prefix).await;
    }
    // Once the recording is dropped, moto records nothing more (no other test's bodies).
    drop(recording);
    let mark = request_log::Mark::now(request_log::Emulator::Moto, &log).unwrap();
    let name = conformance::random_prefix("unrecorded");
    let sm = AwsSmBackend::new(&opts(ep)).await.unwrap();
    assert!(sm.head(&name).await.unwrap().is_none());
    assert_eq!(
        mark.requests_since(&name).unwrap(),
        Default::default(),
        "moto still records after the recording ended"
    );
}

/// Every request the backends send, with the operation that sent it, has an entry in their
/// permission table, and every entry is sent by some operation here.
#[tokio::test]
async fn every_request_has_a_permission_table_entry() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for replicas in [vec![], vec!["eu-central-1".to_string()]] {
        let b = AwsSmBackend::new(&SmOptions {
            replicas,
            ..opts(ep.clone())
        })
        .await
        .unwrap();
        let sent =
            conformance::requests_by_op(Arc::new(b), &conformance::random_prefix("awsperm")).await;
        let table = &secretsync_aws::sm::permissions::REQUESTS;
        let problems = table.check(sent.iter().map(|(o, r)| (*o, r.as_str())));
        assert!(problems.is_empty(), "aws-sm: {problems:#?}");
        seen.extend(sent.into_iter().map(|(_, r)| r));
    }
    let table = &secretsync_aws::sm::permissions::REQUESTS;
    let never: Vec<&str> = table
        .0
        .iter()
        .map(|r| r.name)
        .filter(|n| !seen.contains(*n))
        .collect();
    assert!(
        never.is_empty(),
        "aws-sm table entries never sent: {never:?}"
    );

    let b = secretsync_aws::AwsSsmBackend::new(secretsync_aws::SsmOptions {
        aws: opts(ep).aws,
        ..Default::default()
    })
    .await
    .unwrap();
    let sent = conformance::requests_by_op(
        Arc::new(b),
        &format!("/{}/", conformance::random_prefix("ssmperm")),
    )
    .await;
    let table = &secretsync_aws::ssm::permissions::REQUESTS;
    let problems = table.check(sent.iter().map(|(o, r)| (*o, r.as_str())));
    assert!(problems.is_empty(), "aws-ssm: {problems:#?}");
    let never: Vec<&str> = table
        .0
        .iter()
        .map(|r| r.name)
        .filter(|n| !sent.iter().any(|(_, r)| r == n))
        .collect();
    assert!(
        never.is_empty(),
        "aws-ssm table entries never sent: {never:?}"
    );
}

/// `kms-key=`: new secrets are encrypted with that key (moto records it on the secret), and
/// they read back as any other.
#[tokio::test]
async fn a_kms_key_encrypts_new_secrets() {
    let Some(ep) = emulator_endpoint(ENDPOINT) else {
        return;
    };
    let kms = aws_sdk_kms::Client::new(&opts(ep.clone()).aws.load().await.unwrap());
    let arn = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let b = AwsSmBackend::new(&SmOptions {
        kms_key: Some(arn.clone()),
        ..opts(ep.clone())
    })
    .await
    .unwrap();
    let name = format!("{}Key", conformance::random_prefix("awskms"));
    b.put(&name, &"v".into(), &PutOptions::default())
        .await
        .unwrap();
    let d = raw_client(&ep)
        .await
        .describe_secret()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(d.kms_key_id(), Some(arn.as_str()));
    assert_eq!(b.get(&name).await.unwrap().unwrap().value, "v".into());
    let force = DeleteOptions {
        mode: DeleteMode::Force,
    };
    b.delete(&name, &force).await.unwrap();
}
