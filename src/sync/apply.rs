//! Applying a plan: every change through the layered backend with bounded concurrency, each
//! item's outcome recorded, one failure never stopping the rest.

use super::fingerprint::Fingerprinter;
use super::plan::{Action, Plan, PlanItem};
use futures::StreamExt;
use secretsync_core::{BackendError, DeleteOptions, ErrorKind, PutMode, PutOptions, SecretBackend};
use serde::Serialize;
use std::sync::Arc;
use tracing::Instrument;

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Written or deleted.
    Done,
    /// The backend refused or failed; see the error.
    Failed,
    /// Not attempted: refused by the plan (adopt, drift, deletion cap).
    Skipped,
    /// Nothing to do.
    Unchanged,
}

/// A failure, for the report. Never contains a value.
#[derive(Debug, Clone, Serialize)]
pub struct ItemError {
    /// The error kind (`throttled`, `permission_denied`, …).
    pub kind: &'static str,
    /// What happened.
    pub message: String,
    /// For a refusal: the permission the credentials lack and on what
    /// (`secretsmanager:CreateSecret on app/A`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// What to do about it (for a refusal: the command that prints the policy the job needs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl ItemError {
    /// The error of a failed backend call.
    pub fn of(e: &BackendError) -> Self {
        Self {
            kind: e.kind.as_str(),
            message: e.to_string(),
            missing: e.denied.as_deref().map(str::to_string),
            hint: None,
        }
    }
}

/// The outcome of one plan item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemResult {
    /// The backend name.
    pub name: String,
    /// The planned action.
    pub action: Action,
    /// How it ended.
    pub status: Status,
    /// The version now current, for writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// The outcome of applying one environment's plan.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// The environment.
    pub env: String,
    /// The backend.
    pub backend: String,
    /// Every item, sorted by name.
    pub results: Vec<ItemResult>,
}

impl ApplyReport {
    /// Items that ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// Gives each refused item (`permission_denied`) the hint `hint`.
    pub fn hint_refusals(&mut self, hint: &str) {
        for e in self.results.iter_mut().filter_map(|r| r.error.as_mut()) {
            if e.kind == secretsync_core::ErrorKind::PermissionDenied.as_str() {
                e.hint = Some(hint.to_string());
            }
        }
    }

    /// The distinct hints of its items, in order.
    pub fn hints(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for h in self
            .results
            .iter()
            .filter_map(|r| r.error.as_ref()?.hint.as_deref())
        {
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out
    }
}

fn failed(item: &PlanItem, e: BackendError) -> ItemResult {
    ItemResult {
        name: item.name.clone(),
        action: item.action,
        status: Status::Failed,
        version: None,
        error: Some(ItemError::of(&e)),
    }
}

async fn apply_one(
    item: &PlanItem,
    backend: &dyn SecretBackend,
    fpr: &Fingerprinter,
    delete: DeleteOptions,
) -> ItemResult {
    let caps = backend.capabilities();
    if item.action == Action::Delete {
        return match backend.delete(&item.name, &delete).await {
            Ok(()) => done(item, None),
            Err(e) => failed(item, e),
        };
    }
    let (Some(value), Some(fp)) = (&item.value, &item.fp) else {
        let e = BackendError::new(
            secretsync_core::ErrorKind::InvalidInput,
            secretsync_core::Op::Put,
            "the plan has no value for this item",
        );
        return failed(item, e);
    };
    let mode = match (item.action, &item.expected_version) {
        (Action::Create, _) if caps.create_only => PutMode::CreateOnly,
        (Action::Update | Action::Drift, Some(v)) if caps.if_version => {
            PutMode::IfVersion(v.clone())
        }
        _ => PutMode::Upsert,
    };
    let opts = PutOptions {
        mode,
        labels: fpr.labels(fp),
        token: item.token.clone(),
    };
    match backend.put(&item.name, value, &opts).await {
        Ok(out) => done(item, out.version),
        // A write whose response was lost and was then retried finds its own result there (a
        // create sees "exists", a conditional write a moved version): done when the current
        // version is the one this write made.
        Err(e) if matches!(e.kind, ErrorKind::AlreadyExists | ErrorKind::Conflict) => {
            match backend.head(&item.name).await {
                Ok(Some(meta)) if meta.version.is_some() && meta.version == item.token => {
                    done(item, meta.version)
                }
                _ => failed(item, e),
            }
        }
        Err(e) => failed(item, e),
    }
}

fn done(item: &PlanItem, version: Option<String>) -> ItemResult {
    ItemResult {
        name: item.name.clone(),
        action: item.action,
        status: Status::Done,
        version,
        error: None,
    }
}

/// Applies `plan` to `backend` (already layered with retries and rate limits), `concurrency`
/// items at a time. `on_done` is called after each item (progress).
#[tracing::instrument(name = "apply", skip_all, fields(env = %plan.env, backend = %plan.backend))]
pub async fn apply(
    plan: &Plan,
    backend: Arc<dyn SecretBackend>,
    fpr: &Fingerprinter,
    concurrency: usize,
    on_done: &(dyn Fn(&ItemResult) + Sync),
) -> ApplyReport {
    let started = std::time::Instant::now();
    let backend = backend.as_ref();
    let concurrency = backend.capabilities().writes_in_flight(concurrency);
    let fpr = &fpr.for_env(&plan.env);
    let mut results: Vec<ItemResult> =
        futures::stream::iter(plan.items.iter().filter(|i| i.is_change()))
            .map(|item| {
                let span = tracing::debug_span!("item", name = %item.name, action = ?item.action);
                async move {
                    let started = std::time::Instant::now();
                    let delete = DeleteOptions {
                        mode: plan.delete_mode,
                    };
                    let r = apply_one(item, backend, fpr, delete).await;
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    match &r.error {
                        // Info, not a warning: the command's report lists it already; jobs log at info.
                        Some(e) => tracing::info!(kind = %e.kind, error = %e.message, ms, "failed"),
                        None => tracing::debug!(status = ?r.status, ms, "done"),
                    }
                    on_done(&r);
                    r
                }
                .instrument(span)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    for item in plan.items.iter().filter(|i| !i.is_change()) {
        let status = if item.blocked {
            Status::Skipped
        } else {
            Status::Unchanged
        };
        let error = item.blocked.then(|| ItemError {
            kind: "refused",
            message: item.reason.clone(),
            missing: None,
            hint: None,
        });
        results.push(ItemResult {
            name: item.name.clone(),
            action: item.action,
            status,
            version: None,
            error,
        });
    }
    results.sort_by(|a, b| a.name.cmp(&b.name));
    let report = ApplyReport {
        env: plan.env.clone(),
        backend: plan.backend.clone(),
        results,
    };
    tracing::info!(
        done = report.count(Status::Done),
        failed = report.count(Status::Failed),
        skipped = report.count(Status::Skipped),
        unchanged = report.count(Status::Unchanged),
        seconds = started.elapsed().as_secs_f64(),
        "applied"
    );
    report
}
