//! The source scanners, Go and Encore.ts: any source either yields declarations with valid
//! names and lines inside the file, or an error naming the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::declare::{go, ts};
use std::path::Path;

fuzz_target!(|src: &str| {
    let lines = src.lines().count().max(1);
    for (file, found) in [
        ("app/secrets.go", go::scan_source(Path::new("app/secrets.go"), src)),
        ("app/secrets.ts", ts::scan_source(Path::new("app/secrets.ts"), src)),
    ] {
        match found {
            Ok(found) => {
                for s in found {
                    assert!(s.line >= 1 && s.line <= lines + 1, "{file}: line {} of {lines}", s.line);
                }
            }
            Err(e) => assert!(e.to_string().contains(file), "{e}"),
        }
    }
});
