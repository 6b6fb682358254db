//! `secretsync.toml`: the app, where its store is, the secrets it declares, Go roots to scan, and
//! its named environments. Found in the current folder or any parent.

use crate::model::{EnvName, EnvRef, EnvType, SecretName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config file's name.
pub const CONFIG_FILE: &str = "secretsync.toml";
/// The store's default file name, beside the config.
pub const DEFAULT_STORE: &str = "secrets.enc.toml";
/// Backend URL schemes secretsync knows.
pub const SCHEMES: [&str; 6] = ["aws-sm", "gcp-sm", "vault", "vault+http", "file", "memory"];

/// A problem with the config, naming the file (and line, for syntax and value errors).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {CONFIG_FILE} in {0} or any parent folder: run `secretsync init` there, or pass --config")]
    NotFound(PathBuf),
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error("unknown environment {name:?}: use a type (production, development, preview, local; or prod, dev, pr) or one declared in {path} ({known}); declare it under [environments.{name}] with a type and backend")]
    UnknownEnv {
        name: String,
        path: PathBuf,
        known: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    app: String,
    #[serde(default)]
    store: Option<PathBuf>,
    #[serde(default)]
    secrets: BTreeMap<SecretName, DeclaredSecret>,
    #[serde(default)]
    go: Option<GoSection>,
    #[serde(default)]
    environments: BTreeMap<EnvName, Environment>,
}

/// A secret declared in the manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSecret {
    /// What the secret is for.
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoSection {
    roots: Vec<PathBuf>,
}

/// A declared environment: its type and where its secrets are replicated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Its environment type.
    #[serde(rename = "type")]
    pub env_type: EnvType,
    /// Backend URL (`aws-sm://…`, `gcp-sm://…`, `vault://…`, `file://…`).
    #[serde(default, deserialize_with = "backend_url")]
    pub backend: Option<String>,
    /// Prefix of the names written to the backend.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Write calls per second (default: the backend's published quota).
    #[serde(default)]
    pub writes_per_second: Option<u32>,
    /// Read calls per second.
    #[serde(default)]
    pub reads_per_second: Option<u32>,
    /// List calls per second.
    #[serde(default)]
    pub lists_per_second: Option<u32>,
}

fn backend_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    let scheme = url.split_once("://").map(|(s, _)| s);
    match scheme {
        Some(s) if SCHEMES.contains(&s) => Ok(Some(url)),
        _ => Err(serde::de::Error::custom(format!(
            "backend {url:?} is not a backend URL: use one of {}, e.g. \"aws-sm://?region=eu-west-1\" or \"file:///var/lib/app/secrets\"",
            SCHEMES.map(|s| format!("{s}://")).join(", ")
        ))),
    }
}

/// The loaded config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file.
    pub path: PathBuf,
    /// The app's name.
    pub app: String,
    /// The canonical store's path (resolved against the config's folder).
    pub store_path: PathBuf,
    /// Secrets declared in the manifest.
    pub secrets: BTreeMap<SecretName, DeclaredSecret>,
    /// Folders to scan for Go `var secrets struct` declarations (resolved).
    pub go_roots: Vec<PathBuf>,
    /// Declared environments.
    pub environments: BTreeMap<EnvName, Environment>,
}

impl Config {
    /// Finds `secretsync.toml` in `start` or its nearest parent.
    pub fn find(start: &Path) -> Result<PathBuf, ConfigError> {
        start
            .ancestors()
            .map(|d| d.join(CONFIG_FILE))
            .find(|p| p.is_file())
            .ok_or_else(|| ConfigError::NotFound(start.into()))
    }

    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io(path.into(), e))?;
        Self::parse(path, &text)
    }

    /// Parses config text; `path` names it in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(path.into(), e.to_string()))?;
        let bad = |msg: &str| ConfigError::Parse(path.into(), msg.to_string());
        if raw.app.trim().is_empty() {
            return Err(bad(
                "`app` is empty: give the app a name, e.g. app = \"billing\"",
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        Ok(Config {
            path: path.into(),
            app: raw.app,
            store_path: dir.join(raw.store.unwrap_or_else(|| DEFAULT_STORE.into())),
            secrets: raw.secrets,
            go_roots: raw
                .go
                .map_or_else(Vec::new, |g| g.roots.iter().map(|r| dir.join(r)).collect()),
            environments: raw.environments,
        })
    }

    /// The config text `init` writes.
    pub fn template(app: &str) -> String {
        format!(
            r#"# secretsync configuration. See the README for every key.
app = "{app}"
# store = "{DEFAULT_STORE}"

# Secrets the app needs. `secretsync check` fails when one has no value for an environment.
# [secrets.DatabaseURL]
# description = "Postgres connection string"

# Scan Go sources for Encore-style `var secrets struct {{ ... }}` declarations.
# [go]
# roots = ["."]

# Named environments: a type, a backend and a name prefix.
# [environments.prod-eu]
# type = "production"
# backend = "aws-sm://?region=eu-west-1"
# prefix = "{app}/"
"#
        )
    }

    /// Resolves an environment name: a type (or shorthand) is its implicit environment;
    /// anything else must be declared.
    pub fn env(&self, name: &str) -> Result<EnvRef, ConfigError> {
        if let Some(t) = EnvType::parse_opt(name) {
            return Ok(EnvRef::Implicit(t));
        }
        self.environments
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(n, e)| EnvRef::Declared(n.clone(), e.env_type))
            .ok_or_else(|| ConfigError::UnknownEnv {
                name: name.into(),
                path: self.path.clone(),
                known: if self.environments.is_empty() {
                    "none declared".into()
                } else {
                    self.environments
                        .keys()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }

    /// Every environment: the four implicit ones, then the declared ones.
    pub fn all_envs(&self) -> Vec<EnvRef> {
        EnvType::ALL
            .into_iter()
            .map(EnvRef::Implicit)
            .chain(
                self.environments
                    .iter()
                    .map(|(n, e)| EnvRef::Declared(n.clone(), e.env_type)),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/app/secretsync.toml"), text)
    }

    #[test]
    fn full_config_parses_and_resolves_paths() {
        let c = parse(
            r#"
app = "billing"
store = "ops/secrets.enc.toml"
[secrets.DatabaseURL]
description = "pg"
[go]
roots = ["svc"]
[environments.prod-eu]
type = "prod"
backend = "aws-sm://?region=eu-west-1"
prefix = "billing/"
"#,
        )
        .unwrap();
        assert_eq!(c.store_path, Path::new("/app/ops/secrets.enc.toml"));
        assert_eq!(c.go_roots, vec![PathBuf::from("/app/svc")]);
        assert_eq!(c.env("prod-eu").unwrap().env_type(), EnvType::Production);
        assert_eq!(
            c.env("dev").unwrap(),
            EnvRef::Implicit(EnvType::Development)
        );
        assert_eq!(c.all_envs().len(), 5);
        let err = c.env("staging").unwrap_err().to_string();
        assert!(
            err.contains("prod-eu") && err.contains("[environments.staging]"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_file_line_and_fix() {
        let cases = [
            ("app = \"a\"\ncolour = 1\n", "line 2"),
            (
                "app = \"a\"\n[environments.x]\ntype = \"prodution\"\n",
                "expected production",
            ),
            (
                "app = \"a\"\n[environments.x]\ntype = \"prod\"\nbackend = \"s3://b\"\n",
                "line 4",
            ),
            (
                "app = \"a\"\n[environments.prod]\ntype = \"prod\"\n",
                "implicit environment",
            ),
            (
                "app = \"a\"\n[secrets.\"bad-name\"]\n",
                "invalid secret name",
            ),
            (
                "app = \"a\"\n[secrets.A]\ndescripton = \"x\"\n",
                "unknown field",
            ),
            ("[secrets.A]\n", "missing field `app`"),
            ("app = \"\"\n", "`app` is empty"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with("/app/secretsync.toml"), "{err}");
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }

    #[test]
    fn the_template_is_a_valid_config() {
        let c = parse(&Config::template("demo")).unwrap();
        assert_eq!(c.app, "demo");
    }
}
