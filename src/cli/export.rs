//! `secretsync export`: an environment's values for other tools (dotenv, shell, JSON, a
//! Kubernetes Secret); never to a terminal unless forced.

use super::{values, Ctx, Outcome, SourceArgs};
use crate::app::inject;
use crate::inject::format::{self, Format};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `NAME='value'` lines for .env files (docker compose, dotenv libraries).
    Dotenv,
    /// `export NAME='value'` lines for `sh`/`bash`/`zsh` (`eval "$(secretsync export …)"`).
    Shell,
    /// One JSON object; binary values as `{"base64": "…"}`.
    Json,
    /// A Kubernetes `Secret` manifest (YAML).
    K8sSecret,
}

impl From<ExportFormat> for Format {
    fn from(f: ExportFormat) -> Self {
        match f {
            ExportFormat::Dotenv => Format::Dotenv,
            ExportFormat::Shell => Format::Shell,
            ExportFormat::Json => Format::Json,
            ExportFormat::K8sSecret => Format::K8sSecret,
        }
    }
}
use anyhow::{bail, Result};
use clap::Args;
use std::io::IsTerminal;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
    /// Print values to a terminal anyway.
    #[arg(long)]
    pub force: bool,
    /// The Kubernetes Secret's name (default: APP-ENV).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub async fn run(ctx: &Ctx, args: ExportArgs) -> Result<Outcome> {
    if ctx.out.json && args.format != ExportFormat::Json {
        bail!(
            "--json asks for JSON but --format is {:?}: use --format json",
            args.format
        );
    }
    if std::io::stdout().is_terminal() && !args.force {
        bail!("refusing to print secret values to a terminal: redirect to a file or a pipe (e.g. > .env), or pass --force");
    }
    let values = values(ctx, &args.source).await?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| inject::default_export_name(&ctx.ws, &args.source.env));
    ctx.out
        .text(&format::render(args.format.into(), &values, &name)?)?;
    Ok(Outcome::Ok)
}
