#!/usr/bin/env bash
# The project's test command: lint, start the emulators, run every test, stop the emulators.
# Usage: scripts/test.sh            (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== emulators"
scripts/emulators.sh up
trap 'scripts/emulators.sh down' EXIT
# shellcheck disable=SC1091
. target/emulators/env

echo "== cargo test"
cargo test --workspace
