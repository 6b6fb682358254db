//! `secretsync run`, `secretsync export`, `secretsync pull`: secrets into programs.

use super::{Ctx, Outcome};
use crate::app::targets;
use crate::inject::cache::{self, Cache};
use crate::inject::format::{self, Format};
use crate::inject::redact::{Redactor, DEFAULT_MIN_LEN};
use crate::model::{EnvType, SecretName};
use anyhow::{bail, Context, Result};
use clap::Args;
use secretsync_core::{get_all, list_all, SecretValue};
use std::io::IsTerminal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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

/// The values for `src`, sorted by name. For a `local` environment the local cache is refreshed
/// when the store changed, and used when the store cannot be opened here.
pub async fn values(ctx: &Ctx, src: &SourceArgs) -> Result<Vec<(String, SecretValue)>> {
    if let Some(url) = &src.from {
        let base = ctx
            .config_path()
            .ok()
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_else(|| ctx.cwd.clone());
        let (backend, _) = targets::open_url(url, &base, 8).await?;
        let mut names = Vec::new();
        for m in list_all(backend.as_ref(), &src.prefix).await? {
            let rel = m
                .name
                .strip_prefix(&src.prefix)
                .unwrap_or(&m.name)
                .to_string();
            match rel.parse::<SecretName>() {
                Ok(_) => names.push((m.name, rel)),
                Err(_) => eprintln!(
                    "note: skipping {}: not usable as an environment variable name",
                    m.name
                ),
            }
        }
        // A backend's names must not reach the loader or an interpreter unless the app says so.
        let declared: Vec<String> = ctx
            .config()
            .map(|c| c.secrets.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        let hijack: Vec<&str> = names
            .iter()
            .map(|(_, rel)| rel.as_str())
            .filter(|rel| crate::inject::hijacks_startup(rel) && !declared.iter().any(|d| d == rel))
            .collect();
        if !hijack.is_empty() {
            bail!(
                "{url} holds {}, which would change how the program starts (loader, shell or interpreter variables); refusing to pass it on. If the app really needs it, declare it under [secrets.NAME] in secretsync.toml",
                hijack.join(", ")
            );
        }
        let full: Vec<String> = names.iter().map(|(f, _)| f.clone()).collect();
        let got = get_all(backend.as_ref(), &full, 8).await?;
        return Ok(names
            .into_iter()
            .zip(got)
            .filter_map(|((_, rel), s)| s.map(|s| (rel, s.value)))
            .collect());
    }
    let cfg = ctx.config()?;
    let env = cfg.env(&src.env)?;
    let store = ctx.store(&cfg)?;
    let named = |v: Vec<(SecretName, SecretValue)>| {
        v.into_iter().map(|(n, v)| (n.to_string(), v)).collect()
    };
    if env.env_type() != EnvType::Local {
        return Ok(named(ctx.unlocked(&cfg).await?.resolve_all(&env)?));
    }
    let cache = Cache::new(&cfg.app, store.id())?;
    match ctx.unlocked(&cfg).await {
        Ok(u) => {
            if !cache.is_current(&env, &cfg.store_path) {
                if let Err(e) = cache.pull(&u, &env).await {
                    eprintln!("note: could not refresh the local cache: {e:#}");
                }
            }
            Ok(named(u.resolve_all(&env)?))
        }
        Err(e) if cache.exists(&env) => {
            eprintln!(
                "note: using the local cache {} (the store cannot be opened here: {e})",
                cache.path(&env).display()
            );
            if !cache.is_current(&env, &cfg.store_path) {
                eprintln!("warning: the store changed since the cache was pulled; `secretsync pull` where the store can be opened refreshes it");
            }
            cache.read(&env).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Replace secret values in the command's stdout and stderr with [REDACTED:NAME].
    #[arg(long)]
    pub redact: bool,
    /// Shortest value --redact replaces (shorter ones would match ordinary text).
    #[arg(long, default_value_t = DEFAULT_MIN_LEN, value_name = "BYTES")]
    pub redact_min_len: usize,
    /// Give the command only its secrets and PATH, HOME, USER, LANG, TERM and TZ, instead of
    /// this process's whole environment.
    #[arg(long)]
    pub clean_env: bool,
    /// Refuse to run (exit 2) when a declared secret has no value for the environment;
    /// without it, missing secrets are only warned about.
    #[arg(long)]
    pub check: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Declared secrets with no value among `values` (empty when there is no config to declare).
fn missing_declared(ctx: &Ctx, values: &[(String, SecretValue)]) -> Vec<String> {
    let Ok(cfg) = ctx.config() else {
        return Vec::new();
    };
    let Ok(declared) = ctx.declared(&cfg) else {
        return Vec::new();
    };
    declared
        .into_iter()
        .map(|d| d.name.to_string())
        .filter(|n| !values.iter().any(|(v, _)| v == n))
        .collect()
}

pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<Outcome> {
    let values = values(ctx, &args.source).await?;
    if args.source.from.is_none() {
        let missing = missing_declared(ctx, &values);
        if !missing.is_empty() {
            let env = &args.source.env;
            if args.check {
                eprintln!("error: {env} has no value for declared {}; not running (set them, or drop --check)", missing.join(", "));
                return Ok(Outcome::Findings);
            }
            eprintln!(
                "warning: {env} has no value for declared {}",
                missing.join(", ")
            );
        }
    }
    let files = tempfile::Builder::new()
        .prefix("secretsync-run-")
        .tempdir()?;
    let mut cmd = tokio::process::Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    // The key that opens the whole store is not the program's business: it gets its values only.
    cmd.env_remove(crate::store::age_key::IDENTITY_ENV);
    if args.clean_env {
        cmd.env_clear();
        for k in crate::inject::CLEAN_ENV_KEEP {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
    }
    for (name, v) in &values {
        match v.as_str().filter(|s| !s.contains('\0')) {
            Some(s) => {
                cmd.env(name, s);
            }
            None => {
                // An environment variable cannot hold arbitrary bytes: hand over a file.
                let path = files.path().join(name);
                secretsync_core::fsio::write_atomic(&path, v.expose(), Some(0o600))?;
                cmd.env(format!("{name}_FILE"), &path);
                eprintln!("note: {name} is binary; its value is in the file named by {name}_FILE");
            }
        }
    }
    let redactors = if args.redact {
        let (out, short) = Redactor::new(&values, args.redact_min_len);
        let (err, _) = Redactor::new(&values, args.redact_min_len);
        if !short.is_empty() {
            eprintln!(
                "note: not redacting {} (shorter than {} bytes)",
                short.join(", "),
                args.redact_min_len
            );
        }
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        Some((out, err))
    } else {
        None
    };
    let watched = watch_signals()?;
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {:?}", args.command[0]))?;
    let pid = child
        .id()
        .context("the command exited before it could be watched")?;
    let forwarders = forward_signals(watched, pid, std::io::stdin().is_terminal());
    let pumps = match redactors {
        Some((out_r, err_r)) => {
            let (o, e) = (
                child.stdout.take().expect("piped"),
                child.stderr.take().expect("piped"),
            );
            Some((
                tokio::spawn(pump(o, tokio::io::stdout(), out_r)),
                tokio::spawn(pump(e, tokio::io::stderr(), err_r)),
            ))
        }
        None => None,
    };
    let status = child.wait().await?;
    if let Some((o, e)) = pumps {
        o.await??;
        e.await??;
    }
    for f in forwarders {
        f.abort();
    }
    drop(files);
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(Outcome::Exit(u8::try_from(code).unwrap_or(1)))
}

/// Copies a child's output through a redactor, chunk by chunk.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut r: Redactor,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        to.write_all(&r.push(&buf[..n])).await?;
        to.flush().await?;
    }
    to.write_all(&r.finish()).await?;
    to.flush().await
}

/// The signals `run` passes on to the child.
type Watched = Vec<(nix::sys::signal::Signal, tokio::signal::unix::Signal)>;

/// Starts watching SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGINT. Done before the child
/// is spawned, so a signal that arrives at once is not fatal to secretsync (it is held and
/// passed on).
fn watch_signals() -> Result<Watched> {
    use nix::sys::signal::Signal;
    use tokio::signal::unix::{signal, SignalKind};
    [
        (SignalKind::terminate(), Signal::SIGTERM),
        (SignalKind::hangup(), Signal::SIGHUP),
        (SignalKind::quit(), Signal::SIGQUIT),
        (SignalKind::user_defined1(), Signal::SIGUSR1),
        (SignalKind::user_defined2(), Signal::SIGUSR2),
        (SignalKind::interrupt(), Signal::SIGINT),
    ]
    .into_iter()
    .map(|(kind, sig)| {
        Ok((
            sig,
            signal(kind).with_context(|| format!("cannot watch {sig}"))?,
        ))
    })
    .collect()
}

/// Passes the watched signals on to the child `pid`. On a terminal SIGINT is not passed on: the
/// terminal already sent it to the child.
fn forward_signals(
    watched: Watched,
    pid: u32,
    interactive: bool,
) -> Vec<tokio::task::JoinHandle<()>> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    watched
        .into_iter()
        .map(|(sig, mut s)| {
            let pass = !(interactive && sig == Signal::SIGINT);
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if pass {
                        let _ = kill(Pid::from_raw(pid as i32), sig);
                    }
                }
            })
        })
        .collect()
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Format,
    /// Print values to a terminal anyway.
    #[arg(long)]
    pub force: bool,
    /// The Kubernetes Secret's name (default: APP-ENV).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

pub async fn run_export(ctx: &Ctx, args: ExportArgs) -> Result<Outcome> {
    if std::io::stdout().is_terminal() && !args.force {
        bail!("refusing to print secret values to a terminal: redirect to a file or a pipe (e.g. > .env), or pass --force");
    }
    let values = values(ctx, &args.source).await?;
    let default_name = || {
        let app = ctx
            .config()
            .map(|c| c.app)
            .unwrap_or_else(|_| "secrets".into());
        format!("{app}-{}", args.source.env)
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    let name = args.name.clone().unwrap_or_else(default_name);
    let text = format::render(args.format, &values, &name)?;
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, text.as_bytes())?;
    Ok(Outcome::Ok)
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The environment to cache (of type local).
    #[arg(long, default_value = "local", value_name = "ENV")]
    pub env: String,
}

pub async fn run_pull(ctx: &Ctx, args: PullArgs) -> Result<Outcome> {
    let cfg = ctx.config()?;
    let env = cfg.env(&args.env)?;
    cache::check_local(&env)?;
    let store = ctx.unlocked(&cfg).await?;
    let c = Cache::new(&cfg.app, store.id())?;
    let n = c.pull(&store, &env).await?;
    if ctx.json {
        crate::output::json(
            &serde_json::json!({ "env": env.name(), "values": n, "cache": c.path(&env) }),
        )?;
    } else {
        println!(
            "pulled {n} values of {env} into {} (mode 0600)",
            c.path(&env).display()
        );
    }
    Ok(Outcome::Ok)
}
