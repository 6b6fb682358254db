//! `secretsync merge-file BASE OURS THEIRS`: git's merge driver for the store file.
//!
//! Set up once per clone (`init` adds the `.gitattributes` line):
//!
//! ```text
//! git config merge.secretsync.driver "secretsync merge-file %O %A %B"
//! ```

use super::{Ctx, Outcome};
use crate::store::merge::{merge3, Merged};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The common ancestor's version (git's %O).
    pub base: PathBuf,
    /// Our version, replaced by the merge (git's %A).
    pub ours: PathBuf,
    /// Their version (git's %B).
    pub theirs: PathBuf,
}

pub fn run(ctx: &Ctx, args: MergeArgs) -> Result<Outcome> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let (base, ours, theirs) = (read(&args.base)?, read(&args.ours)?, read(&args.theirs)?);
    match merge3(&args.ours, &base, &ours, &theirs)? {
        Merged::Clean(text) => {
            secretsync_core::fsio::write_atomic(&args.ours, text.as_bytes(), None)?;
            if ctx.json {
                crate::output::json(&serde_json::json!({ "merged": true, "conflicts": [] }))?;
            }
            Ok(Outcome::Ok)
        }
        Merged::Conflicts(c) => {
            if ctx.json {
                crate::output::json(&serde_json::json!({ "merged": false, "conflicts": c }))?;
            } else {
                eprintln!("secretsync: cannot merge the store:");
                for line in &c {
                    eprintln!("  {line}");
                }
                eprintln!("our version is kept; repeat the other branch's `secretsync set` commands on it");
            }
            Ok(Outcome::Failed)
        }
    }
}
