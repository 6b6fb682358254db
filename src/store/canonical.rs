//! A fast path through the `[secrets…]` part of a format-2 store file, in exactly the layout
//! the `toml` crate writes it: the part that grows with the store (100,000 secrets are about
//! 30 MB, which `toml` takes seconds and 600 MB to parse, building a spanned document first).
//!
//! Both directions only take what they fully understand and otherwise answer `None`, and the
//! caller then uses `toml` for the whole file: a file edited by hand, merged into another order,
//! or holding a string that needs escapes still reads and writes as before, only slower. The
//! tests hold both directions to `toml`'s own output, byte for byte and value for value.

use super::format::{HistoryEntry, SealedMap, SecretEntry, ValueEntry};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Where the secrets start in `text`: the first line opening a `secrets` table.
pub(super) fn secrets_start(text: &str) -> Option<usize> {
    ["\n[secrets.", "\n[[secrets."]
        .iter()
        .filter_map(|h| text.find(h))
        .min()
        .map(|i| i + 1)
}

/// A string `toml` writes as `"…"` with no escapes, and this reads back as is.
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// A key `toml` writes bare.
fn bare(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn key(out: &mut String, k: &str) {
    if bare(k) {
        out.push_str(k);
    } else {
        out.push('"');
        out.push_str(k);
        out.push('"');
    }
}

fn date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn sealed(out: &mut String, path: &str, sealed: &SealedMap) {
    let _ = writeln!(out, "\n[{path}.sealed]");
    for (scope, s) in sealed {
        key(out, scope);
        let _ = writeln!(out, " = \"{s}\"");
    }
}

/// The secrets as `toml` writes them (each table preceded by a blank line), or `None` when a
/// name, selector, scope or string needs quoting this does not do.
pub(super) fn render(secrets: &BTreeMap<String, SecretEntry>) -> Option<String> {
    let strings_plain = secrets.iter().all(|(name, e)| {
        plain(name)
            && e.description.as_deref().is_none_or(plain)
            && !e.values.is_empty()
            && e.values.iter().all(|(sel, v)| {
                plain(sel)
                    && !v.sealed.is_empty()
                    && v.sealed.iter().all(|(k, s)| plain(k) && plain(s))
                    && v.history.iter().all(|h| {
                        !h.sealed.is_empty() && h.sealed.iter().all(|(k, s)| plain(k) && plain(s))
                    })
            })
    });
    if !strings_plain {
        return None;
    }
    let mut out = String::with_capacity(secrets.len() * 320);
    for (name, e) in secrets {
        let mut head = String::from("secrets.");
        key(&mut head, name);
        if e.description.is_some() || e.deleted.is_some() {
            let _ = writeln!(out, "\n[{head}]");
            if let Some(d) = &e.description {
                let _ = writeln!(out, "description = \"{d}\"");
            }
            if let Some(d) = &e.deleted {
                let _ = writeln!(out, "deleted = \"{}\"", date(d));
            }
        }
        for (sel, v) in &e.values {
            let mut path = format!("{head}.values.");
            key(&mut path, sel);
            let _ = writeln!(
                out,
                "\n[{path}]\nversion = {}\nupdated = \"{}\"",
                v.version,
                date(&v.updated)
            );
            sealed(&mut out, &path, &v.sealed);
            for h in &v.history {
                let _ = writeln!(
                    out,
                    "\n[[{path}.history]]\nversion = {}\nupdated = \"{}\"\nreplaced = \"{}\"",
                    h.version,
                    date(&h.updated),
                    date(&h.replaced)
                );
                sealed(&mut out, &format!("{path}.history"), &h.sealed);
            }
        }
    }
    Some(out)
}

/// The dotted keys of a table header, bare or `"…"` without escapes.
fn header_keys(s: &str) -> Option<Vec<&str>> {
    let mut keys = Vec::with_capacity(6);
    let mut rest = s;
    loop {
        let (k, after) = if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"')?;
            let k = &q[..end];
            if !plain(k) {
                return None;
            }
            (k, &q[end + 1..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            let k = &rest[..end];
            if !bare(k) {
                return None;
            }
            (k, &rest[end..])
        };
        keys.push(k);
        match after.strip_prefix('.') {
            Some(r) => rest = r,
            None if after.is_empty() => return Some(keys),
            None => return None,
        }
    }
}

/// A `key = "plain string"` or `key = integer` line.
fn assignment(line: &str) -> Option<(&str, Scalar<'_>)> {
    let (k, v) = line.split_once(" = ")?;
    let k = if let Some(q) = k.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
        plain(q).then_some(q)?
    } else {
        bare(k).then_some(k)?
    };
    let v = if let Some(s) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Scalar::Str(plain(s).then_some(s)?)
    } else if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && !v.starts_with('0')
        || v == "0"
    {
        Scalar::Int(v.parse().ok()?)
    } else {
        return None;
    };
    Some((k, v))
}

enum Scalar<'a> {
    Str(&'a str),
    Int(u64),
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    s.parse::<DateTime<FixedOffset>>()
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Which table the lines being read fill.
enum At {
    Secret,
    Value,
    ValueSealed,
    History,
    HistorySealed,
}

/// A value being read: its fields as they come, checked when the next value starts.
#[derive(Default)]
struct Partial {
    version: Option<u64>,
    updated: Option<DateTime<Utc>>,
    sealed: SealedMap,
    history: Vec<PartialHistory>,
}

#[derive(Default)]
struct PartialHistory {
    version: Option<u64>,
    updated: Option<DateTime<Utc>>,
    replaced: Option<DateTime<Utc>>,
    sealed: SealedMap,
}

impl Partial {
    fn finish(self) -> Option<ValueEntry> {
        let history = self
            .history
            .into_iter()
            .map(|h| {
                (!h.sealed.is_empty()).then_some(())?;
                Some(HistoryEntry {
                    version: h.version?,
                    updated: h.updated?,
                    replaced: h.replaced?,
                    sealed: h.sealed,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        (!self.sealed.is_empty()).then_some(())?;
        Some(ValueEntry {
            version: self.version?,
            updated: self.updated?,
            sealed: self.sealed,
            history,
        })
    }
}

/// Reads the secrets part (from [`secrets_start`] on) in the layout [`render`] writes: tables
/// in order, each once, each holding only its own fields. `None` for anything else.
pub(super) fn parse(text: &str) -> Option<BTreeMap<String, SecretEntry>> {
    let mut secrets: BTreeMap<String, SecretEntry> = BTreeMap::new();
    // The secret and value being read; a value is complete when the next one starts.
    let mut name: Option<&str> = None;
    let mut entry = SecretEntry::default();
    let mut sel: Option<&str> = None;
    let mut value = Partial::default();
    let mut at = At::Secret;

    fn close_value(
        entry: &mut SecretEntry,
        sel: &mut Option<&str>,
        value: &mut Partial,
    ) -> Option<()> {
        if let Some(s) = sel.take() {
            let v = std::mem::take(value).finish()?;
            if entry.values.insert(s.to_string(), v).is_some() {
                return None;
            }
        }
        Some(())
    }

    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (array, inner) =
            if let Some(h) = line.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
                (true, Some(h))
            } else {
                (
                    false,
                    line.strip_prefix('[').and_then(|h| h.strip_suffix(']')),
                )
            };
        if let Some(inner) = inner {
            let keys = header_keys(inner)?;
            if keys.len() < 2 || keys[0] != "secrets" {
                return None;
            }
            let n = keys[1];
            if name != Some(n) {
                // A new secret: they come in order, each once.
                if name.is_some_and(|prev| prev >= n) {
                    return None;
                }
                close_value(&mut entry, &mut sel, &mut value)?;
                if let Some(prev) = name.replace(n) {
                    let done = std::mem::take(&mut entry);
                    (!done.values.is_empty()).then_some(())?;
                    secrets.insert(prev.to_string(), done);
                }
            }
            at = match (array, &keys[2..]) {
                (false, [])
                    if sel.is_none()
                        && entry.values.is_empty()
                        && entry.description.is_none()
                        && entry.deleted.is_none() =>
                {
                    At::Secret
                }
                (false, ["values", s]) => {
                    close_value(&mut entry, &mut sel, &mut value)?;
                    if entry
                        .values
                        .keys()
                        .next_back()
                        .is_some_and(|last| last.as_str() >= *s)
                    {
                        return None;
                    }
                    sel = Some(s);
                    At::Value
                }
                (false, ["values", s, "sealed"])
                    if sel == Some(*s)
                        && value.sealed.is_empty()
                        && value.history.is_empty()
                        && matches!(at, At::Value) =>
                {
                    At::ValueSealed
                }
                (true, ["values", s, "history"]) if sel == Some(*s) && !value.sealed.is_empty() => {
                    value.history.push(PartialHistory::default());
                    At::History
                }
                (false, ["values", s, "history", "sealed"])
                    if sel == Some(*s) && matches!(at, At::History) =>
                {
                    At::HistorySealed
                }
                _ => return None,
            };
            continue;
        }
        let (k, v) = assignment(line)?;
        match (&at, k, v) {
            (At::Secret, "description", Scalar::Str(s)) if entry.description.is_none() => {
                entry.description = Some(s.to_string())
            }
            (At::Secret, "deleted", Scalar::Str(s)) if entry.deleted.is_none() => {
                entry.deleted = Some(parse_date(s)?)
            }
            (At::Value, "version", Scalar::Int(n)) if value.version.is_none() => {
                value.version = Some(n)
            }
            (At::Value, "updated", Scalar::Str(s)) if value.updated.is_none() => {
                value.updated = Some(parse_date(s)?)
            }
            (At::ValueSealed, scope, Scalar::Str(s)) => {
                if value
                    .sealed
                    .insert(scope.to_string(), s.to_string())
                    .is_some()
                {
                    return None;
                }
            }
            (At::History | At::HistorySealed, k, v) => {
                let h = value.history.last_mut()?;
                match (&at, k, v) {
                    (At::History, "version", Scalar::Int(n)) if h.version.is_none() => {
                        h.version = Some(n)
                    }
                    (At::History, "updated", Scalar::Str(s)) if h.updated.is_none() => {
                        h.updated = Some(parse_date(s)?)
                    }
                    (At::History, "replaced", Scalar::Str(s)) if h.replaced.is_none() => {
                        h.replaced = Some(parse_date(s)?)
                    }
                    (At::HistorySealed, scope, Scalar::Str(s)) => {
                        if h.sealed.insert(scope.to_string(), s.to_string()).is_some() {
                            return None;
                        }
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    close_value(&mut entry, &mut sel, &mut value)?;
    if let Some(n) = name {
        (!entry.values.is_empty()).then_some(())?;
        secrets.insert(n.to_string(), entry);
    }
    Some(secrets)
}

#[cfg(test)]
mod tests {
    use super::super::format::{self, Header, ScopeEntry, StoreFile, WrappedKey, FORMAT};
    use super::*;
    use chrono::TimeZone;

    /// A small deterministic generator (no dependency needed for a test's variety).
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
        fn date(&mut self) -> DateTime<Utc> {
            let secs = 1_700_000_000 + self.next(100_000_000) as i64;
            // Sub-second times too: the store writes whole seconds, a hand edit may not.
            let nanos = if self.next(4) == 0 {
                self.next(1_000_000_000) as u32
            } else {
                0
            };
            Utc.timestamp_opt(secs, nanos).unwrap()
        }
        fn sealed(&mut self, scopes: &[&str]) -> SealedMap {
            scopes
                .iter()
                .map(|s| (s.to_string(), format!("c2VhbGVk{}+/=", self.next(1 << 40))))
                .collect()
        }
    }

    fn store(g: &mut Gen, n: usize, description: impl Fn(usize) -> Option<String>) -> StoreFile {
        let scope = |types: &[&str]| ScopeEntry {
            types: types.iter().map(|t| t.to_string()).collect(),
            public_key: "ab".repeat(32),
            fingerprint_key: "fk".into(),
            fingerprint_key_id: Some("0123456789abcdef".into()),
            retired_fingerprint_keys: vec![],
            recipients: BTreeMap::from([(
                "age1xyz".to_string(),
                WrappedKey {
                    added: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                    wrapped: "d3JhcHBlZA==".into(),
                },
            )]),
        };
        let selectors: [(&str, &[&str]); 5] = [
            ("production", &["production"]),
            ("development,preview", &["development"]),
            ("local", &["development"]),
            ("env:prod-eu", &["production"]),
            ("development,production", &["development", "production"]),
        ];
        let mut secrets = BTreeMap::new();
        for i in 0..n {
            let mut values = super::super::format::ValueMap::new();
            for (sel, scopes) in selectors.iter() {
                if g.next(3) == 0 && !values.is_empty() {
                    continue;
                }
                let history = (0..g.next(3))
                    .map(|k| HistoryEntry {
                        version: k + 1,
                        updated: g.date(),
                        replaced: g.date(),
                        sealed: g.sealed(scopes),
                    })
                    .collect();
                values.insert(
                    sel.to_string(),
                    ValueEntry {
                        version: g.next(1000) + 1,
                        updated: g.date(),
                        sealed: g.sealed(scopes),
                        history,
                    },
                );
            }
            let deleted = (g.next(5) == 0).then(|| g.date());
            secrets.insert(
                format!("S{}_{i}", g.next(1000)),
                SecretEntry {
                    description: description(i),
                    deleted,
                    values,
                },
            );
        }
        StoreFile {
            secretsync: Header {
                format: FORMAT,
                store_id: "0123456789abcdef0123456789abcdef".into(),
                cipher: format::CIPHER.into(),
            },
            scopes: BTreeMap::from([
                (
                    "development".to_string(),
                    scope(&["development", "preview", "local"]),
                ),
                ("production".to_string(), scope(&["production"])),
            ]),
            secrets,
        }
    }

    #[test]
    fn the_fast_path_writes_what_toml_writes_and_reads_what_toml_reads() {
        let mut g = Gen(7);
        for round in 0..40 {
            let file = store(&mut g, 1 + round * 3, |i| {
                (i % 4 == 0).then(|| {
                    format!("Secret number {i}: it's a plain description (#{i}, a=b; [x].")
                })
            });
            let slow = format::toml_render(&file).unwrap();
            let fast = format::render(&file).unwrap();
            assert!(
                fast.ends_with(&slow),
                "round {round}: the fast render differs from toml's"
            );
            assert!(
                render(&file.secrets).is_some(),
                "round {round}: the fast path was not taken"
            );
            let read = format::fast_parse(&slow).expect("the fast path reads toml's output");
            assert_eq!(read, file, "round {round}");
            assert_eq!(toml::from_str::<StoreFile>(&slow).unwrap(), file);
        }
    }

    #[test]
    fn what_it_does_not_understand_goes_to_toml_and_reads_the_same() {
        let mut g = Gen(11);
        // Strings that need escapes or another quoting: the fast writer declines, toml writes,
        // and the fast reader declines what toml wrote.
        for d in [
            "say \"hi\"",
            "back\\slash",
            "two\nlines",
            "tab\there",
            "ünïcödé",
        ] {
            let file = store(&mut g, 3, |_| Some(d.to_string()));
            assert!(render(&file.secrets).is_none(), "{d:?}");
            let text = format::render(&file).unwrap();
            assert!(format::fast_parse(&text).is_none(), "{d:?}");
            assert_eq!(format::parse(&text).unwrap(), file, "{d:?}");
        }
        // The same file with its tables out of order (as a merge or a hand edit may leave
        // it), a comment, a repeated table, an unknown field: the fast reader declines, and the
        // result is toml's, value or error alike.
        let file = store(&mut g, 4, |_| None);
        let text = format::render(&file).unwrap();
        let start = secrets_start(&text).unwrap();
        let mut blocks: Vec<&str> = text[start..].split("\n\n").collect();
        blocks.reverse();
        let reordered = format!("{}{}", &text[..start], blocks.join("\n\n"));
        assert!(format::fast_parse(&reordered).is_none());
        assert_eq!(
            format::parse(&reordered),
            toml::from_str::<StoreFile>(&reordered).map_err(|e| e.to_string())
        );
        for edit in [
            text.replacen("version = ", "version = 0", 1),
            text.replacen("updated = ", "# a comment\nupdated = ", 1),
            text.replacen("\nversion = ", "\nversion = 1\nversion = ", 1),
            text.replacen("\nversion = ", "\ncolour = \"red\"\nversion = ", 1),
            text.replacen("updated = \"", "updated = \"not a date", 1),
            format!(
                "{text}\n[secrets.{}]\ndescription = \"again\"\n",
                file.secrets.keys().next().unwrap()
            ),
        ] {
            let fast = format::fast_parse(&edit);
            let slow = toml::from_str::<StoreFile>(&edit).map_err(|e| e.to_string());
            match (&fast, &slow) {
                (Some(f), Ok(s)) => assert_eq!(f, s),
                (None, _) => {}
                (Some(_), Err(e)) => panic!("the fast path read what toml refuses ({e})"),
            }
            assert_eq!(format::parse(&edit).is_ok(), slow.is_ok());
        }
    }
}
