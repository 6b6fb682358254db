//! The counting layer: every call that reaches the backend below it, into a
//! [`CallCounter`].

use super::Around;
use crate::calls::{CallCounter, CallKey};
use crate::error::{Op, Result};
use std::future::Future;
use std::sync::Arc;

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
