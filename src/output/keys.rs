//! The human `key` reports.

use super::Human;
use crate::app::keys::{KeyAdded, KeyList, KeyRemoved, Rotated, Upgraded};

impl Human for KeyList {
    fn human(&self) -> String {
        let mut s = super::table(["SCOPE", "TYPES", "RECIPIENTS"]);
        for sc in &self.scopes {
            s.add_row(vec![
                sc.name.clone(),
                sc.types.join(","),
                sc.recipients.to_string(),
            ]);
        }
        let mut t = super::table(["RECIPIENT", "SCOPES", "ADDED", ""]);
        for r in &self.recipients {
            let yours = if r.yours { "(you)" } else { "" };
            t.add_row(vec![
                r.id.clone(),
                r.scopes.join(","),
                super::time(&r.added),
                yours.into(),
            ]);
        }
        let note = if self.format < crate::store::FORMAT {
            "\nnote: this store is in format 1 (one key for every value); `secretsync upgrade` gives it scopes\n"
        } else {
            ""
        };
        format!("{s}\n\n{t}\n{note}")
    }
}

impl Human for Upgraded {
    fn human(&self) -> String {
        if !self.changed {
            return format!(
                "the store is already in format {} with scopes {}\n",
                self.format,
                self.scopes.join(", ")
            );
        }
        format!(
            "upgraded the store from format {} to {} with scopes {}; every recipient it had can open every scope it held: take developers out of production with `secretsync key remove RECIPIENT --scope production`, then `secretsync key rotate --scope production --fingerprint`\n",
            self.from_format,
            self.format,
            self.scopes.join(", ")
        )
    }
}

impl Human for Rotated {
    fn human(&self) -> String {
        let mut out = format!(
            "rotated the key of scope{} {}: re-sealed {} for {}\n",
            if self.scopes.len() == 1 { "" } else { "s" },
            self.scopes.join(", "),
            super::count(self.values, "value"),
            super::count(self.recipients, "recipient")
        );
        if self.fingerprint_key {
            out.push_str(
                "rotated the fingerprint key: the next apply rewrites each secret once with new labels\n",
            );
        }
        out
    }
}

/// `scope` or `scopes`, and the names.
fn scopes(names: &[String]) -> String {
    format!(
        "scope{} {}",
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    )
}

impl Human for KeyAdded {
    fn human(&self) -> String {
        format!(
            "added recipient {} to {}\n",
            self.added,
            scopes(&self.scopes)
        )
    }
}

impl Human for KeyRemoved {
    fn human(&self) -> String {
        format!(
            "removed recipient {} from {}\n",
            self.removed,
            scopes(&self.scopes)
        )
    }
}
