//! `secretsync migrate` (backend to backend) and `secretsync import` (backend into the store).

use super::set::selector;
use super::{targets, Ctx, Outcome, TargetArgs};
use crate::model::SecretName;
use crate::output::plan::{render_apply, render_plan};
use crate::sync::migrate::{self, Verified};
use crate::sync::{self, Fingerprinter, PlanOptions, Status};
use anyhow::{Context, Result};
use clap::Args;
use secretsync_core::{get_all, list_all};
use serde_json::json;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The backend to copy from (URL).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The backend to copy to (URL).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Only source secrets under this prefix (stripped from the names).
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix_from: String,
    /// Prefix added to the target names.
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix_to: String,
    /// What replaces characters the target does not allow in names.
    #[arg(long, default_value_t = '_', value_name = "CHAR")]
    pub rename_char: char,
    /// Show the mapping and the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite same-named target secrets that secretsync did not write.
    #[arg(long)]
    pub adopt: bool,
    /// Calls in flight at once, per backend.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

pub async fn run_migrate(ctx: &Ctx, args: MigrateArgs) -> Result<Outcome> {
    let cfg = ctx.config().context("migrate stamps what it writes with a store's ownership labels: run it in a secretsync project")?;
    let store = ctx.unlocked(&cfg).await?;
    let fpr = Fingerprinter::of(&store)?;
    let base = cfg.path.parent().unwrap_or(&ctx.cwd).to_path_buf();
    let (src, src_calls) = targets::open_url(&args.from, &base, args.concurrency).await?;
    let (dst, dst_calls) = targets::open_url(&args.to, &base, args.concurrency).await?;

    let listed = list_all(src.as_ref(), &args.prefix_from).await?;
    let names: Vec<String> = listed.into_iter().map(|m| m.name).collect();
    let mappings = migrate::map_names(
        &names,
        &args.prefix_from,
        &args.prefix_to,
        &dst.capabilities().names,
        args.rename_char,
    )?;
    let desired = migrate::read_sources(src.as_ref(), &mappings, args.concurrency).await?;
    let opts = PlanOptions {
        adopt: args.adopt,
        concurrency: args.concurrency,
        ..Default::default()
    };
    let plan = sync::plan(
        "migrate",
        dst.as_ref(),
        &args.prefix_to,
        desired,
        &fpr,
        &opts,
    )
    .await?;

    if args.dry_run {
        if ctx.json {
            crate::output::json(
                &json!({ "mappings": mappings, "plan": plan, "summary": plan.summary(), "dry_run": true }),
            )?;
        } else {
            for m in mappings
                .iter()
                .filter(|m| m.from.strip_prefix(&args.prefix_from) != Some(m.to.as_str()))
            {
                println!("rename {} -> {}{}", m.from, args.prefix_to, m.to);
            }
            print!("{}", render_plan(&plan));
            println!("(dry run: nothing written)");
        }
        return Ok(Outcome::Ok);
    }
    let report = sync::apply(&plan, dst.clone(), &fpr, args.concurrency, &|_| {}).await;
    let verified = migrate::verify(dst.as_ref(), &plan, &fpr, args.concurrency).await?;
    let count = |v: Verified| verified.iter().filter(|(_, x)| *x == v).count();
    let bad: Vec<_> = verified
        .iter()
        .filter(|(_, v)| *v != Verified::Equal)
        .collect();
    if ctx.json {
        crate::output::json(&json!({
            "mappings": mappings,
            "plan": plan,
            "summary": plan.summary(),
            "report": report,
            "verified": { "equal": count(Verified::Equal), "differs": count(Verified::Differs), "missing": count(Verified::Missing),
                          "problems": bad.iter().map(|(n, v)| json!({"name": n, "result": v})).collect::<Vec<_>>() },
            "api_calls": { "source": targets::api_calls(&src_calls), "target": targets::api_calls(&dst_calls) },
        }))?;
    } else {
        print!("{}", render_apply(&report));
        println!(
            "Verified by reading back: {} equal, {} differ, {} missing.",
            count(Verified::Equal),
            count(Verified::Differs),
            count(Verified::Missing)
        );
        for (n, v) in &bad {
            println!("  {n}: {v:?}");
        }
    }
    Ok(if report.count(Status::Failed) > 0 || !bad.is_empty() {
        Outcome::Failed
    } else if report.count(Status::Skipped) > 0 {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The backend to read from (URL).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Only secrets under this prefix (stripped from the names).
    #[arg(long, default_value = "", value_name = "PREFIX")]
    pub prefix: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Replace values the store already holds with different ones.
    #[arg(long)]
    pub overwrite: bool,
    /// Show what would be imported; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

pub async fn run_import(ctx: &Ctx, args: ImportArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let sel = selector(&cfg, &args.target)?;
    let base = cfg.path.parent().unwrap_or(&ctx.cwd).to_path_buf();
    let (src, _) = targets::open_url(&args.from, &base, args.concurrency).await?;
    let listed = list_all(src.as_ref(), &args.prefix).await?;
    let mut skipped: Vec<(String, String)> = Vec::new();
    let mut wanted: Vec<(String, SecretName)> = Vec::new();
    for m in listed {
        let rel = m
            .name
            .strip_prefix(&args.prefix)
            .unwrap_or(&m.name)
            .to_string();
        match rel.parse::<SecretName>() {
            Ok(n) => wanted.push((m.name, n)),
            Err(_) => skipped.push((
                m.name,
                "not a valid secret name (letters, digits, '_'; not starting with a digit)".into(),
            )),
        }
    }
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let values = get_all(src.as_ref(), &names, args.concurrency).await?;
    let mut w = ctx.writer(&cfg).await?;
    let (mut imported, mut unchanged) = (Vec::new(), Vec::new());
    for ((full, name), value) in wanted.into_iter().zip(values) {
        let Some(value) = value.map(|s| s.value) else {
            continue;
        };
        match w.get_exact(&name, &sel)? {
            Some(v) if v == value => unchanged.push(name.to_string()),
            Some(_) if !args.overwrite => skipped.push((
                full,
                format!("the store holds another value for {sel}; --overwrite replaces it"),
            )),
            _ => {
                w.set(&name, &sel, value, None)?;
                imported.push(name.to_string());
            }
        }
    }
    if !args.dry_run {
        w.commit()?;
    }
    if ctx.json {
        crate::output::json(&json!({
            "selector": sel.to_string(),
            "imported": imported,
            "unchanged": unchanged,
            "skipped": skipped.iter().map(|(n, why)| json!({"name": n, "reason": why})).collect::<Vec<_>>(),
            "dry_run": args.dry_run,
        }))?;
    } else {
        let verb = if args.dry_run {
            "would import"
        } else {
            "imported"
        };
        println!(
            "{verb} {} secrets for {sel}; {} already equal; {} skipped",
            imported.len(),
            unchanged.len(),
            skipped.len()
        );
        for (n, why) in &skipped {
            println!("  skipped {n}: {why}");
        }
    }
    Ok(if skipped.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Findings
    })
}
