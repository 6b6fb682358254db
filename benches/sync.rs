//! The sync benchmark: API calls, wall time, throughput and peak memory of the engine and the
//! store, and the engine against raw client loops. Run with `scripts/bench.sh` (it starts moto,
//! the GCP emulator and OpenBao; a row whose emulator is not there is skipped); figures go to
//! BENCHMARKS.md with the command that produced them.
//!
//!   cargo bench --bench sync -- [--secrets N] [--moto-secrets N] [--quota-secrets N]
//!                               [--ratio-secrets N]

use secretsync::store::age_key::AgeIdentity;
use secretsync::store::Store;
use secretsync::sync::{apply, plan, Fingerprinter, PlanOptions, Status};
use secretsync_core::calls::CallCounter;
use secretsync_core::layers::{stack, RetryPolicy, StackConfig};
use secretsync_core::memory::MemoryBackend;
use secretsync_core::pace::{Rate, RateLimit, RateLimits};
use secretsync_core::request_log::{self, Emulator, Mark};
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

/// The system allocator, counting: the bytes live and their high-water mark since the row
/// began, so that each row reports the heap its own work took (the process's peak RSS only
/// grows, and includes the memory backend's own copy of every secret).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static BASE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            // A plain load first: past the peak, most allocations write nothing shared.
            if now > PEAK.load(Ordering::Relaxed) {
                PEAK.fetch_max(now, Ordering::Relaxed);
            }
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Starts a row: its clock, and its heap's high-water mark from what is live now.
fn start() -> Instant {
    let live = LIVE.load(Ordering::Relaxed);
    BASE.store(live, Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    Instant::now()
}

/// The most heap the row's work held at once, beyond what was live when it started.
fn row_heap_mib() -> f64 {
    PEAK.load(Ordering::Relaxed)
        .saturating_sub(BASE.load(Ordering::Relaxed)) as f64
        / (1024.0 * 1024.0)
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
    println!(
        "| {name} | {n} | {:.3} | {:.0} | {} | {:.0} | {:.0} |",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        calls_made(counter),
        row_heap_mib(),
        peak_rss_mib()
    );
}

/// The calls counted, as `op=count` for each operation made.
fn calls_made(counter: &CallCounter) -> String {
    let ops = [
        Op::List,
        Op::Head,
        Op::Get,
        Op::BatchGet,
        Op::Put,
        Op::Delete,
    ];
    ops.into_iter()
        .filter_map(|op| match counter.calls(op) {
            0 => None,
            c => Some(format!("{}={c}", op.as_str())),
        })
        .collect::<Vec<_>>()
        .join(" ")
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

/// The fingerprint key every scenario uses.
fn fingerprinter() -> Fingerprinter {
    Fingerprinter::new(
        SecretValue::from("bench-fingerprint-key-0123456789"),
        vec![],
        "bench",
    )
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
    let fpr = fingerprinter();
    static SCENARIO: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let k = SCENARIO.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let prefix = format!("bench{}-{k}/", std::process::id());
    let t = start();
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
    let t = start();
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
    let t = start();
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
    let t = start();
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
    let t = start();
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
        let fpr = fingerprinter();
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
        if let Some(e) = rep.results.iter().find_map(|r| r.error.as_ref()) {
            eprintln!("{name}: {} failed, the first: {}", failed, e.message);
        }
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

/// How one backend is written without the engine, for the ratio rows.
struct RatioTarget {
    /// The backend's name in the table.
    label: &'static str,
    /// secretsync's backend for it.
    ours: Arc<dyn SecretBackend>,
    /// The official client (or plain HTTP for Vault) creating one secret with its value and one
    /// ownership label, in as few requests as the service allows.
    raw: RawCreate,
    /// The emulator's own request log (from `scripts/emulators.sh`), when it keeps one.
    log: Option<(Emulator, String)>,
    /// What a listing's logged request names, when not the name prefix (GCP: the project).
    list_filter: Option<String>,
    /// A name prefix the service accepts, made unique per run.
    prefix: fn(&str, usize) -> String,
    /// Moto's endpoint: emptied before each side (moto slows as it fills).
    reset: Option<String>,
}

impl RatioTarget {
    /// A mark at the end of the emulator's log, if it keeps one.
    fn mark(&self) -> Option<Mark> {
        let (emulator, path) = self.log.as_ref()?;
        Some(Mark::now(*emulator, path).expect("the emulator's request log"))
    }
}

/// The emulator's log variable for `var`'s emulator, if set.
fn log_of(emulator: Emulator, var: &str) -> Option<(Emulator, String)> {
    std::env::var(var).ok().map(|p| (emulator, p))
}

/// Requests logged since `mark` containing `filter`, all names together.
fn logged_total(mark: Option<&Mark>, filter: &str) -> Option<u64> {
    let m = mark?;
    Some(
        m.requests_since(filter)
            .expect("the emulator's log")
            .values()
            .sum(),
    )
}

/// A per-secret request figure, or "–" when the emulator keeps no log.
fn per_secret(total: Option<u64>, n: usize) -> String {
    total.map_or("–".into(), |t| {
        format!("{:.2}", t as f64 / n.max(1) as f64)
    })
}

type RawCreate = Arc<
    dyn Fn(String, SecretValue) -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

/// A [`RawCreate`] from a client and what one create does with it.
fn raw_create<C, F, Fut>(client: C, create: F) -> RawCreate
where
    C: Clone + Send + Sync + 'static,
    F: Fn(C, String, SecretValue) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Arc::new(move |name, v| Box::pin(create(client.clone(), name, v)))
}

fn slash_prefix(side: &str, k: usize) -> String {
    format!("{side}{}-{k}/", std::process::id())
}

fn flat_prefix(side: &str, k: usize) -> String {
    format!("{side}{}_{k}_", std::process::id())
}

async fn aws_target(ep: &str) -> RatioTarget {
    let aws = secretsync_aws::AwsOptions {
        region: Some("us-east-1".into()),
        endpoint: Some(ep.into()),
        profile: None,
    };
    let conf = aws.load().await.expect("moto config");
    let client = aws_sdk_secretsmanager::Client::new(&conf);
    let opts = secretsync_aws::SmOptions {
        aws,
        replicas: vec![],
        kms_key: None,
    };
    let ours = secretsync_aws::AwsSmBackend::new(&opts)
        .await
        .expect("moto");
    let raw = raw_create(client, |client, name, v| async move {
        client
            .create_secret()
            .name(name)
            .secret_string(v.as_str().unwrap_or_default())
            .client_request_token(format!("{:0>40}", 1))
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("managed-by")
                    .value("bench")
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    });
    RatioTarget {
        label: "aws-sm on moto",
        ours: Arc::new(ours),
        raw,
        log: log_of(Emulator::Moto, "SECRETSYNC_TEST_AWS_REQUEST_LOG"),
        list_filter: None,
        prefix: slash_prefix,
        reset: Some(ep.to_string()),
    }
}

async fn gcp_target(ep: &str) -> RatioTarget {
    use google_cloud_secretmanager_v1::model::{Replication, Secret as GSecret, SecretPayload};
    let gcp = secretsync_gcp::GcpOptions {
        endpoint: Some(ep.into()),
        anonymous: true,
    };
    let client = google_cloud_secretmanager_v1::client::SecretManagerService::builder()
        .with_credentials(gcp.credentials().await.expect("anonymous credentials"))
        .with_endpoint(ep)
        .build()
        .await
        .expect("Secret Manager client");
    let ours = secretsync_gcp::GcpSmBackend::new("bench", &gcp)
        .await
        .expect("GCP emulator");
    let raw = raw_create(client, |client, name, v| async move {
        let secret =
            GSecret::new()
                .set_replication(Replication::new().set_automatic(
                    google_cloud_secretmanager_v1::model::replication::Automatic::new(),
                ))
                .set_labels([("managed-by", "bench")]);
        let s = client
            .create_secret()
            .set_parent("projects/bench")
            .set_secret_id(name)
            .set_secret(secret)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        client
            .add_secret_version()
            .set_parent(s.name)
            .set_payload(SecretPayload::new().set_data(v.expose().to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    RatioTarget {
        label: "gcp-sm on the emulator",
        ours: Arc::new(ours),
        raw,
        log: log_of(
            Emulator::GcpSecretManager,
            "SECRETSYNC_TEST_GCP_SM_REQUEST_LOG",
        ),
        list_filter: Some("/projects/bench/".into()),
        prefix: flat_prefix,
        reset: None,
    }
}

async fn vault_target(addr: &str, token: &str) -> RatioTarget {
    let opts = secretsync_vault::VaultOptions {
        addr: addr.into(),
        mount: "secret".into(),
        path: String::new(),
        namespace: None,
        auth: secretsync_vault::Auth::Token(token.into()),
    };
    let ours = secretsync_vault::VaultBackend::new(opts)
        .await
        .expect("OpenBao");
    let client = (reqwest::Client::new(), addr.to_string(), token.to_string());
    let raw = raw_create(client, |(http, addr, token), name, v| async move {
        let send = |path: String, body: serde_json::Value| {
            http.post(format!("{addr}/v1/secret/{path}"))
                .header("X-Vault-Token", &token)
                .json(&body)
                .send()
        };
        send(
            format!("metadata/{name}"),
            serde_json::json!({ "custom_metadata": { "managed-by": "bench" } }),
        )
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
        send(
                format!("data/{name}"),
                serde_json::json!({ "options": { "cas": 0 }, "data": { "value": v.as_str().unwrap_or_default() } }),
            )
            .await
            .and_then(|r| r.error_for_status())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    RatioTarget {
        label: "vault on OpenBao",
        ours: Arc::new(ours),
        raw,
        log: log_of(Emulator::OpenBao, "SECRETSYNC_TEST_VAULT_REQUEST_LOG"),
        list_filter: None,
        prefix: slash_prefix,
        reset: None,
    }
}

/// A first sync of `n` secrets through the engine (plan + apply, rate limits out of the way)
/// against a raw loop making the same creates at the same concurrency with no engine; prints
/// each side, the ratio (raw time / engine time) and the HTTP requests per secret each side
/// sent, as the emulator logged them. Then a no-change plan of what the engine wrote: its calls,
/// its HTTP requests as the backend counted them and as the emulator logged them (which must
/// agree), against the targets. Run it against emulators nothing else is using.
async fn ratio_rows(targets: &[RatioTarget], n: usize) {
    use futures::StreamExt;
    println!();
    println!("| first sync | secrets | concurrency | raw loop s | engine s | raw / engine | HTTP requests per secret (emulator's log), raw / engine | engine calls |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let mut no_change = Vec::new();
    for t in targets {
        for c in [1, 8, 32] {
            let k = RUN.fetch_add(1, Ordering::SeqCst);
            if let Some(ep) = &t.reset {
                reset_moto(ep).await;
            }
            let raw_prefix = (t.prefix)("raw", k);
            let mark = t.mark();
            let start = Instant::now();
            let results: Vec<_> = futures::stream::iter(desired(n))
                .map(|(name, v)| (t.raw)(format!("{raw_prefix}{name}"), v))
                .buffer_unordered(c)
                .collect()
                .await;
            let raw_took = start.elapsed();
            if let Some(e) = results.into_iter().find_map(Result::err) {
                panic!("{}: a raw create failed: {e}", t.label);
            }
            let raw_requests = logged_total(mark.as_ref(), &raw_prefix);
            if let Some(ep) = &t.reset {
                reset_moto(ep).await;
            }
            let (b, counter) = layered(t.ours.clone(), RateLimits::unlimited(), c);
            let fpr = fingerprinter();
            let eng_prefix = (t.prefix)("eng", k);
            let mark = t.mark();
            let start = Instant::now();
            let p = plan(
                "bench",
                b.as_ref(),
                &eng_prefix,
                desired(n),
                &fpr,
                &PlanOptions::default(),
            )
            .await
            .expect("plan");
            let rep = apply(&p, b.clone(), &fpr, c, &|_| {}).await;
            let took = start.elapsed();
            assert_eq!(
                rep.count(Status::Done),
                n,
                "{}: every secret written",
                t.label
            );
            println!(
                "| {} | {n} | {c} | {:.3} | {:.3} | {:.2} | {} / {} | list={} put={} |",
                t.label,
                raw_took.as_secs_f64(),
                took.as_secs_f64(),
                raw_took.as_secs_f64() / took.as_secs_f64(),
                per_secret(raw_requests, n),
                per_secret(logged_total(mark.as_ref(), &eng_prefix), n),
                counter.calls(Op::List),
                counter.calls(Op::Put)
            );
            if c == 32 {
                no_change.push(no_change_row(t, b.as_ref(), &counter, &eng_prefix, n).await);
            }
        }
    }
    println!();
    println!("| no-change plan | secrets | engine calls | HTTP requests, counted by the backend | the same in the emulator's own log | value reads |");
    println!("|---|---:|---|---|---|---:|");
    for r in no_change {
        println!("{r}");
    }
}

/// A no-change plan of the `n` secrets under `prefix`: its calls and requests, checked against
/// the emulator's log; panics if they disagree or a value is read.
async fn no_change_row(
    t: &RatioTarget,
    b: &dyn SecretBackend,
    counter: &CallCounter,
    prefix: &str,
    n: usize,
) -> String {
    let mark = t.mark();
    counter.reset();
    let p = plan(
        "bench",
        b,
        prefix,
        desired(n),
        &fingerprinter(),
        &PlanOptions::default(),
    )
    .await
    .expect("plan");
    assert!(!p.has_changes(), "{}: nothing to change", t.label);
    let show = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let counted: std::collections::BTreeMap<String, u64> = counter
        .requests()
        .into_iter()
        .map(|(k, v)| (k.request.into_owned(), v))
        .collect();
    let logged = mark.map(|m| {
        m.requests_since(t.list_filter.as_deref().unwrap_or(prefix))
            .expect("the emulator's log")
    });
    if let Some(logged) = &logged {
        assert_eq!(
            &counted, logged,
            "{}: the requests counted (left) are not those the emulator logged (right)",
            t.label
        );
    }
    let value_reads: u64 = [
        "GetSecretValue",
        "BatchGetSecretValue",
        "AccessSecretVersion",
        "GET data",
    ]
    .iter()
    .map(|r| counted.get(*r).copied().unwrap_or(0))
    .sum();
    assert_eq!(
        value_reads, 0,
        "{}: a no-change plan reads no value",
        t.label
    );
    format!(
        "| {} | {n} | {} | {} | {} | {value_reads} |",
        t.label,
        calls_made(counter),
        show(&counted),
        logged.as_ref().map_or("(no log)".into(), show),
    )
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
    println!("| scenario | secrets | wall s | secrets/s | backend API calls | the row's heap MiB | process peak RSS MiB |");
    println!("|---|---:|---:|---:|---|---:|---:|");
    store_rows(n).await;

    let mem = Arc::new(MemoryBackend::new());
    let (b, c) = layered(mem, RateLimits::unlimited(), 32);
    engine("memory", b, c, n, 32).await;

    let flaky = secretsync_core::layers::Chaos::new(Arc::new(MemoryBackend::new()));
    flaky.inject(|f| {
        f.throttle_every = 20;
        f.lose_every = 25;
    });
    let (b, c) = layered(Arc::new(flaky), RateLimits::unlimited(), 32);
    engine(
        "memory, 5% throttled + 4% of writes lose their response",
        b,
        c,
        n,
        32,
    )
    .await;

    let mut targets = Vec::new();
    match std::env::var("SECRETSYNC_TEST_AWS_ENDPOINT") {
        Ok(ep) => {
            let target = aws_target(&ep).await;
            let aws = target.ours.clone();
            // Moto slows as it fills (the tests leave thousands of secrets): start empty.
            reset_moto(&ep).await;
            let fast = RateLimits { write: Rate::per_second(1000), ..RateLimits::default() };
            let (b, c) = layered(aws.clone(), fast, 16);
            engine("aws-sm on moto, writes ≤1000/s", b, c, moto_n, 16).await;
            let (b, c) = layered(aws, RateLimits::default(), 16);
            engine("aws-sm on moto, AWS quotas (50 writes/s)", b, c, moto_n / 4, 16).await;
            targets.push(target);
        }
        Err(_) => eprintln!("(no SECRETSYNC_TEST_AWS_ENDPOINT: the moto rows are skipped; scripts/bench.sh starts it)"),
    }
    match std::env::var("SECRETSYNC_TEST_GCP_SM_ENDPOINT") {
        Ok(ep) => targets.push(gcp_target(&ep).await),
        Err(_) => eprintln!("(no SECRETSYNC_TEST_GCP_SM_ENDPOINT: the GCP ratio rows are skipped)"),
    }
    match (
        std::env::var("SECRETSYNC_TEST_VAULT_ADDR"),
        std::env::var("SECRETSYNC_TEST_VAULT_TOKEN"),
    ) {
        (Ok(addr), Ok(token)) => targets.push(vault_target(&addr, &token).await),
        _ => {
            eprintln!("(no SECRETSYNC_TEST_VAULT_ADDR/_TOKEN: the OpenBao ratio rows are skipped)")
        }
    }
    // Moto records requests only while asked to (its recorder writes every body to disk).
    let _recording = std::env::var("SECRETSYNC_TEST_AWS_ENDPOINT")
        .ok()
        .map(|ep| request_log::MotoRecording::start(&ep).expect("moto's recorder"));
    ratio_rows(&targets, arg("--ratio-secrets", 1_000)).await;
}
