//! `secretsync merge-file BASE OURS THEIRS`: git's merge driver for the store file.
//!
//! Set up once per clone (`init` adds the `.gitattributes` line):
//!
//! ```text
//! git config merge.secretsync.driver "secretsync merge-file %O %A %B"
//! ```

use super::{Ctx, Outcome};
use crate::app;
use anyhow::Result;
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
    let report = app::merge::merge_file(&args.base, &args.ours, &args.theirs)?;
    if ctx.out.json {
        ctx.out.json_doc(&report)?;
    } else if !report.merged {
        eprintln!("secretsync: cannot merge the store:");
        for line in &report.conflicts {
            eprintln!("  {line}");
        }
        eprintln!("our version is kept; repeat the other branch's `secretsync set` commands on it");
    }
    Ok(if report.merged {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}
