//! Declared secrets: what the app says it needs, from the manifest and from Go sources.

pub mod go;

use crate::config::Config;
use crate::model::SecretName;
use std::collections::BTreeMap;

/// A secret the app declares, and where it is declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Its name.
    pub name: SecretName,
    /// Its description (the manifest's, else the first Go field comment).
    pub description: Option<String>,
    /// Where it is declared: `secretsync.toml`, or `path/file.go:LINE`.
    pub origins: Vec<String>,
}

/// Every declared secret, sorted by name: the manifest's, then those the Go roots declare.
pub fn declared(config: &Config) -> Result<Vec<Declared>, go::GoError> {
    let mut out: BTreeMap<SecretName, Declared> = BTreeMap::new();
    for (name, d) in &config.secrets {
        out.insert(
            name.clone(),
            Declared {
                name: name.clone(),
                description: d.description.clone(),
                origins: vec![config.path.display().to_string()],
            },
        );
    }
    for root in &config.go_roots {
        for f in go::scan_dir(root)? {
            let e = out.entry(f.name.clone()).or_insert_with(|| Declared {
                name: f.name.clone(),
                description: None,
                origins: Vec::new(),
            });
            if e.description.is_none() {
                e.description = f.description.clone();
            }
            e.origins.push(format!("{}:{}", f.file.display(), f.line));
        }
    }
    Ok(out.into_values().collect())
}
