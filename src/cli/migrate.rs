//! `secretsync migrate` (backend to backend) and `secretsync import` (a backend, a dotenv or a
//! JSON file into the store).

use super::{Ctx, Outcome, WriteArgs};
use crate::app::{
    self,
    migrate::{ImportOptions, ImportSource, MigrateOptions},
};
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The backend to copy from (URL).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The backend to copy to (URL).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Only source secrets under this prefix (stripped from the names).
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix_from: String,
    /// Prefix added to the target names.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix_to: String,
    /// What replaces characters the target does not allow in names.
    #[arg(long, default_value_t = '_', value_name = "CHAR")]
    pub rename_char: char,
    /// Show the mapping and the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite same-named target secrets that secretsync did not write.
    #[arg(long)]
    pub adopt: bool,
    /// Calls in flight at once, per backend.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Label what is written as this project's store's (environment `migrate`), so an
    /// environment can later take it over with `apply --adopt`. Needs the project's config
    /// and identity; without it migrate needs neither.
    #[arg(long)]
    pub with_store: bool,
}

pub async fn run_migrate(ctx: &Ctx, args: MigrateArgs) -> Result<Outcome> {
    let opts = MigrateOptions {
        from: args.from,
        to: args.to,
        prefix_from: args.prefix_from,
        prefix_to: args.prefix_to,
        rename_char: args.rename_char,
        dry_run: args.dry_run,
        adopt: args.adopt,
        concurrency: args.concurrency,
        with_store: args.with_store,
    };
    let report = app::migrate::migrate(&ctx.ws, &opts, &ctx.out.progress()).await?;
    ctx.out.report(&report)?;
    Ok(if report.failed() {
        Outcome::Failed
    } else if report.refused() {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from", "from_file"])))]
pub struct ImportArgs {
    /// The backend to read from (URL).
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// A dotenv file (`NAME=value` lines) or a JSON object of names to strings (`.json`).
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<std::path::PathBuf>,
    /// Only secrets under this prefix (stripped from the names).
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix: String,
    #[command(flatten)]
    pub target: WriteArgs,
    /// Replace values the store already holds with different ones.
    #[arg(long)]
    pub overwrite: bool,
    /// Show what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

pub async fn run_import(ctx: &Ctx, args: ImportArgs) -> Result<Outcome> {
    let from = match (args.from, args.from_file) {
        (Some(url), _) => ImportSource::Backend(url),
        (None, Some(f)) => ImportSource::file(ctx.ws.cwd.join(f)),
        (None, None) => unreachable!("clap requires one"),
    };
    let opts = ImportOptions {
        from,
        prefix: args.prefix,
        types: args.target.types,
        env: args.target.env,
        overwrite: args.overwrite,
        dry_run: args.dry_run,
        concurrency: args.concurrency,
    };
    let report = app::migrate::import(&ctx.ws, &opts).await?;
    ctx.out.report(&report)?;
    Ok(if report.skipped.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}
