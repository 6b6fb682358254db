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
            // Up to a redirection (`> file`, `2>&1`): the shell's, not secretsync's.
            let words: Vec<String> = part
                .split_whitespace()
                .take_while(|w| !w.starts_with(['>', '<']) && !w.starts_with("2>"))
                .map(str::to_string)
                .collect();
            let at = words
                .iter()
                .position(|w| w == "secretsync" || w.ends_with("/secretsync"))?;
            // `secretsync` as a word of another command (an image name, a path) is not a call.
            (at == 0 || words[..at].iter().all(|w| w.contains('=')))
                .then(|| words[at + 1..].to_vec())
        })
        .collect()
}

/// The shell lines of a Markdown file's fenced code blocks (`sh`, `bash`, `shell` or none).
fn markdown_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // Outside a block: None; inside: Some(the shell text so far), or Some(None) for another
    // language.
    let mut block: Option<Option<String>> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (block.take(), fence) {
            (None, Some(lang)) => {
                let shell = matches!(lang.trim(), "" | "sh" | "bash" | "shell");
                block = Some(shell.then(String::new));
            }
            (Some(text), Some(_)) => {
                out.extend(text.map(|t| shell_commands(&t)).unwrap_or_default())
            }
            (Some(mut text), None) => {
                if let Some(t) = &mut text {
                    t.push_str(line);
                    t.push('\n');
                }
                block = Some(text);
            }
            (None, None) => {}
        }
    }
    out
}

fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line = raw.trim();
        i += 1;
        if let Some(rest) = line
            .strip_prefix("- ")
            .filter(|r| r.starts_with("secretsync ") || r.starts_with("test "))
        {
            // A GitLab `script:` item.
            out.extend(shell_commands(rest));
        } else if let Some(rest) = line.strip_prefix("args: ") {
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
        let found = if entry.path().extension().is_some_and(|e| e == "md") {
            markdown_commands(&text)
        } else {
            command_lines(&text)
        };
        for args in found {
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
    assert!(checked >= 20, "found only {checked} command lines");
}

#[test]
fn the_markdown_extractor_reads_shell_blocks_only() {
    let md = "text secretsync no\n```sh\nsecretsync check --env a\nsecretsync plan --env a | jq .\n```\n```toml\nsecretsync = 1\n```\n```\nsecretsync apply --env a\n```\n";
    assert_eq!(
        markdown_commands(md),
        vec![
            vec!["check", "--env", "a"],
            vec!["plan", "--env", "a"],
            vec!["apply", "--env", "a"],
        ]
    );
}

/// Runs a validator from the tools venv on `files`; returns its output and whether it passed.
fn validate(
    tools: &Path,
    tool: &str,
    args: &[&str],
    files: &[std::path::PathBuf],
) -> (bool, String) {
    let out = std::process::Command::new(tools.join(tool))
        .args(args)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} from {}: {e}", tools.display()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn files_in(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v: Vec<_> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .{ext} in {dir}");
    v
}

#[test]
fn deploy_files_and_the_action_pass_their_schema_validators() {
    let Some(tools) =
        secretsync_core::conformance::emulator_endpoint("SECRETSYNC_TEST_SCHEMA_TOOLS")
    else {
        return;
    };
    let tools = Path::new(&tools);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checks: Vec<(&str, Vec<&str>, Vec<std::path::PathBuf>)> = vec![
        (
            "kubernetes-validate",
            vec!["--strict", "--kubernetes-version", "1.31"],
            files_in("deploy/kubernetes", "yaml"),
        ),
        (
            "check-jsonschema",
            vec!["--builtin-schema", "vendor.github-workflows"],
            files_in("deploy/github-actions", "yml"),
        ),
        (
            "check-jsonschema",
            vec!["--builtin-schema", "vendor.github-actions"],
            vec![root.join("action.yml")],
        ),
        (
            "check-jsonschema",
            vec!["--builtin-schema", "vendor.gitlab-ci"],
            files_in("deploy/gitlab", "yml"),
        ),
    ];
    for (tool, args, files) in &checks {
        let (ok, out) = validate(tools, tool, args, files);
        assert!(ok, "{tool} {args:?} {files:?}:\n{out}");
    }
    // Each validator can fail: a CronJob without its schedule, a step with a typo.
    let dir = tempfile::tempdir().unwrap();
    let bad_cron = dir.path().join("cron.yaml");
    let cron = std::fs::read_to_string(root.join("deploy/kubernetes/cronjob.yaml")).unwrap();
    std::fs::write(&bad_cron, cron.replace("schedule:", "schedul:")).unwrap();
    let (ok, out) = validate(tools, "kubernetes-validate", &["--strict"], &[bad_cron]);
    assert!(!ok && out.contains("schedule"), "{out}");
    let bad_action = dir.path().join("action.yml");
    let action = std::fs::read_to_string(root.join("action.yml")).unwrap();
    std::fs::write(
        &bad_action,
        action.replace("using: composite", "using: compost"),
    )
    .unwrap();
    let (ok, out) = validate(
        tools,
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-actions"],
        &[bad_action],
    );
    assert!(!ok, "{out}");
}
