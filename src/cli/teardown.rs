//! `secretsync teardown`: delete what a preview environment owns, or every instance of a
//! template but those kept.

use super::{Ctx, Outcome};
use crate::app::teardown::{self, TeardownOptions};
use anyhow::Result;
use clap::Args;
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// An instance of a template (`pr:123`), or a template (`pr`) with --keep or
    /// --older-than to remove all its other instances.
    #[arg(long, value_name = "ENV")]
    pub env: String,
    /// With a template: the ids of the instances to keep (the open pull requests).
    #[arg(long, value_name = "ID[,ID…]", value_delimiter = ',')]
    pub keep: Vec<String>,
    /// With a template: keep the instances written within this long (e.g. 14d, 36h).
    #[arg(long, value_name = "AGE", value_parser = older_than)]
    pub older_than: Option<Duration>,
    /// Most deletions; more refuses them all.
    #[arg(long, alias = "max-delete", default_value_t = 10, value_name = "N")]
    pub max_deletes: usize,
    /// Delete at once where the backend keeps deleted secrets for a while (AWS's recovery
    /// window; Vault's soft delete destroys every version instead).
    #[arg(long)]
    pub force_delete: bool,
    /// Do not ask on a terminal.
    #[arg(long, short)]
    pub yes: bool,
    /// Deletes in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

fn older_than(s: &str) -> Result<Duration, String> {
    secretsync_core::duration::parse(s, Duration::ZERO, Duration::from_secs(3650 * 86_400))
}

pub async fn run(ctx: &Ctx, args: TeardownArgs) -> Result<Outcome> {
    let opts = TeardownOptions {
        env: args.env,
        keep: args.keep,
        older_than: args.older_than,
        max_deletes: args.max_deletes,
        force_delete: args.force_delete,
        concurrency: args.concurrency,
    };
    let planned = teardown::plan(&ctx.ws, &opts).await?;
    let deletes = planned
        .plan()
        .items
        .iter()
        .filter(|i| i.is_change())
        .count();
    if deletes > 0 && !args.yes && std::io::stdin().is_terminal() {
        eprint!("{}", crate::output::plan::render_plan(planned.plan()));
        eprint!(
            "Delete these {deletes} secrets from {}{}? [y/N] ",
            planned.plan().backend,
            if opts.force_delete {
                ", with no recovery"
            } else {
                ""
            }
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing deleted");
            return Ok(Outcome::Attention);
        }
    }
    let report = teardown::apply(planned, opts.concurrency).await;
    ctx.out.report(&report)?;
    Ok(if report.outcome.failed() {
        Outcome::Failed
    } else if report.outcome.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Ok
    })
}
