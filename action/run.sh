#!/usr/bin/env bash
# The GitHub Action's work (action.yml): `check`, then `plan --detailed-exitcode`, then `apply`
# when asked. Each environment's plan (names and actions, never values) goes to the job
# summary; `changes` and `missing` go to the step's outputs. With INPUT_COMMAND=teardown:
# `teardown --yes` of the instance (or the template's instances not kept), its outcome in the
# summary.
#
# Inputs: INPUT_ENVIRONMENT (required, comma-separated), INPUT_APPLY (true/false), INPUT_PRUNE,
# INPUT_MAX_DELETES, INPUT_CONFIG; INPUT_COMMAND (sync or teardown), INPUT_KEEP,
# INPUT_OLDER_THAN, INPUT_FORCE_DELETE (teardown). GitHub reads GITHUB_STEP_SUMMARY and GITHUB_OUTPUT afterwards
# (tests point them at files). SECRETSYNC_BIN overrides the binary (default: on PATH).
#
# Exit: 0 when checked and planned (and applied, if asked, with nothing left for a person);
# 1 for missing secrets, an error, failures or refusals left by apply.
set -uo pipefail

bin="${SECRETSYNC_BIN:-secretsync}"
envs="${INPUT_ENVIRONMENT:-}"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
output="${GITHUB_OUTPUT:-/dev/null}"
here="$(cd "$(dirname "$0")" && pwd)"

if [ -z "$envs" ]; then
  echo "::error::secretsync: the input 'environment' is required (e.g. environment: prod-eu)"
  exit 1
fi
global=()
[ -n "${INPUT_CONFIG:-}" ] && global+=(--config "$INPUT_CONFIG")
truthy() { case "${1:-}" in true | True | TRUE | 1 | yes) return 0 ;; *) return 1 ;; esac; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Runs secretsync with --json into FILE; the human error (stderr) stays in the log.
run_json() { # file, args…
  local file="$1"
  shift
  "$bin" "${global[@]}" "$@" --json >"$file"
}

case "${INPUT_COMMAND:-sync}" in
  sync | "") ;;
  teardown)
    flags=(--yes --max-deletes "${INPUT_MAX_DELETES:-10}")
    [ -n "${INPUT_KEEP:-}" ] && flags+=(--keep "$INPUT_KEEP")
    [ -n "${INPUT_OLDER_THAN:-}" ] && flags+=(--older-than "$INPUT_OLDER_THAN")
    truthy "${INPUT_FORCE_DELETE:-}" && flags+=(--force-delete)
    echo "::group::secretsync teardown --env $envs"
    run_json "$tmp/teardown.json" teardown --env "$envs" "${flags[@]}"
    rc=$?
    echo "::endgroup::"
    python3 "$here/summary.py" teardown "$tmp/teardown.json" >>"$summary"
    case "$rc" in
      0) exit 0 ;;
      2)
        echo "::error::secretsync teardown refused its deletions (more than max-deletes: ${INPUT_MAX_DELETES:-10}); see the job summary"
        exit 1
        ;;
      *)
        echo "::error::secretsync teardown failed (exit $rc); see the job summary and the log"
        exit 1
        ;;
    esac
    ;;
  *)
    echo "::error::secretsync: unknown command '${INPUT_COMMAND}': use sync or teardown"
    exit 1
    ;;
esac

echo "::group::secretsync check --env $envs"
run_json "$tmp/check.json" check --env "$envs"
check_rc=$?
echo "::endgroup::"
python3 "$here/summary.py" check "$tmp/check.json" >>"$summary"
missing="$(python3 "$here/summary.py" missing "$tmp/check.json")"
echo "missing=$missing" >>"$output"
case "$check_rc" in
  0) ;;
  2)
    echo "::error::secretsync: declared secrets have no value: $missing (set them with secretsync set, then commit the store)"
    exit 1
    ;;
  *)
    echo "::error::secretsync check failed (exit $check_rc); see the log above"
    exit 1
    ;;
esac

flags=()
truthy "${INPUT_PRUNE:-}" && flags+=(--prune --max-deletes "${INPUT_MAX_DELETES:-10}")

echo "::group::secretsync plan --env $envs"
run_json "$tmp/plan.json" plan --env "$envs" --detailed-exitcode "${flags[@]}"
plan_rc=$?
echo "::endgroup::"
case "$plan_rc" in
  0) echo "changes=false" >>"$output" ;;
  2) echo "changes=true" >>"$output" ;;
  *)
    python3 "$here/summary.py" plan "$tmp/plan.json" >>"$summary" 2>/dev/null
    echo "::error::secretsync plan failed (exit $plan_rc); see the log above"
    exit 1
    ;;
esac

if ! truthy "${INPUT_APPLY:-}"; then
  python3 "$here/summary.py" plan "$tmp/plan.json" >>"$summary"
  exit 0
fi

echo "::group::secretsync apply --env $envs"
run_json "$tmp/apply.json" apply --env "$envs" "${flags[@]}"
apply_rc=$?
echo "::endgroup::"
python3 "$here/summary.py" apply "$tmp/apply.json" >>"$summary"
case "$apply_rc" in
  0) exit 0 ;;
  2)
    echo "::error::secretsync apply left drift or refusals for a person; see the job summary"
    exit 1
    ;;
  *)
    echo "::error::secretsync apply failed (exit $apply_rc); see the job summary and the log"
    exit 1
    ;;
esac
