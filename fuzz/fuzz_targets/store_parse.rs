//! The store parser: any text either parses to a valid store or is refused with an error; a
//! store that parses writes back to text that parses to the same store.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::store::Store;
use std::path::Path;

fuzz_target!(|text: &str| {
    let path = Path::new("secrets.enc.toml");
    if let Ok(store) = Store::parse(path, text) {
        let again = store.to_text().expect("a valid store renders");
        let reparsed = Store::parse(path, &again).expect("what we write parses");
        assert_eq!(reparsed.to_text().unwrap(), again, "rendering is stable");
        let _ = (store.secrets(), store.recipients(), store.layout());
    }
});
