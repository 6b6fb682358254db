//! Ownership under concurrency, on moto and OpenBao: two stores pruning into one backend prefix
//! at the same time delete nothing of each other's, and two applies of one store at once (one
//! of them with a newer value) lose no update.

use crate::common::{self, bulk_set, Project};
use secretsync_core::conformance::{emulator_endpoint, random_prefix};
use std::time::Duration;

fn with_env(vars: &[(String, String)], backend: &str, prefix: &str) -> Project {
    let p = Project::init_with(vars.to_vec());
    p.append_config(&format!(
        "[environments.shared]\ntype = \"production\"\nbackend = \"{backend}\"\nprefix = \"{prefix}\"\nwrites_per_second = 1000\n"
    ));
    p
}

fn values(tag: &str, n: usize, round: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|k| (format!("{tag}{k:02}"), format!("{tag}-{k}-round-{round}")))
        .collect()
}

/// Both applies with `--prune`, started together, `rounds` times; each round each store drops
/// one secret and changes the rest. After each round every store's secrets are in the backend
/// with their values, and nothing else of theirs.
fn two_stores_prune_side_by_side(
    vars: Vec<(String, String)>,
    backend: &str,
    prefix: &str,
    read: &str,
) {
    let x = with_env(&vars, backend, prefix);
    let y = with_env(&vars, backend, prefix);
    for round in 0..4 {
        for (p, tag) in [(&x, "X"), (&y, "Y")] {
            // The ones deleted in earlier rounds stay deleted.
            let mut v = values(tag, 12, round);
            v.retain(|(n, _)| n[1..].parse::<usize>().unwrap() >= round);
            bulk_set(p, "production", &v);
            if round > 0 {
                p.ok(
                    &["delete", &format!("{tag}{:02}", round - 1), "--yes"],
                    None,
                );
            }
        }
        let mut a =
            common::spawn(&mut x.std_cmd(&["apply", "--env", "shared", "--prune", "--quiet"]));
        let mut b =
            common::spawn(&mut y.std_cmd(&["apply", "--env", "shared", "--prune", "--quiet"]));
        for (c, who) in [(&mut a, "X"), (&mut b, "Y")] {
            let s = c.wait_for(Duration::from_secs(120));
            assert!(s.success(), "round {round}: {who}'s apply failed: {s:?}");
        }
        for (p, tag) in [(&x, "X"), (&y, "Y")] {
            let got: serde_json::Value = serde_json::from_str(&p.ok(
                &[
                    "export", "--from", read, "--prefix", prefix, "--format", "json",
                ],
                None,
            ))
            .unwrap();
            let want: serde_json::Value = serde_json::from_str(
                &p.ok(&["export", "--env", "shared", "--format", "json"], None),
            )
            .unwrap();
            for (name, v) in want.as_object().unwrap() {
                assert_eq!(&got[name], v, "round {round}: {name} of store {tag}");
            }
            // What the store deleted is gone; the other store's secrets are all there.
            for k in 0..round {
                assert!(
                    got.get(format!("{tag}{k:02}")).is_none(),
                    "round {round}: {tag}{k:02} not pruned"
                );
            }
            let theirs = if tag == "X" { "Y" } else { "X" };
            let left = got
                .as_object()
                .unwrap()
                .keys()
                .filter(|n| n.starts_with(theirs))
                .count();
            assert_eq!(
                left,
                12 - round,
                "round {round}: {tag}'s prune touched {theirs}'s secrets"
            );
        }
    }
}

/// Two applies of one store at once, the second after a newer value was set: the backend ends
/// with the newer value (the older apply's write is refused or lands first), and a rerun is clean.
fn two_applies_lose_no_update(
    vars: Vec<(String, String)>,
    backend: &str,
    prefix: &str,
    read: &str,
) {
    let p = with_env(&vars, backend, prefix);
    for round in 0..4 {
        bulk_set(&p, "production", &values("S", 30, 2 * round));
        let mut a = common::spawn(&mut p.std_cmd(&["apply", "--env", "shared", "--quiet"]));
        std::thread::sleep(Duration::from_millis(150));
        bulk_set(&p, "production", &values("S", 30, 2 * round + 1));
        let mut b = common::spawn(&mut p.std_cmd(&["apply", "--env", "shared", "--quiet"]));
        let sa = a.wait_for(Duration::from_secs(120));
        let sb = b.wait_for(Duration::from_secs(120));
        // An apply that lost a race reports it (exit 1 or 2); one more apply settles it.
        assert!(sa.code().is_some() && sb.code().is_some());
        let mut out = p.run(&["apply", "--env", "shared"], None);
        if out.status.code() == Some(2) {
            // A known limit: where a write's value and labels are separate calls (AWS:
            // PutSecretValue, then TagResource), the older apply's value can land after the
            // newer one's labels. Its token then matches neither fingerprint, and the next
            // plan reports drift rather than guess whose write it was; reverting settles it.
            // Nothing is lost either way: the store holds the newer value.
            let text = common::text(&out);
            assert!(
                text.contains("a version was written outside secretsync since our last write")
                    && !text.contains("FAILED"),
                "round {round}: {text}"
            );
            out = p.run(&["apply", "--env", "shared", "--on-drift", "revert"], None);
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            common::text(&out)
        );
        let got: serde_json::Value = serde_json::from_str(&p.ok(
            &[
                "export", "--from", read, "--prefix", prefix, "--format", "json",
            ],
            None,
        ))
        .unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&p.ok(&["export", "--env", "shared", "--format", "json"], None))
                .unwrap();
        assert_eq!(got, want, "round {round}: an update was lost");
        let out = p.run(
            &["plan", "--env", "shared", "--verify", "--detailed-exitcode"],
            None,
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            common::text(&out)
        );
    }
}

fn moto() -> Option<(Vec<(String, String)>, String)> {
    let ep = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT")?;
    Some((
        common::aws_env(&ep),
        format!("aws-sm://?region=us-east-1&endpoint={ep}"),
    ))
}

fn openbao() -> Option<(Vec<(String, String)>, String)> {
    let addr = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR")?;
    let mount = random_prefix("conc");
    Some((
        vec![("VAULT_TOKEN".into(), "root".into())],
        format!(
            "{}/secret/{mount}",
            addr.replace("http://", "vault+http://")
        ),
    ))
}

#[test]
fn two_stores_pruning_one_moto_prefix_keep_apart() {
    let Some((vars, url)) = moto() else { return };
    let prefix = format!("{}shared/", random_prefix("conc"));
    two_stores_prune_side_by_side(vars, &url, &prefix, &url);
}

#[test]
fn two_stores_pruning_one_openbao_prefix_keep_apart() {
    let Some((vars, url)) = openbao() else { return };
    two_stores_prune_side_by_side(vars, &url, "shared/", &url);
}

#[test]
fn two_applies_at_once_lose_no_update_on_moto() {
    let Some((vars, url)) = moto() else { return };
    let prefix = format!("{}same/", random_prefix("conc"));
    two_applies_lose_no_update(vars, &url, &prefix, &url);
}

#[test]
fn two_applies_at_once_lose_no_update_on_openbao() {
    let Some((vars, url)) = openbao() else { return };
    two_applies_lose_no_update(vars, &url, "same/", &url);
}
