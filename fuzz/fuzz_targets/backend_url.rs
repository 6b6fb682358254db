//! Backend URL parsing: any string is a URL of a known scheme with valid options, or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::scheme::Scheme;

fuzz_target!(|url: &str| {
    match Scheme::check_url(url) {
        Ok(s) => assert!(url.starts_with(&format!("{}://", s.as_str()))),
        Err(e) => assert!(!e.is_empty()),
    }
});
