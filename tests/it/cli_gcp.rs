//! GCP end to end: an environment replicated into Secret Manager (cloudbox) and read back by an
//! independent client; a store wrapped by a Cloud KMS key (drongo) opened with that key alone.
#![cfg(feature = "gcp")]

use crate::common;

use common::{text, Project};
use secretsync_core::conformance::{emulator_endpoint, random_prefix};

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_replicates_into_secret_manager() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let project = random_prefix("proj")
        .trim_end_matches('_')
        .replace('_', "-");
    let p = Project::init_with(common::gcp_env(Some(&ep), None));
    p.append_config(&format!(
        "[secrets.DB]\n[environments.prod-gcp]\ntype = \"production\"\nbackend = \"gcp-sm://{project}?endpoint={ep}&auth=none\"\nprefix = \"billing_\"\n"
    ));
    p.set("DB", "--type", "prod", "postgres://prod");
    p.set("Bin", "--type", "prod", "bin");
    let out = p.ok(&["apply", "--env", "prod-gcp"], None);
    assert!(out.contains("2 done"), "{out}");
    let http = reqwest::Client::new();
    let v: serde_json::Value = http
        .get(format!(
            "{ep}/v1/projects/{project}/secrets/billing_DB/versions/latest:access"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["payload"]["data"], "cG9zdGdyZXM6Ly9wcm9k");
    let s: serde_json::Value = http
        .get(format!("{ep}/v1/projects/{project}/secrets/billing_DB"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["labels"]["managed-by"], "secretsync");
    let out = p.code(
        &["plan", "--env", "prod-gcp", "--detailed-exitcode"],
        None,
        0,
    );
    assert!(out.contains("drift is not checked"), "{out}");

    // A version added outside secretsync: invisible to the listing.
    http.post(format!(
        "{ep}/v1/projects/{project}/secrets/billing_DB:addVersion"
    ))
    .json(&serde_json::json!({"payload": {"data": "aGFuZC13cml0dGVu"}}))
    .send()
    .await
    .unwrap();
    // --check-drift finds it from metadata alone, reading no value.
    let out = p.code(
        &[
            "plan",
            "--env",
            "prod-gcp",
            "--check-drift",
            "--detailed-exitcode",
            "--json",
        ],
        None,
        2,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let env = &j["environments"][0];
    assert_eq!(
        env["summary"]["drift"], 1,
        "found from metadata: {}",
        env["plan"]
    );
    let calls = env["api_calls"].as_array().unwrap();
    assert!(
        calls.iter().all(|c| c["op"] == "list" || c["op"] == "head"),
        "no value read: {calls:?}"
    );
    let out = p.code(
        &[
            "plan",
            "--env",
            "prod-gcp",
            "--verify",
            "--detailed-exitcode",
        ],
        None,
        2,
    );
    assert!(out.contains("! billing_DB"), "{out}");
    p.ok(
        &[
            "apply",
            "--env",
            "prod-gcp",
            "--verify",
            "--on-drift",
            "revert",
        ],
        None,
    );
    p.code(
        &[
            "plan",
            "--env",
            "prod-gcp",
            "--verify",
            "--detailed-exitcode",
        ],
        None,
        0,
    );

    // A name GCP refuses is reported before any call.
    let q = Project::init_with(common::gcp_env(Some(&ep), None));
    q.append_config(&format!("[environments.bad]\ntype = \"production\"\nbackend = \"gcp-sm://{project}?endpoint={ep}&auth=none\"\nprefix = \"billing/\"\n"));
    q.set("DB", "--type", "prod", "x");
    let out = q.code(&["plan", "--env", "bad"], None, 1);
    assert!(out.contains("billing/DB") && out.contains("'/'"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_wrapped_by_cloud_kms_opens_with_that_key_alone() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_KMS_ENDPOINT") else {
        return;
    };
    let ring = random_prefix("ring")
        .trim_end_matches('_')
        .replace('_', "-");
    let http = reqwest::Client::new();
    http.post(format!(
        "{ep}/v1/projects/p/locations/global/keyRings?keyRingId={ring}"
    ))
    .json(&serde_json::json!({}))
    .send()
    .await
    .unwrap();
    http.post(format!(
        "{ep}/v1/projects/p/locations/global/keyRings/{ring}/cryptoKeys?cryptoKeyId=store"
    ))
    .json(&serde_json::json!({"purpose": "ENCRYPT_DECRYPT"}))
    .send()
    .await
    .unwrap();
    let key = format!("gcp-kms:projects/p/locations/global/keyRings/{ring}/cryptoKeys/store");
    let p = Project::init_with(common::gcp_env(None, Some(&ep)));
    p.set("Token", "--type", "prod", "from-cloud-kms");
    p.ok(&["key", "add", &key, "--scope", "all"], None);
    let keys: serde_json::Value =
        serde_json::from_str(&p.ok(&["key", "list", "--json"], None)).unwrap();
    let age = keys["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .find(|r| r.starts_with("age1"))
        .unwrap();
    p.ok(&["key", "remove", &age, "--force"], None);
    std::fs::remove_file(p.identity_file()).unwrap();
    assert_eq!(p.get("Token", "--type", "prod"), "from-cloud-kms");
    let raw = std::fs::read_to_string(p.path("secrets.enc.toml")).unwrap();
    let moved = raw.replace(
        &raw[raw.find("store_id = \"").unwrap() + 12..][..32],
        &"1".repeat(32),
    );
    std::fs::write(p.path("secrets.enc.toml"), moved).unwrap();
    let out = p.run(&["get", "Token", "--type", "prod"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("Cloud KMS Decrypt failed")
            && text(&out).contains("additional authenticated data mismatch"),
        "{}",
        text(&out)
    );
}

#[test]
fn no_google_credentials_is_one_line_that_says_what_to_do() {
    // No emulator needed: ADC fails (no key file, the metadata server unreachable) first.
    let p = Project::init();
    p.append_config(
        "[secrets.A]\n[environments.gcp]\ntype = \"production\"\nbackend = \"gcp-sm://proj?endpoint=http://127.0.0.1:9\"\n",
    );
    p.set("A", "--type", "prod", "v");
    let out = p.run(&["plan", "--env", "gcp"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: gcp: cannot open the backend of gcp")
            && err.contains("no working Google credentials")
            && err.contains("set GOOGLE_APPLICATION_CREDENTIALS"),
        "{err}"
    );
}
