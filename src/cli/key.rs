//! `secretsync key`: the scopes, and the recipients each scope's key is wrapped for.

use super::{Ctx, Outcome};
use crate::app;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the scopes and the recipients that can open each.
    #[command(after_help = "Example:\n  secretsync key list --json")]
    List,
    /// Let one more recipient open some scopes: an age public key, an AWS KMS key or a Cloud
    /// KMS key. You must be able to open those scopes.
    #[command(
        after_help = "Recipients:\n  age1…                                              a person's age public key (`secretsync init` prints it)\n  aws-kms:arn:aws:kms:REGION:ACCOUNT:key/ID | aws-kms:alias/NAME   an AWS KMS key (CI with a role that may kms:Decrypt)\n  gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K             a Cloud KMS key\n\nExamples:\n  secretsync key add age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p --scope development   # a developer\n  secretsync key add aws-kms:alias/deploy --scope production                                      # CI"
    )]
    Add {
        /// The recipient: age1…, aws-kms:KEY or gcp-kms:projects/…/cryptoKeys/K.
        recipient: String,
        /// The scopes it may open, comma-separated, or `all` (required when the store has
        /// several).
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
    },
    /// Stop wrapping scope keys for a recipient (all its scopes, or those given). Follow with
    /// `key rotate` to lock it out of future values.
    #[command(
        after_help = "Example:\n  secretsync key remove age1… && secretsync key rotate --fingerprint"
    )]
    Remove {
        /// The recipient.
        recipient: String,
        /// Only from these scopes (comma-separated; default: every scope it has).
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
        /// Remove it even if it is your own key (you will not be able to open the store).
        #[arg(long)]
        force: bool,
    },
    /// Replace scope keys (all, or those given): re-seal every value in them and re-wrap for
    /// their recipients. You must be able to open them.
    #[command(
        after_help = "Examples:\n  secretsync key rotate\n  secretsync key rotate --fingerprint   # after removing someone\n  secretsync key rotate --scope development"
    )]
    Rotate {
        /// Only these scopes (comma-separated; default: all).
        #[arg(long, value_name = "SCOPES")]
        scope: Option<String>,
        /// Replace the fingerprint key as well (after removing a recipient: the old key could
        /// confirm guesses of future values against the backends' labels). The next apply
        /// rewrites every secret once with new labels.
        #[arg(long)]
        fingerprint: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: KeyCommand) -> Result<Outcome> {
    match cmd {
        KeyCommand::List => ctx.out.report(&app::keys::list(&ctx.ws)?)?,
        KeyCommand::Add { recipient, scope } => {
            ctx.out
                .report(&app::keys::add(&ctx.ws, &recipient, scope.as_deref()).await?)?;
        }
        KeyCommand::Remove {
            recipient,
            scope,
            force,
        } => {
            let removed = app::keys::remove(&ctx.ws, &recipient, scope.as_deref(), force).await?;
            ctx.out.report(&removed)?;
            if !ctx.out.json {
                ctx.out.text("note: run `secretsync key rotate --fingerprint` so that a copy of the old keys opens no future value and confirms no guess against the backends' labels\n")?;
            }
        }
        KeyCommand::Rotate { scope, fingerprint } => {
            ctx.out
                .report(&app::keys::rotate(&ctx.ws, scope.as_deref(), fingerprint).await?)?;
        }
    }
    Ok(Outcome::Ok)
}

/// `secretsync upgrade`.
pub async fn upgrade(ctx: &Ctx) -> Result<Outcome> {
    ctx.out.report(&app::keys::upgrade(&ctx.ws).await?)?;
    Ok(Outcome::Ok)
}
