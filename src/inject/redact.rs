//! Streaming redaction: every secret value that appears in a byte stream becomes
//! `[REDACTED:NAME]`, also when it is split across reads. Values shorter than a minimum length
//! are not redacted (they would match ordinary text); the caller says which.

use aho_corasick::{AhoCorasick, MatchKind};
use secretsync_core::SecretValue;

/// Values shorter than this are not redacted by default.
pub const DEFAULT_MIN_LEN: usize = 6;

/// A redactor over one output stream.
pub struct Redactor {
    ac: Option<AhoCorasick>,
    names: Vec<String>,
    longest: usize,
    carry: Vec<u8>,
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
                .match_kind(MatchKind::LeftmostLongest)
                .build(long.iter().map(|(_, v)| v.expose()))
                .expect("patterns of bounded length always build")
        });
        let r = Redactor {
            ac,
            names: long.iter().map(|(n, _)| n.clone()).collect(),
            longest: long.iter().map(|(_, v)| v.len()).max().unwrap_or(0),
            carry: Vec::new(),
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

    /// Emits the buffer up to `safe` (matches starting before it are whole in the buffer).
    fn drain(&mut self, safe: usize) -> Vec<u8> {
        let Some(ac) = &self.ac else {
            return std::mem::take(&mut self.carry);
        };
        let buf = std::mem::take(&mut self.carry);
        let mut out = Vec::with_capacity(buf.len());
        let mut pos = 0;
        for m in ac.find_iter(&buf) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&buf[pos..m.start()]);
            out.extend_from_slice(
                format!("[REDACTED:{}]", self.names[m.pattern().as_usize()]).as_bytes(),
            );
            pos = m.end();
        }
        let keep_from = pos.max(safe);
        out.extend_from_slice(&buf[pos..keep_from]);
        self.carry = buf[keep_from..].to_vec();
        out
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
