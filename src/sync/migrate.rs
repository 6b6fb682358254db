//! Moving secrets between backends: mapping names from one backend's rules to another's
//! (reporting every collision before any write), and verifying by reading back.

use super::fingerprint::Fingerprinter;
use super::plan::{Action, Plan};
use secretsync_core::{get_all, BackendError, NameRules, SecretBackend, SecretValue};
use serde::Serialize;
use std::collections::BTreeMap;

/// One source secret and the name it gets in the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// Full name in the source.
    pub from: String,
    /// Name in the target, relative to the target prefix.
    pub to: String,
}

/// Names that cannot be migrated as mapped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("these source secrets would get the same target name (rename them, or choose another --rename-char): {}", render(.0))]
    Collisions(Vec<(String, Vec<String>)>),
    #[error("these names are not valid in the target: {}", .0.iter().map(|(n, why)| format!("{n}: {why}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(String, String)>),
}

fn render(c: &[(String, Vec<String>)]) -> String {
    c.iter()
        .map(|(to, from)| format!("{to} <- {}", from.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Maps source names (under `prefix_from`) to target names (relative to `prefix_to`): the
/// characters the target does not allow become `replace`. Errors list every collision or
/// invalid name at once.
pub fn map_names(
    sources: &[String],
    prefix_from: &str,
    prefix_to: &str,
    target: &NameRules,
    replace: char,
) -> Result<Vec<Mapping>, MappingError> {
    let mut out = Vec::with_capacity(sources.len());
    let mut invalid = Vec::new();
    let mut by_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for from in sources {
        let rel = from.strip_prefix(prefix_from).unwrap_or(from);
        let to: String = rel
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || target.extra_chars.contains(c) {
                    c
                } else {
                    replace
                }
            })
            .collect();
        if let Err(why) = target.check(&format!("{prefix_to}{to}")) {
            invalid.push((from.clone(), why));
            continue;
        }
        by_target.entry(to.clone()).or_default().push(from.clone());
        out.push(Mapping {
            from: from.clone(),
            to,
        });
    }
    if !invalid.is_empty() {
        return Err(MappingError::Invalid(invalid));
    }
    let collisions: Vec<(String, Vec<String>)> =
        by_target.into_iter().filter(|(_, f)| f.len() > 1).collect();
    if !collisions.is_empty() {
        return Err(MappingError::Collisions(collisions));
    }
    Ok(out)
}

/// The outcome of reading a migrated secret back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verified {
    /// The target holds the source's value.
    Equal,
    /// The target holds another value.
    Differs,
    /// The target has no such secret.
    Missing,
}

/// Reads back every desired item of `plan` from `target` and compares fingerprints.
pub async fn verify(
    target: &dyn SecretBackend,
    plan: &Plan,
    fpr: &Fingerprinter,
    concurrency: usize,
) -> Result<Vec<(String, Verified)>, BackendError> {
    let items: Vec<_> = plan
        .items
        .iter()
        .filter(|i| i.secret.is_some() && !(i.blocked && i.action == Action::Adopt))
        .collect();
    let names: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
    let read = get_all(target, &names, concurrency).await?;
    Ok(items
        .iter()
        .zip(read)
        .map(|(i, got)| {
            let v = match got {
                None => Verified::Missing,
                Some(s) if Some(fpr.fingerprint(&i.name, &s.value)) == i.fp => Verified::Equal,
                Some(_) => Verified::Differs,
            };
            (i.name.clone(), v)
        })
        .collect())
}

/// For a migration without a store (an [`Fingerprinter::ephemeral`] key): the target's secrets
/// that the listing could not settle are compared by value. Equal ones are left alone; one an
/// earlier run of this migration wrote (its owner label) and that differs is rewritten; a
/// foreign one stays an adoption, refused without `--adopt`.
pub async fn settle_by_value(
    target: &dyn SecretBackend,
    plan: &mut Plan,
    concurrency: usize,
) -> Result<(), BackendError> {
    let wanted: Vec<usize> = plan
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            i.secret.is_some() && matches!(i.action, Action::Adopt | Action::Drift | Action::Update)
        })
        .map(|(k, _)| k)
        .collect();
    let names: Vec<String> = wanted.iter().map(|&k| plan.items[k].name.clone()).collect();
    let read = get_all(target, &names, concurrency).await?;
    for (k, got) in wanted.into_iter().zip(read) {
        let item = &mut plan.items[k];
        let Some(got) = got else { continue };
        if item.value.as_ref().map(SecretValue::expose) == Some(got.value.expose()) {
            item.action = Action::Unchanged;
            item.blocked = false;
            item.reason = "equal (compared by value)".into();
        } else if item.action != Action::Adopt {
            item.action = Action::Update;
            item.blocked = false;
            item.reason = "differs from the source; written by an earlier run of this migration, so rewritten".into();
        }
    }
    Ok(())
}

/// Reads the values of the `mappings`' sources; a source that vanished meanwhile is skipped.
pub async fn read_sources(
    source: &dyn SecretBackend,
    mappings: &[Mapping],
    concurrency: usize,
) -> Result<Vec<(String, SecretValue)>, BackendError> {
    let names: Vec<String> = mappings.iter().map(|m| m.from.clone()).collect();
    let read = get_all(source, &names, concurrency).await?;
    Ok(mappings
        .iter()
        .zip(read)
        .filter_map(|(m, s)| s.map(|s| (m.to.clone(), s.value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GCP: NameRules = NameRules {
        max_len: 255,
        extra_chars: "_-",
        rooted_paths: false,
        reserved_prefixes: &[],
    };

    #[test]
    fn maps_characters_the_target_refuses_and_strips_and_adds_prefixes() {
        let src = vec![
            "app/prod/db.url".to_string(),
            "app/prod/API_KEY".to_string(),
        ];
        let m = map_names(&src, "app/prod/", "billing_", &GCP, '_').unwrap();
        assert_eq!(
            m[0],
            Mapping {
                from: "app/prod/db.url".into(),
                to: "db_url".into()
            }
        );
        assert_eq!(m[1].to, "API_KEY");
    }

    #[test]
    fn reports_every_collision_before_any_write() {
        let src: Vec<String> = ["a/x.y", "a/x_y", "a/x-y", "a/p.q", "a/p/q"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let err = map_names(&src, "a/", "", &GCP, '_').unwrap_err();
        let MappingError::Collisions(c) = &err else {
            panic!("{err}")
        };
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0],
            (
                "p_q".to_string(),
                vec!["a/p.q".to_string(), "a/p/q".to_string()]
            )
        );
        assert!(err.to_string().contains("x_y <- a/x.y, a/x_y"), "{err}");
    }

    #[test]
    fn names_too_long_for_the_target_are_invalid() {
        let src = vec![format!("a/{}", "n".repeat(300))];
        let err = map_names(&src, "a/", "", &GCP, '_').unwrap_err();
        assert!(matches!(err, MappingError::Invalid(_)), "{err}");
    }
}
