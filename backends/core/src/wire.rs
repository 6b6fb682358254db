//! The wire: where a backend's own HTTP requests are counted and paced, one by one. A backend
//! call can make several requests (a GCP create is three); cloud quotas count requests, so the
//! rate limit and the request counter sit on each request, not on the call.

use crate::calls::CallCounter;
use crate::error::OpClass;
use crate::pace::{Rate, RateLimit, RateLimits};
use backon::{BackoffBuilder, ExponentialBuilder};
use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Times a request is sent in all by [`Wire::send_again`], the first included.
pub const SEND_ATTEMPTS: usize = 3;
/// The first wait before a request is sent again (doubled, with jitter, for the next).
const RESEND_DELAY: Duration = Duration::from_millis(50);

/// What a failed request's error says about the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service answered (an error, a throttle): nothing to send again here; the retry
    /// layer honours a throttle's retry-after and counts it in its budget.
    Settled,
    /// No answer in time. Left to the retry layer too: sent again here, a service that hangs
    /// would cost several timeouts per call before the retry layer's budget could stop the run.
    TimedOut,
    /// It never reached the service (the connection could not be made): safe to send again,
    /// whatever it does.
    NotSent,
    /// It may or may not have been carried out (a reset connection, a 5xx, a lost response).
    Unknown,
}

/// Which faults a request may be sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Sending it twice does what sending it once does (reads, merges, writes guarded by a
    /// check-and-set or an idempotency token, a create whose "already exists" the caller
    /// handles): again after [`Fault::NotSent`] and [`Fault::Unknown`].
    Idempotent,
    /// Sending it twice could do it twice (SSM's `PutParameter`): again only after
    /// [`Fault::NotSent`]. Where the service can be asked whether it landed, see
    /// [`Wire::send_unless_landed`].
    IfNotSent,
}

/// What [`stack`](crate::layers::stack) attaches to a backend's wire.
#[derive(Debug)]
struct Hooks {
    backend: String,
    counter: Arc<CallCounter>,
    limits: Limits,
    /// Requests with a quota of their own (see [`Wire::own_quota`]), whatever their class.
    own: HashMap<&'static str, Arc<RateLimit>>,
}

/// One limiter for every request, or (per-API quotas) one per request name, each at `rates`.
#[derive(Debug)]
enum Limits {
    Shared(Arc<RateLimit>),
    PerApi {
        rates: RateLimits,
        by_name: Mutex<HashMap<String, Arc<RateLimit>>>,
    },
}

impl Limits {
    fn of(&self, request: &str) -> Arc<RateLimit> {
        match self {
            Limits::Shared(l) => l.clone(),
            Limits::PerApi { rates, by_name } => {
                let mut map = by_name.lock().expect("wire lock");
                if let Some(l) = map.get(request) {
                    return l.clone();
                }
                let l = Arc::new(RateLimit::new(rates));
                map.insert(request.to_string(), l.clone());
                l
            }
        }
    }
}

/// A backend's outlet for HTTP requests: every request it sends goes through [`Wire::send`],
/// which waits for a token of the request's quota class and counts it by the API's own name.
/// Until a layer stack attaches a counter and limiter, requests pass untouched.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    hooks: Arc<RwLock<Option<Arc<Hooks>>>>,
    per_api: bool,
    own: Vec<(&'static str, Rate)>,
    quota: Arc<ResendQuota>,
}

/// Tokens a resend spends and successes earn back, shared by a wire's clones (as the AWS
/// SDKs' retry quota): against a service that fails everything, resending stops after
/// [`RESEND_QUOTA`] / [`RESEND_COST`] resends, and the retry layer's budget ends the run as
/// soon as it would without them; a flaky one earns the tokens back as fast as it spends them.
#[derive(Debug)]
struct ResendQuota(Mutex<u32>);

/// The most tokens the resend quota holds.
const RESEND_QUOTA: u32 = 100;
/// What one resend costs; a request answered at its first attempt earns 1 back, a resend
/// answered earns its cost back (an error answer counts: the service is up).
const RESEND_COST: u32 = 5;

impl Default for ResendQuota {
    fn default() -> Self {
        Self(Mutex::new(RESEND_QUOTA))
    }
}

impl ResendQuota {
    fn take(&self) -> bool {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let ok = *t >= RESEND_COST;
        if ok {
            *t -= RESEND_COST;
        }
        ok
    }

    fn give(&self, n: u32) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = (*t + n).min(RESEND_QUOTA);
    }

    /// The service answered the request's `sent`-th attempt: 1 token when it was the first,
    /// else what its resends cost.
    fn answered(&self, sent: usize) {
        self.give(match sent {
            1 => 1,
            n => (n as u32 - 1) * RESEND_COST,
        });
    }
}

impl Wire {
    /// A wire whose service has one quota per class of request (GCP: 600 writes a minute).
    pub fn new() -> Self {
        Self::default()
    }

    /// A wire whose service gives each API its own quota of its class's rate (AWS:
    /// `CreateSecret`, `PutSecretValue` and `TagResource` 50/s each).
    pub fn per_api() -> Self {
        Self {
            per_api: true,
            ..Self::default()
        }
    }

    /// Gives `request` a quota of its own at `rate`, apart from its class's, as the service
    /// publishes it (GCP: `AccessSecretVersion`, 90,000 a minute, while other reads share 600).
    /// The environment's class rates do not change it.
    pub fn own_quota(mut self, request: &'static str, rate: Rate) -> Self {
        self.own.push((request, rate));
        self
    }

    /// From now on, counts requests into `counter` (under `backend`) and paces them at
    /// `rates`; replaces what was attached before.
    pub fn attach(&self, backend: &str, counter: Arc<CallCounter>, rates: &RateLimits) {
        *self.hooks.write().expect("wire lock") = Some(Arc::new(Hooks {
            backend: backend.to_string(),
            counter,
            limits: if self.per_api {
                Limits::PerApi {
                    rates: *rates,
                    by_name: Mutex::default(),
                }
            } else {
                Limits::Shared(Arc::new(RateLimit::new(rates)))
            },
            own: self
                .own
                .iter()
                .map(|&(request, rate)| (request, Arc::new(RateLimit::new(&RateLimits::all(rate)))))
                .collect(),
        }));
    }

    /// Sends one request: waits for a `class` token, counts `request` (the API's name for it,
    /// such as `CreateSecret`), then awaits `send`.
    pub async fn send<T>(
        &self,
        class: OpClass,
        request: impl Into<Cow<'static, str>>,
        send: impl Future<Output = T>,
    ) -> T {
        let hooks = self.hooks.read().expect("wire lock").clone();
        if let Some(h) = hooks {
            let request = request.into();
            match h.own.get(request.as_ref()) {
                Some(own) => own.until_class_ready(class).await,
                None => h.limits.of(&request).until_class_ready(class).await,
            }
            h.counter.record_request(&h.backend, request);
        }
        send.await
    }

    /// Sends one request as [`send`](Self::send) does, and sends it again, up to
    /// [`SEND_ATTEMPTS`] times in all after a short jittered wait, when `fault` says its
    /// failure allows it by `resend`. Each attempt is paced and counted: each is a request.
    ///
    /// A flaky network then costs a request a resend, not its whole operation: the retry
    /// layer above retries a call from its first request, and an operation of five requests
    /// on a network that fails one in five would fail two times in three. Resends spend a
    /// quota that answers earn back (see [`ResendQuota`]), so a service that is down is not
    /// sent everything three times.
    pub async fn send_again<T, E, Fut>(
        &self,
        class: OpClass,
        request: impl Into<Cow<'static, str>>,
        resend: Resend,
        fault: impl Fn(&E) -> Fault,
        send: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let on_unknown: Unknown<NoCheck<T, E>> = match resend {
            Resend::Idempotent => Unknown::Resend,
            Resend::IfNotSent => Unknown::Stop,
        };
        self.send_loop(class, request.into(), fault, send, on_unknown)
            .await
    }

    /// As [`send_again`](Self::send_again), for a request that sending twice could do twice
    /// (GCP's `AddSecretVersion`): after a fault that leaves unknown whether it landed,
    /// `landed` asks the service; its `Some` is the answer, and only its `None` sends the
    /// request again.
    pub async fn send_unless_landed<T, E, Fut, L, LFut>(
        &self,
        class: OpClass,
        request: impl Into<Cow<'static, str>>,
        fault: impl Fn(&E) -> Fault,
        send: impl FnMut() -> Fut,
        landed: L,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<Option<T>, E>>,
    {
        self.send_loop(class, request.into(), fault, send, Unknown::Check(landed))
            .await
    }

    /// The one loop behind [`send_again`](Self::send_again) and
    /// [`send_unless_landed`](Self::send_unless_landed).
    async fn send_loop<T, E, Fut, L, LFut>(
        &self,
        class: OpClass,
        request: Cow<'static, str>,
        fault: impl Fn(&E) -> Fault,
        mut send: impl FnMut() -> Fut,
        mut on_unknown: Unknown<L>,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<Option<T>, E>>,
    {
        let mut waits = ExponentialBuilder::default()
            .with_min_delay(RESEND_DELAY)
            .with_max_times(SEND_ATTEMPTS - 1)
            .with_jitter()
            .build();
        let mut sent = 0;
        loop {
            sent += 1;
            let e = match self.send(class, request.clone(), send()).await {
                Ok(t) => {
                    self.quota.answered(sent);
                    return Ok(t);
                }
                Err(e) => e,
            };
            let f = fault(&e);
            let allowed = match f {
                Fault::NotSent => true,
                Fault::Unknown => !matches!(on_unknown, Unknown::Stop),
                Fault::Settled | Fault::TimedOut => false,
            };
            let wait = if allowed { waits.next() } else { None };
            let Some(wait) = wait.filter(|_| self.quota.take()) else {
                // An answer, an error one included, earns tokens back: the service is up.
                if f == Fault::Settled {
                    self.quota.answered(sent);
                }
                return Err(e);
            };
            if let (Fault::Unknown, Unknown::Check(landed)) = (f, &mut on_unknown) {
                if let Some(t) = landed().await? {
                    // It had landed: no resend, and the service answered.
                    self.quota.give(RESEND_COST);
                    self.quota.answered(sent);
                    return Ok(t);
                }
            }
            tracing::debug!(
                request = %request,
                fault = ?f,
                wait_ms = wait.as_millis() as u64,
                "resending"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// The type of the check [`Wire::send_again`] never makes.
type NoCheck<T, E> = fn() -> std::future::Ready<Result<Option<T>, E>>;

/// What [`Wire::send_loop`] does after a fault that leaves unknown whether the request landed.
enum Unknown<L> {
    Resend,
    Stop,
    /// Asks whether it landed before sending it again.
    Check(L),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pace::{Rate, RateLimits};
    use std::time::Duration;

    fn ten_writes_a_second() -> RateLimits {
        RateLimits {
            write: Rate::per_second(10),
            ..RateLimits::default()
        }
    }

    // The limiter runs on tokio's clock: paused, the waits are virtual and exact.
    #[tokio::test(start_paused = true)]
    async fn counts_each_request_by_name_and_paces_it_by_class() {
        let wire = Wire::new();
        assert_eq!(
            wire.send(OpClass::Write, "Unattached", async { 1 }).await,
            1
        );
        let counter = CallCounter::new();
        wire.attach("test", counter.clone(), &ten_writes_a_second());
        let start = tokio::time::Instant::now();
        for _ in 0..15 {
            wire.send(OpClass::Write, "CreateSecret", async {}).await;
        }
        wire.send(OpClass::Read, "GetSecretValue", async {}).await;
        // A burst of 10 writes, then 5 more at 10/s (each wait has up to 5 ms of jitter).
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_millis(600),
            "{took:?}"
        );
        assert_eq!(counter.requests_named("CreateSecret"), 15);
        assert_eq!(counter.requests_named("GetSecretValue"), 1);
        assert_eq!(counter.requests_named("Unattached"), 0);
        assert_eq!(counter.total_requests(), 16);
    }

    /// Virtual time 10 `PutSecretValue` and 10 `TagResource` take through `wire`.
    async fn ten_of_each(wire: &Wire) -> Duration {
        wire.attach("test", CallCounter::new(), &ten_writes_a_second());
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            wire.send(OpClass::Write, "PutSecretValue", async {}).await;
            wire.send(OpClass::Write, "TagResource", async {}).await;
        }
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_per_api_wire_gives_each_request_name_its_own_quota() {
        // Each API's burst of 10 holds its 10: no wait at all.
        let per_api = Wire::per_api();
        assert_eq!(ten_of_each(&per_api).await, Duration::ZERO);
        // One more of either waits for its own API's next token.
        let start = tokio::time::Instant::now();
        per_api
            .send(OpClass::Write, "PutSecretValue", async {})
            .await;
        assert!(start.elapsed() >= Duration::from_millis(50));
        // Shared by class, the same 20 share one burst of 10 and then go at 10/s.
        let shared = ten_of_each(&Wire::new()).await;
        assert!(shared >= Duration::from_millis(950), "{shared:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_with_its_own_quota_leaves_its_class_alone() {
        let reads = RateLimits {
            read: Rate::per_second(10),
            ..RateLimits::default()
        };
        let wire = Wire::new().own_quota("AccessSecretVersion", Rate::per_second(1000));
        wire.attach("test", CallCounter::new(), &reads);
        // 500 value reads fit the own quota's burst of 1,000 and take no class token…
        let start = tokio::time::Instant::now();
        for _ in 0..500 {
            wire.send(OpClass::Read, "AccessSecretVersion", async {})
                .await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        // …so the class's burst of 10 is whole, and the 11th other read waits for a token.
        for _ in 0..10 {
            wire.send(OpClass::Read, "GetSecret", async {}).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        wire.send(OpClass::Read, "GetSecret", async {}).await;
        assert!(start.elapsed() >= Duration::from_millis(90));
    }

    /// Sends `faults` (then a success) through `send_again` as `resend` allows; the answer and
    /// how many requests were sent and counted.
    async fn sent_after(faults: &[Fault], resend: Resend) -> (Result<u32, Fault>, usize, u64) {
        let wire = Wire::new();
        let counter = CallCounter::new();
        wire.attach("test", counter.clone(), &RateLimits::unlimited());
        let sent = std::sync::atomic::AtomicUsize::new(0);
        let r = wire
            .send_again(
                OpClass::Write,
                "AddSecretVersion",
                resend,
                |f| *f,
                || {
                    let n = sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let answer = faults.get(n).map_or(Ok(7), |f| Err(*f));
                    async move { answer }
                },
            )
            .await;
        (
            r,
            sent.into_inner(),
            counter.requests_named("AddSecretVersion"),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_is_sent_again_only_after_a_fault_that_allows_it() {
        use Fault::*;
        // An idempotent request is sent again after a lost answer and a refused connection;
        // each attempt is a request, counted.
        assert_eq!(
            sent_after(&[Unknown, NotSent], Resend::Idempotent).await,
            (Ok(7), 3, 3)
        );
        // One that could be done twice, only when it never left.
        assert_eq!(
            sent_after(&[NotSent], Resend::IfNotSent).await,
            (Ok(7), 2, 2)
        );
        assert_eq!(
            sent_after(&[Unknown], Resend::IfNotSent).await,
            (Err(Unknown), 1, 1)
        );
        // An answer (or a timeout) goes to the caller at once.
        assert_eq!(
            sent_after(&[Settled], Resend::Idempotent).await,
            (Err(Settled), 1, 1)
        );
        // At most SEND_ATTEMPTS in all: the last fault is the answer.
        assert_eq!(
            sent_after(&[Unknown; SEND_ATTEMPTS], Resend::Idempotent).await,
            (Err(Unknown), SEND_ATTEMPTS, SEND_ATTEMPTS as u64)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn resends_stop_when_their_quota_is_spent_and_answers_earn_it_back() {
        let wire = Wire::new();
        let counter = CallCounter::new();
        wire.attach("test", counter.clone(), &RateLimits::unlimited());
        let call = |answer: Result<(), Fault>| {
            wire.send_again(
                OpClass::Read,
                "GetSecret",
                Resend::Idempotent,
                |f| *f,
                move || async move { answer },
            )
        };
        // A service failing everything: 10 calls spend the quota on 2 resends each…
        for _ in 0..15 {
            assert!(call(Err(Fault::Unknown)).await.is_err());
        }
        let per_resend = RESEND_QUOTA / RESEND_COST;
        assert_eq!(
            counter.requests_named("GetSecret"),
            u64::from(15 + per_resend),
            "then each call is sent once"
        );
        // Timeouts earn nothing; five answers at the first attempt, error answers included,
        // earn one resend back.
        for _ in 0..RESEND_COST {
            assert!(call(Err(Fault::TimedOut)).await.is_err());
        }
        for k in 0..RESEND_COST {
            let answer = if k % 2 == 0 {
                Ok(())
            } else {
                Err(Fault::Settled)
            };
            assert_eq!(call(answer).await, answer);
        }
        let before = counter.requests_named("GetSecret");
        assert!(call(Err(Fault::Unknown)).await.is_err());
        assert_eq!(counter.requests_named("GetSecret") - before, 2);
    }

    /// Sends `faults` (then a success, 7) through `send_unless_landed`, whose check answers
    /// `landed` (then "not landed"); the answer, the requests sent and the checks made.
    async fn checked_after(
        faults: &[Fault],
        landed: &[Result<Option<u32>, Fault>],
    ) -> (Result<u32, Fault>, usize, usize) {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let wire = Wire::new();
        let (sent, checked) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let r = wire
            .send_unless_landed(
                OpClass::Write,
                "AddSecretVersion",
                |f| *f,
                || {
                    let answer = faults
                        .get(sent.fetch_add(1, SeqCst))
                        .map_or(Ok(7), |f| Err(*f));
                    async move { answer }
                },
                || {
                    let answer = *landed
                        .get(checked.fetch_add(1, SeqCst))
                        .unwrap_or(&Ok(None));
                    async move { answer }
                },
            )
            .await;
        (r, sent.into_inner(), checked.into_inner())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_could_land_twice_is_sent_again_only_once_it_is_known_not_to_have() {
        use Fault::*;
        // Its fate unknown, and the service says it landed: that is the answer, not a resend.
        assert_eq!(
            checked_after(&[Unknown], &[Ok(Some(9))]).await,
            (Ok(9), 1, 1)
        );
        // It did not land: sent again.
        assert_eq!(checked_after(&[Unknown], &[Ok(None)]).await, (Ok(7), 2, 1));
        // Never sent: sent again without asking.
        assert_eq!(checked_after(&[NotSent], &[]).await, (Ok(7), 2, 0));
        // The question failing is the answer; an answer is never questioned.
        assert_eq!(
            checked_after(&[Unknown], &[Err(Settled)]).await,
            (Err(Settled), 1, 1)
        );
        assert_eq!(checked_after(&[Settled], &[]).await, (Err(Settled), 1, 0));
        // At most SEND_ATTEMPTS sends, and no question after the last.
        assert_eq!(
            checked_after(&[Unknown; SEND_ATTEMPTS], &[]).await,
            (Err(Unknown), SEND_ATTEMPTS, SEND_ATTEMPTS - 1)
        );
    }
}
