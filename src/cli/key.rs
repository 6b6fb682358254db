//! `secretsync key`: the recipients the data key is wrapped for.

use super::{Ctx, Outcome};
use crate::registry;
use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the recipients that can open the store.
    List,
    /// Let one more recipient open the store (an age public key, age1…).
    Add {
        /// The recipient.
        recipient: String,
    },
    /// Stop wrapping the data key for a recipient. Follow with `key rotate` to lock it out of
    /// future values.
    Remove {
        /// The recipient.
        recipient: String,
    },
    /// Replace the data key: re-seal every value and re-wrap for every recipient.
    Rotate {
        /// Replace the fingerprint key as well (after removing a recipient: the old key could
        /// confirm guesses of future values against the backends' labels). The next apply
        /// rewrites every secret once with new labels.
        #[arg(long)]
        fingerprint: bool,
    },
}

pub async fn run(ctx: &Ctx, cmd: KeyCommand) -> Result<Outcome> {
    let cfg = ctx.config()?;
    match cmd {
        KeyCommand::List => {
            let store = ctx.store(&cfg)?;
            let mine: Vec<String> = registry::local_identities(ctx.identity_file.as_deref())
                .unwrap_or_default()
                .iter()
                .map(|i| i.public().to_string())
                .collect();
            let rows = store.recipients();
            if ctx.json {
                crate::output::json(&json!({
                    "store_id": store.id(),
                    "recipients": rows.iter().map(|(id, added)| json!({"id": id, "added": added, "yours": mine.contains(id)})).collect::<Vec<_>>(),
                }))?;
            } else {
                let mut t = crate::output::table(["RECIPIENT", "ADDED", ""]);
                for (id, added) in rows {
                    let yours = if mine.contains(&id) { "(you)" } else { "" };
                    t.add_row(vec![id, added.to_rfc3339(), yours.into()]);
                }
                println!("{t}");
            }
        }
        KeyCommand::Add { recipient } => {
            let r = registry::recipient(&recipient).await?;
            let mut w = ctx.writer(&cfg).await?;
            w.add_recipient(r.as_ref()).await?;
            w.commit()?;
            report(ctx, "added", &r.id())?;
        }
        KeyCommand::Remove { recipient } => {
            let mut w = ctx.writer(&cfg).await?;
            w.remove_recipient(recipient.trim())?;
            w.commit()?;
            report(ctx, "removed", recipient.trim())?;
            if !ctx.json {
                println!("note: run `secretsync key rotate --fingerprint` so that a copy of the old keys opens no future value and confirms no guess against the backends' labels");
            }
        }
        KeyCommand::Rotate { fingerprint } => {
            let mut w = ctx.writer(&cfg).await?;
            let mut recipients = Vec::new();
            for (id, _) in w.recipients() {
                recipients.push(registry::recipient(&id).await?);
            }
            let n = w.rotate(&recipients, fingerprint).await?;
            w.commit()?;
            if ctx.json {
                crate::output::json(
                    &json!({"rotated": true, "values": n, "recipients": recipients.len(), "fingerprint_key": fingerprint}),
                )?;
            } else {
                println!(
                    "rotated the data key: re-sealed {n} values for {} recipients",
                    recipients.len()
                );
                if fingerprint {
                    println!("rotated the fingerprint key: the next apply rewrites each secret once with new labels");
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

fn report(ctx: &Ctx, verb: &str, id: &str) -> Result<()> {
    if ctx.json {
        crate::output::json(&json!({ verb: id }))
    } else {
        println!("{verb} recipient {id}");
        Ok(())
    }
}
