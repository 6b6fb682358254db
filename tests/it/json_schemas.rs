//! The README's "JSON output" shapes are checked against what each command prints, both ways:
//! a field the output has and the README lacks fails, and so does a field the README lists
//! (without `?`) that the output never shows. A renamed report field fails here.

use crate::common;

use common::Project;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Each documented command → (allowed keys, required keys), from the README's list.
pub(crate) fn documented() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### JSON output")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut lines: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("- `")) {
        let heads: Vec<String> = line[3..]
            .split(':')
            .next()
            .unwrap()
            .split(" / ")
            .map(|h| h.trim_matches('`').trim().to_string())
            .collect();
        let (mut allowed, mut required) = (BTreeSet::new(), BTreeSet::new());
        let b = line.as_bytes();
        let mut i = 0;
        while let Some(start) = line[i..].find('"').map(|k| k + i) {
            let Some(end) = line[start + 1..].find('"').map(|k| k + start + 1) else {
                break;
            };
            let word = &line[start + 1..end];
            let before = line[..start].trim_end().chars().last();
            let is_key = word.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && !matches!(before, Some(':') | Some('|'));
            if is_key {
                allowed.insert(word.to_string());
                if b.get(end + 1) != Some(&b'?') {
                    required.insert(word.to_string());
                }
            }
            i = end + 1;
        }
        for h in heads {
            lines.insert(h, (allowed.clone(), required.clone()));
        }
    }
    lines
}

/// Every key of `v`, at any depth.
pub(crate) fn keys(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

const ENV_NAMES: [&str; 5] = ["production", "development", "preview", "local", "prod-eu"];

#[test]
fn every_documented_json_shape_matches_the_output() {
    let docs = documented();
    let p = Project::empty();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(p.dir.path())
        .output()
        .unwrap();
    assert!(git.status.success());
    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut run = |cmd: &'static str, args: &[&str], stdin: &str, code: i32| {
        let mut all = args.to_vec();
        all.push("--json");
        let out = p.run(&all, Some(stdin.as_bytes()));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{all:?}: {}",
            common::text(&out)
        );
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}): {}", common::text(&out)));
        keys(&v, seen.entry(cmd).or_default());
    };
    run("init", &["init", "--app", "demo"], "", 0);
    p.append_config(
        "[secrets.A]\n[secrets.B]\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"file://./replica\"\nprefix = \"app/\"\n",
    );
    run("set", &["set", "A", "--type", "prod,dev"], "a", 0);
    run("set", &["set", "A", "--type", "dev"], "a-dev", 0);
    run("set", &["set", "Bin", "--type", "prod"], "\u{0}\u{1}", 0);
    run("get", &["get", "A", "--type", "prod"], "", 0);
    run("get", &["get", "Bin", "--type", "prod"], "", 0);
    run("history", &["history", "A", "--type", "prod"], "", 0);
    run("set", &["set", "A", "--type", "dev"], "a-dev-2", 0);
    run("rollback", &["rollback", "A", "--type", "dev"], "", 0);
    run("list", &["list"], "", 0);
    run("check", &["check"], "", 2);
    run("key list", &["key", "list"], "", 0);
    let other = common::Project::init();
    let id = std::fs::read_to_string(other.identity_file()).unwrap();
    let public = id
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    run(
        "key add",
        &["key", "add", &public, "--scope", "development"],
        "",
        0,
    );
    run("key remove", &["key", "remove", &public], "", 0);
    run("key rotate", &["key", "rotate"], "", 0);
    run("upgrade", &["upgrade"], "", 0);
    // An unmanaged same-named secret in the backend: refused (skipped, with an error).
    common::file_put(&p.path("replica"), &[("app/Bin", "theirs")]);
    run("plan", &["plan", "--env", "prod-eu"], "", 0);
    run("apply", &["apply", "--env", "prod-eu"], "", 2);
    run("restore", &["restore", "--env", "prod-eu", "A"], "", 1);
    run("reconcile --once", &["reconcile", "--once"], "", 2);
    run(
        "migrate",
        &[
            "migrate",
            "--from",
            "file://./replica",
            "--to",
            "file://./copy",
            "--dry-run",
        ],
        "",
        0,
    );
    run(
        "migrate",
        &[
            "migrate",
            "--from",
            "file://./replica",
            "--to",
            "file://./copy",
        ],
        "",
        0,
    );
    run(
        "import",
        &[
            "import",
            "--from",
            "file://./copy",
            "--prefix",
            "app/",
            "--type",
            "preview",
        ],
        "",
        0,
    );
    // The store holds another value for dev: skipped, with a reason.
    run(
        "import",
        &[
            "import",
            "--from",
            "file://./copy",
            "--prefix",
            "app/",
            "--type",
            "dev",
        ],
        "",
        2,
    );
    run("pull", &["pull"], "", 0);
    run("delete", &["delete", "A", "--type", "dev"], "", 0);
    run("delete", &["delete", "Bin"], "", 0);
    run("undelete", &["undelete", "Bin"], "", 0);
    // Any failure in --json mode still prints a document.
    run("error", &["get", "Nope", "--type", "dev"], "", 1);
    run("error", &["plan", "--env", "nowhere"], "", 1);
    let store = p.path("secrets.enc.toml");
    let s = store.display().to_string();
    run("merge-file", &["merge-file", &s, &s, &s], "", 0);
    // A file:// backend needs no grant: the document is null.
    run(
        "policy",
        &["policy", "--env", "prod-eu", "--for", "apply"],
        "",
        0,
    );
    // Preview environments: an instance torn down, and a template's collection.
    p.append_config(
        "[environments.pr]\ntype = \"preview\"\nbackend = \"file://./previews\"\nprefix = \"pr-{id}/\"\n",
    );
    for id in ["1", "2", "3"] {
        p.ok(&["apply", "--env", &format!("pr:{id}")], None);
    }
    run("teardown", &["teardown", "--env", "pr:1"], "", 0);
    run(
        "teardown",
        &["teardown", "--env", "pr", "--keep", "2"],
        "",
        0,
    );

    for (cmd, got) in &seen {
        check_shape(&docs, cmd, got);
    }
    for cmd in docs.keys().filter(|c| !ELSEWHERE.contains(&c.as_str())) {
        assert!(
            seen.contains_key(cmd.as_str()),
            "the test runs no `{cmd} --json`"
        );
    }
}

/// Shapes checked by other tests: `policy --for open` needs a KMS recipient
/// (tests/it/least_privilege.rs), `/healthz` a running loop (tests/it/cli_reconcile.rs).
const ELSEWHERE: [&str; 2] = ["policy --for open", "reconcile /healthz"];

/// Fails when `got` (the keys `cmd --json` printed) has a key the README's shape for `cmd`
/// lacks, or lacks one the shape requires.
pub(crate) fn check_shape(
    docs: &BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    cmd: &str,
    got: &BTreeSet<String>,
) {
    let (allowed, required) = docs
        .get(cmd)
        .unwrap_or_else(|| panic!("the README documents no JSON shape for `{cmd}`"));
    // Nested plans and reports are documented once, on the plan and apply lines.
    let mut allowed = allowed.clone();
    for shared in ["plan", "apply"] {
        if allowed.contains("plan") || allowed.contains("summary") || allowed.contains("report") {
            allowed.extend(docs[shared].0.iter().cloned());
        }
    }
    let undocumented: Vec<&String> = got
        .iter()
        .filter(|k| !allowed.contains(*k) && !ENV_NAMES.contains(&k.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "`{cmd} --json` prints fields the README does not list: {undocumented:?}"
    );
    let missing: Vec<&String> = required.iter().filter(|k| !got.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "`{cmd} --json` never printed the README's fields {missing:?}"
    );
}
