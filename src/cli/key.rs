//! `secretsync key`: the recipients the data key is wrapped for.

use super::{Ctx, Outcome};
use crate::app;
use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the recipients that can open the store.
    #[command(after_help = "Example:\n  secretsync key list --json")]
    List,
    /// Let one more recipient open the store: an age public key, an AWS KMS key or a Cloud KMS
    /// key.
    #[command(
        after_help = "Recipients:\n  age1…                                              a person's age public key (`secretsync init` prints it)\n  aws-kms:arn:aws:kms:REGION:ACCOUNT:key/ID | aws-kms:alias/NAME   an AWS KMS key (CI with a role that may kms:Decrypt)\n  gcp-kms:projects/P/locations/L/keyRings/R/cryptoKeys/K             a Cloud KMS key\n\nExample:\n  secretsync key add age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    )]
    Add {
        /// The recipient: age1…, aws-kms:KEY or gcp-kms:projects/…/cryptoKeys/K.
        recipient: String,
    },
    /// Stop wrapping the data key for a recipient. Follow with `key rotate` to lock it out of
    /// future values.
    #[command(
        after_help = "Example:\n  secretsync key remove age1… && secretsync key rotate --fingerprint"
    )]
    Remove {
        /// The recipient.
        recipient: String,
        /// Remove it even if it is your own key (you will not be able to open the store).
        #[arg(long)]
        force: bool,
    },
    /// Replace the data key: re-seal every value and re-wrap for every recipient.
    #[command(
        after_help = "Examples:\n  secretsync key rotate\n  secretsync key rotate --fingerprint   # after removing someone"
    )]
    Rotate {
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
        KeyCommand::Add { recipient } => {
            let id = app::keys::add(&ctx.ws, &recipient).await?;
            report(ctx, "added", &id)?;
        }
        KeyCommand::Remove { recipient, force } => {
            let id = app::keys::remove(&ctx.ws, &recipient, force).await?;
            report(ctx, "removed", &id)?;
            if !ctx.out.json {
                ctx.out.text("note: run `secretsync key rotate --fingerprint` so that a copy of the old keys opens no future value and confirms no guess against the backends' labels\n")?;
            }
        }
        KeyCommand::Rotate { fingerprint } => {
            ctx.out
                .report(&app::keys::rotate(&ctx.ws, fingerprint).await?)?;
        }
    }
    Ok(Outcome::Ok)
}

fn report(ctx: &Ctx, verb: &str, id: &str) -> Result<()> {
    if ctx.out.json {
        ctx.out.json_doc(&json!({ verb: id }))
    } else {
        ctx.out.text(&format!("{verb} recipient {id}\n"))
    }
}
