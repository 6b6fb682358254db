//! What each KV v2 request needs: the one table the policies, the refusal messages and the
//! tests read. A request the backend sends must be here, under the operations that send it
//! (the OpenBao tests check it).

use crate::options::Location;
use secretsync_core::permissions::{Policy, PolicyScope, Request, Table};
use secretsync_core::Op;
use serde_json::json;
use std::collections::BTreeMap;

/// The KV v2 path family a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `MOUNT/data/…`: values.
    Data,
    /// `MOUNT/metadata/…`: versions, custom metadata, listings.
    Metadata,
    /// `MOUNT/undelete/…`.
    Undelete,
}

impl Family {
    fn as_str(self) -> &'static str {
        match self {
            Family::Data => "data",
            Family::Metadata => "metadata",
            Family::Undelete => "undelete",
        }
    }
}

/// What a KV v2 request needs: capabilities on the paths of one family under the prefix.
#[derive(Debug, PartialEq, Eq)]
pub struct Need {
    /// Any one of these capabilities allows it (`create` for a new path, `update` for one
    /// that exists).
    pub caps: &'static [&'static str],
    /// Where.
    pub family: Family,
    /// Needed only by forced deletes (`--force-delete`), which destroy every version.
    pub forced: bool,
}

const fn on(family: Family, caps: &'static [&'static str]) -> Need {
    Need {
        caps,
        family,
        forced: false,
    }
}

/// Every request `vault://` sends, named as the wire counts them (`VERB family`).
pub static REQUESTS: Table<Need> = Table(&[
    Request {
        // One folder's names (KV's LIST is a GET with `list=true`).
        name: "LIST metadata",
        ops: &[Op::List],
        needs: &[on(Family::Metadata, &["list"])],
    },
    Request {
        name: "GET metadata",
        // Each secret's metadata: a listing's labels, and the look before a write, a delete
        // or a restore.
        ops: &[Op::Head, Op::Put, Op::Delete, Op::Restore],
        needs: &[on(Family::Metadata, &["read"])],
    },
    Request {
        name: "GET data",
        ops: &[Op::Get, Op::BatchGet],
        needs: &[on(Family::Data, &["read"])],
    },
    Request {
        // Creates a secret's metadata before its first claim.
        name: "POST metadata",
        ops: &[Op::Put],
        needs: &[on(Family::Metadata, &["create", "update"])],
    },
    Request {
        // The claim and the labels: JSON merge patches of the custom metadata.
        name: "PATCH metadata",
        ops: &[Op::Put],
        needs: &[on(Family::Metadata, &["patch"])],
    },
    Request {
        name: "POST data",
        ops: &[Op::Put],
        needs: &[on(Family::Data, &["create", "update"])],
    },
    Request {
        // The default delete: the current version, recoverable.
        name: "DELETE data",
        ops: &[Op::Delete],
        needs: &[on(Family::Data, &["delete"])],
    },
    Request {
        // A forced delete: every version and the metadata.
        name: "DELETE metadata",
        ops: &[Op::Delete],
        needs: &[Need {
            forced: true,
            ..on(Family::Metadata, &["delete"])
        }],
    },
    Request {
        name: "POST undelete",
        ops: &[Op::Restore],
        needs: &[on(Family::Undelete, &["update"])],
    },
    Request {
        // AppRole and Kubernetes logins, when the backend opens: login paths need no policy.
        name: "POST login",
        ops: &[],
        needs: &[],
    },
]);

/// `MOUNT/FAMILY/PATH/REST`, without empty parts.
pub(crate) fn kv_path(loc: &Location, family: &str, rest: &str) -> String {
    let mut p: Vec<&str> = vec![&loc.mount, family];
    p.extend(loc.path.split('/').filter(|s| !s.is_empty()));
    let mut out = p.join("/");
    out.push('/');
    out.push_str(rest.trim_start_matches('/'));
    out
}

/// The refusal text of `request` on `path` (as sent, under the mount): the capabilities its
/// table entry needs there.
pub(crate) fn denied(request: &str, path: &str) -> Option<String> {
    let need = REQUESTS.get(request)?.needs.first()?;
    Some(secretsync_core::permissions::denied(
        &format!("vault:{}", need.caps.join("|")),
        path,
    ))
}

/// The Vault policy `scope`'s job needs on the KV v2 mount and path of `loc`: the
/// capabilities each request needs, on the paths under the prefix, and `list` on the folder
/// a listing starts at.
pub fn policy(loc: &Location, scope: &PolicyScope) -> Policy {
    let ops = scope
        .job
        .ops(&crate::VaultBackend::capabilities_of(), scope.verify);
    let mut rules: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for need in REQUESTS
        .needs(&ops)
        .into_iter()
        .filter(|n| !n.forced || scope.force_delete)
    {
        let path = kv_path(loc, need.family.as_str(), &format!("{}*", scope.prefix));
        rules.entry(path).or_default().extend(need.caps);
    }
    // A listing starts at the folder holding the prefix; the glob covers it only when the
    // prefix is that folder.
    let folder = scope.prefix.rfind('/').map_or("", |i| &scope.prefix[..=i]);
    if ops.contains(&Op::List) && folder != scope.prefix {
        rules
            .entry(kv_path(loc, "metadata", folder))
            .or_default()
            .push("list");
    }
    for caps in rules.values_mut() {
        caps.sort_unstable();
        caps.dedup();
    }
    let name = scope.name();
    let mut text = format!(
        "# {name}: secretsync {} for environment {} on {}/{} (prefix {:?}).\n\
         # Write it, then give secretsync a token (or an AppRole / Kubernetes role) with it:\n\
         #   bao policy write {name} policy.hcl      # or: vault policy write …\n\
         #   bao token create -policy={name}\n",
        scope.job, scope.env, loc.mount, loc.path, scope.prefix
    );
    for (path, caps) in &rules {
        let caps: Vec<String> = caps.iter().map(|c| format!("\"{c}\"")).collect();
        text.push_str(&format!(
            "path \"{path}\" {{\n  capabilities = [{}]\n}}\n",
            caps.join(", ")
        ));
    }
    let document = json!({
        "path": rules
            .iter()
            .map(|(p, caps)| (p.clone(), json!({ "capabilities": caps })))
            .collect::<serde_json::Map<_, _>>(),
    });
    let mut notes = Vec::new();
    if let Some(ns) = &loc.namespace {
        notes.push(format!(
            "the paths are relative to namespace {ns}: write the policy there (VAULT_NAMESPACE={ns})"
        ));
    }
    Policy {
        granted: rules
            .iter()
            .flat_map(|(p, caps)| caps.iter().map(move |c| format!("{c} on {p}")))
            .collect(),
        format: "vault-hcl",
        document,
        condition: None,
        notes,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secretsync_core::permissions::Job;

    fn loc(path: &str) -> Location {
        Location {
            mount: "secret".into(),
            path: path.into(),
            namespace: None,
        }
    }

    fn scope(job: Job, prefix: &'static str) -> PolicyScope<'static> {
        PolicyScope {
            job,
            verify: false,
            env: "prod-eu",
            prefix,
            store_id: None,
            force_delete: false,
        }
    }

    #[test]
    fn plan_lists_and_reads_metadata_only() {
        let p = policy(&loc("team/app"), &scope(Job::Plan, "web/"));
        assert_eq!(
            p.document,
            json!({"path": {"secret/metadata/team/app/web/*": {"capabilities": ["list", "read"]}}})
        );
        assert_eq!(
            p.text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>(),
            [
                "path \"secret/metadata/team/app/web/*\" {",
                "  capabilities = [\"list\", \"read\"]",
                "}"
            ]
        );
    }

    #[test]
    fn apply_writes_data_and_patches_metadata_and_lists_the_prefixs_folder() {
        let p = policy(&loc(""), &scope(Job::Apply, "web/pr-"));
        assert_eq!(
            p.document,
            json!({"path": {
                "secret/data/web/pr-*": {"capabilities": ["create", "delete", "update"]},
                "secret/metadata/web/": {"capabilities": ["list"]},
                "secret/metadata/web/pr-*": {"capabilities": ["create", "list", "patch", "read", "update"]},
            }})
        );
        let verify = policy(
            &loc(""),
            &PolicyScope {
                verify: true,
                ..scope(Job::Plan, "")
            },
        );
        assert_eq!(
            verify.document["path"]["secret/data/*"]["capabilities"],
            json!(["read"])
        );
    }

    #[test]
    fn a_refusal_names_the_capabilities_and_the_path() {
        assert_eq!(
            denied("POST data", "secret/data/web/A").as_deref(),
            Some("vault:create|update on secret/data/web/A")
        );
        assert_eq!(
            denied("LIST metadata", "secret/metadata/").as_deref(),
            Some("vault:list on secret/metadata/")
        );
        assert_eq!(denied("POST login", "auth/approle/login"), None);
    }
}
