//! The GCP backend on cloudbox's Secret Manager and the KMS recipient on drongo, over real HTTP.
//! Needs the emulators (`scripts/emulators.sh up`); skips loudly without them, fails under CI=true.

use google_cloud_kms_v1::client::KeyManagementService;
use google_cloud_kms_v1::model::{crypto_key::CryptoKeyPurpose, CryptoKey, KeyRing};
use secretsync_core::conformance::{self, emulator_endpoint};
use secretsync_core::*;
use secretsync_gcp::{GcpKmsRecipient, GcpOptions, GcpSmBackend};
use std::sync::Arc;

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
