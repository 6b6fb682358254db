//! `secretsync set` and `secretsync delete`.

use super::{Ctx, Outcome, TargetArgs};
use crate::config::Config;
use crate::model::{EnvRef, SecretName, Selector};
use crate::store::{DeleteScope, SetReport};
use anyhow::{bail, Context, Result};
use clap::Args;
use secretsync_core::SecretValue;
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The secret's name.
    pub name: SecretName,
    #[command(flatten)]
    pub target: TargetArgs,
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
}

/// Where a write goes: `--type` as given; `--env` as its override, or a type for a type's name.
pub fn selector(cfg: &Config, target: &TargetArgs) -> Result<Selector> {
    Ok(match (&target.types, &target.env) {
        (Some(t), _) => Selector::Types(*t),
        (None, Some(e)) => match cfg.env(e)? {
            EnvRef::Implicit(t) => Selector::Types(crate::model::TypeSet::of([t])),
            EnvRef::Declared(n, _) => Selector::Env(n),
        },
        (None, None) => unreachable!("clap requires one of --type/--env"),
    })
}

/// Reads the value: a file, a hidden prompt on a terminal, or stdin (one trailing newline
/// dropped, so `echo value | secretsync set …` stores `value`).
fn read_value(args: &SetArgs) -> Result<SecretValue> {
    match &args.from_file {
        Some(p) if p.as_os_str() == "-" => read_stdin(false),
        Some(p) => Ok(SecretValue::new(
            std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        )),
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
        if buf.ends_with(b"\r\n") {
            buf.truncate(buf.len() - 2);
        } else if buf.ends_with(b"\n") {
            buf.truncate(buf.len() - 1);
        }
    }
    Ok(SecretValue::new(buf))
}

pub async fn run_set(ctx: &Ctx, args: SetArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let sel = selector(&cfg, &args.target)?;
    let value = read_value(&args)?;
    set_value(ctx, &cfg, &args.name, &sel, value, args.description.clone()).await
}

/// Sets one value and reports it (shared with `quickstart`).
pub async fn set_value(
    ctx: &Ctx,
    cfg: &Config,
    name: &SecretName,
    sel: &Selector,
    value: SecretValue,
    description: Option<String>,
) -> Result<Outcome> {
    let mut w = ctx.writer(cfg).await?;
    let report = w.set(name, sel, value, description)?;
    w.commit()?;
    let undeclared = match ctx.declared(cfg) {
        Ok(d) => !d.iter().any(|d| &d.name == name),
        Err(_) => false,
    };
    print_set(ctx, name, &report, undeclared)
}

fn print_set(ctx: &Ctx, name: &SecretName, r: &SetReport, undeclared: bool) -> Result<Outcome> {
    if ctx.json {
        crate::output::json(&json!({
            "name": name,
            "selector": r.selector.to_string(),
            "version": r.version,
            "split": r.split.iter().map(|(a, b)| json!({"from": a.to_string(), "to": b.to_string()})).collect::<Vec<_>>(),
            "absorbed": r.absorbed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "declared": !undeclared,
        }))?;
        return Ok(Outcome::Ok);
    }
    println!("set {name} for {} (version {})", r.selector, r.version);
    for (from, to) in &r.split {
        println!("  split: {} now has its own value; {to} keep the value they shared with it (was {from})", r.selector);
    }
    for old in &r.absorbed {
        println!("  replaced the value of {old} (kept in history: `secretsync history {name} --type ...`)");
    }
    if undeclared {
        eprintln!("note: {name} is not declared in secretsync.toml or the Go sources it scans");
    }
    Ok(Outcome::Ok)
}

pub async fn run_delete(ctx: &Ctx, args: DeleteArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let scope = match (&args.types, &args.env) {
        (Some(t), _) => Some(DeleteScope::Types(*t)),
        (None, Some(e)) => Some(match cfg.env(e)? {
            EnvRef::Implicit(t) => DeleteScope::Types(crate::model::TypeSet::of([t])),
            EnvRef::Declared(n, _) => DeleteScope::Env(n),
        }),
        (None, None) => None,
    };
    let mut w = ctx.writer(&cfg).await?;
    let report = w.delete(&args.name, scope.as_ref())?;
    w.commit()?;
    if ctx.json {
        crate::output::json(&json!({
            "name": args.name,
            "changes": report.iter().map(|(from, left)| json!({
                "selector": from.to_string(),
                "remaining": left.as_ref().map(ToString::to_string),
            })).collect::<Vec<_>>(),
        }))?;
        return Ok(Outcome::Ok);
    }
    if report.is_empty() {
        bail!("nothing deleted");
    }
    for (from, left) in &report {
        match left {
            Some(rest) => println!(
                "deleted {} for {}; {rest} keep their value",
                args.name,
                scope.as_ref().map_or(String::new(), ToString::to_string)
            ),
            None => println!("deleted {} for {from}", args.name),
        }
    }
    Ok(Outcome::Ok)
}
