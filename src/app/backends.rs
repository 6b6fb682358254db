//! Opening an environment's backend (a *target*): the registry's backend wrapped in the layer stack (retry,
//! rate limits from the backend's quotas or the config, concurrency, call counting).

use crate::config::Config;
use crate::model::EnvRef;
use anyhow::{bail, Context, Result};
use secretsync_core::calls::CallCounter;
use secretsync_core::layers::{stack, RetryPolicy, StackConfig};
use secretsync_core::pace::Rate;
use secretsync_core::SecretBackend;
use std::path::Path;
use std::sync::Arc;

/// An environment's backend, opened and layered, ready to plan against.
pub struct EnvBackend {
    /// Its backend, layered.
    pub backend: Arc<dyn SecretBackend>,
    /// The name prefix.
    pub prefix: String,
    /// Its API-call counter.
    pub counter: Arc<CallCounter>,
}

/// The environments named by `--env` (or every declared one with a backend, for `--all`).
pub fn select(cfg: &Config, envs: &[String], all: bool) -> Result<Vec<EnvRef>> {
    if all {
        let out: Vec<EnvRef> = cfg
            .environments
            .iter()
            .filter(|(_, e)| e.backend.is_some() && !e.is_template())
            .map(|(n, e)| EnvRef::Declared(n.clone(), e.env_type))
            .collect();
        if out.is_empty() {
            bail!(
                "no environment in {} has a backend; add `backend = \"…\"` to one",
                cfg.path.display()
            );
        }
        return Ok(out);
    }
    if envs.is_empty() {
        bail!("name an environment with --env ENV, or use --all");
    }
    envs.iter().map(|e| Ok(cfg.env(e)?)).collect()
}

/// Opens `env`'s backend, layered, with `concurrency` calls in flight at most.
pub async fn open(cfg: &Config, env: &EnvRef, concurrency: usize) -> Result<EnvBackend> {
    let EnvRef::Declared(name, _) = env else {
        bail!("{env} is an implicit environment with no backend: declare [environments.NAME] with a type and a backend in {}", cfg.path.display());
    };
    let e = &cfg
        .environment(name)
        .with_context(|| format!("environment {name} is not declared"))?;
    open_environment(cfg, name.as_str(), e, concurrency).await
}

/// Opens the backend of environment `name` (declared as `e`), layered.
pub async fn open_environment(
    cfg: &Config,
    name: &str,
    e: &crate::config::Environment,
    concurrency: usize,
) -> Result<EnvBackend> {
    let url = e.backend.as_deref().with_context(|| {
        format!(
            "environment {name} has no backend: add `backend = \"…\"` under [environments.{name}]"
        )
    })?;
    let base = cfg.path.parent().unwrap_or(Path::new("."));
    let raw = crate::registry::backend(url, base)
        .await
        .with_context(|| format!("cannot open the backend of {name}"))?;
    let overrides = [e.writes_per_second, e.reads_per_second, e.lists_per_second];
    let (backend, counter) = layer(raw, overrides, concurrency);
    Ok(EnvBackend {
        backend,
        prefix: e.prefix.clone().unwrap_or_default(),
        counter,
    })
}

/// Opens a backend URL given on the command line (relative `file://` paths from `base`).
pub async fn open_url(
    url: &str,
    base: &Path,
    concurrency: usize,
) -> Result<(Arc<dyn SecretBackend>, Arc<CallCounter>)> {
    let raw = crate::registry::backend(url, base)
        .await
        .with_context(|| format!("cannot open {url}"))?;
    Ok(layer(raw, [None; 3], concurrency))
}

/// Wraps a backend in the layer stack: its scheme's default rates, overridden by
/// `[writes, reads, lists]` per second where given.
fn layer(
    raw: Arc<dyn SecretBackend>,
    overrides: [Option<u32>; 3],
    concurrency: usize,
) -> (Arc<dyn SecretBackend>, Arc<CallCounter>) {
    let mut rates = crate::scheme::Scheme::of_url(&format!("{}://", raw.info().scheme))
        .map(|(s, _)| s.default_rates())
        .unwrap_or_default();
    for (rate, v) in [&mut rates.write, &mut rates.read, &mut rates.list]
        .into_iter()
        .zip(overrides)
    {
        if let Some(v) = v {
            *rate = Rate::per_second(v);
        }
    }
    // A local file commits concurrent writes together: many in flight make few rewrites.
    let concurrency = raw.capabilities().writes_in_flight(concurrency);
    let counter = CallCounter::new();
    let cfg = StackConfig {
        retry: RetryPolicy::default(),
        rates,
        concurrency,
        counter: counter.clone(),
    };
    (stack(raw, &cfg), counter)
}

/// API calls made, by backend, operation and outcome (a row of a report's `api_calls`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiCall {
    /// The backend scheme.
    pub backend: String,
    /// The operation (`list`, `get`, `put`, …).
    pub op: String,
    /// `ok` or the error kind.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// HTTP requests made, by backend and request (a row of a report's `http_requests`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HttpRequests {
    /// The backend scheme.
    pub backend: String,
    /// The request, as the service names it (`ListSecrets`, `LIST metadata`, …).
    pub request: String,
    /// How many.
    pub count: u64,
}

/// The requests the counter saw, as report rows (none for local backends).
pub fn http_requests(counter: &CallCounter) -> Vec<HttpRequests> {
    counter
        .requests()
        .into_iter()
        .map(|(k, n)| HttpRequests {
            backend: k.backend,
            request: k.request.into_owned(),
            count: n,
        })
        .collect()
}

/// The counter's figures, as report rows.
pub fn api_calls(counter: &CallCounter) -> Vec<ApiCall> {
    counter
        .snapshot()
        .into_iter()
        .map(|(k, n)| ApiCall {
            backend: k.backend.to_string(),
            op: k.op.as_str().to_string(),
            outcome: k.outcome.to_string(),
            count: n,
        })
        .collect()
}
