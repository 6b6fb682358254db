//! `secretsync list`: secrets × types and environments, set or missing. Never values.

use super::{Ctx, Outcome};
use crate::app;
use anyhow::Result;

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    ctx.out.report(&app::overview::list(&ctx.ws)?)?;
    Ok(Outcome::Ok)
}
