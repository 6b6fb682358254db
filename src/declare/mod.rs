//! Declared secrets: what the app says it needs, from the manifest, from Go sources and from
//! Encore.ts sources.

pub mod go;
pub mod ts;

use crate::config::Config;
use crate::model::SecretName;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A secret declared in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its name.
    pub name: SecretName,
    /// Its comment, if any.
    pub description: Option<String>,
    /// The file it is in.
    pub file: PathBuf,
    /// Its line (1-based).
    pub line: usize,
}

/// A declaration secretsync cannot use, or a file it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// The `//` or `/* */` comment (Go's and TypeScript's) starting at byte `i` of `src`, if one
/// does: its text, trimmed; where lexing goes on; and how many line ends it holds. An
/// unterminated block comment runs to the end (slicing only at ASCII markers, so a multi-byte
/// character never splits).
pub(crate) fn comment(src: &str, i: usize) -> Option<(&str, usize, usize)> {
    let b = src.as_bytes();
    if b.get(i) != Some(&b'/') {
        return None;
    }
    match b.get(i + 1) {
        Some(b'/') => {
            let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
            Some((src[i + 2..end].trim(), end, 0))
        }
        Some(b'*') => {
            let (body, end) = match src[i + 2..].find("*/") {
                Some(n) => (&src[i + 2..i + 2 + n], i + 2 + n + 2),
                None => (&src[i + 2..], b.len()),
            };
            Some((body.trim(), end, body.matches('\n').count()))
        }
        _ => None,
    }
}

/// Scans with `scan` every file under `root` that [`source_files`] selects, in path order.
pub(crate) fn scan_tree(
    root: &Path,
    lang: &str,
    skip_dir: &dyn Fn(&str) -> bool,
    want: &dyn Fn(&str) -> bool,
    scan: fn(&Path, &str) -> Result<Vec<Found>, ScanError>,
) -> Result<Vec<Found>, ScanError> {
    let mut out = Vec::new();
    for file in source_files(root, lang, skip_dir, want)? {
        let src = std::fs::read_to_string(&file).map_err(|e| ScanError::Io(file.clone(), e))?;
        out.extend(scan(&file, &src)?);
    }
    Ok(out)
}

/// The files under `root` whose names `want` accepts, in path order, skipping hidden folders
/// and the folders `skip_dir` names. `lang` names the `[section]` of secretsync.toml that
/// lists the root, for the error when it is not a folder.
fn source_files(
    root: &Path,
    lang: &str,
    skip_dir: &dyn Fn(&str) -> bool,
    want: &dyn Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, ScanError> {
    if !root.is_dir() {
        let section = if lang == "Go" { "go" } else { "typescript" };
        return Err(ScanError::Io(
            root.into(),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{lang} root is not a folder; fix [{section}] roots in secretsync.toml"),
            ),
        ));
    }
    let walker = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let name = e.file_name().to_string_lossy();
            e.depth() == 0
                || !(e.file_type().is_dir() && (skip_dir(&name) || name.starts_with('.')))
        });
    let mut out = Vec::new();
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
            ScanError::Io(path, e.into())
        })?;
        if entry.file_type().is_file() && want(&entry.file_name().to_string_lossy()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

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

/// Every declared secret, sorted by name: the manifest's, then those the Go and TypeScript
/// roots declare.
pub fn declared(config: &Config) -> Result<Vec<Declared>, ScanError> {
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
    let mut found = Vec::new();
    for root in &config.go_roots {
        found.extend(go::scan_dir(root)?);
    }
    for root in &config.ts_roots {
        found.extend(ts::scan_dir(root)?);
    }
    for f in found {
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
    Ok(out.into_values().collect())
}
