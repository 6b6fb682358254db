//! Getting secrets into programs: redacting them from output, rendering them for other tools,
//! and the local cache that lets `run --env local` work offline.

pub mod cache;
pub mod format;
pub mod redact;

/// Variables that change how a loader, shell or interpreter starts a program: a backend that
/// could set them could run code in the child. `run --from` refuses them unless the app declares
/// them in `secretsync.toml`.
pub fn hijacks_startup(name: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "LD_",
        "DYLD_",
        "GIT_",
        "BASH_FUNC_",
        "PYTHON",
        "PERL",
        "RUBY",
        "NODE_",
    ];
    const NAMES: [&str; 22] = [
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        "PROMPT_COMMAND",
        "IFS",
        "PATH",
        "HOME",
        "SHELL",
        "ZDOTDIR",
        "GCONV_PATH",
        "LOCPATH",
        "NLSPATH",
        "HOSTALIASES",
        "RES_OPTIONS",
        "JAVA_TOOL_OPTIONS",
        "_JAVA_OPTIONS",
        "JDK_JAVA_OPTIONS",
        "CLASSPATH",
        "GEM_PATH",
        "LUA_INIT",
    ];
    let upper = name.to_ascii_uppercase();
    NAMES.contains(&upper.as_str()) || PREFIXES.iter().any(|p| upper.starts_with(p))
}

/// What `run --clean-env` passes on besides the secrets.
pub const CLEAN_ENV_KEEP: [&str; 6] = ["PATH", "HOME", "USER", "LANG", "TERM", "TZ"];

#[cfg(test)]
mod tests {
    #[test]
    fn loader_and_interpreter_variables_are_recognised() {
        for n in [
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "BASH_ENV",
            "ENV",
            "NODE_OPTIONS",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "GIT_SSH_COMMAND",
            "ld_preload",
            "PATH",
        ] {
            assert!(super::hijacks_startup(n), "{n}");
        }
        for n in [
            "DATABASE_URL",
            "GitHubAPIToken",
            "ENVIRONMENT",
            "NODE",
            "LDAP_PASSWORD",
        ] {
            assert!(!super::hijacks_startup(n), "{n}");
        }
    }
}
