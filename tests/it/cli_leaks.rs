//! The canary sweep: every command, run as a user would, does its job (its exit code is pinned)
//! and never shows the canary value, as is, in hex or in base64, on stdout, stderr or in files
//! outside the store and the 0600 replicas. Only `get` (and a program `run` starts) may print it.

use crate::common;

use common::{assert_no_canary, text, Project, CANARY};
use std::path::Path;

const CONFIG: &str = r#"
[secrets.DatabaseURL]
description = "pg"
[secrets.Token]
[environments.prod-eu]
type = "production"
backend = "file://./replica"
prefix = "app/"
"#;

struct Sweep<'a> {
    p: &'a Project,
    cache: tempfile::TempDir,
}

impl Sweep<'_> {
    /// Runs a command, pins its exit code, and checks both streams for the canary.
    fn run(&self, args: &[&str], stdin: Option<&str>, code: i32) -> String {
        let mut c = self.p.cmd(args);
        c.env("SECRETSYNC_CACHE_DIR", self.cache.path());
        c.write_stdin(stdin.unwrap_or_default().as_bytes().to_vec());
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
        assert_no_canary(&format!("stdout of {args:?}"), &out.stdout);
        assert_no_canary(&format!("stderr of {args:?}"), &out.stderr);
        if code == 1 {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.starts_with("error: "), "{args:?}: {err}");
        }
        text(&out)
    }
}

/// Every file under `dir` except the store and the 0600 replicas and caches (which hold values
/// by design, sealed or private), checked for the canary.
fn sweep_files(dir: &Path, allowed: &[&Path]) {
    for e in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap) {
        if !e.file_type().is_file() || allowed.iter().any(|a| e.path().starts_with(a)) {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        assert_no_canary(&e.path().display().to_string(), &bytes);
    }
}

#[test]
fn no_command_shows_the_canary() {
    let p = Project::init();
    p.append_config(CONFIG);
    let s = Sweep {
        p: &p,
        cache: tempfile::tempdir().unwrap(),
    };
    s.run(
        &[
            "set",
            "DatabaseURL",
            "--type",
            "prod,dev",
            "--description",
            "db",
        ],
        Some(CANARY),
        0,
    );
    s.run(&["set", "DatabaseURL", "--env", "prod-eu"], Some(CANARY), 0);
    s.run(&["set", "DatabaseURL", "--type", "dev"], Some(CANARY), 0);
    s.run(
        &["set", "DatabaseURL", "--type", "dev", "--json"],
        Some(CANARY),
        0,
    );
    s.run(&["set", "Token", "--type", "local"], Some(CANARY), 0);
    s.run(&["set", "Token", "--type", "prodution"], Some(CANARY), 1);
    s.run(&["set", "bad-name", "--type", "dev"], Some(CANARY), 1);
    s.run(&["list"], None, 0);
    s.run(&["list", "--json"], None, 0);
    s.run(&["check"], None, 2);
    s.run(&["check", "--json"], None, 2);
    s.run(&["history", "DatabaseURL", "--type", "prod"], None, 0);
    s.run(
        &["history", "DatabaseURL", "--type", "prod", "--json"],
        None,
        0,
    );
    s.run(&["rollback", "DatabaseURL", "--type", "dev"], None, 0);
    s.run(&["key", "list"], None, 0);
    s.run(&["key", "rotate"], None, 0);
    s.run(&["key", "rotate", "--fingerprint", "--json"], None, 0);
    s.run(&["get", "Nope", "--type", "local"], None, 1);
    // Replication, plans, reports and the jobs.
    s.run(&["plan", "--env", "prod-eu"], None, 0);
    s.run(
        &["plan", "--env", "prod-eu", "--json", "--detailed-exitcode"],
        None,
        2,
    );
    // The first writes, logged at the most verbose level as JSON lines.
    let log = s.run(
        &["apply", "--env", "prod-eu", "-vvv", "--log-format", "json"],
        None,
        0,
    );
    assert!(
        log.contains(r#""message":"done""#) && log.contains(r#""name":"app/DatabaseURL""#),
        "each item is logged: {log}"
    );
    s.run(
        &["apply", "--env", "prod-eu", "--json", "--verify"],
        None,
        0,
    );
    s.run(
        &[
            "plan",
            "--env",
            "prod-eu",
            "--verify",
            "--detailed-exitcode",
        ],
        None,
        0,
    );
    s.run(&["reconcile", "--once", "--verify-every", "1"], None, 0);
    s.run(&["reconcile", "--once", "--json"], None, 0);
    // The most verbose output.
    s.run(&["apply", "--env", "prod-eu", "-vvv", "--verify"], None, 0);
    s.run(
        &[
            "plan",
            "--env",
            "prod-eu",
            "-vvv",
            "--verify",
            "--on-drift",
            "revert",
        ],
        None,
        0,
    );
    s.run(
        &["reconcile", "--once", "-vvv", "--verify-every", "1"],
        None,
        0,
    );
    s.run(&["get", "Nope", "--type", "local", "-vvv"], None, 1);
    // The metrics and health endpoints of a running reconcile loop.
    {
        use std::process::Stdio;
        let mut c = p.std_cmd(&[
            "reconcile",
            "--every",
            "1h",
            "--metrics-addr",
            "127.0.0.1:0",
            "--verify-every",
            "1",
            "-vvv",
        ]);
        c.env("SECRETSYNC_CACHE_DIR", s.cache.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = common::spawn(&mut c);
        let mut lines = common::Lines::new(child.stderr.take().unwrap());
        let addr = lines.find(std::time::Duration::from_secs(60), |line| {
            assert_no_canary("reconcile's log", line.as_bytes());
            crate::cli_reconcile::serving_addr(line)
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let m = crate::cli_reconcile::http_get(&addr, "/metrics");
            assert_no_canary("/metrics", m.as_bytes());
            assert_no_canary(
                "/healthz",
                crate::cli_reconcile::http_get(&addr, "/healthz").as_bytes(),
            );
            if m.contains("secretsync_reconcile_runs_total{env=\"prod-eu\"") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no round in time:\n{m}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    s.run(&["restore", "--env", "prod-eu", "DatabaseURL"], None, 1);
    s.run(
        &[
            "migrate",
            "--from",
            "file://./replica",
            "--prefix-from",
            "app/",
            "--to",
            "file://./copy",
            "--dry-run",
        ],
        None,
        0,
    );
    s.run(
        &[
            "migrate",
            "--from",
            "file://./replica",
            "--prefix-from",
            "app/",
            "--to",
            "file://./copy",
        ],
        None,
        0,
    );
    s.run(
        &[
            "migrate",
            "--from",
            "file://./replica",
            "--prefix-from",
            "app/",
            "--to",
            "file://./copy",
            "--json",
        ],
        None,
        0,
    );
    s.run(
        &[
            "import",
            "--from",
            "file://./copy",
            "--type",
            "preview",
            "--dry-run",
        ],
        None,
        0,
    );
    s.run(
        &["import", "--from", "file://./copy", "--type", "preview"],
        None,
        0,
    );
    s.run(&["pull"], None, 0);
    s.run(&["pull", "--json"], None, 0);
    // run: secretsync itself says nothing of the value, with or without --redact.
    s.run(&["run", "--", "true"], None, 0);
    s.run(&["run", "--", "sh", "-c", "test -n \"$Token\""], None, 0);
    s.run(
        &[
            "run",
            "--redact",
            "--",
            "sh",
            "-c",
            "echo \"$Token\"; echo \"$Token\" >&2",
        ],
        None,
        0,
    );
    s.run(
        &["run", "--env", "prod", "--", "sh", "-c", "exit 3"],
        None,
        3,
    );
    s.run(&["delete", "DatabaseURL", "--type", "dev"], None, 0);
    s.run(&["quickstart", "--dir", "qs"], None, 0);
    // What is allowed to print it, does.
    assert_eq!(p.get("DatabaseURL", "--type", "prod"), CANARY);
    sweep_files(
        p.dir.path(),
        &[
            &p.path("replica"),
            &p.path("copy"),
            &p.path("qs"),
            s.cache.path(),
        ],
    );
    sweep_files(p.home.path(), &[]);
    let store = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    assert_no_canary("the store file", &store);
}

#[test]
fn merge_conflicts_show_no_value() {
    // Two stores that changed one value differently: the driver stops, naming the secret only.
    let p = Project::init();
    p.set("Token", "--type", "prod", "base-value");
    let base = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    p.set("Token", "--type", "prod", CANARY);
    let ours = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    std::fs::write(p.path("secrets.enc.toml"), &base).unwrap();
    p.set("Token", "--type", "prod", &format!("{CANARY}-theirs"));
    let theirs = std::fs::read(p.path("secrets.enc.toml")).unwrap();
    for (name, bytes) in [("base", &base), ("ours", &ours), ("theirs", &theirs)] {
        std::fs::write(p.path(name), bytes).unwrap();
    }
    let out = p.run(&["merge-file", "base", "ours", "theirs"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("Token"), "{}", text(&out));
    assert_no_canary("merge-file stdout", &out.stdout);
    assert_no_canary("merge-file stderr", &out.stderr);
}

#[test]
fn a_panic_while_holding_values_shows_none() {
    let value = secretsync_core::SecretValue::from(CANARY);
    let secret = secretsync_core::Secret {
        name: "DatabaseURL".into(),
        value: value.clone(),
        version: None,
    };
    let caught = std::panic::catch_unwind(|| panic!("while writing {secret:?} = {value:?}"));
    let message = caught.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("[REDACTED]"), "{message}");
    assert_no_canary("a panic's message", message.as_bytes());
}
