//! Migrate (backend to backend, with this store's ownership labels) and import (a backend's
//! secrets into the store).

use super::backends::{self, ApiCall, HttpRequests};
use super::{write_selector, Progress, Workspace};
use crate::model::{SecretName, TypeSet};
use crate::sync::migrate::{self, Mapping, Verified};
use crate::sync::plan::Summary;
use crate::sync::{self, ApplyReport, Fingerprinter, Plan, PlanOptions, Status};
use anyhow::{Context, Result};
use secretsync_core::{get_all, list_all, SecretValue};
use serde::Serialize;

/// What `migrate` takes.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// The backend URL to copy from.
    pub from: String,
    /// The backend URL to copy to.
    pub to: String,
    /// Only source secrets under this prefix (stripped from the names).
    pub prefix_from: String,
    /// Prefix added to the target names.
    pub prefix_to: String,
    /// What replaces characters the target does not allow in names.
    pub rename_char: char,
    /// Plan only; write nothing.
    pub dry_run: bool,
    /// Overwrite same-named target secrets that secretsync did not write.
    pub adopt: bool,
    /// Calls in flight at once, per backend.
    pub concurrency: usize,
    /// Label what is written as this project's store's (needs its config and identity);
    /// otherwise the migration needs neither and labels as itself.
    pub with_store: bool,
}

/// The read-back check of a migration.
#[derive(Debug, Serialize)]
pub struct Verification {
    /// Secrets read back equal.
    pub equal: usize,
    /// Secrets read back different.
    pub differs: usize,
    /// Secrets not found on read-back.
    pub missing: usize,
    /// The ones that were not equal.
    pub problems: Vec<Problem>,
}

/// A secret that did not read back equal.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The target name.
    pub name: String,
    /// What was found.
    pub result: Verified,
}

/// Rows of a count for each side of a migration: API calls, or the HTTP requests behind them.
#[derive(Debug, Serialize)]
pub struct BothSides<T> {
    /// To the source.
    pub source: Vec<T>,
    /// To the target.
    pub target: Vec<T>,
}

/// What `migrate` did (or, with `dry_run`, would do).
#[derive(Debug, Serialize)]
pub struct MigrateReport {
    /// Whose ownership labels the writes carry: `store <id>`, or `migration-<hash>` without a
    /// store.
    pub owner: String,
    /// Source name → target name (relative to the prefixes).
    pub mappings: Vec<Mapping>,
    /// The plan against the target.
    pub plan: Plan,
    /// Its counts.
    pub summary: Summary,
    /// How each item ended (not on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ApplyReport>,
    /// The read-back (not on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verification>,
    /// Calls made (not on a dry run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_calls: Option<BothSides<ApiCall>>,
    /// HTTP requests made, by the service's name for them (not on a dry run; none for a local
    /// backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_requests: Option<BothSides<HttpRequests>>,
    /// A dry run: nothing was written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// The source prefix (for renders).
    #[serde(skip)]
    pub prefix_from: String,
    /// The target prefix (for renders).
    #[serde(skip)]
    pub prefix_to: String,
}

impl MigrateReport {
    /// Some write failed or some secret did not read back equal.
    pub fn failed(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.count(Status::Failed) > 0)
            || self
                .verified
                .as_ref()
                .is_some_and(|v| !v.problems.is_empty())
    }

    /// Some item was refused (adoption without `adopt`).
    pub fn refused(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.count(Status::Skipped) > 0)
    }
}

/// `migrate`: copies a backend's secrets to another, then reads every one back. Rerunnable:
/// equal secrets are skipped. With `with_store` the writes carry this project's store labels
/// (as the environment `migrate`); without, no config, store or identity is needed, the writes
/// are labelled as this migration (an id from the source URL and prefix) and a rerun compares
/// the target's values with the source's.
pub async fn migrate(
    ws: &Workspace,
    opts: &MigrateOptions,
    progress: &dyn Progress,
) -> Result<MigrateReport> {
    let (fpr, owner) = if opts.with_store {
        let cfg = ws.config().context(
            "--with-store labels what migrate writes with a store's ownership labels: run it in a secretsync project, or leave --with-store out",
        )?;
        let store = ws.unlocked(&cfg).await?;
        // Labelled with the fingerprint key of production's scope: migrations move production
        // secrets, and those who run them can open production.
        let fpr = Fingerprinter::of(&store, crate::model::EnvType::Production)?;
        (fpr, format!("store {}", store.id()))
    } else {
        let id = migration_id(&opts.from, &opts.prefix_from);
        (Fingerprinter::ephemeral(&id), id)
    };
    let base = ws.base_dir();
    let (src, src_calls) = backends::open_url(&opts.from, &base, opts.concurrency).await?;
    let (dst, dst_calls) = backends::open_url(&opts.to, &base, opts.concurrency).await?;

    let names: Vec<String> = list_all(src.as_ref(), &opts.prefix_from)
        .await?
        .into_iter()
        .map(|m| m.name)
        .collect();
    let mappings = migrate::map_names(
        &names,
        &opts.prefix_from,
        &opts.prefix_to,
        &dst.capabilities().names,
        opts.rename_char,
    )?;
    let desired = migrate::read_sources(src.as_ref(), &mappings, opts.concurrency).await?;
    let plan_opts = PlanOptions {
        adopt: opts.adopt,
        concurrency: opts.concurrency,
        ..Default::default()
    };
    let mut plan = sync::plan(
        "migrate",
        dst.as_ref(),
        &opts.prefix_to,
        desired,
        &fpr,
        &plan_opts,
    )
    .await?;
    if fpr.is_ephemeral() {
        migrate::settle_by_value(dst.as_ref(), &mut plan, opts.concurrency).await?;
    }
    let mut out = MigrateReport {
        owner,
        mappings,
        summary: plan.summary(),
        plan,
        report: None,
        verified: None,
        api_calls: None,
        http_requests: None,
        dry_run: opts.dry_run,
        prefix_from: opts.prefix_from.clone(),
        prefix_to: opts.prefix_to.clone(),
    };
    if opts.dry_run {
        return Ok(out);
    }
    progress.start(out.plan.items.iter().filter(|i| i.is_change()).count() as u64);
    let report = sync::apply(&out.plan, dst.clone(), &fpr, opts.concurrency, &|_| {
        progress.inc()
    })
    .await;
    progress.finish();
    let verified = migrate::verify(dst.as_ref(), &out.plan, &fpr, opts.concurrency).await?;
    let count = |v: Verified| verified.iter().filter(|(_, x)| *x == v).count();
    out.verified = Some(Verification {
        equal: count(Verified::Equal),
        differs: count(Verified::Differs),
        missing: count(Verified::Missing),
        problems: verified
            .iter()
            .filter(|(_, v)| *v != Verified::Equal)
            .map(|(n, v)| Problem {
                name: n.clone(),
                result: *v,
            })
            .collect(),
    });
    out.report = Some(report);
    out.api_calls = Some(BothSides {
        source: backends::api_calls(&src_calls),
        target: backends::api_calls(&dst_calls),
    });
    out.http_requests = Some(BothSides {
        source: backends::http_requests(&src_calls),
        target: backends::http_requests(&dst_calls),
    });
    Ok(out)
}

/// The owner id of a migration without a store: `migration-` and a hash of where it copies
/// from, so a rerun from the same source owns what the earlier runs wrote.
fn migration_id(from: &str, prefix_from: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("secretsync/migration/v1\0{from}\0{prefix_from}").as_bytes());
    format!("migration-{}", hex::encode(&h[..8]))
}

/// What `import` takes.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Where the values come from.
    pub from: ImportSource,
    /// Only secrets under this prefix (stripped from the names).
    pub prefix: String,
    /// The types the values are stored for…
    pub types: Option<TypeSet>,
    /// …or the environment.
    pub env: Option<String>,
    /// Replace values the store already holds with different ones.
    pub overwrite: bool,
    /// Show what would be imported; write nothing.
    pub dry_run: bool,
    /// Calls in flight at once.
    pub concurrency: usize,
}

/// What `import` reads.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A backend URL.
    Backend(String),
    /// A dotenv file (`NAME=value` lines, quotes and `export` as dotenv has them).
    Dotenv(std::path::PathBuf),
    /// A JSON object of names to string values.
    Json(std::path::PathBuf),
}

impl ImportSource {
    /// A file's source by its name: `.json` is JSON, anything else dotenv.
    pub fn file(path: std::path::PathBuf) -> Self {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Self::Json(path)
        } else {
            Self::Dotenv(path)
        }
    }
}

/// The names and values of a dotenv file, in file order.
fn read_dotenv(p: &std::path::Path) -> Result<Vec<(String, SecretValue)>> {
    let iter =
        dotenvy::from_path_iter(p).with_context(|| format!("cannot read {}", p.display()))?;
    iter.enumerate()
                .map(|(i, item)| {
                    // dotenvy's own message quotes the line, value and all: never shown.
                    let (k, v) = item.map_err(|e| match e {
                        dotenvy::Error::LineParse(_, at) => anyhow::anyhow!(
                            "{}: entry {} is not NAME=value (at character {}; comments and blank lines are not counted)",
                            p.display(),
                            i + 1,
                            at + 1
                        ),
                        dotenvy::Error::Io(e) => {
                            anyhow::anyhow!("cannot read {}: {e}", p.display())
                        }
                        _ => anyhow::anyhow!(
                            "{}: entry {} is not NAME=value",
                            p.display(),
                            i + 1
                        ),
                    })?;
                    Ok((k, SecretValue::new(v.into_bytes())))
                })
                .collect()
}

/// The names and values of a JSON object file.
fn read_json(p: &std::path::Path) -> Result<Vec<(String, SecretValue)>> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
    );
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a JSON object of names to strings (line {}, column {})",
                p.display(),
                e.line(),
                e.column()
            )
        })?;
    map.into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k, SecretValue::new(s.into_bytes()))),
                    _ => anyhow::bail!(
                        "{}: the value of {k:?} is not a string (values are strings; put other JSON in a string)",
                        p.display()
                    ),
                })
                .collect()
}

/// A secret not imported, and why.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// The backend name.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// What `import` did (or would do).
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// The selector the values were stored under.
    pub selector: String,
    /// Names imported.
    pub imported: Vec<String>,
    /// Names whose value the store already held.
    pub unchanged: Vec<String>,
    /// Names not imported.
    pub skipped: Vec<Skipped>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// `import`: brings a backend's secrets, or a dotenv or JSON file's, into the store under one
/// selector, in one locked write.
pub async fn import(ws: &Workspace, opts: &ImportOptions) -> Result<ImportReport> {
    let cfg = ws.config()?;
    let sel = write_selector(&cfg, opts.types, opts.env.as_deref())?;
    let mut skipped = Vec::new();
    // (name in the source, secret name, value)
    let mut found: Vec<(String, SecretName, SecretValue)> = Vec::new();
    let name_of = |full: String, skipped: &mut Vec<Skipped>| {
        let rel = full.strip_prefix(&opts.prefix).unwrap_or(&full).to_string();
        match rel.parse::<SecretName>() {
            Ok(n) => Some((full, n)),
            Err(_) => {
                skipped.push(Skipped {
                    name: full,
                    reason:
                        "not a valid secret name (letters, digits, '_'; not starting with a digit)"
                            .into(),
                });
                None
            }
        }
    };
    match &opts.from {
        ImportSource::Backend(url) => {
            let (src, _) = backends::open_url(url, &ws.base_dir(), opts.concurrency).await?;
            let mut wanted: Vec<(String, SecretName)> = Vec::new();
            for m in list_all(src.as_ref(), &opts.prefix).await? {
                wanted.extend(name_of(m.name, &mut skipped));
            }
            let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
            let values = get_all(src.as_ref(), &names, opts.concurrency).await?;
            for ((full, name), value) in wanted.into_iter().zip(values) {
                if let Some(s) = value {
                    found.push((full, name, s.value));
                }
            }
        }
        ImportSource::Dotenv(p) | ImportSource::Json(p) => {
            let pairs = if matches!(opts.from, ImportSource::Json(_)) {
                read_json(p)?
            } else {
                read_dotenv(p)?
            };
            for (k, v) in pairs
                .into_iter()
                .filter(|(k, _)| k.starts_with(&opts.prefix))
            {
                if let Some((full, name)) = name_of(k, &mut skipped) {
                    found.push((full, name, v));
                }
            }
        }
    }
    let mut w = ws.writer(&cfg).await?;
    let (mut imported, mut unchanged) = (Vec::new(), Vec::new());
    for (full, name, value) in found {
        // A value this user cannot open (another scope's) counts as different.
        let existing = match w.get_exact(&name, &sel) {
            Ok(v) => v.map(Some),
            Err(crate::store::StoreError::ScopeLocked { .. }) => Some(None),
            Err(e) => return Err(e.into()),
        };
        match existing {
            Some(Some(v)) if v == value => unchanged.push(name.to_string()),
            Some(_) if !opts.overwrite => skipped.push(Skipped {
                name: full,
                reason: format!("the store holds another value for {sel}; --overwrite replaces it"),
            }),
            _ => {
                w.set(&name, &sel, value, None)?;
                imported.push(name.to_string());
            }
        }
    }
    if !opts.dry_run {
        w.commit()?;
    }
    Ok(ImportReport {
        selector: sel.to_string(),
        imported,
        unchanged,
        skipped,
        dry_run: opts.dry_run,
    })
}
