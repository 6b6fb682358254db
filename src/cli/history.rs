//! `secretsync history` and `secretsync rollback`.

use super::{Ctx, Outcome, ScopeArgs};
use crate::model::SecretName;
use anyhow::Result;
use clap::Args;
use serde_json::json;

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
    let cfg = ctx.config()?;
    let scope = args.scope.scope(&cfg)?;
    let store = ctx.unlocked(&cfg).await?;
    let (sel, versions) = store.history(&args.name, &scope)?;
    if ctx.json {
        crate::output::json(
            &json!({ "name": args.name, "selector": sel.to_string(), "versions": versions }),
        )?;
        return Ok(Outcome::Ok);
    }
    println!("{} for {sel}:", args.name);
    let mut t = crate::output::table(["VERSION", "SET AT", "REPLACED AT"]);
    for v in versions {
        t.add_row(vec![
            v.version.to_string(),
            v.updated.to_rfc3339(),
            v.replaced
                .map_or_else(|| "(current)".into(), |r| r.to_rfc3339()),
        ]);
    }
    println!("{t}");
    Ok(Outcome::Ok)
}

pub async fn run_rollback(ctx: &Ctx, args: RollbackArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let scope = args.scope.scope(&cfg)?;
    let mut w = ctx.writer(&cfg).await?;
    let (sel, from, to) = w.rollback(&args.name, &scope, args.to)?;
    w.commit()?;
    if ctx.json {
        crate::output::json(
            &json!({ "name": args.name, "selector": sel.to_string(), "restored": from, "version": to }),
        )?;
    } else {
        println!(
            "restored {} for {sel} to the value of version {from} (now version {to})",
            args.name
        );
    }
    Ok(Outcome::Ok)
}
