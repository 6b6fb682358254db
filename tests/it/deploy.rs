//! Every secretsync command line in deploy/ (Kubernetes args, systemd ExecStart, CI `run:` steps,
//! one-line or `run: |` blocks) is parsed by the CLI's own parser, values included (no `--help`
//! short-circuit), so the manifests cannot drift from the CLI.

use clap::Parser;
use std::path::Path;

/// Splits shell text into the `secretsync …` invocations it holds (after `&&`, `;`, `|`, line
/// continuations joined).
fn shell_commands(script: &str) -> Vec<Vec<String>> {
    let joined = script.replace("\\\n", " ");
    joined
        .lines()
        .flat_map(|l| {
            l.split("&&")
                .flat_map(|p| p.split(';'))
                .flat_map(|p| p.split('|'))
        })
        .filter_map(|part| {
            let words: Vec<String> = part.split_whitespace().map(str::to_string).collect();
            let at = words
                .iter()
                .position(|w| w == "secretsync" || w.ends_with("/secretsync"))?;
            // `secretsync` as a word of another command (an image name, a path) is not a call.
            (at == 0 || words[..at].iter().all(|w| w.contains('=')))
                .then(|| words[at + 1..].to_vec())
        })
        .collect()
}

fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line = raw.trim();
        i += 1;
        if let Some(rest) = line.strip_prefix("args: ") {
            let args: Vec<String> = serde_json::from_str(rest)
                .unwrap_or_else(|e| panic!("args are not a flow list: {line}: {e}"));
            out.push(args);
        } else if let Some(rest) = line.strip_prefix("ExecStart=") {
            out.extend(shell_commands(rest));
        } else if let Some(rest) = line
            .strip_prefix("- run:")
            .or_else(|| line.strip_prefix("run:"))
        {
            let rest = rest.trim();
            if rest == "|" || rest == ">" || rest.starts_with("|-") {
                // A block: every following line indented deeper than the key.
                let indent = raw.len() - raw.trim_start().len();
                let mut block = String::new();
                while i < lines.len()
                    && (lines[i].trim().is_empty()
                        || lines[i].len() - lines[i].trim_start().len() > indent)
                {
                    block.push_str(lines[i].trim());
                    block.push('\n');
                    i += 1;
                }
                out.extend(shell_commands(&block));
            } else {
                out.extend(shell_commands(rest));
            }
        }
    }
    out
}

#[test]
fn the_extractor_reads_one_line_steps_blocks_and_continuations() {
    let yaml = "steps:\n  - run: secretsync check --env prod-eu\n  - run: |\n      echo hi\n      secretsync plan --env prod-eu \\\n        --detailed-exitcode && secretsync apply --env prod-eu\n  - uses: x\nExecStart=/usr/local/bin/secretsync reconcile --once\n";
    assert_eq!(
        command_lines(yaml),
        vec![
            vec!["check", "--env", "prod-eu"],
            vec!["plan", "--env", "prod-eu", "--detailed-exitcode"],
            vec!["apply", "--env", "prod-eu"],
            vec!["reconcile", "--once"],
        ]
    );
}

#[test]
fn a_bad_value_fails_the_parse() {
    // The check parses values: a --help appended would have hidden this.
    let bad = ["secretsync", "reconcile", "--every", "5mm"];
    assert!(secretsync::cli::Cli::try_parse_from(bad).is_err());
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
            let parsed = secretsync::cli::Cli::try_parse_from(
                std::iter::once("secretsync".to_string()).chain(args.clone()),
            );
            assert!(
                parsed.is_ok(),
                "{}: `secretsync {}` does not parse: {}",
                entry.path().display(),
                args.join(" "),
                parsed.err().map(|e| e.to_string()).unwrap_or_default()
            );
            checked += 1;
        }
    }
    assert!(checked >= 7, "found only {checked} command lines");
}
