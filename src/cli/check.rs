//! `secretsync check`: every declared secret has a value for each environment checked.

use super::{Ctx, Outcome};
use crate::app::{self, overview::CheckOptions};
use crate::model::EnvType;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check this environment (repeatable; a type name is its implicit environment).
    #[arg(long, value_name = "ENV[,ENV…]", value_delimiter = ',')]
    pub env: Vec<String>,
    /// Check this type's value, ignoring overrides (repeatable).
    #[arg(long = "type", value_name = "TYPE[,TYPE…]", value_delimiter = ',')]
    pub types: Vec<EnvType>,
}

pub fn run(ctx: &Ctx, args: CheckArgs) -> Result<Outcome> {
    let opts = CheckOptions {
        envs: args.env,
        types: args.types,
    };
    let report = app::overview::check(&ctx.ws, &opts)?;
    ctx.out.report(&report)?;
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::Attention
    })
}
