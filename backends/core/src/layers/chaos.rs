//! Fault injection for tests and benchmarks (the `chaos` feature): a backend wrapper that
//! answers chosen calls with throttling, transient faults or denials, or applies a write and
//! then loses its response. Production code never builds it.

use crate::backend::SecretBackend;
use crate::error::{BackendError, ErrorKind, Op, Result};
use crate::types::{
    BackendInfo, Capabilities, DeleteOptions, Page, PutOptions, PutOutcome, Secret, SecretMeta,
};
use crate::value::SecretValue;
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Faults to inject: each counter fails that many upcoming calls.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Calls answered `Throttled` (with a short retry-after).
    pub throttle: usize,
    /// Calls answered `Transient`.
    pub transient: usize,
    /// Writes that are applied but answered `Transient`, as if the response was lost.
    pub lose_write_response: usize,
    /// Names every call on which is answered `PermissionDenied`.
    pub deny: BTreeSet<String>,
    /// Every Nth call is answered `Throttled` (0: never).
    pub throttle_every: usize,
    /// Every Nth write is applied but answered `Transient` (0: never).
    pub lose_every: usize,
    calls: usize,
    writes: usize,
}

/// A backend with faults injected into the calls made through it. Clones share the faults, so
/// a test keeps one to change them while the stack holds another.
#[derive(Debug, Clone)]
pub struct Chaos {
    inner: Arc<dyn SecretBackend>,
    faults: Arc<Mutex<Faults>>,
}

impl Chaos {
    /// Wraps `inner` with no faults yet.
    pub fn new(inner: Arc<dyn SecretBackend>) -> Self {
        Self {
            inner,
            faults: Default::default(),
        }
    }

    /// Changes the faults to inject.
    pub fn inject(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock().expect("faults lock"));
    }

    fn err(kind: ErrorKind, op: Op, name: &str, msg: &str) -> BackendError {
        BackendError::new(kind, op, msg).name(name)
    }

    fn fault(&self, op: Op, name: &str) -> Result<()> {
        let mut f = self.faults.lock().expect("faults lock");
        if f.deny.contains(name) {
            return Err(Self::err(
                ErrorKind::PermissionDenied,
                op,
                name,
                "access denied (injected)",
            ));
        }
        f.calls += 1;
        let periodic = f.throttle_every > 0 && f.calls.is_multiple_of(f.throttle_every);
        if f.throttle > 0 || periodic {
            f.throttle = f.throttle.saturating_sub(usize::from(!periodic));
            return Err(
                Self::err(ErrorKind::Throttled, op, name, "rate exceeded (injected)")
                    .retry_after(Some(Duration::from_millis(5))),
            );
        }
        if f.transient > 0 {
            f.transient -= 1;
            return Err(Self::err(
                ErrorKind::Transient,
                op,
                name,
                "service unavailable (injected)",
            ));
        }
        Ok(())
    }

    fn lost_response(&self, name: &str) -> Result<()> {
        let mut f = self.faults.lock().expect("faults lock");
        f.writes += 1;
        let periodic = f.lose_every > 0 && f.writes.is_multiple_of(f.lose_every);
        if f.lose_write_response > 0 || periodic {
            f.lose_write_response = f.lose_write_response.saturating_sub(usize::from(!periodic));
            return Err(Self::err(
                ErrorKind::Transient,
                Op::Put,
                name,
                "connection reset after the write (injected)",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl SecretBackend for Chaos {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        self.fault(Op::List, prefix)?;
        self.inner.list(prefix, page).await
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        self.fault(Op::Head, name)?;
        self.inner.head(name).await
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        self.fault(Op::Get, name)?;
        self.inner.get(name).await
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        self.fault(
            Op::BatchGet,
            names.first().map(String::as_str).unwrap_or_default(),
        )?;
        self.inner.get_many(names).await
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        self.fault(Op::Put, name)?;
        let out = self.inner.put(name, value, opts).await?;
        self.lost_response(name)?;
        Ok(out)
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        self.fault(Op::Delete, name)?;
        self.inner.delete(name, opts).await
    }

    async fn restore(&self, name: &str) -> Result<()> {
        self.fault(Op::Restore, name)?;
        self.inner.restore(name).await
    }
}
