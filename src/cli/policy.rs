//! `secretsync policy`: the permissions a job needs, as the backend's own policy document.

use super::{Ctx, Outcome};
use crate::app::{self, policy::PolicyFor, policy::PolicyReport};
use anyhow::{bail, Result};
use clap::Args;
use secretsync_core::permissions::Job;

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The environment whose backend the policy is for (not with `--for open`).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// The job: plan, apply, reconcile, restore or teardown; or `open SCOPE`, the KMS permission that
    /// opens a scope of the store.
    #[arg(long = "for", value_name = "JOB", num_args = 1..=2, required = true)]
    pub job: Vec<String>,
    /// Add the value reads of `--verify` and `--on-drift adopt` (reconcile has them).
    #[arg(long)]
    pub verify: bool,
    /// With `--for teardown`: deletes that skip the recovery window (`teardown
    /// --force-delete`).
    #[arg(long)]
    pub force_delete: bool,
    /// With `--for open`: only this recipient of the scope.
    #[arg(long, value_name = "ID")]
    pub recipient: Option<String>,
}

impl PolicyArgs {
    fn what(&self) -> Result<PolicyFor> {
        match (self.job.as_slice(), &self.env) {
            ([open, scope], None) if open == "open" => Ok(PolicyFor::Open {
                scope: scope.clone(),
                recipient: self.recipient.clone(),
            }),
            ([open], _) if open == "open" => {
                bail!("`--for open` names the scope to open: e.g. `secretsync policy --for open production`")
            }
            ([open, _], Some(_)) if open == "open" => {
                bail!("`--for open SCOPE` is about the store's keys, not an environment: leave out --env")
            }
            ([job], Some(env)) => {
                if self.recipient.is_some() {
                    bail!("--recipient goes with `--for open SCOPE`");
                }
                Ok(PolicyFor::Job {
                    env: env.clone(),
                    job: job.parse::<Job>().map_err(anyhow::Error::msg)?,
                    verify: self.verify,
                    force_delete: self.force_delete,
                })
            }
            ([job], None) => bail!(
                "name the environment the {job} policy is for: `secretsync policy --env ENV --for {job}`"
            ),
            (more, _) => bail!(
                "--for takes one job (plan, apply, reconcile, restore, teardown) or `open SCOPE`, not {:?}",
                more.join(" ")
            ),
        }
    }
}

pub async fn run(ctx: &Ctx, args: PolicyArgs) -> Result<Outcome> {
    let report = app::policy::policy(&ctx.ws, &args.what()?)?;
    if !ctx.out.json {
        let notes = match &report {
            PolicyReport::Job(p) if !p.policy.is_nothing() => p.policy.notes.clone(),
            PolicyReport::Job(_) => Vec::new(),
            PolicyReport::Open(o) => o
                .recipients
                .iter()
                .flat_map(|r| r.policy.notes.clone())
                .collect(),
        };
        for n in notes {
            ctx.out.note(&format!("note: {n}"));
        }
        if let PolicyReport::Open(o) = &report {
            if o.recipients.len() > 1 {
                bail!(
                    "scope {} has {} KMS recipients ({}): add --recipient ID for one of their documents, or --json for all",
                    o.scope,
                    o.recipients.len(),
                    o.recipients.iter().map(|r| r.recipient.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    ctx.out.report(&report)?;
    Ok(Outcome::Ok)
}
