//! The human `pull` report.

impl super::Human for crate::app::inject::Pulled {
    fn human(&self) -> String {
        format!(
            "pulled {} of {} into {} (mode 0600)\n",
            super::count(self.values, "value"),
            self.env,
            self.cache.display()
        )
    }
}
