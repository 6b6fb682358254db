//! `secretsync list`: secrets × types and environments, set or missing. Never values.

use super::{Ctx, Outcome};
use crate::model::{EnvRef, Selector};
use crate::store::SecretInfo;
use anyhow::Result;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Where an environment's value comes from.
fn source(info: Option<&SecretInfo>, env: &EnvRef) -> Option<(&'static str, u64)> {
    let v = info?.resolve(env)?;
    let kind = match (&v.selector, env) {
        (Selector::Env(_), _) => "override",
        (_, EnvRef::Implicit(_)) => "set",
        (_, EnvRef::Declared(..)) => "type",
    };
    Some((kind, v.version))
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let store = ctx.store(&cfg)?;
    let declared = ctx.declared(&cfg)?;
    let stored: BTreeMap<_, _> = store
        .secrets()
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let mut names: Vec<_> = declared
        .iter()
        .map(|d| d.name.clone())
        .chain(stored.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    let envs = cfg.all_envs();

    if ctx.json {
        let secrets: Vec<Value> = names
            .iter()
            .map(|n| {
                let info = stored.get(n);
                let decl = declared.iter().find(|d| &d.name == n);
                let mut per_env = Map::new();
                for e in &envs {
                    let v = match source(info, e) {
                        Some((kind, version)) => json!({"source": kind, "version": version}),
                        None => json!({"source": "missing"}),
                    };
                    per_env.insert(e.name().to_string(), v);
                }
                json!({
                    "name": n,
                    "declared": decl.is_some(),
                    "description": decl.and_then(|d| d.description.clone()).or_else(|| info.and_then(|i| i.description.clone())),
                    "environments": per_env,
                    "values": info.map_or_else(Vec::new, |i| i.values.iter().map(|v| json!({
                        "selector": v.selector.to_string(),
                        "version": v.version,
                        "updated": v.updated,
                        "history": v.history,
                    })).collect()),
                })
            })
            .collect();
        crate::output::json(&json!({ "app": cfg.app, "secrets": secrets }))?;
        return Ok(Outcome::Ok);
    }

    if names.is_empty() {
        println!("no secrets declared or set yet: declare them in secretsync.toml, then `secretsync set NAME --type dev`");
        return Ok(Outcome::Ok);
    }
    let header =
        std::iter::once("SECRET".to_string()).chain(envs.iter().map(|e| e.name().to_string()));
    let mut table = crate::output::table(header);
    for n in &names {
        let info = stored.get(n);
        let undeclared = !declared.iter().any(|d| &d.name == n);
        let mut row = vec![if undeclared {
            format!("{n} (undeclared)")
        } else {
            n.to_string()
        }];
        for e in &envs {
            row.push(match source(info, e) {
                Some(("set", v)) => format!("set v{v}"),
                Some(("type", _)) => "via type".into(),
                Some((kind, v)) => format!("{kind} v{v}"),
                None => "missing".into(),
            });
        }
        table.add_row(row);
    }
    println!("{table}");
    Ok(Outcome::Ok)
}
