//! Crash safety: `kill -9` an `apply` at random points, on every backend family, then rerun:
//! it converges, every secret holds its value, and a verifying plan finds nothing half-written
//! or half-labelled. And `kill -9` a `set` while 8 other processes set other secrets: the
//! store always opens and every `set` that reported success is in it.

use crate::common::{self, bulk_set, Project};
use secretsync_core::conformance::{emulator_endpoint, random_prefix};
use std::time::{Duration, Instant};

/// How many times each backend family is killed mid-apply.
const TRIALS: u64 = 10;
/// Secrets per apply.
const SECRETS: usize = 40;

/// A small deterministic generator, so a failing trial can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Kills `apply` at random points `TRIALS` times, rerunning and checking after each.
fn kill_apply_and_converge(p: &Project, env: &str, url: &str, prefix: &str, seed: u64) {
    let values = |round: u64| -> Vec<(String, String)> {
        (0..SECRETS)
            .map(|k| (format!("S{k:03}"), format!("round-{round}-value-{k}")))
            .collect()
    };
    bulk_set(p, "production", &values(0));
    let started = Instant::now();
    p.ok(&["apply", "--env", env], None);
    let full = started.elapsed().as_millis() as u64;
    let mut rng = Rng(seed);
    for round in 1..=TRIALS {
        // New values for some secrets, and some new secrets: creates and updates to cut into.
        let mut v = values(round);
        v.retain(|(n, _)| n.as_bytes()[3] % 2 == (round % 2) as u8);
        v.push((format!("New{round}"), format!("new-{round}")));
        bulk_set(p, "production", &v);
        let delay = rng.below(full + 50);
        let mut child = common::spawn(&mut p.std_cmd(&["apply", "--env", env, "--quiet"]));
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.0.kill();
        child.wait_for(Duration::from_secs(30));
        let what =
            format!("{env}, round {round}, killed after {delay} ms of ~{full} ms (seed {seed})");
        let out = p.run(&["apply", "--env", env], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: rerun: {}",
            common::text(&out)
        );
        let out = p.run(
            &["plan", "--env", env, "--verify", "--detailed-exitcode"],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: verifying plan: {}",
            common::text(&out)
        );
        // Read back by the backend URL, not through the store.
        let got: serde_json::Value = serde_json::from_str(&p.ok(
            &[
                "export", "--from", url, "--prefix", prefix, "--format", "json",
            ],
            None,
        ))
        .unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&p.ok(&["export", "--env", env, "--format", "json"], None))
                .unwrap();
        assert_eq!(
            got, want,
            "{what}: the backend holds other values than the store"
        );
    }
}

fn project_with(env_vars: Vec<(String, String)>, backend: &str) -> Project {
    let p = Project::init_with(env_vars);
    p.append_config("[secrets.S000]\n");
    p.append_config(&format!(
        "[environments.crash]\ntype = \"production\"\nbackend = \"{backend}\"\nprefix = \"app/\"\nwrites_per_second = 1000\n"
    ));
    p
}

#[test]
fn a_killed_apply_converges_on_a_file_backend() {
    let p = project_with(Vec::new(), "file://./replica");
    let url = format!("file://{}", p.path("replica").display());
    kill_apply_and_converge(&p, "crash", &url, "app/", 0x5eed_0001);
}

#[test]
fn a_killed_apply_converges_on_moto() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let prefix = random_prefix("crash");
    let url = format!("aws-sm://?region=us-east-1&endpoint={ep}");
    let p = Project::init_with(common::aws_env(&ep));
    p.append_config(&format!(
        "[environments.crash]\ntype = \"production\"\nbackend = \"{url}\"\nprefix = \"{prefix}app/\"\nwrites_per_second = 1000\n"
    ));
    kill_apply_and_converge(&p, "crash", &url, &format!("{prefix}app/"), 0x5eed_0002);
}

#[test]
fn a_killed_apply_converges_on_the_gcp_emulator() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let project = random_prefix("crash")
        .trim_end_matches('_')
        .replace('_', "-");
    let url = format!("gcp-sm://{project}?endpoint={ep}&auth=none");
    let p = Project::init_with(common::gcp_env(Some(&ep), None));
    p.append_config(&format!(
        "[environments.crash]\ntype = \"production\"\nbackend = \"{url}\"\nprefix = \"app_\"\nwrites_per_second = 1000\n"
    ));
    kill_apply_and_converge(&p, "crash", &url, "app_", 0x5eed_0003);
}

#[test]
fn a_killed_apply_converges_on_openbao() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let mount = random_prefix("crash");
    let url = format!(
        "{}/secret/{mount}",
        addr.replace("http://", "vault+http://")
    );
    let p = Project::init_with(vec![("VAULT_TOKEN".into(), "root".into())]);
    p.append_config(&format!(
        "[environments.crash]\ntype = \"production\"\nbackend = \"{url}\"\nprefix = \"app/\"\nwrites_per_second = 1000\n"
    ));
    kill_apply_and_converge(&p, "crash", &url, "app/", 0x5eed_0004);
}

#[test]
fn a_killed_set_among_eight_writers_loses_no_reported_write() {
    let p = Project::init();
    let mut rng = Rng(0x5eed_0005);
    let mut reported = Vec::new();
    for round in 0..10 {
        let spawn_set = |name: &str| {
            let mut c = p.std_cmd(&["set", name, "--type", "dev", "--from-file", "-"]);
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            let mut child = common::spawn(&mut c);
            use std::io::Write;
            let _ = child
                .0
                .stdin
                .take()
                .unwrap()
                .write_all(format!("value-of-{name}").as_bytes());
            child
        };
        let victim_name = format!("Victim{round}");
        let mut victim = spawn_set(&victim_name);
        let writers: Vec<_> = (0..8)
            .map(|k| {
                let name = format!("W{round}_{k}");
                (name.clone(), spawn_set(&name))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.below(120)));
        let _ = victim.0.kill();
        victim.wait_for(Duration::from_secs(60));
        for (name, mut child) in writers {
            if child.wait_for(Duration::from_secs(120)).success() {
                reported.push(name);
            }
        }
        // The store opens after every round.
        let out = p.run(&["list", "--json"], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            common::text(&out)
        );
    }
    assert!(
        reported.len() >= 70,
        "only {} of 80 writers succeeded",
        reported.len()
    );
    let list: serde_json::Value = serde_json::from_str(&p.ok(&["list", "--json"], None)).unwrap();
    let names: Vec<&str> = list["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for name in &reported {
        assert!(
            names.contains(&name.as_str()),
            "{name} reported success but is missing"
        );
        assert_eq!(p.get(name, "--type", "dev"), format!("value-of-{name}"));
    }
}
