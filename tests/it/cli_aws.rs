//! The CLI with AWS: a store whose data key is wrapped by a KMS key (moto) opens with no age
//! key at all. Needs the emulators; skips loudly without them, fails under CI=true.
#![cfg(feature = "aws")]

use crate::common;

use common::{text, Project};
use secretsync_core::conformance::emulator_endpoint;
use secretsync_core::file::FileBackend;
use secretsync_core::SecretBackend;

async fn moto_conf(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A fresh KMS key on moto, and moto's endpoint.
pub(crate) async fn moto_kms_key() -> Option<(String, String)> {
    let ep = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT")?;
    let key = aws_sdk_kms::Client::new(&moto_conf(&ep).await)
        .create_key()
        .send()
        .await
        .unwrap();
    Some((key.key_metadata().unwrap().arn().unwrap().to_string(), ep))
}

#[tokio::test]
async fn a_store_wrapped_by_kms_opens_with_the_kms_key_alone() {
    let Some((arn, ep)) = moto_kms_key().await else {
        return;
    };
    let p = Project::init_with(common::aws_env(&ep));
    p.set("Token", "--type", "prod", "from-kms");
    let out = p.ok(
        &["key", "add", &format!("aws-kms:{arn}"), "--scope", "all"],
        None,
    );
    assert!(out.contains("added recipient aws-kms:"), "{out}");

    // Drop the age recipient: only KMS can open the store now.
    let keys: serde_json::Value =
        serde_json::from_str(&p.ok(&["key", "list", "--json"], None)).unwrap();
    let age = keys["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_str().unwrap().starts_with("age1"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    p.ok(&["key", "remove", &age, "--force"], None);
    std::fs::remove_file(p.identity_file()).unwrap();

    assert_eq!(p.get("Token", "--type", "prod"), "from-kms");
    p.set("Token", "--type", "dev", "written-under-kms");
    p.ok(&["key", "rotate"], None);
    assert_eq!(p.get("Token", "--type", "dev"), "written-under-kms");
    let raw = std::fs::read_to_string(p.path("secrets.enc.toml")).unwrap();
    assert!(
        raw.contains(&format!("[scopes.production.recipients.\"aws-kms:{arn}\"]")),
        "{raw}"
    );

    // The same store id moved into another store's file is refused (encryption context).
    let stolen = raw.replace(
        &raw[raw.find("store_id = \"").unwrap() + 12..][..32],
        &"0".repeat(32),
    );
    std::fs::write(p.path("secrets.enc.toml"), stolen).unwrap();
    let out = p.run(&["get", "Token", "--type", "prod"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("KMS Decrypt failed (permission_denied): InvalidCiphertextException"),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn an_unknown_kms_key_is_a_clear_error() {
    let Some((_, ep)) = moto_kms_key().await else {
        return;
    };
    let p = Project::init_with(common::aws_env(&ep));
    let out = p.code(
        &[
            "key",
            "add",
            "aws-kms:arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
            "--scope",
            "production",
        ],
        None,
        1,
    );
    assert!(out.contains("KMS Encrypt failed"), "{out}");
}

/// A project replicating into moto, its endpoint given explicitly in the URL and the
/// environment, never inherited.
fn aws_project(ep: &str, prefix: &str) -> Project {
    let p = Project::init_with(common::aws_env(ep));
    p.append_config(&format!(
        "[environments.prod-eu]\ntype = \"production\"\nbackend = \"aws-sm://?region=us-east-1&endpoint={ep}\"\nprefix = \"{prefix}\"\nwrites_per_second = 400\n"
    ));
    p
}

async fn raw_sm(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto_conf(endpoint).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_secrets_apply_then_a_second_plan_only_lists_and_drift_shows() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = secretsync_core::conformance::random_prefix("e2e").replace('_', "/");
    let p = aws_project(&ep, &prefix);
    let values: Vec<(String, String)> = (0..1000)
        .map(|i| (format!("S{i:04}"), format!("value-{i}")))
        .collect();
    common::bulk_set(&p, "production", &values);

    let out = p.ok(
        &["apply", "--env", "prod-eu", "--json", "--concurrency", "16"],
        None,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["environments"][0]["summary"]["create"], 1000);
    assert_eq!(j["ok"], true, "{}", j["environments"][0]["report"]);

    let out = p.code(
        &["plan", "--env", "prod-eu", "--json", "--detailed-exitcode"],
        None,
        0,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let env = &j["environments"][0];
    assert_eq!(env["summary"]["unchanged"], 1000);
    let calls = env["api_calls"].as_array().unwrap();
    // Only list calls (no value or metadata reads); a page moto answered with a passing 500 is
    // retried and counted under its error outcome.
    assert!(calls.iter().all(|c| c["op"] == "list"), "{calls:?}");
    let lists = common::ok_calls(&env["api_calls"], "list");
    assert_eq!(lists, 10, "1,000 secrets at 100 a page: {calls:?}");
    // The HTTP requests behind those calls, by AWS's names: one ListSecrets each, nothing else.
    let requests = env["http_requests"].as_array().unwrap();
    let list_calls: u64 = calls.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["request"], "ListSecrets");
    assert_eq!(requests[0]["count"].as_u64(), Some(list_calls));

    // An independent client: the values and ownership tags are there; an out-of-band write is drift.
    let raw = raw_sm(&ep).await;
    let name = format!("{prefix}S0042");
    let v = raw
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some("value-42"));
    let d = raw.describe_secret().secret_id(&name).send().await.unwrap();
    assert!(d
        .tags()
        .iter()
        .any(|t| t.key() == Some("managed-by") && t.value() == Some("secretsync")));
    raw.put_secret_value()
        .secret_id(&name)
        .secret_string("changed-by-hand")
        .send()
        .await
        .unwrap();
    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(
        out.contains(&format!("! {name}")) && out.contains("1 drifted"),
        "{out}"
    );
    p.code(
        &["apply", "--env", "prod-eu", "--on-drift", "revert"],
        None,
        0,
    );
    let v = raw
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(v.secret_string(), Some("value-42"));

    // Prune, capped.
    p.ok(&["delete", "S0001"], None);
    p.ok(&["delete", "S0002"], None);
    let out = p.code(
        &["apply", "--env", "prod-eu", "--prune", "--max-deletes", "1"],
        None,
        2,
    );
    assert!(out.contains("exceed --max-deletes"), "{out}");
    p.ok(&["apply", "--env", "prod-eu", "--prune"], None);
    let gone = raw
        .describe_secret()
        .secret_id(format!("{prefix}S0001"))
        .send()
        .await
        .unwrap();
    assert!(
        gone.deleted_date().is_some(),
        "pruned with AWS's recovery window"
    );
    p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        0,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_from_moto_to_a_file_backend_verifies_every_secret_and_reruns_cleanly() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = secretsync_core::conformance::random_prefix("mig").replace('_', "/");
    let raw = raw_sm(&ep).await;
    for i in 0..95 {
        raw.create_secret()
            .name(format!("{prefix}svc/key.{i:02}"))
            .secret_string(format!("v{i}"))
            .send()
            .await
            .unwrap();
    }
    raw.create_secret()
        .name(format!("{prefix}bin"))
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 1, 255,
        ]))
        .send()
        .await
        .unwrap();
    // No project: migrate needs no store or identity.
    let p = Project::empty_with(common::aws_env(&ep));
    let dest = tempfile::tempdir().unwrap();
    let to = format!("file://{}", dest.path().display());
    let from = format!("aws-sm://?region=us-east-1&endpoint={ep}");
    let args = [
        "migrate",
        "--from",
        &from,
        "--prefix-from",
        &prefix,
        "--to",
        &to,
        "--prefix-to",
        "moved/",
        "--json",
    ];

    let dry = p.ok(&[&args[..], &["--dry-run"]].concat(), None);
    let j: serde_json::Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(j["summary"]["create"], 96);
    assert!(
        !dest.path().join("secrets.json").exists(),
        "a dry run writes nothing"
    );

    let out = p.ok(&args, None);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["verified"]["equal"], 96, "{}", j["verified"]);
    let source_calls = j["api_calls"]["source"].as_array().unwrap();
    let batches = common::ok_calls(&j["api_calls"]["source"], "batch_get");
    // (A retried batch, after an emulator hiccup, counts once more under its error outcome.)
    assert_eq!(batches, 5, "96 values read 20 at a time: {source_calls:?}");
    assert!(
        !source_calls.iter().any(|c| c["op"] == "get"),
        "no single reads"
    );
    // The requests behind them, by AWS's names: the reads are BatchGetSecretValue only, one per
    // batch call; a file target sends none.
    let requests = &j["http_requests"];
    let reads: Vec<&serde_json::Value> = requests["source"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["request"] != "ListSecrets")
        .collect();
    let batch_calls: u64 = source_calls
        .iter()
        .filter(|c| c["op"] == "batch_get")
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(reads.len(), 1, "{requests}");
    assert_eq!(reads[0]["request"], "BatchGetSecretValue");
    assert_eq!(reads[0]["count"].as_u64(), Some(batch_calls), "{requests}");
    assert_eq!(requests["target"], serde_json::json!([]), "{requests}");

    let b = FileBackend::new(dest.path());
    let got = b.get("moved/svc/key.07").await.unwrap().unwrap();
    assert_eq!(got.value.expose(), b"v7");
    assert_eq!(
        b.get("moved/bin").await.unwrap().unwrap().value.expose(),
        &[0u8, 1, 255]
    );
    let meta = b.head("moved/svc/key.07").await.unwrap().unwrap();
    assert_eq!(
        meta.labels.get("managed-by").map(String::as_str),
        Some("secretsync")
    );

    let again: serde_json::Value = serde_json::from_str(&p.ok(&args, None)).unwrap();
    assert_eq!(
        again["summary"]["unchanged"], 96,
        "a rerun skips equal secrets"
    );
    assert_eq!(again["verified"]["equal"], 96);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pruned_secret_can_be_restored_and_is_then_unchanged() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = secretsync_core::conformance::random_prefix("rst").replace('_', "/");
    let p = aws_project(&ep, &prefix);
    p.set("Keep", "--type", "prod", "k");
    p.set("Gone", "--type", "prod", "g");
    p.ok(&["apply", "--env", "prod-eu"], None);
    p.ok(&["delete", "Gone"], None);
    p.ok(&["apply", "--env", "prod-eu", "--prune"], None);
    // Back in the store, the name is pending deletion in AWS: apply says so and how to fix it.
    p.set("Gone", "--type", "prod", "g");
    let out = p.code(&["apply", "--env", "prod-eu"], None, 1);
    assert!(
        out.contains("scheduled for deletion") && out.contains("secretsync restore --env ENV NAME"),
        "{out}"
    );
    let out = p.ok(&["restore", "--env", "prod-eu", "Gone"], None);
    assert!(out.contains(&format!("restored {prefix}Gone")), "{out}");
    p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        0,
    );
    let out = p.code(&["restore", "--env", "prod-eu", "Never"], None, 1);
    assert!(
        out.contains("not_found") || out.contains("NotFound") || out.contains("ResourceNotFound"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trace_logs_over_the_sdk_show_each_call_and_item_and_never_a_value() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = secretsync_core::conformance::random_prefix("log").replace('_', "/");
    let p = aws_project(&ep, &prefix);
    p.set("Token", "--type", "prod", common::CANARY);
    // Every filter a user could set, up to trace for everything: the SDK's and HTTP stack's
    // own debug and trace events (request bodies, values included) are dropped whatever it
    // says; secretsync's are kept.
    for filter in [
        "trace",
        "secretsync=trace,aws_smithy_runtime=trace,hyper=trace",
    ] {
        for args in [
            &[
                "apply",
                "--env",
                "prod-eu",
                "--log-format",
                "json",
                "--verify",
            ][..],
            &["plan", "--env", "prod-eu", "-vvv", "--verify"][..],
        ] {
            let out = p
                .cmd(args)
                .env("SECRETSYNC_LOG", filter)
                .env("RUST_LOG", "trace")
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            common::assert_no_canary(&format!("{filter}: {args:?}"), &out.stderr);
        }
    }
    p.set("Token", "--type", "prod", &format!("{}-2", common::CANARY));
    let out = p
        .cmd(&["apply", "--env", "prod-eu", "-vvv", "--log-format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    common::assert_no_canary("apply -vvv", &out.stderr);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let has = |msg: &str, f: &dyn Fn(&serde_json::Value) -> bool| {
        events.iter().any(|e| e["fields"]["message"] == msg && f(e))
    };
    // An API call, inside the item it serves, with its outcome and time.
    assert!(
        has("call", &|e| e["fields"]["op"] == "put"
            && e["fields"]["outcome"] == "ok"
            && e["fields"]["ms"].is_number()
            && e["spans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "item" && s["action"] == "Update")),
        "{events:?}"
    );
    assert!(
        has("applied", &|e| e["fields"]["done"] == 1
            && e["spans"][0]["env"] == "prod-eu"),
        "{events:?}"
    );
}

#[test]
fn no_aws_credentials_is_one_line_that_says_what_to_do() {
    // No emulator needed: the credential chain fails before any connection.
    let p = Project::init();
    p.append_config(
        "[secrets.A]\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"aws-sm://?region=eu-west-1&endpoint=http://127.0.0.1:9\"\n",
    );
    p.set("A", "--type", "prod", "v");
    let out = p.run(&["plan", "--env", "prod-eu"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: prod-eu: aws-sm: list: no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role provides them (IRSA, an ECS task role, an EC2 instance profile); to try secretsync without a cloud, use a file:// environment (unauthenticated)\n"
    );
    // -v adds what the SDK said.
    let out = p.run(&["plan", "--env", "prod-eu", "-v"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("  caused by: ") && err.contains("no credentials found in chain"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_parameter_store_works_for_apply_plan_run_migrate_and_import() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let path = format!(
        "/{}/",
        secretsync_core::conformance::random_prefix("ssm").trim_end_matches('_')
    );
    let url = format!("aws-ssm://?region=us-east-1&endpoint={ep}");
    let p = Project::init_with(common::aws_env(&ep));
    p.append_config(&format!(
        "[environments.prod-eu]\ntype = \"production\"\nbackend = \"{url}\"\nprefix = \"{path}\"\nwrites_per_second = 400\nlists_per_second = 400\n"
    ));
    let values: Vec<(String, String)> = (0..60)
        .map(|i| (format!("S{i:02}"), format!("value-{i}")))
        .collect();
    common::bulk_set(&p, "production", &values);
    p.set("Token", "--type", "prod", common::CANARY);

    let j: serde_json::Value =
        serde_json::from_str(&p.ok(&["apply", "--env", "prod-eu", "--json"], None)).unwrap();
    assert_eq!(j["environments"][0]["summary"]["create"], 61, "{j}");
    assert_eq!(j["ok"], true, "{}", j["environments"][0]["report"]);

    // A no-change plan: list pages only, no value or tag read. (61 parameters take at least
    // 2 pages of 50; AWS, like moto, may answer a filtered listing with partial pages.)
    let out = p.code(
        &["plan", "--env", "prod-eu", "--json", "--detailed-exitcode"],
        None,
        0,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let env = &j["environments"][0];
    assert_eq!(env["summary"]["unchanged"], 61, "{env}");
    let calls = env["api_calls"].as_array().unwrap();
    assert!(calls.iter().all(|c| c["op"] == "list"), "{calls:?}");
    let lists = common::ok_calls(&env["api_calls"], "list");
    assert!(lists >= 2, "{calls:?}");

    // A value changed in the store is one update; a value written by hand is drift.
    p.set("S07", "--type", "prod", "changed");
    let j: serde_json::Value =
        serde_json::from_str(&p.ok(&["apply", "--env", "prod-eu", "--json"], None)).unwrap();
    assert_eq!(j["environments"][0]["summary"]["update"], 1, "{j}");
    let raw = aws_sdk_ssm::Client::new(&moto_conf(&ep).await);
    raw.put_parameter()
        .name(format!("{path}S08"))
        .value("by hand")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(out.contains("S08") && out.contains("drift"), "{out}");

    // run: the environment's values, read from the store.
    p.ok(
        &[
            "run",
            "--env",
            "prod-eu",
            "--",
            "sh",
            "-c",
            &format!("test \"$Token\" = '{}'", common::CANARY),
        ],
        None,
    );

    // migrate out of Parameter Store (no project needed), and import from it.
    let empty = Project::empty_with(common::aws_env(&ep));
    let out = empty.ok(
        &[
            "migrate",
            "--from",
            &url,
            "--prefix-from",
            &path,
            "--to",
            "file://./copy",
            "--json",
        ],
        None,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["verified"]["equal"], 61, "{j}");
    let out = p.ok(
        &[
            "import", "--from", &url, "--prefix", &path, "--type", "dev", "--json",
        ],
        None,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["imported"].as_array().unwrap().len(), 61, "{j}");
    assert_eq!(p.get("S08", "--type", "dev"), "by hand");

    // A name the service refuses is refused before any call, with the rule and the fix.
    p.append_config(&format!(
        "[environments.bad]\ntype = \"development\"\nbackend = \"{url}\"\nprefix = \"app/\"\n"
    ));
    let out = p.code(&["plan", "--env", "bad"], None, 1);
    assert!(out.contains("start with one"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replica_regions_are_set_at_create_and_other_regions_are_drift_that_needs_a_person() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = secretsync_core::conformance::random_prefix("repl").replace('_', "/");
    let p = Project::init_with(common::aws_env(&ep));
    let url =
        |replicas: &str| format!("aws-sm://?region=us-east-1&endpoint={ep}&replicas={replicas}");
    let env = |replicas: &str| {
        format!(
            "[environments.prod-eu]\ntype = \"production\"\nbackend = \"{}\"\nprefix = \"{prefix}\"\n",
            url(replicas)
        )
    };
    p.append_config(&env("eu-west-2"));
    p.set("A", "--type", "prod", "a1");
    p.set("B", "--type", "prod", "b1");
    p.ok(&["apply", "--env", "prod-eu"], None);
    let eu = aws_sdk_secretsmanager::Client::new(
        &aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-2"))
            .endpoint_url(&ep)
            .load()
            .await,
    );
    let d = eu
        .describe_secret()
        .secret_id(format!("{prefix}A"))
        .send()
        .await
        .expect("a replica in eu-west-2");
    assert_eq!(d.primary_region(), Some("us-east-1"));

    // As asked: no change, and with replicas set the plan reads each secret's metadata (AWS
    // lists no replication), still no value.
    let out = p.code(
        &["plan", "--env", "prod-eu", "--json", "--detailed-exitcode"],
        None,
        0,
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let calls = &j["environments"][0]["api_calls"];
    assert_eq!(common::ok_calls(calls, "list"), 1, "{calls}");
    assert_eq!(common::ok_calls(calls, "head"), 2, "{calls}");
    assert_eq!(common::ok_calls(calls, "get"), 0, "{calls}");

    // The environment now asks for another region too: drift that names the fix, and apply
    // leaves it for a person (exit 2) even under --on-drift revert.
    let cfg = std::fs::read_to_string(p.path("secretsync.toml")).unwrap();
    std::fs::write(
        p.path("secretsync.toml"),
        cfg.replace(&url("eu-west-2"), &url("eu-west-2,ap-south-1")),
    )
    .unwrap();
    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(out.contains(&format!("! {prefix}A")), "{out}");
    assert!(
        out.contains("no replica in ap-south-1") && out.contains("replicate-secret-to-regions"),
        "{out}"
    );
    assert!(out.contains("2 drifted"), "{out}");
    let out = p.code(
        &["apply", "--env", "prod-eu", "--on-drift", "revert"],
        None,
        2,
    );
    assert!(out.contains("no replica in ap-south-1"), "{out}");
    // A new value is still written (replicas follow it), with the placement named beside it.
    p.set("A", "--type", "prod", "a2");
    let out = p.code(&["apply", "--env", "prod-eu", "--json"], None, 2);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let items = j["environments"][0]["plan"]["items"].as_array().unwrap();
    let a = items.iter().find(|i| i["secret"] == "A").unwrap();
    assert_eq!(a["action"], "update", "{a}");
    assert!(
        a["placement"].as_str().unwrap().contains("ap-south-1"),
        "{a}"
    );
    let v = eu
        .get_secret_value()
        .secret_id(format!("{prefix}A"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        v.secret_string(),
        Some("a2"),
        "the replica follows the new value"
    );

    // Pruning removes the replicas first, as AWS requires.
    p.ok(&["delete", "B"], None);
    std::fs::write(p.path("secretsync.toml"), cfg).unwrap();
    p.ok(&["apply", "--env", "prod-eu", "--prune"], None);
    let gone = eu
        .describe_secret()
        .secret_id(format!("{prefix}B"))
        .send()
        .await;
    assert!(gone.is_err(), "the replica went with its primary");
}
