//! `secretsync reconcile`: plan and apply every environment in a loop (or `--once`), serving
//! Prometheus metrics and `/healthz`, stopping cleanly on SIGTERM after in-flight writes.

use super::sync::{plan_env, SyncArgs};
use super::{targets, Ctx, Outcome};
use crate::model::EnvRef;
use crate::sync::metrics::{Metrics, RunResult};
use crate::sync::{self, DriftPolicy, Fingerprinter};
use anyhow::{bail, Context, Result};
use clap::Args;
use futures::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Environments to reconcile (default: every declared one with a backend).
    #[arg(long = "env", value_name = "ENV")]
    pub envs: Vec<String>,
    /// Time between rounds (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub every: Duration,
    /// Run one round and exit (for a CronJob); the exit code is apply's.
    #[arg(long)]
    pub once: bool,
    /// Spread rounds by up to this fraction of --every, so replicas do not run in step.
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
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
    #[arg(long, value_enum, default_value_t = DriftPolicy::Report)]
    pub on_drift: DriftPolicy,
    /// Where the listing shows no versions (GCP), read each managed secret's metadata to find
    /// versions written outside secretsync.
    #[arg(long)]
    pub check_drift: bool,
    /// Backend calls in flight at once, per environment.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 5m or 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: use ms, s, m or h")),
    };
    if secs <= 0.0 {
        return Err("the interval must be positive".into());
    }
    Ok(Duration::from_secs_f64(secs))
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

/// True when environment `name` belongs to shard `k` of `n` (a stable hash of the name).
pub fn in_shard(name: &str, (k, n): (u64, u64)) -> bool {
    let h = Sha256::digest(name.as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) % n == k
}

/// The loop's state for /healthz.
#[derive(Debug, Default)]
struct Health {
    rounds: u64,
    last_round_ok: Option<bool>,
    last_error: Option<String>,
}

/// One environment's outcome, for logs and `--json`.
struct EnvOutcome {
    env: String,
    result: RunResult,
    detail: serde_json::Value,
}

pub async fn run(ctx: &Ctx, args: ReconcileArgs) -> Result<Outcome> {
    if args.on_drift == DriftPolicy::Adopt {
        bail!("reconcile does not adopt drift into the store unattended: use --on-drift report|revert, and `secretsync apply --on-drift adopt` by hand");
    }
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Mutex::new(Health::default()));
    if let Some(addr) = &args.metrics_addr {
        serve(addr, metrics.clone(), health.clone()).await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new(Notify::new());
    watch_signals(stop.clone(), wake.clone())?;

    loop {
        let round = round(ctx, &args, &metrics, &stop).await;
        let outcome = {
            let mut h = health.lock().expect("health lock");
            h.rounds += 1;
            match &round {
                Ok(envs) => {
                    h.last_round_ok = Some(envs.iter().all(|e| e.result == RunResult::Ok));
                    h.last_error = None;
                }
                Err(e) => {
                    h.last_round_ok = Some(false);
                    h.last_error = Some(format!("{e:#}"));
                }
            }
            round_outcome(&round)
        };
        match &round {
            Ok(envs) if ctx.json && args.once => {
                crate::output::json(
                    &json!({ "environments": envs.iter().map(|e| json!({"env": e.env, "result": format!("{:?}", e.result).to_lowercase(), "detail": e.detail})).collect::<Vec<_>>() }),
                )?;
            }
            Ok(_) => {}
            Err(e) if args.once => return Err(anyhow::anyhow!("{e:#}")),
            Err(e) => eprintln!("reconcile: round failed: {e:#}; retrying next round"),
        }
        if args.once {
            return Ok(outcome);
        }
        if stop.load(Ordering::SeqCst) {
            eprintln!("reconcile: stopping (signal received)");
            return Ok(Outcome::Ok);
        }
        let spread = args.every.as_secs_f64() * args.jitter.clamp(0.0, 1.0);
        let wait = Duration::from_secs_f64(
            (args.every.as_secs_f64() + spread * (2.0 * rand::random::<f64>() - 1.0)).max(0.0),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {
                eprintln!("reconcile: stopping (signal received)");
                return Ok(Outcome::Ok);
            }
        }
    }
}

fn round_outcome(round: &Result<Vec<EnvOutcome>>) -> Outcome {
    match round {
        Err(_) => Outcome::Failed,
        Ok(envs)
            if envs
                .iter()
                .any(|e| matches!(e.result, RunResult::Failed | RunResult::Error)) =>
        {
            Outcome::Failed
        }
        Ok(envs) if envs.iter().any(|e| e.result == RunResult::Attention) => Outcome::Findings,
        Ok(_) => Outcome::Ok,
    }
}

/// One round: reload the config and store (they may have changed), then every environment of
/// this shard, `parallel_envs` at a time. Environments not yet started when a stop signal
/// arrives are skipped; started ones finish.
async fn round(
    ctx: &Ctx,
    args: &ReconcileArgs,
    metrics: &Metrics,
    stop: &AtomicBool,
) -> Result<Vec<EnvOutcome>> {
    let cfg = ctx.config()?;
    let store = ctx.unlocked(&cfg).await?;
    let fpr = Fingerprinter::new(store.fingerprint_key()?, store.id());
    let declared = ctx.declared(&cfg)?;
    let mut envs = targets::select(&cfg, &args.envs, args.envs.is_empty())?;
    if let Some(shard) = args.shard {
        envs.retain(|e| in_shard(e.name(), shard));
    }
    let sync_args = SyncArgs {
        envs: vec![],
        all: false,
        prune: args.prune,
        max_deletes: args.max_deletes,
        adopt: false,
        verify: false,
        check_drift: args.check_drift,
        on_drift: args.on_drift,
        concurrency: args.concurrency,
    };
    let (cfg, store, fpr, sync_args, declared) = (&cfg, &store, &fpr, &sync_args, &declared);
    let out = futures::stream::iter(envs)
        .filter(|_| std::future::ready(!stop.load(Ordering::SeqCst)))
        .map(|env: EnvRef| async move {
            let started = Instant::now();
            let name = env.name().to_string();
            match plan_env(cfg, store, &env, sync_args, declared).await {
                Ok((plan, target, _)) => {
                    let report = sync::apply(&plan, target.backend.clone(), fpr, sync_args.concurrency, &|_| {}).await;
                    let calls: Vec<_> = target.counter.snapshot().into_iter().collect();
                    let secs = started.elapsed().as_secs_f64();
                    let result = metrics.record(&name, &plan, &report, secs, &calls);
                    let s = plan.summary();
                    eprintln!(
                        "reconcile: {name}: {} created, {} updated, {} deleted, {} drifted, {} failed, {} unchanged ({secs:.2}s)",
                        s.create, s.update, s.delete, s.drift, report.count(sync::Status::Failed), s.unchanged
                    );
                    EnvOutcome { env: name, result, detail: json!({ "summary": s, "failed": report.count(sync::Status::Failed) }) }
                }
                Err(e) => {
                    metrics.record_error(&name, &[]);
                    eprintln!("reconcile: {name}: error: {e:#}");
                    EnvOutcome { env: name, result: RunResult::Error, detail: json!({ "error": format!("{e:#}") }) }
                }
            }
        })
        .buffer_unordered(args.parallel_envs.max(1))
        .collect::<Vec<_>>()
        .await;
    Ok(out)
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
                async move { ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], m.encode()) }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let h = health.clone();
                async move {
                    let h = h.lock().expect("health lock");
                    let body = json!({ "rounds": h.rounds, "last_round_ok": h.last_round_ok, "last_error": h.last_error }).to_string();
                    // Alive while the loop runs; a failing round is reported, not fatal.
                    (StatusCode::OK, body)
                }
            }),
        );
    eprintln!(
        "reconcile: serving http://{}/metrics and /healthz",
        listener.local_addr()?
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("reconcile: metrics server stopped: {e}");
        }
    });
    Ok(())
}

/// On SIGTERM or SIGINT: set `stop` and wake the loop.
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
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_shards_parse_with_clear_errors() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("5 minutes").is_err() && parse_duration("0s").is_err());
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        for bad in ["8/8", "1", "a/2", "0/0"] {
            assert!(parse_shard(bad).unwrap_err().contains("K/N"), "{bad}");
        }
    }

    #[test]
    fn shards_split_environments_stably_and_completely() {
        let names: Vec<String> = (0..1000).map(|i| format!("pr-{i}")).collect();
        let mut seen = vec![0u32; names.len()];
        for k in 0..4 {
            let mine: Vec<usize> = (0..names.len())
                .filter(|&i| in_shard(&names[i], (k, 4)))
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
        assert!(in_shard("prod-eu", (0, 1)));
    }
}
