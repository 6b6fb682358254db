//! Faults over real HTTP: a proxy between secretsync and each emulator (moto, the GCP emulator,
//! OpenBao) answers a share of the requests with throttling (in the backend's own dialect),
//! 500 or 503, a reset connection, a stall past the client's timeout, or forwards a write and
//! then drops its response. With 20 % faults an apply of 300 secrets ends correct, with one
//! version per secret and exit 0; with every write failing it stops within its retry budget,
//! reports each item and exits 1, and a rerun without faults converges.

use crate::common::{self, bulk_set, Project};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use secretsync_core::conformance::{emulator_endpoint, random_prefix};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The client timeout the tests run with, and how long a stalled request hangs.
const TIMEOUT: &str = "2s";
const STALL: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    Aws,
    Gcp,
    Vault,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Throttle,
    ServerError,
    Unavailable,
    Reset,
    Stall,
    DropAfterForward,
}

const FAULTS: [Fault; 6] = [
    Fault::Throttle,
    Fault::ServerError,
    Fault::Unavailable,
    Fault::Reset,
    Fault::Stall,
    Fault::DropAfterForward,
];

struct State {
    upstream: String,
    flavor: Flavor,
    /// Faults per thousand requests.
    permille: AtomicU32,
    writes_only: AtomicBool,
    rng: AtomicU64,
    client: reqwest::Client,
    injected: Mutex<Vec<String>>,
    /// Answer each request (method and URI) 503 the first time it is seen.
    fail_first: AtomicBool,
    seen: Mutex<std::collections::HashSet<String>>,
}

/// A fault-injecting proxy on loopback, serving until dropped.
struct FaultProxy {
    url: String,
    state: Arc<State>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FaultProxy {
    fn start(upstream: &str, flavor: Flavor, seed: u64) -> FaultProxy {
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            flavor,
            permille: AtomicU32::new(0),
            writes_only: AtomicBool::new(false),
            rng: AtomicU64::new(seed | 1),
            client: reqwest::Client::builder().build().unwrap(),
            injected: Mutex::new(Vec::new()),
            fail_first: AtomicBool::new(false),
            seen: Mutex::default(),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let st = st.clone();
                    async move { handle(st, req).await }
                });
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        FaultProxy {
            url: format!("http://{addr}"),
            state,
            _stop: stop,
        }
    }

    fn faults(&self, permille: u32, writes_only: bool) {
        self.state.permille.store(permille, Ordering::SeqCst);
        self.state.writes_only.store(writes_only, Ordering::SeqCst);
    }

    /// From now on, answers each request (method and URI) 503 the first time it comes.
    fn fail_each_request_once(&self) {
        self.state.fail_first.store(true, Ordering::SeqCst);
    }

    fn injected(&self) -> Vec<String> {
        self.state.injected.lock().unwrap().clone()
    }
}

fn next(st: &State) -> u64 {
    let mut x = st.rng.load(Ordering::SeqCst);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    st.rng.store(x, Ordering::SeqCst);
    x
}

fn is_write(flavor: Flavor, req: &Request<Body>) -> bool {
    match flavor {
        Flavor::Aws => req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                [
                    "CreateSecret",
                    "PutSecretValue",
                    "TagResource",
                    "UntagResource",
                    "UpdateSecret",
                    "DeleteSecret",
                ]
                .iter()
                .any(|w| t.ends_with(w))
            }),
        Flavor::Gcp | Flavor::Vault => {
            req.method() != axum::http::Method::GET && req.method().as_str() != "LIST"
        }
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Body> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_string())).unwrap()
}

/// A response whose body fails at once: the server drops the connection mid-answer.
fn reset() -> Response<Body> {
    let stream = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::other("reset by the fault proxy"))
    });
    Response::builder()
        .status(200)
        .header("content-length", "100")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn throttled(flavor: Flavor) -> Response<Body> {
    match flavor {
        Flavor::Aws => reply(
            400,
            &[
                ("x-amzn-errortype", "ThrottlingException"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        Flavor::Gcp => reply(
            429,
            &[("content-type", "application/json")],
            r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#,
        ),
        Flavor::Vault => reply(
            429,
            &[("content-type", "application/json")],
            r#"{"errors":["rate limit quota exceeded"]}"#,
        ),
    }
}

fn server_error(flavor: Flavor, status: u16) -> Response<Body> {
    match flavor {
        Flavor::Aws => reply(
            status,
            &[
                ("x-amzn-errortype", "InternalServiceError"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            r#"{"__type":"InternalServiceError","message":"injected"}"#,
        ),
        Flavor::Gcp => reply(
            status,
            &[("content-type", "application/json")],
            &format!(
                r#"{{"error":{{"code":{status},"message":"injected","status":"UNAVAILABLE"}}}}"#
            ),
        ),
        Flavor::Vault => reply(
            status,
            &[("content-type", "application/json")],
            r#"{"errors":["injected"]}"#,
        ),
    }
}

async fn forward(st: &State, req: Request<Body>) -> Result<Response<Body>, String> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut r = st.client.request(method, format!("{}{pq}", st.upstream));
    for (k, v) in &parts.headers {
        if !matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            r = r.header(k.as_str(), v.as_bytes());
        }
    }
    let up = r
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Response::builder().status(up.status().as_u16());
    for (k, v) in up.headers() {
        if !matches!(
            k.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            out = out.header(k.as_str(), v.as_bytes());
        }
    }
    let bytes = up.bytes().await.map_err(|e| e.to_string())?;
    Ok(out.body(Body::from(bytes)).unwrap())
}

async fn handle(st: Arc<State>, req: Request<Body>) -> Response<Body> {
    let permille = st.permille.load(Ordering::SeqCst);
    let eligible = !st.writes_only.load(Ordering::SeqCst) || is_write(st.flavor, &req);
    let roll = next(&st);
    let first = st.fail_first.load(Ordering::SeqCst)
        && st
            .seen
            .lock()
            .unwrap()
            .insert(format!("{} {}", req.method(), req.uri()));
    let fault = if first {
        Some(Fault::Unavailable)
    } else {
        (eligible && (roll % 1000) < u64::from(permille))
            .then(|| FAULTS[((roll / 1000) % FAULTS.len() as u64) as usize])
    };
    if let Some(f) = fault {
        st.injected.lock().unwrap().push(format!("{f:?}"));
    }
    let res = match fault {
        None => forward(&st, req).await,
        Some(Fault::Throttle) => Ok(throttled(st.flavor)),
        Some(Fault::ServerError) => Ok(server_error(st.flavor, 500)),
        Some(Fault::Unavailable) => Ok(server_error(st.flavor, 503)),
        Some(Fault::Reset) => Ok(reset()),
        Some(Fault::Stall) => {
            tokio::time::sleep(STALL).await;
            Ok(server_error(st.flavor, 503))
        }
        Some(Fault::DropAfterForward) => forward(&st, req).await.map(|_| reset()),
    };
    res.unwrap_or_else(|e| reply(StatusCode::BAD_GATEWAY.as_u16(), &[], &e))
}

/// One backend behind the proxy: the project, the URL through the proxy, the direct URL, the
/// prefix, and how to count a secret's versions directly.
struct Setup {
    project: Project,
    direct: String,
    prefix: String,
    versions: Box<dyn Fn(&str) -> usize>,
}

fn names(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|k| (format!("S{k:03}"), format!("value-{k}")))
        .collect()
}

/// The scenario: 20 % faults, then every write failing, then none.
fn run(setup: Setup, proxy: &FaultProxy) {
    let Setup {
        project: p,
        direct,
        prefix,
        versions,
    } = setup;
    bulk_set(&p, "production", &names(300));

    proxy.faults(200, false);
    let started = Instant::now();
    let out = p.run(&["apply", "--env", "faulty", "--concurrency", "16"], None);
    let injected = proxy.injected();
    assert_eq!(
        out.status.code(),
        Some(0),
        "20 % faults ({} injected): {}",
        injected.len(),
        common::text(&out)
    );
    for kind in [
        "Throttle",
        "ServerError",
        "Unavailable",
        "Reset",
        "Stall",
        "DropAfterForward",
    ] {
        assert!(
            injected.iter().any(|f| f == kind),
            "no {kind} was injected: {injected:?}"
        );
    }
    eprintln!(
        "20 % faults: {} injected, apply took {:?}",
        injected.len(),
        started.elapsed()
    );
    proxy.faults(0, false);
    let got: serde_json::Value = serde_json::from_str(&p.ok(
        &[
            "export", "--from", &direct, "--prefix", &prefix, "--format", "json",
        ],
        None,
    ))
    .unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&p.ok(&["export", "--env", "faulty", "--format", "json"], None))
            .unwrap();
    assert_eq!(got, want, "a secret is wrong after the faulty apply");
    for (name, _) in &names(300) {
        assert_eq!(
            versions(&format!("{prefix}{name}")),
            1,
            "{name} has duplicate versions"
        );
    }

    // Every write fails: the budget stops the retries; every item is reported.
    bulk_set(
        &p,
        "production",
        &names(300)
            .into_iter()
            .map(|(n, v)| (n, format!("{v}-2")))
            .collect::<Vec<_>>(),
    );
    proxy.faults(1000, true);
    let started = Instant::now();
    let out = p.run(&["apply", "--env", "faulty", "--concurrency", "16"], None);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let failed = String::from_utf8_lossy(&out.stdout)
        .matches("FAILED")
        .count();
    assert_eq!(failed, 300, "each item reported: {}", common::text(&out));
    assert!(
        took < Duration::from_secs(150),
        "every write failing took {took:?}"
    );
    eprintln!("100 % write faults: exit 1 after {took:?}");

    // Faults off: a rerun converges.
    proxy.faults(0, false);
    p.ok(&["apply", "--env", "faulty"], None);
    let out = p.run(
        &["plan", "--env", "faulty", "--verify", "--detailed-exitcode"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
    let got: serde_json::Value = serde_json::from_str(&p.ok(
        &[
            "export", "--from", &direct, "--prefix", &prefix, "--format", "json",
        ],
        None,
    ))
    .unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&p.ok(&["export", "--env", "faulty", "--format", "json"], None))
            .unwrap();
    assert_eq!(got, want);
}

fn project(mut vars: Vec<(String, String)>, backend: &str, prefix: &str) -> Project {
    vars.push(("SECRETSYNC_HTTP_TIMEOUT".into(), TIMEOUT.into()));
    let p = Project::init_with(vars);
    p.append_config(&format!(
        "[environments.faulty]\ntype = \"production\"\nbackend = \"{backend}\"\nprefix = \"{prefix}\"\nwrites_per_second = 2000\nreads_per_second = 2000\nlists_per_second = 2000\n"
    ));
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_behind_a_faulty_network() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_AWS_ENDPOINT") else {
        return;
    };
    let proxy = FaultProxy::start(&ep, Flavor::Aws, 0xfa17_0001);
    let prefix = format!("{}f/", random_prefix("fault"));
    let p = project(
        common::aws_env(&ep),
        &format!("aws-sm://?region=us-east-1&endpoint={}", proxy.url),
        &prefix,
    );
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&ep)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "t",
        ))
        .load()
        .await;
    let sm = aws_sdk_secretsmanager::Client::new(&conf);
    let handle = tokio::runtime::Handle::current();
    let versions = move |name: &str| {
        let sm = sm.clone();
        let name = name.to_string();
        tokio::task::block_in_place(|| {
            handle.block_on(async move {
                sm.list_secret_version_ids()
                    .secret_id(name)
                    .include_deprecated(true)
                    .send()
                    .await
                    .unwrap()
                    .versions()
                    .len()
            })
        })
    };
    let direct = format!("aws-sm://?region=us-east-1&endpoint={ep}");
    tokio::task::block_in_place(|| {
        run(
            Setup {
                project: p,
                direct,
                prefix,
                versions: Box::new(versions),
            },
            &proxy,
        )
    });
}

#[test]
fn openbao_behind_a_faulty_network() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let proxy = FaultProxy::start(&addr, Flavor::Vault, 0xfa17_0002);
    let mount = random_prefix("fault");
    let through = format!(
        "{}/secret/{mount}",
        proxy.url.replace("http://", "vault+http://")
    );
    let direct = format!(
        "{}/secret/{mount}",
        addr.replace("http://", "vault+http://")
    );
    let p = project(vec![("VAULT_TOKEN".into(), "root".into())], &through, "f/");
    let client = reqwest::blocking_client();
    let a = addr.clone();
    let versions = move |name: &str| -> usize {
        let v: serde_json::Value = client
            .get(format!("{a}/v1/secret/metadata/{mount}/{name}"))
            .header("X-Vault-Token", "root")
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["data"]["versions"].as_object().map_or(0, |m| m.len())
    };
    run(
        Setup {
            project: p,
            direct,
            prefix: "f/".into(),
            versions: Box::new(versions),
        },
        &proxy,
    );
}

/// A passing fault costs the request that met it a resend, not its whole operation (a put is
/// five requests on KV v2, three on GCP): with every request failing once, an apply makes
/// one put per secret, none retried, and `want` is what it sends, by request.
/// Each fault shows as one `resending` event in the debug log.
fn each_request_failing_once(p: &Project, proxy: &FaultProxy, want: &[(&str, u64)]) {
    proxy.fail_each_request_once();
    bulk_set(p, "production", &names(40));
    let run = p.run(
        &[
            "apply",
            "--env",
            "faulty",
            "--json",
            "-vv",
            "--log-format",
            "json",
        ],
        None,
    );
    assert_eq!(run.status.code(), Some(0), "{}", common::text(&run));
    let out: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let resent: Vec<serde_json::Value> = String::from_utf8_lossy(&run.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "resending")
        .collect();
    assert_eq!(resent.len(), proxy.injected().len());
    assert!(resent.iter().all(|l| l["fields"]["fault"] == "Unknown"
        && l["spans"].as_array().is_some_and(|s| !s.is_empty())));
    let env = &out["environments"][0];
    let calls = &env["api_calls"];
    assert_eq!(common::ok_calls(calls, "put"), 40, "{calls}");
    assert!(
        calls
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["outcome"] == "ok"),
        "a call was retried whole: {calls}"
    );
    let sent: Vec<(String, u64)> = env["http_requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["request"].as_str().unwrap().to_string(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = want.iter().map(|(r, n)| (r.to_string(), *n)).collect();
    assert_eq!(sent, want);
    let injected = proxy.injected().len();
    assert_eq!(injected, proxy.state.seen.lock().unwrap().len());
}

#[test]
fn openbao_sends_a_failed_request_again_not_the_whole_write() {
    let Some(addr) = emulator_endpoint("SECRETSYNC_TEST_VAULT_ADDR") else {
        return;
    };
    let proxy = FaultProxy::start(&addr, Flavor::Vault, 0xfa17_0004);
    let mount = random_prefix("once");
    let through = format!(
        "{}/secret/{mount}",
        proxy.url.replace("http://", "vault+http://")
    );
    let p = project(vec![("VAULT_TOKEN".into(), "root".into())], &through, "f/");
    // Each first request failed and was sent again; the claim's patch twice, the finishing
    // patch (the same request, seen) once.
    each_request_failing_once(
        &p,
        &proxy,
        &[
            ("GET metadata", 80),
            ("LIST metadata", 2),
            ("PATCH metadata", 120),
            ("POST data", 80),
            ("POST metadata", 80),
        ],
    );
}

#[test]
fn the_gcp_emulator_sends_a_failed_request_again_not_the_whole_write() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let proxy = FaultProxy::start(&ep, Flavor::Gcp, 0xfa17_0005);
    let gp = random_prefix("once")
        .trim_end_matches('_')
        .replace('_', "-");
    let through = format!("gcp-sm://{gp}?endpoint={}&auth=none", proxy.url);
    let p = project(common::gcp_env(Some(&ep), None), &through, "f_");
    // AddSecretVersion is not resent blind: after its fault the latest version is read (that
    // read failing once as well), and only then is it sent again.
    each_request_failing_once(
        &p,
        &proxy,
        &[
            ("AccessSecretVersion", 80),
            ("AddSecretVersion", 80),
            ("CreateSecret", 80),
            ("ListSecrets", 2),
            ("UpdateSecret", 80),
        ],
    );
}

#[test]
fn the_gcp_emulator_behind_a_faulty_network() {
    let Some(ep) = emulator_endpoint("SECRETSYNC_TEST_GCP_SM_ENDPOINT") else {
        return;
    };
    let proxy = FaultProxy::start(&ep, Flavor::Gcp, 0xfa17_0003);
    let gp = random_prefix("fault")
        .trim_end_matches('_')
        .replace('_', "-");
    let through = format!("gcp-sm://{gp}?endpoint={}&auth=none", proxy.url);
    let direct = format!("gcp-sm://{gp}?endpoint={ep}&auth=none");
    let p = project(common::gcp_env(Some(&ep), None), &through, "f_");
    let client = reqwest::blocking_client();
    let versions = move |name: &str| -> usize {
        let v: serde_json::Value = client
            .get(format!("{ep}/v1/projects/{gp}/secrets/{name}/versions"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        v["versions"].as_array().map_or(0, Vec::len)
    };
    run(
        Setup {
            project: p,
            direct,
            prefix: "f_".into(),
            versions: Box::new(versions),
        },
        &proxy,
    );
}

mod reqwest {
    pub use ::reqwest::*;

    /// A blocking-style client for the checks: one runtime and one connection pool for all of
    /// them (a runtime and a client per request cost about 40 ms each: 15 s for 300 checks).
    pub fn blocking_client() -> Blocking {
        Blocking {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: ::reqwest::Client::new(),
        }
    }

    pub struct Blocking {
        rt: tokio::runtime::Runtime,
        client: ::reqwest::Client,
    }

    pub struct Req<'a>(&'a Blocking, ::reqwest::RequestBuilder);

    pub struct Resp(Vec<u8>);

    impl Blocking {
        pub fn get(&self, url: String) -> Req<'_> {
            Req(self, self.client.get(url))
        }
    }

    impl Req<'_> {
        pub fn header(self, k: &str, v: &str) -> Self {
            Req(self.0, self.1.header(k, v))
        }
        pub fn send(self) -> std::result::Result<Resp, String> {
            let Req(b, r) = self;
            b.rt.block_on(async move {
                let body = r
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .bytes()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Resp(body.to_vec()))
            })
        }
    }

    impl Resp {
        pub fn json(self) -> std::result::Result<serde_json::Value, String> {
            serde_json::from_slice(&self.0).map_err(|e| e.to_string())
        }
    }
}
