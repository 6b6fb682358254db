//! The human migrate and import reports.

use super::plan::{render_apply, render_plan};
use super::Human;
use crate::app::migrate::{ImportReport, MigrateReport};

impl Human for MigrateReport {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.dry_run {
            for m in self
                .mappings
                .iter()
                .filter(|m| m.from.strip_prefix(&self.prefix_from) != Some(m.to.as_str()))
            {
                out.push_str(&format!(
                    "rename {} -> {}{}\n",
                    m.from, self.prefix_to, m.to
                ));
            }
            out.push_str(&render_plan(&self.plan));
            out.push_str(&format!("Owner labels: {}\n", self.owner));
            out.push_str("(dry run: nothing written)\n");
            return out;
        }
        if let Some(r) = &self.report {
            out.push_str(&render_apply(r));
        }
        if let Some(v) = &self.verified {
            out.push_str(&format!(
                "Verified by reading back: {} equal, {} differ, {} missing.\n",
                v.equal, v.differs, v.missing
            ));
            for p in &v.problems {
                out.push_str(&format!("  {}: {:?}\n", p.name, p.result));
            }
        }
        out.push_str(&format!("Owner labels: {}\n", self.owner));
        out
    }
}

impl Human for ImportReport {
    fn human(&self) -> String {
        let verb = if self.dry_run {
            "would import"
        } else {
            "imported"
        };
        let mut out = format!(
            "{verb} {} for {}; {} already equal; {} skipped\n",
            super::count(self.imported.len(), "secret"),
            self.selector,
            self.unchanged.len(),
            self.skipped.len()
        );
        for s in &self.skipped {
            out.push_str(&format!("  skipped {}: {}\n", s.name, s.reason));
        }
        out
    }
}
