//! Prometheus metrics of the reconcile loop. Names, environments, actions and API calls only:
//! never a value.

use super::apply::{ApplyReport, Status};
use super::plan::{Action, Plan};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secretsync_core::calls::CallKey;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvLabel {
    env: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    env: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    env: String,
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    backend: String,
    op: String,
    outcome: String,
}

/// How one environment's round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    /// In sync after the round.
    Ok,
    /// Drift or refusals were left for a person.
    Attention,
    /// Some items failed.
    Failed,
    /// The round could not plan at all.
    Error,
    /// Not started: the loop was stopping on a signal.
    Skipped,
}

impl RunResult {
    fn as_str(self) -> &'static str {
        match self {
            RunResult::Ok => "ok",
            RunResult::Attention => "attention",
            RunResult::Failed => "failed",
            RunResult::Error => "error",
            RunResult::Skipped => "skipped",
        }
    }
}

/// The reconcile loop's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    failures: Family<EnvLabel, Counter>,
    drifted: Family<EnvLabel, Gauge>,
    duration: Family<EnvLabel, Gauge<f64, AtomicU64>>,
    last_success: Family<EnvLabel, Gauge<f64, AtomicU64>>,
    api_calls: Family<CallLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric.
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("secretsync"),
            runs: Family::default(),
            actions: Family::default(),
            failures: Family::default(),
            drifted: Family::default(),
            duration: Family::default(),
            last_success: Family::default(),
            api_calls: Family::default(),
        };
        m.registry.register(
            "reconcile_runs",
            "Reconcile rounds per environment, by result",
            m.runs.clone(),
        );
        m.registry.register(
            "reconcile_actions",
            "Plan actions applied (or found), by kind",
            m.actions.clone(),
        );
        m.registry.register(
            "reconcile_item_failures",
            "Items whose write or delete failed",
            m.failures.clone(),
        );
        m.registry.register(
            "reconcile_drifted_secrets",
            "Secrets changed outside secretsync, at the last round",
            m.drifted.clone(),
        );
        m.registry.register(
            "reconcile_duration_seconds",
            "Duration of the last round",
            m.duration.clone(),
        );
        m.registry.register(
            "reconcile_last_success_timestamp_seconds",
            "Unix time of the last round that ended in sync",
            m.last_success.clone(),
        );
        m.registry.register(
            "backend_api_calls",
            "Backend API calls, by backend, operation and outcome",
            m.api_calls.clone(),
        );
        m
    }

    /// Records one environment's round.
    pub fn record(
        &self,
        env: &str,
        plan: &Plan,
        report: &ApplyReport,
        seconds: f64,
        calls: &[(CallKey, u64)],
    ) -> RunResult {
        let e = EnvLabel { env: env.into() };
        for item in &plan.items {
            let action = format!("{:?}", item.action).to_lowercase();
            self.actions
                .get_or_create(&ActionLabels {
                    env: env.into(),
                    action,
                })
                .inc();
        }
        let failed = report.count(Status::Failed) as u64;
        self.failures.get_or_create(&e).inc_by(failed);
        let drifted = plan
            .items
            .iter()
            .filter(|i| i.action == Action::Drift)
            .count();
        self.drifted.get_or_create(&e).set(drifted as i64);
        self.duration.get_or_create(&e).set(seconds);
        self.calls(calls);
        let result = if failed > 0 {
            RunResult::Failed
        } else if report.count(Status::Skipped) > 0 {
            RunResult::Attention
        } else {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_success.get_or_create(&e).set(now);
            RunResult::Ok
        };
        self.runs
            .get_or_create(&RunLabels {
                env: env.into(),
                result: result.as_str().into(),
            })
            .inc();
        result
    }

    /// Records a round that could not plan.
    pub fn record_error(&self, env: &str, calls: &[(CallKey, u64)]) {
        self.calls(calls);
        self.runs
            .get_or_create(&RunLabels {
                env: env.into(),
                result: RunResult::Error.as_str().into(),
            })
            .inc();
    }

    fn calls(&self, calls: &[(CallKey, u64)]) {
        for (k, n) in calls {
            let l = CallLabels {
                backend: k.backend.clone(),
                op: k.op.as_str().into(),
                outcome: k.outcome.into(),
            };
            self.api_calls.get_or_create(&l).inc_by(*n);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
