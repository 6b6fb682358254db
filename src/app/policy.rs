//! `policy`: the exact permissions a job needs, written from the backends' permission tables
//! and `secretsync.toml`, without connecting to anything.

use super::Workspace;
use crate::config::Config;
use crate::scheme::Scheme;
use anyhow::{bail, Context, Result};
use secretsync_core::permissions::{Job, KeyPolicy, Policy, PolicyScope};
use serde::Serialize;

/// What `policy` is asked for.
#[derive(Debug, Clone)]
pub enum PolicyFor {
    /// A job on an environment's backend.
    Job {
        /// The environment (a template: every instance).
        env: String,
        /// The job.
        job: Job,
        /// With `--verify`'s value reads.
        verify: bool,
        /// Deletes without a recovery window (`teardown --force-delete`).
        force_delete: bool,
    },
    /// Opening a scope of the store: its KMS recipients' decrypt permission.
    Open {
        /// The scope.
        scope: String,
        /// Only this recipient, when the scope has several KMS recipients.
        recipient: Option<String>,
    },
}

/// The policy of a job on an environment's backend.
#[derive(Debug, Serialize)]
pub struct JobPolicy {
    /// The environment.
    pub env: String,
    /// Its backend URL.
    pub backend: String,
    /// The job.
    pub job: Job,
    /// With `--verify`'s value reads.
    pub verify: bool,
    /// The environment's prefix, which the policy is scoped to.
    pub prefix: String,
    /// The document, its language (`none` for a backend that needs no grant, with a `null`
    /// document), GCP's condition and the notes for people.
    #[serde(flatten)]
    pub policy: Policy,
}

/// The policies that open a scope of the store.
#[derive(Debug, Serialize)]
pub struct OpenPolicy {
    /// The scope.
    pub scope: String,
    /// Always `open`.
    pub job: &'static str,
    /// One per KMS recipient of the scope (empty when only age keys open it).
    pub recipients: Vec<KeyPolicy>,
    /// For people.
    pub notes: Vec<String>,
}

/// What `policy` wrote.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum PolicyReport {
    /// For a job on an environment.
    Job(JobPolicy),
    /// For opening a scope.
    Open(OpenPolicy),
}

/// `policy`: the document `what` needs.
pub fn policy(ws: &Workspace, what: &PolicyFor) -> Result<PolicyReport> {
    let cfg = ws.config()?;
    match what {
        PolicyFor::Job {
            env,
            job,
            verify,
            force_delete,
        } => job_policy(ws, &cfg, env, *job, *verify, *force_delete).map(PolicyReport::Job),
        PolicyFor::Open { scope, recipient } => {
            open_policy(ws, &cfg, scope, recipient.as_deref()).map(PolicyReport::Open)
        }
    }
}

fn job_policy(
    ws: &Workspace,
    cfg: &Config,
    env: &str,
    job: Job,
    verify: bool,
    force_delete: bool,
) -> Result<JobPolicy> {
    // A template's policy covers every instance: its prefix up to {id}.
    let template = cfg
        .environments
        .iter()
        .find(|(n, e)| n.as_str() == env && e.is_template());
    let (name, e, prefix) = match template {
        Some((n, e)) => {
            if e.backend
                .as_deref()
                .is_some_and(|b| b.contains(crate::config::ID_SLOT))
            {
                bail!("the instances of {n} live at different backend URLs ({{id}} is in its URL): write the policy of one (--env {n}:ID), or move {{id}} into the prefix");
            }
            (n.clone(), e.clone(), e.prefix_root().to_string())
        }
        None => {
            let crate::model::EnvRef::Declared(name, _) = cfg.env(env)? else {
                bail!("{env} is an implicit environment with no backend: a policy is written for a declared environment ([environments.NAME] with a backend in {})", cfg.path.display());
            };
            if job == Job::Teardown && name.instance_parts().is_none() {
                bail!("teardown is for preview environments: write its policy for a template (--env TEMPLATE) or an instance (--env TEMPLATE:ID)");
            }
            let e = cfg
                .environment(&name)
                .with_context(|| format!("environment {name} is not declared"))?;
            let prefix = e.prefix.clone().unwrap_or_default();
            (name, e, prefix)
        }
    };
    let e = &e;
    let url = e.backend.as_deref().with_context(|| {
        format!(
            "environment {name} has no backend: add `backend = \"…\"` under [environments.{name}]"
        )
    })?;
    // The store id, for the ownership conditions on deletes (read without opening anything).
    let store = ws.store(cfg)?;
    let scope = PolicyScope {
        job,
        verify,
        env: name.as_str(),
        prefix: &prefix,
        store_id: Some(store.id()),
        force_delete,
    };
    let (scheme, _) = Scheme::of_url(url).map_err(anyhow::Error::msg)?;
    let policy = scheme
        .policy(url, &scope)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("the backend of {name}"))?;
    let policy = match policy {
        Some(p) if !p.granted.is_empty() => p,
        Some(_) => Policy::nothing(format!(
            "nothing to grant: `{job}` sends {}:// no request",
            scheme.as_str()
        )),
        None => Policy::nothing(format!("nothing to grant: {url} is a local file; secretsync needs to read and write it (0600) and its folder, as the user it runs as")),
    };
    Ok(JobPolicy {
        env: name.to_string(),
        backend: url.into(),
        job,
        verify,
        prefix,
        policy,
    })
}

fn open_policy(
    ws: &Workspace,
    cfg: &Config,
    scope: &str,
    only: Option<&str>,
) -> Result<OpenPolicy> {
    let store = ws.store(cfg)?;
    let scopes: Vec<String> = store.layout().names().map(str::to_string).collect();
    if !scopes.iter().any(|s| s == scope) {
        bail!(
            "the store has no scope {scope:?}: its scopes are {} (see `secretsync key list`)",
            scopes.join(", ")
        );
    }
    let recipients = store.scope_recipients(scope);
    if let Some(r) = only {
        if !recipients.iter().any(|x| x == r) {
            bail!(
                "{r} is not a recipient of scope {scope}: its recipients are {}",
                recipients.join(", ")
            );
        }
    }
    #[cfg_attr(not(any(feature = "aws", feature = "gcp")), allow(unused_mut))]
    let mut out = Vec::new();
    for r in recipients
        .iter()
        .filter(|r| only.is_none_or(|o| o == r.as_str()))
    {
        if let Some(key) = r.strip_prefix("aws-kms:") {
            #[cfg(feature = "aws")]
            out.push(KeyPolicy {
                recipient: r.clone(),
                policy: secretsync_aws::kms::open_policy(key, store.id(), scope),
            });
            #[cfg(not(feature = "aws"))]
            bail!("aws-kms recipients are not built into this secretsync (build with --features aws): {key}");
        } else if let Some(key) = r.strip_prefix("gcp-kms:") {
            #[cfg(feature = "gcp")]
            out.push(KeyPolicy {
                recipient: r.clone(),
                policy: secretsync_gcp::kms::open_policy(key, scope),
            });
            #[cfg(not(feature = "gcp"))]
            bail!("gcp-kms recipients are not built into this secretsync (build with --features gcp): {key}");
        }
    }
    let mut notes = Vec::new();
    if out.is_empty() {
        notes.push(format!(
            "nothing to grant: scope {scope} is opened by age keys only ({}); a KMS key added with `secretsync key add aws-kms:ARN --scope {scope}` (or gcp-kms:…) is opened by a cloud permission, which this command then writes",
            recipients.join(", ")
        ));
    }
    Ok(OpenPolicy {
        scope: scope.into(),
        job: "open",
        recipients: out,
        notes,
    })
}
