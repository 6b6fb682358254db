//! The human `policy` report: the document alone, ready to pipe into the service's tools.

use super::Human;
use crate::app::policy::PolicyReport;

impl Human for PolicyReport {
    fn human(&self) -> String {
        match self {
            PolicyReport::Job(p) => p.policy.text.clone(),
            PolicyReport::Open(o) => match o.recipients.first() {
                Some(r) => r.policy.text.clone(),
                None => o.notes.iter().map(|n| format!("{n}\n")).collect(),
            },
        }
    }
}
