//! The sync benchmark: API calls, wall time, throughput and peak memory of the engine and the
//! store. Run with `scripts/bench.sh` (it starts moto for the AWS rows); figures go to
//! BENCHMARKS.md with the command that produced them.
//!
//!   cargo bench --bench sync -- [--secrets N] [--moto-secrets N]

use secretsync::store::age_key::AgeIdentity;
use secretsync::store::Store;
use secretsync::sync::{apply, plan, Fingerprinter, PlanOptions, Status};
use secretsync_core::layers::{stack, CallCounter, Rate, RateLimits, RetryPolicy, StackConfig};
use secretsync_core::memory::MemoryBackend;
use secretsync_core::{Identity, Op, SecretBackend, SecretValue};
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

#[tokio::main]
async fn main() {
    let n = arg("--secrets", 10_000);
    let moto_n = arg("--moto-secrets", 1_000);
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
            let aws = secretsync_aws::AwsOptions { region: Some("us-east-1".into()), endpoint: Some(ep), profile: None };
            let opts = secretsync_aws::SmOptions { aws, replicas: vec![] };
            let aws: Arc<dyn SecretBackend> = Arc::new(secretsync_aws::AwsSmBackend::new(&opts).await.expect("moto"));
            let fast = RateLimits { write: Rate::per_second(1000), ..RateLimits::default() };
            let (b, c) = layered(aws.clone(), fast, 16);
            engine("aws-sm on moto, writes ≤1000/s", b, c, moto_n, 16).await;
            let (b, c) = layered(aws, RateLimits::default(), 16);
            engine("aws-sm on moto, AWS quotas (50 writes/s)", b, c, moto_n / 4, 16).await;
        }
        Err(_) => eprintln!("(no SECRETSYNC_TEST_AWS_ENDPOINT: the moto rows are skipped; scripts/bench.sh starts it)"),
    }
}
