//! One reconcile round: plan and apply every environment of a shard, a few at a time. The loop,
//! its signals and its HTTP endpoints are the caller's.

use super::backends::select;
use super::sync::plan_env;
use super::Workspace;
use crate::model::EnvRef;
use crate::sync::metrics::{Metrics, RunResult};
use crate::sync::plan::Summary;
use crate::sync::{self, PlanOptions, Status};
use anyhow::Result;
use futures::StreamExt;
use secretsync_core::permissions::Job;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// What a round takes.
#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    /// Environments to reconcile (empty: every declared one with a backend).
    pub envs: Vec<String>,
    /// Only shard K of N (a stable subset of the environments).
    pub shard: Option<(u64, u64)>,
    /// Environments reconciled at once.
    pub parallel_envs: usize,
    /// How each environment is planned (never `adopt`: that needs a person).
    pub plan: PlanOptions,
}

/// How one environment's round went.
#[derive(Debug, Serialize)]
pub struct EnvOutcome {
    /// The environment.
    pub env: String,
    /// How it ended.
    pub result: RunResult,
    /// Counts, or why it could not run.
    pub detail: EnvDetail,
    /// How long it took.
    #[serde(skip)]
    pub seconds: f64,
}

/// Counts of a round's environment, or why it did not run.
#[derive(Debug, Default, Serialize)]
pub struct EnvDetail {
    /// The plan's counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    /// Items whose write or delete failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<usize>,
    /// Why it could not plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why it was not started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The items left for a person or that failed: `NAME (drift)`, `NAME (adopt)`,
    /// `NAME (failed)`, `NAME (permission denied: ACTION on RESOURCE)`, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_you: Vec<String>,
    /// What to do, when a backend refused a call for lack of a permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// What the loop's `/healthz` says: no error text, as the endpoint may be reachable from the
/// network and errors name backends and secrets.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Rounds ended.
    pub rounds: u64,
    /// Whether the last round was in sync (`null` before the first ends).
    pub last_round_ok: Option<bool>,
    /// Since the last round ended (or the loop started).
    pub seconds_since_last_round: u64,
    /// No round ended for longer than a round may take: the status is 503.
    pub stuck: bool,
}

/// A round's outcome.
#[derive(Debug, Serialize)]
pub struct RoundReport {
    /// One entry per environment of the shard.
    pub environments: Vec<EnvOutcome>,
}

impl RoundReport {
    /// Some environment failed, could not plan, or was skipped.
    pub fn failed(&self) -> bool {
        self.environments.iter().any(|e| {
            matches!(
                e.result,
                RunResult::Failed | RunResult::Error | RunResult::Skipped
            )
        })
    }

    /// Some environment left drift or refusals for a person.
    pub fn needs_attention(&self) -> bool {
        self.environments
            .iter()
            .any(|e| e.result == RunResult::Attention)
    }

    /// Every environment is in sync.
    pub fn ok(&self) -> bool {
        self.environments.iter().all(|e| e.result == RunResult::Ok)
    }
}

/// True when environment `name` belongs to shard `k` of `n` (a stable hash of the name).
pub fn in_shard(name: &str, (k, n): (u64, u64)) -> bool {
    let h = Sha256::digest(name.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % n == k
}

/// One round: reload the config and store (they may have changed), then every environment of
/// the shard, `parallel_envs` at a time, each recorded in `metrics` and passed to `on_env` as it
/// ends. Environments not yet started when `stop` is set are skipped (and reported); started
/// ones finish. With `verify`, values are read and compared.
pub async fn round(
    ws: &Workspace,
    opts: &ReconcileOptions,
    metrics: &Metrics,
    stop: &AtomicBool,
    verify: bool,
    on_env: &(dyn Fn(&EnvOutcome) + Sync),
) -> Result<RoundReport> {
    let cfg = ws.config()?;
    let store = ws.unlocked(&cfg).await?;
    let declared = ws.declared(&cfg)?;
    // Templates named in --env are collected, not applied: a template has no secrets of its
    // own, its instances (NAME:ID) do.
    let template = |n: &str| {
        cfg.environments
            .iter()
            .find(|(k, e)| k.as_str() == n && e.is_template())
            .map(|(_, e)| e)
    };
    let (named_templates, others): (Vec<String>, Vec<String>) = opts
        .envs
        .iter()
        .cloned()
        .partition(|n| template(n).is_some());
    if let Some(t) = named_templates
        .iter()
        .find(|n| template(n).is_some_and(|e| e.keep_for().is_none()))
    {
        anyhow::bail!("{t} is a template without keep_for: reconcile has nothing to do for it; set keep_for = \"14d\" under [environments.{t}] to collect its old instances, or reconcile one instance with --env {t}:ID");
    }
    let expiring = cfg.environments.values().any(|e| e.keep_for().is_some());
    let mut envs = match (opts.envs.is_empty(), others.is_empty()) {
        // Every declared environment; a config of templates alone has none to apply.
        (true, _) => match select(&cfg, &[], true) {
            Err(_) if expiring => Vec::new(),
            r => r?,
        },
        (false, true) => Vec::new(),
        (false, false) => select(&cfg, &others, false)?,
    };
    if let Some(shard) = opts.shard {
        envs.retain(|e| in_shard(e.name(), shard));
    }
    let plan_opts = PlanOptions {
        adopt: false,
        verify: verify || opts.plan.verify,
        ..opts.plan.clone()
    };
    let (cfg, store, plan_opts, declared) = (&cfg, &store, &plan_opts, &declared);
    // The templates whose instances expire (`keep_for`), collected after the environments.
    let templates: Vec<(String, std::time::Duration)> = cfg
        .environments
        .iter()
        .filter(|(n, _)| {
            (opts.envs.is_empty() || named_templates.iter().any(|x| x == n.as_str()))
                && opts.shard.is_none_or(|s| in_shard(n.as_str(), s))
        })
        .filter_map(|(n, e)| Some((n.to_string(), e.keep_for()?)))
        .collect();
    let mut environments = futures::stream::iter(envs)
        .map(|env: EnvRef| async move {
            let started = Instant::now();
            let name = env.name().to_string();
            let out = if stop.load(Ordering::SeqCst) {
                EnvOutcome {
                    env: name,
                    result: RunResult::Skipped,
                    detail: EnvDetail {
                        skipped: Some("stopping on a signal".into()),
                        ..Default::default()
                    },
                    seconds: 0.0,
                }
            } else {
                match plan_env(cfg, store, &env, plan_opts, declared).await {
                    Ok((plan, target, _, fpr)) => {
                        let report = sync::apply(
                            &plan,
                            target.backend.clone(),
                            &fpr,
                            plan_opts.concurrency,
                            &|_| {},
                        )
                        .await;
                        let calls: Vec<_> = target.counter.snapshot().into_iter().collect();
                        let seconds = started.elapsed().as_secs_f64();
                        let result = metrics.record(&name, &plan, &report, seconds, &calls);
                        EnvOutcome {
                            env: name,
                            result,
                            detail: EnvDetail {
                                summary: Some(plan.summary()),
                                failed: Some(report.count(Status::Failed)),
                                needs_you: report
                                    .results
                                    .iter()
                                    .filter(|r| {
                                        matches!(r.status, Status::Skipped | Status::Failed)
                                    })
                                    .map(|r| {
                                        let missing =
                                            r.error.as_ref().and_then(|e| e.missing.as_deref());
                                        let what = match (r.status, missing) {
                                            (Status::Failed, Some(m)) => {
                                                format!("permission denied: {m}")
                                            }
                                            (Status::Failed, None) => "failed".to_string(),
                                            _ => format!("{:?}", r.action).to_lowercase(),
                                        };
                                        format!("{} ({what})", r.name)
                                    })
                                    .collect(),
                                hint: report
                                    .results
                                    .iter()
                                    .any(|r| r.error.as_ref().is_some_and(|e| e.missing.is_some()))
                                    .then(|| super::policy_hint(env.name(), Job::Reconcile, true)),
                                ..Default::default()
                            },
                            seconds,
                        }
                    }
                    Err(e) => {
                        metrics.record_error(&name, &[]);
                        EnvOutcome {
                            env: name,
                            result: RunResult::Error,
                            detail: EnvDetail {
                                error: Some(super::error_line_hinted(&e, || {
                                    super::policy_hint(env.name(), Job::Reconcile, true)
                                })),
                                ..Default::default()
                            },
                            seconds: started.elapsed().as_secs_f64(),
                        }
                    }
                }
            };
            on_env(&out);
            out
        })
        .buffer_unordered(opts.parallel_envs.max(1))
        .collect::<Vec<_>>()
        .await;
    for (template, keep_for) in templates {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let out = collect(ws, &template, keep_for, opts, metrics).await;
        on_env(&out);
        environments.push(out);
    }
    Ok(RoundReport { environments })
}

/// One round's collection of template `template`: its instances not written within
/// `keep_for` are torn down (capped like a prune).
async fn collect(
    ws: &Workspace,
    template: &str,
    keep_for: std::time::Duration,
    opts: &ReconcileOptions,
    metrics: &Metrics,
) -> EnvOutcome {
    let started = Instant::now();
    let t = super::teardown::TeardownOptions {
        env: template.to_string(),
        older_than: Some(keep_for),
        max_deletes: opts.plan.max_deletes,
        concurrency: opts.plan.concurrency,
        ..Default::default()
    };
    let hint = || super::policy_hint(template, Job::Teardown, false);
    match super::teardown::teardown(ws, &t).await {
        Ok(out) => {
            let e = &out.outcome.environments[0];
            let calls = &out.calls;
            let seconds = started.elapsed().as_secs_f64();
            let result = metrics.record(template, &e.plan, &e.report, seconds, calls);
            EnvOutcome {
                env: template.to_string(),
                result,
                detail: EnvDetail {
                    summary: Some(e.summary.clone()),
                    failed: Some(e.report.count(Status::Failed)),
                    needs_you: e
                        .report
                        .results
                        .iter()
                        .filter(|r| matches!(r.status, Status::Skipped | Status::Failed))
                        .map(|r| format!("{} (teardown {:?})", r.name, r.status).to_lowercase())
                        .collect(),
                    hint: e
                        .report
                        .results
                        .iter()
                        .any(|r| r.error.as_ref().is_some_and(|x| x.missing.is_some()))
                        .then(hint),
                    ..Default::default()
                },
                seconds,
            }
        }
        Err(e) => {
            metrics.record_error(template, &[]);
            EnvOutcome {
                env: template.to_string(),
                result: RunResult::Error,
                detail: EnvDetail {
                    error: Some(super::error_line_hinted(&e, hint)),
                    ..Default::default()
                },
                seconds: started.elapsed().as_secs_f64(),
            }
        }
    }
}
