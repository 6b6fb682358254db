//! `reconcile`: --once for CronJobs, shards, and the long-running loop with metrics, health and
//! a clean stop on SIGTERM.

mod common;

use common::{Project, CANARY};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
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
    assert_eq!(err.matches("1 created").count(), 3, "{err}");
    for i in 0..3 {
        assert!(dir.path().join(format!("env-{i}/secrets.json")).exists());
    }
    let out = p.run(&["reconcile", "--once"], None);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .matches("1 unchanged")
            .count()
            == 3
    );
    assert!(!common::text(&out).contains("canary"));
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
    let out = p.code(&["reconcile", "--once", "--on-drift", "adopt"], None, 1);
    assert!(out.contains("unattended"), "{out}");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
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
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("secretsync"))
        .current_dir(p.dir.path())
        .env("XDG_CONFIG_HOME", p.home.path())
        .env_remove("SECRETSYNC_AGE_IDENTITY")
        .args([
            "reconcile",
            "--every",
            "1s",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("reconcile exited early").unwrap();
        if let Some(rest) = line.strip_prefix("reconcile: serving http://") {
            break rest.split('/').next().unwrap().to_string();
        }
    };
    let log =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));

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
    assert!(!metrics.contains("canary"));
    let health = http_get(&addr, "/healthz");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"last_round_ok\":true"),
        "{health}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "reconcile did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = log.join().unwrap();
    assert!(code.success(), "exit {code:?}: {log}");
    assert!(log.contains("stopping (signal received)"), "{log}");
    assert!(!log.contains("canary"));
}
