//! The options of a `gcp-sm://PROJECT` URL: endpoint, credentials and replication.

use crate::config::GcpOptions;
use google_cloud_secretmanager_v1::model::{
    replication::{user_managed::Replica, Automatic, UserManaged},
    Replication,
};

/// What a `gcp-sm://PROJECT` URL asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcpSmOptions {
    /// The project.
    pub project: String,
    /// Endpoint and credentials.
    pub gcp: GcpOptions,
    /// User-managed replication locations set at create, sorted; empty for automatic.
    pub locations: Vec<String>,
}

impl GcpSmOptions {
    /// Reads a `gcp-sm://` URL (and the endpoint and auth variables).
    pub fn from_url(url: &url::Url) -> std::result::Result<Self, String> {
        let project = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("gcp-sm:// needs a project: gcp-sm://PROJECT")?
            .to_string();
        let mut gcp = GcpOptions::from_env("SECRETSYNC_GCP_SECRETMANAGER_ENDPOINT");
        let mut locations = Vec::new();
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                _ if gcp.set(&k, &v)? => {}
                "locations" => locations = parse_locations(&v)?,
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}: gcp-sm:// takes endpoint, auth and locations"
                    ))
                }
            }
        }
        Ok(Self {
            project,
            gcp,
            locations,
        })
    }
}

/// `locations=L1,L2`, sorted: each a GCP location name, at least one.
fn parse_locations(v: &str) -> std::result::Result<Vec<String>, String> {
    let locations = secretsync_core::query::comma_set(v);
    if let Some(bad) = locations.iter().find(|l| {
        !l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) {
        return Err(format!(
            "locations={v:?}: {bad:?} is not a GCP location (e.g. locations=europe-west1,europe-west4)"
        ));
    }
    if locations.is_empty() {
        return Err("locations= is empty: name at least one location, or leave it out for automatic replication".into());
    }
    Ok(locations)
}

/// The replication a create asks for: user-managed in `locations`, else automatic.
pub(crate) fn replication(locations: &[String]) -> Replication {
    if locations.is_empty() {
        return Replication::new().set_automatic(Automatic::default());
    }
    Replication::new().set_user_managed(
        UserManaged::new().set_replicas(
            locations
                .iter()
                .map(|l| Replica::default().set_location(l.clone())),
        ),
    )
}

/// How a secret's replication differs from `locations=` (sorted), with the fix, for people;
/// `None` when it matches or no locations were asked for.
pub(crate) fn location_drift(want: &[String], got: Option<&Replication>) -> Option<String> {
    if want.is_empty() {
        return None;
    }
    let have = match got.and_then(|r| r.user_managed()) {
        Some(u) => {
            let mut l: Vec<&str> = u.replicas.iter().map(|r| r.location.as_str()).collect();
            l.sort_unstable();
            if l == want.iter().map(String::as_str).collect::<Vec<_>>() {
                return None;
            }
            format!("user-managed in {}", l.join(","))
        }
        None => "automatic".into(),
    };
    Some(format!(
        "replication is {have}, locations={} asks for user-managed in those; GCP cannot change a secret's replication: recreate the secret (delete it and apply), or change locations= to match",
        want.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_options_or_clear_errors() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        let o = GcpSmOptions::from_url(&u(
            "gcp-sm://proj?auth=none&locations=europe-west4,europe-west1&endpoint=http://127.0.0.1:9",
        ))
        .unwrap();
        assert_eq!(o.project, "proj");
        assert!(o.gcp.anonymous);
        assert_eq!(o.gcp.endpoint.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(o.locations, ["europe-west1", "europe-west4"]);
        assert!(GcpSmOptions::from_url(&u("gcp-sm://proj?auth=none"))
            .unwrap()
            .locations
            .is_empty());
        for (bad, want) in [
            (
                "gcp-sm://proj?locations=Europe_West1",
                "\"Europe_West1\" is not a GCP location",
            ),
            ("gcp-sm://proj?locations=", "locations= is empty"),
            ("gcp-sm://proj?colour=red", "endpoint, auth and locations"),
            ("gcp-sm://proj?auth=basic", "auth=basic"),
            ("gcp-sm://", "needs a project"),
        ] {
            let err = GcpSmOptions::from_url(&u(bad)).unwrap_err();
            assert!(err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn replication_is_asked_for_and_checked_against_locations() {
        let want = vec!["europe-west1".to_string(), "europe-west4".to_string()];
        let asked = replication(&want);
        let locs: Vec<&str> = asked
            .user_managed()
            .unwrap()
            .replicas
            .iter()
            .map(|r| r.location.as_str())
            .collect();
        assert_eq!(locs, ["europe-west1", "europe-west4"]);
        assert!(replication(&[]).automatic().is_some());

        assert_eq!(location_drift(&want, Some(&asked)), None);
        // Nothing asked for: not checked.
        assert_eq!(location_drift(&[], Some(&asked)), None);
        let d = location_drift(&want, Some(&replication(&[]))).unwrap();
        assert!(
            d.starts_with("replication is automatic, locations=europe-west1,europe-west4"),
            "{d}"
        );
        let d = location_drift(&want, Some(&replication(&want[..1]))).unwrap();
        assert!(d.contains("user-managed in europe-west1,"), "{d}");
        assert!(d.contains("recreate the secret"), "{d}");
    }
}
