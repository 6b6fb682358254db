//! `secretsync plan` and `secretsync apply`.

use super::OnDrift;
use super::{Ctx, Outcome};
use crate::app::{self, sync::SyncOptions};
use crate::output::Printer;
use crate::sync::PlanOptions;
use anyhow::Result;
use clap::Args;

/// What both `plan` and `apply` take.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// An environment to sync (repeatable).
    #[arg(long = "env", value_name = "ENV[,ENV…]", value_delimiter = ',')]
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
    #[arg(long, value_enum, default_value_t = OnDrift::Report)]
    pub on_drift: OnDrift,
    /// Backend calls in flight at once, per environment.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

impl SyncArgs {
    /// The application's options.
    pub fn options(&self) -> SyncOptions {
        SyncOptions {
            envs: self.envs.clone(),
            all: self.all,
            plan: PlanOptions {
                prune: self.prune,
                max_deletes: self.max_deletes,
                adopt: self.adopt,
                verify: self.verify,
                check_drift: self.check_drift,
                on_drift: self.on_drift.into(),
                concurrency: self.concurrency,
                refresh_after: None,
            },
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

/// Notes and warnings about each environment, on stderr.
fn notes<'a>(out: &Printer, envs: impl Iterator<Item = (&'a str, &'a [String], &'a [String])>) {
    for (env, missing, warnings) in envs {
        for w in warnings {
            out.warn(w);
        }
        if !missing.is_empty() {
            out.note(&format!(
                "note: {env} has no value for declared {}; `secretsync check --env {env}` lists them",
                missing.join(", ")
            ));
        }
    }
}

/// Each environment that could not be planned, on stderr (the others were still planned);
/// with `-v`, what the SDK said underneath.
fn env_errors(ctx: &Ctx, errors: &[app::sync::EnvError]) {
    for e in errors {
        eprintln!("error: {}: {}", e.env, e.error);
        if ctx.verbose {
            for d in &e.detail {
                eprintln!("  caused by: {d}");
            }
        }
    }
}

pub async fn run_plan(ctx: &Ctx, args: PlanArgs) -> Result<Outcome> {
    let report = app::sync::plan(&ctx.ws, &args.sync.options()).await?;
    env_errors(ctx, &report.errors);
    notes(
        &ctx.out,
        report.environments.iter().map(|e| {
            (
                e.plan.env.as_str(),
                &e.missing_declared[..],
                &e.warnings[..],
            )
        }),
    );
    ctx.out.report(&report)?;
    Ok(if !report.errors.is_empty() {
        Outcome::Failed
    } else if args.detailed_exitcode && report.changes {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

pub async fn run_apply(ctx: &Ctx, args: ApplyArgs) -> Result<Outcome> {
    let out = Printer {
        quiet: ctx.out.quiet || args.quiet,
        ..ctx.out
    };
    let report = app::sync::apply(&ctx.ws, &args.sync.options(), &out.progress()).await?;
    env_errors(ctx, &report.errors);
    notes(
        &out,
        report.environments.iter().map(|e| {
            (
                e.plan.env.as_str(),
                &e.missing_declared[..],
                &e.warnings[..],
            )
        }),
    );
    out.report(&report)?;
    Ok(if report.failed() {
        Outcome::Failed
    } else if report.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
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
    let report = app::sync::restore(&ctx.ws, &args.env, &args.names).await?;
    if !ctx.out.json {
        for r in &report.results {
            if let Some(e) = &r.error {
                eprintln!("error: {}", e.message);
            }
        }
    }
    ctx.out.report(&report)?;
    Ok(if report.failed() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}
