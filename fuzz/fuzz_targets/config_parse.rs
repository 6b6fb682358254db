//! The config parser: any text parses or is refused with an error naming the file; a parsed
//! config resolves every environment it declares.
#![no_main]
use libfuzzer_sys::fuzz_target;
use secretsync::config::Config;
use std::path::Path;

fuzz_target!(|text: &str| {
    let path = Path::new("/app/secretsync.toml");
    match Config::parse(path, text) {
        Ok(cfg) => {
            for env in cfg.all_envs() {
                let _ = cfg.env(env.name()).expect("a declared environment resolves");
                let _ = cfg.scopes.scope_of(env.env_type());
            }
        }
        Err(e) => assert!(e.to_string().starts_with("/app/secretsync.toml") || e.to_string().contains("environments")),
    }
});
