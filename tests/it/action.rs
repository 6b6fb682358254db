//! The GitHub Action's script (`action/run.sh`, called by `action.yml`) run as GitHub runs it:
//! INPUT_* variables in, a fake GITHUB_STEP_SUMMARY and GITHUB_OUTPUT out, against a project
//! replicating into a file backend. The summary shows names and actions, never a value.

use crate::common;

use common::{assert_no_canary, Project, CANARY};
use std::collections::BTreeMap;
use std::path::Path;

const CONFIG: &str = r#"
[secrets.DatabaseURL]
[secrets.Token]
[environments.prod-eu]
type = "production"
backend = "file://./replica"
prefix = "app/"
"#;

struct Run {
    code: i32,
    log: String,
    summary: String,
    outputs: BTreeMap<String, String>,
}

/// Runs the action's script in the project with these inputs.
fn action(p: &Project, inputs: &[(&str, &str)]) -> Run {
    let gh = tempfile::tempdir().unwrap();
    let (summary, output) = (gh.path().join("summary.md"), gh.path().join("output"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("action/run.sh");
    let mut c = std::process::Command::new("bash");
    c.arg(&script)
        .current_dir(p.dir.path())
        .env_clear()
        .envs(p.vars())
        .env("SECRETSYNC_BIN", assert_cmd::cargo::cargo_bin("secretsync"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output);
    for (k, v) in inputs {
        c.env(format!("INPUT_{}", k.to_uppercase()), v);
    }
    let out = c.output().unwrap();
    let log = common::text(&out);
    assert_no_canary("the action's log", log.as_bytes());
    let read = |f: &Path| std::fs::read_to_string(f).unwrap_or_default();
    let summary = read(&summary);
    assert_no_canary("the job summary", summary.as_bytes());
    let outputs = read(&output)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        log,
        summary,
        outputs,
    }
}

#[test]
fn the_action_checks_plans_applies_and_summarises_without_values() {
    let p = Project::init();
    p.append_config(CONFIG);
    p.set("DatabaseURL", "--type", "prod", CANARY);

    // A declared secret without a value: the job fails before planning, naming it.
    let r = action(&p, &[("environment", "prod-eu")]);
    assert_eq!(r.code, 1, "{}", r.log);
    assert_eq!(r.outputs["missing"], "prod-eu:Token", "{:?}", r.outputs);
    assert!(
        r.summary
            .contains("❌ **prod-eu** (production): missing `Token`"),
        "{}",
        r.summary
    );
    assert!(r
        .log
        .contains("::error::secretsync: declared secrets have no value: prod-eu:Token"));
    assert!(!r.outputs.contains_key("changes"), "no plan was made");

    // Plan only: the summary shows each change; nothing is written.
    p.set("Token", "--type", "prod", &format!("{CANARY}-token"));
    let r = action(&p, &[("environment", "prod-eu"), ("apply", "false")]);
    assert_eq!(r.code, 0, "{}", r.log);
    assert_eq!(r.outputs["changes"], "true");
    assert_eq!(r.outputs["missing"], "");
    assert!(
        r.summary.contains("### secretsync plan: prod-eu"),
        "{}",
        r.summary
    );
    assert!(
        r.summary
            .contains("| `+` | `app/DatabaseURL` | create | not in the backend |"),
        "{}",
        r.summary
    );
    assert!(r.summary.contains("2 create"), "{}", r.summary);
    assert!(!p.path("replica").exists(), "a plan writes nothing");

    // Apply: every item's outcome in the summary.
    let r = action(&p, &[("environment", "prod-eu"), ("apply", "true")]);
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(
        r.summary.contains("### secretsync apply: prod-eu"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("| `app/Token` | create | done |  |"),
        "{}",
        r.summary
    );
    let replica = std::fs::read_to_string(p.path("replica/secrets.json")).unwrap();
    assert!(replica.contains("app/Token"));

    // In sync: no changes.
    let r = action(&p, &[("environment", "prod-eu")]);
    assert_eq!(r.code, 0, "{}", r.log);
    assert_eq!(r.outputs["changes"], "false");
    assert!(r.summary.contains("Nothing to change."), "{}", r.summary);

    // A value written by hand over ours: drift, which apply leaves for a person; the job
    // fails and the summary says which and why.
    common::file_put(&p.path("replica"), &[("app/Token", "written by hand")]);
    p.set("Token", "--type", "prod", &format!("{CANARY}-token-2"));
    let r = action(&p, &[("environment", "prod-eu"), ("apply", "true")]);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log
            .contains("::error::secretsync apply left drift or refusals"),
        "{}",
        r.log
    );
    assert!(
        r.summary
            .contains("| `app/Token` | drift | skipped | a version was written outside secretsync"),
        "{}",
        r.summary
    );

    // An unknown environment: an error, said in the log.
    let r = action(&p, &[("environment", "nope")]);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log.contains("::error::secretsync check failed"),
        "{}",
        r.log
    );
    // No environment at all.
    let r = action(&p, &[]);
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log.contains("the input 'environment' is required"),
        "{}",
        r.log
    );
}

#[test]
fn a_long_plan_is_cut_to_200_rows_naming_the_full_report() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<serde_json::Value> = (0..250)
        .map(|i| serde_json::json!({"name": format!("app/S{i:03}"), "action": "create", "reason": "not in the backend", "blocked": false}))
        .collect();
    let doc = serde_json::json!({"environments": [{
        "plan": {"env": "prod-eu", "backend": "file:///r", "items": items},
        "summary": {"create": 250}
    }]});
    let file = dir.path().join("plan.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("action/summary.py"))
        .arg("plan")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::text(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert_eq!(md.matches("| `+` | `app/S").count(), 200, "{md}");
    assert!(
        md.contains("…and 50 more (the full report: `secretsync plan --json`)"),
        "{md}"
    );
    assert!(md.contains("250 create"), "{md}");
}

/// `command: teardown`: a closed pull request's preview goes, its outcome in the summary; a
/// collection keeps the open ones and says so; the cap refused fails the job.
#[test]
fn the_action_tears_previews_down() {
    let p = Project::init();
    p.append_config(
        "[secrets.Token]\n[environments.pr]\ntype = \"preview\"\nbackend = \"file://./previews\"\nprefix = \"web/pr-{id}/\"\n",
    );
    p.set("Token", "--type", "preview", CANARY);
    for id in ["7", "8", "9"] {
        let r = action(
            &p,
            &[("environment", &format!("pr:{id}")), ("apply", "true")],
        );
        assert_eq!(r.code, 0, "{}", r.log);
    }
    let r = action(&p, &[("command", "teardown"), ("environment", "pr:7")]);
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(
        r.summary.contains("### secretsync teardown: pr:7"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("| `web/pr-7/Token` | delete | done |"),
        "{}",
        r.summary
    );
    let r = action(
        &p,
        &[
            ("command", "teardown"),
            ("environment", "pr"),
            ("keep", "8"),
            ("max_deletes", "0"),
        ],
    );
    assert_eq!(r.code, 1, "the cap refuses: {}", r.log);
    assert!(r.log.contains("refused its deletions"), "{}", r.log);
    let r = action(
        &p,
        &[
            ("command", "teardown"),
            ("environment", "pr"),
            ("keep", "8"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(
        r.summary.contains("Kept: `pr:8` (1 secrets)"),
        "{}",
        r.summary
    );
    assert!(
        r.summary.contains("| `web/pr-9/Token` | delete | done |"),
        "{}",
        r.summary
    );
    let r = action(&p, &[("command", "destroy"), ("environment", "pr")]);
    assert_eq!(r.code, 1);
    assert!(r.log.contains("unknown command 'destroy'"), "{}", r.log);
}
