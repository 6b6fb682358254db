//! Scopes, as the README's table says: the creator opens every scope, a developer (age key,
//! `development` only) sets production values but never reads them, and CI (a KMS key on moto,
//! `production` only) applies production and cannot read development. Every cell of the table
//! is exercised here by exit code, and the developer's every output is searched for the
//! production canary.

use crate::common::{self, assert_no_canary, Project, CANARY};
use std::process::Output;

/// One person: the project's folder and emulator, their own identity folder and credentials.
struct Person<'a> {
    p: &'a Project,
    home: tempfile::TempDir,
    cloud: bool,
}

impl Person<'_> {
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut c = self.p.cmd(args);
        let h = self.home.path().display().to_string();
        c.env("XDG_CONFIG_HOME", &h)
            .env("XDG_DATA_HOME", format!("{h}/data"))
            .write_stdin(stdin.as_bytes().to_vec());
        if !self.cloud {
            // A developer has no cloud role that may use CI's KMS key.
            c.env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY");
        }
        c.output().unwrap()
    }

    /// Runs, expects `code`, returns stdout + stderr.
    fn expect(&self, args: &[&str], stdin: &str, code: i32) -> String {
        let out = self.run(args, stdin);
        let text = common::text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
        text
    }
}

fn public_key(home: &std::path::Path) -> String {
    std::fs::read_to_string(home.join("secretsync/identity.txt"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn who_can_do_what_per_scope_is_what_the_readme_says() {
    let Some((arn, ep)) = crate::cli_aws::moto_kms_key().await else {
        return;
    };
    let creator = Project::init_with(common::aws_env(&ep));
    creator.append_config(
        "[secrets.Key]\n\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"file://./replica-prod\"\nprefix = \"app/\"\n\n[environments.staging]\ntype = \"development\"\nbackend = \"file://./replica-staging\"\nprefix = \"app/\"\n",
    );
    let dev = Person {
        p: &creator,
        home: tempfile::tempdir().unwrap(),
        cloud: false,
    };
    let ci = Person {
        p: &creator,
        home: tempfile::tempdir().unwrap(),
        cloud: true,
    };
    // The developer makes a key; the creator lets it into development, and CI's KMS key into
    // production.
    dev.expect(&["init"], "", 0);
    let dev_key = public_key(dev.home.path());
    creator.ok(&["key", "add", &dev_key, "--scope", "development"], None);
    creator.ok(
        &[
            "key",
            "add",
            &format!("aws-kms:{arn}"),
            "--scope",
            "production",
        ],
        None,
    );
    let keys: serde_json::Value =
        serde_json::from_str(&creator.ok(&["key", "list", "--json"], None)).unwrap();
    let scopes_of = |id: &str| {
        keys["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"].as_str().unwrap().contains(id))
            .unwrap()["scopes"]
            .clone()
    };
    assert_eq!(scopes_of(&dev_key), serde_json::json!(["development"]));
    assert_eq!(scopes_of(&arn), serde_json::json!(["production"]));

    // Developer, production: set only.
    let mut seen = Vec::new();
    let mut dev_ok = |args: &[&str], stdin: &str, code: i32| {
        let out = dev.expect(args, stdin, code);
        assert_no_canary(&format!("developer's {args:?}"), out.as_bytes());
        seen.push(out);
    };
    dev_ok(
        &["set", "Key", "--type", "prod", "--from-file", "-"],
        CANARY,
        0,
    );
    dev_ok(
        &["set", "Key", "--env", "prod-eu", "--from-file", "-"],
        &format!("{CANARY}-eu"),
        0,
    );
    dev_ok(
        &["set", "Key", "--type", "dev,local", "--from-file", "-"],
        "dev-value",
        0,
    );
    for args in [
        &["get", "Key", "--type", "prod"][..],
        &["get", "Key", "--env", "prod-eu"],
        &["get", "Key", "--env", "prod-eu", "--json"],
        &["run", "--env", "prod-eu", "--", "printenv", "Key"],
        &["export", "--env", "prod-eu", "--format", "dotenv"],
        &["export", "--env", "production", "--format", "json"],
        &["plan", "--env", "prod-eu"],
        &["apply", "--env", "prod-eu"],
        &["plan", "--all", "--verify"],
        &["key", "rotate"],
        &["key", "rotate", "--scope", "production"],
        &["key", "add", &dev_key, "--scope", "production"],
    ] {
        let out = dev.expect(args, "", 1);
        // Refused for the right reason.
        assert!(out.contains("scope production"), "{args:?}: {out}");
        dev_ok(args, "", 1);
    }
    let refused = dev.expect(&["get", "Key", "--type", "prod"], "", 1);
    assert!(
        refused.contains("you cannot open scope production")
            && refused.contains(&format!("aws-kms:{arn}")),
        "{refused}"
    );
    // Names and status only.
    dev_ok(&["list"], "", 0);
    dev_ok(&["list", "--json"], "", 0);
    dev_ok(&["check", "--env", "prod-eu"], "", 0);
    dev_ok(&["history", "Key", "--type", "prod"], "", 0);
    dev_ok(&["history", "Key", "--env", "prod-eu", "--json"], "", 0);
    // Developer, development: everything.
    assert_eq!(
        dev.expect(&["get", "Key", "--type", "dev"], "", 0),
        "dev-value"
    );
    dev_ok(&["run", "--env", "local", "--", "printenv", "Key"], "", 0);
    dev_ok(&["pull"], "", 0);
    dev_ok(&["export", "--env", "staging", "--format", "dotenv"], "", 0);
    dev_ok(&["apply", "--env", "staging"], "", 0);
    dev_ok(&["key", "rotate", "--scope", "development"], "", 0);
    assert!(seen.iter().any(|o| o.contains("dev-value")));

    // CI, production: the value the developer set lands in the backend.
    let out = ci.expect(&["apply", "--env", "prod-eu"], "", 0);
    assert!(out.contains("+ app/Key  done"), "{out}");
    let landed = {
        use secretsync_core::SecretBackend;
        let b = secretsync_core::file::FileBackend::new(creator.path("replica-prod"));
        b.get("app/Key").await.unwrap().unwrap()
    };
    assert_eq!(
        landed.value.expose(),
        format!("{CANARY}-eu").as_bytes(),
        "the override landed"
    );
    assert_eq!(ci.expect(&["get", "Key", "--type", "prod"], "", 0), CANARY);
    ci.expect(&["run", "--env", "prod-eu", "--", "true"], "", 0);
    ci.expect(&["plan", "--env", "prod-eu", "--detailed-exitcode"], "", 0);
    // CI, development: set only.
    ci.expect(
        &["set", "Key", "--type", "preview", "--from-file", "-"],
        "pr-value",
        0,
    );
    for args in [
        &["get", "Key", "--type", "dev"][..],
        &["run", "--env", "local", "--", "true"],
        &["apply", "--env", "staging"],
    ] {
        let out = ci.expect(args, "", 1);
        assert!(out.contains("scope development"), "{args:?}: {out}");
    }

    // The creator reads and applies both.
    assert_eq!(creator.get("Key", "--type", "prod"), CANARY);
    assert_eq!(creator.get("Key", "--type", "preview"), "pr-value");
    assert_eq!(creator.get("Key", "--type", "local"), "dev-value");
    creator.ok(&["apply", "--env", "staging"], None);
    creator.ok(&["apply", "--env", "prod-eu"], None);
    // The store file itself holds no readable value.
    assert_no_canary(
        "store",
        &std::fs::read(creator.path("secrets.enc.toml")).unwrap(),
    );
}

#[test]
fn changing_the_scopes_in_the_config_takes_an_upgrade_that_keeps_every_value() {
    let p = Project::init();
    p.set("A", "--type", "prod,dev,preview", "shared");
    p.set("A", "--type", "local", "mine");
    assert!(p.ok(&["upgrade"], None).contains("already in format 2"));
    // Preview on its own.
    let cfg = std::fs::read_to_string(p.path("secretsync.toml")).unwrap();
    let edited = cfg.replace(
        "development = [\"development\", \"preview\", \"local\"]",
        "development = [\"development\", \"local\"]\npreview = [\"preview\"]",
    );
    assert_ne!(cfg, edited);
    std::fs::write(p.path("secretsync.toml"), edited).unwrap();
    let out = p.code(&["get", "A", "--type", "prod"], None, 1);
    assert!(out.contains("secretsync upgrade"), "{out}");
    let out = p.ok(&["upgrade"], None);
    assert!(out.contains("development, preview, production"), "{out}");
    for (t, v) in [
        ("prod", "shared"),
        ("dev", "shared"),
        ("preview", "shared"),
        ("local", "mine"),
    ] {
        assert_eq!(p.get("A", "--type", t), v);
    }
    let keys: serde_json::Value =
        serde_json::from_str(&p.ok(&["key", "list", "--json"], None)).unwrap();
    assert_eq!(keys["scopes"].as_array().unwrap().len(), 3);
    // A gap in the scopes is refused with the line.
    let cfg = std::fs::read_to_string(p.path("secretsync.toml")).unwrap();
    std::fs::write(
        p.path("secretsync.toml"),
        cfg.replace("preview = [\"preview\"]\n", ""),
    )
    .unwrap();
    let out = p.code(&["list"], None, 1);
    assert!(
        out.contains("[scopes]: type preview is in no scope"),
        "{out}"
    );
}

/// A format-1 store (one data key for everything, as written before scopes) holding `K` for
/// production, wrapped for `recipient`.
fn write_v1_store(path: &std::path::Path, recipient: &str) {
    use secretsync::store::age_key::AgeRecipient;
    use secretsync::store::crypto;
    use secretsync_core::Recipient;
    let id = crypto::random_hex(16);
    let key = crypto::new_data_key();
    let fp = crypto::new_data_key();
    let r: AgeRecipient = recipient.parse().unwrap();
    let wrapped = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(r.wrap(&key, &id))
        .unwrap();
    let sealed = |sel: &str, v: &str| {
        crypto::seal(&key, &crypto::value_aad(&id, "K", sel, 1), v.as_bytes()).unwrap()
    };
    let text = format!(
        "[secretsync]\nformat = 1\nstore_id = \"{id}\"\ncipher = \"xchacha20poly1305\"\nkey_id = \"{}\"\nfingerprint_key = \"{}\"\n\n[recipients.\"{recipient}\"]\nadded = \"2026-01-01T00:00:00Z\"\nwrapped = \"{wrapped}\"\n\n[secrets.K.values.production]\nversion = 1\nupdated = \"2026-01-01T00:00:00Z\"\nsealed = \"{}\"\n\n[secrets.K.values.\"development,preview,local\"]\nversion = 1\nupdated = \"2026-01-01T00:00:00Z\"\nsealed = \"{}\"\n",
        crypto::key_id(&key),
        crypto::seal(&key, &crypto::fingerprint_key_aad(&id), fp.expose()).unwrap(),
        sealed("production", "old-prod"),
        sealed("development,preview,local", "old-dev"),
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_format_1_store_opens_as_before_and_its_first_write_upgrades_it() {
    let p = Project::init();
    let me = public_key(p.identity_file().parent().unwrap().parent().unwrap());
    write_v1_store(&p.path("secrets.enc.toml"), &me);
    assert_eq!(p.get("K", "--type", "prod"), "old-prod");
    assert_eq!(p.get("K", "--type", "local"), "old-dev");
    let out = p.ok(&["key", "list"], None);
    assert!(
        out.contains("format 1") && out.contains("secretsync upgrade"),
        "{out}"
    );
    // The first write upgrades it, and says so.
    let out = p.run(
        &["set", "K", "--type", "dev", "--from-file", "-"],
        Some(b"new-dev"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("upgraded to store format 2 with scopes development, production"),
        "{err}"
    );
    let raw = std::fs::read_to_string(p.path("secrets.enc.toml")).unwrap();
    assert!(
        raw.contains("format = 2") && raw.contains("[scopes.production"),
        "{raw}"
    );
    assert_eq!(p.get("K", "--type", "prod"), "old-prod");
    assert_eq!(p.get("K", "--type", "dev"), "new-dev");
    assert_eq!(p.get("K", "--type", "local"), "old-dev");
    // `upgrade` on a format-1 store does the same without a change of values.
    write_v1_store(&p.path("secrets.enc.toml"), &me);
    let out = p.ok(&["upgrade", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["from_format"], 1);
    assert_eq!(v["changed"], true);
    assert_eq!(p.get("K", "--type", "prod"), "old-prod");
}
