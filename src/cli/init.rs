//! `secretsync init`: config, identity and store, each created only when missing.

use super::{Ctx, Outcome};
use crate::app;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app's name (default: the folder's name).
    #[arg(long)]
    pub app: Option<String>,
    /// Start a new app here even inside another app's folder.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(ctx: &Ctx, args: InitArgs) -> Result<Outcome> {
    ctx.out
        .report(&app::init::init(&ctx.ws, args.app, args.force).await?)?;
    Ok(Outcome::Ok)
}
