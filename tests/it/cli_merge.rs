//! The store's git merge driver, driven by real git: branches adding adjacent secrets merge;
//! conflicting changes stop the merge and keep our version.

use crate::common;

use common::{text, Project};
use std::process::Command;

fn git(p: &Project, args: &[&str]) -> std::process::Output {
    // The clean project environment: the merge driver git starts inherits it.
    Command::new("git")
        .current_dir(p.dir.path())
        .env_clear()
        .envs(p.vars())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(args)
        .output()
        .unwrap()
}

fn ok(p: &Project, args: &[&str]) {
    let out = git(p, args);
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

fn repo() -> Project {
    let p = Project::empty();
    ok(&p, &["init", "-q", "-b", "main"]);
    ok(&p, &["config", "user.email", "t@example.com"]);
    ok(&p, &["config", "user.name", "t"]);
    let out = p.ok(&["init", "--app", "demo"], None);
    assert!(out.contains("git config merge.secretsync.driver"), "{out}");
    let bin = assert_cmd::cargo::cargo_bin("secretsync");
    ok(
        &p,
        &[
            "config",
            "merge.secretsync.driver",
            &format!("{} merge-file %O %A %B", bin.display()),
        ],
    );
    p.set("Shared", "--type", "prod", "s");
    ok(&p, &["add", "-A"]);
    ok(&p, &["commit", "-qm", "base"]);
    p
}

#[test]
fn branches_adding_adjacent_secrets_merge_through_the_driver() {
    let p = repo();
    assert!(std::fs::read_to_string(p.path(".gitattributes"))
        .unwrap()
        .contains("secrets.enc.toml merge=secretsync"));
    ok(&p, &["checkout", "-qb", "a"]);
    p.set("Alpha1", "--type", "prod", "a1");
    ok(&p, &["commit", "-qam", "a"]);
    ok(&p, &["checkout", "-q", "main"]);
    p.set("Alpha2", "--type", "prod", "a2");
    ok(&p, &["commit", "-qam", "b"]);
    let out = git(&p, &["merge", "-q", "--no-edit", "a"]);
    assert!(
        out.status.success(),
        "the driver should merge: {}",
        text(&out)
    );
    assert_eq!(p.get("Alpha1", "--type", "prod"), "a1");
    assert_eq!(p.get("Alpha2", "--type", "prod"), "a2");
    assert_eq!(p.get("Shared", "--type", "prod"), "s");

    // Without the driver, git's line merge conflicts on these adjacent blocks.
    let q = repo();
    ok(&q, &["config", "--unset", "merge.secretsync.driver"]);
    ok(&q, &["checkout", "-qb", "a"]);
    q.set("Alpha1", "--type", "prod", "a1");
    ok(&q, &["commit", "-qam", "a"]);
    ok(&q, &["checkout", "-q", "main"]);
    q.set("Alpha2", "--type", "prod", "a2");
    ok(&q, &["commit", "-qam", "b"]);
    assert!(
        !git(&q, &["merge", "-q", "--no-edit", "a"]).status.success(),
        "plain git conflicts here"
    );
}

#[test]
fn conflicting_changes_stop_the_merge_and_keep_ours() {
    let p = repo();
    ok(&p, &["checkout", "-qb", "a"]);
    p.set("Shared", "--type", "prod", "from-a");
    ok(&p, &["commit", "-qam", "a"]);
    ok(&p, &["checkout", "-q", "main"]);
    p.set("Shared", "--type", "prod", "from-main");
    ok(&p, &["commit", "-qam", "b"]);
    let out = git(&p, &["merge", "-q", "--no-edit", "a"]);
    // git exits 1 when a merge driver reports a conflict.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the value for production changed differently"),
        "{}",
        text(&out)
    );
    assert_eq!(
        p.get("Shared", "--type", "prod"),
        "from-main",
        "our version is kept and still opens"
    );
}
