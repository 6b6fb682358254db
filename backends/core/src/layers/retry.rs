use super::Around;
use crate::error::{BackendError, Op, Result};
use backon::{ExponentialBuilder, Retryable};
use std::future::Future;
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
            max_attempts: 6,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Retries throttled and transient failures with jittered exponential backoff, waiting at least
/// as long as the server's retry-after. Other failures return at once.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
}

impl Retry {
    /// A retry layer with `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self { policy }
    }
}

impl Around for Retry {
    fn around<T, F, Fut>(&self, _op: Op, f: F) -> impl Future<Output = Result<T>> + Send
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
        f.retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &BackendError| e.is_retryable())
            .adjust(move |e: &BackendError, next: Option<Duration>| {
                // `None` means the attempts are used up: keep it so.
                next.map(|d| e.retry_after.map_or(d, |r| r.max(d)).min(max))
            })
    }
}
