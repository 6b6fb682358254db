//! The requests a backend sends, held to the emulator's own log and to the backend's
//! permission table.

use super::support::v;
use crate::backend::{list_all, SecretBackend};
use crate::error::Op;
use crate::types::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Runs a little of everything (creates, an update, head, get, batch get, a listing, a delete)
/// through the usual layers, then checks that the HTTP requests the backend counted, by name,
/// are exactly those the emulator logged after `log` in entries containing `filter`: every
/// request is counted where it is sent, none twice, none missed.
pub async fn requests_match_the_log(
    b: Arc<dyn SecretBackend>,
    prefix: &str,
    log: crate::request_log::Mark,
    filter: &str,
) {
    use crate::calls::CallCounter;
    use crate::layers::{stack, RetryPolicy, StackConfig};
    use crate::pace::RateLimits;
    let counter = CallCounter::new();
    let cfg = StackConfig {
        retry: RetryPolicy::default(),
        rates: RateLimits::unlimited(),
        concurrency: 4,
        counter: counter.clone(),
    };
    let scheme = b.info().scheme;
    let s = stack(b, &cfg);
    let (a, other) = (format!("{prefix}A"), format!("{prefix}B"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    let create = PutOptions {
        mode: PutMode::CreateOnly,
        labels: labels.clone(),
        ..Default::default()
    };
    let case = "requests match the emulator's log";
    s.put(&a, &v("one"), &create).await.expect(case);
    s.put(&other, &v("two"), &create).await.expect(case);
    let update = PutOptions {
        labels,
        ..Default::default()
    };
    s.put(&a, &v("three"), &update).await.expect(case);
    assert!(s.head(&a).await.expect(case).is_some());
    assert!(s
        .head(&format!("{prefix}none"))
        .await
        .expect(case)
        .is_none());
    assert_eq!(s.get(&a).await.expect(case).expect(case).value, v("three"));
    let both = s.get_many(&[a.clone(), other.clone()]).await.expect(case);
    assert!(both.iter().all(Option::is_some), "{case}");
    assert_eq!(list_all(s.as_ref(), prefix).await.expect(case).len(), 2);
    for n in [&a, &other] {
        let force = DeleteOptions {
            mode: DeleteMode::Force,
        };
        s.delete(n, &force).await.expect(case);
    }
    let counted: BTreeMap<String, u64> = counter
        .requests()
        .into_iter()
        .filter(|(k, _)| k.backend == scheme)
        .map(|(k, n)| (k.request.into_owned(), n))
        .collect();
    let logged = log
        .requests_since(filter)
        .expect("the emulator's request log");
    assert!(
        counted.values().sum::<u64>() >= 10,
        "{case}: too few requests counted: {counted:?}"
    );
    assert_eq!(
        counted, logged,
        "{case}: counted (left) against logged (right)"
    );
}

/// Sends every kind of request the backend makes, one operation at a time, and returns each
/// request its wire counted with the operation that sent it: creates, updates (a repeat of
/// one, a conditional one where the backend has them), a create-only write on an existing
/// secret, head, get and batch get (of a present and an absent secret), listings, a delete,
/// and where deletes are soft a restore and a forced delete; then a delete of an absent secret. Its
/// backend test checks the pairs against the backend's permission table
/// ([`crate::permissions::Table::check`]). Leaves nothing behind.
pub async fn requests_by_op(b: Arc<dyn SecretBackend>, prefix: &str) -> Vec<(Op, String)> {
    use crate::calls::CallCounter;
    use crate::pace::RateLimits;
    let counter = CallCounter::new();
    b.wire()
        .expect("a backend that sends requests has a wire")
        .attach("permissions", counter.clone(), &RateLimits::unlimited());
    let caps = b.capabilities();
    let (a, none) = (format!("{prefix}A"), format!("{prefix}none"));
    let mut labels = Labels::new();
    labels.insert("managed-by".into(), "secretsync".into());
    let token = |t: char| Some(std::iter::repeat_n(t, 48).collect::<String>());
    let put = |mode: PutMode, t: char| PutOptions {
        mode,
        labels: labels.clone(),
        token: token(t),
    };
    let mut sent: Vec<(Op, String)> = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut record = |op: Op, sent: &mut Vec<(Op, String)>| {
        for (k, n) in counter.requests() {
            let before = seen.insert(k.request.to_string(), n).unwrap_or(0);
            if n > before {
                sent.push((op, k.request.into_owned()));
            }
        }
    };
    let case = "requests by operation";
    b.list(prefix, None).await.expect(case);
    record(Op::List, &mut sent);
    b.put(&a, &v("one"), &put(PutMode::CreateOnly, 'a'))
        .await
        .expect(case);
    b.put(&a, &v("two"), &put(PutMode::Upsert, 'b'))
        .await
        .expect(case);
    b.put(&a, &v("two"), &put(PutMode::Upsert, 'b'))
        .await
        .expect(case);
    let _ = b.put(&a, &v("three"), &put(PutMode::CreateOnly, 'c')).await;
    record(Op::Put, &mut sent);
    if caps.if_version {
        let current = b.head(&a).await.expect(case).and_then(|m| m.version);
        record(Op::Head, &mut sent);
        b.put(
            &a,
            &v("four"),
            &put(PutMode::IfVersion(current.unwrap_or_default()), 'd'),
        )
        .await
        .expect(case);
    }
    record(Op::Put, &mut sent);
    b.head(&a).await.expect(case);
    b.head(&none).await.expect(case);
    record(Op::Head, &mut sent);
    b.get(&a).await.expect(case);
    b.get(&none).await.expect(case);
    record(Op::Get, &mut sent);
    b.get_many(&[a.clone(), none.clone()]).await.expect(case);
    record(Op::BatchGet, &mut sent);
    // One page (a listing that holds names only reads metadata with `head`, its own op).
    b.list(prefix, None).await.expect(case);
    record(Op::List, &mut sent);
    b.delete(&a, &DeleteOptions::default()).await.expect(case);
    record(Op::Delete, &mut sent);
    let force = DeleteOptions {
        mode: DeleteMode::Force,
    };
    if caps.soft_delete {
        b.restore(&a).await.expect(case);
        record(Op::Restore, &mut sent);
        b.delete(&a, &force).await.expect(case);
    }
    let _ = b.delete(&none, &force).await;
    record(Op::Delete, &mut sent);
    sent
}
