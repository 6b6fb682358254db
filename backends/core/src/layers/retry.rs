use super::Around;
use crate::error::{BackendError, ErrorKind, Op, Result};
use backon::{ExponentialBuilder, Retryable};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// When and how long to wait before trying again.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: usize,
    /// First backoff.
    pub min_delay: Duration,
    /// Longest single wait (also caps a server's retry-after).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            // An operation is several requests (a read, then writes). The wire resends a request
            // that met a passing fault, but throttles, timeouts and writes that could land twice
            // come here, and a quota's window can refuse a call many times: it takes this many
            // attempts for hundreds of operations all to get through. A backend that is down
            // spends the retry budget instead, long before.
            max_attempts: 24,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// How many recent calls the retry budget looks at.
const WINDOW: usize = 50;
/// Retries stop once this many calls failed with no success among the recent ones (a backend
/// that never answered).
const ALL_FAILED: usize = 8;
/// Retries stop while at least this share of the recent calls failed (a backend that is down,
/// not one that is flaky): the run then ends in seconds, each item reported, instead of
/// backing off item after item.
const GIVE_UP_RATIO: f64 = 0.9;

/// How a call ended, as the retry budget sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// An answer, a refusal (not found, conflict…) included: the backend working.
    Answered,
    /// Throttled: the backend is up and says to slow down.
    Throttled,
    /// A transient failure: no answer.
    Failed,
}

/// The outcomes of the last [`WINDOW`] calls through one retry layer, shared by its clones.
#[derive(Debug, Default)]
struct Budget(Mutex<VecDeque<Outcome>>);

impl Budget {
    fn record(&self, r: Outcome) {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() == WINDOW {
            w.pop_front();
        }
        w.push_back(r);
    }

    /// `Some((unanswered, window))` when the budget is spent: no recent call was answered and at least
    /// [`ALL_FAILED`] failed, or nearly every one of a half-full window failed. Throttling is
    /// the backend answering "slower", not being down: a burst of it (every call in flight
    /// refused at once when a quota's window fills) does not spend the budget; only a whole
    /// window of it with no call answered does.
    fn spent(&self) -> Option<(usize, usize)> {
        let w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let failed = w.iter().filter(|o| **o == Outcome::Failed).count();
        let unanswered = w.iter().filter(|o| **o != Outcome::Answered).count();
        let all = unanswered == w.len() && (failed >= ALL_FAILED || w.len() == WINDOW);
        let nearly = w.len() >= WINDOW / 2 && failed as f64 >= GIVE_UP_RATIO * w.len() as f64;
        (all || nearly).then_some((unanswered, w.len()))
    }
}

/// Retries throttled and transient failures with jittered exponential backoff, waiting at least
/// as long as the server's retry-after, up to [`RetryPolicy::max_attempts`]. Other failures
/// return at once. A retry budget shared by every call through the layer stops retrying while
/// nearly all recent calls fail, so a backend that is down ends a run quickly.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    budget: Arc<Budget>,
}

impl Retry {
    /// A retry layer with `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            budget: Arc::default(),
        }
    }
}

impl Around for Retry {
    fn around<T, F, Fut>(&self, op: Op, f: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let p = &self.policy;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(p.min_delay)
            .with_max_delay(p.max_delay)
            .with_max_times(p.max_attempts.saturating_sub(1))
            .with_jitter();
        let max = p.max_delay;
        let mut f = f;
        let budget = self.budget.clone();
        let attempt = move || {
            let fut = f();
            let budget = budget.clone();
            async move {
                let r = fut.await;
                budget.record(match &r {
                    Err(e) if e.kind == ErrorKind::Throttled => Outcome::Throttled,
                    Err(e) if e.is_retryable() => Outcome::Failed,
                    _ => Outcome::Answered,
                });
                r.map_err(|mut e| {
                    if e.is_retryable() {
                        if let Some((failed, of)) = budget.spent() {
                            e.message.push_str(&format!(
                                " (not retried: {failed} of the last {of} calls failed)"
                            ));
                        }
                    }
                    e
                })
            }
        };
        let budget = self.budget.clone();
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(move |e: &BackendError| e.is_retryable() && budget.spent().is_none())
            .notify(move |e: &BackendError, wait: Duration| {
                tracing::debug!(
                    op = %op,
                    kind = %e.kind.as_str(),
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
            })
            .adjust(move |e: &BackendError, next: Option<Duration>| {
                // `None` means the attempts are used up: keep it so.
                next.map(|d| wait(d, e.retry_after, max))
            })
    }
}

/// The wait before the next attempt: backon's `next`, at least the server's retry-after, at most
/// `max`. A wait cut to the cap has lost backon's jitter: calls retrying at the cap would all
/// come back in step, and one refused by a server's steady rhythm would meet the same beat of it
/// every time (seen in the quota benchmark: an item refused 24 times, 5 s apart). So a wait at
/// the cap is half the cap to the cap, at random.
fn wait(next: Duration, retry_after: Option<Duration>, max: Duration) -> Duration {
    match retry_after {
        Some(r) => r.max(next).min(max),
        None if next >= max => governor::Jitter::up_to(max / 2) + max / 2,
        None => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn layer() -> Retry {
        Retry::new(RetryPolicy {
            max_attempts: 10,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        })
    }

    async fn op(r: &Retry, calls: &AtomicUsize, fail: impl Fn(usize) -> bool + Sync) -> Result<()> {
        op_failing(r, calls, ErrorKind::Transient, fail).await
    }

    async fn op_failing(
        r: &Retry,
        calls: &AtomicUsize,
        kind: ErrorKind,
        fail: impl Fn(usize) -> bool + Sync,
    ) -> Result<()> {
        r.around(Op::Get, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let failed = fail(n);
            async move {
                if failed {
                    Err(BackendError::new(kind, Op::Get, "boom"))
                } else {
                    Ok(())
                }
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_backend_that_always_fails_spends_the_budget_and_ends_quickly() {
        let (r, calls) = (layer(), AtomicUsize::new(0));
        let mut last = None;
        for _ in 0..10 {
            last = Some(op(&r, &calls, |_| true).await);
        }
        // Eight failed calls with no success spend the budget; then one call each.
        assert_eq!(calls.load(Ordering::SeqCst), 8 + 9);
        let e = last.unwrap().unwrap_err();
        assert!(e.message.contains("(not retried: "), "{e}");
    }

    #[tokio::test]
    async fn a_flaky_backend_is_retried_through() {
        let (r, calls) = (layer(), AtomicUsize::new(0));
        // Two of every three calls fail: far above any real fault rate, still retried.
        for _ in 0..50 {
            op(&r, &calls, |n| n % 3 != 0).await.unwrap();
        }
    }

    #[tokio::test]
    async fn bursts_of_throttling_are_retried_through() {
        let (r, calls) = (layer(), AtomicUsize::new(0));
        // A quota's window fills: the next 9 calls are all refused, then they pass again.
        // (Counted as failures, 8 refusals in a row spent the budget and failed an item.)
        for _ in 0..20 {
            op_failing(&r, &calls, ErrorKind::Throttled, |n| n % 10 != 9)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_backend_that_only_throttles_spends_the_budget_after_a_window() {
        let r = Retry::new(RetryPolicy {
            max_attempts: 100,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        });
        let calls = AtomicUsize::new(0);
        let e = op_failing(&r, &calls, ErrorKind::Throttled, |_| true)
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), WINDOW);
        assert!(e.message.contains("(not retried: 50 of the last 50"), "{e}");
    }

    #[test]
    fn waits_at_the_cap_are_spread_and_a_retry_after_is_kept() {
        let max = Duration::from_secs(5);
        let capped: std::collections::HashSet<Duration> =
            (0..50).map(|_| wait(max * 2, None, max)).collect();
        assert!(
            capped.iter().all(|d| *d >= max / 2 && *d <= max),
            "{capped:?}"
        );
        assert!(capped.len() > 10, "not spread: {capped:?}");
        let short = Duration::from_millis(200);
        assert_eq!(wait(short, None, max), short);
        assert_eq!(
            wait(short, Some(Duration::from_secs(2)), max),
            Duration::from_secs(2)
        );
        assert_eq!(wait(short, Some(Duration::from_secs(60)), max), max);
    }
}
