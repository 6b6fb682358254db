#!/usr/bin/env bash
# The benchmark: engine and store figures on the memory backend and moto, and first syncs
# against raw client loops on moto, the GCP emulator and OpenBao (release build).
# Usage: scripts/bench.sh [--secrets N] [--moto-secrets N] [--quota-secrets N] [--ratio-secrets N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/emulators.sh up
trap 'scripts/emulators.sh down' EXIT
# shellcheck disable=SC1091
. target/emulators/env
cargo bench --bench sync -- "$@"
