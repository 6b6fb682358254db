//! `merge-file`: git's three-way merge driver for the store file.

use crate::store::merge::{merge3, Merged};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// What the merge did.
#[derive(Debug, Serialize)]
pub struct MergeReport {
    /// The merge is clean and was written over `ours`.
    pub merged: bool,
    /// Why it is not: secret, selector and what changed on each side (never a value).
    pub conflicts: Vec<String>,
}

/// Merges `theirs` into `ours` against `base`, block by block; a clean result replaces `ours`,
/// a conflict leaves it as it was.
pub fn merge_file(base: &Path, ours: &Path, theirs: &Path) -> Result<MergeReport> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let (b, o, t) = (read(base)?, read(ours)?, read(theirs)?);
    Ok(match merge3(ours, &b, &o, &t)? {
        Merged::Clean(text) => {
            secretsync_core::fsio::write_atomic(ours, text.as_bytes(), None)?;
            MergeReport {
                merged: true,
                conflicts: Vec::new(),
            }
        }
        Merged::Conflicts(conflicts) => MergeReport {
            merged: false,
            conflicts,
        },
    })
}
