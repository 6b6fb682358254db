use super::Around;
use crate::error::{Op, Result};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// At most N calls in flight through this layer.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
}

impl ConcurrencyLimit {
    /// A limit of `n` (at least 1).
    pub fn new(n: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(n.max(1))),
        }
    }
}

impl Around for ConcurrencyLimit {
    async fn around<T, F, Fut>(&self, _op: Op, mut f: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("semaphore is never closed");
        f().await
    }
}
