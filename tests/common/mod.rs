//! Runs the real `secretsync` binary in a scratch project with its own config dir.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A value that must never show up anywhere but `get`'s stdout.
pub const CANARY: &str = "canary-9f8e7d6c5b4a-SECRET";

pub struct Project {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Project {
    /// A scratch folder with `secretsync init` already run.
    pub fn init() -> Project {
        let p = Project::empty();
        p.ok(&["init", "--app", "demo"], None);
        p
    }

    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("secretsync").unwrap();
        c.current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.home.path())
            .env("HOME", self.home.path())
            .env_remove("SECRETSYNC_AGE_IDENTITY")
            .env_remove("SECRETSYNC_CONFIG")
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
                let mut w = Store::open_for_write(&p.path("secrets.enc.toml"), &ids)
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
