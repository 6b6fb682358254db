//! What each Secret Manager request needs: the one table the roles, the refusal messages and
//! the tests read. A request the backend sends must be here, under the operations that send it
//! (the emulator tests check it).

use super::GcpSmOptions;
use secretsync_core::permissions::{Policy, PolicyScope, Request, Table};
use secretsync_core::Op;
use serde_json::json;

/// What a Secret Manager request needs: a permission, checked on the project or the secret.
#[derive(Debug, PartialEq, Eq)]
pub struct Need {
    /// The IAM permission (`secretmanager.secrets.create`).
    pub permission: &'static str,
    /// Checked on the project (listing, creating), not on a secret: an IAM condition on the
    /// secret's name cannot narrow it.
    pub on_project: bool,
}

const fn project(permission: &'static str) -> Need {
    Need {
        permission,
        on_project: true,
    }
}

const fn secret(permission: &'static str) -> Need {
    Need {
        permission,
        on_project: false,
    }
}

/// Every request `gcp-sm://` sends.
pub static REQUESTS: Table<Need> = Table(&[
    Request {
        name: "ListSecrets",
        ops: &[Op::List],
        needs: &[project("secretmanager.secrets.list")],
    },
    Request {
        name: "GetSecret",
        // Metadata: labels, for `head`, a write (what is there) and a read (the version).
        ops: &[Op::Head, Op::Put, Op::Get],
        needs: &[secret("secretmanager.secrets.get")],
    },
    Request {
        name: "GetSecretVersion",
        ops: &[Op::Head],
        needs: &[secret("secretmanager.versions.get")],
    },
    Request {
        name: "CreateSecret",
        ops: &[Op::Put],
        needs: &[project("secretmanager.secrets.create")],
    },
    Request {
        name: "AccessSecretVersion",
        // Values; and a write reads the latest version to tell whether an earlier attempt of
        // it landed (`AddSecretVersion` is not idempotent).
        ops: &[Op::Get, Op::BatchGet, Op::Put],
        needs: &[secret("secretmanager.versions.access")],
    },
    Request {
        name: "AddSecretVersion",
        ops: &[Op::Put],
        needs: &[secret("secretmanager.versions.add")],
    },
    Request {
        name: "UpdateSecret",
        // The labels.
        ops: &[Op::Put],
        needs: &[secret("secretmanager.secrets.update")],
    },
    Request {
        name: "DeleteSecret",
        ops: &[Op::Delete],
        needs: &[secret("secretmanager.secrets.delete")],
    },
]);

/// The refusal text of `request` on secret `name`: GCP's own words when they name the
/// permission (`Permission 'X' denied …`), else the table's.
pub(crate) fn denied(request: &str, resource: &str, message: &str) -> Option<String> {
    let said = message
        .split("Permission '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .filter(|p| p.contains('.'));
    let permission = said.or_else(|| {
        REQUESTS
            .get(request)
            .and_then(|r| r.needs.first())
            .map(|n| n.permission)
    })?;
    Some(secretsync_core::permissions::denied(permission, resource))
}

/// `s` as a double-quoted YAML scalar.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The custom role `scope`'s job needs on the `gcp-sm://` backend of `opts`, with the IAM
/// condition that keeps it to the prefix's secrets.
pub fn policy(opts: &GcpSmOptions, scope: &PolicyScope) -> Policy {
    let ops = scope
        .job
        .ops(&super::GcpSmBackend::capabilities_of(), scope.verify);
    let mut permissions: Vec<&str> = REQUESTS.needs(&ops).iter().map(|n| n.permission).collect();
    permissions.sort_unstable();
    permissions.dedup();
    let project = &opts.project;
    let mut notes = Vec::new();
    let number = if project.bytes().all(|b| b.is_ascii_digit()) {
        project.clone()
    } else {
        notes.push(format!("IAM conditions name the project by its number: replace PROJECT_NUMBER with `gcloud projects describe {project} --format='value(projectNumber)'`"));
        "PROJECT_NUMBER".into()
    };
    let expression = format!(
        "resource.type == \"cloudresourcemanager.googleapis.com/Project\" || resource.name.startsWith(\"projects/{number}/secrets/{}\")",
        scope.prefix
    );
    let role_id: String = format!("secretsync_{}_{}", scope.env, scope.job)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(64)
        .collect();
    let title = format!("secretsync {} ({})", scope.job, scope.env);
    let description = format!(
        "What `secretsync {}{}` sends to Secret Manager for environment {}; bind it with the condition that keeps it to the prefix {:?}",
        scope.job,
        if scope.verify { " --verify" } else { "" },
        scope.env,
        scope.prefix
    );
    let condition_title = format!("{} prefix", scope.name());
    let document = json!({
        "title": title,
        "description": description,
        "stage": "GA",
        "includedPermissions": permissions,
    });
    let condition = json!({
        "title": condition_title,
        "expression": expression,
    });
    notes.push("deletes are limited by the prefix only: GCP's IAM conditions cannot read a secret's labels".into());
    let text = format!(
        "# secretsync {job} for environment {env} on gcp-sm://{project} (prefix {prefix:?}).\n\
         # Create the role, then bind it to the service account secretsync runs as, with the\n\
         # condition that keeps it to the prefix's secrets (listing and creating are checked on\n\
         # the project):\n\
         #   gcloud iam roles create {role_id} --project={project} --file=role.yaml\n\
         #   gcloud projects add-iam-policy-binding {project} \\\n\
         #     --member=serviceAccount:SERVICE_ACCOUNT_EMAIL \\\n\
         #     --role=projects/{project}/roles/{role_id} \\\n\
         #     --condition='expression={expression},title={condition_title}'\n\
         title: {title}\n\
         description: {description}\n\
         stage: GA\n\
         includedPermissions:\n{perms}",
        job = scope.job,
        env = scope.env,
        prefix = scope.prefix,
        title = quoted(&title),
        description = quoted(&description),
        perms = permissions
            .iter()
            .map(|p| format!("- {p}\n"))
            .collect::<String>(),
    );
    Policy {
        granted: permissions.iter().map(|p| p.to_string()).collect(),
        format: "gcp-role",
        document,
        condition: Some(condition),
        notes,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secretsync_core::permissions::Job;

    fn scope(job: Job) -> PolicyScope<'static> {
        PolicyScope {
            job,
            verify: false,
            env: "prod-eu",
            prefix: "web_",
            store_id: Some("s"),
            force_delete: false,
        }
    }

    fn opts(project: &str) -> GcpSmOptions {
        GcpSmOptions {
            project: project.into(),
            ..GcpSmOptions::default()
        }
    }

    #[test]
    fn plan_lists_and_apply_writes_with_the_write_paths_reads() {
        let p = policy(&opts("my-proj"), &scope(Job::Plan));
        // The listing has no versions: `--check-drift` reads each secret's metadata.
        assert_eq!(
            p.document["includedPermissions"],
            json!([
                "secretmanager.secrets.get",
                "secretmanager.secrets.list",
                "secretmanager.versions.get"
            ])
        );
        let p = policy(&opts("my-proj"), &scope(Job::Apply));
        assert_eq!(
            p.document["includedPermissions"],
            json!([
                "secretmanager.secrets.create",
                "secretmanager.secrets.delete",
                "secretmanager.secrets.get",
                "secretmanager.secrets.list",
                "secretmanager.secrets.update",
                "secretmanager.versions.access",
                "secretmanager.versions.add",
                "secretmanager.versions.get"
            ])
        );
    }

    #[test]
    fn the_condition_names_the_prefix_and_the_text_is_a_role_file() {
        let p = policy(&opts("my-proj"), &scope(Job::Apply));
        let expr = p.condition.as_ref().unwrap()["expression"]
            .as_str()
            .unwrap();
        assert!(
            expr.ends_with("resource.name.startsWith(\"projects/PROJECT_NUMBER/secrets/web_\")"),
            "{expr}"
        );
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("gcloud projects describe my-proj")));
        assert!(p
            .text
            .contains("\nstage: GA\nincludedPermissions:\n- secretmanager.secrets.create\n"));
        assert!(p
            .text
            .contains("gcloud iam roles create secretsync_prod_eu_apply --project=my-proj"));
        // Every line is a comment or a role field.
        for line in p.text.lines() {
            assert!(
                line.starts_with('#')
                    || line.starts_with("- ")
                    || ["title:", "description:", "stage:", "includedPermissions:"]
                        .iter()
                        .any(|f| line.starts_with(f)),
                "{line}"
            );
        }
        let numbered = policy(&opts("123456"), &scope(Job::Plan));
        assert!(numbered.condition.unwrap()["expression"]
            .as_str()
            .unwrap()
            .contains("projects/123456/secrets/web_"));
    }

    #[test]
    fn a_refusal_names_gcps_permission_or_the_tables() {
        assert_eq!(
            denied("CreateSecret", "projects/p/secrets/web_A", "").as_deref(),
            Some("secretmanager.secrets.create on projects/p/secrets/web_A")
        );
        assert_eq!(
            denied(
                "UpdateSecret",
                "projects/p/secrets/A",
                "Permission 'secretmanager.secrets.update' denied for resource 'projects/p/secrets/A' (or it may not exist)."
            )
            .as_deref(),
            Some("secretmanager.secrets.update on projects/p/secrets/A")
        );
        assert_eq!(denied("Nope", "x", ""), None);
    }
}
