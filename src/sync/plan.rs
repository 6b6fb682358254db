//! Planning: the difference between the canonical values for an environment and what its backend
//! holds, decided from list metadata alone (values are read only with `--verify`, or to adopt
//! drift into the store).

use super::fingerprint::{label_fp, ContinuityError, Fingerprinter, Owner};
use futures::{StreamExt, TryStreamExt};
use secretsync_core::{list_all, BackendError, SecretBackend, SecretMeta, SecretValue};
use serde::Serialize;
use std::collections::BTreeMap;

/// What to do about one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Absent from the backend: write it.
    Create,
    /// Ours, and its value (or only its labels) must change.
    Update,
    /// Ours and equal.
    Unchanged,
    /// Ours, gone from the canonical set, and `--prune` was given.
    Delete,
    /// Ours and gone from the canonical set; left alone without `--prune`.
    Orphan,
    /// A same-named secret that is not ours: taken over only with `--adopt`.
    Adopt,
    /// Ours, but changed outside secretsync since we wrote it.
    Drift,
}

impl Action {
    /// The one-character mark of the human plan and apply report; a refusal (other than drift,
    /// which keeps its own mark) is `×` wherever it is shown.
    pub fn mark(self, blocked: bool) -> char {
        match self {
            _ if blocked && self != Action::Drift => '×',
            Action::Create => '+',
            Action::Update => '~',
            Action::Unchanged => '=',
            Action::Delete => '-',
            Action::Orphan => '.',
            Action::Adopt => '?',
            Action::Drift => '!',
        }
    }
}

/// The legend of the marks, for people.
pub const LEGEND: &str =
    "+ create  ~ update  - delete  ? adopt  ! drift  . orphan  × refused (needs you)";

/// What to do when a managed secret drifted. (Not to be confused with [`Action::Adopt`], which
/// takes over a secret secretsync did not write; the CLI and JSON call `Accept` "adopt".)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftPolicy {
    /// Leave it, report it, exit 2.
    #[default]
    Report,
    /// Write the canonical value back.
    Revert,
    /// Accept the backend's value: take it into the canonical store.
    #[serde(rename = "adopt")]
    Accept,
}

/// Planning options.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Delete managed secrets that are gone from the canonical set.
    pub prune: bool,
    /// Most deletions allowed; more refuses every deletion.
    pub max_deletes: usize,
    /// Take over same-named secrets that are not ours.
    pub adopt: bool,
    /// Read managed values to compare (also catches a value changed with its labels kept).
    pub verify: bool,
    /// For backends whose listing shows no versions: read each managed secret's metadata (not
    /// its value) to compare versions.
    pub check_drift: bool,
    /// What to do with drift.
    pub on_drift: DriftPolicy,
    /// Reads in flight at once (for `--verify`).
    pub concurrency: usize,
    /// For an instance of a template: when none of its secrets was written within this long,
    /// one is written again (the same value) so that its applied label says the instance is in
    /// use (`teardown --older-than` goes by it).
    pub refresh_after: Option<std::time::Duration>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            prune: false,
            max_deletes: 10,
            adopt: false,
            verify: false,
            check_drift: false,
            on_drift: DriftPolicy::Report,
            concurrency: 8,
            refresh_after: None,
        }
    }
}

/// One line of a plan. The value is held for the write and never shown.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    /// The name in the backend.
    pub name: String,
    /// The name relative to the prefix (the canonical secret's name), when it is desired.
    pub secret: Option<String>,
    /// What to do.
    pub action: Action,
    /// Why, for people.
    pub reason: String,
    /// Not done: adopt without `--adopt`, drift under `report`, deletions over the cap,
    /// placement drift (secretsync sets placement at create only).
    pub blocked: bool,
    /// How the secret's placement (replica regions, replication locations) differs from what
    /// the backend URL asks for, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<String>,
    /// The fingerprint of the value to write.
    #[serde(skip)]
    pub fp: Option<String>,
    /// The write's idempotency token.
    #[serde(skip)]
    pub token: Option<String>,
    /// The version the write expects to replace (where the backend can check it).
    #[serde(skip)]
    pub expected_version: Option<String>,
    /// The fingerprint label found in the backend.
    #[serde(skip)]
    pub label_fp: Option<String>,
    /// The value to write (or, for drift adopted into the store, the backend's value).
    #[serde(skip)]
    pub value: Option<SecretValue>,
}

impl PlanItem {
    /// True when applying it writes or deletes something.
    pub fn is_change(&self) -> bool {
        !self.blocked
            && matches!(
                self.action,
                Action::Create | Action::Update | Action::Delete | Action::Adopt | Action::Drift
            )
    }
}

/// A plan for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The environment.
    pub env: String,
    /// The backend, as `scheme://target`.
    pub backend: String,
    /// The name prefix in the backend.
    pub prefix: String,
    /// Every secret considered, sorted by backend name.
    pub items: Vec<PlanItem>,
    /// Drift is not detectable from this backend's listing and `--verify` was not given.
    pub drift_unchecked: bool,
    /// Why deletions were refused, if they were.
    pub delete_refusal: Option<String>,
    /// The drift policy the plan was made under.
    pub on_drift: DriftPolicy,
    /// How its deletes delete (`teardown --force-delete`: without the recovery window).
    #[serde(skip)]
    pub delete_mode: secretsync_core::DeleteMode,
}

/// Counts of a plan's actions: each item counts once, under its action; `blocked` counts the
/// refusals that are not drift (an adoption without `--adopt`, deletions over the cap), so a
/// drifted item is one drifted item, not also one refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub orphan: usize,
    pub adopt: usize,
    pub drift: usize,
    pub blocked: usize,
}

impl Plan {
    /// How many of each action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for i in &self.items {
            *match i.action {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Delete => &mut s.delete,
                Action::Unchanged => &mut s.unchanged,
                Action::Orphan => &mut s.orphan,
                Action::Adopt => &mut s.adopt,
                Action::Drift => &mut s.drift,
            } += 1;
            s.blocked += usize::from(i.blocked && i.action != Action::Drift);
        }
        s
    }

    /// True when applying would change something, or something needs attention (drift,
    /// refusals): the `--detailed-exitcode` 2.
    pub fn has_changes(&self) -> bool {
        self.items.iter().any(|i| i.is_change() || i.blocked)
    }
}

/// Why planning failed before it could look at every secret.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{backend} does not accept these names: {}", .names.join("; "))]
    InvalidNames { backend: String, names: Vec<String> },
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("refusing to sync into {backend}: {source}")]
    Continuity {
        backend: String,
        #[source]
        source: ContinuityError,
    },
}

/// Plans environment `env` whose canonical values are `desired`, replicated under `prefix`.
#[tracing::instrument(name = "plan", skip_all, fields(env = %env, backend = %backend.info()))]
pub async fn plan(
    env: &str,
    backend: &dyn SecretBackend,
    prefix: &str,
    desired: Vec<(String, SecretValue)>,
    fpr: &Fingerprinter,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let fpr = &fpr.for_env(env);
    let caps = backend.capabilities();
    let info = backend.info();
    let bad: Vec<String> = desired
        .iter()
        .filter_map(|(n, _)| {
            caps.names
                .check(&format!("{prefix}{n}"))
                .err()
                .map(|e| format!("{prefix}{n}: {e}"))
        })
        .collect();
    if !bad.is_empty() {
        return Err(PlanError::InvalidNames {
            backend: info.to_string(),
            names: bad,
        });
    }

    let mut listed: BTreeMap<String, SecretMeta> = list_all(backend, prefix)
        .await?
        .into_iter()
        .map(|m| (m.name.clone(), m))
        .collect();
    fpr.continuity(listed.values())
        .map_err(|source| PlanError::Continuity {
            backend: info.to_string(),
            source,
        })?;
    if opts.check_drift && !caps.version_in_list {
        fill_versions(backend, &mut listed, fpr, opts.concurrency).await?;
    }
    // An instance's newest write, and whether it has a secret written before the label was.
    let last_applied = fpr.is_instance().then(|| {
        let ours = listed.values().filter(|m| fpr.owner(m) == Owner::Us);
        ours.map(|m| super::fingerprint::applied(m).unwrap_or(0))
            .max()
    });
    let mut items = Vec::with_capacity(desired.len());
    for (secret, value) in desired {
        let name = format!("{prefix}{secret}");
        let fp = fpr.fingerprint(&name, &value);
        let item = PlanItem {
            name: name.clone(),
            secret: Some(secret),
            action: Action::Create,
            reason: String::new(),
            blocked: false,
            placement: None,
            fp: Some(fp.clone()),
            // Made at the end, for the items that write (a random nonce and a MAC each).
            token: None,
            expected_version: None,
            label_fp: None,
            value: Some(value),
        };
        let meta = listed.remove(&name);
        items.push(classify(
            item,
            meta.as_ref(),
            fpr,
            opts,
            &fp,
            caps.if_version,
        ));
    }
    // What is left in the listing is not in the canonical set: ours may be pruned.
    // Only this environment's own secrets: never another environment's, even on a shared or
    // nested prefix, and never one written before secretsync recorded the environment.
    for meta in listed.into_values() {
        let (action, reason) = match fpr.owner(&meta) {
            Owner::Us if opts.prune => (Action::Delete, "managed by this environment, no longer in the store"),
            Owner::Us => (Action::Orphan, "managed by this environment, no longer in the store (--prune deletes it)"),
            Owner::Legacy => (Action::Orphan, "written by this store before secretsync recorded environments, so never pruned; delete it by hand if no environment uses it"),
            _ => continue,
        };
        items.push(PlanItem {
            name: meta.name.clone(),
            secret: None,
            action,
            reason: reason.into(),
            blocked: false,
            placement: None,
            fp: None,
            token: None,
            expected_version: None,
            label_fp: label_fp(&meta).map(str::to_string),
            value: None,
        });
    }
    let deletes = items.iter().filter(|i| i.action == Action::Delete).count();
    let delete_refusal = (deletes > opts.max_deletes).then(|| {
        let why = format!("{deletes} deletions exceed --max-deletes {}; none will be made (raise the cap to proceed)", opts.max_deletes);
        for i in items.iter_mut().filter(|i| i.action == Action::Delete) {
            i.blocked = true;
            i.reason = why.clone();
        }
        why
    });

    // Where reading values costs nothing (a local file), compare them every time.
    let verify = opts.verify || caps.free_reads;
    let drift_unchecked = !caps.version_in_list && !verify && !opts.check_drift;
    if verify || opts.on_drift == DriftPolicy::Accept {
        let opts = &PlanOptions {
            verify,
            ..opts.clone()
        };
        read_values(backend, &mut items, fpr, opts).await?;
    }
    if let (Some(Some(last)), Some(every)) = (last_applied, opts.refresh_after) {
        refresh(&mut items, last, every);
    }
    for item in items.iter_mut() {
        misplaced(item);
        if item.token.is_none() && item.action != Action::Unchanged {
            if let Some(fp) = &item.fp {
                item.token = Some(fpr.new_token(&item.name, fp));
            }
        }
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let plan = Plan {
        env: env.into(),
        backend: info.to_string(),
        prefix: prefix.into(),
        items,
        drift_unchecked,
        delete_refusal,
        on_drift: opts.on_drift,
        delete_mode: secretsync_core::DeleteMode::Default,
    };
    let s = plan.summary();
    tracing::info!(
        create = s.create,
        update = s.update,
        delete = s.delete,
        unchanged = s.unchanged,
        orphan = s.orphan,
        adopt = s.adopt,
        drift = s.drift,
        blocked = s.blocked,
        "planned"
    );
    Ok(plan)
}

/// When an instance writes nothing this time and its newest write is older than `every`,
/// writes one of its secrets again (the same value, a new version) so that its applied label
/// shows the instance in use.
fn refresh(items: &mut [PlanItem], last: u64, every: std::time::Duration) {
    let age = super::fingerprint::unix_now().saturating_sub(last);
    if age < every.as_secs() || items.iter().any(PlanItem::is_change) {
        return;
    }
    if let Some(item) = items
        .iter_mut()
        .find(|i| i.action == Action::Unchanged && i.secret.is_some())
    {
        item.action = Action::Update;
        item.reason = format!(
            "refreshing the instance's applied time (last written {} ago; teardown --older-than goes by it)",
            age_text(age)
        );
    }
}

/// A number of seconds for people, at its largest whole unit (`3d`, `5h`, `12m`, `40s`).
pub fn age_text(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn classify(
    mut item: PlanItem,
    meta: Option<&SecretMeta>,
    fpr: &Fingerprinter,
    opts: &PlanOptions,
    fp: &str,
    if_version: bool,
) -> PlanItem {
    let Some(meta) = meta else {
        item.reason = "not in the backend".into();
        return item;
    };
    if if_version {
        item.expected_version = meta.version.clone();
    }
    let owner = fpr.owner(meta);
    match owner {
        Owner::Unmanaged | Owner::OtherStore(_) | Owner::OtherEnv(_) => {
            item.action = Action::Adopt;
            item.blocked = !opts.adopt;
            item.reason = match owner {
                Owner::OtherStore(id) => format!("exists and is managed by another store ({id})"),
                Owner::OtherEnv(e) => {
                    format!("exists and is managed by environment {e} of this store")
                }
                _ => "exists and was not written by secretsync".into(),
            };
            if item.blocked {
                item.reason.push_str("; --adopt takes it over");
            }
        }
        Owner::Legacy => {
            // Its version token predates keyed tokens and proves nothing: rewrite the canonical
            // value with this environment's labels.
            item.label_fp = label_fp(meta).map(str::to_string);
            item.action = Action::Update;
            item.reason =
                "written before secretsync recorded environments; rewriting it with this environment's labels"
                    .into();
        }
        Owner::Us => {
            item.placement = meta.placement_drift.clone();
            let lfp = label_fp(meta);
            item.label_fp = lfp.map(str::to_string);
            let name = item.name.as_str();
            let value_is_desired = meta
                .version
                .as_deref()
                .is_some_and(|v| fpr.version_is(v, name, fp));
            let as_written = meta
                .version
                .as_deref()
                .is_none_or(|v| lfp.is_some_and(|l| fpr.version_is(v, name, l)));
            if value_is_desired && lfp != Some(fp) {
                // Our write landed but its labels did not: finish it with the same token.
                item.action = Action::Update;
                item.reason = "labels lag the value (an interrupted write); finishing it".into();
                item.token = meta.version.clone();
            } else if !as_written && !value_is_desired {
                drift(
                    &mut item,
                    opts,
                    "a version was written outside secretsync since our last write",
                );
            } else if lfp == Some(fp) {
                item.action = Action::Unchanged;
                item.reason = "equal".into();
            } else {
                item.action = Action::Update;
                item.reason = "value changed".into();
            }
        }
    }
    item
}

fn drift(item: &mut PlanItem, opts: &PlanOptions, why: &str) {
    item.action = Action::Drift;
    item.blocked = opts.on_drift == DriftPolicy::Report;
    item.reason = match opts.on_drift {
        DriftPolicy::Report => format!("{why}; left as is (--on-drift revert|adopt)"),
        DriftPolicy::Revert => format!("{why}; reverting to the canonical value"),
        DriftPolicy::Accept => format!("{why}; adopting the backend's value into the store"),
    };
}

/// A secret of ours placed otherwise than the backend URL asks. secretsync sets placement at
/// create only, so an equal value becomes drift that needs a person (whatever `--on-drift`
/// says); a write the value needs still goes ahead, with the placement added to its reason.
fn misplaced(item: &mut PlanItem) {
    let Some(why) = &item.placement else { return };
    if item.action == Action::Unchanged {
        item.action = Action::Drift;
        item.blocked = true;
        item.reason = format!("placement: {why}");
    } else {
        item.reason = format!("{}; placement: {why}", item.reason);
    }
}

/// `--check-drift`: the current version of each secret of ours, from its metadata.
async fn fill_versions(
    backend: &dyn SecretBackend,
    listed: &mut BTreeMap<String, SecretMeta>,
    fpr: &Fingerprinter,
    concurrency: usize,
) -> Result<(), BackendError> {
    let ours: Vec<String> = listed
        .values()
        .filter(|m| matches!(fpr.owner(m), Owner::Us | Owner::Legacy))
        .map(|m| m.name.clone())
        .collect();
    let heads: Vec<Option<SecretMeta>> = futures::stream::iter(ours)
        .map(|n| async move { backend.head(&n).await })
        .buffered(concurrency.max(1))
        .try_collect()
        .await?;
    for h in heads.into_iter().flatten() {
        if let Some(m) = listed.get_mut(&h.name) {
            m.version = h.version;
        }
    }
    Ok(())
}

/// `--verify` and drift adoption: read the managed values and compare their fingerprints.
async fn read_values(
    backend: &dyn SecretBackend,
    items: &mut [PlanItem],
    fpr: &Fingerprinter,
    opts: &PlanOptions,
) -> Result<(), BackendError> {
    let wanted: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            matches!(i.action, Action::Unchanged | Action::Update | Action::Drift)
                && i.secret.is_some()
        })
        .map(|(k, _)| k)
        .collect();
    // In the backend's batches (one call for many on AWS, one file read on file://).
    let names: Vec<String> = wanted.iter().map(|&k| items[k].name.clone()).collect();
    let got = secretsync_core::get_all(backend, &names, opts.concurrency.max(1)).await?;
    let read: Vec<(usize, Option<SecretValue>)> = wanted
        .into_iter()
        .zip(got)
        .map(|(k, s)| (k, s.map(|s| s.value)))
        .collect();
    for (k, actual) in read {
        let item = &mut items[k];
        let Some(actual) = actual else { continue };
        let actual_fp = fpr.fingerprint(&item.name, &actual);
        let ours = item.label_fp.as_deref() == Some(actual_fp.as_str())
            || item.fp.as_deref() == Some(actual_fp.as_str());
        if opts.verify && item.action != Action::Drift && !ours {
            drift(
                item,
                opts,
                "the value differs from what secretsync wrote (found by --verify)",
            );
        }
        if item.action == Action::Drift && opts.on_drift == DriftPolicy::Accept {
            item.token = Some(fpr.new_token(&item.name, &actual_fp));
            item.fp = Some(actual_fp);
            item.value = Some(actual);
        }
    }
    Ok(())
}
