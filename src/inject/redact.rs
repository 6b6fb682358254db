//! Streaming redaction: every secret value that appears in a byte stream becomes
//! `[REDACTED:NAME]`, also when it is split across reads. Values shorter than a minimum length
//! are not redacted (they would match ordinary text); the caller says which.

use aho_corasick::{AhoCorasick, MatchKind};
use secretsync_core::SecretValue;

/// Values shorter than this are not redacted by default.
pub const DEFAULT_MIN_LEN: usize = 6;

/// A redactor over one output stream. A clone starts from the same point of the stream (the
/// patterns are shared, not rebuilt).
#[derive(Clone)]
pub struct Redactor {
    ac: Option<AhoCorasick>,
    names: Vec<String>,
    longest: usize,
    carry: Vec<u8>,
    /// How many leading bytes of `carry` are already covered by an emitted marker (kept only
    /// so that a value overlapping them is found whole).
    hidden: usize,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.names.len())
    }
}

impl Redactor {
    /// A redactor for `secrets`; returns it and the names too short to redact.
    pub fn new(secrets: &[(String, SecretValue)], min_len: usize) -> (Self, Vec<String>) {
        let (long, short): (Vec<_>, Vec<_>) =
            secrets.iter().partition(|(_, v)| v.len() >= min_len.max(1));
        let ac = (!long.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(long.iter().map(|(_, v)| v.expose()))
                .expect("patterns of bounded length always build")
        });
        let r = Redactor {
            ac,
            names: long.iter().map(|(n, _)| n.clone()).collect(),
            longest: long.iter().map(|(_, v)| v.len()).max().unwrap_or(0),
            carry: Vec::new(),
            hidden: 0,
        };
        (r, short.into_iter().map(|(n, _)| n.clone()).collect())
    }

    /// Feeds a chunk; returns what can be written now. Up to the longest value's length minus
    /// one byte is held back, as it may be the start of a value completed by the next chunk.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.carry.extend_from_slice(chunk);
        let safe = self
            .carry
            .len()
            .saturating_sub(self.longest.saturating_sub(1));
        self.drain(safe)
    }

    /// Flushes what is held back, at the end of the stream.
    pub fn finish(&mut self) -> Vec<u8> {
        let all = self.carry.len();
        self.drain(all)
    }

    /// Emits the buffer up to `safe`. Every byte of every value found is masked, also where
    /// values overlap or touch: overlapping matches merge into one marker naming the values;
    /// touching ones get a marker each (as they would if a read ended between them).
    /// A match starting before `safe` is whole in the buffer.
    fn drain(&mut self, safe: usize) -> Vec<u8> {
        let Some(ac) = &self.ac else {
            self.hidden = 0;
            return std::mem::take(&mut self.carry);
        };
        let buf = std::mem::take(&mut self.carry);
        let mut matches: Vec<(usize, usize, usize)> = ac
            .find_overlapping_iter(&buf)
            .filter(|m| m.start() < safe.max(self.hidden))
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        matches.sort_unstable();
        let mut out = Vec::with_capacity(buf.len());
        let mut pos = self.hidden;
        let mut i = 0;
        while i < matches.len() {
            // One run of overlapping matches.
            let (start, mut end) = (matches[i].0, matches[i].1);
            let mut j = i + 1;
            while j < matches.len() && matches[j].0 < end {
                end = end.max(matches[j].1);
                j += 1;
            }
            let run = &matches[i..j];
            i = j;
            if end <= pos {
                continue;
            }
            if start >= pos {
                out.extend_from_slice(&buf[pos..start]);
                out.extend_from_slice(format!("[REDACTED:{}]", self.run_names(run)).as_bytes());
            }
            // else: the run continues a value already masked; swallow its tail.
            pos = end;
        }
        if pos < safe {
            out.extend_from_slice(&buf[pos..safe]);
            pos = safe;
        }
        let keep = safe.min(buf.len());
        self.hidden = pos - keep;
        self.carry = buf[keep..].to_vec();
        out
    }

    /// The names of the values in a run that no other value of the run contains, in order.
    fn run_names(&self, run: &[(usize, usize, usize)]) -> String {
        let mut names: Vec<&str> = Vec::new();
        for &(s, e, p) in run {
            let inside = run
                .iter()
                .any(|&(s2, e2, _)| s2 <= s && e <= e2 && (s2, e2) != (s, e));
            let name = self.names[p].as_str();
            if !inside && !names.contains(&name) {
                names.push(name);
            }
        }
        names.join("+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<(String, SecretValue)> {
        vec![
            ("TOKEN".into(), "tok-0123456789".into()),
            (
                "CERT".into(),
                "-----BEGIN CERT-----\nMIIB\n-----END CERT-----".into(),
            ),
            ("PIN".into(), "1234".into()),
            ("LONGER".into(), "tok-0123456789-extended".into()),
        ]
    }

    fn run(r: &mut Redactor, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        for c in chunks {
            out.extend(r.push(c));
        }
        out.extend(r.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn redacts_whole_and_split_values_and_reports_short_ones() {
        let (mut r, short) = Redactor::new(&secrets(), DEFAULT_MIN_LEN);
        assert_eq!(short, ["PIN"]);
        let text = "a tok-0123456789 b\n-----BEGIN CERT-----\nMIIB\n-----END CERT-----\npin 1234";
        let want = "a [REDACTED:TOKEN] b\n[REDACTED:CERT]\npin 1234";
        assert_eq!(run(&mut r, &[text.as_bytes()]), want);
        // Every split point, byte by byte.
        for cut in 0..text.len() {
            let (mut r, _) = Redactor::new(&secrets(), DEFAULT_MIN_LEN);
            let (a, b) = text.as_bytes().split_at(cut);
            assert_eq!(run(&mut r, &[a, b]), want, "split at {cut}");
        }
        let (mut r, _) = Redactor::new(&secrets(), DEFAULT_MIN_LEN);
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(run(&mut r, &bytes), want, "one byte at a time");
    }

    #[test]
    fn adjacent_copies_of_a_value_give_one_marker_each_however_the_read_is_split() {
        // Found by the `redact` fuzz target: a one-byte value twice in a row gave one marker
        // when read whole and two when read in two parts.
        let secrets: Vec<(String, SecretValue)> = vec![("S0".into(), SecretValue::new(vec![0xff]))];
        let text = [0xff, 0xff];
        for cut in 0..=text.len() {
            let (mut r, _) = Redactor::new(&secrets, 1);
            let (a, b) = text.split_at(cut);
            assert_eq!(
                run(&mut r, &[a, b]),
                "[REDACTED:S0][REDACTED:S0]",
                "split at {cut}"
            );
        }
    }

    #[test]
    fn overlapping_and_touching_values_are_masked_whole_at_every_split() {
        // Regression: with A = "abcdefgh" and B = "efghijkl", "abcdefghijkl" printed "ijkl".
        let secrets: Vec<(String, SecretValue)> = vec![
            ("A".into(), "abcdefgh".into()),
            ("B".into(), "efghijkl".into()),
            ("C".into(), "zyxwvu".into()),
        ];
        let cases = [
            ("< abcdefghijkl >", "< [REDACTED:A+B] >"),
            ("<abcdefghzyxwvu>", "<[REDACTED:A][REDACTED:C]>"),
            ("efghijklabcdefgh", "[REDACTED:B][REDACTED:A]"),
            ("abcdefgh efghijkl", "[REDACTED:A] [REDACTED:B]"),
        ];
        // Split reads may name fewer of the overlapping values, or mark touching ones apart; no
        // byte of any shows.
        let masked = |s: &str| {
            let mut out = String::new();
            for (i, part) in s.split("[REDACTED:").enumerate() {
                out.push_str(if i == 0 {
                    part
                } else {
                    part.split_once(']').map_or(part, |p| p.1)
                });
                if i + 1 < s.split("[REDACTED:").count() && !out.ends_with('#') {
                    out.push('#');
                }
            }
            out
        };
        for (text, want) in cases {
            let (mut r, _) = Redactor::new(&secrets, DEFAULT_MIN_LEN);
            assert_eq!(run(&mut r, &[text.as_bytes()]), want);
            for cut in 0..=text.len() {
                let (mut r, _) = Redactor::new(&secrets, DEFAULT_MIN_LEN);
                let (a, b) = text.as_bytes().split_at(cut);
                let got = run(&mut r, &[a, b]);
                assert_eq!(masked(&got), masked(want), "{text:?} split at {cut}: {got}");
            }
            let (mut r, _) = Redactor::new(&secrets, DEFAULT_MIN_LEN);
            let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
            let got = run(&mut r, &bytes);
            assert_eq!(masked(&got), masked(want), "{text:?} byte by byte: {got}");
        }
    }

    #[test]
    fn the_longest_value_wins_and_text_without_values_passes_through() {
        let (mut r, _) = Redactor::new(&secrets(), DEFAULT_MIN_LEN);
        assert_eq!(
            run(&mut r, &[b"x tok-0123456789-extended y"]),
            "x [REDACTED:LONGER] y"
        );
        let (mut r, _) = Redactor::new(&[], DEFAULT_MIN_LEN);
        assert_eq!(run(&mut r, &[b"plain ", b"text"]), "plain text");
        assert!(!format!("{r:?}").contains("tok"));
    }
}
