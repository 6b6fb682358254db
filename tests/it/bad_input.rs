//! The bad-input corpus: malformed config, store files, backend URLs, secret names, values, Go
//! sources, durations and environment variables. Each gives exit 1, one clear message (what,
//! where, how to fix), no panic, and writes nothing. The messages are snapshot-tested
//! (`snapshots/it__bad_input__messages.snap`): a change to any of them shows up in review.
//! `INSTA_UPDATE=always cargo test --test it bad_input` rewrites the snapshot after a reviewed
//! change (or `cargo insta review`).

use crate::common::{self, Project};
use std::collections::BTreeMap;
use std::path::Path;

/// One malformed input and the command that meets it.
struct Case {
    name: &'static str,
    /// Appended to the config (after the default template and one production environment).
    config: &'static str,
    /// Replaces the config entirely.
    config_whole: Option<&'static str>,
    /// Edits the store file's text.
    store: Option<fn(String) -> String>,
    /// Files written in the project before the command.
    files: &'static [(&'static str, &'static str)],
    env: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
    stdin: &'static [u8],
}

const fn case(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        config: "",
        config_whole: None,
        store: None,
        files: &[],
        env: &[],
        args,
        stdin: b"",
    }
}

const BASE: &str = "\n[secrets.A]\n\n[environments.prod-eu]\ntype = \"production\"\nbackend = \"file://./replica\"\nprefix = \"app/\"\n";

fn cases() -> Vec<Case> {
    let cfg = |name, config: &'static str| Case {
        config,
        ..case(name, &["list"])
    };
    let whole = |name, text: &'static str| Case {
        config_whole: Some(text),
        ..case(name, &["list"])
    };
    let store = |name, edit: fn(String) -> String| Case {
        store: Some(edit),
        ..case(name, &["get", "A", "--type", "prod"])
    };
    let url = |name, url: &'static str| Case {
        ..case(
            name,
            Box::leak(Box::new([
                "import",
                "--from",
                url,
                "--type",
                "dev",
                "--dry-run",
            ])),
        )
    };
    let go = |name, src: &'static str| Case {
        config: "\n[go]\nroots = [\".\"]\n",
        files: Box::leak(Box::new([("secrets.go", src)])),
        ..case(name, &["check"])
    };
    let ts = |name, src: &'static str| Case {
        config: "\n[typescript]\nroots = [\".\"]\n",
        files: Box::leak(Box::new([("secrets.ts", src)])),
        ..case(name, &["check"])
    };
    let env =
        |name, vars: &'static [(&'static str, &'static str)], args: &'static [&'static str]| Case {
            env: vars,
            stdin: b"v",
            ..case(name, args)
        };
    let value = |name, args: &'static [&'static str], stdin: &'static [u8]| Case {
        stdin,
        ..case(name, args)
    };
    vec![
        // secretsync.toml
        whole("config: unknown top-level key", "app = \"a\"\ncolour = \"blue\"\n"),
        whole("config: missing app", "[secrets.A]\n"),
        whole("config: empty app", "app = \"  \"\n"),
        whole("config: TOML syntax", "app = \"a\n"),
        cfg("config: type misspelled", "\n[environments.e]\ntype = \"prodution\"\n"),
        cfg("config: unknown backend scheme", "\n[environments.e]\ntype = \"dev\"\nbackend = \"s3://bucket\"\n"),
        cfg("config: environment named like a type", "\n[environments.prod]\ntype = \"production\"\n"),
        cfg("config: environment name with a space", "\n[environments.\"prod eu\"]\ntype = \"production\"\n"),
        cfg("config: invalid declared secret name", "\n[secrets.\"bad-name\"]\n"),
        cfg("config: unknown field in a secret", "\n[secrets.B]\ndescripton = \"x\"\n"),
        cfg("config: two environments, one backend and prefix", "\n[environments.prod-us]\ntype = \"production\"\nbackend = \"file://./replica\"\nprefix = \"app/\"\n"),
        cfg("config: nested prefixes", "\n[environments.prod-us]\ntype = \"production\"\nbackend = \"file://./replica\"\nprefix = \"app/us/\"\n"),
        cfg("config: rate not a number", "\n[environments.e]\ntype = \"dev\"\nwrites_per_second = \"fast\"\n"),
        cfg("config: negative rate", "\n[environments.e]\ntype = \"dev\"\nwrites_per_second = -1\n"),
        cfg("config: go roots not a list", "\n[go]\nroots = \".\"\n"),
        whole("config: scopes leave a type out", "app = \"a\"\n[scopes]\nproduction = [\"production\"]\ndevelopment = [\"development\", \"local\"]\n"),
        whole("config: a type in two scopes", "app = \"a\"\n[scopes]\nproduction = [\"production\", \"preview\"]\ndevelopment = [\"development\", \"preview\", \"local\"]\n"),
        whole("config: unknown type in a scope", "app = \"a\"\n[scopes]\nall = [\"production\", \"development\", \"preview\", \"local\", \"staging\"]\n"),
        whole("config: bad scope name", "app = \"a\"\n[scopes]\nProd = [\"production\"]\ndevelopment = [\"development\", \"preview\", \"local\"]\n"),
        Case {
            env: &[("SECRETSYNC_CONFIG", "nowhere/secretsync.toml")],
            ..case("config: SECRETSYNC_CONFIG names a missing file", &["list"])
        },
        // The store file.
        store("store: not TOML", |_| "this is = not [toml".into()),
        store("store: unsupported format", |s| s.replace("format = 2", "format = 9")),
        store("store: store id edited", |s| {
            let id = s.split("store_id = \"").nth(1).unwrap()[..32].to_string();
            s.replace(&id, "../../etc")
        }),
        store("store: unknown cipher", |s| s.replace("x25519-hkdf-sha256-xchacha20poly1305", "rot13")),
        store("store: scope public key not a key", |s| {
            let k = s.split("public_key = \"").nth(1).unwrap()[..64].to_string();
            s.replace(&k, "zz")
        }),
        store("store: selector written by hand", |s| s.replace("secrets.A.values.production", "secrets.A.values.\"prod\"")),
        store("store: value moved into another scope", |s| s.replace("secrets.A.values.production", "secrets.A.values.preview")),
        store("store: a scope lost its recipients", |s| {
            let start = s.find("[scopes.production.recipients.").unwrap();
            let end = start + s[start..].find("\n\n").unwrap();
            format!("{}{}", &s[..start], &s[end..])
        }),
        store("store: a type given two values", |s| s.replace("secrets.A.values.development", "secrets.A.values.\"development,local\"").replace("secrets.A.values.local", "secrets.A.values.\"local\"")),
        store("store: ciphertext flipped", |s| {
            let at = s.find("[secrets.A.values.production.sealed]").unwrap();
            let q = at + s[at..].find("= \"").unwrap() + 10;
            let mut b = s.into_bytes();
            b[q] = if b[q] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        }),
        store("store: file emptied", |_| String::new()),
        Case {
            config_whole: Some("app = \"a\"\nstore = \"elsewhere/secrets.enc.toml\"\n"),
            ..case("store: missing", &["get", "A", "--type", "prod"])
        },
        // Backend URLs.
        url("url: unknown scheme", "s3://bucket"),
        url("url: no scheme", "billing/"),
        url("url: file without a path", "file://"),
        url("url: unknown AWS parameter", "aws-sm://?regin=eu-west-1"),
        url("url: AWS without a region", "aws-sm://"),
        url("url: AWS replica in the primary region", "aws-sm://?region=eu-west-1&replicas=eu-west-1,us-east-1"),
        url("url: AWS replica not a region", "aws-sm://?region=eu-west-1&replicas=Frankfurt"),
        url("url: GCP without a project", "gcp-sm://"),
        url("url: GCP location not a location", "gcp-sm://proj?auth=none&locations=Europe+West"),
        url("url: Vault without a host", "vault:///secret"),
        url("url: Vault over plain http without saying so", "vault://127.0.0.1:1/secret?tls=off"),
        url("url: not a URL", "aws-sm://[::1"),
        // Secret names, selectors, environments.
        value("name: starts with a digit", &["set", "1Token", "--type", "dev"], b"v"),
        value("name: has a dash", &["set", "api-key", "--type", "dev"], b"v"),
        value("name: too long", &["set", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--type", "dev"], b"v"),
        case("name: not set", &["get", "Nope", "--type", "dev"]),
        value("type: unknown", &["set", "A", "--type", "staging"], b"v"),
        case("env: unknown", &["get", "A", "--env", "prod-xx"]),
        case("env: a list where one is needed", &["get", "A", "--env", "prod-eu,local"]),
        value("selector: type and env together", &["set", "A", "--type", "dev", "--env", "prod-eu"], b"v"),
        value("override: for an undeclared environment", &["set", "A", "--env", "staging"], b"v"),
        // Values.
        value("value: empty", &["set", "A", "--type", "dev", "--from-file", "-"], b""),
        value("value: empty after the newline is dropped", &["set", "A", "--type", "dev"], b"\n"),
        value("value: over 64 KiB", &["set", "A", "--type", "dev", "--from-file", "big.bin"], b""),
        value("value: file missing", &["set", "A", "--type", "dev", "--from-file", "nope.txt"], b""),
        value("value: given on the command line", &["set", "A", "--type", "dev", "hunter2"], b""),
        case("value: binary where text is needed", &["export", "--env", "local", "--format", "dotenv"]),
        // Go sources.
        go("go: a field that is not a string", "package app\n\nvar secrets struct {\n\tAPIKey int\n}\n"),
        go("go: an embedded field", "package app\n\nvar secrets struct {\n\tConfig\n}\n"),
        go("go: an unclosed struct", "package app\n\nvar secrets struct {\n\tAPIKey string\n"),
        go("go: a field name that is not a secret name", "package app\n\nvar secrets struct {\n\tÄpfel string\n}\n"),
        go("go: a pointer field", "package app\n\nvar secrets struct {\n\tToken *string\n}\n"),
        ts("encore.ts: a computed secret name", "import { secret } from \"encore.dev/config\";\n\nconst name = \"Key\";\nexport const k = secret(name);\n"),
        ts("encore.ts: a template with an interpolation", "import { secret } from \"encore.dev/config\";\nexport const k = secret(`Key${1}`);\n"),
        ts("encore.ts: a name that is not a secret name", "import { secret } from \"encore.dev/config\";\nexport const k = secret(\"stripe-key\");\n"),
        // Durations.
        case("duration: zero interval", &["reconcile", "--every", "0s"]),
        case("duration: unknown unit", &["reconcile", "--every", "5x"]),
        case("duration: too long", &["reconcile", "--every", "400d"]),
        case("duration: not a duration", &["reconcile", "--once", "--round-timeout", "soon"]),
        env("duration: lock timeout not a duration", &[("SECRETSYNC_LOCK_TIMEOUT", "forever")], &["set", "A", "--type", "dev"]),
        env("duration: lock timeout over the maximum", &[("SECRETSYNC_LOCK_TIMEOUT", "2h")], &["set", "A", "--type", "dev"]),
        // Environment variables and keys.
        env("env var: identity is garbage", &[("SECRETSYNC_AGE_IDENTITY", "AGE-SECRET-KEY-1NOTAKEY")], &["get", "A", "--type", "dev"]),
        env("env var: identity names a missing file", &[("SECRETSYNC_AGE_IDENTITY", "/nonexistent/identity.txt")], &["get", "A", "--type", "dev"]),
        env("env var: SECRETSYNC_LOG is not a filter", &[("SECRETSYNC_LOG", "secretsync=loud")], &["list"]),
        env("env var: SECRETSYNC_LOG_FORMAT is not a format", &[("SECRETSYNC_LOG_FORMAT", "xml")], &["list"]),
        case("key: not a recipient", &["key", "add", "not-a-key", "--scope", "all"]),
        case("key: a broken age key", &["key", "add", "age1notvalid", "--scope", "all"]),
        case("key: unknown scope", &["key", "add", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "--scope", "ops"]),
        case("key: removing someone who is not a recipient", &["key", "remove", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]),
    ]
}

/// Paths, ids and keys that differ per run, replaced by placeholders.
fn normalize(text: &str, p: &Project) -> String {
    let mut t = text.replace(&p.dir.path().display().to_string(), "[PROJECT]");
    t = t.replace(&p.home.path().display().to_string(), "[HOME]");
    for (re, to) in [
        (r"age1[0-9a-z]{58}", "[AGE-KEY]"),
        (r"\b[0-9a-f]{32}\b", "[STORE-ID]"),
        (r"\b[0-9a-f]{64}\b", "[KEY]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    ] {
        t = regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, to)
            .into_owned();
    }
    t
}

/// Every file under `dir` with its bytes.
fn snapshot_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_bad_input_gets_one_clear_message_exit_1_and_no_write() {
    let mut report = String::new();
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for c in cases {
        let p = Project::init();
        p.append_config(BASE);
        p.set("A", "--type", "prod", "p");
        p.set("A", "--type", "dev", "d");
        p.ok(
            &["set", "A", "--type", "local", "--from-file", "-"],
            Some(&[0xff, 0x00, 0xfe]),
        );
        std::fs::write(p.path("big.bin"), vec![b'x'; 64 * 1024 + 1]).unwrap();
        if let Some(text) = c.config_whole {
            std::fs::write(p.path("secretsync.toml"), text).unwrap();
        }
        p.append_config(c.config);
        if let Some(edit) = c.store {
            let s = std::fs::read_to_string(p.path("secrets.enc.toml")).unwrap();
            std::fs::write(p.path("secrets.enc.toml"), edit(s)).unwrap();
        }
        for (name, text) in c.files {
            std::fs::write(p.path(name), text).unwrap();
        }
        let before = snapshot_files(p.dir.path());
        let mut cmd = p.cmd(c.args);
        for (k, v) in c.env {
            cmd.env(k, v);
        }
        cmd.write_stdin(c.stdin.to_vec());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: {}",
            c.name,
            common::text(&out)
        );
        assert!(
            out.stdout.is_empty(),
            "{}: stdout {:?}",
            c.name,
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "{}: {stderr}", c.name);
        assert!(stderr.starts_with("error: "), "{}: {stderr}", c.name);
        assert_eq!(
            before,
            snapshot_files(p.dir.path()),
            "{}: files changed",
            c.name
        );
        report.push_str(&format!(
            "## {}\n$ secretsync {}\n{}\n",
            c.name,
            c.args.join(" "),
            normalize(stderr.trim_end(), &p)
        ));
    }
    insta::assert_snapshot!("messages", report);
}
