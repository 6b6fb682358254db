use super::Around;
use crate::error::{Op, Result};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// One counter: backend, operation, outcome (`ok` or an error kind).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct CallKey {
    /// Backend scheme.
    pub backend: String,
    /// Operation.
    pub op: Op,
    /// `ok`, or the error kind.
    pub outcome: &'static str,
}

/// One HTTP request counter: backend and the API's name for the request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RequestKey {
    /// Backend scheme.
    pub backend: String,
    /// The request, as the service names it (`CreateSecret`, `LIST metadata`, …).
    pub request: Cow<'static, str>,
}

/// Counts backend calls, and the HTTP requests they make (see [`Wire`](super::Wire));
/// metrics and benchmarks read it.
#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<CallKey, u64>>,
    requests: Mutex<BTreeMap<RequestKey, u64>>,
}

impl CallCounter {
    /// A new, shareable counter.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn record(&self, key: CallKey) {
        *self
            .counts
            .lock()
            .expect("counter lock")
            .entry(key)
            .or_default() += 1;
    }

    pub(super) fn record_request(&self, backend: &str, request: Cow<'static, str>) {
        let mut requests = self.requests.lock().expect("counter lock");
        let key = RequestKey {
            backend: backend.to_string(),
            request,
        };
        *requests.entry(key).or_default() += 1;
    }

    /// HTTP requests made, by backend and request (empty for backends without HTTP).
    pub fn requests(&self) -> BTreeMap<RequestKey, u64> {
        self.requests.lock().expect("counter lock").clone()
    }

    /// HTTP requests named `request`, whatever the backend.
    pub fn requests_named(&self, request: &str) -> u64 {
        self.requests()
            .iter()
            .filter(|(k, _)| k.request == request)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every HTTP request counted.
    pub fn total_requests(&self) -> u64 {
        self.requests().values().sum()
    }

    /// Every counter.
    pub fn snapshot(&self) -> BTreeMap<CallKey, u64> {
        self.counts.lock().expect("counter lock").clone()
    }

    /// Calls of `op`, whatever the outcome.
    pub fn calls(&self, op: Op) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(k, _)| k.op == op)
            .map(|(_, n)| n)
            .sum()
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        self.counts.lock().expect("counter lock").clear();
        self.requests.lock().expect("counter lock").clear();
    }
}

/// Counts every call that reaches the backend below it.
#[derive(Debug, Clone)]
pub struct Counted {
    backend: String,
    counter: Arc<CallCounter>,
}

impl Counted {
    /// Counts calls to `backend` into `counter`.
    pub fn new(backend: impl Into<String>, counter: Arc<CallCounter>) -> Self {
        Self {
            backend: backend.into(),
            counter,
        }
    }
}

impl Around for Counted {
    async fn around<T, F, Fut>(&self, op: Op, mut f: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let started = std::time::Instant::now();
        let r = f().await;
        let outcome = match &r {
            Ok(_) => "ok",
            Err(e) => e.kind.as_str(),
        };
        tracing::debug!(
            scheme = %self.backend,
            op = %op,
            outcome = %outcome,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "call"
        );
        self.counter.record(CallKey {
            backend: self.backend.clone(),
            op,
            outcome,
        });
        r
    }
}
