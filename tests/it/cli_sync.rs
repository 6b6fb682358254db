//! `plan` and `apply` end to end on the file backend: what a CI deploy step sees.

use crate::common;

use common::{text, Project, CANARY};
use secretsync_core::file::FileBackend;
use secretsync_core::{PutOptions, SecretBackend};
use serde_json::Value;

fn project(backend_dir: &std::path::Path) -> Project {
    let p = Project::init();
    p.append_config(&format!(
        "[secrets.A]\n[secrets.B]\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"file://{}\"\nprefix = \"app/\"\n",
        backend_dir.display()
    ));
    p
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn plan_apply_then_an_empty_plan_that_only_lists() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "a1");
    p.set("B", "--type", "prod", "b1");
    p.set("B", "--env", "prod-eu", "b-eu");
    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(
        out.contains("+ app/A") && out.contains("+ app/B") && out.contains("2 to create"),
        "{out}"
    );
    let out = p.ok(&["apply", "--env", "prod-eu"], None);
    assert!(out.contains("Apply: 2 done, 0 failed"), "{out}");
    let j = json(&p.ok(
        &["plan", "--env", "prod-eu", "--json", "--detailed-exitcode"],
        None,
    ));
    assert_eq!(j["changes"], false);
    let env = &j["environments"][0];
    assert_eq!(env["summary"]["unchanged"], 2);
    // A file backend's reads cost nothing, so the plan compares values too: one list and one
    // batched read of the file, no per-secret calls, no writes.
    let mut calls: Vec<(String, u64)> = env["api_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap().to_string(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [("batch_get".to_string(), 1), ("list".to_string(), 1)],
        "{}",
        env["api_calls"]
    );
    // The backend holds the environment's values: the override for B.
    let b = FileBackend::new(backend.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let got = rt.block_on(b.get("app/B")).unwrap().unwrap();
    assert_eq!(got.value.expose(), b"b-eu");
    // A value change is an update.
    p.set("A", "--type", "prod", "a2");
    let out = p.code(&["apply", "--env", "prod-eu", "--json"], None, 0);
    let j = json(&out);
    assert_eq!(j["environments"][0]["summary"]["update"], 1);
    assert_eq!(
        rt.block_on(b.get("app/A")).unwrap().unwrap().value.expose(),
        b"a2"
    );
}

#[test]
fn drift_is_reported_and_left_then_reverted_or_adopted() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "mine");
    p.ok(&["apply", "--env", "prod-eu"], None);
    let b = FileBackend::new(backend.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(b.put("app/A", &"theirs".into(), &PutOptions::default()))
        .unwrap();

    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(
        out.contains("! app/A") && out.contains("outside secretsync"),
        "{out}"
    );
    let out = p.code(&["apply", "--env", "prod-eu"], None, 2);
    assert!(out.contains("skipped"), "{out}");
    assert_eq!(
        rt.block_on(b.get("app/A")).unwrap().unwrap().value.expose(),
        b"theirs"
    );

    p.code(
        &["apply", "--env", "prod-eu", "--on-drift", "adopt"],
        None,
        0,
    );
    assert_eq!(
        p.get("A", "--env", "prod-eu"),
        "theirs",
        "adopted as prod-eu's override"
    );
    assert_eq!(
        p.get("A", "--type", "prod"),
        "mine",
        "the type's value is untouched"
    );
    p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        0,
    );

    rt.block_on(b.put("app/A", &"again".into(), &PutOptions::default()))
        .unwrap();
    p.code(
        &["apply", "--env", "prod-eu", "--on-drift", "revert"],
        None,
        0,
    );
    assert_eq!(
        rt.block_on(b.get("app/A")).unwrap().unwrap().value.expose(),
        b"theirs"
    );
}

#[test]
fn prune_is_opt_in_capped_and_touches_only_this_stores_secrets() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    let other = project(backend.path());
    for n in ["A", "B", "C"] {
        p.set(n, "--type", "prod", "x");
    }
    other.set("Theirs", "--type", "prod", "y");
    p.ok(&["apply", "--env", "prod-eu"], None);
    other.ok(&["apply", "--env", "prod-eu"], None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = FileBackend::new(backend.path());
    rt.block_on(b.put("app/Manual", &"m".into(), &PutOptions::default()))
        .unwrap();

    p.ok(&["delete", "B"], None);
    p.ok(&["delete", "C"], None);
    let out = p.ok(&["plan", "--env", "prod-eu"], None);
    assert!(out.contains("2 orphaned (--prune deletes them)"), "{out}");
    let out = p.code(
        &["apply", "--env", "prod-eu", "--prune", "--max-deletes", "1"],
        None,
        2,
    );
    assert!(out.contains("exceed --max-deletes 1"), "{out}");
    assert!(rt.block_on(b.head("app/B")).unwrap().is_some());
    let out = p.ok(&["apply", "--env", "prod-eu", "--prune"], None);
    assert!(out.contains("- app/B") && out.contains("2 done"), "{out}");
    assert!(rt.block_on(b.head("app/B")).unwrap().is_none());
    assert!(
        rt.block_on(b.head("app/Theirs")).unwrap().is_some(),
        "another store's secret survives"
    );
    assert!(
        rt.block_on(b.head("app/Manual")).unwrap().is_some(),
        "an unmanaged secret survives"
    );
}

#[test]
fn same_named_secrets_are_adopted_only_with_adopt() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let b = FileBackend::new(backend.path());
    rt.block_on(b.put("app/A", &"legacy".into(), &PutOptions::default()))
        .unwrap();
    p.set("A", "--type", "prod", "new");
    let out = p.code(&["apply", "--env", "prod-eu"], None, 2);
    assert!(out.contains("not written by secretsync"), "{out}");
    assert_eq!(
        rt.block_on(b.get("app/A")).unwrap().unwrap().value.expose(),
        b"legacy"
    );
    p.ok(&["apply", "--env", "prod-eu", "--adopt"], None);
    assert_eq!(
        rt.block_on(b.get("app/A")).unwrap().unwrap().value.expose(),
        b"new"
    );
    p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        0,
    );
}

#[test]
fn environments_without_a_backend_are_clear_errors() {
    let p = Project::init();
    p.append_config("[environments.staging]\ntype = \"dev\"\n");
    let out = p.code(&["plan", "--env", "local"], None, 1);
    assert!(
        out.contains("implicit environment with no backend"),
        "{out}"
    );
    let out = p.code(&["plan", "--env", "staging"], None, 1);
    assert!(out.contains("has no backend"), "{out}");
    let out = p.code(&["plan"], None, 1);
    assert!(out.contains("--env ENV, or use --all"), "{out}");
    let out = p.code(&["plan", "--all"], None, 1);
    assert!(out.contains("no environment"), "{out}");
}

#[test]
fn the_canary_never_leaks_through_plan_or_apply() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", CANARY);
    p.set("B", "--env", "prod-eu", CANARY);
    let mut seen = String::new();
    for args in [
        &["plan", "--env", "prod-eu"][..],
        &["plan", "--env", "prod-eu", "--json"],
        &["apply", "--env", "prod-eu", "--json"],
        &["apply", "--env", "prod-eu"],
        &["plan", "--env", "prod-eu", "--verify", "--json"],
    ] {
        seen.push_str(&text(&p.run(args, None)));
    }
    assert!(!seen.contains("canary"), "{seen}");
}

#[test]
fn import_brings_a_backends_secrets_into_the_store() {
    let src = tempfile::tempdir().unwrap();
    let b = FileBackend::new(src.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (n, v) in [
        ("legacy/Token", "t"),
        ("legacy/DB_URL", "pg"),
        ("legacy/bad-name", "x"),
        ("other/Skip", "s"),
    ] {
        rt.block_on(b.put(n, &v.into(), &PutOptions::default()))
            .unwrap();
    }
    let p = Project::init();
    let from = format!("file://{}", src.path().display());
    let before = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    let out = p.code(
        &[
            "import",
            "--from",
            &from,
            "--prefix",
            "legacy/",
            "--type",
            "dev",
            "--dry-run",
        ],
        None,
        2,
    );
    assert!(out.contains("would import 2 secrets"), "{out}");
    assert_eq!(
        before,
        std::fs::read(p.path("secrets.enc.toml")).unwrap(),
        "a dry run writes nothing"
    );
    let out = p.code(
        &[
            "import",
            "--from",
            &from,
            "--prefix",
            "legacy/",
            "--type",
            "dev,preview",
        ],
        None,
        2,
    );
    assert!(
        out.contains("imported 2 secrets for development,preview")
            && out.contains("skipped legacy/bad-name"),
        "{out}"
    );
    assert_eq!(p.get("Token", "--type", "preview"), "t");
    assert_eq!(p.get("DB_URL", "--type", "dev"), "pg");
    p.code(&["get", "Skip", "--type", "dev"], None, 1);

    rt.block_on(b.put("legacy/Token", &"t2".into(), &PutOptions::default()))
        .unwrap();
    let j = json(&p.code(
        &[
            "import",
            "--from",
            &from,
            "--prefix",
            "legacy/",
            "--type",
            "dev,preview",
            "--json",
        ],
        None,
        2,
    ));
    assert_eq!(j["unchanged"][0], "DB_URL");
    assert!(j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["reason"].as_str().unwrap().contains("--overwrite")));
    assert_eq!(p.get("Token", "--type", "dev"), "t");
    p.code(
        &[
            "import",
            "--from",
            &from,
            "--prefix",
            "legacy/",
            "--type",
            "dev,preview",
            "--overwrite",
        ],
        None,
        2,
    );
    assert_eq!(p.get("Token", "--type", "dev"), "t2");
}

/// Forges a store from what `secrets.enc.toml` shows: the same store id and scopes, a fresh key
/// pair and fingerprint key per scope wrapped for every listed recipient, and values of the
/// attacker's choice.
fn forge_store(p: &Project, values: &[(&str, &str)]) {
    use secretsync::store::age_key::AgeRecipient;
    use secretsync::store::crypto;
    use secretsync_core::Recipient;
    let path = p.path("secrets.enc.toml");
    let real: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let id = real["secretsync"]["store_id"].as_str().unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut text = format!(
        "[secretsync]\nformat = 2\nstore_id = \"{id}\"\ncipher = \"x25519-hkdf-sha256-xchacha20poly1305\"\n\n"
    );
    let mut publics = std::collections::BTreeMap::new();
    for (scope, entry) in real["scopes"].as_table().unwrap() {
        let key = crypto::new_data_key();
        let public = crypto::scope_public_key(&key);
        let fp_key = crypto::new_data_key();
        let fp = crypto::seal_to(
            &public,
            &crypto::scope_fingerprint_key_aad(&id, scope, false),
            fp_key.expose(),
        )
        .unwrap();
        let types = entry["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{t}"))
            .collect::<Vec<_>>()
            .join(", ");
        let fp_id = crypto::fingerprint_key_id(&secretsync_core::SecretValue::new(
            fp_key.expose().to_vec(),
        ));
        text.push_str(&format!(
            "[scopes.{scope}]\ntypes = [{types}]\npublic_key = \"{public}\"\nfingerprint_key = \"{fp}\"\nfingerprint_key_id = \"{fp_id}\"\n\n"
        ));
        for rid in entry["recipients"].as_table().unwrap().keys() {
            let r: AgeRecipient = rid.parse().unwrap();
            let wrapped = rt
                .block_on(r.wrap(&key, &crypto::scope_wrap_context(&id, scope)))
                .unwrap();
            text.push_str(&format!(
                "[scopes.{scope}.recipients.\"{rid}\"]\nadded = \"2026-01-01T00:00:00Z\"\nwrapped = \"{wrapped}\"\n\n"
            ));
        }
        publics.insert(scope.clone(), public);
    }
    for (name, value) in values {
        let aad = crypto::value_aad_v2(&id, "production", name, "production");
        text.push_str(&format!(
            "[secrets.{name}.values.production]\nversion = 1\nupdated = \"2026-01-01T00:00:00Z\"\n\n[secrets.{name}.values.production.sealed]\nproduction = \"{}\"\n\n",
            crypto::seal_to(&publics["production"], &aad, value.as_bytes()).unwrap()
        ));
    }
    std::fs::write(&path, text).unwrap();
}

#[test]
fn a_store_forged_from_the_files_public_parts_is_refused_by_every_replicating_command() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "real-value");
    p.ok(&["apply", "--env", "prod-eu"], None);
    forge_store(&p, &[("A", "evil-value"), ("B", "evil-b")]);
    // The forged store opens: it is well formed and wrapped for the real recipient.
    assert_eq!(p.get("A", "--type", "prod"), "evil-value");
    let url = format!("file://{}", backend.path().display());
    let copy = tempfile::tempdir().unwrap();
    let copy_url = format!("file://{}", copy.path().display());
    let refusals: Vec<Vec<&str>> = vec![
        vec!["plan", "--env", "prod-eu"],
        vec!["apply", "--env", "prod-eu"],
        vec![
            "apply",
            "--env",
            "prod-eu",
            "--adopt",
            "--on-drift",
            "revert",
        ],
        vec!["reconcile", "--once"],
        // migrate --with-store stamps the destination with the store's labels: witnessed
        // there too.
        vec!["migrate", "--from", &copy_url, "--to", &url, "--with-store"],
    ];
    // Give migrate a source to copy from.
    common::file_put(copy.path(), &[("app/A", "evil-value")]);
    for args in &refusals {
        let out = p.code(args, None, 1);
        assert!(
            out.contains("cannot open") && out.contains("store file was replaced"),
            "{args:?}: {out}"
        );
    }
    let b = FileBackend::new(backend.path());
    let got = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(b.get("app/A"))
        .unwrap()
        .unwrap();
    assert_eq!(
        got.value.as_str(),
        Some("real-value"),
        "nothing was written"
    );
    assert!(tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(b.head("app/B"))
        .unwrap()
        .is_none());
}

#[test]
fn plaintext_replicas_in_the_repository_are_ignored_or_warned_about() {
    let p = Project::init();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(p.dir.path())
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {}", text(&ok));
    };
    git(&["init", "-q"]);
    p.append_config(
        "[secrets.A]\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"file://./replica.json\"\n",
    );
    p.set("A", "--type", "prod", CANARY);
    // Not ignored yet: apply writes, and warns.
    let out = p.code(&["apply", "--env", "prod-eu"], None, 0);
    assert!(
        out.contains("warning: prod-eu replicates into") && out.contains("not ignored"),
        "{out}"
    );
    // init adds the replica, the lock file and the temp files to .gitignore.
    p.ok(&["init"], None);
    let gi = std::fs::read_to_string(p.path(".gitignore")).unwrap();
    for line in [
        "/replica.json",
        ".secretsync-*.tmp",
        ".secrets.enc.toml.lock",
    ] {
        assert!(gi.lines().any(|l| l == line), "{line} missing from:\n{gi}");
    }
    let out = p.code(&["apply", "--env", "prod-eu"], None, 0);
    assert!(!out.contains("warning"), "{out}");
    assert!(!out.contains(CANARY));
}

#[test]
fn rotating_the_fingerprint_key_rewrites_each_secret_once_and_the_old_store_is_refused() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "a1");
    p.ok(&["apply", "--env", "prod-eu"], None);
    let before = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    let out = p.ok(&["key", "rotate", "--fingerprint"], None);
    assert!(out.contains("rotated the fingerprint key"), "{out}");
    let j = json(&p.ok(&["plan", "--env", "prod-eu", "--json"], None));
    assert_eq!(j["environments"][0]["summary"]["update"], 1, "{j}");
    p.ok(&["apply", "--env", "prod-eu"], None);
    p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        0,
    );
    // The backend now witnesses the new key: the pre-rotation store is refused.
    std::fs::write(p.path("secrets.enc.toml"), before).unwrap();
    let out = p.code(&["plan", "--env", "prod-eu"], None, 1);
    assert!(out.contains("cannot open"), "{out}");
}

/// A file backend's JSON written by hand (names another tool allowed).
fn write_file_backend(path: &std::path::Path, secrets: &[(&str, &str)]) {
    use base64::Engine;
    let mut map = serde_json::Map::new();
    for (n, v) in secrets {
        map.insert(
            n.to_string(),
            serde_json::json!({"version": "1", "seq": 1, "updated": 0, "labels": {}, "value": base64::engine::general_purpose::STANDARD.encode(v)}),
        );
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        path,
        serde_json::json!({"format": 1, "secrets": map}).to_string(),
    )
    .unwrap();
}

#[test]
fn migrate_renames_refuses_foreign_secrets_without_adopt_and_exits_by_outcome() {
    // An empty folder: no secretsync.toml, no store, no identity.
    let p = Project::empty();
    write_file_backend(
        &p.path("src/secrets.json"),
        &[("svc:key", "k1"), ("svc/db", "d1")],
    );
    let migrate = |extra: &[&str], code: i32| {
        let mut args = vec!["migrate", "--from", "file://./src", "--to", "file://./dst"];
        args.extend(extra);
        p.code(&args, None, code)
    };
    // `:` is not a name the file backend takes: --rename-char maps it.
    let out = migrate(&["--rename-char", "-", "--dry-run"], 0);
    assert!(out.contains("rename svc:key -> svc-key"), "{out}");
    // A same-named secret the destination already holds, not written by secretsync: refused
    // (exit 2) until --adopt.
    write_file_backend(&p.path("dst/secrets.json"), &[("svc/db", "theirs")]);
    let out = migrate(&["--rename-char", "-"], 2);
    assert!(out.contains("svc/db") && out.contains("--adopt"), "{out}");
    migrate(&["--rename-char", "-", "--adopt"], 0);
    let b = FileBackend::new(p.path("dst"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(b.get("svc/db"))
            .unwrap()
            .unwrap()
            .value
            .as_str(),
        Some("d1")
    );
    assert_eq!(
        rt.block_on(b.get("svc-key"))
            .unwrap()
            .unwrap()
            .value
            .as_str(),
        Some("k1")
    );
    assert!(
        !p.path("secretsync.toml").exists() && !p.path(".secretsync").exists(),
        "migrate made no project"
    );
    // A rerun compares by value: nothing to write. Its owner is the migration, from the source.
    let j = json(&migrate(&["--rename-char", "-", "--json"], 0));
    assert_eq!(j["summary"]["unchanged"], 2, "{j}");
    assert!(
        j["owner"].as_str().unwrap().starts_with("migration-"),
        "{j}"
    );
    let meta = rt.block_on(b.head("svc-key")).unwrap().unwrap();
    assert_eq!(
        meta.labels.get("secretsync-store"),
        Some(&j["owner"].as_str().unwrap().to_string()),
        "{meta:?}"
    );
    // The source changed: what this migration wrote is rewritten, by value, with no --adopt.
    write_file_backend(
        &p.path("src/secrets.json"),
        &[("svc:key", "k2"), ("svc/db", "d1")],
    );
    let j = json(&migrate(&["--rename-char", "-", "--json"], 0));
    assert_eq!(
        (
            j["summary"]["update"].as_u64(),
            j["summary"]["unchanged"].as_u64()
        ),
        (Some(1), Some(1)),
        "{j}"
    );
    assert_eq!(j["verified"]["equal"], 2, "{j}");
    assert_eq!(
        rt.block_on(b.get("svc-key"))
            .unwrap()
            .unwrap()
            .value
            .as_str(),
        Some("k2")
    );
    // Another source's migration into the same names does not own them: refused.
    write_file_backend(&p.path("other/secrets.json"), &[("svc-key", "k3")]);
    let out = p.code(
        &[
            "migrate",
            "--from",
            "file://./other",
            "--to",
            "file://./dst",
        ],
        None,
        2,
    );
    assert!(out.contains("managed by another store"), "{out}");
    // --with-store needs a project, and says so.
    let out = p.code(
        &[
            "migrate",
            "--from",
            "file://./src",
            "--to",
            "file://./dst",
            "--with-store",
        ],
        None,
        1,
    );
    assert!(
        out.contains("--with-store") && out.contains("secretsync project"),
        "{out}"
    );

    // A destination that cannot be written at all: exit 1.
    std::fs::write(p.path("blocked"), "a file, not a folder").unwrap();
    let out = p.code(
        &[
            "migrate",
            "--from",
            "file://./src",
            "--to",
            "file://./blocked",
            "--rename-char",
            "-",
        ],
        None,
        1,
    );
    assert!(out.starts_with("error: "), "{out}");
}

#[test]
fn prune_is_capped_at_ten_deletions_by_default() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    let values: Vec<(String, String)> = (0..11).map(|i| (format!("S{i:02}"), "v".into())).collect();
    common::bulk_set(&p, "production", &values);
    p.ok(&["apply", "--env", "prod-eu", "--quiet"], None);
    for (n, _) in &values {
        p.ok(&["delete", n], None);
    }
    let out = p.code(&["apply", "--env", "prod-eu", "--prune"], None, 2);
    assert!(
        out.contains("11 deletions exceed --max-deletes 10"),
        "{out}"
    );
    let j = json(&p.ok(&["plan", "--env", "prod-eu", "--json"], None));
    assert_eq!(
        j["environments"][0]["summary"]["orphan"], 11,
        "nothing was deleted: {j}"
    );
    let out = p.ok(
        &[
            "apply",
            "--env",
            "prod-eu",
            "--prune",
            "--max-deletes",
            "11",
            "--quiet",
        ],
        None,
    );
    assert!(out.contains("11 done"), "{out}");
}

#[test]
fn lists_are_taken_where_several_make_sense_and_refused_clearly_where_one_does() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.append_config(&format!(
        "[environments.staging]\ntype = \"development\"\nbackend = \"file://{}/staging\"\nprefix = \"app/\"\n",
        backend.path().display()
    ));
    p.set("A", "--type", "prod,dev", "a");
    let j = json(&p.ok(&["plan", "--env", "staging,prod-eu", "--json"], None));
    assert_eq!(j["environments"].as_array().unwrap().len(), 2, "{j}");
    let j = json(&p.code(&["check", "--type", "dev,prod", "--json"], None, 2));
    assert_eq!(j["environments"].as_array().unwrap().len(), 2, "{j}");
    let out = p.run(&["get", "A", "--type", "dev,prod"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"dev,prod\" is a list: give one type here"),
        "{}",
        text(&out)
    );
    let out = p.run(&["get", "A", "--env", "staging,prod-eu"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: \"staging,prod-eu\" is a list: give one environment here\n"
    );
}

#[test]
fn all_environments_are_reported_when_one_fails() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    std::fs::write(
        backend.path().join("broken"),
        "a file where a folder is needed",
    )
    .unwrap();
    p.append_config(&format!(
        "[environments.broken]\ntype = \"production\"\nbackend = \"file://{}/broken\"\nprefix = \"x/\"\n",
        backend.path().display()
    ));
    p.set("A", "--type", "prod", "a");
    let out = p.run(&["plan", "--all", "--json"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["environments"][0]["plan"]["env"], "prod-eu", "{j}");
    assert_eq!(j["errors"][0]["env"], "broken", "{j}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: broken: "),
        "{}",
        text(&out)
    );
    let out = p.run(&["apply", "--all"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Apply: 1 done"),
        "the other environment is applied: {}",
        text(&out)
    );
}

#[test]
fn one_item_counts_once_with_one_mark_and_a_legend() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "a");
    p.ok(&["apply", "--env", "prod-eu"], None);
    p.set("B", "--type", "prod", "b");
    let b = FileBackend::new(backend.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(b.put("app/A", &"by hand".into(), &PutOptions::default()))
        .unwrap();
    rt.block_on(b.put("app/B", &"theirs".into(), &PutOptions::default()))
        .unwrap();
    let plan = p.ok(&["plan", "--env", "prod-eu"], None);
    let body: Vec<&str> = plan.lines().skip(1).collect();
    assert_eq!(
        body,
        [
            "  ! app/A  a version was written outside secretsync since our last write; left as is (--on-drift revert|adopt)",
            "  × app/B  exists and was not written by secretsync; --adopt takes it over",
            "  (+ create  ~ update  - delete  ? adopt  ! drift  . orphan  × refused (needs you))",
            "Plan: 0 to create, 0 to update, 0 to delete, 1 drifted, 1 refused, 0 unchanged.",
        ]
    );
    let apply = p.code(&["apply", "--env", "prod-eu"], None, 2);
    assert!(
        apply.contains("  × app/B  skipped:"),
        "the same mark in apply: {apply}"
    );
    assert!(apply.contains("  ! app/A  skipped:"), "{apply}");
}

#[test]
fn a_value_edited_by_hand_in_a_file_backend_is_drift_without_verify() {
    let backend = tempfile::tempdir().unwrap();
    let p = project(backend.path());
    p.set("A", "--type", "prod", "a");
    p.ok(&["apply", "--env", "prod-eu"], None);
    // Edit the value in the JSON, labels and version kept, as a person with an editor would.
    let file = backend.path().join("secrets.json");
    let mut j: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    j["secrets"]["app/A"]["value"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "edited").into();
    std::fs::write(&file, j.to_string()).unwrap();
    let out = p.code(
        &["plan", "--env", "prod-eu", "--detailed-exitcode"],
        None,
        2,
    );
    assert!(
        out.contains("! app/A  the value differs from what secretsync wrote"),
        "{out}"
    );
}

#[test]
fn import_takes_a_dotenv_file_and_a_json_object_file() {
    let p = Project::init();
    std::fs::write(
        p.path("prod.env"),
        format!(
            "# a comment\nexport DATABASE_URL=\"postgres://db\"\nTOKEN='{CANARY}'\nMULTI=\"a\\nb\"\n"
        ),
    )
    .unwrap();
    let out = p.ok(
        &["import", "--from-file", "prod.env", "--type", "prod"],
        None,
    );
    assert!(out.contains("imported 3 secrets for production"), "{out}");
    assert!(!out.contains(CANARY));
    assert_eq!(p.get("TOKEN", "--type", "prod"), CANARY);
    assert_eq!(p.get("DATABASE_URL", "--type", "prod"), "postgres://db");
    assert_eq!(p.get("MULTI", "--type", "prod"), "a\nb");
    // Again: nothing changes.
    let out = p.ok(
        &["import", "--from-file", "prod.env", "--type", "prod"],
        None,
    );
    assert!(
        out.contains("imported 0 secrets") && out.contains("3 already equal"),
        "{out}"
    );

    std::fs::write(
        p.path("dev.json"),
        format!(r#"{{"TOKEN": "{CANARY}-dev", "API_KEY": "k", "bad-name": "x"}}"#),
    )
    .unwrap();
    let out = p.code(
        &["import", "--from-file", "dev.json", "--type", "dev,local"],
        None,
        2,
    );
    assert!(
        out.contains("imported 2 secrets for development,local")
            && out.contains("skipped bad-name"),
        "{out}"
    );
    assert_eq!(p.get("TOKEN", "--type", "local"), format!("{CANARY}-dev"));

    // Bad files: the error names the file and the entry, never a value.
    std::fs::write(
        p.path("bad.json"),
        format!(r#"{{"A": 1, "B": "{CANARY}"}}"#),
    )
    .unwrap();
    let out = p.code(
        &["import", "--from-file", "bad.json", "--type", "dev"],
        None,
        1,
    );
    assert!(
        out.contains("bad.json: the value of \"A\" is not a string"),
        "{out}"
    );
    std::fs::write(p.path("bad.env"), format!("OK={CANARY}\nNO EQUALS SIGN\n")).unwrap();
    let out = p.code(
        &["import", "--from-file", "bad.env", "--type", "dev"],
        None,
        1,
    );
    assert!(out.contains("bad.env: entry 2 is not NAME=value"), "{out}");
    assert!(!out.contains(CANARY), "{out}");
    let out = p.code(
        &["import", "--from-file", "missing.env", "--type", "dev"],
        None,
        1,
    );
    assert!(
        out.contains("cannot read") && out.contains("missing.env"),
        "{out}"
    );
}
