//! The command line: clap definitions, the shared context, and one module per command.

mod check;
mod completions;
mod export;
mod get;
mod history;
mod init;
mod key;
mod list;
mod merge;
mod migrate;
mod policy;
mod pull;
mod quickstart;
mod reconcile;
mod replicate;
mod run;
mod set;
mod teardown;
mod ui;

use crate::app::inject::{self, Source};
use crate::app::Workspace;
use crate::config::Config;
use crate::model::{EnvType, TypeSet};
use crate::output::Printer;
use crate::store::Target;
use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use secretsync_core::SecretValue;
use std::path::PathBuf;
use std::process::ExitCode;

/// Keep an app's secrets in one encrypted, canonical set and replicate them into each
/// environment's backend.
#[derive(Debug, Parser)]
#[command(
    name = "secretsync",
    version,
    long_version = env!("SECRETSYNC_LONG_VERSION"),
    propagate_version = true
)]
pub struct Cli {
    /// Path to secretsync.toml (default: found in the current folder or a parent).
    #[arg(
        long,
        global = true,
        env = "SECRETSYNC_CONFIG",
        value_name = "FILE",
        help_heading = "Global options"
    )]
    pub config: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text (see README, "JSON output").
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// More logs on stderr: `-v` info, `-vv` debug, `-vvv` trace (names, actions, calls and
    /// timings; never values). On an error, also show what the cloud SDK or library said
    /// underneath. `SECRETSYNC_LOG` (or `RUST_LOG`) takes a filter instead.
    #[arg(long, short, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
    /// How logs are written on stderr: `text` lines or `json` lines (for log collectors).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value_t,
        env = "SECRETSYNC_LOG_FORMAT",
        value_name = "FORMAT",
        help_heading = "Global options"
    )]
    pub log_format: crate::logs::LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log level: the jobs that log as they go (`reconcile`, `ui`) start at info, the
    /// other commands at warnings; each `-v` is one step more.
    pub fn log_level(&self) -> tracing::Level {
        let base = match self.command {
            Command::Reconcile(_) | Command::Ui(_) => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        };
        crate::logs::level(base, self.verbose)
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create secretsync.toml, your age identity and the encrypted store.
    #[command(after_help = "Examples:\n  secretsync init --app billing")]
    Init(init::InitArgs),
    /// Set a secret's value for types or an environment (value from stdin, a prompt or a file).
    #[command(
        after_help = "Examples:\n  printf %s \"$TOKEN\" | secretsync set GitHubAPIToken --type dev,preview,local\n  secretsync set DatabaseURL --env prod-eu --from-file url.txt"
    )]
    Set(set::SetArgs),
    /// Print a secret's value (raw bytes) for a type or an environment.
    #[command(
        after_help = "Examples:\n  secretsync get DatabaseURL --env prod-eu\n  secretsync get DatabaseURL --type dev --json"
    )]
    Get(get::GetArgs),
    /// Show which secrets are set for which types and environments (never values).
    #[command(
        after_help = "Examples:\n  secretsync list\n  secretsync list --json | jq '.secrets[] | select(.declared)'"
    )]
    List,
    /// Delete a secret, or its value for some types, or an environment's override.
    #[command(
        after_help = "Examples:\n  secretsync delete OldToken --yes\n  secretsync delete DatabaseURL --env prod-eu    # only prod-eu's override"
    )]
    Delete(set::DeleteArgs),
    /// Bring back a secret deleted whole (until the next `key rotate`).
    #[command(after_help = "Examples:\n  secretsync undelete OldToken")]
    Undelete(set::UndeleteArgs),
    /// Show the kept versions of a secret's value.
    #[command(after_help = "Examples:\n  secretsync history DatabaseURL --type production")]
    History(history::HistoryArgs),
    /// Make an earlier version of a value current again.
    #[command(
        after_help = "Examples:\n  secretsync rollback DatabaseURL --type production --to 3"
    )]
    Rollback(history::RollbackArgs),
    /// Check that every declared secret has a value; exit 2 listing what is missing.
    #[command(after_help = "Examples:\n  secretsync check --env prod-eu,local")]
    Check(check::CheckArgs),
    /// Show what `apply` would change in environments' backends (names and actions only).
    #[command(
        after_help = "Examples:\n  secretsync plan --env prod-eu --detailed-exitcode\n  secretsync plan --all --verify"
    )]
    Plan(replicate::PlanArgs),
    /// Replicate the canonical values into environments' backends.
    #[command(
        after_help = "Examples:\n  secretsync apply --env prod-eu\n  secretsync apply --env prod-eu --prune --max-deletes 5"
    )]
    Apply(replicate::ApplyArgs),
    /// Print the permissions a job needs, as the backend's policy document (IAM, GCP role,
    /// Vault HCL), scoped to the environment's prefix.
    #[command(
        after_help = "Examples:\n  secretsync policy --env prod-eu --for apply > policy.json\n  aws iam put-role-policy --role-name deploy --policy-name secretsync --policy-document file://policy.json\n  secretsync policy --env staging --for plan --json\n  secretsync policy --for open production"
    )]
    Policy(policy::PolicyArgs),
    /// Delete what a preview environment owns (`--env pr:123`), or every instance of a
    /// template but those kept (`--env pr --keep 12,15` / `--older-than 14d`).
    #[command(
        after_help = "Examples:\n  secretsync teardown --env pr:123 --yes\n  secretsync teardown --env pr --keep 12,15 --max-deletes 100\n  secretsync teardown --env pr --older-than 14d --force-delete"
    )]
    Teardown(teardown::TeardownArgs),
    /// Undo soft deletes of an environment's secrets (AWS recovery window, Vault delete).
    #[command(after_help = "Examples:\n  secretsync restore --env prod-eu OldToken")]
    Restore(replicate::RestoreArgs),
    /// Copy secrets from one backend to another, with ownership labels, then verify.
    #[command(
        after_help = "Examples:\n  secretsync migrate --from 'aws-sm://?region=us-east-1' --prefix-from app/ --to gcp-sm://my-project --rename-char _ --dry-run"
    )]
    Migrate(migrate::MigrateArgs),
    /// Bring a backend's secrets, or a dotenv or JSON file's, into the canonical store.
    #[command(
        after_help = "Examples:\n  secretsync import --from 'aws-sm://?region=us-east-1' --prefix app/ --type production --dry-run\n  secretsync import --from-file .env --type dev,local"
    )]
    Import(migrate::ImportArgs),
    /// Plan and apply environments in a loop (or --once), with metrics and health endpoints.
    #[command(
        after_help = "Examples:\n  secretsync reconcile --every 5m --metrics-addr 0.0.0.0:9898\n  secretsync reconcile --once --shard 0/4"
    )]
    Reconcile(reconcile::ReconcileArgs),
    /// Run a command with an environment's secrets as environment variables.
    #[command(
        after_help = "Examples:\n  secretsync run -- npm start\n  secretsync run --env staging --redact -- ./migrate"
    )]
    Run(run::RunArgs),
    /// Print an environment's secrets for other tools (dotenv, shell, JSON, Kubernetes Secret).
    #[command(
        after_help = "Examples:\n  secretsync export --env staging --format dotenv > .env\n  secretsync export --env prod-eu --format k8s-secret | kubectl apply -f -"
    )]
    Export(export::ExportArgs),
    /// Cache the local environment's values on this machine, for offline `run --env local`.
    #[command(
        after_help = "Examples:\n  secretsync pull && secretsync run -- npm start   # works offline afterwards"
    )]
    Pull(pull::PullArgs),
    /// Manage who can open which scope of the store.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Move the store to the current format (scopes) and to the scopes in secretsync.toml.
    #[command(after_help = "Example:\n  secretsync upgrade && secretsync key list")]
    Upgrade,
    /// Git merge driver for the store: a three-way merge block by block (see README).
    #[command(
        after_help = "Examples:\n  git config merge.secretsync.driver \"secretsync merge-file %O %A %B\""
    )]
    MergeFile(merge::MergeArgs),
    /// Run the main job end to end in a temporary folder, on the embedded defaults.
    #[command(after_help = "Examples:\n  secretsync quickstart --dir /tmp/tour")]
    Quickstart(quickstart::QuickstartArgs),
    /// Serve the local dashboard: the secrets × environments matrix, set values, plan and apply.
    #[command(
        after_help = "Examples:\n  secretsync ui --open\n  secretsync ui --port 8700 --allow-apply"
    )]
    Ui(ui::UiArgs),
    /// Print the completion script for a shell.
    #[command(
        after_help = "Examples:\n  secretsync completions bash > ~/.local/share/bash-completion/completions/secretsync\n  secretsync completions zsh > \"${fpath[1]}/_secretsync\"\n  secretsync completions fish > ~/.config/fish/completions/secretsync.fish"
    )]
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  secretsync man > /usr/local/share/man/man1/secretsync.1")]
    Man,
}

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing to report (exit 0).
    Ok,
    /// Done, and it found what the user must act on: missing secrets, changes, drift (exit 2).
    Attention,
    /// Done, but some items failed; the report says which (exit 1).
    Failed,
    /// The exit code of a command secretsync ran.
    Exit(u8),
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Attention => ExitCode::from(2),
            Outcome::Failed => ExitCode::from(1),
            Outcome::Exit(code) => ExitCode::from(code),
        }
    }
}

/// What every command works from: the workspace (config, store, identities) and the printer.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Where the command runs.
    pub ws: Workspace,
    /// How it prints.
    pub out: Printer,
    /// `-v`: show what the SDKs said under an error.
    pub verbose: bool,
}

impl Ctx {
    /// A context for the current process.
    pub fn from_cli(cli: &Cli) -> Result<Ctx> {
        Ok(Ctx {
            ws: Workspace::current(cli.config.clone())?,
            out: Printer {
                json: cli.json,
                quiet: false,
            },
            verbose: cli.verbose > 0,
        })
    }
}

impl std::ops::Deref for Ctx {
    type Target = Workspace;
    fn deref(&self) -> &Workspace {
        &self.ws
    }
}

/// `--type T` or `--env E`: which value a read refers to.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ScopeArgs {
    /// An environment type: production, development, preview, local (or prod, dev, pr).
    #[arg(long = "type", value_name = "TYPE")]
    pub env_type: Option<EnvType>,
    /// An environment: a type's implicit one, or one declared in secretsync.toml.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

impl ScopeArgs {
    /// Resolves to a store scope.
    pub fn scope(&self, cfg: &Config) -> Result<Target> {
        crate::app::secrets::read_scope(cfg, self.env_type, self.env.as_deref())
    }
}

/// `--type T[,T…]` or `--env E`: what a write applies to.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct WriteArgs {
    /// Environment types sharing the value, comma-separated (e.g. dev,preview).
    #[arg(long = "type", value_name = "TYPE[,TYPE…]")]
    pub types: Option<TypeSet>,
    /// One environment: its override (a declared environment) or its type's value.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

/// Runs the parsed command line.
pub async fn execute(cli: Cli) -> Result<Outcome> {
    let ctx = Ctx::from_cli(&cli)?;
    match cli.command {
        Command::Init(a) => init::run(&ctx, a).await,
        Command::Set(a) => set::run_set(&ctx, a).await,
        Command::Get(a) => get::run(&ctx, a).await,
        Command::List => list::run(&ctx),
        Command::Delete(a) => set::run_delete(&ctx, a).await,
        Command::Undelete(a) => set::run_undelete(&ctx, a).await,
        Command::History(a) => history::run_history(&ctx, a).await,
        Command::Rollback(a) => history::run_rollback(&ctx, a).await,
        Command::Check(a) => check::run(&ctx, a),
        Command::Plan(a) => replicate::run_plan(&ctx, a).await,
        Command::Apply(a) => replicate::run_apply(&ctx, a).await,
        Command::Restore(a) => replicate::run_restore(&ctx, a).await,
        Command::Policy(a) => policy::run(&ctx, a).await,
        Command::Teardown(a) => teardown::run(&ctx, a).await,
        Command::Migrate(a) => migrate::run_migrate(&ctx, a).await,
        Command::Import(a) => migrate::run_import(&ctx, a).await,
        Command::Reconcile(a) => reconcile::run(&ctx, a).await,
        Command::Run(a) => run::run(&ctx, a).await,
        Command::Export(a) => export::run(&ctx, a).await,
        Command::Pull(a) => pull::run(&ctx, a).await,
        Command::Key(k) => key::run(&ctx, k).await,
        Command::Upgrade => key::upgrade(&ctx).await,
        Command::MergeFile(a) => merge::run(&ctx, a),
        Command::Quickstart(a) => quickstart::run(&ctx, a).await,
        Command::Ui(a) => ui::run(&ctx, a).await,
        Command::Completions(a) => completions::completions(a),
        Command::Man => completions::man(),
    }
}

/// Where the values come from: the store (or the local cache), or a backend.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The environment (a type's implicit one or a declared one).
    #[arg(long, default_value = "local", value_name = "ENV")]
    pub env: String,
    /// Read the values straight from this backend instead of the store.
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// With --from: only secrets under this prefix (stripped from the names).
    #[arg(long, default_value = "", value_name = "PREFIX", requires = "from")]
    pub prefix: String,
}

impl SourceArgs {
    fn source(&self) -> Source {
        Source {
            env: self.env.clone(),
            from: self.from.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

/// The values of `src`, with their notes on stderr.
pub(crate) async fn values(ctx: &Ctx, src: &SourceArgs) -> Result<Vec<(String, SecretValue)>> {
    let v = inject::values(&ctx.ws, &src.source()).await?;
    for n in &v.notes {
        eprintln!("{n}");
    }
    Ok(v.values)
}

/// `--on-drift`: what to do with secrets changed outside secretsync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OnDrift {
    /// Leave it and report it (apply exits 2; plan too with --detailed-exitcode).
    #[default]
    Report,
    /// Write the canonical value back.
    Revert,
    /// Take the backend's value into the store (the environment's override).
    Adopt,
}

impl From<OnDrift> for crate::sync::DriftPolicy {
    fn from(d: OnDrift) -> Self {
        match d {
            OnDrift::Report => Self::Report,
            OnDrift::Revert => Self::Revert,
            OnDrift::Adopt => Self::Accept,
        }
    }
}
