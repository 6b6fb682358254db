//! The outermost layer: refuses writes a backend's [`Capabilities`] say it cannot take (names,
//! values, labels, write modes) before any call, and gives every error its context (the
//! backend's scheme, the operation, the secret), so backends need not do either themselves.
//! Reads are not refused by name: a name the backend listed is read even when it breaks the
//! rules this backend writes by (a file edited by hand, a store another tool filled).

use crate::backend::SecretBackend;
use crate::error::{BackendError, Op, Result};
use crate::types::{
    BackendInfo, Capabilities, DeleteOptions, Page, PutOptions, PutOutcome, Secret, SecretMeta,
};
use crate::value::SecretValue;
use async_trait::async_trait;
use std::sync::Arc;

/// A backend whose calls are checked against its capabilities and whose errors carry context.
#[derive(Debug)]
pub struct Checked {
    inner: Arc<dyn SecretBackend>,
    scheme: String,
}

impl Checked {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn SecretBackend>) -> Self {
        let scheme = inner.info().scheme;
        Self { inner, scheme }
    }

    fn name_ok(&self, op: Op, name: &str) -> Result<()> {
        self.inner.capabilities().check_name(&self.scheme, op, name)
    }

    /// Fills in what the backend left out: its scheme, the operation, the secret.
    fn context(&self, op: Op, name: Option<&str>) -> impl Fn(BackendError) -> BackendError + '_ {
        let name: Option<Box<str>> = name.map(Into::into);
        move |mut e| {
            if e.backend.is_empty() {
                e.backend = self.scheme.clone();
            }
            e.op = op;
            if e.name.is_none() {
                e.name = name.clone();
            }
            e
        }
    }
}

#[async_trait]
impl SecretBackend for Checked {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn wire(&self) -> Option<&super::Wire> {
        self.inner.wire()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        self.inner
            .list(prefix, page)
            .await
            .map_err(self.context(Op::List, None))
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        self.inner
            .head(name)
            .await
            .map_err(self.context(Op::Head, Some(name)))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        self.inner
            .get(name)
            .await
            .map_err(self.context(Op::Get, Some(name)))
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        self.inner
            .get_many(names)
            .await
            .map_err(self.context(Op::BatchGet, None))
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        self.inner
            .capabilities()
            .check_put(&self.scheme, name, value, opts)?;
        self.inner
            .put(name, value, opts)
            .await
            .map_err(self.context(Op::Put, Some(name)))
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        self.name_ok(Op::Delete, name)?;
        self.inner
            .delete(name, opts)
            .await
            .map_err(self.context(Op::Delete, Some(name)))
    }

    async fn restore(&self, name: &str) -> Result<()> {
        self.name_ok(Op::Restore, name)?;
        self.inner
            .restore(name)
            .await
            .map_err(self.context(Op::Restore, Some(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::memory::MemoryBackend;
    use crate::types::{NameRules, PutMode};

    fn checked(caps: Capabilities) -> Checked {
        Checked::new(Arc::new(MemoryBackend::new().with_capabilities(caps)))
    }

    #[tokio::test]
    async fn every_write_refuses_bad_names_before_any_call() {
        let caps = Capabilities {
            names: NameRules {
                max_len: 8,
                extra_chars: "_",
                rooted_paths: false,
                reserved_prefixes: &[],
            },
            ..MemoryBackend::default_capabilities()
        };
        let b = checked(caps);
        let bad = "has/slash";
        let errs = [
            b.put(bad, &"v".into(), &PutOptions::default())
                .await
                .unwrap_err(),
            b.delete(bad, &DeleteOptions::default()).await.unwrap_err(),
            b.restore(bad).await.unwrap_err(),
        ];
        for (e, op) in errs.iter().zip([Op::Put, Op::Delete, Op::Restore]) {
            assert_eq!((e.kind, e.op), (ErrorKind::InvalidInput, op), "{e}");
            assert_eq!(e.backend, "memory", "{e}");
            assert_eq!(e.name.as_deref(), Some(bad), "{e}");
        }
        // Reads are not refused by name: a listed name is read whatever it looks like.
        assert!(b.get(bad).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn unsupported_modes_are_refused_and_errors_carry_context() {
        let caps = Capabilities {
            if_version: false,
            ..MemoryBackend::default_capabilities()
        };
        let b = checked(caps);
        let opts = PutOptions {
            mode: PutMode::IfVersion("1".into()),
            ..Default::default()
        };
        let e = b.put("A", &"v".into(), &opts).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
        // An error from the backend itself gets the scheme, op and name it lacked.
        let e = b
            .delete("Missing", &DeleteOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(
            (e.backend.as_str(), e.op, e.name.as_deref()),
            ("memory", Op::Delete, Some("Missing"))
        );
    }

    #[tokio::test]
    async fn a_refused_value_says_what_to_do_and_not_what_it_was() {
        let caps = Capabilities {
            max_value_bytes: 4,
            binary_values: false,
            value_hint: "use the big tier",
            ..MemoryBackend::default_capabilities()
        };
        let b = checked(caps);
        let big = b
            .put("A", &"12345".into(), &PutOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            big.contains("5 bytes; the limit is 4 (use the big tier)") && !big.contains("12345"),
            "{big}"
        );
        let binary = b
            .put("A", &SecretValue::new(vec![0xff]), &PutOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            binary.contains("text only") && binary.contains("(use the big tier)"),
            "{binary}"
        );
        // Without a hint, nothing is added.
        let plain = checked(Capabilities {
            max_value_bytes: 4,
            ..MemoryBackend::default_capabilities()
        });
        let e = plain
            .put("A", &"12345".into(), &PutOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("the limit is 4 (invalid_input)"), "{e}");
    }
}
