//! The human `list` table and `check` report.

use super::Human;
use crate::app::overview::{CheckReport, ListReport, Source};

impl Human for ListReport {
    fn human(&self) -> String {
        if self.secrets.is_empty() {
            return "no secrets declared or set yet: declare them in secretsync.toml, then `secretsync set NAME --type dev`\n".into();
        }
        let header = std::iter::once("SECRET".to_string())
            .chain(self.env_names.iter().cloned())
            .chain(std::iter::once("DESCRIPTION".to_string()));
        let mut table = super::table(header);
        for s in &self.secrets {
            let mut row = vec![if s.declared {
                s.name.clone()
            } else {
                format!("{} (undeclared)", s.name)
            }];
            for e in &self.env_names {
                row.push(cell_text(&s.environments[e]));
            }
            row.push(s.description.clone().unwrap_or_default());
            table.add_row(row);
        }
        match super::render_fitting(table) {
            Some(text) => format!("{text}\n"),
            // Too wide for the terminal: one block a secret, one line an environment.
            None => self.stacked(),
        }
    }
}

impl ListReport {
    fn stacked(&self) -> String {
        let width = self.env_names.iter().map(String::len).max().unwrap_or(0);
        let mut out = String::new();
        for s in &self.secrets {
            out.push_str(&s.name);
            out.push_str(if s.declared { "" } else { " (undeclared)" });
            match &s.description {
                Some(d) => out.push_str(&format!(": {d}\n")),
                None => out.push('\n'),
            }
            for e in &self.env_names {
                out.push_str(&format!(
                    "  {e:<width$}  {}\n",
                    cell_text(&s.environments[e])
                ));
            }
        }
        out
    }
}

fn cell_text(c: &crate::app::overview::Cell) -> String {
    let v = c.version.unwrap_or_default();
    match c.source {
        Source::Set => format!("set v{v}"),
        Source::Type => "via type".into(),
        Source::Override => format!("override v{v}"),
        Source::Missing => "missing".into(),
    }
}

impl Human for CheckReport {
    fn human(&self) -> String {
        let mut out = String::new();
        if self.declared == 0 {
            out.push_str("no secrets are declared (secretsync.toml [secrets.NAME], or Go roots under [go]); nothing to check\n");
        }
        for e in &self.environments {
            let env = if e.name == e.env_type {
                e.name.clone()
            } else {
                format!("{} ({})", e.name, e.env_type)
            };
            if e.missing.is_empty() {
                out.push_str(&format!(
                    "ok      {env}: {} set\n",
                    if self.declared == 1 {
                        "the declared secret".to_string()
                    } else {
                        format!("all {} declared secrets", self.declared)
                    }
                ));
            } else {
                out.push_str(&format!("MISSING {env}: {}\n", e.missing.join(", ")));
            }
        }
        if !self.undeclared.is_empty() {
            // A store of thousands would print one line of them all: the first few say enough.
            const SHOWN: usize = 20;
            let more = self.undeclared.len().saturating_sub(SHOWN);
            out.push_str(&format!(
                "note: set but not declared: {}{}\n",
                self.undeclared[..self.undeclared.len().min(SHOWN)].join(", "),
                if more > 0 {
                    format!(" and {more} more (`secretsync check --json` lists them all)")
                } else {
                    String::new()
                }
            ));
        }
        if !self.ok {
            out.push_str("set them with `secretsync set NAME --type TYPE` or `--env ENV`\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(undeclared: usize) -> CheckReport {
        CheckReport {
            ok: true,
            declared: 1,
            environments: vec![],
            undeclared: (0..undeclared).map(|i| format!("S{i:02}")).collect(),
        }
    }

    #[test]
    fn the_undeclared_note_names_twenty_and_counts_the_rest() {
        let few = report(20).human();
        assert!(few.contains("set but not declared: S00, S01,"), "{few}");
        assert!(few.contains("S19\n") && !few.contains("more"), "{few}");
        let many = report(25).human();
        assert!(
            many.contains("S19 and 5 more (`secretsync check --json` lists them all)\n"),
            "{many}"
        );
        assert!(!many.contains("S20"), "{many}");
    }
}
