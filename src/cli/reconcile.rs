//! `secretsync reconcile`: plan and apply every environment in a loop (or `--once`), serving
//! Prometheus metrics and `/healthz`, stopping cleanly on SIGTERM after in-flight writes.

use super::{Ctx, Outcome};
use crate::app::reconcile::{self as app, EnvOutcome, ReconcileOptions, RoundReport};
use crate::sync::metrics::{Metrics, RunResult};
use crate::sync::PlanOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tracing::Instrument;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Environments to reconcile (default: every declared one with a backend).
    #[arg(long = "env", value_name = "ENV[,ENV…]", value_delimiter = ',')]
    pub envs: Vec<String>,
    /// Time between rounds (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub every: Duration,
    /// Run one round and exit (for a CronJob); the exit code is apply's.
    #[arg(long)]
    pub once: bool,
    /// Spread rounds by up to this fraction of --every, so replicas do not run in step.
    #[arg(long, default_value_t = 0.1, value_parser = parse_jitter, value_name = "FRACTION")]
    pub jitter: f64,
    /// Serve /metrics and /healthz on this address (e.g. 0.0.0.0:9898).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Take only shard K of N: a stable subset of the environments (K from 0).
    #[arg(long, value_parser = parse_shard, value_name = "K/N")]
    pub shard: Option<(u64, u64)>,
    /// Environments reconciled at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub parallel_envs: usize,
    /// Delete managed secrets that are gone from the store (capped by --max-deletes).
    #[arg(long)]
    pub prune: bool,
    /// Most deletions per environment and round.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_deletes: usize,
    /// What to do with drift: report (default) or revert. Adopting into the store needs a person.
    #[arg(long, value_enum, default_value_t = LoopDrift::Report)]
    pub on_drift: LoopDrift,
    /// Where the listing shows no versions (GCP), read each managed secret's metadata to find
    /// versions written outside secretsync.
    #[arg(long)]
    pub check_drift: bool,
    /// Backend calls in flight at once, per environment.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Read and compare every managed value on every Nth round (0: never). A plan trusts the
    /// backends' version ids otherwise; a verifying round costs one value read per managed
    /// secret. With --once, 1 verifies that run.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub verify_every: u64,
    /// Give up on a round that takes longer than this; /healthz fails when no round has ended
    /// within --every plus this.
    #[arg(long, default_value = "15m", value_parser = parse_round_timeout, value_name = "DURATION")]
    pub round_timeout: Duration,
}

/// `--every`: from 1s (anything shorter would hammer the backends) to 30 days.
fn parse_duration(s: &str) -> Result<Duration, String> {
    secretsync_core::duration::parse(s, Duration::from_secs(1), Duration::from_secs(30 * 86400))
}

/// `--round-timeout`: from 1s to 1 day.
fn parse_round_timeout(s: &str) -> Result<Duration, String> {
    secretsync_core::duration::parse(s, Duration::from_secs(1), Duration::from_secs(86400))
}

/// `--jitter`: a fraction from 0 to 1.
fn parse_jitter(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{s:?} is not a fraction from 0 to 1 (e.g. 0.1)")),
    }
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || {
        format!("{s:?} is not a shard K/N with 0 <= K < N (e.g. 0/4, or $(JOB_COMPLETION_INDEX)/4)")
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The loop's state for /healthz.
#[derive(Debug)]
struct Health {
    rounds: u64,
    last_round_ok: Option<bool>,
    /// When the last round ended (or the loop started).
    last_round_end: Instant,
    /// How long a healthy loop may go without ending a round: --every (with jitter) plus the
    /// round timeout, plus a little slack.
    stale_after: Duration,
}

impl Health {
    fn new(args: &ReconcileArgs) -> Self {
        let every = args.every.as_secs_f64() * (1.0 + args.jitter);
        Health {
            rounds: 0,
            last_round_ok: None,
            last_round_end: Instant::now(),
            stale_after: Duration::from_secs_f64(every)
                + args.round_timeout
                + Duration::from_secs(5),
        }
    }

    /// The status code and body of /healthz: 503 when the loop is stuck. No error text: the
    /// endpoint may be reachable from the network, and errors name backends and secrets.
    fn report(&self) -> (u16, String) {
        let age = self.last_round_end.elapsed();
        let stuck = age > self.stale_after;
        let body = app::Health {
            rounds: self.rounds,
            last_round_ok: self.last_round_ok,
            seconds_since_last_round: age.as_secs(),
            stuck,
        };
        let body = serde_json::to_string(&body).expect("health serializes");
        (if stuck { 503 } else { 200 }, body)
    }
}

/// `--on-drift` for the loop: adopting drift into the store needs a person (`apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoopDrift {
    /// Leave it and report it (the round exits 2 with --once).
    Report,
    /// Write the canonical value back.
    Revert,
}

impl ReconcileArgs {
    fn options(&self) -> ReconcileOptions {
        ReconcileOptions {
            envs: self.envs.clone(),
            shard: self.shard,
            parallel_envs: self.parallel_envs,
            plan: PlanOptions {
                prune: self.prune,
                max_deletes: self.max_deletes,
                check_drift: self.check_drift,
                on_drift: match self.on_drift {
                    LoopDrift::Report => crate::sync::DriftPolicy::Report,
                    LoopDrift::Revert => crate::sync::DriftPolicy::Revert,
                },
                concurrency: self.concurrency,
                ..Default::default()
            },
        }
    }
}

/// The log event of one environment's round (fields, never values).
fn log_env(e: &EnvOutcome) {
    let env = e.env.as_str();
    match (&e.detail.summary, &e.detail.error, &e.detail.skipped) {
        (Some(s), _, _) => {
            tracing::info!(
                env = %env,
                created = s.create,
                updated = s.update,
                deleted = s.delete,
                drifted = s.drift,
                failed = e.detail.failed.unwrap_or(0),
                unchanged = s.unchanged,
                seconds = e.seconds,
                "synced"
            );
            if !e.detail.needs_you.is_empty() {
                tracing::warn!(env = %env, items = %e.detail.needs_you.join(", "), "needs you");
            }
        }
        (_, Some(err), _) => tracing::error!(env = %env, error = %err, "environment failed"),
        (_, _, Some(why)) => tracing::warn!(env = %env, reason = %why, "skipped"),
        _ => {}
    }
}

pub async fn run(ctx: &Ctx, args: ReconcileArgs) -> Result<Outcome> {
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Mutex::new(Health::new(&args)));
    if let Some(addr) = &args.metrics_addr {
        serve(addr, metrics.clone(), health.clone()).await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    watch_signals(stop.clone(), wake.clone())?;

    let opts = args.options();
    let mut number = 0u64;
    loop {
        number += 1;
        let verify = args.verify_every > 0 && number.is_multiple_of(args.verify_every);
        let started = Instant::now();
        let round = match tokio::time::timeout(
            args.round_timeout,
            app::round(&ctx.ws, &opts, &metrics, &stop, verify, &log_env)
                .instrument(tracing::info_span!("reconcile", round = number)),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "the round did not finish within --round-timeout {:?}; abandoned",
                args.round_timeout
            )),
        };
        let outcome = {
            let mut h = health.lock().expect("health lock");
            h.rounds += 1;
            h.last_round_end = Instant::now();
            h.last_round_ok = Some(matches!(&round, Ok(r) if r.ok()));
            round_outcome(&round)
        };
        if let Ok(report) = &round {
            let count = |r: RunResult| report.environments.iter().filter(|e| e.result == r).count();
            tracing::info!(
                round = number,
                environments = report.environments.len(),
                ok = count(RunResult::Ok),
                attention = count(RunResult::Attention),
                failed = count(RunResult::Failed) + count(RunResult::Error),
                skipped = count(RunResult::Skipped),
                verified = verify,
                seconds = started.elapsed().as_secs_f64(),
                "round done"
            );
        }
        match &round {
            Ok(report) if ctx.out.json && args.once => ctx.out.json_doc(report)?,
            Ok(_) => {}
            Err(e) if args.once => return Err(anyhow::anyhow!("{e:#}")),
            Err(e) => {
                tracing::error!(round = number, error = %format!("{e:#}"), "round failed; retrying next round")
            }
        }
        if args.once {
            return Ok(outcome);
        }
        if stop.load(Ordering::SeqCst) {
            tracing::info!("stopping (signal received)");
            return Ok(Outcome::Ok);
        }
        let spread = args.every.as_secs_f64() * args.jitter.clamp(0.0, 1.0);
        let wait = Duration::from_secs_f64(
            (args.every.as_secs_f64() + spread * (2.0 * rand::random::<f64>() - 1.0)).max(0.0),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {
                tracing::info!("stopping (signal received)");
                return Ok(Outcome::Ok);
            }
        }
    }
}

fn round_outcome(round: &Result<RoundReport>) -> Outcome {
    match round {
        Err(_) => Outcome::Failed,
        Ok(r) if r.failed() => Outcome::Failed,
        Ok(r) if r.needs_attention() => Outcome::Attention,
        Ok(_) => Outcome::Ok,
    }
}

/// Serves /metrics and /healthz in the background.
async fn serve(addr: &str, metrics: Arc<Metrics>, health: Arc<Mutex<Health>>) -> Result<()> {
    use axum::{http::StatusCode, routing::get, Router};
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            "content-type",
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let h = health.clone();
                async move {
                    // Alive while rounds keep ending; a failing round is reported, not fatal.
                    let (code, body) = h.lock().expect("health lock").report();
                    (
                        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                        body,
                    )
                }
            }),
        );
    tracing::info!(
        url = %format!("http://{}", listener.local_addr()?),
        "serving /metrics and /healthz"
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    Ok(())
}

/// On SIGTERM or SIGINT: set `stop` and wake the loop, which finishes the writes in flight. A
/// second signal exits at once (130), for a person who will not wait.
fn watch_signals(stop: Arc<AtomicBool>, wake: Arc<Notify>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stop.store(true, Ordering::SeqCst);
        wake.notify_one();
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::warn!("second signal; exiting now without waiting for writes in flight");
        std::process::exit(130);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::metrics::RunResult;

    #[test]
    fn durations_and_shards_parse_with_clear_errors() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5 minutes").is_err() && parse_duration("0s").is_err());
        for bad in [
            "99999999999999999999h",
            "0.0000000001ms",
            "-1s",
            "NaN",
            "inf",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_jitter("NaN").is_err() && parse_jitter("2").is_err());
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        for bad in ["8/8", "1", "a/2", "0/0"] {
            assert!(parse_shard(bad).unwrap_err().contains("K/N"), "{bad}");
        }
    }

    #[test]
    fn skipped_environments_make_the_round_fail() {
        let env = |result| EnvOutcome {
            env: "e".into(),
            result,
            detail: Default::default(),
            seconds: 0.0,
        };
        let round = |environments| Ok(RoundReport { environments });
        assert!(matches!(
            round_outcome(&round(vec![env(RunResult::Ok), env(RunResult::Skipped)])),
            Outcome::Failed
        ));
        assert!(matches!(
            round_outcome(&round(vec![env(RunResult::Ok)])),
            Outcome::Ok
        ));
    }

    #[test]
    fn healthz_fails_when_no_round_ended_in_time_and_shows_no_error_text() {
        let mut h = Health {
            rounds: 3,
            last_round_ok: Some(false),
            last_round_end: Instant::now(),
            stale_after: Duration::from_secs(60),
        };
        let (code, body) = h.report();
        assert_eq!(code, 200);
        assert!(!body.contains("error"), "{body}");
        h.last_round_end = Instant::now() - Duration::from_secs(61);
        let (code, body) = h.report();
        assert_eq!(code, 503);
        assert!(body.contains("\"stuck\":true"), "{body}");
    }

    #[test]
    fn shards_split_environments_stably_and_completely() {
        let names: Vec<String> = (0..1000).map(|i| format!("pr-{i}")).collect();
        let mut seen = vec![0u32; names.len()];
        for k in 0..4 {
            let mine: Vec<usize> = (0..names.len())
                .filter(|&i| app::in_shard(&names[i], (k, 4)))
                .collect();
            assert!(
                (150..350).contains(&mine.len()),
                "shard {k} has {}",
                mine.len()
            );
            for i in mine {
                seen[i] += 1;
            }
        }
        assert!(
            seen.iter().all(|&c| c == 1),
            "every environment in exactly one shard"
        );
        assert!(app::in_shard("prod-eu", (0, 1)));
    }
}
