//! Logs: `tracing` events to stderr, as text or JSON lines, at a level chosen by `-v` or a
//! filter in `SECRETSYNC_LOG` (else `RUST_LOG`).
//!
//! Only secretsync's own crates log below `info`: the SDKs and HTTP stacks underneath put
//! request bodies, values included, in their debug and trace events, so those are dropped
//! whatever the filter says.

use tracing::Level;
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::prelude::*;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event: time, level, spans, message and fields.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `spans`), for log collectors.
    Json,
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
#[error("{var} is not a log filter ({reason}); write a level (`debug`) or targets and levels (`secretsync=debug,secretsync_core=trace`)")]
pub struct FilterError {
    var: &'static str,
    reason: String,
}

/// The level for `-v` given `verbose` times over `base` (warnings for most commands, info for
/// the jobs that log as they go): each `-v` one step more, up to trace.
pub fn level(base: Level, verbose: u8) -> Level {
    const STEPS: [Level; 4] = [Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE];
    let start = STEPS.iter().position(|l| *l == base).unwrap_or(0);
    STEPS[(start + usize::from(verbose)).min(STEPS.len() - 1)]
}

/// The filter: `SECRETSYNC_LOG`, else `RUST_LOG`, else secretsync's crates at `level` and the
/// rest at warnings.
fn filter(level: Level) -> Result<EnvFilter, FilterError> {
    for var in ["SECRETSYNC_LOG", "RUST_LOG"] {
        if let Ok(s) = std::env::var(var) {
            if !s.trim().is_empty() {
                return EnvFilter::builder().parse(&s).map_err(|e| FilterError {
                    var,
                    reason: e.to_string(),
                });
            }
        }
    }
    let ours = [
        "secretsync",
        "secretsync_core",
        "secretsync_aws",
        "secretsync_gcp",
        "secretsync_vault",
    ];
    let spec: Vec<String> = std::iter::once("warn".to_string())
        .chain(ours.iter().map(|c| format!("{c}={level}")))
        .collect();
    Ok(EnvFilter::builder().parse_lossy(spec.join(",")))
}

/// The subscriber: `filter`, narrowed so that only secretsync's crates log below info, writing
/// to `writer` in `format`.
fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter.and(filter_fn(|m| {
        m.target().starts_with("secretsync") || *m.level() <= Level::INFO
    }));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false);
    match format {
        LogFormat::Text => {
            Box::new(tracing_subscriber::registry().with(layer.compact().with_filter(filter)))
        }
        LogFormat::Json => Box::new(
            tracing_subscriber::registry().with(
                layer
                    .json()
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_filter(filter),
            ),
        ),
    }
}

/// Starts logging to stderr. Call once, before any work.
pub fn init(level: Level, format: LogFormat) -> Result<(), FilterError> {
    let sub = subscriber(filter(level)?, format, std::io::stderr);
    // Already set (a test that runs the CLI in-process twice): keep the first.
    drop(tracing::subscriber::set_global_default(sub));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_is_one_level_more_from_the_commands_base() {
        assert_eq!(level(Level::WARN, 0), Level::WARN);
        assert_eq!(level(Level::WARN, 1), Level::INFO);
        assert_eq!(level(Level::WARN, 2), Level::DEBUG);
        assert_eq!(level(Level::INFO, 1), Level::DEBUG);
        assert_eq!(level(Level::INFO, 9), Level::TRACE);
    }

    /// A writer into a shared buffer, for reading what was logged.
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn below_info_only_secretsync_logs_whatever_the_filter_says() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let buf = Buf::default();
            let w = buf.clone();
            let sub = subscriber(EnvFilter::new("trace"), format, move || w.clone());
            tracing::subscriber::with_default(sub, || {
                // What an SDK's or HTTP stack's debug and trace events carry: request bodies.
                tracing::trace!(target: "aws_smithy_runtime::client", "body SdkBody(value-in-a-body)");
                tracing::debug!(target: "hyper_util::client", "sent value-in-a-body");
                tracing::info!(target: "hyper_util::client", "third-party info is kept");
                tracing::debug!(target: "secretsync_core::layers", "our debug is kept");
                tracing::trace!(target: "secretsync::sync", "our trace is kept");
            });
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            assert!(!out.contains("value-in-a-body"), "{format:?}: {out}");
            for kept in ["third-party info", "our debug", "our trace"] {
                assert!(out.contains(kept), "{format:?}: {kept} missing from {out}");
            }
        }
    }
}
