//! Runs the real `secretsync` binary in a scratch project with its own config dir, in a clean,
//! explicit environment: nothing is inherited but `PATH`, so no test reaches a real cloud with
//! ambient credentials or endpoints, and no identity leaks in. Tests that use an emulator pass
//! its endpoint and credentials explicitly (see [`aws_env`], [`gcp_env`]).

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A value that must never show up anywhere but `get`'s stdout.
pub const CANARY: &str = "canary-9f8e7d6c5b4a-SECRET";

/// The longest any one command of a test may run before the test fails (instead of hanging).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

pub struct Project {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
    /// Variables every command of this project gets, beyond the clean base.
    pub env: Vec<(String, String)>,
}

/// The base environment of every spawned command: `PATH`, a private home, and settings that
/// keep the cloud SDKs away from real accounts (no shared config files, no metadata servers).
pub fn base_env(home: &Path) -> Vec<(String, String)> {
    let h = home.display().to_string();
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), h.clone()),
        ("XDG_CONFIG_HOME".into(), h.clone()),
        ("XDG_DATA_HOME".into(), format!("{h}/data")),
        ("LANG".into(), "C.UTF-8".into()),
        ("AWS_CONFIG_FILE".into(), "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE".into(), "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ("GCE_METADATA_HOST".into(), "127.0.0.1:9".into()),
        ("GCE_METADATA_IP".into(), "127.0.0.1:9".into()),
        ("CLOUDSDK_CONFIG".into(), format!("{h}/gcloud")),
    ]
}

/// Explicit moto credentials and endpoint for every command of a project.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Explicit GCP emulator endpoints, with authentication off.
pub fn gcp_env(secret_manager: Option<&str>, kms: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![("SECRETSYNC_GCP_AUTH".to_string(), "none".to_string())];
    if let Some(e) = secret_manager {
        out.push(("SECRETSYNC_GCP_SECRETMANAGER_ENDPOINT".into(), e.into()));
    }
    if let Some(e) = kms {
        out.push(("SECRETSYNC_GCP_KMS_ENDPOINT".into(), e.into()));
    }
    out
}

impl Project {
    /// A scratch folder with `secretsync init` already run.
    pub fn init() -> Project {
        Project::init_with(Vec::new())
    }

    /// [`Project::init`] with extra variables for every command (an emulator's endpoint).
    pub fn init_with(env: Vec<(String, String)>) -> Project {
        let p = Project::empty_with(env);
        p.ok(&["init", "--app", "demo"], None);
        p
    }

    pub fn empty() -> Project {
        Project::empty_with(Vec::new())
    }

    pub fn empty_with(env: Vec<(String, String)>) -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
            env,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Every variable a command of this project starts with.
    pub fn vars(&self) -> Vec<(String, String)> {
        let mut v = base_env(self.home.path());
        v.extend(self.env.iter().cloned());
        v
    }

    /// The binary with this project's clean environment, args and a timeout.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("secretsync").unwrap();
        c.current_dir(self.dir.path())
            .env_clear()
            .envs(self.vars())
            .timeout(COMMAND_TIMEOUT)
            .args(args);
        c
    }

    /// The binary as a `std` command (for children a test talks to while they run), with the
    /// same clean environment; start it with [`spawn`] so it is killed when the test ends.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("secretsync"));
        c.current_dir(self.dir.path())
            .env_clear()
            .envs(self.vars())
            .args(args);
        c
    }

    /// Runs and returns the output, whatever the exit code.
    pub fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = self.cmd(args);
        c.write_stdin(stdin.unwrap_or_default().to_vec());
        c.output().unwrap()
    }

    /// Runs, expects exit 0, returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?} failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs, expects `code`, returns stdout + stderr.
    pub fn code(&self, args: &[&str], stdin: Option<&[u8]>, code: i32) -> String {
        let out = self.run(args, stdin);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out));
        text(&out)
    }

    pub fn set(&self, name: &str, flag: &str, target: &str, value: &str) -> String {
        self.ok(&["set", name, flag, target], Some(value.as_bytes()))
    }

    pub fn get(&self, name: &str, flag: &str, target: &str) -> String {
        self.ok(&["get", name, flag, target], None)
    }

    pub fn append_config(&self, text: &str) {
        let p = self.path("secretsync.toml");
        let mut c = std::fs::read_to_string(&p).unwrap();
        c.push_str(text);
        std::fs::write(p, c).unwrap();
    }

    pub fn identity_file(&self) -> PathBuf {
        self.home.path().join("secretsync").join("identity.txt")
    }
}

/// Writes `secrets` into the file backend at `path` directly, as another tool or a person with
/// backend access would (no secretsync labels).
pub fn file_put(path: &Path, secrets: &[(&str, &str)]) {
    use secretsync_core::{file::FileBackend, PutOptions, SecretBackend};
    let b = FileBackend::new(path);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        for (n, v) in secrets {
            b.put(n, &(*v).into(), &PutOptions::default())
                .await
                .unwrap();
        }
    });
}

/// A running child that is killed when the test ends, pass or fail.
pub struct Running(pub Child);

#[test]
fn leak_forms_find_the_canary_in_longer_encodings() {
    use base64::Engine;
    for pre in ["", "x", "xy", "xyz"] {
        let buf = format!("{pre}{CANARY}tail");
        for enc in [
            base64::engine::general_purpose::STANDARD.encode(&buf),
            base64::engine::general_purpose::URL_SAFE.encode(&buf),
            hex::encode(&buf),
        ] {
            assert!(
                leak_forms(CANARY).iter().any(|f| enc.contains(f.as_str())),
                "{pre:?}: {enc}"
            );
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Spawns `c`, to be killed when the returned guard drops.
pub fn spawn(c: &mut std::process::Command) -> Running {
    Running(c.spawn().unwrap())
}

impl Running {
    /// Waits for the exit, failing the test after `limit`.
    pub fn wait_for(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Lines read from a child's pipe on a thread, received with a deadline so that a silent child
/// fails the test instead of hanging it.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    pub fn new(from: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(from).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first line for which `f` gives `Some`, within `limit`.
    pub fn find<T>(&mut self, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    let hit = f(&line);
                    self.seen.push(line);
                    if let Some(t) = hit {
                        return t;
                    }
                }
                Err(_) => panic!(
                    "no expected line within {limit:?}; seen:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Everything seen so far and whatever arrives until the pipe closes or `limit` passes.
    pub fn rest(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while let Ok(line) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// Substrings that show a value leaked: as is, in hex, and in base64 (standard and URL-safe) at
/// each of the three byte alignments it can have inside a longer encoded buffer.
pub fn leak_forms(value: &str) -> Vec<String> {
    use base64::Engine;
    let b = value.as_bytes();
    let mut out = vec![value.to_string(), hex::encode(b), hex::encode_upper(b)];
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ] {
        for k in 0..3usize {
            let mut buf = vec![0u8; k];
            buf.extend_from_slice(b);
            let enc = engine.encode(&buf);
            // Characters that depend only on the value: skip those mixed with the padding
            // bytes before it and the last, partial group.
            let skip = (k * 4).div_ceil(3);
            let end = enc.len().saturating_sub(4);
            if end > skip {
                out.push(enc[skip..end].to_string());
            }
        }
    }
    out
}

/// Fails when `haystack` holds the canary in any of its forms.
pub fn assert_no_canary(what: &str, haystack: &[u8]) {
    let h = String::from_utf8_lossy(haystack);
    for form in leak_forms(CANARY) {
        assert!(!h.contains(&form), "{what} leaks the canary ({form}):\n{h}");
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// Sets many values in one locked write through the library (fast seeding for big tests).
pub fn bulk_set(p: &Project, selector: &str, values: &[(String, String)]) {
    use secretsync::store::{age_key::AgeIdentity, Store};
    // Its own runtime on its own thread, so async tests can call it too.
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let text = std::fs::read_to_string(p.identity_file()).unwrap();
                let ids: Vec<Box<dyn secretsync_core::Identity>> =
                    AgeIdentity::parse_all(&text, "test")
                        .unwrap()
                        .into_iter()
                        .map(|i| Box::new(i) as _)
                        .collect();
                let mut w = Store::open_for_write(&p.path("secrets.enc.toml"), [], &ids)
                    .await
                    .unwrap();
                let sel = selector.parse().unwrap();
                for (n, v) in values {
                    w.set(&n.parse().unwrap(), &sel, v.as_str().into(), None)
                        .unwrap();
                }
                w.commit().unwrap();
            })
        })
        .join()
        .unwrap()
    });
}

/// From a report's `api_calls` list: the calls of `op` that succeeded (a call retried after an
/// emulator's passing error counts once more under its error outcome, not here).
pub fn ok_calls(calls: &serde_json::Value, op: &str) -> u64 {
    calls
        .as_array()
        .expect("api_calls is a list")
        .iter()
        .filter(|c| c["op"] == op && c["outcome"] == "ok")
        .map(|c| c["count"].as_u64().expect("a count"))
        .sum()
}
