#!/usr/bin/env bash
# The project's test command: lint, build what users build, start the emulators, run every test,
# stop the emulators.
# Usage: scripts/test.sh            (from anywhere in the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target

# The emulators install and start in the background while the compiler works; the trap is set
# first, so a half-started set is stopped whatever happens.
emu_pid=""
cleanup() {
  [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
  scripts/emulators.sh down || true
}
trap cleanup EXIT
# Each phase is announced with the seconds since the start, so a slow phase shows in CI's log.
phase() { echo "== $1 (at ${SECONDS} s)"; }
phase "emulators (starting in the background)"
scripts/emulators.sh up >target/emulators-up.log 2>&1 &
emu_pid=$!

phase "cargo fmt --check"
cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
phase "each backend feature alone compiles"
cargo check --locked --no-default-features -q
for feature in aws gcp vault; do
  cargo check --locked --no-default-features --features "$feature" -q
done

phase "emulators"
if ! wait "$emu_pid"; then
  emu_pid=""
  cat target/emulators-up.log >&2
  exit 1
fi
emu_pid=""
cat target/emulators-up.log
# shellcheck disable=SC1091
. target/emulators/env

phase "cargo test"
cargo test --workspace --locked

# The engine benchmark at a tiny size (debug build; the moto, GCP emulator and OpenBao rows
# included; no timing asserted).
phase "bench smoke (cargo test --bench sync at a tiny size)"
cargo test --locked --bench sync -- --secrets 200 --moto-secrets 40 --quota-secrets 1000 --ratio-secrets 40 >/dev/null

# The benchmarks' CLI scenarios at a tiny size: every command must work (no timing asserted;
# the figures are in BENCHMARKS.md, from scripts/bench_cli.py on the release build).
phase "bench smoke (scripts/bench_cli.py --sizes 100, debug build)"
python3 scripts/bench_cli.py --bin target/debug/secretsync --sizes 100 >/dev/null

# Coverage-guided fuzzing needs the nightly toolchain (cargo-fuzz); CI must have it.
phase "fuzzing (short form: 10 s per target; the long form and its figures are in SECURITY.md)"
if cargo +nightly --version >/dev/null 2>&1; then
  scripts/fuzz.sh short
elif [ "${CI:-}" = true ]; then
  echo "fuzzing needs the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
else
  echo "SKIPPED: no nightly toolchain here (CI requires it)"
fi
phase "done"
