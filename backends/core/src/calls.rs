//! Counting: backend calls by operation and outcome, and the HTTP requests they make by name,
//! for reports, metrics and benchmarks.

use crate::error::Op;
use std::borrow::Cow;
use std::collections::BTreeMap;
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

/// Counts backend calls, and the HTTP requests they make (see [`Wire`](crate::wire::Wire));
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

    pub(crate) fn record(&self, key: CallKey) {
        *self
            .counts
            .lock()
            .expect("counter lock")
            .entry(key)
            .or_default() += 1;
    }

    pub(crate) fn record_request(&self, backend: &str, request: Cow<'static, str>) {
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
