//! The human `init` report.

use super::Human;
use crate::app::init::InitReport;
use crate::config::CONFIG_FILE;

impl Human for InitReport {
    fn human(&self) -> String {
        let verb = |created| if created { "created" } else { "found" };
        let mut out = format!("{} {}\n", verb(self.config_created), self.shown.0);
        out.push_str(&format!(
            "{} identity {} (public key {})\n",
            verb(self.identity_created),
            self.identity,
            self.recipient
        ));
        out.push_str(&format!(
            "{} store {} (id {})\n",
            verb(self.store_created),
            self.shown.1,
            self.store_id
        ));
        if !self.store_created && !self.can_open {
            out.push_str(&format!(
                "note: your identity cannot open this store yet; ask someone who can to run\n  secretsync key add {}\n",
                self.recipient
            ));
        }
        if self.merge_attribute_added {
            out.push_str("added the store's merge driver to .gitattributes; enable it once per clone with\n  git config merge.secretsync.driver \"secretsync merge-file %O %A %B\"\n");
        }
        if self.store_created {
            out.push_str(&format!(
                "next: declare secrets in {CONFIG_FILE}, then `secretsync set NAME --type dev`\n"
            ));
        }
        out
    }
}
