//! `secretsync get`: the one command that prints a value.

use super::{Ctx, Outcome, ScopeArgs};
use crate::app;
use crate::model::SecretName;
use anyhow::Result;
use base64::Engine;
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
        let mut doc = serde_json::json!({
            "name": args.name,
            "scope": scope.to_string(),
            "selector": selector.to_string(),
        });
        match value.as_str() {
            Some(s) => doc["value"] = s.into(),
            None => {
                doc["value_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(value.expose())
                    .into()
            }
        }
        ctx.out.json_doc(&doc)?;
    } else {
        ctx.out.bytes(value.expose())?;
    }
    Ok(Outcome::Ok)
}
