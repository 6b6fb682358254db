//! The use cases, one function each, under the CLI and the dashboard: plain option structs in,
//! typed `Serialize` reports out. Nothing here parses arguments or prints; nothing here imports
//! the CLI. Arrows point down: `cli` → `app` → `sync`, `store`, `declare`, `config`, `registry`
//! → `backends/core` and `model`.

pub mod backends;
pub mod init;
pub mod inject;
pub mod keys;
pub mod merge;
pub mod migrate;
pub mod overview;
pub mod policy;
pub mod reconcile;
pub mod secrets;
pub mod sync;
pub mod teardown;
mod workspace;

pub use workspace::Workspace;

use crate::config::Config;
use crate::model::{EnvRef, Selector, TypeSet};
use anyhow::Result;

/// What a write applies to: the types given, or an environment (its override when declared,
/// its type's value for an implicit one).
pub fn write_selector(cfg: &Config, types: Option<TypeSet>, env: Option<&str>) -> Result<Selector> {
    if let Some(e) = env {
        let template = e.split(':').next().unwrap_or(e);
        if let Some((_, t)) = cfg
            .environments
            .iter()
            .find(|(n, d)| n.as_str() == template && d.is_template())
        {
            anyhow::bail!(
                "{e} is {} template {template}: its instances take the {} type's values, which every instance shares; set them with --type {}",
                if e.contains(':') { "an instance of" } else { "the" },
                t.env_type,
                t.env_type
            );
        }
    }
    Ok(match (types, env) {
        (Some(t), _) => Selector::Types(t),
        (None, Some(e)) => match cfg.env(e)? {
            EnvRef::Implicit(t) => Selector::Types(TypeSet::of([t])),
            EnvRef::Declared(n, _) => Selector::Env(n),
        },
        (None, None) => anyhow::bail!("give the types (--type) or an environment (--env)"),
    })
}

/// The causes of `e` worth showing: ours always; what a cloud SDK or library says below a
/// backend error (a credential chain's every attempt, connector internals) only when `verbose`
/// (`-v`), since the backend error already says what happened and what to do.
pub fn causes(e: &anyhow::Error, verbose: bool) -> Vec<String> {
    // A backend error, also when a plan error wraps it transparently.
    let is_backend = |c: &(dyn std::error::Error + 'static)| {
        c.is::<secretsync_core::BackendError>()
            || matches!(
                c.downcast_ref::<crate::sync::PlanError>(),
                Some(crate::sync::PlanError::Backend(_))
            )
    };
    let mut out = Vec::new();
    let mut below_backend = false;
    for (i, cause) in e.chain().enumerate() {
        if i > 0 {
            if below_backend && !verbose {
                out.push("(-v shows what the SDK said)".into());
                break;
            }
            out.push(cause.to_string());
        }
        below_backend |= is_backend(cause);
    }
    out
}

/// `e` and its causes on one line, as reports carry it (SDK detail left out; see [`causes`]).
pub fn error_line(e: &anyhow::Error) -> String {
    std::iter::once(e.to_string())
        .chain(
            causes(e, false)
                .into_iter()
                .filter(|c| !c.starts_with("(-v")),
        )
        .collect::<Vec<_>>()
        .join(": ")
}

/// What a refusal points at: the command that prints the policy `job` needs on `env`.
pub fn policy_hint(env: &str, job: secretsync_core::permissions::Job, verify: bool) -> String {
    let verify = if verify && job != secretsync_core::permissions::Job::Reconcile {
        " --verify"
    } else {
        ""
    };
    format!("the credentials lack a permission: `secretsync policy --env {env} --for {job}{verify}` prints the policy {job} needs")
}

/// True when a backend refused `e`'s call for lack of a permission.
pub fn is_refusal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let backend = c.downcast_ref::<secretsync_core::BackendError>().or(
            match c.downcast_ref::<crate::sync::PlanError>() {
                Some(crate::sync::PlanError::Backend(b)) => Some(b),
                _ => None,
            },
        );
        backend.is_some_and(|b| b.kind == secretsync_core::ErrorKind::PermissionDenied)
    })
}

/// `e` on one line (see [`error_line`]), with `hint` when a backend refused it.
pub fn error_line_hinted(e: &anyhow::Error, hint: impl FnOnce() -> String) -> String {
    let line = error_line(e);
    if is_refusal(e) {
        format!("{line}; {}", hint())
    } else {
        line
    }
}

/// Reports progress of long item-by-item work (a progress bar on a terminal; nothing elsewhere).
pub trait Progress: Sync {
    /// Work of `total` items starts.
    fn start(&self, _total: u64) {}
    /// One item ended.
    fn inc(&self) {}
    /// The work ended.
    fn finish(&self) {}
}

/// No progress reporting.
pub struct NoProgress;
impl Progress for NoProgress {}
