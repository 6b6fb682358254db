//! `secretsync run`: a program with an environment's secrets as variables, signals passed on,
//! its output optionally redacted.

use super::{values, Ctx, Outcome, SourceArgs};
use crate::app::inject;
use crate::inject::redact::{Redactor, DEFAULT_MIN_LEN};
use anyhow::{Context, Result};
use clap::Args;
use std::io::IsTerminal;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

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

pub async fn run(ctx: &Ctx, args: RunArgs) -> Result<Outcome> {
    if ctx.out.json {
        anyhow::bail!("--json does not apply to run: its output is the program's (drop --json)");
    }
    let values = values(ctx, &args.source).await?;
    if args.source.from.is_none() {
        let missing = inject::missing_declared(&ctx.ws, &values);
        if !missing.is_empty() {
            let env = &args.source.env;
            if args.check {
                eprintln!("error: {env} has no value for declared {}; not running (set them, or drop --check)", missing.join(", "));
                return Ok(Outcome::Attention);
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
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        // As a shell does: 127 for a command not found, 126 for one that cannot be executed.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            let (code, why) = if e.kind() == std::io::ErrorKind::NotFound {
                (127, "command not found (check the name, or PATH)")
            } else {
                (126, "permission denied (is it executable?)")
            };
            eprintln!("error: cannot run {:?}: {why}", args.command[0]);
            return Ok(Outcome::Exit(code));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot run {:?}", args.command[0])),
    };
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
