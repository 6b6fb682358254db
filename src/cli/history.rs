//! `secretsync history` and `secretsync rollback`.

use super::{Ctx, Outcome, ScopeArgs};
use crate::app;
use crate::model::SecretName;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The version to restore (default: the one before the current).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u64>,
}

pub async fn run_history(ctx: &Ctx, args: HistoryArgs) -> Result<Outcome> {
    let scope = args.scope.scope(&ctx.config()?)?;
    let report = app::secrets::history(&ctx.ws, &args.name, &scope).await?;
    ctx.out.report(&report)?;
    Ok(Outcome::Ok)
}

pub async fn run_rollback(ctx: &Ctx, args: RollbackArgs) -> Result<Outcome> {
    let scope = args.scope.scope(&ctx.config()?)?;
    let report = app::secrets::rollback(&ctx.ws, &args.name, &scope, args.to).await?;
    ctx.out.report(&report)?;
    Ok(Outcome::Ok)
}
