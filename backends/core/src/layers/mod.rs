//! Cross-cutting behaviour as layers: each wraps any backend and is itself a backend. A layer
//! implements [`Around`] (what to do around one call); [`Layered`] does the delegation once.
//!
//! [`stack`] builds the usual order, outermost first: checks and error context → concurrency
//! limit → retry → rate limit → call counter → backend. So a call the backend cannot take is
//! refused before it costs anything, every attempt (retries included) waits for the rate limiter
//! and is counted, and a retrying call keeps its concurrency slot. A backend that speaks HTTP
//! has a [`Wire`]: there the rate limit moves onto each request it sends, and each request is
//! counted by name, because cloud quotas count requests and one call can make several.

#[cfg(any(test, feature = "chaos"))]
mod chaos;
mod checked;
mod concurrency;
mod counter;
mod rate;
mod retry;

#[cfg(any(test, feature = "chaos"))]
pub use chaos::{Chaos, Faults};
pub use checked::Checked;
pub use concurrency::ConcurrencyLimit;
pub use counter::Counted;
pub use retry::{Retry, RetryPolicy};

use crate::backend::SecretBackend;
use crate::calls::CallCounter;
use crate::error::{Op, Result};
use crate::pace::{RateLimit, RateLimits};
use crate::types::{
    BackendInfo, Capabilities, DeleteOptions, Page, PutOptions, PutOutcome, Secret, SecretMeta,
};
use crate::value::SecretValue;
use crate::wire::Wire;
use async_trait::async_trait;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

/// What a layer does around one backend call. `f` may be called more than once (retries).
pub trait Around: Send + Sync + Debug {
    /// Runs `f` for `op`, with this layer's behaviour around it.
    fn around<T, F, Fut>(&self, op: Op, f: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send;
}

/// A backend wrapped in a layer.
#[derive(Debug)]
pub struct Layered<L> {
    inner: Arc<dyn SecretBackend>,
    layer: L,
}

impl<L: Around> Layered<L> {
    /// Wraps `inner` in `layer`.
    pub fn new(inner: Arc<dyn SecretBackend>, layer: L) -> Self {
        Self { inner, layer }
    }
}

#[async_trait]
impl<L: Around + 'static> SecretBackend for Layered<L> {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn wire(&self) -> Option<&Wire> {
        self.inner.wire()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        self.layer
            .around(Op::List, || self.inner.list(prefix, page.clone()))
            .await
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        self.layer.around(Op::Head, || self.inner.head(name)).await
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        self.layer.around(Op::Get, || self.inner.get(name)).await
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        self.layer
            .around(Op::BatchGet, || self.inner.get_many(names))
            .await
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        self.layer
            .around(Op::Put, || self.inner.put(name, value, opts))
            .await
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        self.layer
            .around(Op::Delete, || self.inner.delete(name, opts))
            .await
    }

    async fn restore(&self, name: &str) -> Result<()> {
        self.layer
            .around(Op::Restore, || self.inner.restore(name))
            .await
    }
}

/// The settings of the usual layer stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Rate limits per operation class.
    pub rates: RateLimits,
    /// Most calls in flight at once.
    pub concurrency: usize,
    /// Where calls are counted.
    pub counter: Arc<CallCounter>,
}

/// Wraps `backend` in the usual layers (see the module docs for the order).
pub fn stack(backend: Arc<dyn SecretBackend>, cfg: &StackConfig) -> Arc<dyn SecretBackend> {
    let counted: Arc<dyn SecretBackend> = Arc::new(Layered::new(
        backend.clone(),
        Counted::new(backend.info().scheme, cfg.counter.clone()),
    ));
    let limited: Arc<dyn SecretBackend> = match backend.wire() {
        Some(wire) => {
            wire.attach(&backend.info().scheme, cfg.counter.clone(), &cfg.rates);
            counted
        }
        None => Arc::new(Layered::new(counted, Arc::new(RateLimit::new(&cfg.rates)))),
    };
    let retried: Arc<dyn SecretBackend> =
        Arc::new(Layered::new(limited, Retry::new(cfg.retry.clone())));
    let limited: Arc<dyn SecretBackend> = Arc::new(Layered::new(
        retried,
        ConcurrencyLimit::new(cfg.concurrency),
    ));
    Arc::new(Checked::new(limited))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::memory::MemoryBackend;
    use crate::pace::Rate;
    use crate::types::PutOptions;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn fast_retry() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
        }
    }

    fn stacked(chaos: &Chaos, counter: &Arc<CallCounter>) -> Arc<dyn SecretBackend> {
        let cfg = StackConfig {
            retry: fast_retry(),
            rates: RateLimits::default(),
            concurrency: 4,
            counter: counter.clone(),
        };
        stack(Arc::new(chaos.clone()), &cfg)
    }

    #[tokio::test]
    async fn retries_throttling_and_counts_every_attempt() {
        let mem = MemoryBackend::new();
        let chaos = Chaos::new(Arc::new(mem.clone()));
        let counter = CallCounter::new();
        let b = stacked(&chaos, &counter);
        chaos.inject(|f| f.throttle = 3);
        b.put("a", &"v".into(), &PutOptions::default())
            .await
            .unwrap();
        let snap = counter.snapshot();
        let n = |outcome| {
            snap.iter()
                .filter(|(k, _)| k.op == Op::Put && k.outcome == outcome)
                .map(|(_, n)| *n)
                .sum::<u64>()
        };
        assert_eq!((n("throttled"), n("ok")), (3, 1));
    }

    #[tokio::test]
    async fn does_not_retry_permanent_errors_and_gives_up_after_max_attempts() {
        let mem = MemoryBackend::new();
        let chaos = Chaos::new(Arc::new(mem.clone()));
        let counter = CallCounter::new();
        let b = stacked(&chaos, &counter);
        chaos.inject(|f| {
            f.deny.insert("secret".into());
        });
        let e = b.get("secret").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(counter.calls(Op::Get), 1, "no retry of a permanent error");
        chaos.inject(|f| f.transient = 100);
        let e = b.get("other").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(counter.calls(Op::Get), 1 + 5, "five attempts in all");
    }

    #[tokio::test]
    async fn a_lost_write_response_retried_with_a_token_makes_one_version() {
        let mem = MemoryBackend::new();
        let chaos = Chaos::new(Arc::new(mem.clone()));
        let b = stacked(&chaos, &CallCounter::new());
        chaos.inject(|f| f.lose_write_response = 2);
        let opts = PutOptions {
            token: Some("t1".into()),
            ..Default::default()
        };
        b.put("a", &"v".into(), &opts).await.unwrap();
        assert_eq!(mem.version_count("a"), 1);
        b.put(
            "a",
            &"v2".into(),
            &PutOptions {
                token: Some("t2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(mem.version_count("a"), 2);
    }

    #[tokio::test]
    async fn the_rate_limit_spaces_writes() {
        let mem = MemoryBackend::new();
        let limits = RateLimits {
            write: Rate::per_second(20),
            ..RateLimits::default()
        };
        let b = Layered::new(Arc::new(mem), Arc::new(RateLimit::new(&limits)));
        let start = Instant::now();
        for i in 0..30 {
            b.put(&format!("s{i}"), &"v".into(), &PutOptions::default())
                .await
                .unwrap();
        }
        // A burst of 20, then 10 more at 20/s: at least 0.45 s. (A lower bound: never flaky.)
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
    }

    /// A layer that records how many calls are inside it at once.
    #[derive(Debug, Default)]
    struct Probe {
        now: AtomicUsize,
        max: AtomicUsize,
    }

    impl Around for Arc<Probe> {
        async fn around<T, F, Fut>(&self, _op: Op, mut f: F) -> Result<T>
        where
            T: Send,
            F: FnMut() -> Fut + Send,
            Fut: Future<Output = Result<T>> + Send,
        {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            let r = f().await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            r
        }
    }

    #[tokio::test]
    async fn the_concurrency_limit_caps_calls_in_flight() {
        let probe = Arc::new(Probe::default());
        let probed: Arc<dyn SecretBackend> =
            Arc::new(Layered::new(Arc::new(MemoryBackend::new()), probe.clone()));
        let b = Layered::new(probed, ConcurrencyLimit::new(3));
        let calls = (0..20).map(|i| {
            let b = &b;
            async move { b.get(&format!("s{i}")).await }
        });
        futures::future::join_all(calls).await;
        assert_eq!(probe.max.load(Ordering::SeqCst), 3);
    }
}
