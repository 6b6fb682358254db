//! `run`, `export` and `pull`: secrets into programs, and nowhere else.

use crate::common;

use common::{text, Project, CANARY};
use std::process::{Command, Stdio};
use std::time::Duration;

fn project() -> (Project, tempfile::TempDir) {
    let p = Project::init();
    let cache = tempfile::tempdir().unwrap();
    (p, cache)
}

fn cmd(p: &Project, cache: &tempfile::TempDir, args: &[&str]) -> assert_cmd::Command {
    let mut c = p.cmd(args);
    c.env("SECRETSYNC_CACHE_DIR", cache.path());
    c
}

#[test]
fn run_passes_values_and_the_exit_code() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "tok-value");
    p.set("TOKEN", "--type", "prod", "prod-value");
    let out = cmd(
        &p,
        &cache,
        &["run", "--", "sh", "-c", "printf %s \"$TOKEN\"; exit 7"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(out.stdout, b"tok-value");
    let out = cmd(
        &p,
        &cache,
        &[
            "run",
            "--env",
            "prod",
            "--",
            "sh",
            "-c",
            "printf %s \"$TOKEN\"",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"prod-value");
    let out = cmd(&p, &cache, &["run", "--", "no-such-program-xyz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "as a shell does");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot run \"no-such-program-xyz\": command not found (check the name, or PATH)\n"
    );
    std::fs::write(p.path("not-executable"), "#!/bin/sh\n").unwrap();
    let out = cmd(&p, &cache, &["run", "--", "./not-executable"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", text(&out));
    let out = cmd(&p, &cache, &["run", "--env", "prod"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a command is required");
}

#[test]
fn signals_reach_the_child_and_its_fate_is_the_exit_code() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "tok-value");
    let mut cases: Vec<(String, &str, i32)> =
        [("TERM", 42), ("INT", 43), ("HUP", 44), ("USR1", 45)]
            .into_iter()
            .map(|(sig, code)| {
                (
                    format!("trap 'exit {code}' {sig}; echo ready; while :; do sleep 0.1; done"),
                    sig,
                    code,
                )
            })
            .collect();
    cases.push(("echo ready; exec sleep 30".into(), "TERM", 128 + 15));
    for (script, sig, want) in cases {
        let mut c = p.std_cmd(&["run", "--", "sh", "-c", &script]);
        c.env("SECRETSYNC_CACHE_DIR", cache.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = common::spawn(&mut c);
        // The child is ready (its trap is set) once it says so.
        let mut lines = common::Lines::new(child.stdout.take().unwrap());
        lines.find(Duration::from_secs(30), |l| (l == "ready").then_some(()));
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let code = child.wait_for(Duration::from_secs(30)).code();
        assert_eq!(code, Some(want), "{sig}: {script}");
    }
}

#[test]
fn binary_values_arrive_as_private_files_removed_afterwards() {
    let (p, cache) = project();
    std::fs::write(p.path("key.bin"), [0u8, 159, 146, 150, 1]).unwrap();
    p.ok(
        &["set", "KEY", "--type", "local", "--from-file", "key.bin"],
        None,
    );
    let script = "stat -c '%a' \"$KEY_FILE\"; echo \"$KEY_FILE\"; od -An -tu1 \"$KEY_FILE\"";
    let out = cmd(&p, &cache, &["run", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "600", "{stdout}");
    assert!(
        !std::path::Path::new(lines[1]).exists(),
        "removed after the run: {}",
        lines[1]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "159", "146", "150", "1"]
    );
}

#[test]
fn redact_min_len_sets_the_shortest_value_redacted() {
    let (p, cache) = project();
    p.set("PIN", "--type", "local", "4711");
    let script = "echo \"pin $PIN\"";
    let out = cmd(&p, &cache, &["run", "--redact", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pin 4711\n");
    let out = cmd(
        &p,
        &cache,
        &[
            "run",
            "--redact",
            "--redact-min-len",
            "4",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pin [REDACTED:PIN]\n");
}

#[test]
fn run_and_export_from_a_backend_take_a_prefix() {
    let (p, cache) = project();
    common::file_put(
        &p.path("replica.json"),
        &[("svc/TOKEN", "tok"), ("svc/DB", "db"), ("other/X", "x")],
    );
    let script = "printf '%s|%s|%s' \"$TOKEN\" \"$DB\" \"${X:-unset}\"";
    let from = ["--from", "file://replica.json", "--prefix", "svc/"];
    let mut args = vec!["run"];
    args.extend(from);
    args.extend(["--", "sh", "-c", script]);
    let out = cmd(&p, &cache, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok|db|unset");
    let mut args = vec!["export"];
    args.extend(from);
    args.extend(["--format", "json"]);
    let out = cmd(&p, &cache, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j, serde_json::json!({"DB": "db", "TOKEN": "tok"}));
}

#[test]
fn redaction_streams_across_writes_and_multi_line_values() {
    let (p, cache) = project();
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----";
    p.set("TOKEN", "--type", "local", CANARY);
    p.set("CERT", "--type", "local", cert);
    p.set("PIN", "--type", "local", "4711");
    // The child writes the token in two pieces, with a pause between: two reads for us.
    let script = "printf 'a %s' \"$(printf %s \"$TOKEN\" | head -c 9)\"; sleep 0.3; \
                  printf '%s b\\n' \"$(printf %s \"$TOKEN\" | tail -c +10)\"; printf '%s\\n' \"$CERT\"; \
                  printf 'pin %s\\n' \"$PIN\" >&2; printf 'err %s\\n' \"$TOKEN\" >&2";
    let out = cmd(&p, &cache, &["run", "--redact", "--", "sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "a [REDACTED:TOKEN] b\n[REDACTED:CERT]\n");
    assert!(stderr.contains("err [REDACTED:TOKEN]"), "{stderr}");
    assert!(
        stderr.contains("pin 4711") && stderr.contains("not redacting PIN (shorter than 6 bytes)"),
        "{stderr}"
    );
    assert!(!stdout.contains("canary") && !stderr.contains("canary"));
}

#[test]
fn export_round_trips_through_sh_and_a_dotenv_parser() {
    let (p, cache) = project();
    let tricky = [
        ("PLAIN", "simple"),
        ("QUOTES", "it's a \"quote\""),
        ("DOLLAR", "$HOME ${PATH} `date` $(id)"),
        ("BACKSLASH", "a\\b\\\\c\\n"),
        ("NEWLINES", "line1\nline2\n"),
        ("UNICODE", "päss wörd ✓"),
        ("SPACES", "  padded  "),
    ];
    for (n, v) in tricky {
        p.ok(
            &["set", n, "--type", "local", "--from-file", "-"],
            Some(v.as_bytes()),
        );
    }
    let out = cmd(
        &p,
        &cache,
        &["export", "--env", "local", "--format", "shell"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(p.path("vars.sh"), &out.stdout).unwrap();
    for (n, v) in tricky {
        let got = Command::new("sh")
            .current_dir(p.dir.path())
            .args(["-c", &format!(". ./vars.sh; printf %s \"${n}\"")])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(got.stdout).unwrap(), v, "shell {n}");
    }
    let out = cmd(
        &p,
        &cache,
        &["export", "--env", "local", "--format", "dotenv"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::write(p.path("vars.env"), &out.stdout).unwrap();
    let parsed: std::collections::HashMap<String, String> =
        dotenvy::from_path_iter(p.path("vars.env"))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
    for (n, v) in tricky {
        assert_eq!(parsed.get(n).map(String::as_str), Some(v), "dotenv {n}");
    }
    let out = cmd(
        &p,
        &cache,
        &["export", "--env", "local", "--format", "json"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["DOLLAR"], "$HOME ${PATH} `date` $(id)");
    let out = cmd(
        &p,
        &cache,
        &["export", "--env", "local", "--format", "k8s-secret"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("  name: demo-local\n"),
        "the default name is APP-ENV"
    );
    let out = cmd(
        &p,
        &cache,
        &[
            "export",
            "--env",
            "local",
            "--format",
            "k8s-secret",
            "--name",
            "billing",
        ],
    )
    .output()
    .unwrap();
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(
        yaml.contains("kind: Secret")
            && yaml.contains("name: billing")
            && yaml.contains("  PLAIN: c2ltcGxl\n"),
        "{yaml}"
    );
}

#[test]
fn export_refuses_a_terminal_without_force() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", CANARY);
    let bin = assert_cmd::cargo::cargo_bin("secretsync");
    let run = |extra: &str| {
        let inner = format!(
            "{} export --env local --format dotenv {extra}",
            bin.display()
        );
        Command::new("script")
            .args(["-qec", &inner, "/dev/null"])
            .current_dir(p.dir.path())
            .env_clear()
            .envs(p.vars())
            .env("SECRETSYNC_CACHE_DIR", cache.path())
            .output()
            .unwrap()
    };
    let out = run("");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("refusing to print secret values to a terminal") && !t.contains("canary"),
        "{t}"
    );
    let out = run("--force");
    assert!(out.status.success() && text(&out).contains(CANARY));
}

#[test]
fn pull_caches_local_values_for_offline_runs_and_refreshes_when_the_store_changes() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "v1");
    p.set("TOKEN", "--type", "prod", "prod-only");
    let out = cmd(&p, &cache, &["pull"]).output().unwrap();
    assert!(
        out.status.success() && text(&out).contains("pulled 1 value of local"),
        "{}",
        text(&out)
    );
    let cached = walkdir::WalkDir::new(cache.path())
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "local.json")
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(cached.path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(
        !std::fs::read_to_string(cached.path())
            .unwrap()
            .contains("prod-only"),
        "only local values are cached"
    );
    let out = cmd(&p, &cache, &["pull", "--env", "prod"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("only environments of type local"));

    // The store changes; then the identity is gone (offline, or no access): the cache serves.
    p.set("TOKEN", "--type", "local", "v2");
    let key = std::fs::read(p.identity_file()).unwrap();
    std::fs::remove_file(p.identity_file()).unwrap();
    let out = cmd(
        &p,
        &cache,
        &["run", "--", "sh", "-c", "printf %s \"$TOKEN\""],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"v1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("using the local cache")
            && err.contains("store changed since the cache was pulled"),
        "{err}"
    );

    // With the key back, a run sees the new value and refreshes the cache.
    std::fs::write(p.identity_file(), key).unwrap();
    let out = cmd(
        &p,
        &cache,
        &["run", "--", "sh", "-c", "printf %s \"$TOKEN\""],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"v2");
    std::fs::remove_file(p.identity_file()).unwrap();
    let out = cmd(
        &p,
        &cache,
        &["run", "--", "sh", "-c", "printf %s \"$TOKEN\""],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"v2");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("store changed"),
        "the cache was refreshed"
    );
}

#[test]
fn run_warns_about_missing_declared_secrets_and_check_refuses() {
    let (p, cache) = project();
    p.append_config("[secrets.TOKEN]\n[secrets.DB]\n");
    p.set("TOKEN", "--type", "local", "tok-value");
    let out = cmd(&p, &cache, &["run", "--", "true"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("warning: local has no value for declared DB"));
    let out = cmd(
        &p,
        &cache,
        &["run", "--check", "--", "sh", "-c", "echo ran"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("ran"),
        "the command must not run"
    );
    p.set("DB", "--type", "local", "pg");
    let out = cmd(
        &p,
        &cache,
        &["run", "--check", "--", "sh", "-c", "echo ran"],
    )
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"ran\n");
}

#[test]
fn the_store_key_is_not_passed_to_the_program() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "tok-value");
    let key = std::fs::read_to_string(p.identity_file()).unwrap();
    std::fs::remove_file(p.identity_file()).unwrap();
    let out = cmd(
        &p,
        &cache,
        &[
            "run",
            "--",
            "sh",
            "-c",
            "printf '%s|%s' \"$TOKEN\" \"${SECRETSYNC_AGE_IDENTITY:-unset}\"",
        ],
    )
    .env("SECRETSYNC_AGE_IDENTITY", key)
    .output()
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok-value|unset");
}

#[test]
fn run_from_a_backend_refuses_loader_variables_unless_declared() {
    let (p, cache) = project();
    common::file_put(
        &p.path("replica.json"),
        &[("TOKEN", "tok"), ("NODE_OPTIONS", "--require=/tmp/evil.js")],
    );
    let script = "printf '%s|%s' \"$TOKEN\" \"${NODE_OPTIONS:-unset}\"";
    let args = [
        "run",
        "--from",
        "file://replica.json",
        "--",
        "sh",
        "-c",
        script,
    ];
    let out = cmd(&p, &cache, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(out.stdout.is_empty(), "the program must not run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ")
            && err.contains("NODE_OPTIONS")
            && err.contains("[secrets.NAME]"),
        "{err}"
    );
    assert!(!err.contains("evil.js"), "the value is not shown: {err}");
    p.append_config("\n[secrets.NODE_OPTIONS]\n");
    let out = cmd(&p, &cache, &args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "tok|--require=/tmp/evil.js"
    );
}

#[test]
fn clean_env_passes_only_the_secrets_and_a_few_basics() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "tok-value");
    let script = "printf '%s|%s|%s' \"$TOKEN\" \"${OUTER_VAR:-unset}\" \"${PATH:+path}\"";
    let out = cmd(
        &p,
        &cache,
        &["run", "--clean-env", "--", "sh", "-c", script],
    )
    .env("OUTER_VAR", "outer")
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok-value|unset|path");
    let out = cmd(&p, &cache, &["run", "--", "sh", "-c", script])
        .env("OUTER_VAR", "outer")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tok-value|outer|path");
}

#[test]
fn run_from_a_backend_without_the_prefix_refuses_and_says_which() {
    let (p, cache) = project();
    common::file_put(
        &p.path("replica.json"),
        &[("svc/TOKEN", "v"), ("svc/DB", "v")],
    );
    let out = cmd(
        &p,
        &cache,
        &["run", "--from", "file://replica.json", "--", "true"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: none of the 2 secrets in file://replica.json is usable as an environment variable name (e.g. svc/DB): pass --prefix svc/ to strip their path; nothing would be passed on\n"
    );
}

#[test]
fn run_without_the_double_dash_gets_a_tip() {
    let (p, cache) = project();
    let out = cmd(&p, &cache, &["run", "--env", "local", "printenv", "HOME"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with("tip: the command to run goes after `--`: secretsync run --env local -- printenv HOME\n"),
        "{err}"
    );
}

#[test]
fn json_is_refused_where_it_cannot_apply() {
    let (p, cache) = project();
    p.set("TOKEN", "--type", "local", "tok-value");
    let out = cmd(&p, &cache, &["run", "--json", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: --json does not apply to run: its output is the program's"),
        "{}",
        text(&out)
    );
    let out = cmd(&p, &cache, &["export", "--json", "--format", "dotenv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use --format json"),
        "{}",
        text(&out)
    );
    let out = cmd(&p, &cache, &["export", "--json", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
