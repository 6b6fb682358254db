//! Least privilege. Each backend keeps one table of the requests it sends (named as its wire
//! counts them), the operations that send each one, and the permission each needs. From it:
//! `secretsync policy` writes the policy document a job needs, a refused request names the
//! permission it lacked, and each backend's tests check that every request they saw sent has an
//! entry for the operation that sent it ([`Table::check`]).

use crate::error::Op;
use crate::types::Capabilities;
use serde::Serialize;
use std::collections::BTreeSet;

/// One kind of request a backend sends, the operations that may send it, and what it needs.
/// `N` is the backend's own description of a permission (an IAM action and its resource, a
/// Vault capability on a path, a GCP permission).
#[derive(Debug)]
pub struct Request<N: 'static> {
    /// The request as the wire counts it (`CreateSecret`, `POST data`).
    pub name: &'static str,
    /// The operations that may send it.
    pub ops: &'static [Op],
    /// What it needs to be allowed.
    pub needs: &'static [N],
}

/// A backend's table of requests.
#[derive(Debug)]
pub struct Table<N: 'static>(pub &'static [Request<N>]);

impl<N> Table<N> {
    /// The entry of `request`.
    pub fn get(&self, request: &str) -> Option<&'static Request<N>> {
        self.0.iter().find(|r| r.name == request)
    }

    /// What the requests sent by any of `ops` need, each once, in table order.
    pub fn needs(&self, ops: &BTreeSet<Op>) -> Vec<&'static N>
    where
        N: PartialEq,
    {
        let mut out: Vec<&'static N> = Vec::new();
        for r in self
            .0
            .iter()
            .filter(|r| r.ops.iter().any(|o| ops.contains(o)))
        {
            for n in r.needs {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Checks requests seen sent, each with the operation that sent it, against the table:
    /// one line per request without an entry, or sent by an operation its entry does not list.
    pub fn check<'a>(&self, sent: impl IntoIterator<Item = (Op, &'a str)>) -> Vec<String> {
        let mut problems = BTreeSet::new();
        for (op, request) in sent {
            match self.get(request) {
                None => {
                    problems.insert(format!(
                        "{request} (sent by {op}) has no entry in the permission table"
                    ));
                }
                Some(r) if !r.ops.contains(&op) => {
                    problems.insert(format!(
                        "{request} was sent by {op}, which its permission table entry does not list"
                    ));
                }
                Some(_) => {}
            }
        }
        problems.into_iter().collect()
    }
}

/// A job secretsync runs against an environment's backend, for which a policy is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// `plan` (and `check`'s view of a backend): listings and metadata, never a value or a
    /// write.
    Plan,
    /// `apply`: the plan's reads and every write: create, update, adopt, prune.
    Apply,
    /// `reconcile`: apply's, and the value reads of its verification rounds.
    Reconcile,
    /// `restore`: undoing soft deletes.
    Restore,
    /// `teardown`: listing a preview environment's (or every instance's) secrets and deleting
    /// them.
    Teardown,
}

impl Job {
    /// Every job, in the order help lists them.
    pub const ALL: [Job; 5] = [
        Job::Plan,
        Job::Apply,
        Job::Reconcile,
        Job::Restore,
        Job::Teardown,
    ];

    /// Its name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Job::Plan => "plan",
            Job::Apply => "apply",
            Job::Reconcile => "reconcile",
            Job::Restore => "restore",
            Job::Teardown => "teardown",
        }
    }

    /// The backend operations this job makes on a backend that can do `caps`; `verify` adds
    /// the value reads of `--verify` and `--on-drift adopt`.
    pub fn ops(self, caps: &Capabilities, verify: bool) -> BTreeSet<Op> {
        let mut ops = BTreeSet::new();
        let plan = |ops: &mut BTreeSet<Op>| {
            ops.insert(Op::List);
            // Where reading values costs nothing (a local file), a plan compares them.
            if caps.free_reads {
                ops.extend([Op::Get, Op::BatchGet]);
            }
            // `list_all` reads each secret's metadata when the listing lacks labels or
            // placement, and `--check-drift` reads it where the listing lacks versions.
            if !caps.labels_in_list || !caps.placement_in_list || !caps.version_in_list {
                ops.insert(Op::Head);
            }
        };
        match self {
            Job::Plan => plan(&mut ops),
            Job::Apply | Job::Reconcile => {
                plan(&mut ops);
                // A write whose answer was lost finds its result with `head`.
                ops.extend([Op::Head, Op::Put, Op::Delete]);
            }
            Job::Restore => {
                ops.insert(Op::Restore);
            }
            Job::Teardown => {
                ops.insert(Op::List);
                if !caps.labels_in_list {
                    ops.insert(Op::Head);
                }
                ops.insert(Op::Delete);
            }
        }
        if verify || self == Job::Reconcile {
            ops.extend([Op::Get, Op::BatchGet]);
        }
        ops
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Job {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Job::ALL
            .into_iter()
            .find(|j| j.as_str() == s)
            .ok_or_else(|| {
                format!("unknown job {s:?}: use plan, apply, reconcile, restore or teardown")
            })
    }
}

/// What a policy is written for.
#[derive(Debug, Clone)]
pub struct PolicyScope<'a> {
    /// The job.
    pub job: Job,
    /// With the value reads of `--verify`.
    pub verify: bool,
    /// The environment (for names and descriptions).
    pub env: &'a str,
    /// The environment's name prefix in the backend.
    pub prefix: &'a str,
    /// The store's id: deletes are allowed only on secrets labelled with it, where the service
    /// can check labels.
    pub store_id: Option<&'a str>,
    /// Deletes skip the recovery window or soft delete (`--force-delete`).
    pub force_delete: bool,
}

impl PolicyScope<'_> {
    /// A short name for the policy: `secretsync-ENV-JOB`, in letters, digits and `-`.
    pub fn name(&self) -> String {
        let env: String = self
            .env
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("secretsync-{env}-{}", self.job)
    }
}

/// A policy document written for one job on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// The document's language: `iam-json`, `gcp-role`, `vault-hcl`.
    pub format: &'static str,
    /// The document as data (IAM's JSON; a GCP custom role; a Vault policy in its JSON form).
    pub document: serde_json::Value,
    /// GCP: the IAM condition to bind the role with, which keeps it to the prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<serde_json::Value>,
    /// What to do with it and what the generator could not decide, for people.
    pub notes: Vec<String>,
    /// The document as text, ready for the service's tools (IAM JSON, role YAML, Vault HCL).
    #[serde(skip)]
    pub text: String,
    /// What it grants, one permission each (`secretsmanager:CreateSecret`,
    /// `create on secret/data/app/*`); empty: the job sends this backend nothing.
    #[serde(skip)]
    pub granted: Vec<String>,
}

impl Policy {
    /// The format of a policy that grants nothing.
    pub const NOTHING: &'static str = "none";

    /// No document: `note` says why nothing is to be granted, and is the text too.
    pub fn nothing(note: String) -> Policy {
        Policy {
            format: Self::NOTHING,
            document: serde_json::Value::Null,
            condition: None,
            text: format!("{note}\n"),
            notes: vec![note],
            granted: Vec::new(),
        }
    }

    /// Whether this grants nothing (its note is its text).
    pub fn is_nothing(&self) -> bool {
        self.format == Self::NOTHING
    }
}

/// A scope's recipient key and the policy that lets a principal open it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyPolicy {
    /// The recipient (`aws-kms:…`, `gcp-kms:…`).
    pub recipient: String,
    /// Its policy.
    #[serde(flatten)]
    pub policy: Policy,
}

/// `a` and `b` joined as the text of a permission-denied error: `PERMISSION on RESOURCE`.
pub fn denied(permission: &str, resource: &str) -> String {
    format!("{permission} on {resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: Table<&str> = Table(&[
        Request {
            name: "ListThings",
            ops: &[Op::List],
            needs: &["x:List"],
        },
        Request {
            name: "PutThing",
            ops: &[Op::Put],
            needs: &["x:Put", "x:Tag"],
        },
        Request {
            name: "TagThing",
            ops: &[Op::Put],
            needs: &["x:Tag"],
        },
    ]);

    #[test]
    fn needs_are_those_of_the_requests_the_ops_send_each_once() {
        let ops: BTreeSet<Op> = [Op::Put].into();
        assert_eq!(TABLE.needs(&ops), [&"x:Put", &"x:Tag"]);
        let ops: BTreeSet<Op> = [Op::List, Op::Put].into();
        assert_eq!(TABLE.needs(&ops), [&"x:List", &"x:Put", &"x:Tag"]);
        assert!(TABLE.needs(&[Op::Delete].into()).is_empty());
    }

    #[test]
    fn the_check_names_requests_without_an_entry_or_sent_by_another_op() {
        assert!(TABLE
            .check([(Op::List, "ListThings"), (Op::Put, "TagThing")])
            .is_empty());
        let problems = TABLE.check([
            (Op::Put, "DeleteThing"),
            (Op::Get, "ListThings"),
            (Op::Put, "DeleteThing"),
        ]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("DeleteThing (sent by put) has no entry"));
        assert!(problems[1].contains("ListThings was sent by get"));
    }

    #[test]
    fn jobs_make_the_ops_the_engine_makes() {
        let full = Capabilities::baseline();
        let plan = Job::Plan.ops(&full, false);
        assert_eq!(plan, [Op::List].into(), "a listing with labels is enough");
        let names_only = Capabilities {
            labels_in_list: false,
            ..Capabilities::baseline()
        };
        assert_eq!(
            Job::Plan.ops(&names_only, false),
            [Op::List, Op::Head].into()
        );
        let apply = Job::Apply.ops(&full, false);
        assert!(apply.contains(&Op::Put) && apply.contains(&Op::Delete));
        assert!(!apply.contains(&Op::Get), "apply reads no value");
        assert!(Job::Apply.ops(&full, true).contains(&Op::BatchGet));
        assert!(Job::Reconcile.ops(&full, false).contains(&Op::Get));
        assert_eq!(Job::Restore.ops(&full, false), [Op::Restore].into());
        assert_eq!(
            Job::Teardown.ops(&names_only, false),
            [Op::List, Op::Head, Op::Delete].into()
        );
        assert_eq!("apply".parse::<Job>(), Ok(Job::Apply));
        assert!("deploy".parse::<Job>().unwrap_err().contains("plan, apply"));
    }
}
