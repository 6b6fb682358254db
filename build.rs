//! Puts the commit and the backends compiled in into `secretsync --version`.

fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let mut backends = vec!["file", "memory"];
    for (feature, names) in [
        ("CARGO_FEATURE_AWS", "aws-sm, aws-ssm (+ aws-kms)"),
        ("CARGO_FEATURE_GCP", "gcp-sm (+ gcp-kms)"),
        ("CARGO_FEATURE_VAULT", "vault"),
    ] {
        if std::env::var_os(feature).is_some() {
            backends.push(names);
        }
    }
    println!(
        "cargo:rustc-env=SECRETSYNC_LONG_VERSION={} (commit {commit}; backends: {})",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        backends.join(", ")
    );
}
