//! Preview environments, one per pull request, through their whole life on every backend: two
//! instances of a template side by side, the teardown of one (and again: nothing to do), the
//! collection of the others with `--keep` and with `--older-than`, a secret someone else wrote
//! under the template's root left alone, a `kill -9` in the middle of a teardown converging on
//! the rerun, and the ids and names refused before any request. The emulator runs need the
//! emulators; they skip loudly without them and fail under CI=true.

use crate::common::{self, Project};
use secretsync_core::conformance::{emulator_endpoint, random_prefix};
use secretsync_core::{list_all, PutOptions, SecretBackend};
use std::sync::Arc;
use std::time::Duration;

/// Where a run's previews live.
struct Target {
    /// The backend URL of the template.
    url: String,
    /// The template's prefix, holding `{id}`.
    prefix: String,
    /// The same backend, opened by the test to look and to write a foreign secret.
    backend: Arc<dyn SecretBackend>,
    /// Extra variables every command needs (credentials, endpoints).
    env: Vec<(String, String)>,
}

impl Target {
    /// The prefix every instance's starts with.
    fn root(&self) -> &str {
        &self.prefix[..self.prefix.find("{id}").unwrap()]
    }

    fn instance(&self, id: &str) -> String {
        self.prefix.replace("{id}", id)
    }

    /// Every name under the root, sorted, relative to it.
    async fn names(&self) -> Vec<String> {
        let root = self.root().to_string();
        let mut n: Vec<String> = list_all(self.backend.as_ref(), &root)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.name[root.len()..].to_string())
            .collect();
        n.sort();
        n
    }
}

fn project(t: &Target, extra: &str) -> Project {
    let p = Project::init_with(t.env.clone());
    p.append_config(&format!(
        "[secrets.A]\n[secrets.B]\n[environments.pr]\ntype = \"preview\"\nbackend = \"{}\"\nprefix = \"{}\"\n{extra}",
        t.url, t.prefix
    ));
    p.set("A", "--type", "preview", "a-preview");
    p.set("B", "--type", "preview", "b-preview");
    p
}

/// `name`s of instance `id` relative to the root, for comparing with [`Target::names`].
fn of(t: &Target, id: &str, names: &[&str]) -> Vec<String> {
    let root = t.root();
    names
        .iter()
        .map(|n| format!("{}{n}", &t.instance(id)[root.len()..]))
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The whole life of two previews and a collection, on `t`.
async fn lifecycle(t: &Target, force: bool) {
    let p = project(t, "");
    let force: &[&str] = if force { &["--force-delete"] } else { &[] };
    for id in ["7", "8"] {
        let out = p.ok(&["apply", "--env", &format!("pr:{id}")], None);
        assert!(out.contains("2 done"), "{out}");
    }
    // Someone else's secret under pr:7's own prefix.
    let foreign = format!("{}Foreign", t.instance("7"));
    t.backend
        .put(&foreign, &"theirs".into(), &PutOptions::default())
        .await
        .unwrap();
    let both = sorted([of(t, "7", &["A", "B", "Foreign"]), of(t, "8", &["A", "B"])].concat());
    assert_eq!(t.names().await, both);

    // The instance's values are the preview type's, shared by every instance.
    assert_eq!(p.get("A", "--env", "pr:8"), "a-preview");

    // Tear down pr:7: its two secrets go, pr:8's and the foreign one stay.
    let args = [&["teardown", "--env", "pr:7", "--yes"][..], force].concat();
    let out = p.ok(&args, None);
    assert!(out.contains("2 done, 0 failed"), "{out}");
    let left = sorted([of(t, "7", &["Foreign"]), of(t, "8", &["A", "B"])].concat());
    assert_eq!(t.names().await, left);
    // Again: nothing left of pr:7 to delete.
    let json: serde_json::Value =
        serde_json::from_str(&p.ok(&[&args[..], &["--json"]].concat(), None)).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["environments"][0]["summary"]["delete"], 0, "{json}");

    // A collection keeping 8 removes 11 and leaves 8 and the foreign secret.
    p.ok(&["apply", "--env", "pr:11"], None);
    let out = p.ok(
        &[&["teardown", "--env", "pr", "--keep", "8,9"][..], force].concat(),
        None,
    );
    assert!(
        out.contains("2 done") && out.contains("Kept: pr:8 (2 secrets)."),
        "{out}"
    );
    assert_eq!(t.names().await, left);

    // By age: pr:12 written just now is kept, pr:8 (older than 5 s) goes.
    std::thread::sleep(Duration::from_secs(6));
    p.ok(&["apply", "--env", "pr:12"], None);
    let out = p.ok(
        &[
            &["teardown", "--env", "pr", "--older-than", "5s"][..],
            force,
        ]
        .concat(),
        None,
    );
    assert!(out.contains("Kept: pr:12"), "{out}");
    assert_eq!(
        t.names().await,
        sorted([of(t, "7", &["Foreign"]), of(t, "12", &["A", "B"])].concat())
    );

    // A collection keeping 9 and 10 leaves only the foreign secret.
    p.ok(
        &[&["teardown", "--env", "pr", "--keep", "9,10"][..], force].concat(),
        None,
    );
    assert_eq!(t.names().await, of(t, "7", &["Foreign"]));

    // Refused before any request, exit 1: the template alone, bad ids, a collection that
    // keeps nothing, writing an instance's value.
    for (args, want) in [
        (
            &["apply", "--env", "pr"][..],
            "`pr` is a template: use `--env pr:ID`",
        ),
        (&["plan", "--env", "pr:../x"][..], "invalid id \"../x\""),
        (&["check", "--env", "pr:"][..], "invalid id \"\""),
        (&["teardown", "--env", "pr:a/b"][..], "invalid id \"a/b\""),
        (&["teardown", "--env", "pr"][..], "give --keep"),
        (&["get", "A", "--env", "pr"][..], "is a template"),
        (
            &["set", "A", "--env", "pr:7"][..],
            "set them with --type preview",
        ),
    ] {
        let out = p.code(args, Some(b"x"), 1);
        assert!(out.contains(want), "{args:?}: {out}");
    }
    t.backend
        .delete(
            &foreign,
            &secretsync_core::DeleteOptions {
                mode: secretsync_core::DeleteMode::Force,
            },
        )
        .await
        .unwrap();
}

/// `kill -9` a teardown of many secrets part way through; the rerun deletes what is left and
/// nothing else.
async fn killed_teardown_converges(t: &Target) {
    let p = project(t, "");
    let values: Vec<(String, String)> = (0..20)
        .map(|k| (format!("S{k:02}"), format!("v{k}")))
        .collect();
    common::bulk_set(&p, "preview", &values);
    p.ok(&["apply", "--env", "pr:20"], None);
    p.ok(&["apply", "--env", "pr:21"], None);
    let of20 = t
        .names()
        .await
        .iter()
        .filter(|n| n.starts_with(&of(t, "20", &[""])[0]))
        .count();
    assert_eq!(of20, 22);
    // Slow deletes (5 a second), so that the kill lands in the middle (the config's last table
    // is the template's).
    p.append_config("writes_per_second = 5\n");
    let mut child = common::spawn(&mut p.std_cmd(&[
        "teardown",
        "--env",
        "pr:20",
        "--yes",
        "--max-deletes",
        "100",
        "--concurrency",
        "1",
    ]));
    // Killed once it has deleted something (at 5 a second it is then far from done).
    let left = |names: Vec<String>| {
        names
            .iter()
            .filter(|n| n.starts_with(&of(t, "20", &[""])[0]))
            .count()
    };
    let started = std::time::Instant::now();
    while left(t.names().await) == 22 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.0.kill();
    child.wait_for(Duration::from_secs(30));
    let mid = left(t.names().await);
    assert!(
        0 < mid && mid < 22,
        "the kill landed mid-teardown: {mid} of 22 left"
    );
    let out = p.ok(
        &[
            "teardown",
            "--env",
            "pr:20",
            "--yes",
            "--max-deletes",
            "100",
        ],
        None,
    );
    assert!(
        out.contains(&format!("{mid} done, 0 failed")),
        "{mid} left after the kill: {out}"
    );
    let names = t.names().await;
    assert!(
        !names.iter().any(|n| n.starts_with(&of(t, "20", &[""])[0])),
        "pr:20 converged: {names:?}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with(&of(t, "21", &[""])[0]))
            .count(),
        22,
        "pr:21 untouched"
    );
    p.ok(
        &[
            "teardown",
            "--env",
            "pr",
            "--keep",
            "0",
            "--max-deletes",
            "100",
        ],
        None,
    );
    assert!(t.names().await.is_empty());
}

/// A file:// backend.
fn file_target(dir: &std::path::Path) -> Target {
    let path = dir.join("previews");
    Target {
        url: format!("file://{}", path.display()),
        prefix: "web/pr-{id}/".into(),
        backend: Arc::new(secretsync_core::file::FileBackend::new(path)),
        env: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn previews_live_and_die_on_a_file_backend() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle(&file_target(dir.path()), false).await;
    let dir = tempfile::tempdir().unwrap();
    killed_teardown_converges(&file_target(dir.path())).await;
}

#[cfg(feature = "aws")]
async fn moto_target(ssm: bool) -> Option<Target> {
    let ep = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT")?;
    let aws = secretsync_aws::AwsOptions {
        region: Some("us-east-1".into()),
        endpoint: Some(ep.clone()),
        profile: None,
    };
    let id = random_prefix("pv").replace('_', "");
    Some(if ssm {
        Target {
            url: format!("aws-ssm://?region=us-east-1&endpoint={ep}"),
            prefix: format!("/{id}/pr-{{id}}/"),
            backend: Arc::new(
                secretsync_aws::AwsSsmBackend::new(secretsync_aws::SsmOptions {
                    aws,
                    ..Default::default()
                })
                .await
                .unwrap(),
            ),
            env: common::aws_env(&ep),
        }
    } else {
        Target {
            url: format!("aws-sm://?region=us-east-1&endpoint={ep}"),
            prefix: format!("{id}/pr-{{id}}/"),
            backend: Arc::new(
                secretsync_aws::AwsSmBackend::new(&secretsync_aws::SmOptions {
                    aws,
                    ..Default::default()
                })
                .await
                .unwrap(),
            ),
            env: common::aws_env(&ep),
        }
    })
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread")]
async fn previews_live_and_die_on_aws_secrets_manager() {
    let Some(t) = moto_target(false).await else {
        return;
    };
    // Secrets Manager keeps deleted secrets for a recovery window: the previews' are deleted
    // at once.
    lifecycle(&t, true).await;
    let t = moto_target(false).await.unwrap();
    killed_teardown_converges(&t).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread")]
async fn previews_live_and_die_on_aws_parameter_store() {
    let Some(t) = moto_target(true).await else {
        return;
    };
    lifecycle(&t, false).await;
    let t = moto_target(true).await.unwrap();
    killed_teardown_converges(&t).await;
}

#[cfg(feature = "gcp")]
async fn gcp_target() -> Option<Target> {
    let ep = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT")?;
    let opts = secretsync_gcp::GcpOptions {
        endpoint: Some(ep.clone()),
        anonymous: true,
    };
    let id = random_prefix("pv");
    Some(Target {
        url: format!("gcp-sm://previews?endpoint={ep}&auth=none"),
        prefix: format!("{id}pr-{{id}}_"),
        backend: Arc::new(
            secretsync_gcp::GcpSmBackend::new("previews", &opts)
                .await
                .unwrap(),
        ),
        env: common::gcp_env(Some(&ep), None),
    })
}

#[cfg(feature = "gcp")]
#[tokio::test(flavor = "multi_thread")]
async fn previews_live_and_die_on_gcp_secret_manager() {
    let Some(t) = gcp_target().await else {
        return;
    };
    lifecycle(&t, false).await;
    let t = gcp_target().await.unwrap();
    killed_teardown_converges(&t).await;
}

#[cfg(feature = "vault")]
async fn vault_target() -> Option<Target> {
    let addr = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR")?;
    let token = std::env::var("SECRETSYNC_TEST_VAULT_TOKEN").unwrap_or_else(|_| "root".into());
    let id = random_prefix("pv");
    let backend = secretsync_vault::VaultBackend::new(secretsync_vault::VaultOptions {
        addr: addr.clone(),
        mount: "secret".into(),
        path: "previews".into(),
        namespace: None,
        auth: secretsync_vault::Auth::Token(token.clone()),
    })
    .await
    .unwrap();
    Some(Target {
        url: format!(
            "vault+http://{}/secret/previews",
            addr.trim_start_matches("http://")
        ),
        prefix: format!("{id}/pr-{{id}}/"),
        backend: Arc::new(backend),
        env: vec![("VAULT_TOKEN".into(), token)],
    })
}

#[cfg(feature = "vault")]
#[tokio::test(flavor = "multi_thread")]
async fn previews_live_and_die_on_openbao() {
    let Some(t) = vault_target().await else {
        return;
    };
    // A forced delete destroys every version and the metadata: nothing left behind.
    lifecycle(&t, true).await;
    let t = vault_target().await.unwrap();
    killed_teardown_converges(&t).await;
}

/// A template's prefix root counts in the nested-prefix checks: no environment can prune into
/// its instances.
#[test]
fn a_templates_root_may_not_nest_with_another_environment() {
    let p = Project::init();
    p.append_config(
        "[environments.pr]\ntype = \"preview\"\nbackend = \"file://./r\"\nprefix = \"web/pr-{id}/\"\n[environments.web]\ntype = \"development\"\nbackend = \"file://./r\"\nprefix = \"web/\"\n",
    );
    let out = p.code(&["list"], None, 1);
    assert!(
        out.contains("nested prefixes \"web/pr-\" and \"web/\"")
            || out.contains("nested prefixes \"web/\" and \"web/pr-\""),
        "{out}"
    );
}

/// `keep_for` on a template: each `reconcile` round collects its instances written longer ago,
/// and keeps the others; naming the template in --env collects it alone.
#[test]
fn reconcile_collects_the_instances_a_template_keeps_for_no_longer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("previews");
    let p = Project::init();
    p.append_config(&format!(
        "[secrets.A]\n[environments.pr]\ntype = \"preview\"\nbackend = \"file://{}\"\nprefix = \"web/pr-{{id}}/\"\nkeep_for = \"1d\"\n",
        path.display()
    ));
    p.set("A", "--type", "preview", "a");
    p.ok(&["apply", "--env", "pr:7"], None);
    p.ok(&["apply", "--env", "pr:8"], None);
    // pr:7 was last written two days ago (its applied label, as the file holds it).
    let file = path.join("secrets.json");
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let old = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 86_400)
        .to_string();
    doc["secrets"]["web/pr-7/A"]["labels"]["secretsync-applied"] = old.into();
    std::fs::write(&file, doc.to_string()).unwrap();

    let out = p.run(&["reconcile", "--once", "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let envs = report["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1, "only the collection: {report}");
    assert_eq!(envs[0]["env"], "pr");
    assert_eq!(envs[0]["result"], "ok");
    assert_eq!(envs[0]["detail"]["summary"]["delete"], 1, "{report}");
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&file).unwrap())
            .unwrap()["secrets"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert_eq!(names, ["web/pr-8/A"]);
    // Named alone: the template is collected, nothing else is run.
    let out = p.run(&["reconcile", "--once", "--env", "pr"], None);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    // An instance is reconciled as any environment.
    let out = p.run(&["reconcile", "--once", "--env", "pr:8"], None);
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
}
