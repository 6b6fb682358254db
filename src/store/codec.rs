//! Reading and writing `secrets.enc.toml`: the fast path ([`super::canonical`]) for the
//! secrets of a format-2 file where it understands them, `toml` for the rest and for anything
//! else. The file's shape is [`super::format`]'s.

use super::canonical;
use super::format::{v1, Header, ScopeEntry, StoreFile, FORMAT, FORMAT_V1};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Parses a store file of either format into the current shape.
pub(crate) fn parse(text: &str) -> Result<StoreFile, String> {
    #[derive(Deserialize)]
    struct Probe {
        secretsync: ProbeHeader,
    }
    #[derive(Deserialize)]
    struct ProbeHeader {
        format: u32,
    }
    // The header comes first in every file secretsync writes: parse it alone rather than the
    // whole file twice (the whole file only when it is not found there).
    let header = text.split_once("[secretsync]\n").map(|(_, rest)| {
        let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
        format!("[secretsync]\n{}", &rest[..end])
    });
    let probe: Probe = match header.and_then(|h| toml::from_str(&h).ok()) {
        Some(p) => p,
        None => toml::from_str(text).map_err(|e| e.to_string())?,
    };
    match probe.secretsync.format {
        FORMAT_V1 => toml::from_str::<v1::StoreFile>(text)
            .map(v1::StoreFile::into_current)
            .map_err(|e| e.to_string()),
        FORMAT => Ok(match fast_parse(text) {
            Some(file) => file,
            None => toml::from_str::<StoreFile>(text).map_err(|e| e.to_string())?,
        }),
        n => Err(format!(
            "store format {n} is not supported by this secretsync (it reads formats {FORMAT_V1} and {FORMAT}); upgrade secretsync"
        )),
    }
}

/// The header and scopes, as `toml` writes the start of a [`StoreFile`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head<H, S> {
    secretsync: H,
    scopes: S,
}

/// A format-2 file through [`canonical`] for its secrets and `toml` for the rest; `None` when
/// the secrets are not in the layout it reads.
pub(super) fn fast_parse(text: &str) -> Option<StoreFile> {
    let start = canonical::secrets_start(text)?;
    let secrets = canonical::parse(&text[start..])?;
    let head: Head<Header, BTreeMap<String, ScopeEntry>> = toml::from_str(&text[..start]).ok()?;
    Some(StoreFile {
        secretsync: head.secretsync,
        scopes: head.scopes,
        secrets,
    })
}

/// The whole file as `toml` writes it (the slow path, and what the fast one must equal).
pub(super) fn toml_render(file: &StoreFile) -> Result<String, toml::ser::Error> {
    if file.secretsync.format == FORMAT_V1 {
        toml::to_string(&v1::StoreFile::from_current(file.clone()))
    } else {
        toml::to_string(file)
    }
}

/// The comment every store file starts with.
const PREAMBLE: &str =
    "# secretsync canonical store: names and selectors in clear, every value sealed.\n\
                        # Change it with `secretsync set/delete/key`, not by hand.\n\n";

/// Writes the file in its own format.
pub(crate) fn render(file: &StoreFile) -> Result<String, String> {
    let fail = |e: toml::ser::Error| format!("cannot serialize the store: {e}");
    if file.secretsync.format == FORMAT && !file.secrets.is_empty() {
        let head = toml::to_string(&Head {
            secretsync: &file.secretsync,
            scopes: &file.scopes,
        })
        .map_err(fail)?;
        let mut out = [PREAMBLE, &head].concat();
        if canonical::render_into(&file.secrets, &mut out) {
            return Ok(out);
        }
    }
    toml_render(file)
        .map(|body| format!("{PREAMBLE}{body}"))
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::super::canonical::*;
    use super::super::format::{self, Header, ScopeEntry, StoreFile, WrappedKey, FORMAT};
    use super::super::{codec, format::*};
    use chrono::TimeZone;
    use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
    use std::collections::BTreeMap;

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
            let slow = codec::toml_render(&file).unwrap();
            let fast = codec::render(&file).unwrap();
            assert!(
                fast.ends_with(&slow),
                "round {round}: the fast render differs from toml's"
            );
            assert!(
                render(&file.secrets).is_some(),
                "round {round}: the fast path was not taken"
            );
            let read = codec::fast_parse(&slow).expect("the fast path reads toml's output");
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
            let text = codec::render(&file).unwrap();
            assert!(codec::fast_parse(&text).is_none(), "{d:?}");
            assert_eq!(codec::parse(&text).unwrap(), file, "{d:?}");
        }
        // The same file with its tables out of order (as a merge or a hand edit may leave
        // it), a comment, a repeated table, an unknown field: the fast reader declines, and the
        // result is toml's, value or error alike.
        let file = store(&mut g, 4, |_| None);
        let text = codec::render(&file).unwrap();
        let start = secrets_start(&text).unwrap();
        let mut blocks: Vec<&str> = text[start..].split("\n\n").collect();
        blocks.reverse();
        let reordered = format!("{}{}", &text[..start], blocks.join("\n\n"));
        assert!(codec::fast_parse(&reordered).is_none());
        assert_eq!(
            codec::parse(&reordered),
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
            let fast = codec::fast_parse(&edit);
            let slow = toml::from_str::<StoreFile>(&edit).map_err(|e| e.to_string());
            match (&fast, &slow) {
                (Some(f), Ok(s)) => assert_eq!(f, s),
                (None, _) => {}
                (Some(_), Err(e)) => panic!("the fast path read what toml refuses ({e})"),
            }
            assert_eq!(codec::parse(&edit).is_ok(), slow.is_ok());
        }
    }

    #[test]
    fn dates_are_written_and_read_as_toml_and_chrono_do() {
        let dates = [
            "2026-11-29T18:52:10Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2026-11-29T18:52:10.120Z",
            "2026-11-29T18:52:10.000120Z",
            "2026-11-29T18:52:10.000000120Z",
            "2026-11-29T18:52:10+02:00",
            "2026-11-29T18:52:10.5-01:30",
        ];
        for text in dates {
            let ours = parse_date(text).unwrap();
            let chrono = text.parse::<DateTime<FixedOffset>>().unwrap();
            assert_eq!(ours, chrono.with_timezone(&Utc), "{text}");
            let mut out = String::new();
            date(&mut out, &ours);
            assert_eq!(
                out,
                ours.to_rfc3339_opts(SecondsFormat::AutoSi, true),
                "{text}"
            );
        }
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T18:52:1xZ",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        // What the fast path does not take is chrono's to judge.
        let spaced = "2026-11-29 18:52:10Z";
        assert_eq!(
            parse_date(spaced),
            spaced
                .parse::<DateTime<FixedOffset>>()
                .ok()
                .map(|d| d.to_utc())
        );
    }
}
