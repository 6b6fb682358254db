//! Plan, apply and restore: the canonical values of environments against their backends.

use super::backends::{self, ApiCall, EnvBackend, HttpRequests};
use super::{Progress, Workspace};
use crate::config::Config;
use crate::declare::Declared;
use crate::model::{EnvRef, Selector, TypeSet};
use crate::store::Unlocked;
use crate::sync::plan::Summary;
use crate::sync::{
    self, Action, ApplyReport, DriftPolicy, Fingerprinter, Plan, PlanOptions, Status,
};
use anyhow::Result;
use secretsync_core::permissions::Job;
use serde::Serialize;

/// What `plan` and `apply` take.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// The environments to sync.
    pub envs: Vec<String>,
    /// Every declared environment that has a backend.
    pub all: bool,
    /// How to plan each environment.
    pub plan: PlanOptions,
}

/// One environment's plan, as `plan` reports it.
#[derive(Debug, Serialize)]
pub struct EnvPlan {
    /// The plan: names and actions, never values.
    pub plan: Plan,
    /// Its counts.
    pub summary: Summary,
    /// Declared secrets with no value for the environment.
    pub missing_declared: Vec<String>,
    /// Backend calls made to plan it.
    pub api_calls: Vec<ApiCall>,
    /// The HTTP requests those calls made, by request (a call can make several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_requests: Vec<HttpRequests>,
    /// Things the user should know (no values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What `plan` found.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    /// Applying would change something, or something needs attention.
    pub changes: bool,
    /// One entry per environment that could be planned.
    pub environments: Vec<EnvPlan>,
    /// The environments that could not be planned, and why (the others are still planned).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EnvError>,
}

/// An environment that could not be planned or applied.
#[derive(Debug, Serialize)]
pub struct EnvError {
    /// The environment.
    pub env: String,
    /// Why (never a value).
    pub error: String,
    /// What the SDK or library said underneath, for `-v`.
    #[serde(skip)]
    pub detail: Vec<String>,
}

impl EnvError {
    fn new(env: &EnvRef, e: &anyhow::Error, job: Job, verify: bool) -> Self {
        Self {
            env: env.name().to_string(),
            error: super::error_line_hinted(e, || super::policy_hint(env.name(), job, verify)),
            detail: super::causes(e, true),
        }
    }
}

/// Whether the plan options read values (`--verify`, `--on-drift adopt`): the policy then
/// needs value reads.
fn reads_values(opts: &PlanOptions) -> bool {
    opts.verify || opts.on_drift == DriftPolicy::Accept
}

/// One environment's apply, as `apply` reports it.
#[derive(Debug, Serialize)]
pub struct EnvApply {
    /// The plan that was applied.
    pub plan: Plan,
    /// Its counts.
    pub summary: Summary,
    /// How each item ended.
    pub report: ApplyReport,
    /// Declared secrets with no value for the environment.
    pub missing_declared: Vec<String>,
    /// Backend calls made.
    pub api_calls: Vec<ApiCall>,
    /// The HTTP requests those calls made, by request (a call can make several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http_requests: Vec<HttpRequests>,
    /// Things the user should know (no values).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What `apply` did.
#[derive(Debug, Serialize)]
pub struct ApplyOutcome {
    /// Every item done or unchanged: nothing failed, nothing left for a person.
    pub ok: bool,
    /// One entry per environment that could be planned.
    pub environments: Vec<EnvApply>,
    /// The environments that could not be planned, and why (the others are still applied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EnvError>,
}

impl ApplyOutcome {
    /// The outcome of these environments' applies, `ok` when nothing failed or waits.
    pub fn new(environments: Vec<EnvApply>, errors: Vec<EnvError>) -> Self {
        let mut out = ApplyOutcome {
            ok: false,
            environments,
            errors,
        };
        out.ok = !out.failed() && !out.needs_attention();
        out
    }

    /// Some item or environment failed.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || self
                .environments
                .iter()
                .any(|e| e.report.count(Status::Failed) > 0)
    }

    /// Some item was refused and waits for a person (drift, adoption, the deletion cap).
    pub fn needs_attention(&self) -> bool {
        self.environments
            .iter()
            .any(|e| e.report.count(Status::Skipped) > 0)
    }
}

/// Plans one environment: its canonical values against its backend. `declared` (scanned once by
/// the caller, not per environment) names the declared secrets it has no value for.
pub async fn plan_env(
    cfg: &Config,
    store: &Unlocked,
    env: &EnvRef,
    opts: &PlanOptions,
    declared: &[Declared],
) -> Result<(Plan, EnvBackend, Vec<String>, Fingerprinter)> {
    // The environment's scope must be open: its values and its fingerprint key.
    let fpr = Fingerprinter::of(store, env.env_type())?;
    let target = backends::open(cfg, env, opts.concurrency).await?;
    let desired: Vec<(String, secretsync_core::SecretValue)> = store
        .resolve_all(env)?
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let have: std::collections::HashSet<&str> = desired.iter().map(|(n, _)| n.as_str()).collect();
    let missing: Vec<String> = declared
        .iter()
        .filter(|d| !have.contains(d.name.as_str()))
        .map(|d| d.name.to_string())
        .collect();
    let opts = &PlanOptions {
        refresh_after: refresh_after(cfg, env),
        ..opts.clone()
    };
    let plan = sync::plan(
        env.name(),
        target.backend.as_ref(),
        &target.prefix,
        desired,
        &fpr,
        opts,
    )
    .await?;
    Ok((plan, target, missing, fpr))
}

/// For an instance of a template: how long its newest write may age before an apply writes
/// one of its secrets again, so that `teardown --older-than` (and `keep_for`) see it in use: a
/// quarter of the template's `keep_for`, between an hour and a day (a day without one).
fn refresh_after(cfg: &Config, env: &EnvRef) -> Option<std::time::Duration> {
    use std::time::Duration;
    let EnvRef::Declared(name, _) = env else {
        return None;
    };
    let (template, _) = name.instance_parts()?;
    let keep = cfg
        .environments
        .iter()
        .find(|(n, _)| n.as_str() == template)
        .and_then(|(_, e)| e.keep_for());
    let day = Duration::from_secs(86_400);
    Some(keep.map_or(day, |k| (k / 4).clamp(Duration::from_secs(3_600), day)))
}

/// `plan`: what `apply` would change in each environment. Reads no value unless asked to verify.
pub async fn plan(ws: &Workspace, opts: &SyncOptions) -> Result<PlanReport> {
    let cfg = ws.config()?;
    let envs = backends::select(&cfg, &opts.envs, opts.all)?;
    let declared = ws.declared(&cfg)?;
    let store = ws.unlocked(&cfg).await?;
    let (mut environments, mut errors) = (Vec::new(), Vec::new());
    for env in &envs {
        let (plan, target, missing_declared, _) =
            match plan_env(&cfg, &store, env, &opts.plan, &declared).await {
                Ok(p) => p,
                Err(e) => {
                    errors.push(EnvError::new(env, &e, Job::Plan, reads_values(&opts.plan)));
                    continue;
                }
            };
        environments.push(EnvPlan {
            summary: plan.summary(),
            plan,
            missing_declared,
            api_calls: backends::api_calls(&target.counter),
            http_requests: backends::http_requests(&target.counter),
            warnings: unignored_replica(&cfg, env).into_iter().collect(),
        });
    }
    Ok(PlanReport {
        changes: environments.iter().any(|e| e.plan.has_changes()),
        environments,
        errors,
    })
}

/// `apply`: replicates each environment, every item's outcome reported; one environment's
/// failure does not stop the next.
pub async fn apply(
    ws: &Workspace,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<ApplyOutcome> {
    let cfg = ws.config()?;
    let envs = backends::select(&cfg, &opts.envs, opts.all)?;
    let declared = ws.declared(&cfg)?;
    let mut store = ws.unlocked(&cfg).await?;
    let (mut environments, mut errors) = (Vec::new(), Vec::new());
    for env in &envs {
        let mut warnings: Vec<String> = unignored_replica(&cfg, env).into_iter().collect();
        let (plan, target, missing_declared, mut fpr) =
            match plan_env(&cfg, &store, env, &opts.plan, &declared).await {
                Ok(p) => p,
                Err(e) => {
                    errors.push(EnvError::new(env, &e, Job::Apply, reads_values(&opts.plan)));
                    continue;
                }
            };
        if opts.plan.on_drift == DriftPolicy::Accept {
            let adopted = adopt_drift(ws, &cfg, env, &plan).await?;
            if !adopted.is_empty() {
                // The store changed: read it (and its keys) again for the next environments.
                store = ws.unlocked(&cfg).await?;
                fpr = Fingerprinter::of(&store, env.env_type())?;
                warnings.extend(adopted);
            }
        }
        progress.start(plan.items.iter().filter(|i| i.is_change()).count() as u64);
        let mut report = sync::apply(
            &plan,
            target.backend.clone(),
            &fpr,
            opts.plan.concurrency,
            &|_| progress.inc(),
        )
        .await;
        report.hint_refusals(&super::policy_hint(
            env.name(),
            Job::Apply,
            reads_values(&opts.plan),
        ));
        progress.finish();
        environments.push(EnvApply {
            summary: plan.summary(),
            plan,
            report,
            missing_declared,
            api_calls: backends::api_calls(&target.counter),
            http_requests: backends::http_requests(&target.counter),
            warnings,
        });
    }
    Ok(ApplyOutcome::new(environments, errors))
}

/// `--on-drift adopt`: takes drifted backend values into the canonical store, as `env`'s
/// override (a declared environment) or its type's value. Returns a note per adopted secret.
async fn adopt_drift(
    ws: &Workspace,
    cfg: &Config,
    env: &EnvRef,
    plan: &Plan,
) -> Result<Vec<String>> {
    let adopted: Vec<_> = plan
        .items
        .iter()
        .filter(|i| i.action == Action::Drift && i.value.is_some() && i.secret.is_some())
        .collect();
    if adopted.is_empty() {
        return Ok(Vec::new());
    }
    let selector = match env {
        EnvRef::Declared(n, _) => Selector::Env(n.clone()),
        EnvRef::Implicit(t) => Selector::Types(TypeSet::of([*t])),
    };
    let mut w = ws.writer(cfg).await?;
    let mut notes = Vec::new();
    for i in &adopted {
        let (Some(name), Some(value)) = (&i.secret, &i.value) else {
            continue;
        };
        w.set(&name.parse()?, &selector, value.clone(), None)?;
        notes.push(format!(
            "adopted the backend's value of {} into the store for {selector}",
            i.name
        ));
    }
    w.commit()?;
    Ok(notes)
}

/// A warning when `env` replicates into a `file://` path that git would commit: the replica
/// holds values in plain text. None where git is missing or the path is outside a work tree.
fn unignored_replica(cfg: &Config, env: &EnvRef) -> Option<String> {
    let EnvRef::Declared(name, _) = env else {
        return None;
    };
    let base = cfg.path.parent().unwrap_or(std::path::Path::new("."));
    let b = cfg
        .environment(name)?
        .backend
        .as_deref()
        .and_then(|u| crate::scheme::file_backend(u, base))?;
    let path = b.path();
    let dir = path.parent().filter(|d| d.is_dir())?;
    let ignored = std::process::Command::new("git")
        .arg("check-ignore")
        .arg("-q")
        .arg(path)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    // 0: ignored; 1: inside a work tree and not ignored; anything else: not a repository.
    matches!(ignored, Ok(s) if s.code() == Some(1)).then(|| {
        format!(
            "{name} replicates into {}, which is inside a git work tree and not ignored: its values are in plain text there. Add it to .gitignore (`secretsync init` does for replicas inside the project)",
            path.display()
        )
    })
}

/// One secret's restore, as `restore` reports it.
#[derive(Debug, Serialize)]
pub struct Restored {
    /// The backend name.
    pub name: String,
    /// Whether it was restored.
    pub restored: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<sync::apply::ItemError>,
}

/// What `restore` did.
#[derive(Debug, Serialize)]
pub struct RestoreReport {
    /// The environment.
    pub env: String,
    /// One entry per name.
    pub results: Vec<Restored>,
}

impl RestoreReport {
    /// Some name could not be restored.
    pub fn failed(&self) -> bool {
        self.results.iter().any(|r| !r.restored)
    }
}

/// `restore`: undoes soft deletes (AWS's recovery window, Vault's delete) of `names` (store
/// names; the environment's prefix is added) in `env`'s backend.
pub async fn restore(ws: &Workspace, env: &str, names: &[String]) -> Result<RestoreReport> {
    let cfg = ws.config()?;
    let env = cfg.env(env)?;
    let target = backends::open(&cfg, &env, 4).await?;
    let mut results = Vec::new();
    for n in names {
        let name = format!("{}{n}", target.prefix);
        let error = target.backend.restore(&name).await.err().map(|e| {
            let mut err = sync::apply::ItemError::of(&e);
            if err.missing.is_some() {
                err.hint = Some(super::policy_hint(env.name(), Job::Restore, false));
            }
            err
        });
        results.push(Restored {
            name,
            restored: error.is_none(),
            error,
        });
    }
    Ok(RestoreReport {
        env: env.name().to_string(),
        results,
    })
}
