//! What the suite's cases share, and what the backends' own emulator tests use: a prefix
//! unique to a run, the emulator endpoints (a loud skip, or a failure under CI), the canary.

use crate::error::{ErrorKind, Result};
use crate::types::*;
use crate::value::SecretValue;

/// A value that must never appear in an error message.
pub const CANARY: &str = "canary-conformance-4c1d";

/// A prefix unique to this run, valid on every backend (`ssconf_TAG_HEX_`).
pub fn random_prefix(tag: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("ssconf_{tag}_{:012x}_", h.finish() & 0xffff_ffff_ffff)
}

/// The endpoint of an emulator from `var` (set by `scripts/emulators.sh up`). Without it the
/// test is skipped with a loud message, except under `CI=true`, where a skip is a failure.
pub fn emulator_endpoint(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var("CI").is_ok_and(|c| c == "true") => {
            panic!("{var} is not set under CI=true: the emulator tests must run (start them with scripts/emulators.sh up)")
        }
        _ => {
            eprintln!("\n*** SKIPPED: {var} is not set; run `scripts/emulators.sh up && . target/emulators/env` to run this test ***\n");
            None
        }
    }
}

pub(super) fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn v(s: &str) -> SecretValue {
    SecretValue::from(s)
}

#[track_caller]
pub(super) fn expect_kind<T: std::fmt::Debug>(r: Result<T>, kind: ErrorKind, case: &str) {
    match r {
        Err(e) => {
            assert_eq!(e.kind, kind, "{case}: wrong error kind: {e}");
            assert!(
                !e.to_string().contains(CANARY),
                "{case}: the value leaked into an error: {e}"
            );
        }
        Ok(x) => panic!("{case}: expected {kind:?}, got Ok({x:?})"),
    }
}
