//! `secretsync set` and `secretsync delete`.

use super::{Ctx, Outcome, WriteArgs};
use crate::app::{self, secrets::SetOptions};
use crate::model::SecretName;
use anyhow::{bail, Context, Result};
use clap::Args;
use secretsync_core::SecretValue;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub target: WriteArgs,
    /// Read the value from this file (exact bytes; `-` for stdin) instead of stdin or a prompt.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Describe what the secret is for.
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The secret's name.
    pub name: SecretName,
    /// Only these types' value (the value shared with other types keeps them).
    #[arg(long = "type", value_name = "TYPE[,TYPE…]", conflicts_with = "env")]
    pub types: Option<crate::model::TypeSet>,
    /// Only this environment's override (or, for a type's name, that type's value).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Do not ask (a terminal asks before deleting a whole secret).
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UndeleteArgs {
    /// The secret deleted whole.
    pub name: SecretName,
}

/// Reads the value: a file, a hidden prompt on a terminal, or stdin (one trailing newline
/// dropped, so `echo value | secretsync set …` stores `value`).
fn read_value(args: &SetArgs) -> Result<SecretValue> {
    match &args.from_file {
        Some(p) if p.as_os_str() == "-" => read_stdin(false),
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            // A one-line text file usually ends in a newline nobody meant as part of the value
            // (a connection string with '\n' breaks later); certificates and binary are left be.
            let text = std::str::from_utf8(&bytes).ok();
            if text.is_some_and(|t| t.ends_with('\n') && t.trim_end().lines().count() == 1) {
                eprintln!(
                    "note: {} ends in a newline, which is kept as part of the value; if it is not meant to be, strip it (e.g. `printf %s \"$(cat {})\" | secretsync set {} …`)",
                    p.display(),
                    p.display(),
                    args.name
                );
            }
            Ok(SecretValue::new(bytes))
        }
        None if std::io::stdin().is_terminal() => {
            let v = rpassword::prompt_password(format!("Value for {} (input hidden): ", args.name))
                .context("cannot read the value from the terminal")?;
            Ok(SecretValue::new(v.into_bytes()))
        }
        None => read_stdin(true),
    }
}

fn read_stdin(trim_newline: bool) -> Result<SecretValue> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("cannot read the value from stdin")?;
    if trim_newline {
        if buf.is_empty() {
            bail!("no value: stdin is not a terminal and gave nothing. Pipe the value in (`printf %s VALUE | secretsync set NAME --type TYPE`), or give a file with --from-file FILE");
        }
        if buf.ends_with(b"\r\n") {
            buf.truncate(buf.len() - 2);
        } else if buf.ends_with(b"\n") {
            buf.truncate(buf.len() - 1);
        }
    }
    Ok(SecretValue::new(buf))
}

pub async fn run_set(ctx: &Ctx, args: SetArgs) -> Result<Outcome> {
    let value = read_value(&args)?;
    let report = app::secrets::set(
        &ctx.ws,
        SetOptions {
            name: args.name,
            types: args.target.types,
            env: args.target.env,
            value,
            description: args.description,
        },
    )
    .await?;
    if !report.declared {
        ctx.out.note(&format!(
            "note: {} is not declared in secretsync.toml or the Go sources it scans",
            report.name
        ));
    }
    ctx.out.report(&report)?;
    Ok(Outcome::Ok)
}

pub async fn run_delete(ctx: &Ctx, args: DeleteArgs) -> Result<Outcome> {
    let whole = args.types.is_none() && args.env.is_none();
    if whole && !args.yes && std::io::stdin().is_terminal() {
        eprint!(
            "Delete {} (every value, for every type and environment)? `secretsync undelete {}` brings it back until the next key rotate. [y/N] ",
            args.name, args.name
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not deleted");
            return Ok(Outcome::Attention);
        }
    }
    let report = app::secrets::delete(&ctx.ws, &args.name, args.types, args.env.as_deref()).await?;
    ctx.out.report(&report)?;
    Ok(Outcome::Ok)
}

pub async fn run_undelete(ctx: &Ctx, args: UndeleteArgs) -> Result<Outcome> {
    ctx.out
        .report(&app::secrets::undelete(&ctx.ws, &args.name).await?)?;
    Ok(Outcome::Ok)
}
