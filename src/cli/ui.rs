//! `secretsync ui`: serves the local dashboard until Ctrl-C or SIGTERM.

use super::{Ctx, Outcome};
use crate::ui;
use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct UiArgs {
    /// The loopback address to listen on: 127.0.0.1, ::1 or localhost (nothing else).
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    pub host: String,
    /// The port (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the dashboard in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Offer Apply on the environments page (it writes to the backends, after a confirmation).
    #[arg(long)]
    pub allow_apply: bool,
}

pub async fn run(ctx: &Ctx, args: UiArgs) -> Result<Outcome> {
    // A KMS recipient's scope key is unwrapped once for the dashboard's life, not per page.
    let mut ws = ctx.ws.clone();
    ws.key_cache = Some(Default::default());
    let server = ui::bind(
        ws,
        &ui::Options {
            host: args.host,
            port: args.port,
            allow_apply: args.allow_apply,
        },
    )
    .await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    // The URL is the key to the dashboard: it goes to this terminal only, never to a log.
    println!("secretsync ui: {}", server.url);
    eprintln!(
        "The link works once, in one browser{}. Ctrl-C stops the dashboard.",
        if args.allow_apply {
            "; Apply is on"
        } else {
            ""
        }
    );
    if args.open {
        if let Err(e) = open::that_detached(&server.url) {
            eprintln!("could not open a browser ({e}): open the link above by hand");
        }
    }
    server
        .serve(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    Ok(Outcome::Ok)
}
