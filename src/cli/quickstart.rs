//! `secretsync quickstart`: the main job end to end in a scratch folder, on the embedded
//! defaults (a fresh local age key, the file store). Touches nothing of the user's.

use super::{Ctx, Outcome};
use crate::app::{self, overview::CheckOptions, sync::SyncOptions};
use crate::model::{SecretName, Selector};
use crate::sync::PlanOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Work in this folder (created if missing) instead of a temporary one, and keep it.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const GO_SOURCE: &str = r#"package billing

// Encore-style declaration: secretsync finds these fields.
var secrets struct {
	GitHubAPIToken string // token the billing bot uses to open issues
}
"#;

pub async fn run(outer: &Ctx, args: QuickstartArgs) -> Result<Outcome> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.canonicalize()?
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("secretsync-quickstart-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut ws = crate::app::Workspace::new(dir.clone(), None);
    ws.identity_file = Some(dir.join("identity.txt"));
    let ctx = Ctx {
        ws,
        out: crate::output::Printer::default(),
        verbose: false,
    };
    if outer.out.json {
        eprintln!("note: quickstart narrates in text; --json is ignored");
    }
    println!("secretsync quickstart in {}", dir.display());

    step("secretsync init --app billing");
    ctx.out
        .report(&app::init::init(&ctx.ws, Some("billing".into()), true).await?)?;

    let config = ctx.config_path()?;
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(
        r#"
[secrets.DatabaseURL]
description = "Postgres connection string"

[secrets.StripeKey]
description = "Stripe API key"

[go]
roots = ["svc"]

[environments.prod-eu]
type = "production"
backend = "file://./replica/prod-eu"
"#,
    );
    std::fs::write(&config, text)?;
    std::fs::create_dir_all(dir.join("svc/billing"))?;
    std::fs::write(dir.join("svc/billing/secrets.go"), GO_SOURCE)?;
    println!("\ndeclared DatabaseURL and StripeKey in secretsync.toml, GitHubAPIToken in svc/billing/secrets.go,");
    println!("and an environment prod-eu of type production\n");

    let cfg = ctx.config()?;
    let demo = [
        (
            "DatabaseURL",
            "dev,preview,local",
            "postgres://localhost/billing",
        ),
        (
            "DatabaseURL",
            "production",
            "postgres://db.internal/billing",
        ),
        (
            "DatabaseURL",
            "env:prod-eu",
            "postgres://db.eu.internal/billing",
        ),
        ("StripeKey", "dev,preview,local", "sk_test_demo"),
        ("StripeKey", "local", "sk_test_my_own"),
        ("GitHubAPIToken", "dev,preview,local", "ghp_demo_dev"),
    ];
    for (name, sel, value) in demo {
        let sel: Selector = sel.parse()?;
        let flag = match &sel {
            Selector::Env(e) => format!("--env {e}"),
            Selector::Types(t) => format!("--type {t}"),
        };
        step(&format!("echo '{value}' | secretsync set {name} {flag}"));
        set_value(&ctx, name.parse()?, sel, value).await?;
    }

    step("secretsync list");
    ctx.out.report(&app::overview::list(&ctx.ws)?)?;
    step("secretsync check --env prod-eu --env local");
    let check = || -> Result<bool> {
        let opts = CheckOptions {
            envs: vec!["prod-eu".into(), "local".into()],
            types: vec![],
        };
        let report = app::overview::check(&ctx.ws, &opts)?;
        ctx.out.report(&report)?;
        println!("(exit code {})", if report.ok { 0 } else { 2 });
        Ok(report.ok)
    };
    let first = check()?;

    for (name, value) in [
        ("StripeKey", "sk_live_demo"),
        ("GitHubAPIToken", "ghp_demo_prod"),
    ] {
        step(&format!(
            "echo '{value}' | secretsync set {name} --type production"
        ));
        set_value(&ctx, name.parse()?, "production".parse()?, value).await?;
    }
    step("secretsync check --env prod-eu --env local");
    let second = check()?;

    let opts = SyncOptions {
        envs: vec!["prod-eu".into()],
        all: false,
        plan: PlanOptions::default(),
    };
    step("secretsync plan --env prod-eu            # replicate into prod-eu's backend (file://./replica/prod-eu)");
    ctx.out.report(&app::sync::plan(&ctx.ws, &opts).await?)?;
    step("secretsync apply --env prod-eu");
    let applied = app::sync::apply(&ctx.ws, &opts, &app::NoProgress).await?;
    ctx.out.report(&applied)?;
    step("secretsync plan --env prod-eu --detailed-exitcode   # nothing left to do: exit 0");
    let again = app::sync::plan(&ctx.ws, &opts).await?;
    ctx.out.report(&again)?;
    println!("(exit code {})", if again.changes { 2 } else { 0 });

    step("secretsync get DatabaseURL --env prod-eu   # the override beats the production value");
    let store = ctx.unlocked(&cfg).await?;
    let v = store.get(
        &"DatabaseURL".parse()?,
        &crate::store::Target::Env(cfg.env("prod-eu")?),
    )?;
    println!("{}", v.as_str().unwrap_or("<binary>"));

    println!(
        "\nthe store {} holds names and selectors in clear and every value sealed.",
        cfg.store_path.display()
    );
    if args.dir.is_none() {
        println!("(the scratch folder is removed now; pass --dir DIR to keep it)");
    }
    if first || !second || !applied.ok || again.changes {
        anyhow::bail!("quickstart's checks did not behave as expected");
    }
    Ok(Outcome::Ok)
}

fn step(cmd: &str) {
    println!("\n$ {cmd}");
}

/// One `set` of the tour, reported like the command's.
async fn set_value(ctx: &Ctx, name: SecretName, sel: Selector, value: &str) -> Result<()> {
    let (types, env) = match sel {
        Selector::Types(t) => (Some(t), None),
        Selector::Env(e) => (None, Some(e.to_string())),
    };
    let opts = crate::app::secrets::SetOptions {
        name,
        types,
        env,
        value: value.into(),
        description: None,
    };
    let report = crate::app::secrets::set(&ctx.ws, opts).await?;
    ctx.out.report(&report)
}
