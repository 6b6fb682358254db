//! The Vault backend against a real OpenBao dev server, over HTTP. Needs the emulators
//! (`scripts/emulators.sh up`); skips loudly without them, fails under CI=true.

use secretsync_core::conformance::{self, emulator_endpoint};
use secretsync_core::request_log;
use secretsync_core::*;
use secretsync_vault::{Auth, VaultBackend, VaultOptions};
use std::sync::Arc;

fn opts(addr: String, path: &str) -> VaultOptions {
    let token = std::env::var("SECRETSYNC_TEST_VAULT_TOKEN").unwrap_or_else(|_| "root".into());
    VaultOptions {
        addr,
        mount: "secret".into(),
        path: path.into(),
        namespace: None,
        auth: Auth::Token(token),
    }
}

async fn backend(path: &str) -> Option<(VaultBackend, String)> {
    let addr = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR")?;
    Some((
        VaultBackend::new(opts(addr.clone(), path)).await.unwrap(),
        addr,
    ))
}

/// An independent client: raw KV v2 reads over HTTP.
async fn raw_get(addr: &str, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{addr}/v1/secret/data/{path}"))
        .header("X-Vault-Token", "root")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn vault_conforms_on_openbao() {
    let Some((b, _)) = backend("conformance").await else {
        return;
    };
    conformance::run(Arc::new(b), &conformance::random_prefix("vault")).await;
}

#[tokio::test]
async fn an_independent_client_reads_values_and_custom_metadata() {
    let Some((b, addr)) = backend("apps/billing").await else {
        return;
    };
    let name = format!("{}Token", conformance::random_prefix("vault"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    b.put(
        &name,
        &"s3cret".into(),
        &PutOptions {
            labels,
            token: Some("t".repeat(48)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let v = raw_get(&addr, &format!("apps/billing/{name}")).await;
    assert_eq!(v["data"]["data"]["value"], "s3cret");
    assert_eq!(
        v["data"]["metadata"]["custom_metadata"]["managed-by"],
        "secretsync"
    );
    b.put(
        &name,
        &SecretValue::new(vec![0, 255]),
        &PutOptions::default(),
    )
    .await
    .unwrap();
    let v = raw_get(&addr, &format!("apps/billing/{name}")).await;
    assert_eq!(
        (
            v["data"]["data"]["value"].as_str(),
            v["data"]["data"]["encoding"].as_str()
        ),
        (Some("AP8="), Some("base64"))
    );
}

#[tokio::test]
async fn check_and_set_detects_a_concurrent_writer() {
    let Some((b, addr)) = backend("cas").await else {
        return;
    };
    let name = format!("{}A", conformance::random_prefix("vault"));
    b.put(&name, &"one".into(), &PutOptions::default())
        .await
        .unwrap();
    let seen = b.head(&name).await.unwrap().unwrap().version.unwrap();
    // Someone else writes a version in between.
    reqwest::Client::new()
        .post(format!("{addr}/v1/secret/data/cas/{name}"))
        .header("X-Vault-Token", "root")
        .json(&serde_json::json!({"data": {"value": "theirs"}}))
        .send()
        .await
        .unwrap();
    let e = b
        .put(
            &name,
            &"mine".into(),
            &PutOptions {
                mode: PutMode::IfVersion(seen),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert_eq!(
        b.get(&name).await.unwrap().unwrap().value,
        SecretValue::from("theirs"),
        "never overwritten"
    );
}

#[tokio::test]
async fn soft_delete_and_restore() {
    let Some((b, _)) = backend("soft").await else {
        return;
    };
    let name = format!("{}A", conformance::random_prefix("vault"));
    b.put(&name, &"v1".into(), &PutOptions::default())
        .await
        .unwrap();
    b.delete(&name, &DeleteOptions::default()).await.unwrap();
    assert!(b.get(&name).await.unwrap().is_none());
    assert!(b.head(&name).await.unwrap().is_none());
    b.restore(&name).await.unwrap();
    assert_eq!(
        b.get(&name).await.unwrap().unwrap().value,
        SecretValue::from("v1")
    );
    let e = b
        .delete(
            &name,
            &DeleteOptions {
                mode: DeleteMode::Soft { days: 7 },
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
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
async fn urls_and_bad_tokens_are_clear_errors() {
    let Some((_, addr)) = backend("x").await else {
        return;
    };
    let bad = VaultBackend::new(VaultOptions {
        auth: Auth::Token("wrong".into()),
        ..opts(addr.clone(), "x")
    })
    .await
    .unwrap();
    let e = bad.head("A").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert!(
        !format!("{bad:?}").contains("wrong"),
        "the token never shows"
    );
    let u = url::Url::parse("vault+http://127.0.0.1:1/").unwrap();
    let e = VaultOptions::from_url(&u).unwrap_err();
    assert!(e.to_string().contains("names no KV mount"), "{e}");
    let u = url::Url::parse(&format!(
        "{}/secret/app?auth=kubernetes",
        addr.replace("http://", "vault+http://")
    ))
    .unwrap();
    let e = VaultOptions::from_url(&u).unwrap_err();
    assert!(e.to_string().contains("role"), "{e}");
}

#[tokio::test]
async fn approle_login_works_and_a_bad_secret_id_is_refused() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let http = reqwest::Client::new();
    let root = |m: reqwest::Method, p: &str| {
        http.request(m, format!("{addr}/v1/{p}"))
            .header("X-Vault-Token", "root")
    };
    // Enable AppRole once (a second enable answers 400, which is fine), a policy, and a role.
    root(reqwest::Method::POST, "sys/auth/approle")
        .json(&serde_json::json!({"type": "approle"}))
        .send()
        .await
        .unwrap();
    let policy = r#"path "secret/*" { capabilities = ["create", "read", "update", "delete", "list", "patch"] }"#;
    root(reqwest::Method::PUT, "sys/policies/acl/secretsync")
        .json(&serde_json::json!({"policy": policy}))
        .send()
        .await
        .unwrap();
    let role = conformance::random_prefix("role")
        .trim_end_matches('_')
        .to_string();
    root(reqwest::Method::POST, &format!("auth/approle/role/{role}"))
        .json(&serde_json::json!({"token_policies": ["secretsync"]}))
        .send()
        .await
        .unwrap();
    let role_id: serde_json::Value = root(
        reqwest::Method::GET,
        &format!("auth/approle/role/{role}/role-id"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let secret_id: serde_json::Value = root(
        reqwest::Method::POST,
        &format!("auth/approle/role/{role}/secret-id"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let auth = Auth::AppRole {
        role_id: role_id["data"]["role_id"].as_str().unwrap().into(),
        secret_id: secret_id["data"]["secret_id"].as_str().unwrap().into(),
        mount: "approle".into(),
    };
    assert!(
        !format!("{auth:?}").contains(secret_id["data"]["secret_id"].as_str().unwrap()),
        "the secret id never shows"
    );
    let b = VaultBackend::new(VaultOptions {
        auth: auth.clone(),
        ..opts(addr.clone(), "approle")
    })
    .await
    .unwrap();
    let name = format!("{}A", conformance::random_prefix("vault"));
    b.put(&name, &"via-approle".into(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        b.get(&name).await.unwrap().unwrap().value,
        SecretValue::from("via-approle")
    );

    let Auth::AppRole { role_id, mount, .. } = auth else {
        unreachable!()
    };
    let bad = Auth::AppRole {
        role_id,
        secret_id: "not-the-secret-id".into(),
        mount,
    };
    let e = VaultBackend::new(VaultOptions {
        auth: bad,
        ..opts(addr, "approle")
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthenticated, "{e}");
    assert!(!e.to_string().contains("not-the-secret-id"));
}

#[tokio::test]
async fn a_listing_reads_each_folder_once_whatever_its_size() {
    let Some((b, _)) = backend("walk").await else {
        return;
    };
    let p = conformance::random_prefix("walk");
    let mut names: Vec<String> = (0..230).map(|i| format!("{p}S{i:03}")).collect();
    names.extend([
        format!("{p}sub/A"),
        format!("{p}sub/B"),
        format!("{p}sub/deeper/C"),
        format!("{p}side/D"),
    ]);
    for n in &names {
        b.put(n, &"v".into(), &PutOptions::default()).await.unwrap();
    }
    // Page by page: one LIST request each, one folder each, no folder twice.
    let (mut pages, mut seen, mut token) = (0, Vec::new(), None);
    loop {
        let page = b.list(&p, token.take()).await.unwrap();
        pages += 1;
        seen.extend(page.items.into_iter().map(|m| m.name));
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    seen.sort();
    names.sort();
    assert_eq!(seen, names);
    assert_eq!(pages, 4, "the prefix's folder, sub/, sub/deeper/ and side/");
    // Through the layers, as a plan lists: 4 list calls, then one head per secret.
    let counter = calls::CallCounter::new();
    let cfg = layers::StackConfig {
        retry: layers::RetryPolicy::default(),
        rates: pace::RateLimits::unlimited(),
        concurrency: 16,
        counter: counter.clone(),
    };
    let layered = layers::stack(Arc::new(b), &cfg);
    assert_eq!(list_all(layered.as_ref(), &p).await.unwrap().len(), 234);
    assert_eq!(counter.calls(Op::List), 4);
    assert_eq!(counter.calls(Op::Head), 234);
    let bad = layered
        .list(&p, Some("not a token".into()))
        .await
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::InvalidInput);
}

#[tokio::test]
async fn every_request_is_counted_as_the_audit_device_logs_it() {
    let Some(log) = emulator_endpoint("SECRETSYNC_TEST_VAULT_REQUEST_LOG") else {
        return;
    };
    // A folder of its own: a listing's request names the folder, not the name prefix.
    let folder = conformance::random_prefix("req");
    let Some((b, _)) = backend(&folder).await else {
        return;
    };
    let mark = request_log::Mark::now(request_log::Emulator::OpenBao, log).unwrap();
    conformance::requests_match_the_log(Arc::new(b), "s_", mark, &format!("{folder}/")).await;
}

/// Every request the backend sends, with the operation that sent it, has an entry in its
/// permission table, and every entry but the login (sent when the backend opens, with AppRole
/// or Kubernetes auth) is sent by some operation here.
#[tokio::test]
async fn every_request_has_a_permission_table_entry() {
    let Some((b, _)) = backend("permissions").await else {
        return;
    };
    let sent =
        conformance::requests_by_op(Arc::new(b), &conformance::random_prefix("vaultperm")).await;
    let table = &secretsync_vault::permissions::REQUESTS;
    let problems = table.check(sent.iter().map(|(o, r)| (*o, r.as_str())));
    assert!(problems.is_empty(), "{problems:#?}");
    let never: Vec<&str> = table
        .0
        .iter()
        .map(|r| r.name)
        .filter(|n| !sent.iter().any(|(_, r)| r == n))
        .collect();
    assert_eq!(never, ["POST login"], "table entries never sent");
}
