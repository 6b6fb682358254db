//! `secretsync pull`: cache the local environment's values on this machine (0600).

use super::{Ctx, Outcome};
use crate::app::inject;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The environment to cache (of type local).
    #[arg(long, default_value = "local", value_name = "ENV")]
    pub env: String,
}

pub async fn run(ctx: &Ctx, args: PullArgs) -> Result<Outcome> {
    ctx.out.report(&inject::pull(&ctx.ws, &args.env).await?)?;
    Ok(Outcome::Ok)
}
