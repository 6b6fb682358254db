//! The human `pull` report.

impl super::Human for crate::app::inject::Pulled {
    fn human(&self) -> String {
        format!(
            "pulled {} values of {} into {} (mode 0600)\n",
            self.values,
            self.env,
            self.cache.display()
        )
    }
}
