//! Preview environments' end: the instances of a template this store made, found from a
//! backend's listing and their labels (no value read), and the plan that deletes the secrets of
//! those not kept. Tearing down one instance is an ordinary plan with nothing desired and
//! `--prune` ([`super::plan`]).

use super::fingerprint::{self, Fingerprinter};
use super::plan::{Action, DriftPolicy, Plan, PlanError, PlanItem};
use secretsync_core::{list_all, SecretBackend};
use serde::Serialize;
use std::collections::BTreeMap;

/// One instance of a template, as the backend's labels show it.
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// How it is named: `TEMPLATE:ID` (the id as its label has it: itself when lowercase, a
    /// hash otherwise).
    pub instance: String,
    /// Its environment label (what it owns its secrets by).
    #[serde(skip)]
    pub env_label: String,
    /// Its newest write (Unix seconds), when its secrets carry one.
    pub applied: Option<u64>,
    /// Its secrets' names in the backend, sorted.
    pub secrets: Vec<String>,
}

/// The instances of `template` this store wrote under `root` (the template's prefix up to
/// `{id}`), from one listing: no value is read, and secrets of other stores, of other
/// templates or written by hand are not any instance's.
pub async fn instances(
    backend: &dyn SecretBackend,
    root: &str,
    fpr: &Fingerprinter,
    template: &str,
) -> Result<Vec<Instance>, PlanError> {
    let listed = list_all(backend, root).await?;
    fpr.continuity(listed.iter())
        .map_err(|source| PlanError::Continuity {
            backend: backend.info().to_string(),
            source,
        })?;
    let mut by_label: BTreeMap<String, Instance> = BTreeMap::new();
    for meta in &listed {
        let Some(label) = fpr.instance_of(meta, template) else {
            continue;
        };
        let i = by_label
            .entry(label.to_string())
            .or_insert_with(|| Instance {
                instance: format!(
                    "{template}:{}",
                    meta.labels
                        .get(fingerprint::INSTANCE_LABEL)
                        .map_or(label, String::as_str)
                ),
                env_label: label.to_string(),
                applied: None,
                secrets: Vec::new(),
            });
        i.applied = i.applied.max(fingerprint::applied(meta));
        i.secrets.push(meta.name.clone());
    }
    let mut out: Vec<Instance> = by_label.into_values().collect();
    for i in &mut out {
        i.secrets.sort();
    }
    out.sort_by(|a, b| a.instance.cmp(&b.instance));
    Ok(out)
}

/// The plan that deletes the secrets of `remove` (each with why), as environment `env` on
/// `backend` under `root`; more than `max_deletes` deletions refuses them all.
pub fn deletion_plan(
    env: &str,
    backend: &dyn SecretBackend,
    root: &str,
    remove: &[(Instance, String)],
    max_deletes: usize,
) -> Plan {
    let mut items: Vec<PlanItem> = remove
        .iter()
        .flat_map(|(i, why)| {
            i.secrets.iter().map(move |name| PlanItem {
                name: name.clone(),
                secret: None,
                action: Action::Delete,
                reason: format!("{}: {why}", i.instance),
                blocked: false,
                placement: None,
                fp: None,
                token: None,
                expected_version: None,
                label_fp: None,
                value: None,
            })
        })
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let delete_refusal = (items.len() > max_deletes).then(|| {
        let why = format!(
            "{} deletions exceed --max-deletes {max_deletes}; none will be made (raise the cap to proceed)",
            items.len()
        );
        for i in &mut items {
            i.blocked = true;
            i.reason = format!("{}; {why}", i.reason);
        }
        why
    });
    Plan {
        env: env.into(),
        backend: backend.info().to_string(),
        prefix: root.into(),
        items,
        drift_unchecked: false,
        delete_refusal,
        on_drift: DriftPolicy::Report,
        delete_mode: secretsync_core::DeleteMode::Default,
    }
}
