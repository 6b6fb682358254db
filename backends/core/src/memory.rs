//! `memory://`: an in-process backend that behaves like a cloud one (versions, conditional and
//! idempotent writes, soft delete, pagination), for tests (faults come from the chaos layer). Backends opened
//! with the same name in one process share their secrets.

use crate::backend::SecretBackend;
use crate::error::{BackendError, ErrorKind, Op, Result};
use crate::types::*;
use crate::value::SecretValue;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

#[derive(Debug)]
struct Version {
    id: String,
    value: SecretValue,
    token: Option<String>,
}

#[derive(Debug)]
struct Entry {
    versions: Vec<Version>,
    labels: Labels,
    updated: SystemTime,
    pending_delete: bool,
}

impl Entry {
    fn current(&self) -> &Version {
        self.versions.last().expect("an entry has a version")
    }

    fn meta(&self, name: &str) -> SecretMeta {
        SecretMeta {
            name: name.into(),
            labels: self.labels.clone(),
            version: Some(self.current().id.clone()),
            updated: Some(self.updated),
            placement_drift: None,
        }
    }
}

type State = Arc<Mutex<BTreeMap<String, Entry>>>;

/// The in-memory backend.
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    name: String,
    state: State,
    caps: Capabilities,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

fn shared(name: &str) -> State {
    static REGISTRY: OnceLock<Mutex<HashMap<String, State>>> = OnceLock::new();
    let mut reg = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .expect("registry lock");
    reg.entry(name.into()).or_default().clone()
}

impl MemoryBackend {
    /// A new, private, empty backend.
    pub fn new() -> Self {
        Self {
            name: String::new(),
            state: State::default(),
            caps: Self::default_capabilities(),
        }
    }

    /// The backend called `name` in this process (`memory://name`), shared by all who open it.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.into(),
            state: shared(name),
            caps: Self::default_capabilities(),
        }
    }

    /// Cloud-like defaults: 100 a page, 64 KiB, tags in list, everything conditional.
    pub fn default_capabilities() -> Capabilities {
        Capabilities {
            max_batch_get: 10,
            if_version: true,
            ..Capabilities::baseline()
        }
    }

    /// The same backend with other capabilities (a smaller page, say).
    pub fn with_capabilities(mut self, caps: Capabilities) -> Self {
        self.caps = caps;
        self
    }

    /// Sets label `key` of secret `name` to `value` (or removes it), as a person with console
    /// access would: no new version. For tests.
    pub fn set_label(&self, name: &str, key: &str, value: Option<&str>) {
        let mut s = self.state.lock().expect("memory lock");
        if let Some(e) = s.get_mut(name) {
            match value {
                Some(v) => e.labels.insert(key.into(), v.into()),
                None => e.labels.remove(key),
            };
        }
    }

    /// Versions kept for `name` (0 when absent), to prove writes were not duplicated.
    pub fn version_count(&self, name: &str) -> usize {
        self.state
            .lock()
            .expect("state lock")
            .get(name)
            .map_or(0, |e| e.versions.len())
    }

    fn err(&self, kind: ErrorKind, op: Op, name: &str, msg: impl Into<String>) -> BackendError {
        BackendError::new(kind, op, msg).name(name)
    }
}

#[async_trait]
impl SecretBackend for MemoryBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            scheme: "memory".into(),
            target: self.name.clone(),
        }
    }

    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    async fn list(&self, prefix: &str, page: Option<String>) -> Result<Page<SecretMeta>> {
        let st = self.state.lock().expect("state lock");
        let mut items: Vec<SecretMeta> = st
            .range(page.clone().unwrap_or_else(|| prefix.to_string())..)
            .filter(|(n, _)| Some(*n) != page.as_ref())
            .take_while(|(n, _)| n.starts_with(prefix))
            .filter(|(_, e)| !e.pending_delete)
            .take(self.caps.max_page_size + 1)
            .map(|(n, e)| e.meta(n))
            .collect();
        let next = if items.len() > self.caps.max_page_size {
            items.pop();
            items.last().map(|m| m.name.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn head(&self, name: &str) -> Result<Option<SecretMeta>> {
        let st = self.state.lock().expect("state lock");
        Ok(st
            .get(name)
            .filter(|e| !e.pending_delete)
            .map(|e| e.meta(name)))
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>> {
        let st = self.state.lock().expect("state lock");
        Ok(st.get(name).filter(|e| !e.pending_delete).map(|e| Secret {
            name: name.into(),
            value: e.current().value.clone(),
            version: Some(e.current().id.clone()),
        }))
    }

    async fn get_many(&self, names: &[String]) -> Result<Vec<Option<Secret>>> {
        let st = self.state.lock().expect("state lock");
        Ok(names
            .iter()
            .map(|n| {
                st.get(n).filter(|e| !e.pending_delete).map(|e| Secret {
                    name: n.clone(),
                    value: e.current().value.clone(),
                    version: Some(e.current().id.clone()),
                })
            })
            .collect())
    }

    async fn put(&self, name: &str, value: &SecretValue, opts: &PutOptions) -> Result<PutOutcome> {
        let outcome = {
            let mut st = self.state.lock().expect("state lock");
            let now = SystemTime::now();
            match st.get_mut(name) {
                Some(e) if e.pending_delete => {
                    return Err(self.err(
                        ErrorKind::PendingDeletion,
                        Op::Put,
                        name,
                        "the secret is scheduled for deletion: restore it, or delete it with force first",
                    ))
                }
                Some(e) if opts.mode == PutMode::CreateOnly => {
                    // A retried create (same token, same value) succeeds again, as on AWS.
                    let first = &e.versions[0];
                    if e.versions.len() == 1 && opts.token.is_some() && first.token == opts.token && first.value == *value {
                        PutOutcome { created: true, version: Some(first.id.clone()) }
                    } else {
                        return Err(self.err(ErrorKind::AlreadyExists, Op::Put, name, "the secret already exists"));
                    }
                }
                Some(e) => {
                    // A repeated write (same token) is answered before any condition: it landed.
                    let reused = opts.token.as_ref().and_then(|t| e.versions.iter().find(|v| v.token.as_ref() == Some(t)));
                    if let (PutMode::IfVersion(v), None) = (&opts.mode, reused) {
                        if &e.current().id != v {
                            return Err(self.err(ErrorKind::Conflict, Op::Put, name, format!("the current version is not {v}")));
                        }
                    }
                    let version = match reused {
                        Some(v) if &v.value == value => v.id.clone(),
                        Some(_) => {
                            return Err(self.err(ErrorKind::Conflict, Op::Put, name, "the idempotency token was already used with another value"))
                        }
                        None => {
                            let id = opts.token.clone().unwrap_or_else(|| (e.versions.len() + 1).to_string());
                            e.versions.push(Version { id: id.clone(), value: value.clone(), token: opts.token.clone() });
                            e.updated = now;
                            id
                        }
                    };
                    e.labels.extend(opts.labels.clone());
                    PutOutcome { created: false, version: Some(version) }
                }
                None => {
                    if let PutMode::IfVersion(_) = opts.mode {
                        return Err(self.err(ErrorKind::NotFound, Op::Put, name, "no such secret to update conditionally"));
                    }
                    let id = opts.token.clone().unwrap_or_else(|| "1".into());
                    st.insert(
                        name.into(),
                        Entry {
                            versions: vec![Version { id: id.clone(), value: value.clone(), token: opts.token.clone() }],
                            labels: opts.labels.clone(),
                            updated: now,
                            pending_delete: false,
                        },
                    );
                    PutOutcome { created: true, version: Some(id) }
                }
            }
        };
        Ok(outcome)
    }

    async fn delete(&self, name: &str, opts: &DeleteOptions) -> Result<()> {
        let mut st = self.state.lock().expect("state lock");
        match (st.get_mut(name), opts.mode) {
            (None, _) => Err(self.err(ErrorKind::NotFound, Op::Delete, name, "no such secret")),
            (Some(_), DeleteMode::Force) => {
                st.remove(name);
                Ok(())
            }
            (Some(e), _) if e.pending_delete => Err(self.err(
                ErrorKind::Conflict,
                Op::Delete,
                name,
                "already scheduled for deletion",
            )),
            (Some(e), _) => {
                e.pending_delete = true;
                Ok(())
            }
        }
    }

    async fn restore(&self, name: &str) -> Result<()> {
        let mut st = self.state.lock().expect("state lock");
        match st.get_mut(name) {
            Some(e) => {
                e.pending_delete = false;
                Ok(())
            }
            None => Err(self.err(ErrorKind::NotFound, Op::Restore, name, "no such secret")),
        }
    }
}
