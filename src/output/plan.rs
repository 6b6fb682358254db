//! The human plan and apply report: names and actions, never values.

use crate::sync::plan::LEGEND;
use crate::sync::{Action, ApplyReport, Plan, Status};

/// Renders a plan like terraform: one line a change, unchanged ones counted.
pub fn render_plan(p: &Plan) -> String {
    let mut out = format!("{} → {}{}\n", p.env, p.backend, prefix_note(&p.prefix));
    let width = p
        .items
        .iter()
        .filter(|i| i.action != Action::Unchanged)
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0);
    for i in p.items.iter().filter(|i| i.action != Action::Unchanged) {
        let mark = i.action.mark(i.blocked);
        out.push_str(&format!("  {mark} {:<width$}  {}\n", i.name, i.reason));
    }
    if width > 0 {
        out.push_str(&format!("  ({LEGEND})\n"));
    }
    let s = p.summary();
    if let Some(r) = &p.delete_refusal {
        out.push_str(&format!("  refused: {r}\n"));
    }
    if p.drift_unchecked {
        out.push_str("  note: this backend's listing shows no versions, so drift is not checked; --check-drift reads each secret's metadata to check it (--verify reads the values)\n");
    }
    out.push_str(&format!(
        "Plan: {} to create, {} to update, {} to delete, {} drifted, {} refused, {} unchanged{}.\n",
        s.create,
        s.update,
        s.delete,
        s.drift,
        s.blocked,
        s.unchanged,
        if s.orphan > 0 {
            format!(", {} orphaned (--prune deletes them)", s.orphan)
        } else {
            String::new()
        }
    ));
    out
}

fn prefix_note(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!(" (prefix {prefix:?})")
    }
}

/// Renders an apply report: each change and how it ended, then the totals.
pub fn render_apply(r: &ApplyReport) -> String {
    let mut out = format!("{} → {}\n", r.env, r.backend);
    let width = r
        .results
        .iter()
        .filter(|x| x.status != Status::Unchanged)
        .map(|x| x.name.len())
        .max()
        .unwrap_or(0);
    for x in r.results.iter().filter(|x| x.status != Status::Unchanged) {
        let what = match x.status {
            Status::Done => "done".to_string(),
            Status::Failed => format!(
                "FAILED: {}",
                x.error.as_ref().map_or("", |e| e.message.as_str())
            ),
            Status::Skipped => format!(
                "skipped: {}",
                x.error.as_ref().map_or("", |e| e.message.as_str())
            ),
            Status::Unchanged => unreachable!(),
        };
        out.push_str(&format!(
            "  {} {:<width$}  {what}\n",
            x.action.mark(x.status == Status::Skipped),
            x.name
        ));
    }
    for h in r.hints() {
        out.push_str(&format!("  hint: {h}\n"));
    }
    out.push_str(&format!(
        "Apply: {} done, {} failed, {} skipped, {} unchanged.\n",
        r.count(Status::Done),
        r.count(Status::Failed),
        r.count(Status::Skipped),
        r.count(Status::Unchanged)
    ));
    out
}

impl super::Human for crate::app::sync::PlanReport {
    fn human(&self) -> String {
        self.environments
            .iter()
            .map(|e| render_plan(&e.plan))
            .collect()
    }
}

impl super::Human for crate::app::sync::ApplyOutcome {
    fn human(&self) -> String {
        self.environments
            .iter()
            .map(|e| render_apply(&e.report))
            .collect()
    }
}

impl super::Human for crate::app::teardown::TeardownOutcome {
    fn human(&self) -> String {
        let mut out = self.outcome.human();
        if !self.kept.is_empty() {
            let kept: Vec<String> = self
                .kept
                .iter()
                .map(|k| format!("{} ({})", k.instance, super::count(k.secrets, "secret")))
                .collect();
            out.push_str(&format!("Kept: {}.\n", kept.join(", ")));
        }
        out
    }
}

impl super::Human for crate::app::sync::RestoreReport {
    fn human(&self) -> String {
        self.results
            .iter()
            .filter(|r| r.restored)
            .map(|r| format!("restored {}\n", r.name))
            .collect()
    }
}
