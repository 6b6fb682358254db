//! The GCP emulators enforce no IAM, so the roles `secretsync policy` writes are checked on
//! paper: every permission they name is a real one (a list pinned from Google's reference, in
//! tests/data), and each job's role covers every request its operations send.

use secretsync_core::permissions::{Job, PolicyScope};
use secretsync_core::Op;
use secretsync_gcp::sm::permissions::{policy, REQUESTS};
use secretsync_gcp::GcpSmOptions;
use std::collections::BTreeSet;

fn known() -> BTreeSet<&'static str> {
    include_str!("data/iam-permissions.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

fn scope(job: Job, verify: bool) -> PolicyScope<'static> {
    PolicyScope {
        job,
        verify,
        env: "prod",
        prefix: "app_",
        store_id: Some("s"),
        force_delete: false,
    }
}

fn role(job: Job, verify: bool) -> Vec<String> {
    let opts = GcpSmOptions {
        project: "my-project".into(),
        ..GcpSmOptions::default()
    };
    policy(&opts, &scope(job, verify)).document["includedPermissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_permission_named_is_a_real_one() {
    let known = known();
    for n in REQUESTS.0.iter().flat_map(|r| r.needs) {
        assert!(
            known.contains(n.permission),
            "the table names {}",
            n.permission
        );
    }
    for job in Job::ALL {
        for verify in [false, true] {
            for p in role(job, verify) {
                assert!(known.contains(p.as_str()), "{job} names {p}");
            }
        }
    }
    let open = secretsync_gcp::kms::open_policy(
        "projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "production",
    );
    for p in open.document["includedPermissions"].as_array().unwrap() {
        assert!(known.contains(p.as_str().unwrap()), "open names {p}");
    }
}

#[test]
fn each_role_covers_every_request_its_job_sends() {
    let caps = secretsync_gcp::GcpSmBackend::capabilities_of();
    for job in Job::ALL {
        for verify in [false, true] {
            let ops = job.ops(&caps, verify);
            let role = role(job, verify);
            for r in REQUESTS
                .0
                .iter()
                .filter(|r| r.ops.iter().any(|o| ops.contains(o)))
            {
                for n in r.needs {
                    assert!(
                        role.iter().any(|p| p == n.permission),
                        "{job} (verify {verify}) sends {} and its role lacks {}",
                        r.name,
                        n.permission
                    );
                }
            }
        }
    }
    // And the apply role with value reads covers every request the backend sends.
    let all: BTreeSet<&str> = REQUESTS
        .0
        .iter()
        .flat_map(|r| r.needs)
        .map(|n| n.permission)
        .collect();
    let apply: BTreeSet<String> = role(Job::Apply, true).into_iter().collect();
    assert_eq!(all.len(), apply.len(), "{all:?} against {apply:?}");
    assert!(
        !role(Job::Plan, false)
            .iter()
            .any(|p| p.ends_with(".access") || p.ends_with(".add")),
        "a plan reads no value and writes nothing"
    );
    assert!(Job::Plan.ops(&caps, false).contains(&Op::List));
}
