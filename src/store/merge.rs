//! Three-way merge of store files, for git (`secretsync merge-file %O %A %B`).
//!
//! The file is one block per value, so the merge works block by block: a block changed on one
//! side only takes that side; the same change on both sides is kept once; different changes to
//! one block, or a change against a deletion, are conflicts. Scopes merge one by one, and their
//! recipients one by one. The merged store must still be valid (a type in at most one value of a
//! secret). A scope whose key was rotated on one side while the other side sealed values for it
//! or changed its recipients cannot be merged without the key: it is reported, and a rotation in
//! one scope never conflicts with value changes in another. Both formats merge; a store upgraded
//! to format 2 on one branch only does not.

use super::format::{self, ScopeEntry, SecretEntry, StoreFile};
use super::{Store, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What a merge produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The merged file's text.
    Clean(String),
    /// Why it could not be merged, one line each.
    Conflicts(Vec<String>),
}

fn parse(path: &Path, text: &str) -> Result<Option<StoreFile>, StoreError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    super::codec::parse(text)
        .map(Some)
        .map_err(|e| StoreError::Parse(path.into(), e))
}

/// True when some value (current or kept) of `a` and `b` differs in its ciphertext for `scope`.
fn touched_scope(
    a: &BTreeMap<String, SecretEntry>,
    b: &BTreeMap<String, SecretEntry>,
    scope: &str,
) -> bool {
    let cts = |m: &BTreeMap<String, SecretEntry>| -> BTreeSet<String> {
        m.values()
            .flat_map(|e| e.values.values())
            .flat_map(|v| {
                std::iter::once(&v.sealed)
                    .chain(v.history.iter().map(|h| &h.sealed))
                    .filter_map(|s| s.get(scope).cloned())
            })
            .collect()
    };
    cts(a) != cts(b)
}

/// Three-way merge of one map: `what` names its entries in conflict messages.
fn merge_map<V: PartialEq + Clone>(
    base: &BTreeMap<String, V>,
    ours: &BTreeMap<String, V>,
    theirs: &BTreeMap<String, V>,
    what: &str,
    conflicts: &mut Vec<String>,
    mut nested: impl FnMut(&str, &V, &V, Option<&V>, &mut Vec<String>) -> Option<V>,
) -> BTreeMap<String, V> {
    let keys: BTreeSet<&String> = base
        .keys()
        .chain(ours.keys())
        .chain(theirs.keys())
        .collect();
    let mut out = BTreeMap::new();
    for k in keys {
        let (b, o, t) = (base.get(k), ours.get(k), theirs.get(k));
        let pick = if o == t {
            o.cloned()
        } else if o == b {
            t.cloned()
        } else if t == b {
            o.cloned()
        } else {
            match (o, t) {
                (Some(o), Some(t)) => match nested(k, o, t, b, conflicts) {
                    Some(v) => Some(v),
                    None => Some(o.clone()),
                },
                _ => {
                    conflicts.push(format!(
                        "{what} {k}: changed on one branch and deleted on the other"
                    ));
                    o.cloned()
                }
            }
        };
        if let Some(v) = pick {
            out.insert(k.clone(), v);
        }
    }
    out
}

fn no_nesting<V>(
    what: &'static str,
) -> impl FnMut(&str, &V, &V, Option<&V>, &mut Vec<String>) -> Option<V> {
    move |k, _, _, _, c| {
        c.push(format!("{what} {k}: changed differently on both branches"));
        None
    }
}

/// Merges `ours` and `theirs` (git's %A and %B) given their common ancestor `base` (%O).
pub fn merge3(path: &Path, base: &str, ours: &str, theirs: &str) -> Result<Merged, StoreError> {
    let (Some(o), Some(t)) = (parse(path, ours)?, parse(path, theirs)?) else {
        return Ok(Merged::Conflicts(vec![
            "one branch deleted the store".into()
        ]));
    };
    let b = parse(path, base)?;
    let mut conflicts = Vec::new();
    if o.secretsync.store_id != t.secretsync.store_id {
        return Ok(Merged::Conflicts(vec![
            "the two branches hold different stores (store ids differ)".into(),
        ]));
    }
    if o.secretsync.format != t.secretsync.format {
        return Ok(Merged::Conflicts(vec![
            "one branch upgraded the store to scopes (format 2) and the other did not: take the upgraded branch's store, then repeat the other branch's `secretsync set`/`key add`".into(),
        ]));
    }
    let b = match b {
        Some(b) if b.secretsync.format == o.secretsync.format => b,
        Some(_) => {
            return Ok(Merged::Conflicts(vec![
                "both branches upgraded the store to scopes (format 2) separately, each with its own keys: take one branch's store, then repeat the other's changes".into(),
            ]))
        }
        None => StoreFile {
            secretsync: o.secretsync.clone(),
            scopes: BTreeMap::new(),
            secrets: BTreeMap::new(),
        },
    };

    // A rotated scope key re-seals everything in the scope; the other side's seals for that
    // scope use the old key.
    let names: BTreeSet<&String> = o.scopes.keys().chain(t.scopes.keys()).collect();
    for scope in names {
        let key = |f: &StoreFile| f.scopes.get(scope).map(|s| s.public_key.clone());
        let rotated = |side: &StoreFile| b.scopes.contains_key(scope) && key(side) != key(&b);
        let touched = |side: &StoreFile| {
            touched_scope(&side.secrets, &b.secrets, scope)
                || side.scopes.get(scope).map(|s| &s.recipients)
                    != b.scopes.get(scope).map(|s| &s.recipients)
        };
        let (ro, rt) = (rotated(&o), rotated(&t));
        if (ro && !rt && touched(&t)) || (rt && !ro && touched(&o)) {
            return Ok(Merged::Conflicts(vec![format!(
                "the key of scope {scope} was rotated on one branch while the other changed its values or recipients: take the rotated branch's store, then repeat the other branch's `secretsync set`/`key add` for scope {scope}"
            )]));
        }
        if ro && rt && key(&o) != key(&t) {
            return Ok(Merged::Conflicts(vec![format!(
                "the key of scope {scope} was rotated on both branches: take one branch's store"
            )]));
        }
    }
    let header = if o.secretsync == t.secretsync || t.secretsync == b.secretsync {
        o.secretsync.clone()
    } else if o.secretsync == b.secretsync {
        t.secretsync.clone()
    } else {
        conflicts.push("the store header changed differently on both branches".into());
        o.secretsync.clone()
    };
    let scopes = merge_map(
        &b.scopes,
        &o.scopes,
        &t.scopes,
        "scope",
        &mut conflicts,
        |name, os: &ScopeEntry, ts: &ScopeEntry, bs, c| {
            let Some(bs) = bs else {
                c.push(format!("scope {name}: added differently on both branches"));
                return None;
            };
            let keys = |s: &ScopeEntry| ScopeEntry {
                recipients: BTreeMap::new(),
                ..s.clone()
            };
            let mut merged = if keys(os) == keys(ts) || keys(ts) == keys(bs) {
                os.clone()
            } else if keys(os) == keys(bs) {
                ts.clone()
            } else {
                c.push(format!(
                    "scope {name}: its keys changed differently on both branches"
                ));
                return None;
            };
            merged.recipients = merge_map(
                &bs.recipients,
                &os.recipients,
                &ts.recipients,
                &format!("scope {name}, recipient"),
                c,
                no_nesting("recipient"),
            );
            Some(merged)
        },
    );
    let secrets = merge_map(
        &b.secrets,
        &o.secrets,
        &t.secrets,
        "secret",
        &mut conflicts,
        |name, os, ts, bs, c| {
            let empty = Default::default();
            let bs = bs.unwrap_or(&empty);
            let mut merged = os.clone();
            merged.description =
                if os.description == ts.description || ts.description == bs.description {
                    os.description.clone()
                } else if os.description == bs.description {
                    ts.description.clone()
                } else {
                    c.push(format!(
                        "secret {name}: description changed differently on both branches"
                    ));
                    os.description.clone()
                };
            // A secret deleted whole is a tombstone: against a change on the other branch it
            // is a conflict, as a removed block would be.
            let o_del = os.deleted.is_some() && bs.deleted.is_none();
            let t_del = ts.deleted.is_some() && bs.deleted.is_none();
            if (o_del && ts.values != bs.values) || (t_del && os.values != bs.values) {
                c.push(format!(
                    "secret {name}: changed on one branch and deleted on the other"
                ));
            }
            merged.deleted = if os.deleted == bs.deleted {
                ts.deleted
            } else {
                os.deleted
            };
            let what = format!("secret {name}, value");
            let tree = |m: &format::ValueMap| -> BTreeMap<String, format::ValueEntry> {
                m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
            };
            merged.values = merge_map(
                &tree(&bs.values),
                &tree(&os.values),
                &tree(&ts.values),
                &what,
                c,
                |sel, _, _, _, c| {
                    c.push(format!(
                        "secret {name}: the value for {sel} changed differently on both branches"
                    ));
                    None
                },
            )
            .into_iter()
            .collect();
            Some(merged)
        },
    );
    if !conflicts.is_empty() {
        return Ok(Merged::Conflicts(conflicts));
    }
    let store = Store {
        path: path.into(),
        file: StoreFile {
            secretsync: header,
            scopes,
            secrets,
        },
        env_types: BTreeMap::new(),
    };
    if let Err(e) = store.validate() {
        return Ok(Merged::Conflicts(vec![format!(
            "the merged store is not valid ({e}): the branches gave the same type two values"
        )]));
    }
    Ok(Merged::Clean(store.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SecretName, Selector};
    use crate::store::age_key::AgeIdentity;
    use secretsync_core::Identity;

    struct Repo {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        ids: Vec<Box<dyn Identity>>,
    }

    async fn repo() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.enc.toml");
        let id = AgeIdentity::generate();
        Store::create(
            &path,
            &crate::model::ScopeLayout::default(),
            &[&id.recipient()],
        )
        .await
        .unwrap();
        Repo {
            _dir: dir,
            path,
            ids: vec![Box::new(id)],
        }
    }

    impl Repo {
        fn text(&self) -> String {
            std::fs::read_to_string(&self.path).unwrap()
        }
        fn restore(&self, text: &str) {
            std::fs::write(&self.path, text).unwrap();
        }
        async fn set(&self, name: &str, sel: &str, value: &str) -> String {
            let mut w = Store::open_for_write(&self.path, [], &self.ids)
                .await
                .unwrap();
            w.set(
                &name.parse::<SecretName>().unwrap(),
                &sel.parse::<Selector>().unwrap(),
                value.into(),
                None,
            )
            .unwrap();
            w.commit().unwrap();
            self.text()
        }
        async fn get(&self, text: &str, name: &str, sel: &str) -> String {
            self.restore(text);
            let u = Store::load(&self.path)
                .unwrap()
                .unlock(&self.ids)
                .await
                .unwrap();
            let v = u
                .get_exact(&name.parse().unwrap(), &sel.parse().unwrap())
                .unwrap()
                .unwrap();
            v.as_str().unwrap().to_string()
        }
    }

    #[tokio::test]
    async fn adjacent_additions_on_two_branches_merge() {
        let r = repo().await;
        let base = r.set("Shared", "prod", "s").await;
        let ours = r.set("Alpha1", "prod", "a1").await;
        r.restore(&base);
        let theirs = r.set("Alpha2", "prod", "a2").await;
        let Merged::Clean(m) = merge3(&r.path, &base, &ours, &theirs).unwrap() else {
            panic!("conflict")
        };
        assert_eq!(r.get(&m, "Alpha1", "production").await, "a1");
        assert_eq!(r.get(&m, "Alpha2", "production").await, "a2");
        assert_eq!(r.get(&m, "Shared", "production").await, "s");
        // Merging is symmetric in content.
        let Merged::Clean(m2) = merge3(&r.path, &base, &theirs, &ours).unwrap() else {
            panic!("conflict")
        };
        assert_eq!(m, m2);
    }

    #[tokio::test]
    async fn one_sided_changes_and_identical_changes_merge() {
        let r = repo().await;
        let base = r.set("A", "prod", "1").await;
        let ours = r.set("A", "prod", "2").await;
        assert_eq!(
            merge3(&r.path, &base, &ours, &base).unwrap(),
            Merged::Clean(ours.clone())
        );
        assert_eq!(
            merge3(&r.path, &base, &ours, &ours).unwrap(),
            Merged::Clean(ours.clone())
        );
        // The file was added on both branches with no common ancestor.
        let Merged::Clean(_) = merge3(&r.path, "", &ours, &ours).unwrap() else {
            panic!()
        };
    }

    #[tokio::test]
    async fn conflicting_changes_are_reported_not_merged() {
        let r = repo().await;
        let base = r.set("A", "prod", "1").await;
        let ours = r.set("A", "prod", "ours").await;
        r.restore(&base);
        let theirs = r.set("A", "prod", "theirs").await;
        let Merged::Conflicts(c) = merge3(&r.path, &base, &ours, &theirs).unwrap() else {
            panic!("merged")
        };
        assert!(
            c[0].contains("secret A: the value for production changed differently"),
            "{c:?}"
        );

        // A change against a deletion.
        r.restore(&base);
        let mut w = Store::open_for_write(&r.path, [], &r.ids).await.unwrap();
        w.delete(&"A".parse().unwrap(), None).unwrap();
        w.commit().unwrap();
        let deleted = r.text();
        let Merged::Conflicts(c) = merge3(&r.path, &base, &ours, &deleted).unwrap() else {
            panic!("merged")
        };
        assert!(c[0].contains("deleted on the other"), "{c:?}");
        // A deletion against no change merges as the deletion (the tombstone is kept).
        let Merged::Clean(text) = merge3(&r.path, &base, &base, &deleted).unwrap() else {
            panic!("a one-sided deletion merges")
        };
        assert!(text.contains("deleted = "), "{text}");
    }

    #[tokio::test]
    async fn a_type_given_two_values_by_the_branches_is_a_conflict() {
        let r = repo().await;
        let base = r.set("A", "dev,preview", "shared").await;
        let ours = r.set("A", "dev", "mine").await; // splits: development | preview
        r.restore(&base);
        let theirs = r.set("A", "dev,preview,local", "wider").await; // absorbs into one block
        let Merged::Conflicts(c) = merge3(&r.path, &base, &ours, &theirs).unwrap() else {
            panic!("merged")
        };
        // Every block changed on one side only, so only the store's own rule can catch this.
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].contains("not valid") && c[0].contains("more than one value"),
            "{c:?}"
        );
    }

    #[tokio::test]
    async fn a_rotation_on_one_branch_against_changes_on_the_other_is_refused() {
        let r = repo().await;
        let base = r.set("A", "prod", "1").await;
        let mut w = Store::open_for_write(&r.path, [], &r.ids).await.unwrap();
        let rec: Vec<Box<dyn secretsync_core::Recipient>> = w
            .recipients()
            .iter()
            .map(|r| Box::new(r.id.parse::<crate::store::age_key::AgeRecipient>().unwrap()) as _)
            .collect();
        w.rotate("production", &rec, false).await.unwrap();
        w.commit().unwrap();
        let rotated = r.text();
        r.restore(&base);
        let changed = r.set("B", "prod", "2").await;
        let Merged::Conflicts(c) = merge3(&r.path, &base, &rotated, &changed).unwrap() else {
            panic!("merged")
        };
        assert!(
            c[0].contains("rotated") && c[0].contains("scope production"),
            "{c:?}"
        );
        // A rotation of production against a change in development merges.
        r.restore(&base);
        let dev_change = r.set("D", "dev", "3").await;
        let Merged::Clean(m) = merge3(&r.path, &base, &rotated, &dev_change).unwrap() else {
            panic!("a rotation in one scope conflicted with a change in another")
        };
        assert_eq!(r.get(&m, "D", "development").await, "3");
        assert_eq!(r.get(&m, "A", "production").await, "1");
        // A rotation against no change merges to the rotated store.
        assert_eq!(
            merge3(&r.path, &base, &rotated, &base).unwrap(),
            Merged::Clean(rotated)
        );
    }
}
