//! `secretsync completions SHELL` and `secretsync man`: generated from the clap definitions, so
//! they cannot drift from the commands.

use super::{Cli, Outcome};
use anyhow::Result;
use clap::{Args, CommandFactory};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell or elvish.
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for a shell.
pub fn completions(args: CompletionsArgs) -> Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "secretsync", &mut std::io::stdout());
    Ok(Outcome::Ok)
}

/// Prints the man page (roff).
pub fn man() -> Result<Outcome> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    std::io::Write::write_all(&mut std::io::stdout(), &out)?;
    Ok(Outcome::Ok)
}
