//! `secretsync.toml`: the app, where its store is, the secrets it declares, Go roots to scan, and
//! its named environments. Found in the current folder or any parent.

use crate::model::{EnvName, EnvRef, EnvType, ScopeLayout, SecretName, TypeSet};
use crate::scheme::Scheme;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config file's name.
pub const CONFIG_FILE: &str = "secretsync.toml";
/// The store's default file name, beside the config.
pub const DEFAULT_STORE: &str = "secrets.enc.toml";

/// A problem with the config, naming the file (and line, for syntax and value errors).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no {CONFIG_FILE} in {0} or any parent folder: run `secretsync init` there, or pass --config")]
    NotFound(PathBuf),
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
    #[error("{0}")]
    Overlap(String),
    #[error("{0:?} is a list: give one environment here")]
    OneEnv(String),
    #[error("unknown environment {name:?}: use a type (production, development, preview, local; or prod, dev, pr) or one declared in {path} ({known}); declare it under [environments.{name}] with a type and backend")]
    UnknownEnv {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error("`{0}` is a template: use `--env {0}:ID` (e.g. --env {0}:123 for pull request 123)")]
    Template(String),
    #[error("{0}")]
    Instance(String),
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
    /// Encore.ts sources: `secret("Name")` from `encore.dev/config`.
    #[serde(default)]
    typescript: Option<GoSection>,
    #[serde(default)]
    environments: BTreeMap<String, Environment>,
    /// Let environments on one backend use nested prefixes (`app/` and `app/staging/`).
    #[serde(default)]
    allow_nested_prefixes: bool,
    /// Who may open what: scope name → the environment types it holds.
    #[serde(default)]
    scopes: Option<BTreeMap<String, Vec<EnvType>>>,
}

/// A secret declared in the manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSecret {
    /// What the secret is for.
    #[serde(default)]
    pub description: Option<String>,
}

/// A `[go]` or `[typescript]` section's roots, relative to the config's folder (`dir/./x`
/// shown as `dir/x`).
fn roots(dir: &Path, section: Option<GoSection>) -> Vec<PathBuf> {
    section.map_or_else(Vec::new, |g| {
        g.roots
            .iter()
            .map(|r| dir.join(r).components().collect())
            .collect()
    })
}

/// Source roots to scan (`[go]`, `[typescript]`).
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
    /// A template's instances applied longer ago than this are torn down by `reconcile`
    /// (`14d`).
    #[serde(default)]
    pub keep_for: Option<String>,
}

/// What a template's prefix or backend URL holds where an instance's id goes.
pub const ID_SLOT: &str = "{id}";

impl Environment {
    /// A template: its prefix or backend URL holds `{id}`, and `--env NAME:ID` instantiates it.
    pub fn is_template(&self) -> bool {
        self.prefix.as_deref().is_some_and(|p| p.contains(ID_SLOT))
            || self.backend.as_deref().is_some_and(|b| b.contains(ID_SLOT))
    }

    /// The instance `id` of this template: `{id}` replaced in the prefix and the URL.
    pub fn instantiate(&self, id: &str) -> Environment {
        Environment {
            backend: self.backend.as_ref().map(|b| b.replace(ID_SLOT, id)),
            prefix: self.prefix.as_ref().map(|p| p.replace(ID_SLOT, id)),
            keep_for: None,
            ..self.clone()
        }
    }

    /// The prefix every instance's prefix starts with (a template's, up to `{id}`), for the
    /// nested-prefix checks and for finding its instances; the prefix itself otherwise.
    pub fn prefix_root(&self) -> &str {
        let p = self.prefix.as_deref().unwrap_or("");
        p.find(ID_SLOT).map_or(p, |i| &p[..i])
    }

    /// `keep_for`, parsed.
    pub fn keep_for(&self) -> Option<std::time::Duration> {
        self.keep_for
            .as_deref()
            .and_then(|k| parse_keep_for(k).ok())
    }
}

/// A `keep_for` or `--older-than` age: 1 minute to 10 years (`14d`, `36h`).
pub fn parse_keep_for(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    secretsync_core::duration::parse(
        s,
        Duration::from_secs(60),
        Duration::from_secs(3650 * 86400),
    )
}

fn backend_url<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    Scheme::of_url(&url).map_err(serde::de::Error::custom)?;
    Ok(Some(url))
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
    /// Folders to scan for Encore.ts `secret("Name")` declarations (resolved).
    pub ts_roots: Vec<PathBuf>,
    /// Declared environments.
    pub environments: BTreeMap<EnvName, Environment>,
    /// The scopes: which environment types each one's recipients may open (`[scopes]`, else
    /// production on its own and development for the other types).
    pub scopes: ScopeLayout,
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
        let environments = check_environments(path, text, raw.environments)?;
        check_overlaps(path, text, dir, &environments, raw.allow_nested_prefixes)?;
        let scopes = match raw.scopes {
            None => ScopeLayout::default(),
            Some(map) => {
                ScopeLayout::new(map.into_iter().map(|(n, t)| (n, TypeSet::of(t))).collect())
                    .map_err(|e| {
                        ConfigError::Parse(
                            path.into(),
                            format!("line {}: [scopes]: {}", section_line(text, "scopes"), e.0),
                        )
                    })?
            }
        };
        Ok(Config {
            path: path.into(),
            app: raw.app,
            scopes,
            store_path: dir.join(raw.store.unwrap_or_else(|| DEFAULT_STORE.into())),
            secrets: raw.secrets,
            go_roots: roots(dir, raw.go),
            ts_roots: roots(dir, raw.typescript),
            environments,
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

# Scan Encore.ts sources for `secret("Name")` (imported from "encore.dev/config").
# [typescript]
# roots = ["."]

# Named environments: a type, a backend and a name prefix.
# [environments.prod-eu]
# type = "production"
# backend = "aws-sm://?region=eu-west-1"
# prefix = "{app}/"

# Scopes: who can open which values. A recipient of `development` only can set production
# values but never read them. Every type belongs to exactly one scope.
[scopes]
production = ["production"]
development = ["development", "preview", "local"]
"#
        )
    }

    /// Resolves an environment name: a type (or shorthand) is its implicit environment;
    /// `TEMPLATE:ID` an instance of a template; anything else must be declared (and not be a
    /// template, which needs an id).
    pub fn env(&self, name: &str) -> Result<EnvRef, ConfigError> {
        if name.contains(',') {
            return Err(ConfigError::OneEnv(name.into()));
        }
        if let Some((template, id)) = name.split_once(':') {
            let (t, e) = self
                .environments
                .iter()
                .find(|(n, _)| n.as_str() == template)
                .ok_or_else(|| ConfigError::Instance(format!(
                    "{name:?} names an instance of {template:?}, which {} does not declare: templates are [environments.NAME] whose prefix holds {{id}} ({})",
                    self.path.display(),
                    self.template_names().unwrap_or_else(|| "none declared".into())
                )))?;
            if !e.is_template() {
                return Err(ConfigError::Instance(format!(
                    "{template} is not a template (its prefix and backend hold no {{id}}), so it has no instances: use --env {template}"
                )));
            }
            let n = EnvName::instance(t, id).map_err(|e| ConfigError::Instance(e.0))?;
            return Ok(EnvRef::Declared(n, e.env_type));
        }
        if let Some((n, e)) = self.environments.iter().find(|(n, _)| n.as_str() == name) {
            if e.is_template() {
                return Err(ConfigError::Template(n.to_string()));
            }
        }
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

    /// The declared environment `name`, a template's instance with its id in place.
    pub fn environment(&self, name: &EnvName) -> Option<Environment> {
        if let Some((template, id)) = name.instance_parts() {
            return self
                .environments
                .iter()
                .find(|(n, e)| n.as_str() == template && e.is_template())
                .map(|(_, e)| e.instantiate(id));
        }
        self.environments.get(name).cloned()
    }

    /// The templates' names, for messages (`None` when there are none).
    fn template_names(&self) -> Option<String> {
        let names: Vec<&str> = self
            .environments
            .iter()
            .filter(|(_, e)| e.is_template())
            .map(|(n, _)| n.as_str())
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    }

    /// Every environment: the four implicit ones, then the declared ones (templates too: their
    /// values are their instances').
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

/// What identifies the place a backend URL writes to: scheme, host, path and the query options
/// that select an account, region or namespace (not those that only choose how to log in).
fn backend_target(url: &str, dir: &Path) -> String {
    let Ok((scheme, rest)) = Scheme::of_url(url) else {
        return url.to_string();
    };
    if scheme == Scheme::File {
        let p = dir.join(rest.trim_start_matches("./"));
        let mut norm = PathBuf::new();
        for c in p.components() {
            match c {
                std::path::Component::ParentDir => {
                    norm.pop();
                }
                std::path::Component::CurDir => {}
                c => norm.push(c),
            }
        }
        return format!("file://{}", norm.display());
    }
    let Ok(u) = url::Url::parse(&format!("x://{rest}")) else {
        return url.to_string();
    };
    let mut q: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| scheme.target_options().contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    q.sort();
    // vault:// and vault+http:// to one host and port are the same server.
    let family = scheme.as_str().trim_end_matches("+http");
    format!(
        "{family}://{}:{}{}?{q:?}",
        u.host_str().unwrap_or_default(),
        u.port().unwrap_or_default(),
        u.path().trim_end_matches('/')
    )
}

/// The 1-based line of the `[NAME]` table header in the config text (0 if absent).
fn section_line(text: &str, name: &str) -> usize {
    let header = format!("[{name}]");
    text.lines()
        .position(|l| l.trim() == header)
        .map_or(0, |i| i + 1)
}

/// The 1-based line of `[environments.NAME]` in the config text, for errors.
fn env_line(text: &str, name: &str) -> usize {
    let quoted = format!("[environments.\"{name}\"]");
    let plain = format!("[environments.{name}]");
    text.lines()
        .position(|l| {
            let l = l.trim();
            l.starts_with(&plain) || l.starts_with(&quoted)
        })
        .map_or(0, |i| i + 1)
}

/// Names the environments (a template may take a type's shorthand) and checks what only a
/// template may say: `{id}` once, in the prefix or the backend URL's path, with a backend; and
/// `keep_for`, only on a template.
fn check_environments(
    path: &Path,
    text: &str,
    raw: BTreeMap<String, Environment>,
) -> Result<BTreeMap<EnvName, Environment>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, e) in raw {
        // The table's header as the file writes it (quoted when not a bare key).
        let header = if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            format!("[environments.{name}]")
        } else {
            format!("[environments.{name:?}]")
        };
        let bad = |msg: String| {
            ConfigError::Parse(
                path.into(),
                format!("line {}: {header}: {msg}", env_line(text, &name)),
            )
        };
        let n = if e.is_template() {
            EnvName::template(&name)
        } else {
            name.parse()
        }
        .map_err(|e| bad(e.0))?;
        if e.is_template() {
            let slots = e.prefix.as_deref().unwrap_or("").matches(ID_SLOT).count()
                + e.backend.as_deref().unwrap_or("").matches(ID_SLOT).count();
            if slots > 1 {
                return Err(bad("{id} appears more than once: a template holds it once, in its prefix (e.g. prefix = \"web/pr-{id}/\") or its backend URL's path".into()));
            }
            let Some(url) = e.backend.as_deref() else {
                return Err(bad(
                    "a template needs a backend: its instances are replicated there".into(),
                ));
            };
            if let Some(i) = url.find(ID_SLOT) {
                let query = url.find('?').unwrap_or(url.len());
                if i > query || !url[..i].contains("://") {
                    return Err(bad(format!(
                        "{{id}} in {url:?} must be in the URL's path (or put it in the prefix)"
                    )));
                }
            }
        }
        if let Some(k) = e.keep_for.as_deref() {
            if !e.is_template() {
                return Err(bad("keep_for applies to templates (environments whose prefix holds {id}): their instances older than it are torn down by reconcile".into()));
            }
            parse_keep_for(k).map_err(|m| bad(format!("keep_for: {m}")))?;
        }
        out.insert(n, e);
    }
    Ok(out)
}

/// Refuses two environments on the same backend target whose prefixes are equal (they would
/// overwrite each other's secrets every sync) or nest (one's listing holds the other's secrets),
/// unless `allow_nested_prefixes` says the nesting is meant. Ownership labels keep nested
/// environments apart either way; equal prefixes are never allowed.
fn check_overlaps(
    path: &Path,
    text: &str,
    dir: &Path,
    envs: &BTreeMap<EnvName, Environment>,
    allow_nested: bool,
) -> Result<(), ConfigError> {
    // A template counts with its prefix's root (`web/pr-`), which every instance's starts with:
    // no environment may prune into its instances, nor an instance reach another's secrets.
    let with_backend: Vec<(&EnvName, String, &str)> = envs
        .iter()
        .filter_map(|(n, e)| {
            let b = e.backend.as_deref()?;
            Some((n, backend_target(b, dir), e.prefix_root()))
        })
        .collect();
    for (i, (a, ta, pa)) in with_backend.iter().enumerate() {
        for (b, tb, pb) in &with_backend[i + 1..] {
            if ta != tb {
                continue;
            }
            let where_ = format!(
                "{}:{}: environments {a} (line {}) and {b} (line {})",
                path.display(),
                env_line(text, b.as_str()),
                env_line(text, a.as_str()),
                env_line(text, b.as_str())
            );
            if pa == pb {
                return Err(ConfigError::Overlap(format!(
                    "{where_} write to the same backend with the same prefix {pa:?}, so each would overwrite the other's secrets: give each its own prefix (e.g. prefix = \"{a}/\" and prefix = \"{b}/\")"
                )));
            }
            if !allow_nested && (pa.starts_with(*pb) || pb.starts_with(*pa)) {
                return Err(ConfigError::Overlap(format!(
                    "{where_} write to the same backend with nested prefixes {pa:?} and {pb:?}, so one's listing holds the other's secrets: give them prefixes that do not nest (e.g. \"app/{a}/\" and \"app/{b}/\"), or set `allow_nested_prefixes = true` at the top of the file if the nesting is meant (each environment then still touches only the secrets it wrote)"
                )));
            }
        }
    }
    Ok(())
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
            (
                "app = \"a\"\n\n[scopes]\nall = [\"prod\", \"dev\", \"local\"]\n",
                "line 3: [scopes]: type preview is in no scope",
            ),
            (
                "app = \"a\"\n[scopes]\na = [\"prod\", \"dev\"]\nb = [\"dev\", \"pr\", \"local\"]\n",
                "line 2: [scopes]: type development is in scopes a and b",
            ),
            (
                "app = \"a\"\n[scopes]\nall = [\"prod\", \"staging\"]\n",
                "line 3",
            ),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with("/app/secretsync.toml"), "{err}");
            assert!(err.contains(want), "want {want:?} in {err}");
        }
    }

    #[test]
    fn environments_on_one_backend_must_not_share_or_nest_prefixes() {
        let env = |name: &str, backend: &str, prefix: &str| {
            format!("[environments.{name}]\ntype = \"prod\"\nbackend = \"{backend}\"\nprefix = \"{prefix}\"\n")
        };
        let aws = "aws-sm://?region=eu-west-1";
        let cfg = |allow: bool, envs: &[String]| {
            let head = if allow {
                "allow_nested_prefixes = true\n"
            } else {
                ""
            };
            format!("app = \"a\"\n{head}{}", envs.concat())
        };
        // Equal prefixes: always refused, naming both and the fix.
        for allow in [false, true] {
            let err = parse(&cfg(
                allow,
                &[env("prod-eu", aws, "app/"), env("staging", aws, "app/")],
            ))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("prod-eu") && err.contains("staging") && err.contains("same prefix"),
                "{err}"
            );
            let line = if allow { 7 } else { 6 };
            assert!(
                err.starts_with(&format!("/app/secretsync.toml:{line}:")),
                "{err}"
            );
        }
        // Nested (the empty prefix nests with everything): refused unless opted in.
        let nested = [
            env("prod-eu", aws, ""),
            env(
                "staging",
                "aws-sm://?region=eu-west-1&auth=x",
                "app/staging/",
            ),
        ];
        let err = parse(&cfg(false, &nested)).unwrap_err().to_string();
        assert!(
            err.contains("nested prefixes") && err.contains("allow_nested_prefixes"),
            "{err}"
        );
        parse(&cfg(true, &nested)).unwrap();
        // Another region, another file, or disjoint prefixes: fine.
        parse(&cfg(
            false,
            &[
                env("a", aws, "app/"),
                env("b", "aws-sm://?region=us-east-1", "app/"),
            ],
        ))
        .unwrap();
        parse(&cfg(
            false,
            &[
                env("a", "file://./x.json", ""),
                env("b", "file://./y.json", ""),
            ],
        ))
        .unwrap();
        parse(&cfg(
            false,
            &[env("a", aws, "app/a/"), env("b", aws, "app/b/")],
        ))
        .unwrap();
        // Relative and absolute spellings of one file are the same target.
        assert!(parse(&cfg(
            false,
            &[
                env("a", "file://./x.json", ""),
                env("b", "file:///app/x.json", "")
            ]
        ))
        .is_err());
    }

    #[test]
    fn templates_instantiate_per_id_and_say_what_is_wrong() {
        let c = parse(
            "app = \"a\"\n[environments.pr]\ntype = \"preview\"\nbackend = \"aws-sm://?region=eu-west-1\"\nprefix = \"web/pr-{id}/\"\nkeep_for = \"14d\"\n[environments.vp]\ntype = \"preview\"\nbackend = \"vault://v.example/secret/previews/{id}\"\n",
        )
        .unwrap();
        let pr = c.env("pr:123").unwrap();
        assert_eq!(pr.env_type(), EnvType::Preview);
        let EnvRef::Declared(name, _) = &pr else {
            panic!()
        };
        let e = c.environment(name).unwrap();
        assert_eq!(e.prefix.as_deref(), Some("web/pr-123/"));
        assert_eq!(e.backend.as_deref(), Some("aws-sm://?region=eu-west-1"));
        let EnvRef::Declared(v, _) = c.env("vp:9").unwrap() else {
            panic!()
        };
        assert_eq!(
            c.environment(&v).unwrap().backend.as_deref(),
            Some("vault://v.example/secret/previews/9")
        );
        assert_eq!(
            c.environments[&EnvName::template("pr").unwrap()].keep_for(),
            Some(std::time::Duration::from_secs(14 * 86_400))
        );
        for (name, want) in [
            ("pr", "`pr` is a template: use `--env pr:ID`"),
            ("pr:../x", "invalid id \"../x\""),
            ("pr:", "invalid id \"\""),
            ("nope:1", "names an instance of \"nope\""),
            ("preview", ""),
        ] {
            match c.env(name) {
                Err(e) => assert!(
                    !want.is_empty() && e.to_string().contains(want),
                    "{name}: {e}"
                ),
                Ok(r) => assert!(want.is_empty(), "{name}: {r}"),
            }
        }
        let tpl =
            |body: &str| format!("app = \"a\"\n[environments.pr]\ntype = \"preview\"\n{body}");
        for (body, want) in [
            (
                "backend = \"file://./r/{id}\"\nprefix = \"x-{id}\"\n",
                "{id} appears more than once",
            ),
            ("prefix = \"x-{id}\"\n", "a template needs a backend"),
            (
                "backend = \"aws-sm://?region={id}\"\n",
                "must be in the URL's path",
            ),
            (
                "backend = \"file://./r\"\nprefix = \"x-{id}\"\nkeep_for = \"soon\"\n",
                "keep_for: \"soon\" is not a duration",
            ),
        ] {
            let err = parse(&tpl(body)).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("line 2: [environments.pr]"),
                "{body}: {err}"
            );
        }
        let err = parse("app = \"a\"\n[environments.x]\ntype = \"prod\"\nbackend = \"file://./r\"\nkeep_for = \"1d\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("keep_for applies to templates"), "{err}");
        // The shorthand is a template's only: a plain environment may not take it.
        let err =
            parse("app = \"a\"\n[environments.pr]\ntype = \"preview\"\nbackend = \"file://./r\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("already an implicit environment"), "{err}");
        let err = parse(
            &tpl("backend = \"file://./r\"\nprefix = \"x-{id}\"\n")
                .replace("environments.pr]", "environments.preview]"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("already an implicit environment"), "{err}");
    }

    #[test]
    fn the_template_is_a_valid_config() {
        let c = parse(&Config::template("demo")).unwrap();
        assert_eq!(c.app, "demo");
    }
}
