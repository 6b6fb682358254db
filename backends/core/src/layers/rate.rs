//! The rate-limit layer: a call waits for a token of its class (see [`crate::pace`]).

use super::Around;
use crate::error::{Op, Result};
use crate::pace::RateLimit;
use std::future::Future;
use std::sync::Arc;

impl Around for Arc<RateLimit> {
    async fn around<T, F, Fut>(&self, op: Op, mut f: F) -> Result<T>
    where
        T: Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T>> + Send,
    {
        self.until_ready(op).await;
        f().await
    }
}
