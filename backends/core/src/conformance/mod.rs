//! The conformance suite: the behaviour every backend must show, run against each one (memory,
//! file, and the clouds through their emulators) under a fresh random prefix.
//!
//! ```ignore
//! secretsync_core::conformance::run(backend, &conformance::random_prefix("aws")).await;
//! ```

use crate::backend::{list_all, SecretBackend};
use crate::error::ErrorKind;
use crate::types::*;
use crate::value::SecretValue;
use std::collections::BTreeMap;
use std::sync::Arc;

mod requests;
mod support;

pub use requests::{requests_by_op, requests_match_the_log};
pub use support::{emulator_endpoint, random_prefix, CANARY};
use support::{expect_kind, labels, v};

/// Runs every case against `b` under `prefix`, then deletes what it wrote. Panics naming the
/// case that failed.
pub async fn run(b: Arc<dyn SecretBackend>, prefix: &str) {
    // As secretsync uses every backend: behind the layer that checks names, values and modes.
    let b: Arc<dyn SecretBackend> = Arc::new(crate::layers::Checked::new(b));
    let caps = b.capabilities();
    // The bulk writes of the pagination case go through the retry layer, as every write does
    // in production: emulators (and clouds) answer some concurrent calls with a passing 500.
    let retried = crate::layers::Layered::new(
        b.clone(),
        crate::layers::Retry::new(crate::layers::RetryPolicy {
            max_attempts: 5,
            min_delay: std::time::Duration::from_millis(20),
            max_delay: std::time::Duration::from_secs(1),
        }),
    );
    let b = b.as_ref();
    create_read_and_new_version(b, prefix).await;
    conditional_create_is_refused(b, prefix).await;
    labels_round_trip_via_list(b, prefix, &caps).await;
    idempotent_and_conditional_writes(b, prefix, &caps).await;
    delete_and_recreate(b, prefix).await;
    binary_value(b, prefix, &caps).await;
    size_limits(b, prefix, &caps).await;
    not_found(b, prefix).await;
    name_rules(b, prefix, &caps).await;
    pagination(b, &retried, prefix, &caps).await;
    cleanup(b, prefix).await;
}

async fn create_read_and_new_version(b: &dyn SecretBackend, p: &str) {
    let case = "create, read, new version";
    let n = format!("{p}basic");
    let first = b
        .put(
            &n,
            &v("one"),
            &PutOptions {
                mode: PutMode::CreateOnly,
                ..Default::default()
            },
        )
        .await
        .expect(case);
    assert!(first.created, "{case}: first write must report created");
    let got = b
        .get(&n)
        .await
        .expect(case)
        .expect("{case}: written secret not found");
    assert_eq!(got.value, v("one"), "{case}");
    assert_eq!(got.name, n);
    let second = b
        .put(&n, &v("two"), &PutOptions::default())
        .await
        .expect(case);
    assert!(!second.created, "{case}: an update is not a create");
    if first.version.is_some() && second.version.is_some() {
        assert_ne!(
            first.version, second.version,
            "{case}: a new value must be a new version"
        );
    }
    let got = b.get(&n).await.expect(case).expect(case);
    assert_eq!(got.value, v("two"), "{case}: the new value must be current");
    if second.version.is_some() {
        assert_eq!(
            got.version, second.version,
            "{case}: get reports the current version"
        );
    }
    let head = b.head(&n).await.expect(case).expect(case);
    assert_eq!(head.name, n, "{case}");
}

async fn conditional_create_is_refused(b: &dyn SecretBackend, p: &str) {
    let case = "create-only on an existing secret";
    let n = format!("{p}basic");
    let r = b
        .put(
            &n,
            &v(CANARY),
            &PutOptions {
                mode: PutMode::CreateOnly,
                ..Default::default()
            },
        )
        .await;
    expect_kind(r, ErrorKind::AlreadyExists, case);
    assert_eq!(
        b.get(&n).await.expect(case).expect(case).value,
        v("two"),
        "{case}: the value must be unchanged"
    );
}

async fn labels_round_trip_via_list(b: &dyn SecretBackend, p: &str, caps: &Capabilities) {
    let case = "labels round trip";
    let n = format!("{p}labelled");
    let l1 = labels(&[
        ("managed-by", "secretsync"),
        ("secretsync-fp", "0a1b2c3d4e5f"),
    ]);
    b.put(
        &n,
        &v("x"),
        &PutOptions {
            labels: l1.clone(),
            ..Default::default()
        },
    )
    .await
    .expect(case);
    let l2 = labels(&[("secretsync-fp", "ffeeddccbbaa")]);
    b.put(
        &n,
        &v("y"),
        &PutOptions {
            labels: l2,
            ..Default::default()
        },
    )
    .await
    .expect(case);
    let want = labels(&[
        ("managed-by", "secretsync"),
        ("secretsync-fp", "ffeeddccbbaa"),
    ]);
    let listed = list_all(b, &n).await.expect(case);
    let meta = listed
        .iter()
        .find(|m| m.name == n)
        .unwrap_or_else(|| panic!("{case}: {n} not listed"));
    if caps.labels_in_list {
        assert_eq!(
            meta.labels, want,
            "{case}: list must show the merged labels"
        );
    }
    let head = b.head(&n).await.expect(case).expect(case);
    assert_eq!(
        head.labels, want,
        "{case}: head must show the merged labels"
    );
    if caps.version_in_list {
        let cur = b.get(&n).await.expect(case).expect(case).version;
        assert_eq!(
            meta.version, cur,
            "{case}: list's version is the current one"
        );
    }
}

async fn idempotent_and_conditional_writes(b: &dyn SecretBackend, p: &str, caps: &Capabilities) {
    let n = format!("{p}idem");
    if caps.idempotency_token {
        let case = "a repeated write with the same token";
        let opts = PutOptions {
            token: Some("a".repeat(32) + "0000000000000001"),
            ..Default::default()
        };
        let first = b.put(&n, &v("same"), &opts).await.expect(case);
        let again = b.put(&n, &v("same"), &opts).await.expect(case);
        assert_eq!(
            first.version, opts.token,
            "{case}: the token is the new version's id"
        );
        let listed = list_all(b, &n).await.expect(case);
        if caps.version_in_list {
            assert_eq!(
                listed[0].version, opts.token,
                "{case}: list reports the token as the version"
            );
        }
        assert_eq!(
            first.version, again.version,
            "{case}: must not create a second version"
        );
        let other = PutOptions {
            token: Some("b".repeat(32) + "0000000000000002"),
            ..Default::default()
        };
        let next = b.put(&n, &v("next"), &other).await.expect(case);
        assert_ne!(
            first.version, next.version,
            "{case}: a new token and value is a new version"
        );
    }
    if caps.if_version {
        let case = "if-version write";
        b.put(&n, &v("base"), &PutOptions::default())
            .await
            .expect(case);
        let cur = b
            .head(&n)
            .await
            .expect(case)
            .expect(case)
            .version
            .expect("{case}: head has a version");
        let stale = PutOptions {
            mode: PutMode::IfVersion("no-such-version".into()),
            ..Default::default()
        };
        expect_kind(
            b.put(&n, &v(CANARY), &stale).await,
            ErrorKind::Conflict,
            case,
        );
        let fresh = PutOptions {
            mode: PutMode::IfVersion(cur),
            ..Default::default()
        };
        b.put(&n, &v("cas"), &fresh).await.expect(case);
        assert_eq!(
            b.get(&n).await.expect(case).expect(case).value,
            v("cas"),
            "{case}"
        );
    } else {
        let case = "if-version unsupported";
        let opts = PutOptions {
            mode: PutMode::IfVersion("1".into()),
            ..Default::default()
        };
        expect_kind(
            b.put(&n, &v("x"), &opts).await,
            ErrorKind::Unsupported,
            case,
        );
    }
}

async fn delete_and_recreate(b: &dyn SecretBackend, p: &str) {
    let case = "delete and re-create";
    let n = format!("{p}gone");
    b.put(&n, &v("x"), &PutOptions::default())
        .await
        .expect(case);
    b.delete(
        &n,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .expect(case);
    assert!(
        b.get(&n).await.expect(case).is_none(),
        "{case}: deleted secret still readable"
    );
    assert!(
        b.head(&n).await.expect(case).is_none(),
        "{case}: deleted secret still has metadata"
    );
    assert!(
        !list_all(b, &n)
            .await
            .expect(case)
            .iter()
            .any(|m| m.name == n),
        "{case}: deleted secret still listed"
    );
    let again = b
        .put(
            &n,
            &v("back"),
            &PutOptions {
                mode: PutMode::CreateOnly,
                ..Default::default()
            },
        )
        .await
        .expect(case);
    assert!(again.created, "{case}");
    assert_eq!(b.get(&n).await.expect(case).expect(case).value, v("back"));
}

async fn binary_value(b: &dyn SecretBackend, p: &str, caps: &Capabilities) {
    let case = "binary value";
    let n = format!("{p}binary");
    let bytes: Vec<u8> = vec![0, 1, 2, 0xff, 0xfe, 0x80, b'\n', 0];
    let r = b
        .put(&n, &SecretValue::new(bytes.clone()), &PutOptions::default())
        .await;
    if caps.binary_values {
        r.expect(case);
        assert_eq!(
            b.get(&n).await.expect(case).expect(case).value.expose(),
            &bytes[..],
            "{case}"
        );
    } else {
        expect_kind(r, ErrorKind::InvalidInput, case);
    }
    let case = "multi-line text value";
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    b.put(&n, &v(pem), &PutOptions::default())
        .await
        .expect(case);
    assert_eq!(
        b.get(&n).await.expect(case).expect(case).value,
        v(pem),
        "{case}"
    );
}

async fn size_limits(b: &dyn SecretBackend, p: &str, caps: &Capabilities) {
    let case = "largest value";
    let n = format!("{p}big");
    let max = "x".repeat(caps.max_value_bytes);
    b.put(&n, &v(&max), &PutOptions::default())
        .await
        .expect(case);
    assert_eq!(
        b.get(&n).await.expect(case).expect(case).value.len(),
        caps.max_value_bytes,
        "{case}"
    );
    let case = "over-limit value";
    let over = CANARY.repeat(caps.max_value_bytes / CANARY.len() + 1);
    expect_kind(
        b.put(&n, &v(&over), &PutOptions::default()).await,
        ErrorKind::InvalidInput,
        case,
    );
    let case = "empty value";
    expect_kind(
        b.put(&n, &v(""), &PutOptions::default()).await,
        ErrorKind::InvalidInput,
        case,
    );
}

async fn not_found(b: &dyn SecretBackend, p: &str) {
    let case = "not found";
    let n = format!("{p}never");
    assert!(
        b.get(&n).await.expect(case).is_none(),
        "{case}: get of a missing secret is None"
    );
    assert!(
        b.head(&n).await.expect(case).is_none(),
        "{case}: head of a missing secret is None"
    );
    // (A forced delete of a missing secret succeeds on AWS, so the default mode is checked.)
    expect_kind(
        b.delete(&n, &DeleteOptions::default()).await,
        ErrorKind::NotFound,
        case,
    );
}

async fn name_rules(b: &dyn SecretBackend, p: &str, caps: &Capabilities) {
    let case = "longest name";
    let n = format!("{p}{}", "n".repeat(caps.names.max_len - p.len()));
    b.put(&n, &v("edge"), &PutOptions::default())
        .await
        .expect(case);
    assert_eq!(
        b.get(&n).await.expect(case).expect(case).value,
        v("edge"),
        "{case}"
    );
    b.delete(
        &n,
        &DeleteOptions {
            mode: DeleteMode::Force,
        },
    )
    .await
    .expect(case);
    let case = "name one too long";
    expect_kind(
        b.put(&format!("{n}n"), &v(CANARY), &PutOptions::default())
            .await,
        ErrorKind::InvalidInput,
        case,
    );
    let case = "name with a forbidden character";
    expect_kind(
        b.put(&format!("{p}bad name!"), &v(CANARY), &PutOptions::default())
            .await,
        ErrorKind::InvalidInput,
        case,
    );
    if !caps.names.extra_chars.is_empty() {
        let case = "name with every allowed special character";
        // (Where a name with `/` must be a full path, it starts with one.)
        let root = if caps.names.rooted_paths { "/" } else { "" };
        let n = format!("{root}{p}x{}", caps.names.extra_chars);
        b.put(&n, &v("ok"), &PutOptions::default())
            .await
            .expect(case);
        assert!(b.head(&n).await.expect(case).is_some(), "{case}");
        if caps.names.rooted_paths {
            let case = "a path that does not start with /";
            expect_kind(
                b.put(&format!("{p}x/y"), &v(CANARY), &PutOptions::default())
                    .await,
                ErrorKind::InvalidInput,
                case,
            );
            // Outside the run's prefix: the cleanup would not find it.
            b.delete(
                &n,
                &DeleteOptions {
                    mode: DeleteMode::Force,
                },
            )
            .await
            .expect(case);
        }
    }
}

async fn pagination(
    b: &dyn SecretBackend,
    writer: &dyn SecretBackend,
    p: &str,
    caps: &Capabilities,
) {
    let case = "pagination";
    // Enough for several pages; a backend without a page limit (Vault's LIST) gets 250.
    let count = if caps.max_page_size >= 1000 {
        250
    } else {
        250.max(caps.max_page_size + 1)
    };
    let pp = format!("{p}page_");
    let names: Vec<String> = (0..count).map(|i| format!("{pp}{i:04}")).collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::new();
    for n in names.clone() {
        let sem = sem.clone();
        // The suite holds `&dyn`, so writes run concurrently in one task via join.
        tasks.push(async move {
            let _p = sem.acquire().await.expect("semaphore");
            let mut l = BTreeMap::new();
            l.insert("page".to_string(), "yes".to_string());
            writer
                .put(
                    &n,
                    &v("p"),
                    &PutOptions {
                        labels: l,
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ())
        });
    }
    for r in futures::future::join_all(tasks).await {
        r.expect(case);
    }
    // Page by page: no page larger than the maximum, more than one page, nothing twice.
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = b.list(&pp, token.clone()).await.expect(case);
        assert!(
            page.items.len() <= caps.max_page_size,
            "{case}: page of {} > {}",
            page.items.len(),
            caps.max_page_size
        );
        seen.extend(page.items.into_iter().map(|m| {
            if caps.labels_in_list {
                assert_eq!(
                    m.labels.get("page").map(String::as_str),
                    Some("yes"),
                    "{case}: labels in list"
                );
            }
            m.name
        }));
        pages += 1;
        assert!(pages <= count, "{case}: the listing does not end");
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    seen.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(seen, want, "{case}: every secret exactly once");
    if count > caps.max_page_size {
        assert!(
            pages > 1,
            "{case}: {count} secrets must take more than one page"
        );
    }
    // Batch reads return values in the order asked, None for absent names.
    let mut ask: Vec<String> = names.iter().take(45).cloned().collect();
    ask.insert(3, format!("{p}absent"));
    let got = crate::backend::get_all(b, &ask, 4).await.expect(case);
    assert_eq!(got.len(), ask.len(), "{case}: get_all answers every name");
    for (n, g) in ask.iter().zip(&got) {
        match g {
            Some(s) => assert_eq!(
                (&s.name, s.value.expose()),
                (n, &b"p"[..]),
                "{case}: get_all order"
            ),
            None => assert!(n.ends_with("absent"), "{case}: {n} missing from get_all"),
        }
    }
    // The prefix filters: a narrower prefix sees fewer, a sibling prefix sees none.
    assert_eq!(
        list_all(b, &format!("{pp}00")).await.expect(case).len(),
        100,
        "{case}: prefix filter"
    );
    assert!(
        list_all(b, &format!("{p}zz_"))
            .await
            .expect(case)
            .is_empty(),
        "{case}: unrelated prefix"
    );
}

async fn cleanup(b: &dyn SecretBackend, p: &str) {
    for m in list_all(b, p).await.expect("cleanup list") {
        b.delete(
            &m.name,
            &DeleteOptions {
                mode: DeleteMode::Force,
            },
        )
        .await
        .expect("cleanup delete");
    }
    assert!(
        list_all(b, p).await.expect("cleanup").is_empty(),
        "cleanup left secrets behind"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::FileBackend;
    use crate::memory::MemoryBackend;

    #[tokio::test]
    async fn memory_backend_conforms() {
        run(Arc::new(MemoryBackend::new()), &random_prefix("mem")).await;
    }

    #[tokio::test]
    async fn memory_backend_conforms_with_small_pages() {
        let caps = Capabilities {
            max_page_size: 7,
            ..MemoryBackend::default_capabilities()
        };
        run(
            Arc::new(MemoryBackend::new().with_capabilities(caps)),
            &random_prefix("mem"),
        )
        .await;
    }

    #[tokio::test]
    async fn file_backend_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let b = FileBackend::new(dir.path().join("sub/secrets.json"));
        run(Arc::new(b.clone()), &random_prefix("file")).await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(b.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the file backend must be private");
        }
    }
}
