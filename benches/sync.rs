//! The sync benchmark: API calls, wall time, throughput and peak memory of the engine and the
//! store. Run with `scripts/bench.sh` (it starts moto for the AWS rows); figures go to
//! BENCHMARKS.md with the command that produced them.
//!
//!   cargo bench --bench sync -- [--secrets N] [--moto-secrets N] [--quota-secrets N]

use secretsync::store::age_key::AgeIdentity;
use secretsync::store::Store;
use secretsync::sync::{apply, plan, Fingerprinter, PlanOptions, Status};
use secretsync_core::layers::{
    stack, CallCounter, Rate, RateLimit, RateLimits, RetryPolicy, StackConfig,
};
use secretsync_core::memory::MemoryBackend;
use secretsync_core::{
    BackendError, BackendInfo, Capabilities, DeleteOptions, ErrorKind, Identity, Op, Page,
    PutOptions, PutOutcome, Secret, SecretBackend, SecretMeta, SecretValue,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn row(name: &str, n: usize, took: Duration, counter: &CallCounter) {
    let calls: Vec<String> = [
        Op::List,
        Op::Get,
        Op::BatchGet,
        Op::Put,
        Op::Head,
        Op::Delete,
    ]
    .into_iter()
    .filter_map(|op| match counter.calls(op) {
        0 => None,
        c => Some(format!("{}={c}", op.as_str())),
    })
    .collect();
    println!(
        "| {name} | {n} | {:.3} | {:.0} | {} | {:.0} |",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        calls.join(" "),
        peak_rss_mib()
    );
}

fn layered(
    b: Arc<dyn SecretBackend>,
    rates: RateLimits,
    concurrency: usize,
) -> (Arc<dyn SecretBackend>, Arc<CallCounter>) {
    let counter = CallCounter::new();
    let cfg = StackConfig {
        retry: RetryPolicy {
            min_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
        rates,
        concurrency,
        counter: counter.clone(),
    };
    (stack(b, &cfg), counter)
}

fn unlimited() -> RateLimits {
    RateLimits {
        list: Rate::per_second(1_000_000),
        read: Rate::per_second(1_000_000),
        write: Rate::per_second(1_000_000),
    }
}

fn desired(n: usize) -> Vec<(String, SecretValue)> {
    (0..n)
        .map(|i| {
            (
                format!("S{i:06}"),
                SecretValue::from(format!("value-{i}-{}", "x".repeat(64)).as_str()),
            )
        })
        .collect()
}

async fn engine(
    name: &str,
    backend: Arc<dyn SecretBackend>,
    counter: Arc<CallCounter>,
    n: usize,
    concurrency: usize,
) {
    let fpr = Fingerprinter::new(
        SecretValue::from("bench-fingerprint-key-0123456789"),
        vec![],
        "bench",
    );
    static SCENARIO: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = SCENARIO.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let prefix = format!("bench{}-{k}/", std::process::id());
    let t = Instant::now();
    let p = plan(
        "bench",
        backend.as_ref(),
        &prefix,
        desired(n),
        &fpr,
        &PlanOptions::default(),
    )
    .await
    .expect("plan");
    let rep = apply(&p, backend.clone(), &fpr, concurrency, &|_| {}).await;
    assert_eq!(rep.count(Status::Done), n, "every secret written");
    row(
        &format!("{name}: first apply (plan + {n} creates)"),
        n,
        t.elapsed(),
        &counter,
    );
    counter.reset();
    let t = Instant::now();
    let p = plan(
        "bench",
        backend.as_ref(),
        &prefix,
        desired(n),
        &fpr,
        &PlanOptions::default(),
    )
    .await
    .expect("plan");
    assert!(!p.has_changes());
    row(&format!("{name}: no-change plan"), n, t.elapsed(), &counter);
    counter.reset();
    let mut changed = desired(n);
    for (_, v) in changed.iter_mut().step_by(10) {
        *v = SecretValue::from("rotated");
    }
    let t = Instant::now();
    let p = plan(
        "bench",
        backend.as_ref(),
        &prefix,
        changed,
        &fpr,
        &PlanOptions::default(),
    )
    .await
    .expect("plan");
    let rep = apply(&p, backend.clone(), &fpr, concurrency, &|_| {}).await;
    assert_eq!(rep.count(Status::Done), n / 10);
    row(
        &format!("{name}: 10% rotated (plan + {} updates)", n / 10),
        n,
        t.elapsed(),
        &counter,
    );
}

async fn store_rows(n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secrets.enc.toml");
    let id = AgeIdentity::generate();
    Store::create(&path, &Default::default(), &[&id.recipient()])
        .await
        .expect("create");
    let ids: Vec<Box<dyn Identity>> = vec![Box::new(id)];
    let counter = CallCounter::new();
    let t = Instant::now();
    let mut w = Store::open_for_write(&path, [], &ids).await.expect("open");
    for (name, v) in desired(n) {
        w.set(
            &name.parse().expect("name"),
            &"production".parse().expect("sel"),
            v,
            None,
        )
        .expect("set");
    }
    w.commit().expect("commit");
    row(
        &format!("store: set {n} values, one locked write"),
        n,
        t.elapsed(),
        &counter,
    );
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    let t = Instant::now();
    let u = Store::load(&path)
        .expect("load")
        .unlock(&ids)
        .await
        .expect("unlock");
    let env = secretsync::model::EnvRef::Implicit(secretsync::model::EnvType::Production);
    let all = u.resolve_all(&env).expect("resolve");
    assert_eq!(all.len(), n);
    row(
        &format!(
            "store: load, unlock and decrypt {n} values ({} KiB file)",
            size / 1024
        ),
        n,
        t.elapsed(),
        &counter,
    );
}

/// A server that enforces quotas: a call beyond its operation class's rate is refused as
/// throttled (as AWS answers `ThrottlingException`), never queued.
#[derive(Debug)]
struct QuotaServer {
    inner: MemoryBackend,
    quota: RateLimit,
    throttled: AtomicUsize,
}

impl QuotaServer {
    fn admit(&self, op: Op) -> secretsync_core::error::Result<()> {
        if self.quota.admit(op) {
            return Ok(());
        }
        self.throttled.fetch_add(1, Ordering::Relaxed);
        Err(BackendError::new(ErrorKind::Throttled, op, "Rate exceeded"))
    }
}

#[async_trait::async_trait]
impl SecretBackend for QuotaServer {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn list(
        &self,
        prefix: &str,
        page: Option<String>,
    ) -> secretsync_core::error::Result<Page<SecretMeta>> {
        self.admit(Op::List)?;
        self.inner.list(prefix, page).await
    }
    async fn head(&self, name: &str) -> secretsync_core::error::Result<Option<SecretMeta>> {
        self.admit(Op::Head)?;
        self.inner.head(name).await
    }
    async fn get(&self, name: &str) -> secretsync_core::error::Result<Option<Secret>> {
        self.admit(Op::Get)?;
        self.inner.get(name).await
    }
    async fn put(
        &self,
        name: &str,
        value: &SecretValue,
        opts: &PutOptions,
    ) -> secretsync_core::error::Result<PutOutcome> {
        self.admit(Op::Put)?;
        self.inner.put(name, value, opts).await
    }
    async fn delete(&self, name: &str, opts: &DeleteOptions) -> secretsync_core::error::Result<()> {
        self.admit(Op::Delete)?;
        self.inner.delete(name, opts).await
    }
}

/// A first sync of `n` creates into a server enforcing `server` quotas, with the engine's
/// limits at `client`, in virtual time (a paused tokio clock: the waits take no real time).
/// Prints the time against the floor the write quota sets, and what reached the user.
fn quota_row(name: &str, n: usize, server: RateLimits, client: RateLimits) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    let real = Instant::now();
    let (took, throttled, failed, calls) = rt.block_on(async {
        let srv = Arc::new(QuotaServer {
            inner: MemoryBackend::new(),
            quota: RateLimit::new(&server),
            throttled: AtomicUsize::new(0),
        });
        let counter = CallCounter::new();
        let cfg = StackConfig {
            retry: RetryPolicy::default(),
            rates: client,
            concurrency: 16,
            counter: counter.clone(),
        };
        let backend = stack(srv.clone(), &cfg);
        let fpr = Fingerprinter::new(
            SecretValue::from("bench-fingerprint-key-0123456789"),
            vec![],
            "bench",
        );
        let t = tokio::time::Instant::now();
        let p = plan(
            "bench",
            backend.as_ref(),
            "q/",
            desired(n),
            &fpr,
            &PlanOptions::default(),
        )
        .await
        .expect("plan");
        let rep = apply(&p, backend.clone(), &fpr, 16, &|_| {}).await;
        let failed = n - rep.count(Status::Done);
        (
            t.elapsed(),
            srv.throttled.load(Ordering::Relaxed),
            failed,
            counter.calls(Op::Put),
        )
    });
    let per_sec = server.write.calls as f64 / server.write.per.as_secs_f64();
    let floor = n as f64 / per_sec;
    println!(
        "| {name} | {n} | {per_sec:.0}/s | {floor:.1} | {:.1} | {:.3} | {throttled} | {calls} | {failed} | {:.2} |",
        took.as_secs_f64(),
        took.as_secs_f64() / floor,
        real.elapsed().as_secs_f64()
    );
}

/// Empties moto (its own reset API), so that each side of a comparison meets the same server.
async fn reset_moto(ep: &str) {
    reqwest::Client::new()
        .post(format!("{ep}/moto-api/reset"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("moto reset");
}

/// A first sync of `n` secrets into moto through the engine (plan + apply, rate limits out of
/// the way) against a raw SDK loop making the same `CreateSecret` calls (value and tags) at the
/// same concurrency with no engine; prints each side and the ratio (raw time / engine time).
/// Resets moto before each side: run it against a moto nothing else is using.
async fn raw_ratio_rows(ep: &str, n: usize) {
    use futures::StreamExt;
    let aws = secretsync_aws::AwsOptions {
        region: Some("us-east-1".into()),
        endpoint: Some(ep.into()),
        profile: None,
    };
    let conf = aws.load().await.expect("moto config");
    let raw = aws_sdk_secretsmanager::Client::new(&conf);
    let opts = secretsync_aws::SmOptions {
        aws,
        replicas: vec![],
    };
    let ours: Arc<dyn SecretBackend> = Arc::new(
        secretsync_aws::AwsSmBackend::new(&opts)
            .await
            .expect("moto"),
    );
    println!();
    println!("| first sync into moto | secrets | concurrency | raw SDK loop s | engine s | raw / engine | engine calls |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for c in [1, 8, 32] {
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let k = RUN.fetch_add(1, Ordering::SeqCst);
        let raw_prefix = format!("raw{}-{k}/", std::process::id());
        // Moto slows as it fills, so each side starts from an empty moto.
        reset_moto(ep).await;
        let t = Instant::now();
        let results: Vec<_> = futures::stream::iter(desired(n))
            .map(|(name, v)| {
                let raw = raw.clone();
                let name = format!("{raw_prefix}{name}");
                async move {
                    raw.create_secret()
                        .name(name)
                        .secret_string(v.as_str().unwrap_or_default())
                        .client_request_token(format!("{:0>40}", k))
                        .tags(
                            aws_sdk_secretsmanager::types::Tag::builder()
                                .key("managed-by")
                                .value("bench")
                                .build(),
                        )
                        .send()
                        .await
                }
            })
            .buffer_unordered(c)
            .collect()
            .await;
        let raw_took = t.elapsed();
        assert!(results.iter().all(|r| r.is_ok()), "raw creates");
        reset_moto(ep).await;
        let (b, counter) = layered(ours.clone(), unlimited(), c);
        let fpr = Fingerprinter::new(
            SecretValue::from("bench-fingerprint-key-0123456789"),
            vec![],
            "bench",
        );
        let t = Instant::now();
        let p = plan(
            "bench",
            b.as_ref(),
            &format!("eng{}-{k}/", std::process::id()),
            desired(n),
            &fpr,
            &PlanOptions::default(),
        )
        .await
        .expect("plan");
        let rep = apply(&p, b.clone(), &fpr, c, &|_| {}).await;
        let took = t.elapsed();
        assert_eq!(rep.count(Status::Done), n, "every secret written");
        println!(
            "| aws-sm | {n} | {c} | {:.3} | {:.3} | {:.2} | list={} put={} |",
            raw_took.as_secs_f64(),
            took.as_secs_f64(),
            raw_took.as_secs_f64() / took.as_secs_f64(),
            counter.calls(Op::List),
            counter.calls(Op::Put)
        );
    }
}

fn quota_rows(n: usize) {
    println!();
    println!("| quota scenario (virtual time) | creates | server write quota | floor s | took s | took / floor | throttled attempts | put attempts | failed items | real s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let aws = RateLimits::default();
    quota_row("AWS quotas, engine at its defaults (the same)", n, aws, aws);
    let shared = RateLimits {
        write: Rate::per_second(40),
        ..aws
    };
    quota_row(
        "another client uses 20% of the write quota (server 40/s, engine 50/s)",
        n,
        shared,
        aws,
    );
}

#[tokio::main]
async fn main() {
    let n = arg("--secrets", 10_000);
    let moto_n = arg("--moto-secrets", 1_000);
    let quota_n = arg("--quota-secrets", 10_000);
    // In its own runtime on its own thread: a paused clock for the virtual-time rows.
    std::thread::spawn(move || quota_rows(quota_n))
        .join()
        .expect("quota rows");
    println!();
    println!("| scenario | secrets | wall s | secrets/s | backend API calls | peak RSS MiB |");
    println!("|---|---:|---:|---:|---|---:|");
    store_rows(n).await;

    let mem = Arc::new(MemoryBackend::new());
    let (b, c) = layered(mem, unlimited(), 32);
    engine("memory", b, c, n, 32).await;

    let flaky = secretsync_core::layers::Chaos::new(Arc::new(MemoryBackend::new()));
    flaky.inject(|f| {
        f.throttle_every = 20;
        f.lose_every = 25;
    });
    let (b, c) = layered(Arc::new(flaky), unlimited(), 32);
    engine(
        "memory, 5% throttled + 4% of writes lose their response",
        b,
        c,
        n,
        32,
    )
    .await;

    match std::env::var("SECRETSYNC_TEST_AWS_ENDPOINT") {
        Ok(ep) => {
            let aws = secretsync_aws::AwsOptions { region: Some("us-east-1".into()), endpoint: Some(ep.clone()), profile: None };
            let opts = secretsync_aws::SmOptions { aws, replicas: vec![] };
            let aws: Arc<dyn SecretBackend> = Arc::new(secretsync_aws::AwsSmBackend::new(&opts).await.expect("moto"));
            // Moto slows as it fills (the tests leave thousands of secrets): start empty.
            reset_moto(&ep).await;
            let fast = RateLimits { write: Rate::per_second(1000), ..RateLimits::default() };
            let (b, c) = layered(aws.clone(), fast, 16);
            engine("aws-sm on moto, writes ≤1000/s", b, c, moto_n, 16).await;
            let (b, c) = layered(aws, RateLimits::default(), 16);
            engine("aws-sm on moto, AWS quotas (50 writes/s)", b, c, moto_n / 4, 16).await;
            raw_ratio_rows(&ep, arg("--ratio-secrets", 1_000)).await;
        }
        Err(_) => eprintln!("(no SECRETSYNC_TEST_AWS_ENDPOINT: the moto rows are skipped; scripts/bench.sh starts it)"),
    }
}
