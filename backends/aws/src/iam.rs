//! IAM: what each AWS request needs (an action on a kind of resource), and the identity policy
//! a job's needs make, scoped to the environment's prefix.

use secretsync_core::permissions::{Policy, PolicyScope};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// What an AWS request needs: an IAM action on a kind of resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Need {
    /// The IAM action (`secretsmanager:CreateSecret`).
    pub action: &'static str,
    /// What it applies to.
    pub on: On,
    /// Needed only with this URL option.
    pub with: With,
    /// AWS checks it on a parameter of another request (tags or replicas given at create, the
    /// KMS key the service uses on the caller's behalf), not on a request of its own: no
    /// emulator checks it, so the enforcing tests cannot take it away.
    pub implicit: bool,
}

/// The kinds of resource a policy names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// `*`: the action has no resource-level permissions (listings, batch reads).
    Any,
    /// The secrets (or parameters) under the environment's prefix.
    Secrets,
    /// Those of them this store wrote: deletes, allowed only on resources tagged with the
    /// store's id.
    Owned,
    /// The KMS key of `kms-key=`, used by the service on the caller's behalf.
    Key,
}

/// The URL option a need depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum With {
    /// Always needed.
    Always,
    /// `replicas=` (Secrets Manager).
    Replicas,
    /// `kms-key=`.
    KmsKey,
    /// `kms-key=` on a standard-tier parameter (encrypted by KMS directly).
    KmsKeyStandard,
    /// `kms-key=` on an advanced-tier parameter (envelope encryption).
    KmsKeyAdvanced,
}

impl Need {
    /// `action` on `on`, always needed.
    pub const fn on(action: &'static str, on: On) -> Self {
        Self {
            action,
            on,
            with: With::Always,
            implicit: false,
        }
    }

    /// `action` on the `kms-key=` key, which the service uses on the caller's behalf.
    pub const fn key(action: &'static str, with: With) -> Self {
        Self {
            action,
            on: On::Key,
            with,
            implicit: true,
        }
    }

    /// The same, checked by AWS on another request's parameters (see [`Need::implicit`]).
    pub const fn implicit(self) -> Self {
        Self {
            implicit: true,
            ..self
        }
    }

    /// The same, needed only with `with`.
    pub const fn with(self, with: With) -> Self {
        Self { with, ..self }
    }
}

/// The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: Option<&str>) -> &'static str {
    match region {
        Some(r) if r.starts_with("cn-") => "aws-cn",
        Some(r) if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// The `kms-key=` key as policy resources: its ARN when given one, else every key of the
/// region (narrowed by the condition that the service uses it), with a note saying so.
fn key_resource(key: &str, region: Option<&str>, notes: &mut Vec<String>) -> String {
    if key.starts_with("arn:") && key.contains(":key/") {
        return key.to_string();
    }
    let (part, region, account) = match key.strip_prefix("arn:") {
        // An alias ARN: arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME.
        Some(rest) => {
            let f: Vec<&str> = rest.split(':').collect();
            (
                f.first().copied().unwrap_or("aws").to_string(),
                f.get(2).copied().unwrap_or("*").to_string(),
                f.get(3).copied().unwrap_or("*").to_string(),
            )
        }
        None => (
            partition(region).to_string(),
            region.unwrap_or("*").to_string(),
            "*".to_string(),
        ),
    };
    if key.contains("alias/") {
        notes.push(format!("kms-key={key} is an alias: IAM cannot name a key by its alias here, so the KMS statement allows any key used through the service in {region}; give the key's ARN in kms-key= to narrow it to that key"));
        format!("arn:{part}:kms:{region}:{account}:key/*")
    } else {
        format!("arn:{part}:kms:{region}:{account}:key/{key}")
    }
}

/// One statement of an identity policy, its fields in the order IAM's documentation writes
/// them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<&'static str>,
    pub resource: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// An identity policy of `statements`, as data and as the text `aws iam` takes.
pub(crate) fn document(statements: Vec<Statement>, notes: Vec<String>) -> Policy {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Document {
        version: &'static str,
        statement: Vec<Statement>,
    }
    let granted = statements
        .iter()
        .flat_map(|s| s.action.iter().map(|a| a.to_string()))
        .collect();
    let doc = Document {
        version: "2012-10-17",
        statement: statements,
    };
    Policy {
        granted,
        format: "iam-json",
        text: serde_json::to_string_pretty(&doc).expect("JSON serializes") + "\n",
        document: serde_json::to_value(&doc).expect("JSON serializes"),
        condition: None,
        notes,
    }
}

/// Where the policy's statements point.
pub struct Resources<'a> {
    /// The service's IAM prefix and endpoint name (`secretsmanager`, `ssm`).
    pub service: &'static str,
    /// The ARN patterns of the environment's secrets (one per region written).
    pub secrets: Vec<String>,
    /// The primary region, if the URL names one.
    pub region: Option<&'a str>,
    /// The `kms-key=` key, if any.
    pub kms_key: Option<&'a str>,
}

/// The identity policy granting `needs` (those that apply with the URL's options), scoped to
/// `res`, with notes for people.
pub fn policy(needs: &[&Need], res: &Resources, scope: &PolicyScope) -> Policy {
    let mut notes = Vec::new();
    let mut statements = Vec::new();
    let actions = |on: On| -> Vec<&'static str> {
        let mut a: Vec<&'static str> = needs
            .iter()
            .filter(|n| n.on == on)
            .map(|n| n.action)
            .collect();
        a.sort_unstable();
        a.dedup();
        a
    };
    let allow = |sid: &str, action: Vec<&'static str>, resource: Value, condition| Statement {
        sid: sid.into(),
        effect: "Allow",
        action,
        resource,
        condition,
    };
    let any = actions(On::Any);
    if !any.is_empty() {
        statements.push(allow("Listing", any, json!("*"), None));
    }
    let secrets = actions(On::Secrets);
    if !secrets.is_empty() {
        statements.push(allow("Secrets", secrets, json!(res.secrets), None));
    }
    let owned = actions(On::Owned);
    if !owned.is_empty() {
        let mut tags = Map::new();
        tags.insert("aws:ResourceTag/managed-by".into(), json!("secretsync"));
        if let Some(id) = scope.store_id {
            tags.insert("aws:ResourceTag/secretsync-store".into(), json!(id));
        }
        statements.push(allow(
            "OwnedSecrets",
            owned,
            json!(res.secrets),
            Some(json!({ "StringEquals": tags })),
        ));
    }
    let key = actions(On::Key);
    if let (false, Some(k)) = (key.is_empty(), res.kms_key) {
        let resource = key_resource(k, res.region, &mut notes);
        let via = match res.region {
            Some(r) => {
                json!({ "StringEquals": { "kms:ViaService": format!("{}.{r}.amazonaws.com", res.service) } })
            }
            None => {
                json!({ "StringLike": { "kms:ViaService": format!("{}.*.amazonaws.com", res.service) } })
            }
        };
        statements.push(allow("KmsKey", key, json!(resource), Some(via)));
    }
    if res.region.is_none() {
        notes.push("the backend URL names no region (it comes from AWS_REGION or the profile when secretsync runs), so the ARNs name any region: add ?region= to narrow them".into());
    }
    notes.push(format!(
        "attach it to the role or user secretsync runs as, e.g. `aws iam put-role-policy --role-name ROLE --policy-name {} --policy-document file://policy.json`",
        scope.name()
    ));
    document(statements, notes)
}

/// The needs of `needs` that apply given which URL options are set (`with` answers for each).
pub fn applicable(needs: Vec<&Need>, with: impl Fn(With) -> bool) -> Vec<&Need> {
    needs.into_iter().filter(|n| with(n.with)).collect()
}

/// The permission-denied text of `request` on `name` from `table`: the service's own words
/// when they name the action (`… is not authorized to perform: ACTION …`), else the first
/// action the table gives the request. `None` for a request without an entry.
pub fn denied(
    table: &secretsync_core::permissions::Table<Need>,
    request: &str,
    name: &str,
    service_message: &str,
) -> Option<String> {
    let resource = |on: On| match on {
        On::Any => "*".to_string(),
        _ if name.is_empty() => "*".to_string(),
        _ => name.to_string(),
    };
    let said = service_message
        .split("perform: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .filter(|a| a.contains(':'));
    let entry = table.get(request)?;
    let first = entry.needs.iter().find(|n| !n.implicit)?;
    let action = said.unwrap_or(first.action);
    let on = entry
        .needs
        .iter()
        .find(|n| n.action == action)
        .map_or(first.on, |n| n.on);
    Some(secretsync_core::permissions::denied(action, &resource(on)))
}

/// The principal an AWS refusal names (`User: ARN is not authorized …`).
pub fn principal(service_message: &str) -> Option<&str> {
    service_message
        .split("User: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secretsync_core::permissions::{Job, Request, Table};
    use secretsync_core::Op;

    static TABLE: Table<Need> = Table(&[
        Request {
            name: "ListThings",
            ops: &[Op::List],
            needs: &[Need::on("svc:ListThings", On::Any)],
        },
        Request {
            name: "MakeThing",
            ops: &[Op::Put],
            needs: &[
                Need::on("svc:MakeThing", On::Secrets),
                Need::on("svc:TagThing", On::Secrets).implicit(),
                Need::key("kms:GenerateDataKey", With::KmsKey),
            ],
        },
        Request {
            name: "DropThing",
            ops: &[Op::Delete],
            needs: &[Need::on("svc:DropThing", On::Owned)],
        },
    ]);

    fn scope(job: Job) -> PolicyScope<'static> {
        PolicyScope {
            job,
            verify: false,
            env: "prod-eu",
            prefix: "app/",
            store_id: Some("s1"),
            force_delete: false,
        }
    }

    #[test]
    fn statements_group_actions_by_resource_with_conditions_on_deletes_and_keys() {
        let ops = [Op::List, Op::Put, Op::Delete].into();
        let res = Resources {
            service: "svc",
            secrets: vec!["arn:aws:svc:eu-west-1:*:thing:app/*".into()],
            region: Some("eu-west-1"),
            kms_key: Some("arn:aws:kms:eu-west-1:111122223333:key/k-1"),
        };
        let p = policy(&TABLE.needs(&ops), &res, &scope(Job::Apply));
        let st = p.document["Statement"].as_array().unwrap();
        let sids: Vec<&str> = st.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(sids, ["Listing", "Secrets", "OwnedSecrets", "KmsKey"]);
        assert_eq!(st[1]["Action"], json!(["svc:MakeThing", "svc:TagThing"]));
        assert_eq!(
            st[2]["Condition"]["StringEquals"]["aws:ResourceTag/secretsync-store"],
            "s1"
        );
        assert_eq!(
            st[3]["Condition"]["StringEquals"]["kms:ViaService"],
            "svc.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&p.text).unwrap(),
            p.document,
            "the text is the document"
        );
        assert!(
            p.text.starts_with("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"Listing\",\n      \"Effect\": \"Allow\","),
            "in IAM's order: {}",
            p.text
        );
        assert!(p
            .notes
            .iter()
            .any(|n| n.contains("secretsync-prod-eu-apply")));
    }

    #[test]
    fn no_region_and_an_alias_key_widen_with_a_note() {
        let res = Resources {
            service: "svc",
            secrets: vec!["arn:aws:svc:*:*:thing:app/*".into()],
            region: None,
            kms_key: Some("alias/app"),
        };
        let p = policy(&TABLE.needs(&[Op::Put].into()), &res, &scope(Job::Apply));
        let key = &p.document["Statement"][1];
        assert_eq!(key["Resource"], "arn:aws:kms:*:*:key/*");
        assert_eq!(
            key["Condition"]["StringLike"]["kms:ViaService"],
            "svc.*.amazonaws.com"
        );
        assert!(p.notes.iter().any(|n| n.contains("is an alias")));
        assert!(p.notes.iter().any(|n| n.contains("names no region")));
        assert_eq!(partition(Some("cn-north-1")), "aws-cn");
        assert_eq!(partition(Some("us-gov-west-1")), "aws-us-gov");
    }

    #[test]
    fn a_refusal_names_the_action_the_service_named_or_the_tables() {
        assert_eq!(
            denied(&TABLE, "MakeThing", "app/A", "").as_deref(),
            Some("svc:MakeThing on app/A")
        );
        let aws = "User: arn:aws:iam::1:user/ci is not authorized to perform: svc:TagThing on resource: app/A because no identity-based policy allows the svc:TagThing action";
        assert_eq!(
            denied(&TABLE, "MakeThing", "app/A", aws).as_deref(),
            Some("svc:TagThing on app/A")
        );
        assert_eq!(principal(aws), Some("arn:aws:iam::1:user/ci"));
        assert_eq!(principal(""), None);
        assert_eq!(
            denied(&TABLE, "ListThings", "app/", "").as_deref(),
            Some("svc:ListThings on *")
        );
        assert_eq!(denied(&TABLE, "Unknown", "x", ""), None);
    }
}
