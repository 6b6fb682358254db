//! `reconcile`: --once for CronJobs, shards, and the long-running loop with metrics, health and
//! a clean stop on SIGTERM.

use crate::common;

use common::{Project, CANARY};
use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn project_with_envs(n: usize, backends: &std::path::Path) -> Project {
    let p = Project::init();
    let mut cfg = String::from("[secrets.A]\n");
    for i in 0..n {
        cfg.push_str(&format!(
            "[environments.env-{i}]\ntype = \"production\"\nbackend = \"file://{}/env-{i}\"\nprefix = \"app/\"\n",
            backends.display()
        ));
    }
    p.append_config(&cfg);
    p.set("A", "--type", "prod", CANARY);
    p
}

#[test]
fn once_applies_every_environment_and_exits_like_apply() {
    let dir = tempfile::tempdir().unwrap();
    let p = project_with_envs(3, dir.path());
    let out = p.run(&["reconcile", "--once"], None);
    assert!(out.status.success(), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("synced env=env-").count(), 3, "{err}");
    let synced = |what: &str| {
        err.lines()
            .filter(|l| l.contains("synced env=env-") && l.contains(what))
            .count()
    };
    assert_eq!(synced(" created=1 "), 3, "{err}");
    for i in 0..3 {
        assert!(dir.path().join(format!("env-{i}/secrets.json")).exists());
    }
    let out = p.run(&["reconcile", "--once"], None);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("synced env=env-") && l.contains(" unchanged=1 "))
            .count(),
        3,
        "{err}"
    );
    common::assert_no_canary("reconcile", &out.stderr);
}

/// Changes env-0's replica of A behind secretsync's back.
fn drift_env0(backends: &std::path::Path) {
    common::file_put(&backends.join("env-0"), &[("app/A", "changed by hand")]);
}

#[test]
fn drift_exits_2_naming_the_environment_and_revert_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = project_with_envs(2, dir.path());
    p.ok(
        &[
            "reconcile",
            "--once",
            "--parallel-envs",
            "1",
            "--jitter",
            "0",
        ],
        None,
    );
    drift_env0(dir.path());
    let out = p.run(&["reconcile", "--once", "--json"], None);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let envs = j["environments"].as_array().unwrap();
    let env0 = envs.iter().find(|e| e["env"] == "env-0").unwrap();
    assert_eq!(env0["result"], "attention", "{j}");
    assert_eq!(env0["detail"]["summary"]["drift"], 1, "{j}");
    assert_eq!(
        env0["detail"]["needs_you"],
        serde_json::json!(["app/A (drift)"]),
        "{j}"
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.lines().any(|l| l.contains("needs you")
            && l.contains("env=env-0")
            && l.contains("items=app/A (drift)")),
        "the log names the item: {}",
        common::text(&out)
    );
    let out = p.code(&["reconcile", "--once", "--on-drift", "revert"], None, 0);
    assert!(
        out.lines().any(
            |l| l.contains("synced env=env-0 created=0 updated=0 deleted=0 drifted=1 failed=0")
        ),
        "{out}"
    );
    assert!(
        out.contains("round done round=1 environments=2 ok=2"),
        "each round's summary: {out}"
    );
    p.code(&["reconcile", "--once"], None, 0);
}

#[test]
fn a_failing_environment_exits_1_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = project_with_envs(2, dir.path());
    // env-0's backend is a file where a folder is needed: every write fails.
    std::fs::write(dir.path().join("env-0"), "not a folder").unwrap();
    let out = p.code(&["reconcile", "--once"], None, 1);
    assert!(
        out.lines()
            .any(|l| l.contains("environment failed env=env-0 error=file: list: cannot read")),
        "{out}"
    );
    assert!(out.contains("synced env=env-1 created=1"), "{out}");
}

#[test]
fn shards_split_the_environments_between_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let p = project_with_envs(8, dir.path());
    let mut all = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = p.ok(&["reconcile", "--once", "--json", "--shard", &shard], None);
        let j: Value = serde_json::from_str(&out).unwrap();
        all.extend(
            j["environments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["env"].as_str().unwrap().to_string()),
        );
    }
    all.sort();
    let want: Vec<String> = (0..8).map(|i| format!("env-{i}")).collect();
    assert_eq!(all, want, "each environment in exactly one shard");
    let out = p.code(&["reconcile", "--once", "--shard", "3/3"], None, 1);
    assert!(out.contains("K/N"), "{out}");
    // Adopting drift into the store needs a person: the loop does not even offer it.
    let out = p.code(&["reconcile", "--once", "--on-drift", "adopt"], None, 1);
    assert!(
        out.contains("invalid value 'adopt'") && out.contains("[possible values: report, revert]"),
        "{out}"
    );
}

pub(crate) fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn the_loop_serves_metrics_and_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let p = project_with_envs(2, dir.path());
    let mut c = p.std_cmd(&[
        "reconcile",
        "--every",
        "1s",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = common::spawn(&mut c);
    let mut lines = common::Lines::new(child.stderr.take().unwrap());
    let addr = lines.find(Duration::from_secs(60), serving_addr);

    let deadline = Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let m = http_get(&addr, "/metrics");
        let ok_rounds = |env: &str| {
            let key = format!("secretsync_reconcile_runs_total{{env=\"{env}\",result=\"ok\"}} ");
            m.lines()
                .find_map(|l| l.strip_prefix(key.as_str()))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        if ok_rounds("env-0") >= 2 && ok_rounds("env-1") >= 2 {
            break m;
        }
        assert!(Instant::now() < deadline, "no second round in time:\n{m}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        metrics.contains(
            "secretsync_backend_api_calls_total{backend=\"file\",op=\"list\",outcome=\"ok\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("secretsync_reconcile_last_success_timestamp_seconds{env=\"env-0\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("secretsync_reconcile_actions_total{env=\"env-0\",action=\"create\"} 1"),
        "{metrics}"
    );
    for family in [
        "secretsync_reconcile_duration_seconds{env=\"env-1\"}",
        "secretsync_reconcile_drifted_secrets{env=\"env-0\"} 0",
        "secretsync_reconcile_actions_total{env=\"env-1\",action=\"unchanged\"}",
    ] {
        assert!(metrics.contains(family), "{family} missing:\n{metrics}");
    }
    common::assert_no_canary("metrics", metrics.as_bytes());
    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"last_round_ok\":true"),
        "{health}"
    );
    // Its body has the README's shape.
    let body: Value = serde_json::from_str(health.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let mut got = std::collections::BTreeSet::new();
    crate::json_schemas::keys(&body, &mut got);
    crate::json_schemas::check_shape(
        &crate::json_schemas::documented(),
        "reconcile /healthz",
        &got,
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait_for(Duration::from_secs(30));
    let log = lines.rest(Duration::from_secs(5));
    assert!(code.success(), "exit {code:?}: {log}");
    assert!(log.contains("stopping (signal received)"), "{log}");
    assert!(!log.contains("canary"));
}

/// The address from reconcile's "serving" log line.
pub fn serving_addr(line: &str) -> Option<String> {
    line.contains("serving /metrics")
        .then(|| line.split("url=http://").nth(1))
        .flatten()
        .map(|rest| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
}
