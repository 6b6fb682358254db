#!/usr/bin/env bash
# The project's test command: lint, then every test in the workspace.
# Usage: scripts/test.sh            (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
