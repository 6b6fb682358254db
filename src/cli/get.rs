//! `secretsync get`: the one command that prints a value.

use super::{Ctx, Outcome, ScopeArgs};
use crate::model::SecretName;
use anyhow::Result;
use base64::Engine;
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub scope: ScopeArgs,
}

pub async fn run(ctx: &Ctx, args: GetArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let scope = args.scope.scope(&cfg)?;
    let store = ctx.unlocked(&cfg).await?;
    let value = store.get(&args.name, &scope)?;
    if ctx.json {
        let mut doc = serde_json::json!({ "name": args.name, "scope": scope.to_string() });
        match value.as_str() {
            Some(s) => doc["value"] = s.into(),
            None => {
                doc["value_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(value.expose())
                    .into()
            }
        }
        crate::output::json(&doc)?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(value.expose())?;
        out.flush()?;
    }
    Ok(Outcome::Ok)
}
