//! `secretsync plan` and `secretsync apply`.

use super::targets::{self, Target};
use super::{Ctx, Outcome};
use crate::config::Config;
use crate::model::{EnvRef, Selector, TypeSet};
use crate::output::plan::{render_apply, render_plan};
use crate::store::Unlocked;
use crate::sync::{self, Action, DriftPolicy, Fingerprinter, Plan, PlanOptions, Status};
use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;

/// What both `plan` and `apply` take.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// An environment to sync (repeatable).
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// Every declared environment that has a backend.
    #[arg(long, conflicts_with = "envs")]
    pub all: bool,
    /// Delete managed secrets that are gone from the store.
    #[arg(long)]
    pub prune: bool,
    /// Most deletions per environment; more refuses them all.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_deletes: usize,
    /// Take over same-named secrets that secretsync did not write (or another store owns).
    #[arg(long)]
    pub adopt: bool,
    /// Read managed values to compare them with what secretsync wrote.
    #[arg(long)]
    pub verify: bool,
    /// Where the listing shows no versions (GCP), read each managed secret's metadata (not its
    /// value) to find versions written outside secretsync.
    #[arg(long)]
    pub check_drift: bool,
    /// What to do with secrets changed outside secretsync.
    #[arg(long, value_enum, default_value_t = DriftPolicy::Report)]
    pub on_drift: DriftPolicy,
    /// Backend calls in flight at once, per environment.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

impl SyncArgs {
    fn options(&self) -> PlanOptions {
        PlanOptions {
            prune: self.prune,
            max_deletes: self.max_deletes,
            adopt: self.adopt,
            verify: self.verify,
            check_drift: self.check_drift,
            on_drift: self.on_drift,
            concurrency: self.concurrency,
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    /// Exit 2 when there are changes or drift, 0 when in sync.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Plans one environment: its canonical values against its backend. `declared` (scanned once
/// by the caller, not per environment) names the declared secrets it has no value for.
pub async fn plan_env(
    cfg: &Config,
    store: &Unlocked,
    env: &EnvRef,
    args: &SyncArgs,
    declared: &[crate::declare::Declared],
) -> Result<(Plan, Target, Vec<String>)> {
    let target = targets::open(cfg, env, args.concurrency).await?;
    let desired: Vec<(String, secretsync_core::SecretValue)> = store
        .resolve_all(env)?
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    let missing: Vec<String> = declared
        .iter()
        .filter(|d| !desired.iter().any(|(n, _)| n == d.name.as_str()))
        .map(|d| d.name.to_string())
        .collect();
    let fpr = Fingerprinter::of(store)?;
    let plan = sync::plan(
        env.name(),
        target.backend.as_ref(),
        &target.prefix,
        desired,
        &fpr,
        &args.options(),
    )
    .await?;
    Ok((plan, target, missing))
}

fn warn_missing(ctx: &Ctx, env: &EnvRef, missing: &[String]) {
    if !missing.is_empty() && !ctx.json {
        eprintln!(
            "note: {env} has no value for declared {}; `secretsync check --env {}` lists them",
            missing.join(", "),
            env.name()
        );
    }
}

pub async fn run_plan(ctx: &Ctx, args: PlanArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let envs = targets::select(&cfg, &args.sync.envs, args.sync.all)?;
    let declared = ctx.declared(&cfg)?;
    let store = ctx.unlocked(&cfg).await?;
    let mut docs = Vec::new();
    let mut changes = false;
    for env in &envs {
        let (plan, target, missing) = plan_env(&cfg, &store, env, &args.sync, &declared).await?;
        changes |= plan.has_changes();
        if ctx.json {
            docs.push(json!({ "plan": plan, "summary": plan.summary(), "missing_declared": missing, "api_calls": targets::api_calls(&target.counter) }));
        } else {
            warn_missing(ctx, env, &missing);
            print!("{}", render_plan(&plan));
        }
    }
    if ctx.json {
        crate::output::json(&json!({ "environments": docs, "changes": changes }))?;
    }
    Ok(if args.detailed_exitcode && changes {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

pub async fn run_apply(ctx: &Ctx, args: ApplyArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let envs = targets::select(&cfg, &args.sync.envs, args.sync.all)?;
    let declared = ctx.declared(&cfg)?;
    let mut store = ctx.unlocked(&cfg).await?;
    let (mut failed, mut attention) = (false, false);
    let mut docs = Vec::new();
    for env in &envs {
        warn_unignored_replica(&cfg, env);
        let (plan, target, missing) = plan_env(&cfg, &store, env, &args.sync, &declared).await?;
        if args.sync.on_drift == DriftPolicy::Adopt && adopt_drift(ctx, &cfg, env, &plan).await? {
            store = ctx.unlocked(&cfg).await?;
        }
        let fpr = Fingerprinter::of(&store)?;
        let changes = plan.items.iter().filter(|i| i.is_change()).count() as u64;
        let bar = progress(ctx, args.quiet, changes);
        let report = sync::apply(
            &plan,
            target.backend.clone(),
            &fpr,
            args.sync.concurrency,
            &|_| bar.inc(1),
        )
        .await;
        bar.finish_and_clear();
        failed |= report.count(Status::Failed) > 0;
        attention |= report.count(Status::Skipped) > 0;
        if ctx.json {
            docs.push(json!({ "plan": plan, "summary": plan.summary(), "report": report, "missing_declared": missing, "api_calls": targets::api_calls(&target.counter) }));
        } else {
            warn_missing(ctx, env, &missing);
            print!("{}", render_apply(&report));
        }
    }
    if ctx.json {
        crate::output::json(&json!({ "environments": docs, "ok": !failed && !attention }))?;
    }
    Ok(if failed {
        Outcome::Failed
    } else if attention {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

/// `--on-drift adopt`: takes drifted backend values into the canonical store, as `env`'s
/// override (a declared environment) or its type's value. True when the store changed.
async fn adopt_drift(ctx: &Ctx, cfg: &Config, env: &EnvRef, plan: &Plan) -> Result<bool> {
    let adopted: Vec<_> = plan
        .items
        .iter()
        .filter(|i| i.action == Action::Drift && i.value.is_some() && i.secret.is_some())
        .collect();
    if adopted.is_empty() {
        return Ok(false);
    }
    let selector = match env {
        EnvRef::Declared(n, _) => Selector::Env(n.clone()),
        EnvRef::Implicit(t) => Selector::Types(TypeSet::of([*t])),
    };
    let mut w = ctx.writer(cfg).await?;
    for i in &adopted {
        let (Some(name), Some(value)) = (&i.secret, &i.value) else {
            continue;
        };
        w.set(&name.parse()?, &selector, value.clone(), None)?;
        if !ctx.json {
            eprintln!(
                "adopted the backend's value of {} into the store for {selector}",
                i.name
            );
        }
    }
    w.commit()?;
    Ok(true)
}

/// Warns when `env` replicates into a `file://` path that git would commit: the replica holds
/// values in plain text. Silent where git is missing or the path is outside a work tree.
fn warn_unignored_replica(cfg: &Config, env: &EnvRef) {
    let EnvRef::Declared(name, _) = env else {
        return;
    };
    let base = cfg.path.parent().unwrap_or(std::path::Path::new("."));
    let Some(b) = cfg.environments[name]
        .backend
        .as_deref()
        .and_then(|u| crate::registry::file_backend(u, base))
    else {
        return;
    };
    let path = b.path();
    let Some(dir) = path.parent().filter(|d| d.is_dir()) else {
        return;
    };
    let ignored = std::process::Command::new("git")
        .arg("check-ignore")
        .arg("-q")
        .arg(path)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    // 0: ignored; 1: inside a work tree and not ignored; anything else: not a repository.
    if matches!(ignored, Ok(s) if s.code() == Some(1)) {
        eprintln!(
            "warning: {name} replicates into {}, which is inside a git work tree and not ignored: its values are in plain text there. Add it to .gitignore (`secretsync init` does for replicas inside the project)",
            path.display()
        );
    }
}

fn progress(ctx: &Ctx, quiet: bool, len: u64) -> ProgressBar {
    if ctx.json || quiet || len == 0 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The environment whose backend holds the deleted secrets.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// Secrets to restore (names in the store; the environment's prefix is added).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

/// `secretsync restore`: undoes soft deletes (AWS's recovery window, Vault's delete) of an
/// environment's secrets, e.g. after a prune or to re-create a name pending deletion.
pub async fn run_restore(ctx: &Ctx, args: RestoreArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let env = cfg.env(&args.env)?;
    let target = targets::open(&cfg, &env, 4).await?;
    let mut failed = false;
    let mut results = Vec::new();
    for n in &args.names {
        let name = format!("{}{n}", target.prefix);
        match target.backend.restore(&name).await {
            Ok(()) => results.push(json!({"name": name, "restored": true})),
            Err(e) => {
                failed = true;
                if !ctx.json {
                    eprintln!("error: {e}");
                }
                results.push(json!({"name": name, "restored": false, "error": {"kind": e.kind.as_str(), "message": e.to_string()}}));
            }
        }
    }
    if ctx.json {
        crate::output::json(&json!({ "env": env.name(), "results": results }))?;
    } else {
        for r in results.iter().filter(|r| r["restored"] == true) {
            println!("restored {}", r["name"].as_str().unwrap_or_default());
        }
    }
    Ok(if failed { Outcome::Failed } else { Outcome::Ok })
}
