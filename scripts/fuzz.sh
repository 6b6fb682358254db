#!/usr/bin/env bash
# Runs every fuzz target (cargo-fuzz, libFuzzer, nightly toolchain) from the committed seeds.
#   scripts/fuzz.sh short          # CI: 10 s per target
#   scripts/fuzz.sh long [RUNS]    # the recorded campaign: RUNS executions per target (10000000)
# Crashes land in fuzz/artifacts/TARGET/; each one found becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
mode="${1:-short}"
runs="${2:-10000000}"
targets=(store_parse config_parse backend_url go_scan redact)
if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  if [ "$mode" = long ]; then
    # Without AddressSanitizer: the code is safe Rust, and the campaign is about panics and
    # wrong answers; it runs several times faster.
    start=$(date +%s)
    cargo +nightly fuzz run -O --sanitizer none "$t" "corpus/$t" "${seeds[@]}" -- \
      -runs="$runs" -print_final_stats=1 2>&1 | grep -E "^Done|stat::number_of_executed_units|panicked|SUMMARY" || true
    echo "$t: $(( $(date +%s) - start )) s"
  else
    # Unoptimised and without AddressSanitizer: the build is what takes CI's time (about 4
    # minutes instead of 6), and 10 s of coverage-guided inputs still replay every seed.
    cargo +nightly fuzz run --dev --sanitizer none "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time=10 2>&1 | grep -E "^Done|panicked|SUMMARY" || true
  fi
  if compgen -G "artifacts/$t/crash-*" >/dev/null; then
    echo "fuzz: $t crashed: see fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
