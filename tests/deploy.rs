//! Every secretsync command line in deploy/ (Kubernetes args, systemd ExecStart, CI steps) is
//! parsed by the real binary, so the manifests cannot drift from the CLI.

use assert_cmd::Command;
use std::path::Path;

fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("args: ") {
            let args: Vec<String> = serde_json::from_str(rest)
                .unwrap_or_else(|e| panic!("args are not a flow list: {line}: {e}"));
            out.push(args);
        } else if let Some(at) = line
            .find("secretsync ")
            .filter(|_| line.starts_with("- run: secretsync") || line.starts_with("ExecStart="))
        {
            out.push(
                line[at + "secretsync ".len()..]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn every_command_line_in_deploy_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&root) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for args in command_lines(&text) {
            let args: Vec<String> = args
                .into_iter()
                .map(|a| a.replace("$(JOB_COMPLETION_INDEX)", "0"))
                .collect();
            let out = Command::cargo_bin("secretsync")
                .unwrap()
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: `secretsync {}` does not parse: {}",
                entry.path().display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 7, "found only {checked} command lines");
}
