//! Replicating an environment into OpenBao end to end, read back by an independent client.
#![cfg(feature = "vault")]

use crate::common;

use common::{Project, CANARY};
use secretsync_core::conformance::emulator_endpoint;

async fn raw(
    addr: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut r = reqwest::Client::new()
        .request(method, format!("{addr}/v1/secret/{path}"))
        .header("X-Vault-Token", "root");
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap().json().await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_replicates_into_openbao_and_drift_is_seen() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let app = secretsync_core::conformance::random_prefix("app");
    let p = Project::init_with(vec![("VAULT_TOKEN".into(), "root".into())]);
    p.append_config(&format!(
        "[secrets.DB]\n[environments.staging]\ntype = \"development\"\nbackend = \"{}/secret/{app}\"\nprefix = \"svc/\"\n",
        addr.replace("http://", "vault+http://")
    ));
    p.set("DB", "--type", "dev", "postgres://staging");
    p.set(
        "Cert",
        "--type",
        "dev",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
    );
    let env = [("VAULT_TOKEN", "root")];
    let run = |args: &[&str]| {
        let mut c = p.cmd(args);
        c.envs(env);
        c.output().unwrap()
    };
    let out = run(&["apply", "--env", "staging"]);
    assert!(out.status.success(), "{}", common::text(&out));

    let v = raw(
        &addr,
        reqwest::Method::GET,
        &format!("data/{app}/svc/DB"),
        None,
    )
    .await;
    assert_eq!(v["data"]["data"]["value"], "postgres://staging");
    assert_eq!(
        v["data"]["metadata"]["custom_metadata"]["managed-by"],
        "secretsync"
    );
    let out = run(&["plan", "--env", "staging", "--detailed-exitcode", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    // A no-change plan: LIST gives names only, then one metadata read per secret, each
    // counted where it happens (and rate limited); no value read.
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let calls = &j["environments"][0]["api_calls"];
    let ok = |op: &str| common::ok_calls(calls, op);
    assert_eq!((ok("list"), ok("head")), (1, 2), "{calls:?}");
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["op"] == "list" || c["op"] == "head"),
        "{calls:?}"
    );

    raw(
        &addr,
        reqwest::Method::POST,
        &format!("data/{app}/svc/DB"),
        Some(serde_json::json!({"data": {"value": CANARY}})),
    )
    .await;
    let out = run(&["plan", "--env", "staging", "--detailed-exitcode"]);
    let text = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("! svc/DB") && !text.contains("canary"),
        "{text}"
    );
    let out = run(&["apply", "--env", "staging", "--on-drift", "revert"]);
    assert!(out.status.success(), "{}", common::text(&out));
    let v = raw(
        &addr,
        reqwest::Method::GET,
        &format!("data/{app}/svc/DB"),
        None,
    )
    .await;
    assert_eq!(v["data"]["data"]["value"], "postgres://staging");
}
