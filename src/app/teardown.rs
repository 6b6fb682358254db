//! `teardown`: the end of preview environments. `--env pr:ID` deletes every secret that
//! instance owns; `--env pr` with `--keep` or `--older-than` finds every instance of the
//! template this store made and tears down those not kept.

use super::backends::{self, EnvBackend};
use super::sync::{ApplyOutcome, EnvApply};
use super::Workspace;
use crate::config::{Config, Environment};
use crate::model::{EnvName, EnvRef};
use crate::sync::fingerprint::{env_label, unix_now};
use crate::sync::plan::age_text;
use crate::sync::teardown::{deletion_plan, instances};
use crate::sync::{self, Fingerprinter, Plan, PlanOptions};
use anyhow::{bail, Context, Result};
use secretsync_core::permissions::Job;
use secretsync_core::DeleteMode;
use serde::Serialize;
use std::time::Duration;

/// What `teardown` takes.
#[derive(Debug, Clone, Default)]
pub struct TeardownOptions {
    /// An instance (`pr:7`), or a template (`pr`) to collect the garbage of.
    pub env: String,
    /// With a template: the ids of the instances to keep.
    pub keep: Vec<String>,
    /// With a template: keep the instances written within this long.
    pub older_than: Option<Duration>,
    /// Most deletions; more refuses them all.
    pub max_deletes: usize,
    /// Delete without the recovery window where the backend has one (AWS) and destroy every
    /// version (Vault).
    pub force_delete: bool,
    /// Deletes in flight at once.
    pub concurrency: usize,
}

/// An instance left in place.
#[derive(Debug, Serialize)]
pub struct Kept {
    /// `TEMPLATE:ID`.
    pub instance: String,
    /// Its newest write (Unix seconds), when known.
    pub applied: Option<u64>,
    /// How many secrets it has.
    pub secrets: usize,
}

/// A teardown, planned and not yet done (the CLI asks before doing it on a terminal).
pub struct Planned {
    plan: Plan,
    target: EnvBackend,
    fpr: Fingerprinter,
    kept: Vec<Kept>,
    job_env: String,
}

impl Planned {
    /// The plan: its deletes, and what it refuses.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// What `teardown` did: `apply`'s outcome, with the instances a collection kept.
#[derive(Debug, Serialize)]
pub struct TeardownOutcome {
    /// The instance (or, collecting, the template) and how each deletion ended.
    #[serde(flatten)]
    pub outcome: ApplyOutcome,
    /// The instances a collection kept (none for one instance).
    pub kept: Vec<Kept>,
    /// The backend calls made, for metrics.
    #[serde(skip)]
    pub calls: Vec<(secretsync_core::calls::CallKey, u64)>,
}

/// The template `name`, with its declaration.
fn template<'c>(cfg: &'c Config, name: &str) -> Option<(&'c EnvName, &'c Environment)> {
    cfg.environments
        .iter()
        .find(|(n, e)| n.as_str() == name && e.is_template())
}

/// Plans the teardown `opts` asks for; nothing is deleted yet.
pub async fn plan(ws: &Workspace, opts: &TeardownOptions) -> Result<Planned> {
    let cfg = ws.config()?;
    let store = ws.unlocked(&cfg).await?;
    if let Some((tname, t)) = template(&cfg, &opts.env) {
        return collect(&cfg, &store, tname, t, opts).await;
    }
    if !opts.keep.is_empty() || opts.older_than.is_some() {
        bail!("--keep and --older-than go with a template (`--env pr`), whose instances they choose from; `--env {}` tears down one instance", opts.env);
    }
    let env = cfg.env(&opts.env)?;
    let EnvRef::Declared(name, t) = &env else {
        bail!("{} is an implicit environment with nothing to tear down: teardown is for instances of templates (--env TEMPLATE:ID)", opts.env);
    };
    if name.instance_parts().is_none() {
        bail!("{name} is not an instance of a template: teardown deletes what a preview environment (--env TEMPLATE:ID) owns; to remove a declared environment's secrets, delete them from the store and `apply --env {name} --prune`");
    }
    // Ownership and the key history are checked as for any plan: the instance's scope is open.
    let fpr = Fingerprinter::of(&store, *t)?;
    let target = backends::open(&cfg, &env, opts.concurrency).await?;
    let plan_opts = PlanOptions {
        prune: true,
        max_deletes: opts.max_deletes,
        concurrency: opts.concurrency,
        ..PlanOptions::default()
    };
    let mut plan = sync::plan(
        name.as_str(),
        target.backend.as_ref(),
        &target.prefix,
        Vec::new(),
        &fpr,
        &plan_opts,
    )
    .await?;
    plan.delete_mode = delete_mode(opts);
    Ok(Planned {
        plan,
        target,
        fpr,
        kept: Vec::new(),
        job_env: name.to_string(),
    })
}

fn delete_mode(opts: &TeardownOptions) -> DeleteMode {
    if opts.force_delete {
        DeleteMode::Force
    } else {
        DeleteMode::Default
    }
}

/// The garbage collection of template `tname`: its instances, those kept, the plan deleting
/// the others' secrets.
async fn collect(
    cfg: &Config,
    store: &crate::store::Unlocked,
    tname: &EnvName,
    t: &Environment,
    opts: &TeardownOptions,
) -> Result<Planned> {
    if opts.keep.is_empty() && opts.older_than.is_none() {
        bail!("`teardown --env {tname}` removes every instance of the template but those it keeps: give --keep ID[,ID…] (the open pull requests) and/or --older-than AGE (e.g. 14d); --env {tname}:ID tears down one");
    }
    if t.backend
        .as_deref()
        .is_some_and(|b| b.contains(crate::config::ID_SLOT))
    {
        bail!("the instances of {tname} live at different backend URLs ({{id}} is in its URL), so they cannot be found from one listing: tear them down one by one (`--env {tname}:ID`), or move {{id}} into the prefix");
    }
    let keep: Vec<String> = opts
        .keep
        .iter()
        .map(|id| Ok(env_label(EnvName::instance(tname, id)?.as_str())))
        .collect::<Result<_, crate::model::InvalidInput>>()
        .map_err(|e| anyhow::anyhow!(e.0))?;
    let fpr = Fingerprinter::of(store, t.env_type)?;
    let target = backends::open_environment(cfg, tname.as_str(), t, opts.concurrency)
        .await
        .with_context(|| format!("cannot open the backend of {tname}"))?;
    let root = t.prefix_root().to_string();
    let found = instances(target.backend.as_ref(), &root, &fpr, tname.as_str()).await?;
    let now = unix_now();
    let (mut remove, mut kept) = (Vec::new(), Vec::new());
    for i in found {
        let by_id = keep.contains(&i.env_label);
        let recent = opts
            .older_than
            .zip(i.applied)
            .is_some_and(|(d, at)| now.saturating_sub(at) < d.as_secs());
        if by_id || recent {
            kept.push(Kept {
                instance: i.instance.clone(),
                applied: i.applied,
                secrets: i.secrets.len(),
            });
            continue;
        }
        let why = match (i.applied, opts.older_than) {
            (Some(at), Some(d)) => format!(
                "written {} ago (--older-than {})",
                age_text(now.saturating_sub(at)),
                age_text(d.as_secs())
            ),
            (None, Some(_)) => "its secrets carry no write time".into(),
            _ => "not kept (--keep)".into(),
        };
        remove.push((i, why));
    }
    let mut plan = deletion_plan(
        tname.as_str(),
        target.backend.as_ref(),
        &root,
        &remove,
        opts.max_deletes,
    );
    plan.delete_mode = delete_mode(opts);
    Ok(Planned {
        plan,
        target,
        fpr,
        kept,
        job_env: tname.to_string(),
    })
}

/// Does the teardown `planned`.
pub async fn apply(planned: Planned, concurrency: usize) -> TeardownOutcome {
    let Planned {
        plan,
        target,
        fpr,
        kept,
        job_env,
    } = planned;
    let mut report = sync::apply(&plan, target.backend.clone(), &fpr, concurrency, &|_| {}).await;
    report.hint_refusals(&super::policy_hint(&job_env, Job::Teardown, false));
    let env = EnvApply {
        summary: plan.summary(),
        plan,
        report,
        missing_declared: Vec::new(),
        api_calls: backends::api_calls(&target.counter),
        http_requests: backends::http_requests(&target.counter),
        warnings: Vec::new(),
    };
    TeardownOutcome {
        outcome: ApplyOutcome::new(vec![env], Vec::new()),
        kept,
        calls: target.counter.snapshot().into_iter().collect(),
    }
}

/// Plans and does a teardown (no question asked): `reconcile`'s collections and the
/// dashboard.
pub async fn teardown(ws: &Workspace, opts: &TeardownOptions) -> Result<TeardownOutcome> {
    let planned = plan(ws, opts).await?;
    Ok(apply(planned, opts.concurrency).await)
}
