//! The GCP backend on cloudbox's Secret Manager and the KMS recipient on drongo, over real HTTP.
//! Needs the emulators (`scripts/emulators.sh up`); skips loudly without them, fails under CI=true.

use google_cloud_kms_v1::client::KeyManagementService;
use google_cloud_kms_v1::model::{crypto_key::CryptoKeyPurpose, CryptoKey, KeyRing};
use secretsync_core::conformance::{self, emulator_endpoint};
use secretsync_core::request_log;
use secretsync_core::*;
use secretsync_gcp::{GcpKmsRecipient, GcpOptions, GcpSmBackend};
use std::sync::Arc;
use std::time::Duration;

fn opts(endpoint: String) -> GcpOptions {
    GcpOptions {
        endpoint: Some(endpoint),
        anonymous: true,
    }
}

#[tokio::test]
async fn gcp_sm_conforms_on_the_emulator() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let b = GcpSmBackend::new("conformance", &opts(ep)).await.unwrap();
    conformance::run(Arc::new(b), &conformance::random_prefix("gcp")).await;
}

/// The request log of secret creates the emulator keeps (see scripts/gcp_emulators.py).
fn creates_logged(secret_id: &str) -> Vec<serde_json::Value> {
    let Ok(path) = std::env::var("SECRETSYNC_TEST_GCP_SM_CREATES") else {
        panic!("SECRETSYNC_TEST_GCP_SM_CREATES is not set: start the emulators with scripts/emulators.sh up");
    };
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["secretId"] == secret_id)
        .collect()
}

#[tokio::test]
async fn locations_are_asked_for_at_create_and_other_replication_is_placement_drift() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let locations = vec!["europe-west1".to_string(), "europe-west4".to_string()];
    let b = GcpSmBackend::new("replication", &opts(ep.clone()))
        .await
        .unwrap()
        .with_locations(locations);
    assert!(b
        .info()
        .target
        .ends_with("&locations=europe-west1,europe-west4"));
    let prefix = conformance::random_prefix("gcprep");
    let name = format!("{prefix}DB");
    b.put(&name, &"v1".into(), &PutOptions::default())
        .await
        .unwrap();
    // The emulator keeps no replication, so the request body is what shows what was asked for.
    let mut logged = creates_logged(&name);
    for _ in 0..20 {
        if !logged.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        logged = creates_logged(&name);
    }
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        logged[0]["body"]["replication"],
        serde_json::json!({"userManaged": {"replicas": [
            {"location": "europe-west1"}, {"location": "europe-west4"}
        ]}})
    );
    // It reads back as automatic, which is what a secret recreated outside secretsync looks
    // like: placement drift from the listing alone (and from head), naming the fix.
    let listed = list_all(&b, &prefix).await.unwrap();
    let d = listed[0].placement_drift.clone().expect("placement drift");
    assert!(
        d.starts_with("replication is automatic, locations=europe-west1,europe-west4"),
        "{d}"
    );
    assert_eq!(
        b.head(&name).await.unwrap().unwrap().placement_drift,
        Some(d)
    );
    // Without locations=, creates ask for automatic replication and nothing is checked.
    let plain = GcpSmBackend::new("replication", &opts(ep)).await.unwrap();
    assert_eq!(
        list_all(&plain, &prefix).await.unwrap()[0].placement_drift,
        None
    );
    let other = format!("{prefix}Plain");
    plain
        .put(&other, &"v".into(), &PutOptions::default())
        .await
        .unwrap();
    let logged = creates_logged(&other);
    assert_eq!(
        logged[0]["body"]["replication"],
        serde_json::json!({"automatic": {}})
    );
}

#[tokio::test]
async fn an_independent_client_reads_what_the_backend_wrote() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let b = GcpSmBackend::new("indep", &opts(ep.clone())).await.unwrap();
    let name = format!("{}Token", conformance::random_prefix("gcp"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    let token = "a".repeat(48);
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
    assert_eq!(out.version.as_deref(), Some(token.as_str()));
    // A retried write (the same token and value) adds no version.
    b.put(
        &name,
        &"s3cret".into(),
        &PutOptions {
            token: Some(token.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let v: serde_json::Value = http
        .get(format!(
            "{ep}/v1/projects/indep/secrets/{name}/versions/latest:access"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["payload"]["data"], "czNjcmV0");
    assert!(v["name"].as_str().unwrap().ends_with("/versions/1"), "{v}");
    let s: serde_json::Value = http
        .get(format!("{ep}/v1/projects/indep/secrets/{name}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["labels"]["managed-by"], "secretsync");
    assert_eq!(s["labels"]["secretsync-token-version"], "1");
    // GCP's rules (from its capabilities) are checked before any call, by the layer every
    // backend is used through.
    let b = secretsync_core::layers::Checked::new(std::sync::Arc::new(b.clone()));
    let e = b
        .put("has/slash", &"x".into(), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    let mut upper = Labels::new();
    upper.insert("Owner".into(), "x".into());
    let e = b
        .put(
            &name,
            &"x".into(),
            &PutOptions {
                labels: upper,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("lowercase"), "{e}");
}

#[tokio::test]
async fn cloud_kms_wraps_and_unwraps_bound_to_the_store_id() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_KMS_ENDPOINT") else {
        return;
    };
    let client = KeyManagementService::builder()
        .with_endpoint(ep.clone())
        .with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build())
        .build()
        .await
        .unwrap();
    let ring_id = conformance::random_prefix("ring")
        .trim_end_matches('_')
        .replace('_', "-");
    let parent = "projects/p/locations/global";
    client
        .create_key_ring()
        .set_parent(parent)
        .set_key_ring_id(&ring_id)
        .set_key_ring(KeyRing::new())
        .send()
        .await
        .unwrap();
    let key = client
        .create_crypto_key()
        .set_parent(format!("{parent}/keyRings/{ring_id}"))
        .set_crypto_key_id("store")
        .set_crypto_key(CryptoKey::new().set_purpose(CryptoKeyPurpose::EncryptDecrypt))
        .send()
        .await
        .unwrap();
    let r = GcpKmsRecipient::with_options(&key.name, &opts(ep))
        .await
        .unwrap();
    let dk = DataKey::from_bytes([9u8; 32]);
    let wrapped = r.wrap(&dk, "store-1").await.unwrap();
    assert_eq!(
        r.unwrap(&Recipient::id(&r), &wrapped, "store-1")
            .await
            .unwrap()
            .expose(),
        dk.expose()
    );
    let e = r
        .unwrap(&Recipient::id(&r), &wrapped, "store-2")
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("Cloud KMS Decrypt failed")
            && e.message.contains("INVALID_ARGUMENT")
            && e.message.contains("additional authenticated data mismatch"),
        "a wrong AAD must be refused: {e}"
    );
    let e = GcpKmsRecipient::new("projects/p/keyRings/r")
        .await
        .unwrap_err();
    assert!(
        e.message
            .contains("gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K"),
        "{e}"
    );
}

#[tokio::test]
async fn every_request_is_counted_as_the_emulator_logs_it() {
    let (Some(ep), Some(log)) = (
        emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT"),
        emulator_endpoint("SECRETSYNC_TEST_GCP_SM_REQUEST_LOG"),
    ) else {
        return;
    };
    let mark = request_log::Mark::now(request_log::Emulator::GcpSecretManager, log).unwrap();
    // A project of its own: a listing's request names the project, not the prefix.
    let project = conformance::random_prefix("req").replace('_', "-");
    let b = GcpSmBackend::new(&project, &opts(ep)).await.unwrap();
    let filter = format!("/projects/{project}/");
    conformance::requests_match_the_log(Arc::new(b), "s_", mark, &filter).await;
}

/// Exports, `--verify` and migrations read values in batches: each costs one
/// `AccessSecretVersion`, paced by GCP's access quota (90,000 a minute), not a `GetSecret` more
/// under the 600-a-minute read quota (an export of 300 secrets took 30 s that way).
#[tokio::test]
async fn batch_reads_are_one_access_request_each_outside_the_read_quota() {
    use secretsync_core::calls::CallCounter;
    use secretsync_core::layers::{stack, RetryPolicy, StackConfig};
    use secretsync_core::pace::{Rate, RateLimits};
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let project = conformance::random_prefix("reads").replace('_', "-");
    let b = GcpSmBackend::new(&project, &opts(ep)).await.unwrap();
    let names: Vec<String> = (0..20).map(|k| format!("v{k}")).collect();
    for n in &names {
        b.put(
            n,
            &format!("value of {n}").as_str().into(),
            &PutOptions::default(),
        )
        .await
        .unwrap();
    }
    let counter = CallCounter::new();
    let s = stack(
        Arc::new(b),
        &StackConfig {
            retry: RetryPolicy::default(),
            // One other read a minute: a batch read that took a read token would wait minutes.
            rates: RateLimits {
                read: Rate::per_minute(1),
                ..RateLimits::default()
            },
            concurrency: 4,
            counter: counter.clone(),
        },
    );
    let mut ask = names.clone();
    ask.push("absent".into());
    let got = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        secretsync_core::get_all(s.as_ref(), &ask, 4),
    )
    .await
    .expect("value reads waited for read-quota tokens")
    .unwrap();
    for (n, g) in names.iter().zip(&got) {
        let g = g.as_ref().expect("present");
        assert_eq!(g.value.expose(), format!("value of {n}").as_bytes());
    }
    assert!(got[20].is_none());
    assert_eq!(counter.requests_named("AccessSecretVersion"), 21);
    assert_eq!(counter.total_requests(), 21, "{:?}", counter.requests());
}

/// Every request the backend sends, with the operation that sent it, has an entry in its
/// permission table, and every entry is sent by some operation here.
#[tokio::test]
async fn every_request_has_a_permission_table_entry() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let b = GcpSmBackend::new("permissions", &opts(ep)).await.unwrap();
    let sent =
        conformance::requests_by_op(Arc::new(b), &conformance::random_prefix("gcpperm")).await;
    let table = &secretsync_gcp::sm::permissions::REQUESTS;
    let problems = table.check(sent.iter().map(|(o, r)| (*o, r.as_str())));
    assert!(problems.is_empty(), "{problems:#?}");
    let never: Vec<&str> = table
        .0
        .iter()
        .map(|r| r.name)
        .filter(|n| !sent.iter().any(|(_, r)| r == n))
        .collect();
    assert!(never.is_empty(), "table entries never sent: {never:?}");
}
