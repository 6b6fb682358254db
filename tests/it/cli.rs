//! End-to-end tests of the `secretsync` binary: what a user types, what they see, exit codes,
//! and that a secret value never leaks into any output but `get`'s.

use crate::common;

use common::{copy_dir, text, Project, CANARY};
use serde_json::Value;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

const DECLARE: &str = r#"
[secrets.DatabaseURL]
description = "pg"
[secrets.Token]
[environments.prod-eu]
type = "production"
backend = "file://./replica"
"#;

#[test]
fn init_creates_config_identity_and_store_once() {
    let p = Project::empty();
    let out = p.ok(&["init", "--app", "demo"], None);
    assert!(out.contains("created secretsync.toml"), "{out}");
    assert!(out.contains("created identity"), "{out}");
    let id = p.identity_file();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&id).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "identity file must be private");
    }
    assert!(std::fs::read_to_string(p.path(".gitignore"))
        .unwrap()
        .contains(".secrets.enc.toml.lock"));
    let again = json(&p.ok(&["init", "--json"], None));
    assert_eq!(again["store_created"], false);
    assert_eq!(again["identity_created"], false);
    assert!(again["recipient"].as_str().unwrap().starts_with("age1"));
}

#[test]
fn set_get_by_type_and_env_with_override_precedence() {
    let p = Project::init();
    p.append_config(DECLARE);
    p.set("DatabaseURL", "--type", "prod", "prod-url\n");
    p.set("DatabaseURL", "--type", "dev,pr,local", "dev-url");
    p.set("DatabaseURL", "--env", "prod-eu", "eu-url");
    assert_eq!(p.get("DatabaseURL", "--env", "prod-eu"), "eu-url");
    assert_eq!(
        p.get("DatabaseURL", "--type", "production"),
        "prod-url",
        "one trailing newline from stdin is dropped"
    );
    assert_eq!(p.get("DatabaseURL", "--env", "local"), "dev-url");
    assert_eq!(p.get("DatabaseURL", "--env", "pr"), "dev-url");
    // --from-file keeps exact bytes, binary included.
    let bin: Vec<u8> = vec![0, 159, 146, 150, 10];
    std::fs::write(p.path("bin"), &bin).unwrap();
    p.ok(
        &["set", "Token", "--type", "local", "--from-file", "bin"],
        None,
    );
    assert_eq!(
        p.cmd(&["get", "Token", "--type", "local"])
            .output()
            .unwrap()
            .stdout,
        bin
    );
    let j = json(&p.ok(&["get", "Token", "--type", "local", "--json"], None));
    assert_eq!(j["value_base64"], "AJ+Slgo=");
}

#[test]
fn setting_one_type_of_a_shared_value_splits_it_off_and_says_so() {
    let p = Project::init();
    p.set("Token", "--type", "dev,preview,local", "shared");
    let out = p.set("Token", "--type", "local", "mine");
    assert!(
        out.contains("split") && out.contains("development,preview"),
        "{out}"
    );
    assert_eq!(p.get("Token", "--type", "local"), "mine");
    assert_eq!(p.get("Token", "--type", "preview"), "shared");
    let j = json(&p.ok(&["set", "Token", "--type", "dev", "--json"], Some(b"d2")));
    assert_eq!(j["split"][0]["from"], "development,preview");
    assert_eq!(j["split"][0]["to"], "preview");
}

#[test]
fn list_shows_set_and_missing_never_values() {
    let p = Project::init();
    p.append_config(DECLARE);
    p.set("DatabaseURL", "--type", "prod", CANARY);
    p.set("DatabaseURL", "--env", "prod-eu", CANARY);
    p.set("Extra", "--type", "local", CANARY);
    let out = p.ok(&["list"], None);
    assert!(
        out.contains("DatabaseURL") && out.contains("missing") && out.contains("override v1"),
        "{out}"
    );
    assert!(out.contains("Extra (undeclared)"), "{out}");
    let j = json(&p.ok(&["list", "--json"], None));
    let db = &j["secrets"][0];
    assert_eq!(db["name"], "DatabaseURL");
    assert_eq!(db["environments"]["production"]["source"], "set");
    assert_eq!(db["environments"]["prod-eu"]["source"], "override");
    assert_eq!(db["environments"]["local"]["source"], "missing");
    assert_eq!(j["secrets"][2]["name"], "Token");
    assert_eq!(j["secrets"][2]["declared"], true);
}

#[test]
fn check_exits_2_listing_missing_then_0_when_complete() {
    let p = Project::init();
    p.append_config(DECLARE);
    p.set("DatabaseURL", "--type", "prod,dev,pr,local", "x");
    let out = p.code(&["check", "--env", "prod-eu"], None, 2);
    assert!(out.contains("MISSING prod-eu (production): Token"), "{out}");
    let j: Value = serde_json::from_slice(&p.run(&["check", "--json"], None).stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(
        j["environments"].as_array().unwrap().len(),
        5,
        "four types and prod-eu by default"
    );
    assert_eq!(j["environments"][4]["missing"][0], "Token");
    // An override satisfies its environment but not its type.
    p.set("Token", "--env", "prod-eu", "t");
    p.code(&["check", "--env", "prod-eu"], None, 0);
    let out = p.code(&["check", "--type", "production"], None, 2);
    assert!(out.contains("MISSING production: Token"), "{out}");
    p.set("Token", "--type", "prod,dev,pr,local", "t");
    let out = p.code(&["check"], None, 0);
    assert!(
        out.contains("ok      prod-eu (production): all 2 declared secrets set"),
        "{out}"
    );
}

#[test]
fn declared_secrets_come_from_go_sources() {
    let p = Project::init();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go"),
        p.dir.path(),
    );
    std::fs::remove_dir_all(p.path("badtype")).unwrap();
    p.append_config("[go]\nroots = [\".\"]\n");
    let j: Value =
        serde_json::from_slice(&p.run(&["check", "--type", "local", "--json"], None).stdout)
            .unwrap();
    let missing: Vec<&str> = j["environments"][0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // vendor/ and _test.go files under the root are skipped.
    assert_eq!(missing, ["GitHubAPIToken", "SessionKey", "StripeKey"]);
    let list = json(&p.ok(&["list", "--json"], None));
    assert_eq!(list["secrets"][1]["description"], "signs session cookies");
    assert_eq!(list["secrets"][2]["description"], "Stripe API key");
}

#[test]
fn declared_secrets_come_from_an_encore_ts_app() {
    let p = Project::init();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/encore-ts"),
        p.dir.path(),
    );
    std::fs::remove_dir_all(p.path("badname")).unwrap();
    p.append_config("[typescript]\nroots = [\".\"]\n");
    let out = p.code(&["check", "--type", "local"], None, 2);
    // node_modules/, encore.gen/, __tests__/ and *.test.ts are skipped; comments, strings
    // and regular expressions are not calls.
    let j: Value =
        serde_json::from_slice(&p.run(&["check", "--type", "local", "--json"], None).stdout)
            .unwrap();
    let missing: Vec<&str> = j["environments"][0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        missing,
        ["GitHubAPIToken", "SessionKey", "StripeKey"],
        "{out}"
    );
    let list = json(&p.ok(&["list", "--json"], None));
    let by_name = |n: &str| {
        list["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("{n}: {list}"))
            .clone()
    };
    assert_eq!(
        by_name("SessionKey")["description"],
        "signs session cookies"
    );
    assert_eq!(
        by_name("StripeKey")["description"],
        "Stripe's secret API key, for charges."
    );
    for n in ["GitHubAPIToken", "SessionKey", "StripeKey"] {
        p.set(n, "--type", "local", "v");
    }
    p.code(&["check", "--type", "local"], None, 0);
}

#[test]
fn a_computed_encore_ts_secret_name_is_an_error_naming_file_and_line() {
    let p = Project::init();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/encore-ts"),
        p.dir.path(),
    );
    p.append_config("[typescript]\nroots = [\"badname\"]\n");
    let out = p.code(&["check"], None, 1);
    assert!(
        out.contains("badname/bad.ts:4") && out.contains("string literal"),
        "{out}"
    );
}

#[test]
fn a_non_string_go_field_is_an_error_naming_file_and_line() {
    let p = Project::init();
    copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go"),
        p.dir.path(),
    );
    p.append_config("[go]\nroots = [\"badtype\"]\n");
    let out = p.code(&["check"], None, 1);
    assert!(
        out.contains("badtype/secrets.go:5")
            && out.contains("Port")
            && out.contains("must be `string`"),
        "{out}"
    );
}

#[test]
fn history_and_rollback() {
    let p = Project::init();
    for v in ["one", "two", "three"] {
        p.set("Token", "--type", "prod", v);
    }
    let h = json(&p.ok(&["history", "Token", "--type", "prod", "--json"], None));
    assert_eq!(h["versions"].as_array().unwrap().len(), 3);
    assert_eq!(h["versions"][0]["version"], 3);
    assert!(h["versions"][0]["replaced"].is_null());
    let out = p.ok(&["rollback", "Token", "--type", "prod"], None);
    assert!(
        out.contains("version 2") && out.contains("now version 4"),
        "{out}"
    );
    assert_eq!(p.get("Token", "--type", "prod"), "two");
    p.ok(&["rollback", "Token", "--type", "prod", "--to", "1"], None);
    assert_eq!(p.get("Token", "--type", "prod"), "one");
    let out = p.code(
        &["rollback", "Token", "--type", "prod", "--to", "99"],
        None,
        1,
    );
    assert!(
        out.contains("version 99") && out.contains("kept earlier versions"),
        "{out}"
    );
}

#[test]
fn delete_a_type_an_override_and_a_secret() {
    let p = Project::init();
    p.append_config(DECLARE);
    p.set("Token", "--type", "dev,preview", "d");
    p.set("Token", "--env", "prod-eu", "eu");
    p.ok(&["delete", "Token", "--type", "preview"], None);
    p.code(&["get", "Token", "--type", "preview"], None, 1);
    assert_eq!(p.get("Token", "--type", "dev"), "d");
    p.ok(&["delete", "Token", "--env", "prod-eu"], None);
    p.ok(&["delete", "Token"], None);
    let out = p.code(&["get", "Token", "--type", "dev"], None, 1);
    assert!(out.contains("Token has no value"), "{out}");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_1_without_writing() {
    let p = Project::init();
    p.append_config(DECLARE);
    let store_before = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    let cases: &[(&[&str], &[u8], &str)] = &[
        (
            &["set", "bad-name", "--type", "dev"],
            b"v",
            "invalid secret name",
        ),
        (
            &["set", "Token", "--type", "prodution"],
            b"v",
            "unknown environment type",
        ),
        (
            &["set", "Token", "--env", "staging"],
            b"v",
            "unknown environment \"staging\"",
        ),
        (
            &["set", "Token", "--type", "dev"],
            b"",
            "no value: stdin is not a terminal and gave nothing",
        ),
        (
            &["set", "Token", "--type", "dev", "--from-file", "-"],
            b"",
            "the value of Token is empty",
        ),
        (&["set", "Token"], b"v", "--type"),
        (
            &["set", "Token", "--type", "dev", "--env", "local"],
            b"v",
            "cannot be used with",
        ),
        (&["get", "Nope", "--type", "dev"], b"", "Nope has no value"),
        (&["delete", "Nope"], b"", "Nope has no value"),
        (&["key", "add", "not-a-key"], b"", "unknown recipient"),
        (
            &["key", "add", "age1notvalid"],
            b"",
            "not an age X25519 public key",
        ),
    ];
    for (args, stdin, want) in cases {
        let out = p.run(args, Some(stdin));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {t}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(t.contains(want), "{args:?}: want {want:?} in {t}");
        assert!(!t.contains("panicked"), "{args:?}: {t}");
    }
    let big = vec![b'x'; 64 * 1024 + 1];
    let out = p.code(&["set", "Token", "--type", "dev"], Some(&big), 1);
    assert!(out.contains("64 KiB"), "{out}");
    assert_eq!(
        store_before,
        std::fs::read(p.path("secrets.enc.toml")).unwrap(),
        "nothing was written"
    );

    std::fs::write(
        p.path("secretsync.toml"),
        "app = \"x\"\n[environments.e]\ntype = \"production\"\nbakend = \"x\"\n",
    )
    .unwrap();
    let out = p.code(&["list"], None, 1);
    assert!(
        out.contains("secretsync.toml") && out.contains("line 4") && out.contains("unknown field"),
        "{out}"
    );

    let q = Project::empty();
    let out = q.code(&["list"], None, 1);
    assert!(
        out.contains("no secretsync.toml") && out.contains("secretsync init"),
        "{out}"
    );
}

#[test]
fn a_stranger_cannot_open_the_store_until_added_and_not_after_removal() {
    let alice = Project::init();
    alice.set("Token", "--type", "prod", "t");
    // Bob: same project folder, his own identity.
    let bob_home = tempfile::tempdir().unwrap();
    let bob = |args: &[&str]| {
        let mut c = alice.cmd(args);
        c.env("XDG_CONFIG_HOME", bob_home.path());
        c.output().unwrap()
    };
    let out = bob(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("your identity cannot open this store yet"),
        "{}",
        text(&out)
    );
    let bob_key = std::fs::read_to_string(bob_home.path().join("secretsync/identity.txt")).unwrap();
    let bob_pub = bob_key
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    let out = bob(&["get", "Token", "--type", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("you cannot open scope production")
            && text(&out).contains(&format!("your identities: {bob_pub}\n"))
            && text(&out).contains(&format!(
                "run `secretsync key add {bob_pub} --scope production`"
            )),
        "{}",
        text(&out)
    );
    // With no identity at all: where it looked, and what to do, without suggesting a new key
    // can open this store.
    let nobody = tempfile::tempdir().unwrap();
    let mut c = alice.cmd(&["get", "Token", "--type", "prod"]);
    c.env("XDG_CONFIG_HOME", nobody.path());
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: you have no identity that can open scope production")
            && err.contains("looked in $SECRETSYNC_AGE_IDENTITY and ")
            && err.contains("prints its public key for someone who can open the store"),
        "{err}"
    );

    // With several scopes, `key add` must be told which.
    let out = alice.code(&["key", "add", &bob_pub], None, 1);
    assert!(out.contains("--scope development"), "{out}");
    alice.ok(&["key", "add", &bob_pub, "--scope", "production"], None);
    assert_eq!(bob(&["get", "Token", "--type", "prod"]).stdout, b"t");
    let keys = json(&alice.ok(&["key", "list", "--json"], None));
    assert_eq!(keys["recipients"].as_array().unwrap().len(), 2);
    assert_eq!(
        keys["recipients"][0]["scopes"].as_array().unwrap().len()
            + keys["recipients"][1]["scopes"].as_array().unwrap().len(),
        3
    );

    let out = alice.ok(&["key", "remove", &bob_pub], None);
    assert!(
        out.contains("key rotate") && out.contains("from scope production"),
        "{out}"
    );
    assert_eq!(
        bob(&["get", "Token", "--type", "prod"]).status.code(),
        Some(1)
    );
    let out = alice.ok(&["key", "rotate"], None);
    assert!(
        out.contains("rotated the key of scopes development, production: re-sealed 1 value for 2 recipients\n"),
        "{out}"
    );
    assert_eq!(alice.get("Token", "--type", "prod"), "t");

    // CI style: the key itself in SECRETSYNC_AGE_IDENTITY.
    let alice_key = std::fs::read_to_string(alice.identity_file()).unwrap();
    let mut c = alice.cmd(&["get", "Token", "--type", "prod"]);
    c.env("XDG_CONFIG_HOME", bob_home.path())
        .env("SECRETSYNC_AGE_IDENTITY", alice_key);
    assert_eq!(c.output().unwrap().stdout, b"t");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let p = Project::init();
    let children: Vec<_> = (0..12)
        .map(|i| {
            let name = format!("S{i}");
            let mut c = p.std_cmd(&["set", &name, "--type", "dev", "--from-file", "-"]);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let mut child = common::spawn(&mut c);
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("v{i}").as_bytes())
                .unwrap();
            child
        })
        .collect();
    for mut c in children {
        let status = c.wait_for(std::time::Duration::from_secs(120));
        assert_eq!(status.code(), Some(0));
    }
    for i in 0..12 {
        assert_eq!(p.get(&format!("S{i}"), "--type", "dev"), format!("v{i}"));
    }
}

#[test]
fn quickstart_runs_the_main_job_on_the_embedded_defaults() {
    let p = Project::empty();
    let out = p.ok(&["quickstart"], None);
    assert!(
        out.contains("MISSING prod-eu (production): GitHubAPIToken, StripeKey"),
        "{out}"
    );
    assert!(
        out.contains("(exit code 2)") && out.contains("(exit code 0)"),
        "{out}"
    );
    assert!(out.contains("postgres://db.eu.internal/billing"), "{out}");
    assert!(
        !p.identity_file().exists(),
        "quickstart must not create the user's identity"
    );
}

#[test]
fn the_example_app_config_is_valid_and_declares_four_secrets() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/billing");
    let cfg = secretsync::config::Config::load(&dir.join("secretsync.toml")).unwrap();
    let declared = secretsync::declare::declared(&cfg).unwrap();
    let names: Vec<String> = declared.iter().map(|d| d.name.to_string()).collect();
    assert_eq!(
        names,
        [
            "DatabaseURL",
            "GitHubAPIToken",
            "StripeKey",
            "WebhookSigningKey"
        ]
    );
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let p = Project::empty();
    let out = p.code(&["set"], None, 1);
    assert!(out.contains("required"), "{out}");
    p.code(&["no-such-command"], None, 1);
    let help = p.ok(&["--help"], None);
    assert!(help.contains("Usage: secretsync"), "{help}");
    assert!(p.ok(&["--version"], None).starts_with("secretsync "));
}

#[test]
fn init_uses_the_key_in_the_environment_and_creates_no_file() {
    let alice = Project::init();
    let key = std::fs::read_to_string(alice.identity_file()).unwrap();
    let ci = Project::empty();
    let out = ci
        .cmd(&["init", "--json"])
        .env("SECRETSYNC_AGE_IDENTITY", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let j = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(j["identity"], "$SECRETSYNC_AGE_IDENTITY");
    assert_eq!(j["identity_created"], false);
    assert!(
        key.contains(j["recipient"].as_str().unwrap()),
        "the store is opened by that key"
    );
    assert!(!ci.identity_file().exists(), "no identity file is written");
}

#[test]
fn a_writer_blocked_by_another_fails_clearly_and_writes_nothing() {
    let p = Project::init();
    p.set("A", "--type", "dev", "before");
    let store = p.path("secrets.enc.toml");
    let before = std::fs::read(&store).unwrap();
    let held = secretsync_core::fsio::lock(&store).unwrap();
    let out = p
        .cmd(&["set", "A", "--type", "dev"])
        .env("SECRETSYNC_LOCK_TIMEOUT", "0.3")
        .write_stdin("after")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("another secretsync process is writing this store"),
        "{}",
        text(&out)
    );
    assert_eq!(before, std::fs::read(&store).unwrap());
    drop(held);
    p.set("A", "--type", "dev", "after");
    assert_eq!(p.get("A", "--type", "dev"), "after");
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    // Regression: `secretsync list | head -1` panicked with "failed printing to stdout".
    let p = Project::init();
    let values: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("SECRET_{i:05}"), "v".repeat(8)))
        .collect();
    common::bulk_set(&p, "production", &values);
    for args in [&["list"][..], &["list", "--json"][..]] {
        let mut child = common::spawn(
            p.std_cmd(args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        );
        // Read one line, then close the pipe: the output is far larger than a pipe's buffer.
        let mut first = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut first,
        )
        .unwrap();
        assert!(!first.is_empty());
        let status = child.wait_for(std::time::Duration::from_secs(60));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

#[test]
fn bad_durations_are_clear_errors_never_panics() {
    let p = Project::init();
    for bad in ["-1", "NaN", "inf", "1e400", "99999999999999999999h"] {
        let out = p
            .cmd(&["set", "A", "--type", "prod"])
            .env("SECRETSYNC_LOCK_TIMEOUT", bad)
            .write_stdin("v")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.starts_with("error: SECRETSYNC_LOCK_TIMEOUT"),
            "{bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    for bad in ["99999999999999999999h", "0.0000000001ms", "-5s", "NaN"] {
        let every = format!("--every={bad}");
        let out = p.run(&["reconcile", "--once", &every], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains("--every") && !err.contains("panicked"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_config_is_found_in_a_parent_folder_or_named_by_flag_or_variable() {
    let p = Project::init();
    p.set("Token", "--type", "dev", "t");
    std::fs::create_dir_all(p.path("svc/deep")).unwrap();
    // From a subfolder: the nearest parent's secretsync.toml.
    let mut c = p.cmd(&["get", "Token", "--type", "dev"]);
    c.current_dir(p.path("svc/deep"));
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(out.stdout, b"t");
    // From elsewhere: --config, or SECRETSYNC_CONFIG.
    let elsewhere = tempfile::tempdir().unwrap();
    let cfg = p.path("secretsync.toml").display().to_string();
    let mut c = p.cmd(&["--config", &cfg, "get", "Token", "--type", "dev"]);
    c.current_dir(elsewhere.path());
    assert_eq!(c.output().unwrap().stdout, b"t");
    let mut c = p.cmd(&["get", "Token", "--type", "dev"]);
    c.current_dir(elsewhere.path())
        .env("SECRETSYNC_CONFIG", &cfg);
    assert_eq!(c.output().unwrap().stdout, b"t");
    // And nowhere: a clear error.
    let mut c = p.cmd(&["get", "Token", "--type", "dev"]);
    c.current_dir(elsewhere.path());
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: no secretsync.toml"));
}

#[test]
fn quickstart_dir_builds_the_tour_where_asked() {
    let p = Project::empty();
    p.ok(&["quickstart", "--dir", "tour"], None);
    for f in ["secretsync.toml", "secrets.enc.toml"] {
        assert!(p.path("tour").join(f).is_file(), "{f} missing");
    }
    assert!(!p.path("secretsync.toml").exists(), "nothing outside --dir");
}

#[test]
fn init_inside_an_app_refuses_without_force() {
    let p = Project::init();
    std::fs::create_dir_all(p.path("svc")).unwrap();
    let mut c = p.cmd(&["init"]);
    c.current_dir(p.path("svc"));
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "error: {} is inside the app configured by {}: run secretsync from anywhere in that app instead (it finds the config in a parent folder), or pass --force to start a separate app here\n",
        p.path("svc").display(),
        p.path("secretsync.toml").display()
    );
    assert_eq!(err, want);
    assert!(!p.path("svc/secretsync.toml").exists(), "nothing written");
    let mut c = p.cmd(&["init", "--force"]);
    c.current_dir(p.path("svc"));
    assert_eq!(c.output().unwrap().status.code(), Some(0));
    assert!(p.path("svc/secretsync.toml").exists());
}

#[test]
fn removing_your_own_key_needs_force() {
    let p = Project::init();
    let other = Project::init();
    let public = |p: &Project| {
        std::fs::read_to_string(p.identity_file())
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
            .unwrap()
    };
    let (mine, theirs) = (public(&p), public(&other));
    p.ok(&["key", "add", &theirs, "--scope", "all"], None);
    let out = p.run(&["key", "remove", &mine], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("error: {mine} is your own key: without it you cannot open those scopes any more (another recipient would have to add you again). Pass --force if that is what you want\n")
    );
    assert_eq!(
        json(&p.ok(&["key", "list", "--json"], None))["recipients"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    p.ok(&["key", "remove", &mine, "--force"], None);
    let out = p.run(&["list"], None);
    assert_eq!(out.status.code(), Some(0), "list needs no key");
}

#[test]
fn a_one_line_file_ending_in_a_newline_gets_a_note() {
    let p = Project::init();
    std::fs::write(p.path("url.txt"), "postgres://db/app\n").unwrap();
    std::fs::write(
        p.path("cert.pem"),
        "-----BEGIN X-----\nMIIB\n-----END X-----\n",
    )
    .unwrap();
    let out = p.run(
        &["set", "Url", "--type", "dev", "--from-file", "url.txt"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: url.txt ends in a newline, which is kept as part of the value"),
        "{err}"
    );
    assert_eq!(
        p.get("Url", "--type", "dev"),
        "postgres://db/app\n",
        "kept, as documented"
    );
    let out = p.run(
        &["set", "Cert", "--type", "dev", "--from-file", "cert.pem"],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("newline"),
        "certificates are left be"
    );
}

#[test]
fn tables_are_plain_columns_when_piped() {
    let p = Project::init();
    p.append_config(DECLARE);
    p.set("DatabaseURL", "--type", "prod", "v");
    let out = p.ok(&["list"], None);
    assert!(
        !out.contains('│') && !out.contains('─'),
        "no borders in a pipe:\n{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.len(),
        3,
        "a header and one line a secret, never wrapped:\n{out}"
    );
    assert!(
        lines[0].split_whitespace().eq([
            "SECRET",
            "production",
            "development",
            "preview",
            "local",
            "prod-eu",
            "DESCRIPTION"
        ]),
        "{out}"
    );
    assert!(
        lines[1].split_whitespace().eq([
            "DatabaseURL",
            "set",
            "v1",
            "missing",
            "missing",
            "missing",
            "via",
            "type",
            "pg"
        ]),
        "{out}"
    );
}

#[test]
fn a_table_too_wide_for_the_terminal_is_stacked_not_broken_inside_words() {
    let p = Project::init();
    p.append_config(
        "[secrets.DatabaseURL]\n[environments.production-europe-west]\ntype = \"production\"\n[environments.staging-europe-west]\ntype = \"development\"\n",
    );
    p.set("DatabaseURL", "--type", "prod", "v");
    let bin = assert_cmd::cargo::cargo_bin("secretsync");
    let screen = |cols: u16| {
        let inner = format!("stty cols {cols}; {} list", bin.display());
        let out = std::process::Command::new("script")
            .args(["-qec", &inner, "/dev/null"])
            .current_dir(p.dir.path())
            .env_clear()
            .envs(p.vars())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    };
    let narrow = screen(60);
    assert!(
        narrow.contains("DatabaseURL\n  production "),
        "stacked:\n{narrow}"
    );
    assert!(
        narrow.contains("  production-europe-west  via type\n"),
        "{narrow}"
    );
    let wide = screen(200);
    assert!(
        wide.contains('│') && wide.contains("production-europe-west"),
        "a table fits:\n{wide}"
    );
}

#[test]
fn set_description_wins_over_the_declared_one_and_times_are_utc_z() {
    let p = Project::init();
    p.append_config("[secrets.Db]\ndescription = \"from the manifest\"\n");
    p.ok(
        &[
            "set",
            "Db",
            "--type",
            "dev",
            "--description",
            "the newer word",
        ],
        Some(b"v"),
    );
    let j = json(&p.ok(&["list", "--json"], None));
    assert_eq!(j["secrets"][0]["description"], "the newer word");
    let history = p.ok(&["history", "Db", "--type", "dev"], None);
    let stamp = history
        .lines()
        .nth(2)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(stamp.ends_with('Z') && stamp.len() == 20, "{history}");
    let j = json(&p.ok(&["get", "Db", "--env", "dev", "--json"], None));
    assert_eq!(
        (j["selector"].as_str(), j["scope"].as_str()),
        (Some("development"), Some("type development")),
        "{j}"
    );
}

#[test]
fn help_shows_examples_and_the_commands_own_flags_before_the_global_ones() {
    let p = Project::empty();
    let help = p.ok(&["plan", "--help"], None);
    let own = help.find("--detailed-exitcode").unwrap();
    let global = help.find("Global options").unwrap();
    assert!(own < global, "{help}");
    assert!(
        help.contains("Examples:\n  secretsync plan --env prod-eu --detailed-exitcode"),
        "{help}"
    );
    let help = p.ok(&["key", "add", "--help"], None);
    for kind in ["age1", "aws-kms:", "gcp-kms:"] {
        assert!(help.contains(kind), "{kind} in:\n{help}");
    }
    let help = p.ok(&["reconcile", "--help"], None);
    let drift = &help[help.find("--on-drift").unwrap()..];
    assert!(
        drift.contains("- report") && drift.contains("- revert") && !drift.contains("- adopt"),
        "{help}"
    );
    let help = p.ok(&["apply", "--help"], None);
    assert!(
        help.contains("apply exits 2; plan too with --detailed-exitcode"),
        "{help}"
    );
}

#[test]
fn a_deleted_secret_can_be_undeleted_until_the_next_key_rotate() {
    let p = Project::init();
    p.set("Token", "--type", "prod", "t1");
    p.set("Token", "--type", "dev", "t2");
    let out = p.ok(&["delete", "Token"], None);
    assert_eq!(
        out,
        "deleted Token (2 values; `secretsync undelete Token` brings it back until the next key rotate)\n"
    );
    p.code(&["get", "Token", "--type", "prod"], None, 1);
    assert!(!p.ok(&["list"], None).contains("Token"));
    assert_eq!(
        p.ok(&["undelete", "Token"], None),
        "restored Token (2 values)\n"
    );
    assert_eq!(p.get("Token", "--type", "prod"), "t1");
    // A key rotate purges what is deleted.
    p.ok(&["delete", "Token", "--yes"], None);
    p.ok(&["key", "rotate"], None);
    let out = p.code(&["undelete", "Token"], None, 1);
    assert!(
        out.contains("a `key rotate` purges deleted secrets"),
        "{out}"
    );
}

#[test]
fn deleting_a_whole_secret_on_a_terminal_asks_first() {
    let p = Project::init();
    p.set("Token", "--type", "prod", "t1");
    let bin = assert_cmd::cargo::cargo_bin("secretsync");
    let ask = |answer: &str| {
        let inner = format!("{} delete Token", bin.display());
        let mut child = std::process::Command::new("script")
            .args(["-qec", &inner, "/dev/null"])
            .current_dir(p.dir.path())
            .env_clear()
            .envs(p.vars())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        )
    };
    let (code, screen) = ask("n\n");
    assert_eq!(code, Some(2), "{screen}");
    assert!(
        screen.contains("Delete Token (every value, for every type and environment)?")
            && screen.contains("not deleted"),
        "{screen}"
    );
    assert_eq!(p.get("Token", "--type", "prod"), "t1");
    let (code, screen) = ask("y\n");
    assert_eq!(code, Some(0), "{screen}");
    p.code(&["get", "Token", "--type", "prod"], None, 1);
}

#[test]
fn a_garbled_identity_variable_is_named_not_called_a_recipient_and_not_shown() {
    let p = Project::init();
    let out = p
        .cmd(&["get", "A", "--type", "prod"])
        .env("SECRETSYNC_AGE_IDENTITY", "garbage")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: $SECRETSYNC_AGE_IDENTITY: is neither an age secret key (AGE-SECRET-KEY-1…) nor the path of a readable identity file; its value is not shown, since it may be a key. Set it to the key alone, or to the path of a file that holds it\n"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    let p = Project::empty();
    let bash = p.ok(&["completions", "bash"], None);
    assert!(
        bash.contains("_secretsync()") && bash.contains("undelete"),
        "{bash}"
    );
    for shell in ["zsh", "fish", "powershell"] {
        let script = p.ok(&["completions", shell], None);
        assert!(script.contains("reconcile"), "{shell}: {script}");
    }
    let man = p.ok(&["man"], None);
    assert!(
        man.starts_with(".ie") || man.contains(".TH secretsync"),
        "{man}"
    );
    assert!(man.contains("reconcile"), "{man}");
    let out = p.run(&["completions", "tcsh"], None);
    assert_eq!(out.status.code(), Some(1));
    // The bash script parses.
    std::fs::write(p.path("c.bash"), &bash).unwrap();
    let ok = std::process::Command::new("bash")
        .args(["-n", "c.bash"])
        .current_dir(p.dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn version_names_the_commit_and_the_backends_built_in() {
    let p = Project::empty();
    let v = p.ok(&["--version"], None);
    assert!(v.starts_with("secretsync 0.1.0 (commit "), "{v}");
    assert!(
        v.contains(
            "; backends: file, memory, aws-sm, aws-ssm (+ aws-kms), gcp-sm (+ gcp-kms), vault)"
        ),
        "{v}"
    );
}
