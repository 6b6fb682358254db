//! The human `key` reports.

use super::Human;
use crate::app::keys::{KeyList, Rotated};

impl Human for KeyList {
    fn human(&self) -> String {
        let mut t = super::table(["RECIPIENT", "ADDED", ""]);
        for r in &self.recipients {
            let yours = if r.yours { "(you)" } else { "" };
            t.add_row(vec![r.id.clone(), super::time(&r.added), yours.into()]);
        }
        format!("{t}\n")
    }
}

impl Human for Rotated {
    fn human(&self) -> String {
        let mut out = format!(
            "rotated the data key: re-sealed {} for {}\n",
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
