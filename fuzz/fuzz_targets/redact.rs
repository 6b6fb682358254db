//! The redactor, the stream cut into reads where the fuzzer says: however the output arrives,
//! what is written is what redacting it in one piece writes (up to which values a marker names,
//! and whether adjacent markers are one: a split read may learn of an overlap only after it
//! masked the first value), and no value survives in it.
//!
//! The cuts are part of the input, so each execution redacts twice (whole, and in the reads
//! given) and coverage guidance searches the ways to cut. This target first replayed every
//! split point of each input: about 1,600 executions a second on one core, against about 5,000
//! now with the core shared (SECURITY.md, "Fuzzing campaign").
//! `inject::redact::tests` keep the every-split-point checks for chosen values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::inject::redact::Redactor;
use secretsync_core::SecretValue;

/// The output with every marker made `#`, and adjacent markers made one.
fn masked(out: &[u8]) -> Vec<u8> {
    let mut res = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i..].starts_with(b"[REDACTED:") {
            if let Some(end) = out[i..].iter().position(|b| *b == b']') {
                if res.last() != Some(&b'#') {
                    res.push(b'#');
                }
                i += end + 1;
                continue;
            }
        }
        res.push(out[i]);
        i += 1;
    }
    res
}

fuzz_target!(|data: (Vec<Vec<u8>>, Vec<u8>, Vec<u8>)| {
    let (values, text, reads) = data;
    if values.len() > 6 || text.len() > 96 || values.iter().any(|v| v.len() > 24) {
        return;
    }
    let secrets: Vec<(String, SecretValue)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| (format!("S{i}"), SecretValue::new(v.clone())))
        .collect();
    let (fresh, _) = Redactor::new(&secrets, 1);
    let whole = {
        let mut r = fresh.clone();
        let mut out = r.push(&text);
        out.extend(r.finish());
        out
    };
    // A value made of the markers' own bytes can reappear by joining a marker and the text
    // around it; every other value must be gone.
    let marker_bytes = b"[]:+REDACTS0123456789";
    for (_, v) in secrets
        .iter()
        .filter(|(_, v)| v.expose().iter().all(|b| !marker_bytes.contains(b)))
    {
        assert!(
            !whole.windows(v.len()).any(|w| w == v.expose()),
            "a value survived redaction"
        );
    }
    // Each byte of `reads` is the length of the next read (0 is an empty read, as a pipe can
    // give); what the reads leave over is the last one.
    let mut r = fresh;
    let mut out = Vec::new();
    let mut rest = &text[..];
    for &n in &reads {
        let (read, after) = rest.split_at(usize::from(n).min(rest.len()));
        out.extend(r.push(read));
        rest = after;
    }
    out.extend(r.push(rest));
    out.extend(r.finish());
    assert_eq!(masked(&out), masked(&whole), "reads {reads:?}");
});
