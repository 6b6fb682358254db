//! Rendering values for other tools: dotenv, shell, JSON, a Kubernetes Secret. Quoting is
//! chosen so the value comes back exactly (tested through `sh` and a dotenv parser).

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use secretsync_core::SecretValue;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `NAME='value'` lines for .env files (docker compose, dotenv libraries).
    Dotenv,
    /// `export NAME='value'` lines for `sh`/`bash`/`zsh` (`eval "$(secretsync export …)"`).
    Shell,
    /// One JSON object; binary values as `{"base64": "…"}`.
    Json,
    /// A Kubernetes `Secret` manifest (YAML).
    K8sSecret,
}

/// A value a format cannot carry.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {why}; use --format json or --format k8s-secret")]
pub struct Unrepresentable {
    name: String,
    why: &'static str,
}

fn text<'a>(name: &str, v: &'a SecretValue) -> Result<&'a str, Unrepresentable> {
    match v.as_str() {
        Some(s) if !s.contains('\0') => Ok(s),
        _ => Err(Unrepresentable {
            name: name.into(),
            why: "the value is binary",
        }),
    }
}

/// `'…'` with each `'` written as `'\''`: exact for any text in POSIX shells.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn dotenv_quote(name: &str, s: &str) -> Result<String, Unrepresentable> {
    if s.contains('\r') {
        return Err(Unrepresentable {
            name: name.into(),
            why: "dotenv files cannot carry a carriage return portably",
        });
    }
    if !s.contains(['\'', '\\', '\n']) {
        // Single quotes: no escapes and no ${VAR} substitution in dotenv parsers.
        return Ok(format!("'{s}'"));
    }
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// Renders `values` (sorted by name) in `format`; `k8s_name` names the Secret.
pub fn render(
    format: Format,
    values: &[(String, SecretValue)],
    k8s_name: &str,
) -> Result<String, Unrepresentable> {
    let mut out = String::new();
    match format {
        Format::Dotenv => {
            for (n, v) in values {
                out.push_str(&format!("{n}={}\n", dotenv_quote(n, text(n, v)?)?));
            }
        }
        Format::Shell => {
            for (n, v) in values {
                out.push_str(&format!("export {n}={}\n", shell_quote(text(n, v)?)));
            }
        }
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(n, v)| {
                    let j = match v.as_str() {
                        Some(s) => serde_json::Value::from(s),
                        None => serde_json::json!({ "base64": B64.encode(v.expose()) }),
                    };
                    (n.clone(), j)
                })
                .collect();
            out = serde_json::to_string_pretty(&map).expect("JSON of strings") + "\n";
        }
        Format::K8sSecret => {
            out.push_str(&format!(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {k8s_name}\n  labels:\n    app.kubernetes.io/managed-by: secretsync\ntype: Opaque\ndata:\n"
            ));
            for (n, v) in values {
                out.push_str(&format!("  {n}: {}\n", B64.encode(v.expose())));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_chosen_per_value() {
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(dotenv_quote("A", "plain $HOME").unwrap(), "'plain $HOME'");
        assert_eq!(
            dotenv_quote("A", "it's $X\n\\").unwrap(),
            "\"it's \\$X\\n\\\\\""
        );
        assert!(dotenv_quote("A", "a\rb").is_err());
    }

    #[test]
    fn binary_values_only_in_json_and_k8s() {
        let v = vec![("BIN".to_string(), SecretValue::new(vec![0, 255]))];
        assert!(render(Format::Dotenv, &v, "x")
            .unwrap_err()
            .to_string()
            .contains("BIN: the value is binary"));
        assert!(render(Format::Shell, &v, "x").is_err());
        assert!(render(Format::Json, &v, "x")
            .unwrap()
            .contains("\"base64\": \"AP8=\""));
        assert!(render(Format::K8sSecret, &v, "app")
            .unwrap()
            .contains("  BIN: AP8=\n"));
    }
}
