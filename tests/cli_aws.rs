//! The CLI with AWS: a store whose data key is wrapped by a KMS key (moto) opens with no age
//! key at all. Needs the emulators; skips loudly without them, fails under CI=true.
#![cfg(feature = "aws")]

mod common;

use common::{text, Project};
use secretsync_core::conformance::emulator_endpoint;

async fn moto_kms_key() -> Option<String> {
    let ep = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT")?;
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(ep)
        .load()
        .await;
    let key = aws_sdk_kms::Client::new(&conf)
        .create_key()
        .send()
        .await
        .unwrap();
    Some(key.key_metadata().unwrap().arn().unwrap().to_string())
}

#[tokio::test]
async fn a_store_wrapped_by_kms_opens_with_the_kms_key_alone() {
    let Some(arn) = moto_kms_key().await else {
        return;
    };
    let p = Project::init();
    p.set("Token", "--type", "prod", "from-kms");
    let out = p.ok(&["key", "add", &format!("aws-kms:{arn}")], None);
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
    p.ok(&["key", "remove", &age], None);
    std::fs::remove_file(p.identity_file()).unwrap();

    assert_eq!(p.get("Token", "--type", "prod"), "from-kms");
    p.set("Token", "--type", "dev", "written-under-kms");
    p.ok(&["key", "rotate"], None);
    assert_eq!(p.get("Token", "--type", "dev"), "written-under-kms");
    let raw = std::fs::read_to_string(p.path("secrets.enc.toml")).unwrap();
    assert!(
        raw.contains(&format!("[recipients.\"aws-kms:{arn}\"]")),
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
    assert!(text(&out).contains("Decrypt failed"), "{}", text(&out));
}

#[tokio::test]
async fn an_unknown_kms_key_is_a_clear_error() {
    let Some(_) = moto_kms_key().await else {
        return;
    };
    let p = Project::init();
    let out = p.code(
        &[
            "key",
            "add",
            "aws-kms:arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
        ],
        None,
        1,
    );
    assert!(out.contains("KMS Encrypt failed"), "{out}");
}
