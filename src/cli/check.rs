//! `secretsync check`: every declared secret has a value for each environment checked.

use super::{Ctx, Outcome};
use crate::model::{EnvRef, EnvType};
use anyhow::Result;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check this environment (repeatable; a type name is its implicit environment).
    #[arg(long, value_name = "ENV")]
    pub env: Vec<String>,
    /// Check this type's value, ignoring overrides (repeatable).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<EnvType>,
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let store = ctx.store(&cfg)?;
    let declared = ctx.declared(&cfg)?;
    let mut envs: Vec<EnvRef> = args
        .env
        .iter()
        .map(|e| cfg.env(e))
        .collect::<Result<_, _>>()?;
    envs.extend(args.types.iter().map(|t| EnvRef::Implicit(*t)));
    if envs.is_empty() {
        envs = cfg.all_envs();
    }
    envs.dedup();

    let results: Vec<(EnvRef, Vec<String>)> = envs
        .into_iter()
        .map(|env| {
            let missing = declared
                .iter()
                .filter(|d| {
                    store
                        .secret(&d.name)
                        .and_then(|s| s.resolve(&env).cloned())
                        .is_none()
                })
                .map(|d| d.name.to_string())
                .collect();
            (env, missing)
        })
        .collect();
    let undeclared: Vec<String> = store
        .secrets()
        .into_iter()
        .filter(|s| !declared.iter().any(|d| d.name == s.name))
        .map(|s| s.name.to_string())
        .collect();
    let ok = results.iter().all(|(_, m)| m.is_empty());

    if ctx.json {
        crate::output::json(&json!({
            "ok": ok,
            "declared": declared.len(),
            "environments": results.iter().map(|(e, m)| json!({
                "name": e.name(),
                "type": e.env_type().as_str(),
                "missing": m,
            })).collect::<Vec<_>>(),
            "undeclared": undeclared,
        }))?;
    } else {
        if declared.is_empty() {
            println!("no secrets are declared (secretsync.toml [secrets.NAME], or Go roots under [go]); nothing to check");
        }
        for (env, missing) in &results {
            if missing.is_empty() {
                println!("ok      {env}: all {} declared secrets set", declared.len());
            } else {
                println!("MISSING {env}: {}", missing.join(", "));
            }
        }
        if !undeclared.is_empty() {
            println!("note: set but not declared: {}", undeclared.join(", "));
        }
        if !ok {
            println!("set them with `secretsync set NAME --type TYPE` or `--env ENV`");
        }
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Findings })
}
