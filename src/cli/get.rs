//! `secretsync get`: the one command that prints a value.

use super::{Ctx, Outcome, ScopeArgs};
use crate::app;
use crate::model::SecretName;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

pub async fn run(ctx: &Ctx, args: GetArgs) -> Result<Outcome> {
    let scope = args.scope.scope(&ctx.config()?)?;
    let (selector, value) = app::secrets::get(&ctx.ws, &args.name, &scope).await?;
    if ctx.out.json {
        ctx.out.json_doc(&app::secrets::GotValue::new(
            &args.name, &scope, &selector, &value,
        ))?;
    } else {
        ctx.out.bytes(value.expose())?;
    }
    Ok(Outcome::Ok)
}
