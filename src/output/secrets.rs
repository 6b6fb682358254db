//! The human reports of the value commands.

use super::Human;
use crate::app::secrets::{DeleteOutcome, History, Rollback, SetOutcome};

impl Human for SetOutcome {
    fn human(&self) -> String {
        let mut out = format!(
            "set {} for {} (version {})\n",
            self.name, self.selector, self.version
        );
        for s in &self.split {
            let keeps = if s.to.contains(',') { "keep" } else { "keeps" };
            out.push_str(&format!(
                "  split: {} now has its own value; {} {keeps} the value they shared (was {})\n",
                self.selector, s.to, s.from
            ));
        }
        for old in &self.absorbed {
            out.push_str(&format!(
                "  replaced the value of {old} (kept in history: `secretsync history {} --type ...`)\n",
                self.name
            ));
        }
        out
    }
}

impl Human for DeleteOutcome {
    fn human(&self) -> String {
        if self.what.is_none() {
            return format!(
                "deleted {} ({}; `secretsync undelete {}` brings it back until the next key rotate)\n",
                self.name,
                super::count(self.changes.len(), "value"),
                self.name
            );
        }
        self.changes
            .iter()
            .map(|c| match &c.remaining {
                Some(rest) => format!(
                    "deleted {} for {}; {rest} keep their value\n",
                    self.name,
                    self.what.as_deref().unwrap_or_default()
                ),
                None => format!("deleted {} for {}\n", self.name, c.selector),
            })
            .collect()
    }
}

impl Human for History {
    fn human(&self) -> String {
        let mut t = super::table(["VERSION", "SET AT", "REPLACED AT"]);
        for v in &self.versions {
            t.add_row(vec![
                v.version.to_string(),
                super::time(&v.updated),
                v.replaced
                    .map_or_else(|| "(current)".into(), |r| super::time(&r)),
            ]);
        }
        format!("{} for {}:\n{t}\n", self.name, self.selector)
    }
}

impl Human for crate::app::secrets::Undeleted {
    fn human(&self) -> String {
        format!(
            "restored {} ({})\n",
            self.name,
            super::count(self.values, "value")
        )
    }
}

impl Human for Rollback {
    fn human(&self) -> String {
        format!(
            "restored {} for {} to the value of version {} (now version {})\n",
            self.name, self.selector, self.restored, self.version
        )
    }
}
