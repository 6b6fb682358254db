//! The Go scanner: any source either yields declarations with valid names and lines inside the
//! file, or an error naming the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::declare::go::scan_source;
use std::path::Path;

fuzz_target!(|src: &str| {
    match scan_source(Path::new("app/secrets.go"), src) {
        Ok(found) => {
            let lines = src.lines().count().max(1);
            for s in found {
                assert!(s.line >= 1 && s.line <= lines + 1, "line {} of {lines}", s.line);
            }
        }
        Err(e) => assert!(e.to_string().contains("app/secrets.go")),
    }
});
