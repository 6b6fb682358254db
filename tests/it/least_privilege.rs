//! Least privilege, proven against servers that enforce it: the policies `secretsync policy`
//! writes, loaded into users of a moto that enforces IAM (checking resources and tag
//! conditions as AWS does, see scripts/moto_server.py) and into OpenBao tokens, are enough for
//! their job, and no action in them is spare. Needs the emulators; skips loudly without them,
//! fails under CI=true.
#![cfg(all(feature = "aws", feature = "vault"))]

use crate::common::{text, Project};
use secretsync_core::conformance::emulator_endpoint;
use serde_json::Value;
use std::process::Output;

/// Access keys of a user of the enforcing moto.
type Keys = (String, String);

/// The IAM-enforcing moto and its admin.
struct Iam {
    endpoint: String,
    admin: Keys,
    python: String,
}

impl Iam {
    fn from_env() -> Option<Iam> {
        let endpoint = emulator_endpoint("SECRETSYNC_TEST_AWS_IAM_ENDPOINT")?;
        let admin = std::env::var("SECRETSYNC_TEST_AWS_IAM_ADMIN").expect("the admin's keys");
        let (k, s) = admin.split_once(' ').expect("KEY SECRET");
        Some(Iam {
            endpoint,
            admin: (k.into(), s.into()),
            python: std::env::var("SECRETSYNC_TEST_PYTHON").expect("the emulators' python"),
        })
    }

    /// Creates user `name` holding exactly `policy` (or gives an existing one that policy
    /// instead); its keys when it is new.
    fn user(&self, name: &str, policy: &str) -> Option<Keys> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.json");
        std::fs::write(&file, policy).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto_iam.py");
        let out = std::process::Command::new(&self.python)
            .args([
                script,
                "user",
                &self.endpoint,
                &self.admin.0,
                &self.admin.1,
                name,
            ])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "moto_iam.py user {name}: {}",
            text(&out)
        );
        let keys = String::from_utf8(out.stdout).unwrap();
        keys.split_once(' ')
            .map(|(k, s)| (k.trim().to_string(), s.trim().to_string()))
    }

    fn sm(&self, keys: &Keys) -> aws_sdk_secretsmanager::Client {
        use aws_sdk_secretsmanager::config::{Credentials, Region};
        aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version_latest()
                .region(Region::new("us-east-1"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(Credentials::new(&keys.0, &keys.1, None, None, "test"))
                .build(),
        )
    }

    fn ssm(&self, keys: &Keys) -> aws_sdk_ssm::Client {
        use aws_sdk_ssm::config::{Credentials, Region};
        aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::Config::builder()
                .behavior_version_latest()
                .region(Region::new("us-east-1"))
                .endpoint_url(&self.endpoint)
                .credentials_provider(Credentials::new(&keys.0, &keys.1, None, None, "test"))
                .build(),
        )
    }
}

/// A name unique to this run: letters and digits.
fn unique(tag: &str) -> String {
    let p = secretsync_core::conformance::random_prefix(tag);
    p.trim_end_matches('_').replace('_', "")
}

/// Runs `args` in `p` as the user holding `keys`.
fn as_user(p: &Project, keys: &Keys, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = p.cmd(args);
    c.env("AWS_ACCESS_KEY_ID", &keys.0)
        .env("AWS_SECRET_ACCESS_KEY", &keys.1)
        .env("AWS_REGION", "us-east-1");
    if let Some(s) = stdin {
        c.write_stdin(s.as_bytes().to_vec());
    }
    c.output().unwrap()
}

/// The backends the proofs run on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Sm,
    SmReplicas,
    Ssm,
}

impl Kind {
    fn url(self, ep: &str) -> String {
        match self {
            Kind::Sm => format!("aws-sm://?region=us-east-1&endpoint={ep}"),
            Kind::SmReplicas => {
                format!("aws-sm://?region=us-east-1&endpoint={ep}&replicas=eu-central-1")
            }
            Kind::Ssm => format!("aws-ssm://?region=us-east-1&endpoint={ep}"),
        }
    }

    fn prefix(self, id: &str) -> String {
        match self {
            Kind::Ssm => format!("/{id}/"),
            _ => format!("{id}/"),
        }
    }
}

/// A project with environment `p` on the enforcing moto under a fresh prefix.
fn project(iam: &Iam, kind: Kind) -> (Project, String) {
    let prefix = kind.prefix(&unique("lp"));
    let p = Project::init();
    p.append_config(&format!(
        "[environments.p]\ntype = \"production\"\nbackend = \"{}\"\nprefix = \"{prefix}\"\n",
        kind.url(&iam.endpoint)
    ));
    (p, prefix)
}

/// What `secretsync policy` writes for environment `p`.
fn policy(p: &Project, job: &str) -> String {
    p.ok(&["policy", "--env", "p", "--for", job], None)
}

/// A secret (or parameter) secretsync did not write, made by the admin under the prefix.
async fn foreign(iam: &Iam, kind: Kind, name: &str) {
    match kind {
        Kind::Ssm => {
            iam.ssm(&iam.admin)
                .put_parameter()
                .name(name)
                .value("someone else's")
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
        _ => {
            // Where the environment asks for replicas, the foreign secret has them too (one
            // without would be adopted as placement drift, rightly).
            let replica = (kind == Kind::SmReplicas).then(|| {
                aws_sdk_secretsmanager::types::ReplicaRegionType::builder()
                    .region("eu-central-1")
                    .build()
            });
            iam.sm(&iam.admin)
                .create_secret()
                .name(name)
                .secret_string("someone else's")
                .set_add_replica_regions(replica.map(|r| vec![r]))
                .send()
                .await
                .unwrap();
        }
    }
}

/// The apply job's life: create, update, adopt a foreign secret, prune, and (Secrets Manager)
/// re-create a pruned name still in its recovery window, refused as such. Each step's command
/// line and output.
async fn scenario(
    iam: &Iam,
    kind: Kind,
    p: &Project,
    prefix: &str,
    keys: &Keys,
) -> Vec<(String, Output)> {
    let mut steps = Vec::new();
    let run = |args: &[&str], steps: &mut Vec<(String, Output)>| {
        steps.push((args.join(" "), as_user(p, keys, args, None)));
    };
    p.set("A", "--type", "prod", "a-1");
    p.set("B", "--type", "prod", "b-1");
    run(&["apply", "--env", "p"], &mut steps);
    p.set("A", "--type", "prod", "a-2");
    run(&["apply", "--env", "p"], &mut steps);
    foreign(iam, kind, &format!("{prefix}C")).await;
    p.set("C", "--type", "prod", "c-1");
    run(&["apply", "--env", "p", "--adopt"], &mut steps);
    p.ok(&["delete", "B", "--yes"], None);
    run(&["apply", "--env", "p", "--prune"], &mut steps);
    if kind != Kind::Ssm {
        p.set("B", "--type", "prod", "b-2");
        run(&["apply", "--env", "p"], &mut steps);
    }
    steps
}

/// The policy document without `action`.
fn without(policy: &str, action: &str) -> String {
    let mut doc: Value = serde_json::from_str(policy).unwrap();
    let statements = doc["Statement"].as_array_mut().unwrap();
    for s in statements.iter_mut() {
        s["Action"]
            .as_array_mut()
            .unwrap()
            .retain(|a| a.as_str() != Some(action));
    }
    statements.retain(|s| !s["Action"].as_array().unwrap().is_empty());
    doc.to_string()
}

fn actions(policy: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(policy).unwrap();
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The actions AWS checks only on another request's parameters (the backend's table marks
/// them): no request of their own, so moto cannot take them away.
fn implicit_only(kind: Kind) -> Vec<&'static str> {
    let table = match kind {
        Kind::Ssm => &secretsync_aws::ssm::permissions::REQUESTS,
        _ => &secretsync_aws::sm::permissions::REQUESTS,
    };
    let needs: Vec<&secretsync_aws::iam::Need> = table.0.iter().flat_map(|r| r.needs).collect();
    let mut out: Vec<&str> = needs
        .iter()
        .filter(|n| n.implicit && !needs.iter().any(|m| m.action == n.action && !m.implicit))
        .map(|n| n.action)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn everything(steps: &[(String, Output)]) -> String {
    steps
        .iter()
        .map(|(cmd, out)| format!("$ {cmd} (exit {:?})\n{}", out.status.code(), text(out)))
        .collect()
}

/// The full apply policy does the whole job; the plan policy plans and is refused, naming
/// the action, on apply; the deletes are held to what this store owns.
async fn the_apply_and_plan_policies_are_enough(kind: Kind) {
    let Some(iam) = Iam::from_env() else {
        return;
    };
    let (p, prefix) = project(&iam, kind);
    let apply_policy = policy(&p, "apply");
    let apply = iam.user(&unique("apply"), &apply_policy).unwrap();
    let steps = scenario(&iam, kind, &p, &prefix, &apply).await;
    let all = everything(&steps);
    assert!(!all.contains("Unknown"), "{all}");
    let (last, rest) = if kind == Kind::Ssm {
        (None, &steps[..])
    } else {
        (steps.last(), &steps[..steps.len() - 1])
    };
    for (cmd, out) in rest {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{cmd} with the apply policy:\n{all}"
        );
    }
    if let Some((cmd, out)) = last {
        // The pruned secret is in its recovery window: refused as such (the DescribeSecret
        // that finds it out is in the policy).
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            text(out).contains("scheduled for deletion"),
            "{}",
            text(out)
        );
    }

    // The plan policy: a no-change plan, then a refused apply naming what it lacks.
    let plan = iam.user(&unique("plan"), &policy(&p, "plan")).unwrap();
    if kind != Kind::Ssm {
        p.ok(&["delete", "B", "--yes"], None);
    }
    let out = as_user(
        &p,
        &plan,
        &["plan", "--env", "p", "--detailed-exitcode"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("0 to create, 0 to update"),
        "{}",
        text(&out)
    );
    p.set("D", "--type", "prod", "d-1");
    let out = as_user(&p, &plan, &["apply", "--env", "p"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let create = match kind {
        Kind::Ssm => "ssm:PutParameter",
        _ => "secretsmanager:CreateSecret",
    };
    let t = text(&out);
    assert!(
        t.contains(&format!("permission denied: {create} on {prefix}D")),
        "{t}"
    );
    assert!(t.contains("`secretsync policy --env p --for apply`"), "{t}");
    assert!(
        !t.contains("Unknown") && !t.contains("invalid_input"),
        "{t}"
    );
    let json: Value = serde_json::from_slice(
        &as_user(&p, &plan, &["apply", "--env", "p", "--json"], None).stdout,
    )
    .unwrap();
    let err = &json["environments"][0]["report"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "failed")
        .unwrap()["error"];
    assert_eq!(err["kind"], "permission_denied");
    assert_eq!(err["missing"], format!("{create} on {prefix}D"));

    // Deletes are held to this store's secrets: the apply user may delete what secretsync
    // wrote, and not a foreign secret under the same prefix.
    if kind != Kind::Ssm {
        foreign(&iam, kind, &format!("{prefix}E")).await;
        let sm = iam.sm(&apply);
        let refused = sm
            .delete_secret()
            .secret_id(format!("{prefix}E"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            refused.raw_response().map(|r| r.status().as_u16()),
            Some(403)
        );
        if kind == Kind::SmReplicas {
            sm.remove_regions_from_replication()
                .secret_id(format!("{prefix}A"))
                .remove_replica_regions("eu-central-1")
                .send()
                .await
                .unwrap();
        }
        sm.delete_secret()
            .secret_id(format!("{prefix}A"))
            .send()
            .await
            .unwrap();
    } else {
        foreign(&iam, kind, &format!("{prefix}E")).await;
        let ssm = iam.ssm(&apply);
        let refused = ssm
            .delete_parameter()
            .name(format!("{prefix}E"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            refused.raw_response().map(|r| r.status().as_u16()),
            Some(403)
        );
        ssm.delete_parameter()
            .name(format!("{prefix}A"))
            .send()
            .await
            .unwrap();
    }
}

/// Each action of the apply policy is needed: without it, some step of the job fails naming
/// it. The only ones left out are those AWS checks on another request's parameters, which
/// `skipped` must name exactly.
async fn no_action_is_spare(kind: Kind, skipped: &[&str]) {
    let Some(iam) = Iam::from_env() else {
        return;
    };
    let (p, _) = project(&iam, kind);
    let full = policy(&p, "apply");
    let implicit = implicit_only(kind);
    let left_out: Vec<&str> = actions(&full)
        .into_iter()
        .filter_map(|a| implicit.iter().find(|i| **i == a).copied())
        .collect();
    assert_eq!(left_out, skipped, "{kind:?}: what moto cannot check");
    let user = unique("spare");
    let mut keys = None;
    for action in actions(&full) {
        if skipped.contains(&action.as_str()) {
            continue;
        }
        let (p, prefix) = project(&iam, kind);
        let doc = without(&policy(&p, "apply"), &action);
        let new = iam.user(&user, &doc);
        let keys = keys.get_or_insert_with(|| new.expect("a new user"));
        let steps = scenario(&iam, kind, &p, &prefix, keys).await;
        let all = everything(&steps);
        assert!(
            all.contains(&format!("permission denied: {action} on ")),
            "{kind:?}: without {action}, no step named it:\n{all}"
        );
        assert!(!all.contains("Unknown"), "{all}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sm_policies_hold_on_an_enforcing_moto() {
    the_apply_and_plan_policies_are_enough(Kind::Sm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_sm_with_replicas_policies_hold_on_an_enforcing_moto() {
    the_apply_and_plan_policies_are_enough(Kind::SmReplicas).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_ssm_policies_hold_on_an_enforcing_moto() {
    the_apply_and_plan_policies_are_enough(Kind::Ssm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_action_of_the_aws_sm_apply_policy_is_spare() {
    no_action_is_spare(Kind::Sm, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_action_of_the_aws_sm_replicas_apply_policy_is_spare() {
    no_action_is_spare(
        Kind::SmReplicas,
        &["secretsmanager:ReplicateSecretToRegions"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_action_of_the_aws_ssm_apply_policy_is_spare() {
    no_action_is_spare(Kind::Ssm, &[]).await;
}

/// A policy written for one prefix does not reach past it: widening the environment's prefix
/// beyond the policy's is refused, naming the action and the secret.
#[tokio::test(flavor = "multi_thread")]
async fn a_wider_prefix_than_the_policys_is_refused() {
    let Some(iam) = Iam::from_env() else {
        return;
    };
    let id = unique("wide");
    let p = Project::init();
    let config = |prefix: &str| {
        format!(
            "[environments.p]\ntype = \"production\"\nbackend = \"{}\"\nprefix = \"{prefix}\"\n",
            Kind::Sm.url(&iam.endpoint)
        )
    };
    let base = std::fs::read_to_string(p.path("secretsync.toml")).unwrap();
    std::fs::write(
        p.path("secretsync.toml"),
        format!("{base}{}", config(&format!("{id}/narrow/"))),
    )
    .unwrap();
    let keys = iam.user(&unique("narrow"), &policy(&p, "apply")).unwrap();
    p.set("A", "--type", "prod", "a-1");
    let out = as_user(&p, &keys, &["apply", "--env", "p"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    std::fs::write(
        p.path("secretsync.toml"),
        format!("{base}{}", config(&format!("{id}/"))),
    )
    .unwrap();
    let out = as_user(&p, &keys, &["apply", "--env", "p"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "permission denied: secretsmanager:CreateSecret on {id}/A"
        )),
        "{}",
        text(&out)
    );
}

/// `parliament` (AWS's policy linter) finds nothing to say about any IAM policy secretsync
/// writes: each backend option, each job, and opening a scope with a KMS key.
#[test]
fn parliament_is_silent_on_every_generated_aws_policy() {
    let Some(tools) = emulator_endpoint("SECRETSYNC_TEST_SCHEMA_TOOLS") else {
        return;
    };
    let p = Project::init();
    let urls = [
        "aws-sm://?region=eu-west-1",
        "aws-sm://",
        "aws-sm://?region=eu-west-1&replicas=us-east-1,eu-central-1",
        "aws-sm://?region=eu-west-1&kms-key=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "aws-sm://?region=cn-north-1&kms-key=alias/secretsync",
        "aws-ssm://?region=eu-west-1",
        "aws-ssm://?region=eu-west-1&kms-key=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "aws-ssm://?region=us-gov-west-1&tier=advanced&kms-key=alias/app",
    ];
    let mut config = String::new();
    for (i, url) in urls.iter().enumerate() {
        let prefix = if url.starts_with("aws-ssm") {
            format!("/app/e{i}/")
        } else {
            format!("app/e{i}/")
        };
        config.push_str(&format!(
            "[environments.e{i}]\ntype = \"production\"\nbackend = \"{url}\"\nprefix = \"{prefix}\"\n"
        ));
    }
    config.push_str("[environments.pr]\ntype = \"preview\"\nbackend = \"aws-sm://?region=eu-west-1\"\nprefix = \"web/pr-{id}/\"\n");
    p.append_config(&config);
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for args in [
        &["policy", "--env", "pr", "--for", "apply"][..],
        &["policy", "--env", "pr:7", "--for", "teardown"][..],
        &[
            "policy",
            "--env",
            "pr",
            "--for",
            "teardown",
            "--force-delete",
        ][..],
    ] {
        let f = dir.path().join(format!("template-{}.json", files.len()));
        std::fs::write(&f, p.ok(args, None)).unwrap();
        files.push(f);
    }
    for (i, url) in urls.iter().enumerate() {
        for (job, verify) in [
            ("plan", false),
            ("plan", true),
            ("apply", false),
            ("reconcile", false),
            ("restore", false),
        ] {
            let env = format!("e{i}");
            let mut args = vec!["policy", "--env", &env, "--for", job];
            if verify {
                args.push("--verify");
            }
            let doc = p.ok(&args, None);
            if job == "restore" && url.starts_with("aws-ssm") {
                // Parameter Store has no soft delete: nothing to restore, nothing to grant.
                assert!(
                    doc.starts_with("nothing to grant: `restore` sends aws-ssm:// no request"),
                    "{doc}"
                );
                continue;
            }
            let f = dir.path().join(format!("{env}-{job}-{verify}.json"));
            std::fs::write(&f, doc).unwrap();
            files.push(f);
        }
    }
    for key in [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/secretsync",
        "arn:aws:kms:eu-west-1:111122223333:alias/secretsync",
    ] {
        let doc = secretsync_aws::kms::open_policy(key, "0123456789abcdef", "production");
        let f = dir.path().join(format!("open-{}.json", files.len()));
        std::fs::write(&f, doc.text).unwrap();
        files.push(f);
    }
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let out = std::process::Command::new(format!("{tools}/parliament"))
        .args(["--minimum_severity", "INFO", "--files", &list.join(",")])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "parliament on {} policies: {}",
        files.len(),
        text(&out)
    );
    // It does speak when there is something to say (the check can fail).
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:DeleteParameter","Resource":"*","Condition":{"StringEquals":{"ssm:ResourceTag/x":"y"}}}]}"#,
    )
    .unwrap();
    let out = std::process::Command::new(format!("{tools}/parliament"))
        .args(["--files", &bad.display().to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        !out.stdout.is_empty(),
        "parliament said nothing about a bad policy"
    );
}

/// OpenBao: a token with the written apply policy applies, updates and prunes under the
/// prefix, and is refused (403, named) once the prefix is widened beyond it; a token with the
/// plan policy plans and cannot write.
#[tokio::test(flavor = "multi_thread")]
async fn openbao_tokens_with_the_written_policies_do_their_job_and_no_more() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let root = std::env::var("SECRETSYNC_TEST_VAULT_TOKEN").unwrap_or_else(|_| "root".into());
    let http = reqwest::Client::new();
    let token_for = |name: String, hcl: String| {
        let (http, addr, root) = (http.clone(), addr.clone(), root.clone());
        async move {
            let r = http
                .put(format!("{addr}/v1/sys/policies/acl/{name}"))
                .header("X-Vault-Token", &root)
                .json(&serde_json::json!({ "policy": hcl }))
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_success(),
                "policy write: {}",
                r.text().await.unwrap()
            );
            let t: Value = http
                .post(format!("{addr}/v1/auth/token/create"))
                .header("X-Vault-Token", &root)
                .json(&serde_json::json!({ "policies": [name] }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            t["auth"]["client_token"].as_str().unwrap().to_string()
        }
    };
    let id = unique("lp");
    let host = addr.trim_start_matches("http://");
    let p = Project::init();
    let base = std::fs::read_to_string(p.path("secretsync.toml")).unwrap();
    let config = |prefix: &str| {
        format!("{base}[environments.p]\ntype = \"production\"\nbackend = \"vault+http://{host}/secret/lp\"\nprefix = \"{prefix}\"\n")
    };
    std::fs::write(p.path("secretsync.toml"), config(&format!("{id}/app/"))).unwrap();
    let apply = token_for(format!("{id}-apply"), policy(&p, "apply")).await;
    let plan = token_for(format!("{id}-plan"), policy(&p, "plan")).await;
    let with = |token: &str, args: &[&str]| {
        let mut c = p.cmd(args);
        c.env("VAULT_TOKEN", token);
        c.output().unwrap()
    };
    p.set("A", "--type", "prod", "a-1");
    p.set("B", "--type", "prod", "b-1");
    for (args, setup) in [
        (&["apply", "--env", "p"][..], None),
        (&["apply", "--env", "p"][..], Some(("A", "a-2"))),
        (&["apply", "--env", "p", "--prune"][..], Some(("B", ""))),
    ] {
        match setup {
            Some((name, "")) => {
                p.ok(&["delete", name, "--yes"], None);
            }
            Some((name, value)) => {
                p.set(name, "--type", "prod", value);
            }
            None => {}
        }
        let out = with(&apply, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    let out = with(&plan, &["plan", "--env", "p", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    p.set("C", "--type", "prod", "c-1");
    let out = with(&plan, &["apply", "--env", "p"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "permission denied: vault:create|update on secret/metadata/lp/{id}/app/C"
        )),
        "{t}"
    );
    // The prefix widened beyond the policy: the listing itself is refused, named.
    std::fs::write(p.path("secretsync.toml"), config(&format!("{id}/"))).unwrap();
    let out = with(&apply, &["apply", "--env", "p"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!(
            "permission denied: vault:list on secret/metadata/lp/{id}/"
        )) && t.contains("`secretsync policy --env p --for apply`"),
        "{t}"
    );
    assert!(!t.contains("invalid_input"), "{t}");
}

/// The open policy of a scope whose recipient is a KMS key lets its holder read the scope's
/// values with no age key at all; a user without it is refused, named, and pointed at it.
#[tokio::test(flavor = "multi_thread")]
async fn the_open_policy_opens_a_kms_wrapped_scope_and_only_it_does() {
    let Some(iam) = Iam::from_env() else {
        return;
    };
    use aws_sdk_kms::config::{Credentials, Region};
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(&iam.endpoint)
            .credentials_provider(Credentials::new(
                &iam.admin.0,
                &iam.admin.1,
                None,
                None,
                "t",
            ))
            .build(),
    );
    let arn = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let p = Project::init_with(vec![("AWS_ENDPOINT_URL".into(), iam.endpoint.clone())]);
    p.set("Token", "--type", "prod", "opened-by-kms");
    let admin_cmd = |args: &[&str]| {
        let out = as_user(&p, &iam.admin, args, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    admin_cmd(&["key", "add", &format!("aws-kms:{arn}"), "--scope", "all"]);
    let keys: Value = serde_json::from_str(&p.ok(&["key", "list", "--json"], None)).unwrap();
    let age = keys["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["id"].as_str().filter(|id| id.starts_with("age1")))
        .unwrap()
        .to_string();
    p.ok(&["key", "remove", &age, "--force"], None);
    std::fs::remove_file(p.identity_file()).unwrap();

    let open = p.ok(&["policy", "--for", "open", "production"], None);
    let reader = iam.user(&unique("open"), &open).unwrap();
    let out = as_user(&p, &reader, &["get", "Token", "--type", "prod"], None);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "opened-by-kms",
        "{}",
        text(&out)
    );

    let nothing = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}]}"#;
    let stranger = iam.user(&unique("stranger"), nothing).unwrap();
    let out = as_user(&p, &stranger, &["get", "Token", "--type", "prod"], None);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(
        t.contains(&format!("permission denied: kms:Decrypt on {arn}")),
        "{t}"
    );
    assert!(
        t.contains("`secretsync policy --for open production`"),
        "{t}"
    );

    // The JSON shape is the README's (the document itself is the service's).
    let mut doc: Value =
        serde_json::from_str(&p.ok(&["policy", "--for", "open", "production", "--json"], None))
            .unwrap();
    assert_eq!(doc["recipients"][0]["recipient"], format!("aws-kms:{arn}"));
    for r in doc["recipients"].as_array_mut().unwrap() {
        r["document"] = Value::Null;
    }
    let mut got = std::collections::BTreeSet::new();
    crate::json_schemas::keys(&doc, &mut got);
    crate::json_schemas::check_shape(
        &crate::json_schemas::documented(),
        "policy --for open",
        &got,
    );
}

/// A template's policies cover every instance (its prefix up to `{id}`): the apply role
/// applies any pull request's preview, the teardown role tears them down and collects them,
/// and cannot write.
#[tokio::test(flavor = "multi_thread")]
async fn a_templates_policies_hold_for_every_instance() {
    let Some(iam) = Iam::from_env() else {
        return;
    };
    let id = unique("pv");
    let p = Project::init();
    p.append_config(&format!(
        "[environments.pr]\ntype = \"preview\"\nbackend = \"{}\"\nprefix = \"{id}/pr-{{id}}/\"\n",
        Kind::Sm.url(&iam.endpoint)
    ));
    let apply = p.ok(&["policy", "--env", "pr", "--for", "apply"], None);
    assert!(apply.contains(&format!("secret:{id}/pr-*")), "{apply}");
    let teardown = p.ok(
        &[
            "policy",
            "--env",
            "pr",
            "--for",
            "teardown",
            "--force-delete",
        ],
        None,
    );
    // Listing, deleting, and DescribeSecret for a delete's errors (replicas, a recovery
    // window): no write, no value read.
    assert_eq!(
        actions(&teardown),
        [
            "secretsmanager:ListSecrets",
            "secretsmanager:DescribeSecret",
            "secretsmanager:DeleteSecret"
        ]
    );
    let applier = iam.user(&unique("pvapply"), &apply).unwrap();
    let reaper = iam.user(&unique("pvreap"), &teardown).unwrap();
    p.set("A", "--type", "preview", "a");
    for n in ["7", "8", "9"] {
        let out = as_user(&p, &applier, &["apply", "--env", &format!("pr:{n}")], None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let out = as_user(&p, &reaper, &["apply", "--env", "pr:10"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("permission denied: secretsmanager:CreateSecret"));
    let out = as_user(
        &p,
        &reaper,
        &["teardown", "--env", "pr:7", "--force-delete"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = as_user(
        &p,
        &reaper,
        &["teardown", "--env", "pr", "--keep", "8", "--force-delete"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("1 done") && text(&out).contains("Kept: pr:8"),
        "{}",
        text(&out)
    );
}

/// `policy` refuses what it cannot write, saying what to give instead.
#[test]
fn policy_arguments_are_checked() {
    let p = Project::init();
    p.append_config("[environments.f]\ntype = \"development\"\nbackend = \"file://./replica\"\n");
    for (args, want) in [
        (&["policy", "--for", "apply"][..], "name the environment"),
        (
            &["policy", "--env", "f", "--for", "deploy"][..],
            "unknown job \"deploy\"",
        ),
        (&["policy", "--for", "open"][..], "names the scope to open"),
        (
            &["policy", "--env", "f", "--for", "open", "production"][..],
            "leave out --env",
        ),
        (
            &["policy", "--for", "open", "prod"][..],
            "has no scope \"prod\"",
        ),
        (
            &["policy", "--env", "prod", "--for", "apply"][..],
            "implicit environment",
        ),
    ] {
        let out = p.code(args, None, 1);
        assert!(out.contains(want), "{args:?}: {out}");
    }
    let run = p.run(&["policy", "--env", "f", "--for", "apply"], None);
    let (out, err) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{err}");
    assert!(
        out.starts_with("nothing to grant: file://./replica"),
        "{out}"
    );
    assert!(
        !err.contains("nothing to grant"),
        "the note is the document, not also a note: {err}"
    );
    let out = p.ok(&["policy", "--for", "open", "production"], None);
    assert!(out.contains("opened by age keys only"), "{out}");
}
