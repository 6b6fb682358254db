//! Pacing: rates by operation class and the token buckets that keep to them, on tokio's clock.
//! The rate-limit layer paces whole calls with them; a backend's [`Wire`](crate::wire::Wire)
//! paces each HTTP request.

use crate::error::{Op, OpClass};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Jitter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Duration;

/// `calls` per `per`, e.g. 50 per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls allowed …
    pub calls: u32,
    /// … per this long.
    pub per: Duration,
}

impl Rate {
    /// `calls` per second.
    pub const fn per_second(calls: u32) -> Rate {
        Rate {
            calls,
            per: Duration::from_secs(1),
        }
    }

    /// `calls` per minute.
    pub const fn per_minute(calls: u32) -> Rate {
        Rate {
            calls,
            per: Duration::from_secs(60),
        }
    }

    fn quota(self) -> Quota {
        let calls = NonZeroU32::new(self.calls.max(1)).expect("at least one");
        let period = self.per / calls.get();
        // A burst of one second's worth (at least one call).
        let per_sec = (u64::from(calls.get()) * 1000 / self.per.as_millis().max(1) as u64)
            .clamp(1, u64::from(u32::MAX));
        Quota::with_period(period.max(Duration::from_nanos(1)))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(per_sec as u32).expect("at least one"))
    }
}

/// Rate limits by operation class; defaults are AWS Secrets Manager's published quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `ListSecrets`-like calls.
    pub list: Rate,
    /// Value and metadata reads.
    pub read: Rate,
    /// Writes and deletes.
    pub write: Rate,
}

impl RateLimits {
    /// `rate` in every class.
    pub const fn all(rate: Rate) -> Self {
        Self {
            list: rate,
            read: rate,
            write: rate,
        }
    }

    /// No limit a local backend or a test reaches: a million calls a second in each class.
    pub const fn unlimited() -> Self {
        Self::all(Rate::per_second(1_000_000))
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            list: Rate::per_second(100),
            read: Rate::per_second(10_000),
            write: Rate::per_second(50),
        }
    }
}

/// The limiters' clock is tokio's, and so are their waits: in a paused runtime (virtual time,
/// as the quota benchmark runs) they run at once.
#[derive(Debug, Clone, Copy, Default)]
struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;

    fn now(&self) -> Self::Instant {
        tokio::time::Instant::now().into_std()
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<std::time::Instant>>;

/// A token bucket per operation class; a call waits (with a little jitter) for its token.
#[derive(Debug)]
pub struct RateLimit {
    list: Bucket,
    read: Bucket,
    write: Bucket,
}

impl RateLimit {
    /// Limiters for `limits`.
    pub fn new(limits: &RateLimits) -> Self {
        let bucket = |r: Rate| RateLimiter::direct_with_clock(r.quota(), TokioClock);
        Self {
            list: bucket(limits.list),
            read: bucket(limits.read),
            write: bucket(limits.write),
        }
    }

    fn bucket(&self, class: OpClass) -> &Bucket {
        match class {
            OpClass::List => &self.list,
            OpClass::Read => &self.read,
            OpClass::Write => &self.write,
        }
    }

    /// Takes a token for `op` if one is there now, without waiting: a server's quota, as a
    /// test or benchmark models one.
    pub fn admit(&self, op: Op) -> bool {
        self.bucket(op.class()).check().is_ok()
    }

    /// Waits for a token for `op`.
    pub async fn until_ready(&self, op: Op) {
        self.until_class_ready(op.class()).await;
    }

    /// Waits for a token of `class` (one HTTP request, as [`Wire`](crate::wire::Wire) paces them).
    pub async fn until_class_ready(&self, class: OpClass) {
        let bucket = self.bucket(class);
        while let Err(not_until) = bucket.check() {
            let wait = not_until.wait_time_from(TokioClock.now());
            tokio::time::sleep(Jitter::up_to(Duration::from_millis(5)) + wait).await;
        }
    }
}
