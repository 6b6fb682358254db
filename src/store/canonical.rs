//! A fast path through the `[secrets…]` part of a format-2 store file, in exactly the layout
//! the `toml` crate writes it: the part that grows with the store (100,000 secrets are about
//! 30 MB, which `toml` takes seconds and 600 MB to parse, building a spanned document first).
//!
//! Both directions only take what they fully understand and otherwise answer `None`, and the
//! caller then uses `toml` for the whole file: a file edited by hand, merged into another order,
//! or holding a string that needs escapes still reads and writes as before, only slower. The
//! tests hold both directions to `toml`'s own output, byte for byte and value for value.

use super::format::{HistoryEntry, SealedMap, SecretEntry, ValueEntry};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc};
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

/// Writes `d` as `toml` does (RFC 3339, UTC as `Z`, fractions of 0, 3, 6 or 9 digits): by hand
/// for years 0–9999, where chrono's formatter took a tenth of a 100,000-secret write.
pub(super) fn date(out: &mut String, d: &DateTime<Utc>) {
    let (day, time) = (d.date_naive(), d.time());
    let nanos = time.nanosecond();
    if !(0..=9999).contains(&day.year()) || nanos >= 1_000_000_000 {
        out.push_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        return;
    }
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        day.year(),
        day.month(),
        day.day(),
        time.hour(),
        time.minute(),
        time.second()
    );
    let _ = match nanos {
        0 => Ok(()),
        n if n % 1_000_000 == 0 => write!(out, ".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => write!(out, ".{:06}", n / 1_000),
        n => write!(out, ".{n:09}"),
    };
    out.push('Z');
}

/// A `key = "value"` line.
fn string_line(out: &mut String, k: &str, v: &str) {
    key(out, k);
    out.push_str(" = \"");
    out.push_str(v);
    out.push_str("\"\n");
}

/// A `key = "date"` line.
fn date_line(out: &mut String, k: &str, d: &DateTime<Utc>) {
    out.push_str(k);
    out.push_str(" = \"");
    date(out, d);
    out.push_str("\"\n");
}

/// A table header, after the blank line `toml` leaves: `[path]` or `[[path]]`, the path being
/// `secrets.NAME.values.SEL` and then `suffix`.
fn header(out: &mut String, name: &str, sel: Option<&str>, suffix: &str, array: bool) {
    out.push_str(if array { "\n[[secrets." } else { "\n[secrets." });
    key(out, name);
    if let Some(sel) = sel {
        out.push_str(".values.");
        key(out, sel);
    }
    out.push_str(suffix);
    out.push_str(if array { "]]\n" } else { "]\n" });
}

fn sealed(out: &mut String, sealed: &SealedMap) {
    for (scope, s) in sealed {
        string_line(out, scope, s);
    }
}

/// The secrets as `toml` writes them (each table preceded by a blank line), or `None` when a
/// name, selector, scope or string needs quoting this does not do.
#[cfg(test)]
pub(super) fn render(secrets: &BTreeMap<String, SecretEntry>) -> Option<String> {
    let mut out = String::new();
    render_into(secrets, &mut out).then_some(out)
}

/// Appends the secrets as `toml` writes them to `out`; false (and `out` untouched) when a name,
/// selector, scope or string needs quoting this does not do.
pub(super) fn render_into(secrets: &BTreeMap<String, SecretEntry>, out: &mut String) -> bool {
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
        return false;
    }
    out.reserve(secrets.len() * 320);
    for (name, e) in secrets {
        if e.description.is_some() || e.deleted.is_some() {
            header(out, name, None, "", false);
            if let Some(d) = &e.description {
                string_line(out, "description", d);
            }
            if let Some(d) = &e.deleted {
                date_line(out, "deleted", d);
            }
        }
        for (sel, v) in &e.values {
            header(out, name, Some(sel), "", false);
            let _ = writeln!(out, "version = {}", v.version);
            date_line(out, "updated", &v.updated);
            header(out, name, Some(sel), ".sealed", false);
            sealed(out, &v.sealed);
            for h in &v.history {
                header(out, name, Some(sel), ".history", true);
                let _ = writeln!(out, "version = {}", h.version);
                date_line(out, "updated", &h.updated);
                date_line(out, "replaced", &h.replaced);
                header(out, name, Some(sel), ".history.sealed", false);
                sealed(out, &h.sealed);
            }
        }
    }
    true
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

pub(super) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    // What the store writes (`YYYY-MM-DDTHH:MM:SSZ`) by hand; anything else through chrono.
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 20 && [b[4], b[7], b[10], b[13], b[16], b[19]] == *b"--T::Z" {
        let day = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
        return Some(day.and_time(time).and_utc());
    }
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
    // In order (checked below), so the map is built in bulk at the end.
    let mut secrets: Vec<(String, SecretEntry)> = Vec::new();
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
            // Selectors come in order (checked where each starts).
            if entry.values.try_append(s.to_string(), v).is_some() {
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
                    secrets.push((prev.to_string(), done));
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
        secrets.push((n.to_string(), entry));
    }
    Some(secrets.into_iter().collect())
}
