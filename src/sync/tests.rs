//! Engine tests on the in-memory backend, with injected faults.

use super::*;
use secretsync_core::calls::CallCounter;
use secretsync_core::layers::{stack, Chaos, RetryPolicy, StackConfig};
use secretsync_core::memory::MemoryBackend;
use secretsync_core::pace::RateLimits;
use secretsync_core::{Capabilities, Op, PutOptions, SecretBackend, SecretValue};
use std::sync::Arc;
use std::time::Duration;

const CANARY: &str = "canary-engine-77aa";

fn fpr(store: &str) -> Fingerprinter {
    Fingerprinter::new(
        SecretValue::from(format!("key-of-{store}-0123456789abcdef").as_str()),
        vec![],
        store,
    )
}

fn desired(pairs: &[(&str, &str)]) -> Vec<(String, SecretValue)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), SecretValue::from(*v)))
        .collect()
}

struct Rig {
    mem: MemoryBackend,
    /// Faults injected into the calls the engine makes (not into the test's own reads).
    chaos: Chaos,
    counter: Arc<CallCounter>,
    backend: Arc<dyn SecretBackend>,
}

fn rig(mem: MemoryBackend) -> Rig {
    let counter = CallCounter::new();
    let cfg = StackConfig {
        retry: RetryPolicy {
            max_attempts: 8,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
        },
        rates: RateLimits::unlimited(),
        concurrency: 8,
        counter: counter.clone(),
    };
    let chaos = Chaos::new(Arc::new(mem.clone()));
    let backend = stack(Arc::new(chaos.clone()), &cfg);
    Rig {
        mem,
        chaos,
        counter,
        backend,
    }
}

async fn plan_with(r: &Rig, f: &Fingerprinter, want: &[(&str, &str)], opts: &PlanOptions) -> Plan {
    plan("prod", r.backend.as_ref(), "app/", desired(want), f, opts)
        .await
        .unwrap()
}

async fn sync(
    r: &Rig,
    f: &Fingerprinter,
    want: &[(&str, &str)],
    opts: &PlanOptions,
) -> ApplyReport {
    let p = plan_with(r, f, want, opts).await;
    apply(&p, r.backend.clone(), f, 8, &|_| {}).await
}

fn actions(p: &Plan) -> Vec<(String, Action, bool)> {
    p.items
        .iter()
        .map(|i| (i.name.clone(), i.action, i.blocked))
        .collect()
}

#[tokio::test]
async fn first_apply_creates_and_a_second_plan_is_empty_and_reads_no_values() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    let want: Vec<(String, String)> = (0..300)
        .map(|i| (format!("S{i:03}"), format!("v{i}")))
        .collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let rep = sync(&r, &f, &want, &PlanOptions::default()).await;
    assert_eq!(rep.count(Status::Done), 300);
    r.counter.reset();
    let p = plan_with(&r, &f, &want, &PlanOptions::default()).await;
    assert!(!p.has_changes(), "{:?}", p.summary());
    assert_eq!(p.summary().unchanged, 300);
    let snap = r.counter.snapshot();
    assert!(
        snap.keys().all(|k| k.op == Op::List),
        "a no-change plan makes only list calls: {snap:?}"
    );
    assert_eq!(r.counter.calls(Op::List), 3, "300 secrets at 100 a page");
}

#[tokio::test]
async fn a_changed_value_is_an_update_and_converges() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(&r, &f, &[("A", "1"), ("B", "1")], &PlanOptions::default()).await;
    let p = plan_with(&r, &f, &[("A", "2"), ("B", "1")], &PlanOptions::default()).await;
    assert_eq!(
        actions(&p),
        vec![
            ("app/A".into(), Action::Update, false),
            ("app/B".into(), Action::Unchanged, false)
        ]
    );
    apply(&p, r.backend.clone(), &f, 4, &|_| {}).await;
    assert_eq!(
        r.mem.get("app/A").await.unwrap().unwrap().value,
        SecretValue::from("2")
    );
    assert!(
        !plan_with(&r, &f, &[("A", "2"), ("B", "1")], &PlanOptions::default())
            .await
            .has_changes()
    );
    // Back to the first value: a new version, not a no-op on an old token.
    sync(&r, &f, &[("A", "1"), ("B", "1")], &PlanOptions::default()).await;
    assert_eq!(
        r.mem.get("app/A").await.unwrap().unwrap().value,
        SecretValue::from("1")
    );
    assert_eq!(r.mem.version_count("app/A"), 3);
}

#[tokio::test]
async fn faults_are_retried_and_a_lost_response_makes_no_duplicate_version() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    r.chaos.inject(|x| {
        x.throttle = 3;
        x.transient = 3;
        x.lose_write_response = 10;
    });
    let want: Vec<(String, String)> = (0..40)
        .map(|i| (format!("S{i}"), format!("v{i}")))
        .collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let rep = sync(&r, &f, &want, &PlanOptions::default()).await;
    assert_eq!(
        rep.count(Status::Done),
        40,
        "{:?}",
        rep.results
            .iter()
            .filter(|r| r.status != Status::Done)
            .collect::<Vec<_>>()
    );
    for (n, _) in &want {
        assert_eq!(
            r.mem.version_count(&format!("app/{n}")),
            1,
            "{n} has a duplicate version"
        );
    }
    assert!(!plan_with(&r, &f, &want, &PlanOptions::default())
        .await
        .has_changes());
}

#[tokio::test]
async fn one_failure_does_not_stop_the_rest_and_a_rerun_converges() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    r.chaos.inject(|x| {
        x.deny.insert("app/B".into());
    });
    let rep = sync(
        &r,
        &f,
        &[("A", "1"), ("B", "1"), ("C", "1")],
        &PlanOptions::default(),
    )
    .await;
    assert_eq!((rep.count(Status::Done), rep.count(Status::Failed)), (2, 1));
    let failed = rep
        .results
        .iter()
        .find(|x| x.status == Status::Failed)
        .unwrap();
    assert_eq!(failed.name, "app/B");
    assert_eq!(failed.error.as_ref().unwrap().kind, "permission_denied");
    r.chaos.inject(|x| x.deny.clear());
    let rep = sync(
        &r,
        &f,
        &[("A", "1"), ("B", "1"), ("C", "1")],
        &PlanOptions::default(),
    )
    .await;
    assert_eq!(rep.count(Status::Done), 1);
    assert_eq!(rep.count(Status::Unchanged), 2);
}

#[tokio::test]
async fn an_interrupted_write_is_finished_not_reported_as_drift() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(&r, &f, &[("A", "old")], &PlanOptions::default()).await;
    // The new value landed with our token, but the labels still name the old fingerprint.
    let fp_new = f.fingerprint("app/A", &"new".into());
    let old_labels = r.mem.head("app/A").await.unwrap().unwrap().labels;
    let token = f.for_env("prod").new_token("app/A", &fp_new);
    r.mem
        .put(
            "app/A",
            &"new".into(),
            &PutOptions {
                token: Some(token.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        r.mem.head("app/A").await.unwrap().unwrap().labels,
        old_labels
    );
    let p = plan_with(&r, &f, &[("A", "new")], &PlanOptions::default()).await;
    assert_eq!(p.items[0].action, Action::Update, "{}", p.items[0].reason);
    assert_eq!(
        p.items[0].token.as_deref(),
        Some(token.as_str()),
        "the write is finished with its own token"
    );
    apply(&p, r.backend.clone(), &f, 1, &|_| {}).await;
    assert_eq!(r.mem.version_count("app/A"), 2, "finishing adds no version");
    assert!(!plan_with(&r, &f, &[("A", "new")], &PlanOptions::default())
        .await
        .has_changes());
}

#[tokio::test]
async fn out_of_band_writes_are_drift_reported_reverted_or_adopted() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(
        &r,
        &f,
        &[("A", "mine"), ("B", "mine")],
        &PlanOptions::default(),
    )
    .await;
    r.mem
        .put("app/A", &"theirs".into(), &PutOptions::default())
        .await
        .unwrap();

    let p = plan_with(
        &r,
        &f,
        &[("A", "mine"), ("B", "mine")],
        &PlanOptions::default(),
    )
    .await;
    assert_eq!(actions(&p)[0], ("app/A".into(), Action::Drift, true));
    let rep = apply(&p, r.backend.clone(), &f, 4, &|_| {}).await;
    let left = rep
        .results
        .iter()
        .filter(|r| r.action == Action::Drift && r.status == Status::Skipped)
        .count();
    assert_eq!(left, 1, "the drift is left as it is");
    assert_eq!(
        r.mem.get("app/A").await.unwrap().unwrap().value,
        SecretValue::from("theirs"),
        "report never overwrites"
    );

    let adopt = PlanOptions {
        on_drift: DriftPolicy::Accept,
        ..Default::default()
    };
    let p = plan_with(&r, &f, &[("A", "mine"), ("B", "mine")], &adopt).await;
    assert_eq!(
        p.items[0].value,
        Some(SecretValue::from("theirs")),
        "adopt carries the backend's value"
    );

    let revert = PlanOptions {
        on_drift: DriftPolicy::Revert,
        ..Default::default()
    };
    sync(&r, &f, &[("A", "mine"), ("B", "mine")], &revert).await;
    assert_eq!(
        r.mem.get("app/A").await.unwrap().unwrap().value,
        SecretValue::from("mine")
    );
    assert!(!plan_with(
        &r,
        &f,
        &[("A", "mine"), ("B", "mine")],
        &PlanOptions::default()
    )
    .await
    .has_changes());
}

#[tokio::test]
async fn verify_finds_drift_a_backend_listing_cannot_show() {
    let caps = Capabilities {
        version_in_list: false,
        ..MemoryBackend::default_capabilities()
    };
    // A backend that lists no versions.
    let mem = MemoryBackend::new();
    let b: Arc<dyn SecretBackend> = Arc::new(EditedListing {
        mem: mem.clone(),
        caps,
        edit: |m| m.version = None,
    });
    let f = fpr("s1");
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        desired(&[("A", "mine")]),
        &f,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    apply(&p, b.clone(), &f, 1, &|_| {}).await;
    mem.put("app/A", &"theirs".into(), &PutOptions::default())
        .await
        .unwrap();
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        desired(&[("A", "mine")]),
        &f,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    assert!(p.drift_unchecked);
    assert_eq!(
        p.items[0].action,
        Action::Unchanged,
        "without versions the listing cannot tell"
    );
    let check = PlanOptions {
        check_drift: true,
        ..Default::default()
    };
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        desired(&[("A", "mine")]),
        &f,
        &check,
    )
    .await
    .unwrap();
    assert_eq!(
        p.items[0].action,
        Action::Drift,
        "--check-drift finds it from metadata"
    );
    assert!(!p.drift_unchecked);
    let verify = PlanOptions {
        verify: true,
        ..Default::default()
    };
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        desired(&[("A", "mine")]),
        &f,
        &verify,
    )
    .await
    .unwrap();
    assert_eq!(p.items[0].action, Action::Drift);
    assert!(!p.drift_unchecked);
}

#[tokio::test]
async fn prune_deletes_only_ours_and_is_capped() {
    let r = rig(MemoryBackend::new());
    let (a, b) = (fpr("store-a"), fpr("store-b"));
    sync(
        &r,
        &a,
        &[("A1", "x"), ("A2", "x"), ("A3", "x")],
        &PlanOptions::default(),
    )
    .await;
    sync(&r, &b, &[("B1", "y")], &PlanOptions::default()).await;
    r.mem
        .put("app/Manual", &"z".into(), &PutOptions::default())
        .await
        .unwrap();

    let p = plan_with(&r, &a, &[("A1", "x")], &PlanOptions::default()).await;
    assert_eq!(p.summary().orphan, 2, "without --prune, orphans only");
    let capped = PlanOptions {
        prune: true,
        max_deletes: 1,
        ..Default::default()
    };
    let p = plan_with(&r, &a, &[("A1", "x")], &capped).await;
    assert!(p.delete_refusal.is_some());
    assert!(p
        .items
        .iter()
        .filter(|i| i.action == Action::Delete)
        .all(|i| i.blocked));
    let rep = apply(&p, r.backend.clone(), &a, 4, &|_| {}).await;
    assert_eq!(rep.count(Status::Done), 0);

    let prune = PlanOptions {
        prune: true,
        max_deletes: 5,
        ..Default::default()
    };
    let rep = sync(&r, &a, &[("A1", "x")], &prune).await;
    assert_eq!(rep.count(Status::Done), 2);
    assert!(
        r.mem.head("app/B1").await.unwrap().is_some(),
        "another store's secret is never deleted"
    );
    assert!(
        r.mem.head("app/Manual").await.unwrap().is_some(),
        "an unmanaged secret is never deleted"
    );
    assert!(r.mem.head("app/A2").await.unwrap().is_none());
}

#[tokio::test]
async fn same_named_secrets_not_ours_are_adopted_only_when_asked() {
    let r = rig(MemoryBackend::new());
    let (a, b) = (fpr("store-a"), fpr("store-b"));
    sync(&r, &b, &[("Shared", "b-value")], &PlanOptions::default()).await;
    r.mem
        .put("app/Legacy", &"old".into(), &PutOptions::default())
        .await
        .unwrap();
    let want = [("Shared", "a-value"), ("Legacy", "new")];
    let p = plan_with(&r, &a, &want, &PlanOptions::default()).await;
    assert!(
        p.items
            .iter()
            .all(|i| i.action == Action::Adopt && i.blocked),
        "{:?}",
        actions(&p)
    );
    assert!(p.items.iter().any(|i| i.reason.contains("another store")));
    apply(&p, r.backend.clone(), &a, 4, &|_| {}).await;
    assert_eq!(
        r.mem.get("app/Shared").await.unwrap().unwrap().value,
        SecretValue::from("b-value")
    );

    let adopt = PlanOptions {
        adopt: true,
        ..Default::default()
    };
    sync(&r, &a, &want, &adopt).await;
    assert_eq!(
        r.mem.get("app/Legacy").await.unwrap().unwrap().value,
        SecretValue::from("new")
    );
    assert!(!plan_with(&r, &a, &want, &PlanOptions::default())
        .await
        .has_changes());
}

#[tokio::test]
async fn names_a_backend_refuses_fail_the_plan_before_any_call() {
    let r = rig(MemoryBackend::new());
    let caps = Capabilities {
        names: secretsync_core::NameRules {
            max_len: 10,
            extra_chars: "_",
            rooted_paths: false,
            reserved_prefixes: &[],
        },
        ..MemoryBackend::default_capabilities()
    };
    let b: Arc<dyn SecretBackend> = Arc::new(r.mem.clone().with_capabilities(caps));
    let e = plan(
        "prod",
        b.as_ref(),
        "app/",
        desired(&[("A", "x")]),
        &fpr("s"),
        &PlanOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("app/A") && e.to_string().contains("'/'"),
        "{e}"
    );
}

#[tokio::test]
async fn the_canary_never_appears_in_plans_or_reports() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    r.chaos.inject(|x| {
        x.deny.insert("app/B".into());
    });
    let want = [("A", CANARY), ("B", CANARY)];
    let p = plan_with(&r, &f, &want, &PlanOptions::default()).await;
    let rep = apply(&p, r.backend.clone(), &f, 2, &|_| {}).await;
    let shown = format!(
        "{p:?}{rep:?}{}{}",
        serde_json::to_string(&p).unwrap(),
        serde_json::to_string(&rep).unwrap()
    );
    assert!(!shown.contains("canary"), "{shown}");
    assert!(!format!("{:?}", r.counter.snapshot()).contains("canary"));
}

#[tokio::test]
async fn a_retried_create_that_a_backend_refuses_is_confirmed_by_its_version() {
    // A backend that does not honour tokens on create-only writes (as moto may not).
    let mem = MemoryBackend::new();
    let f = fpr("s1");
    let p = plan(
        "prod",
        &mem,
        "app/",
        desired(&[("A", "v")]),
        &f,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    let token = p.items[0].token.clone();
    // Someone's earlier version, then the first attempt landed under the plan's token: the
    // memory backend's own token rule no longer applies, so a create-only says "exists".
    mem.put("app/A", &"older".into(), &PutOptions::default())
        .await
        .unwrap();
    mem.put(
        "app/A",
        &"v".into(),
        &PutOptions {
            token: token.clone(),
            labels: f.labels(p.items[0].fp.as_ref().unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut item = p.items[0].clone();
    item.token = Some("x".repeat(48));
    let mut other = p.clone();
    other.items = vec![item];
    let rep = apply(&other, Arc::new(mem.clone()), &f, 1, &|_| {}).await;
    assert_eq!(
        rep.count(Status::Failed),
        1,
        "another write's version is not ours"
    );
    let rep = apply(&p, Arc::new(mem.clone()), &f, 1, &|_| {}).await;
    assert_eq!(rep.count(Status::Done), 1);
    assert_eq!(mem.version_count("app/A"), 2, "confirming adds no version");
}

#[tokio::test]
async fn a_conditional_update_whose_response_was_lost_is_not_a_conflict() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(&r, &f, &[("A", "1")], &PlanOptions::default()).await;
    r.chaos.inject(|x| x.lose_write_response = 1);
    let p = plan_with(&r, &f, &[("A", "2")], &PlanOptions::default()).await;
    assert!(
        p.items[0].expected_version.is_some(),
        "memory honours if-version"
    );
    let rep = apply(&p, r.backend.clone(), &f, 1, &|_| {}).await;
    assert_eq!(rep.count(Status::Done), 1, "{:?}", rep.results);
    assert_eq!(r.mem.version_count("app/A"), 2);
}

/// Plans and applies as environment `env` under `prefix`.
async fn sync_env(
    r: &Rig,
    f: &Fingerprinter,
    env: &str,
    prefix: &str,
    want: &[(&str, &str)],
    opts: &PlanOptions,
) -> (Plan, ApplyReport) {
    let p = plan(env, r.backend.as_ref(), prefix, desired(want), f, opts)
        .await
        .unwrap();
    let rep = apply(&p, r.backend.clone(), f, 4, &|_| {}).await;
    (p, rep)
}

#[tokio::test]
async fn prune_never_deletes_another_environments_secrets_on_a_nested_prefix() {
    // Regression: `prod-eu` on `app/` pruned `staging`'s `app/staging/DbPass`, because ownership
    // was judged by the store id alone.
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    let prune = PlanOptions {
        prune: true,
        ..Default::default()
    };
    sync_env(
        &r,
        &f,
        "staging",
        "app/staging/",
        &[("DbPass", "st")],
        &prune,
    )
    .await;
    let (p, rep) = sync_env(&r, &f, "prod-eu", "app/", &[("Api", "p")], &prune).await;
    assert_eq!(p.summary().delete, 0, "{:?}", actions(&p));
    assert_eq!(rep.count(Status::Failed), 0);
    assert!(r.mem.head("app/staging/DbPass").await.unwrap().is_some());
    // And the other way round: staging's prune leaves prod-eu alone (its listing is narrower,
    // but a same-prefix pair must hold too).
    let (p, _) = sync_env(&r, &f, "other", "app/", &[], &prune).await;
    assert_eq!(p.summary().delete, 0, "{:?}", actions(&p));
    assert!(r.mem.head("app/Api").await.unwrap().is_some());
    // Two environments on one prefix never take over each other's secrets.
    let (p, _) = sync_env(&r, &f, "other", "app/", &[("Api", "x")], &prune).await;
    assert_eq!(actions(&p), vec![("app/Api".into(), Action::Adopt, true)]);
    assert!(
        p.items[0].reason.contains("environment prod-eu"),
        "{}",
        p.items[0].reason
    );
    assert_eq!(
        r.mem.get("app/Api").await.unwrap().unwrap().value,
        SecretValue::from("p")
    );
}

#[tokio::test]
async fn secrets_written_before_environment_labels_are_never_pruned_and_are_relabelled() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    // Written by an older secretsync: this store's labels, but no environment label.
    for (n, v) in [("app/Keep", "k"), ("app/Gone", "g")] {
        let value = SecretValue::from(v);
        let mut labels = f.for_env("prod").labels(&f.fingerprint(n, &value));
        labels.remove(fingerprint::ENV_LABEL);
        r.mem
            .put(
                n,
                &value,
                &PutOptions {
                    labels,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let prune = PlanOptions {
        prune: true,
        ..Default::default()
    };
    let (p, rep) = sync_env(&r, &f, "prod", "app/", &[("Keep", "k")], &prune).await;
    let by_name = |n: &str| p.items.iter().find(|i| i.name == n).unwrap().action;
    assert_eq!(by_name("app/Gone"), Action::Orphan, "never pruned");
    assert_eq!(by_name("app/Keep"), Action::Update, "relabelled by a write");
    assert_eq!(rep.count(Status::Failed), 0);
    assert!(r.mem.head("app/Gone").await.unwrap().is_some());
    let labels = r.mem.head("app/Keep").await.unwrap().unwrap().labels;
    assert_eq!(
        labels.get(fingerprint::ENV_LABEL).map(String::as_str),
        Some("prod")
    );
    let p = plan_with(&r, &f, &[("Keep", "k")], &PlanOptions::default()).await;
    assert_eq!(by_name_in(&p, "app/Keep"), Action::Unchanged);
}

fn by_name_in(p: &Plan, n: &str) -> Action {
    p.items.iter().find(|i| i.name == n).unwrap().action
}

#[tokio::test]
async fn a_version_forged_from_the_public_fingerprint_is_drift() {
    // Regression: a version id of `<fp label>` + 16 hex digits counted as ours.
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(&r, &f, &[("A", "good")], &PlanOptions::default()).await;
    let labels = r.mem.head("app/A").await.unwrap().unwrap().labels;
    let fp = labels[fingerprint::FP_LABEL].clone();
    r.mem
        .put(
            "app/A",
            &"attacker".into(),
            &PutOptions {
                labels,
                token: Some(format!("{fp}0123456789abcdef")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let p = plan_with(&r, &f, &[("A", "good")], &PlanOptions::default()).await;
    assert_eq!(actions(&p), vec![("app/A".into(), Action::Drift, true)]);
    assert!(p.has_changes(), "plan --detailed-exitcode exits 2");
}

#[tokio::test]
async fn a_store_with_a_fingerprint_key_the_backend_never_saw_is_refused() {
    // Regression: a store forged from what the file shows (same store id, a new key) planned
    // and applied its own values over the real ones.
    let r = rig(MemoryBackend::new());
    let real = fpr("s1");
    sync(&r, &real, &[("A", "real")], &PlanOptions::default()).await;
    let forged = Fingerprinter::new(
        SecretValue::from("forged-key-0123456789abcdef012345"),
        vec![],
        "s1",
    );
    let err = plan(
        "prod",
        r.backend.as_ref(),
        "app/",
        desired(&[("A", "evil")]),
        &forged,
        &PlanOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PlanError::Continuity { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("app/A") && msg.contains("cannot open"),
        "{msg}"
    );
    // Another environment of the same store on the same backend witnesses it too.
    assert!(plan(
        "staging",
        r.backend.as_ref(),
        "app/",
        desired(&[]),
        &forged,
        &PlanOptions::default()
    )
    .await
    .is_err());
    // A rotated fingerprint key that retires the real one is accepted, and rewrites the labels.
    let rotated = Fingerprinter::new(
        SecretValue::from("rotated-key-0123456789abcdef01234"),
        vec![SecretValue::from("key-of-s1-0123456789abcdef")],
        "s1",
    );
    let (p, rep) = sync_env(
        &r,
        &rotated,
        "prod",
        "app/",
        &[("A", "real")],
        &PlanOptions::default(),
    )
    .await;
    assert_eq!(actions(&p), vec![("app/A".into(), Action::Update, false)]);
    assert_eq!(rep.count(Status::Done), 1);
    // Now the backend witnesses the new key: the old store (pre-rotation) is refused.
    let old = plan(
        "prod",
        r.backend.as_ref(),
        "app/",
        desired(&[("A", "real")]),
        &real,
        &PlanOptions::default(),
    )
    .await;
    assert!(matches!(old, Err(PlanError::Continuity { .. })));
}

#[tokio::test]
async fn metrics_count_failures_drift_and_runs_per_environment() {
    use super::metrics::{Metrics, RunResult};
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    let m = Metrics::new();
    r.chaos.inject(|x| {
        x.deny.insert("app/B".into());
    });
    let p = plan_with(&r, &f, &[("A", "1"), ("B", "1")], &PlanOptions::default()).await;
    let rep = apply(&p, r.backend.clone(), &f, 4, &|_| {}).await;
    assert_eq!(m.record("prod", &p, &rep, 0.5, &[]), RunResult::Failed);
    r.chaos.inject(|x| x.deny.clear());
    sync(&r, &f, &[("A", "1"), ("B", "1")], &PlanOptions::default()).await;
    r.mem
        .put("app/A", &"by hand".into(), &PutOptions::default())
        .await
        .unwrap();
    let p = plan_with(&r, &f, &[("A", "1"), ("B", "1")], &PlanOptions::default()).await;
    let rep = apply(&p, r.backend.clone(), &f, 4, &|_| {}).await;
    assert_eq!(m.record("prod", &p, &rep, 0.25, &[]), RunResult::Attention);
    m.record_error("staging", &[]);
    let text = m.encode();
    for line in [
        "secretsync_reconcile_item_failures_total{env=\"prod\"} 1",
        "secretsync_reconcile_drifted_secrets{env=\"prod\"} 1",
        "secretsync_reconcile_duration_seconds{env=\"prod\"} 0.25",
        "secretsync_reconcile_runs_total{env=\"prod\",result=\"failed\"} 1",
        "secretsync_reconcile_runs_total{env=\"prod\",result=\"attention\"} 1",
        "secretsync_reconcile_runs_total{env=\"staging\",result=\"error\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

/// The memory backend with its listing edited and its capabilities replaced: a backend whose
/// listing shows less, or more, than the memory backend's.
#[derive(Debug)]
struct EditedListing {
    mem: MemoryBackend,
    caps: Capabilities,
    edit: fn(&mut secretsync_core::SecretMeta),
}

#[async_trait::async_trait]
impl SecretBackend for EditedListing {
    fn info(&self) -> secretsync_core::BackendInfo {
        self.mem.info()
    }
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }
    async fn list(
        &self,
        prefix: &str,
        page: Option<String>,
    ) -> secretsync_core::error::Result<secretsync_core::Page<secretsync_core::SecretMeta>> {
        let mut p = self.mem.list(prefix, page).await?;
        p.items.iter_mut().for_each(self.edit);
        Ok(p)
    }
    async fn head(
        &self,
        name: &str,
    ) -> secretsync_core::error::Result<Option<secretsync_core::SecretMeta>> {
        self.mem.head(name).await
    }
    async fn get(
        &self,
        name: &str,
    ) -> secretsync_core::error::Result<Option<secretsync_core::Secret>> {
        self.mem.get(name).await
    }
    async fn put(
        &self,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> secretsync_core::error::Result<secretsync_core::PutOutcome> {
        self.mem.put(name, value, opts).await
    }
    async fn delete(
        &self,
        name: &str,
        opts: &secretsync_core::DeleteOptions,
    ) -> secretsync_core::error::Result<()> {
        self.mem.delete(name, opts).await
    }
}

#[tokio::test]
async fn misplaced_secrets_are_drift_for_a_person_and_value_changes_still_go_ahead() {
    let mem = MemoryBackend::new();
    // Every secret whose name holds "Moved" is placed otherwise than its URL asks (as AWS
    // replicas or GCP locations would be).
    let b: Arc<dyn SecretBackend> = Arc::new(EditedListing {
        mem: mem.clone(),
        caps: MemoryBackend::default_capabilities(),
        edit: |m| {
            if m.name.contains("Moved") {
                m.placement_drift = Some("no replica in eu-central-1".into());
            }
        },
    });
    let f = fpr("s1");
    let want = desired(&[("Moved", "v1"), ("MovedToo", "v1"), ("Stays", "v1")]);
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        want.clone(),
        &f,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    apply(&p, b.clone(), &f, 4, &|_| {}).await;

    // Same values: the misplaced ones are drift that blocks, whatever --on-drift says, since
    // secretsync sets placement at create only; the other is unchanged.
    for on_drift in [
        DriftPolicy::Report,
        DriftPolicy::Revert,
        DriftPolicy::Accept,
    ] {
        let opts = PlanOptions {
            on_drift,
            ..Default::default()
        };
        let p = plan("prod", b.as_ref(), "app/", want.clone(), &f, &opts)
            .await
            .unwrap();
        let got: Vec<_> = p.items.iter().map(|i| (i.action, i.blocked)).collect();
        assert_eq!(
            got,
            [
                (Action::Drift, true),
                (Action::Drift, true),
                (Action::Unchanged, false)
            ],
            "{on_drift:?}"
        );
        assert_eq!(p.items[0].reason, "placement: no replica in eu-central-1");
        assert_eq!(p.items[0].value.as_ref(), Some(&SecretValue::from("v1")));
        assert!(p.has_changes(), "it needs attention");
        let rep = apply(&p, b.clone(), &f, 4, &|_| {}).await;
        assert!(
            rep.results.iter().all(|r| r.status != Status::Done),
            "{on_drift:?}: nothing is written"
        );
    }

    // A new value is still written, and the placement is named beside it.
    let changed = desired(&[("Moved", "v2"), ("MovedToo", "v1"), ("Stays", "v1")]);
    let p = plan(
        "prod",
        b.as_ref(),
        "app/",
        changed,
        &f,
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(p.items[0].action, Action::Update);
    assert!(!p.items[0].blocked);
    assert_eq!(
        p.items[0].reason,
        "value changed; placement: no replica in eu-central-1"
    );
    assert_eq!(
        p.items[0].placement.as_deref(),
        Some("no replica in eu-central-1")
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains("\"placement\":\"no replica in eu-central-1\""),
        "{json}"
    );
    apply(&p, b.clone(), &f, 4, &|_| {}).await;
    assert_eq!(
        mem.get("app/Moved").await.unwrap().unwrap().value,
        SecretValue::from("v2")
    );
}

#[tokio::test]
async fn only_what_a_plan_writes_carries_a_write_token() {
    let r = rig(MemoryBackend::new());
    let f = fpr("s1");
    sync(&r, &f, &[("A", "a"), ("B", "b")], &PlanOptions::default()).await;
    // A unchanged, B updated, C created.
    let p = plan_with(
        &r,
        &f,
        &[("A", "a"), ("B", "b2"), ("C", "c")],
        &PlanOptions::default(),
    )
    .await;
    let tokens: Vec<(Action, bool)> = p
        .items
        .iter()
        .map(|i| (i.action, i.token.is_some()))
        .collect();
    assert_eq!(
        tokens,
        [
            (Action::Unchanged, false),
            (Action::Update, true),
            (Action::Create, true)
        ]
    );
    for i in p.items.iter().filter(|i| i.token.is_some()) {
        let (fp, token) = (i.fp.as_deref().unwrap(), i.token.as_deref().unwrap());
        assert!(
            f.for_env("prod").version_is(token, &i.name, fp),
            "{}: a token of this write",
            i.name
        );
    }
}

/// The operations each job makes are those its policy grants (`Job::ops`): a plan with every
/// flag that reads no value, and an apply that creates, updates, adopts and prunes, on
/// backends whose listings lack labels or versions too. A new call in the engine that the
/// policies do not know fails here.
#[tokio::test]
async fn each_job_makes_only_the_operations_its_policy_grants() {
    use secretsync_core::permissions::Job;
    use std::collections::BTreeSet;
    let shapes = [
        MemoryBackend::default_capabilities(),
        Capabilities {
            labels_in_list: false,
            ..MemoryBackend::default_capabilities()
        },
        Capabilities {
            version_in_list: false,
            ..MemoryBackend::default_capabilities()
        },
    ];
    for caps in shapes {
        let r = rig(MemoryBackend::new().with_capabilities(caps.clone()));
        let f = fpr("s");
        let used =
            |r: &Rig| -> BTreeSet<Op> { r.counter.snapshot().keys().map(|k| k.op).collect() };
        // Someone else's secret under the prefix, to adopt.
        r.mem
            .put("app/C", &"theirs".into(), &PutOptions::default())
            .await
            .unwrap();
        let plan_only = PlanOptions {
            check_drift: true,
            ..PlanOptions::default()
        };
        plan_with(&r, &f, &[("A", "1"), ("B", "1")], &plan_only).await;
        let granted = Job::Plan.ops(&caps, false);
        assert!(
            used(&r).is_subset(&granted),
            "{caps:?}: plan used {:?}, granted {granted:?}",
            used(&r)
        );
        let apply_opts = PlanOptions {
            prune: true,
            adopt: true,
            check_drift: true,
            on_drift: DriftPolicy::Revert,
            ..PlanOptions::default()
        };
        sync(&r, &f, &[("A", "1"), ("B", "1"), ("C", "1")], &apply_opts).await;
        sync(&r, &f, &[("A", "2"), ("C", "1")], &apply_opts).await;
        let granted = Job::Apply.ops(&caps, false);
        assert!(
            used(&r).is_subset(&granted),
            "{caps:?}: apply used {:?}, granted {granted:?}",
            used(&r)
        );
        assert!(used(&r).contains(&Op::Delete), "the prune ran");
        let verify = PlanOptions {
            verify: true,
            ..apply_opts
        };
        sync(&r, &f, &[("A", "2"), ("C", "1")], &verify).await;
        let granted = Job::Apply.ops(&caps, true);
        assert!(
            used(&r).is_subset(&granted),
            "{caps:?}: --verify used {:?}, granted {granted:?}",
            used(&r)
        );
    }
}

/// An instance of a template whose newest write is older than `refresh_after` writes one of
/// its secrets again, so that its applied label shows it in use; then it is quiet again. A
/// plain environment never does.
#[tokio::test]
async fn an_idle_instance_refreshes_its_applied_time_once() {
    use crate::sync::fingerprint::{applied, unix_now, APPLIED_LABEL};
    let r = rig(MemoryBackend::new());
    let f = fpr("s");
    let want = desired(&[("A", "1"), ("B", "2")]);
    let opts = PlanOptions {
        refresh_after: Some(Duration::from_secs(86_400)),
        ..PlanOptions::default()
    };
    let plan_as = |env: &'static str| {
        let (r, f, want, opts) = (&r, &f, want.clone(), opts.clone());
        async move {
            plan(env, r.backend.as_ref(), "app/pr-7/", want, f, &opts)
                .await
                .unwrap()
        }
    };
    let p = plan_as("pr:7").await;
    apply(&p, r.backend.clone(), &f, 8, &|_| {}).await;
    assert!(!plan_as("pr:7").await.has_changes(), "just written");
    let two_days_ago = (unix_now() - 2 * 86_400).to_string();
    for n in ["app/pr-7/A", "app/pr-7/B"] {
        r.mem.set_label(n, APPLIED_LABEL, Some(&two_days_ago));
    }
    let p = plan_as("pr:7").await;
    let updates: Vec<&PlanItem> = p.items.iter().filter(|i| i.is_change()).collect();
    assert_eq!(
        updates.len(),
        1,
        "one write refreshes the instance: {:?}",
        p.items
    );
    assert!(
        updates[0]
            .reason
            .contains("refreshing the instance's applied time (last written 2d ago"),
        "{}",
        updates[0].reason
    );
    let report = apply(&p, r.backend.clone(), &f, 8, &|_| {}).await;
    assert_eq!(report.count(Status::Done), 1);
    assert!(!plan_as("pr:7").await.has_changes(), "refreshed");
    let stamps: Vec<Option<u64>> = list_all_meta(&r, "app/pr-7/")
        .await
        .iter()
        .map(applied)
        .collect();
    assert!(
        stamps
            .iter()
            .any(|s| s.is_some_and(|t| t + 60 > unix_now())),
        "{stamps:?}"
    );
    // A plain environment with old stamps (none, in fact) writes nothing.
    let p = plan(
        "pr-7",
        r.backend.as_ref(),
        "app/pr-7/",
        want.clone(),
        &f,
        &opts,
    )
    .await
    .unwrap();
    assert!(
        p.items.iter().all(|i| i.action != Action::Update),
        "{:?}",
        p.items
    );
}

async fn list_all_meta(r: &Rig, prefix: &str) -> Vec<secretsync_core::SecretMeta> {
    secretsync_core::list_all(&r.mem, prefix).await.unwrap()
}
