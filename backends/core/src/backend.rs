//! The [`SecretBackend`] trait every place secrets are replicated to implements.

use crate::error::{BackendError, ErrorKind, Op, Result};
use crate::types::{
    BackendInfo, Capabilities, DeleteOptions, Page, PutOptions, PutOutcome, Secret, SecretMeta,
};
use crate::value::SecretValue;
use async_trait::async_trait;
use std::fmt::Debug;

/// A secret manager secretsync replicates into. The required surface is small; retries, rate
/// limits and metrics are layers around it (see [`crate::layers`]).
#[async_trait]
pub trait SecretBackend: Send + Sync + Debug {
    /// Scheme and redacted target.
    fn info(&self) -> BackendInfo;

    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Where its HTTP requests are counted and paced one by one, for a backend that makes
    /// them (see [`crate::wire::Wire`]); `None` for local ones, which are paced per call.
    fn wire(&self) -> Option<&crate::wire::Wire> {
        None
    }

    /// One page of metadata of the secrets whose names start with `prefix`. Never reads values.
    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>>;

    /// Metadata of one secret (`None` when absent). Never reads its value.
    async fn head(&self, name: &str) -> Result<Option<SecretMeta>>;

    /// The current value of one secret (`None` when absent).
    async fn get(&self, name: &str) -> Result<Option<Secret>>;

    /// The values of several secrets, in the order asked (`None` for absent ones). At most
    /// `capabilities().max_batch_get` names a call; backends with a batch API override this.
    /// Callers read values (plans, exports, migrations), so a backend whose version costs a
    /// request apart from the value's may leave `version` out here; [`get`](Self::get) has it.
    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            out.push(self.get(n).await?);
        }
        Ok(out)
    }

    /// Creates the secret or adds a version, as `opts` allow.
    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome>;

    /// Deletes a secret; `NotFound` when absent.
    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()>;

    /// Undoes a soft delete.
    async fn restore(&self, name: &str) -> Result<()> {
        Err(BackendError::new(
            ErrorKind::Unsupported,
            Op::Restore,
            "this backend has no soft delete to undo",
        )
        .backend(self.info().scheme)
        .name(name))
    }
}

/// Reads the values of `names` in batches of the backend's `max_batch_get`, `concurrency`
/// batches at a time; the result is in the order of `names`.
pub async fn get_all(
    backend: &dyn SecretBackend,
    names: &[String],
    concurrency: usize,
) -> Result<Vec<Option<Secret>>> {
    use futures::{StreamExt, TryStreamExt};
    let batch = backend.capabilities().max_batch_get.max(1);
    let chunks: Vec<Vec<Option<Secret>>> = futures::stream::iter(names.chunks(batch))
        .map(|c| backend.get_many(c))
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(chunks.into_iter().flatten().collect())
}

/// Metadata reads in flight at once when a listing holds names only.
const METADATA_READS_IN_FLIGHT: usize = 16;

/// For a backend whose listing holds names only (`labels_in_list: false`, Vault's LIST) or no
/// placement (`placement_in_list: false`): each one's metadata, read with `head` through the same layers (so each read is counted and rate
/// limited). A secret gone meanwhile is left out.
async fn with_metadata(
    backend: &dyn SecretBackend,
    names: Vec<SecretMeta>,
) -> Result<Vec<SecretMeta>> {
    use futures::{StreamExt, TryStreamExt};
    let metas: Vec<Option<SecretMeta>> = futures::stream::iter(names)
        .map(|m| async move { backend.head(&m.name).await })
        .buffered(METADATA_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(metas.into_iter().flatten().collect())
}

/// Lists every secret under `prefix` (with its metadata), following pages; stops (with an error) if the backend
/// hands back a token it already gave, rather than looping forever.
pub async fn list_all(backend: &dyn SecretBackend, prefix: &str) -> Result<Vec<SecretMeta>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    let caps = backend.capabilities();
    let listing_is_enough = caps.labels_in_list && caps.placement_in_list;
    loop {
        let page = backend.list(prefix, token.clone()).await?;
        out.extend(page.items);
        match page.next {
            None if listing_is_enough => return Ok(out),
            None => return with_metadata(backend, out).await,
            Some(t) if !seen.insert(t.clone()) => {
                return Err(BackendError::new(
                    ErrorKind::Transient,
                    Op::List,
                    format!(
                        "the backend returned page token {t:?} twice; stopping to avoid a loop"
                    ),
                )
                .backend(backend.info().scheme))
            }
            Some(t) => token = Some(t),
        }
    }
}
