//! The checks a store file passes when it is loaded: a header, scopes, recipients and values
//! that make sense together, each refusal naming what is wrong and what to do.

use super::file::Store;
use super::format::FORMAT_V1;
use super::{crypto, format, Result, StoreError};
use crate::model::{is_scope_name, EnvType, ScopeLayout, SecretName, Selector, TypeSet};
use std::collections::BTreeMap;

impl Store {
    pub(super) fn validate(&self) -> Result<()> {
        let bad = |msg: String| StoreError::Parse(self.path.clone(), msg);
        let h = &self.file.secretsync;
        let v1 = h.format == FORMAT_V1;
        if !crypto::is_store_id(&h.store_id) {
            return Err(bad(format!(
                "store_id {:?} is not a store id (32 lowercase hex digits): the header was edited. Restore the file from version control",
                h.store_id
            )));
        }
        let cipher = if v1 {
            format::CIPHER_V1
        } else {
            format::CIPHER
        };
        if h.cipher != cipher {
            return Err(bad(format!("unknown cipher {:?}", h.cipher)));
        }
        if self.file.scopes.is_empty() {
            return Err(bad("the store has no scopes, so nobody can open it: restore the file from version control".into()));
        }
        let mut layout = BTreeMap::new();
        for (name, scope) in &self.file.scopes {
            if !v1 && !is_scope_name(name) {
                return Err(bad(format!("scope name {name:?} is not valid")));
            }
            if scope.recipients.is_empty() {
                return Err(bad(if v1 {
                    "the store has no recipients, so nobody can open it".into()
                } else {
                    format!("scope {name} has no recipients, so nobody can open it: restore the file from version control")
                }));
            }
            if !v1
                && (scope.public_key.len() != 64
                    || !scope.public_key.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(bad(format!(
                    "scope {name}: public_key is not a key (64 hex digits): restore the file from version control"
                )));
            }
            if !v1 && scope.fingerprint_key_id.is_none() {
                return Err(bad(format!(
                    "scope {name} has no fingerprint_key_id: restore the file from version control"
                )));
            }
            let types = scope
                .types
                .iter()
                .map(|t| t.parse::<EnvType>())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("scope {name}: {e}")))?;
            layout.insert(name.clone(), TypeSet::of(types));
        }
        let layout = ScopeLayout::new(layout).map_err(|e| bad(e.0))?;
        for (name, entry) in &self.file.secrets {
            name.parse::<SecretName>().map_err(|e| bad(e.0))?;
            let mut seen = TypeSet::of([]);
            for (key, value) in &entry.values {
                let sel: Selector = key.parse().map_err(|e: crate::model::InvalidInput| {
                    bad(format!("secret {name}: selector {key:?}: {e}"))
                })?;
                if !displays_as(&sel, key) {
                    return Err(bad(format!(
                        "secret {name}: selector {key:?} should be written {:?}",
                        sel.to_string()
                    )));
                }
                let sealed_for = || value.sealed.keys().map(String::as_str);
                // The scopes the value belongs to: its types' scopes, or an override's one scope
                // (the first known one it is sealed for). Asked of each scope, not collected:
                // this runs for every value of a 100,000-secret store at each load.
                let env_scope = sealed_for().find(|s| layout.types(s).is_some());
                let belongs = |s: &str| match sel {
                    Selector::Types(t) => layout.split_iter(t).any(|(w, _)| w == s),
                    Selector::Env(_) => env_scope == Some(s),
                };
                let want = || layout.names().filter(|s| belongs(s));
                // Both are sets of scope names: equal when as large and one within the other.
                let exact = value.sealed.len() == want().count() && sealed_for().all(belongs);
                if !exact
                    || value
                        .history
                        .iter()
                        .any(|h| h.sealed.is_empty() || h.sealed.keys().any(|s| !belongs(s)))
                {
                    let want: Vec<&str> = want().collect();
                    let sealed_for: Vec<&str> = sealed_for().collect();
                    return Err(bad(format!(
                        "secret {name}: the value for {key} is sealed for scopes {} but belongs to {}: the file was edited by hand. Restore it from version control",
                        sealed_for.join(","),
                        want.join(",")
                    )));
                }
                if let Selector::Types(t) = sel {
                    if !seen.intersection(t).is_empty() {
                        return Err(bad(format!(
                            "secret {name}: type {} has more than one value",
                            seen.intersection(t)
                        )));
                    }
                    seen = TypeSet::of(seen.iter().chain(t.iter()));
                }
            }
        }
        Ok(())
    }
}

/// True when `v` displays exactly as `s` (compared as it is written, with no allocation).
fn displays_as(v: &impl std::fmt::Display, s: &str) -> bool {
    struct Rest<'a>(&'a str);
    impl std::fmt::Write for Rest<'_> {
        fn write_str(&mut self, part: &str) -> std::fmt::Result {
            self.0 = self.0.strip_prefix(part).ok_or(std::fmt::Error)?;
            Ok(())
        }
    }
    let mut rest = Rest(s);
    std::fmt::write(&mut rest, format_args!("{v}")).is_ok() && rest.0.is_empty()
}
